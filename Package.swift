// swift-tools-version:6.0
// LlavaMNIST: a Swift re-implementation of llava-mnist (a frozen Llama reading MNIST digits
// through one trained linear layer), as a notebook-style REPL over our own CPU Llama engine.
import PackageDescription

/// Numeric targets are compiled optimized in every configuration: debug builds and
/// `swift test` would otherwise run the engine 20–50× slower. They use the Swift 5 language
/// mode: kernels hand raw buffer pointers to worker threads, which Swift 6's Sendable
/// checking cannot express without copies.
/// On x86-64 the kernels target Haswell-class CPUs (AVX2, FMA, F16C: every x86 laptop since
/// 2013): the block decoders then vectorize to 256-bit lanes, about twice as fast.
#if arch(x86_64)
import Foundation
let cpuFlags = ["-target-cpu", ProcessInfo.processInfo.environment["LLAVA_MNIST_TARGET_CPU"] ?? "haswell"]
#else
let cpuFlags: [String] = []
#endif
let optimized: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"] + cpuFlags), .swiftLanguageMode(.v5)]

let package = Package(
    name: "LlavaMNIST",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "llava-mnist", targets: ["llava-mnist"]),
        .library(name: "LlamaKit", targets: ["LlamaKit"]),
        .library(name: "Llava", targets: ["Llava"]),
        .library(name: "Notebook", targets: ["Notebook"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // System libraries (Debian: libedit-dev, libpng-dev, zlib1g-dev). OpenBLAS (libopenblas0)
        // is not linked but loaded at run time, see Sources/LlamaKit/Compute/BLAS.swift.
        .systemLibrary(name: "CEditLine", pkgConfig: "libedit", providers: [.apt(["libedit-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev", "zlib1g-dev"])]),

        // The engine: model files, tokenizers, Llama forward/backward, generation.
        .target(name: "LlamaKit", swiftSettings: optimized),
        // The experiment: MNIST, PNG, projector, multimodal prompts, training, evaluation.
        .target(name: "Llava", dependencies: ["LlamaKit", "CPNG"], swiftSettings: optimized),
        // The product's face: command language, interpreter, workflows, rendering, line editor.
        .target(name: "Notebook", dependencies: ["Llava", "LlamaKit", "CEditLine"]),
        .executableTarget(
            name: "llava-mnist",
            dependencies: ["Notebook", "Llava", "LlamaKit",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")]),

        .testTarget(name: "LlamaKitTests", dependencies: ["LlamaKit"],
                    resources: [.copy("Fixtures")], swiftSettings: optimized),
        .testTarget(name: "LlavaTests", dependencies: ["Llava", "LlamaKit"],
                    resources: [.copy("Fixtures")], swiftSettings: optimized),
        .testTarget(name: "NotebookTests", dependencies: ["Notebook", "Llava", "LlamaKit"],
                    resources: [.copy("Fixtures")]),
    ]
)
