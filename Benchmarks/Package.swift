// swift-tools-version: 6.1
// Anneal's benchmarks (ordo-one/benchmark): a package of their own, so the
// root package's clean build stays fast; it uses the root package by path.
//
// Run from this folder with the CPU flags of the Makefile's builds (with
// `swift package`, the -X flags come before the plugin's verb):
//     swift package -Xswiftc -target-cpu -Xswiftc haswell benchmark
import PackageDescription

// A path dependency's identity is the last component of its path: the folder
// the repository was cloned into ("main" here, anything in a fresh clone).
// Name it from where this manifest sits, so the product lookups below work
// whatever that folder is called.
let rootPackage: String = {
    let components = Context.packageDirectory.split(separator: "/")
    return components.count >= 2 ? String(components[components.count - 2]) : "Anneal"
}()

let package = Package(
    name: "AnnealBenchmarks",
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // Benchmarks/<Name>/ holds each suite, where the benchmark plugin looks.
        .executableTarget(
            name: "AnnealBenchmarks",
            dependencies: [
                .product(name: "Anneal", package: rootPackage),
                .product(name: "AnnealNN", package: rootPackage),
                .product(name: "AnnealOptim", package: rootPackage),
                .product(name: "AnnealWorkloads", package: rootPackage),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/AnnealBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
