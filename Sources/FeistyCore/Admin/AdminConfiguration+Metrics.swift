extension AdminConfiguration {
    /// The same configuration serving `metrics` on `/metrics` and its traffic in `/status`.
    func showing(_ metrics: FeistyMetrics?) -> AdminConfiguration {
        guard let metrics else { return self }
        var configuration = self
        configuration.traffic = { await metrics.trafficStatus() }
        configuration.metrics = { await metrics.prometheusText() }
        return configuration
    }
}
