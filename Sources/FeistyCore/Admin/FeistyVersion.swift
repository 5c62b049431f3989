/// feisty's version, as `/status` reports it.
public enum FeistyVersion {
    public static let current = "0.1.0"
}
