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
        .library(name: "AnnealAlign", targets: ["AnnealAlign"]),
        .library(name: "AnnealProfile", targets: ["AnnealProfile"]),
        .library(name: "AnnealQuality", targets: ["AnnealQuality"]),
        .library(name: "AnnealTrain", targets: ["AnnealTrain"]),
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
        .target(name: "AnnealAlign", dependencies: ["Anneal", "AnnealNN", "AnnealOptim", "AnnealData"]),
        .target(name: "AnnealProfile", dependencies: ["Anneal", "AnnealNN", "AnnealOptim"]),
        .target(name: "AnnealQuality", dependencies: ["Anneal", "AnnealNN", "AnnealOptim", "AnnealData"]),
        .target(
            name: "AnnealTrain",
            dependencies: ["Anneal", "AnnealNN", "AnnealOptim", "AnnealData"],
            resources: [.copy("Resources/digits.csv")]
        ),
        .target(name: "AnnealWorkloads", dependencies: ["Anneal", "AnnealNN", "AnnealOptim", "AnnealAlign"]),
        .executableTarget(
            name: "AnnealCLI",
            dependencies: [
                "Anneal", "AnnealNN", "AnnealOptim", "AnnealData", "AnnealAlign", "AnnealProfile",
                "AnnealQuality", "AnnealTrain", "AnnealWorkloads",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(name: "_TestSupport", dependencies: ["Anneal"]),

        // MARK: - Tests
        .testTarget(
            name: "AnnealTrainTests",
            dependencies: ["Anneal", "AnnealNN", "AnnealOptim", "AnnealData", "AnnealTrain", "_TestSupport"]
        ),
        .testTarget(
            name: "AnnealAlignTests",
            dependencies: ["Anneal", "AnnealNN", "AnnealOptim", "AnnealData", "AnnealAlign", "_TestSupport"],
            resources: [.copy("Resources")]
        ),
        .testTarget(
            name: "AnnealProfileTests",
            dependencies: ["Anneal", "AnnealNN", "AnnealOptim", "AnnealProfile", "AnnealWorkloads", "_TestSupport"]
        ),
        .testTarget(
            name: "AnnealQualityTests",
            dependencies: ["Anneal", "AnnealNN", "AnnealOptim", "AnnealData", "AnnealQuality", "_TestSupport"],
            resources: [.copy("Resources")]
        ),
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
