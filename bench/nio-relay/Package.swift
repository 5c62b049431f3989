// swift-tools-version: 6.2
// The NIO floor: a byte relay with no HTTP at all, to measure what NIO's event loop, system calls and kernel path
// cost against nginx (bench/nio_floor.sh). Not part of feisty; built only by that script.
import PackageDescription

let package = Package(
    name: "nio-relay",
    dependencies: [.package(url: "https://github.com/apple/swift-nio", from: "2.101.2")],
    targets: [
        .executableTarget(
            name: "nio-relay",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        )
    ]
)
