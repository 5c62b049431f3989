// swift-tools-version: 6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "feisty",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "feisty", targets: ["feisty"]),
        .library(name: "FeistyCore", targets: ["FeistyCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // prctl(2) and capset(2) for keeping CAP_NET_ADMIN through `--user`'s drop (Linux only; empty elsewhere).
        .target(name: "CFeistyCapabilities"),
        .target(
            name: "FeistyCore",
            dependencies: [
                "CFeistyCapabilities",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            // The probe's and the dashboard's sources; the binary carries them through the generated
            // EmbeddedPython.swift and DashboardPage.swift.
            exclude: ["Python/feisty_probe.py", "Admin/dashboard.html"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "feisty",
            dependencies: [
                "FeistyCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "feisty-bench-matcher",
            dependencies: ["FeistyCore"],
            path: "Sources/feisty-bench-matcher",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "feisty-bench-metrics",
            dependencies: [
                "FeistyCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Sources/feisty-bench-metrics",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "feisty-bench-bans",
            dependencies: ["FeistyCore"],
            path: "Sources/feisty-bench-bans",
            swiftSettings: swiftSettings
        ),
        // The route fuzzer's generators, invariants and Werkzeug comparison (bench/fuzz_routes.sh, and the
        // differential test).
        .target(
            name: "FeistyFuzzing",
            dependencies: ["FeistyCore"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "feisty-fuzz",
            dependencies: ["FeistyCore", "FeistyFuzzing"],
            path: "Sources/feisty-fuzz",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FeistyCoreTests",
            dependencies: [
                "FeistyCore",
                "FeistyFuzzing",
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
