// swift-tools-version: 6.1
// Anneal: a Swift engine for training models on CPUs.
//
// Builds with plain `swift build`; the Makefile adds the CPU flags
// (`-target-cpu haswell`) that the SIMD kernels need to be fast.
// `swift build --disable-default-traits` builds without OpenBLAS.
import PackageDescription

let package = Package(
    name: "Anneal",
    // MARK: - Public API
    products: [
        .library(name: "Anneal", targets: ["Anneal"]),
        .library(name: "AnnealNN", targets: ["AnnealNN"]),
        .library(name: "AnnealOptim", targets: ["AnnealOptim"]),
        .library(name: "AnnealData", targets: ["AnnealData"]),
        .library(name: "AnnealWorkloads", targets: ["AnnealWorkloads"]),
        .executable(name: "anneal", targets: ["AnnealCLI"]),
    ],
    traits: [
        .trait(name: "OpenBLAS", description: "Link OpenBLAS + LAPACKE and provide OpenBLASBackend."),
        .default(enabledTraits: ["OpenBLAS"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // MARK: - Implementation details
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev", "pkg-config"])]
        ),
        .target(
            name: "Anneal",
            dependencies: [.target(name: "COpenBLAS", condition: .when(traits: ["OpenBLAS"]))]
        ),
        .target(name: "AnnealNN", dependencies: ["Anneal"]),
        .target(name: "AnnealOptim", dependencies: ["Anneal", "AnnealNN"]),
        .target(name: "AnnealData", dependencies: ["Anneal"]),
        .target(name: "AnnealWorkloads", dependencies: ["Anneal", "AnnealNN", "AnnealOptim"]),
        .executableTarget(
            name: "AnnealCLI",
            dependencies: [
                "Anneal", "AnnealNN", "AnnealOptim", "AnnealData", "AnnealWorkloads",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(name: "_TestSupport", dependencies: ["Anneal"]),

        // MARK: - Tests
        .testTarget(
            name: "AnnealDataTests",
            dependencies: ["AnnealData", "_TestSupport"],
            resources: [.copy("Resources")]
        ),
        .testTarget(
            name: "AnnealNNTests",
            dependencies: ["Anneal", "AnnealNN", "AnnealData", "_TestSupport"],
            resources: [.copy("Resources")]
        ),
        .testTarget(
            name: "AnnealOptimTests",
            dependencies: ["Anneal", "AnnealNN", "AnnealOptim", "_TestSupport"],
            resources: [.copy("Resources")]
        ),
        .testTarget(
            name: "AnnealTests",
            dependencies: ["Anneal", "_TestSupport"],
            resources: [.copy("Resources")]
        ),

    ]
)
