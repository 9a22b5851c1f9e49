// swift-tools-version:6.0
// libFuzzer targets for every parser of LlavaMNIST that reads outside input (README.md).
// Built and run by ../scripts/fuzz.sh. Each target is an executable whose main.swift hands its
// test function to libFuzzer's `LLVMFuzzerRunDriver`: SwiftPM gives every executable its own
// entry point (`--defsym main=<Target>_main`), so libFuzzer's `main` cannot be linked.
// fuzz.sh adds `-Xswiftc -sanitize=fuzzer,address`, which SwiftPM applies to every target it
// compiles, so the parsers in the main package are instrumented too. The main package is a
// local path dependency, for which SwiftPM accepts its unsafeFlags (-Ounchecked).
import PackageDescription

let targets: [(name: String, deps: [String])] = [
    ("FuzzGGUF", ["LlamaKit"]),
    ("FuzzSafeTensors", ["LlamaKit"]),
    ("FuzzTokenizerJSON", ["LlamaKit"]),
    ("FuzzIDX", ["Llava"]),
    ("FuzzPNG", ["Llava"]),
    ("FuzzCommandLanguage", ["Notebook"]),
    ("FuzzLMW", ["Notebook"]),
]

let package = Package(
    name: "LlavaMNISTFuzz",
    platforms: [.macOS(.v13)],
    dependencies: [.package(name: "LlavaMNIST", path: "..")],
    targets: [.target(name: "CFuzz")] + targets.map { t in
        .executableTarget(
            name: t.name,
            dependencies: ["CFuzz"] + t.deps.map { .product(name: $0, package: "LlavaMNIST") },
            path: "Sources/\(t.name)",
            swiftSettings: [.unsafeFlags(["-sanitize=fuzzer,address"]), .swiftLanguageMode(.v5)],
            // lld: gold stops with "internal error in format_file_lineno" on these objects.
            linkerSettings: [.unsafeFlags(["-sanitize=fuzzer,address", "-use-ld=lld"])])
    }
)
