/// What the supervisor does after one ``HangDetector/check(inFlight:lastProgress:now:)``.
public enum HangCheck: Sendable, Hashable {
    /// Nothing to do.
    case healthy
    /// Start one probe request to the instance now, give it ``HangDetector/probeTimeout`` to answer and report the
    /// outcome with ``HangDetector/probeFinished(answered:now:)``.
    case probe
    /// A probe is out: wait for its outcome.
    case probing
}
