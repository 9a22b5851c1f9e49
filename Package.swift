// swift-tools-version:6.0
// LlavaMNIST: a Swift re-implementation of llava-mnist (a frozen Llama reading MNIST digits
// through one trained linear layer), as a notebook-style REPL over our own CPU Llama engine.
import PackageDescription

/// Numeric targets are compiled optimized in every configuration: debug builds and
/// `swift test` would otherwise run the engine 20–50× slower. They use the Swift 5 language
/// mode: kernels hand raw buffer pointers to worker threads, which Swift 6's Sendable
/// checking cannot express without copies.
/// On x86-64 the kernels are compiled for the build machine's CPU, as llama.cpp's native
/// build is: a Haswell-class baseline (AVX2, FMA, F16C: every x86 laptop since 2013, 256-bit
/// lanes), or, when /proc/cpuinfo shows them, the AVX-512 generations (512-bit lanes; on
/// Sapphire Rapids also half-precision and GFNI instructions, measured 10–30% faster kernels).
/// `LLAVA_MNIST_TARGET_CPU=haswell` (or any LLVM CPU name) builds for another machine; clear
/// `.build` after changing it.
#if arch(x86_64)
import Foundation

func nativeCPU() -> String {
    guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return "haswell" }
    let flags = Set(line.split(separator: " ").map(String.init))
    let skylakeX: Set = ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"]
    let iceLake = skylakeX.union(["avx512_vnni", "avx512vbmi", "avx512_vbmi2", "avx512_bitalg",
                                  "avx512_vpopcntdq", "avx512ifma", "gfni", "vaes", "vpclmulqdq"])
    let sapphireRapids = iceLake.union(["avx512_fp16", "avx512_bf16", "avx_vnni", "serialize",
                                        "movdiri", "movdir64b", "cldemote"])
    if flags.isSuperset(of: sapphireRapids) { return "sapphirerapids" }
    if flags.isSuperset(of: iceLake) { return "icelake-server" }
    if flags.isSuperset(of: skylakeX) { return "skylake-avx512" }
    return "haswell"
}
let targetCPU = ProcessInfo.processInfo.environment["LLAVA_MNIST_TARGET_CPU"] ?? nativeCPU()
/// LLVM CPU names with AVX-512 (F, BW, VL, DQ): the float kernels then work in 16-lane vectors.
let avx512CPUs: Set = ["skylake-avx512", "skx", "cascadelake", "cooperlake", "cannonlake", "icelake-client",
                       "icelake-server", "rocketlake", "tigerlake", "sapphirerapids", "emeraldrapids",
                       "graniterapids", "graniterapids-d", "diamondrapids", "znver4", "znver5"]
/// On AVX-512, LLVM still vectorizes plain loops (the block decoders of QuantBlocks.swift) in
/// 256-bit lanes unless told otherwise: its default for these CPUs, tuned for clock-sensitive C.
/// Our decoders measured 1.28× faster in 512-bit lanes. (Swift has no flag of its own for it; the
/// clang options configure the code generator Swift shares.)
let prefer512: [String] = ["-Xcc", "-Xclang", "-Xcc", "-target-feature", "-Xcc", "-Xclang", "-Xcc", "-prefer-256-bit"]
let cpuSettings: [SwiftSetting] = [.unsafeFlags(["-target-cpu", targetCPU] + (avx512CPUs.contains(targetCPU) ? prefer512 : []))]
    + (avx512CPUs.contains(targetCPU) ? [.define("AVX512")] : [])
#else
let cpuSettings: [SwiftSetting] = []
#endif
let optimized: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"]), .swiftLanguageMode(.v5)] + cpuSettings

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
        // One inline C function (a cache prefetch hint) for the backward kernel: header only.
        .systemLibrary(name: "CPrefetch"),

        // The engine: model files, tokenizers, Llama forward/backward, generation.
        .target(name: "LlamaKit", dependencies: ["CPrefetch"], swiftSettings: optimized),
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
