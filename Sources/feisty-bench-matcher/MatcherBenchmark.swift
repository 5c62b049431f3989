import FeistyCore

/// Placeholder: the matcher benchmark.
@main
struct MatcherBenchmark {
    static func main() {}
}
