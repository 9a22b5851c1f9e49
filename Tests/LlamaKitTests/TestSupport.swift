// Shared helpers for the engine tests: fixture paths, the cached real model, and float checks.
import Foundation
import XCTest
@testable import LlamaKit

enum Fixtures {
    /// Path of a file under Tests/LlamaKitTests/Fixtures.
    static func path(_ relative: String) -> String {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures").appendingPathComponent(relative).path
    }

    static func json(_ relative: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path(relative)))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    static func npy(_ relative: String) throws -> NPYArray { try NPYArray(path: path(relative)) }

    static var cacheRoot: String {
        ProcessInfo.processInfo.environment["LLAVA_MNIST_CACHE"] ?? (NSHomeDirectory() + "/.cache/llava-mnist")
    }

    /// The real SmolLM2 GGUF fetched by scripts/setup.sh; fails the test (never skips) if absent.
    static func smolLM2Path(file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let p = cacheRoot + "/models/SmolLM2-135M-Instruct.Q4_1.gguf"
        guard FileManager.default.fileExists(atPath: p) else {
            XCTFail("missing \(p): run scripts/setup.sh (or `make setup`) first", file: file, line: line)
            throw XCTSkip("model missing")
        }
        return p
    }

    /// The SmolLM2 model, loaded once for the whole test run.
    nonisolated(unsafe) private static var smol: LoadedModel?
    static func smolLM2() throws -> LoadedModel {
        if let smol { return smol }
        let m = try ModelLoader.load(path: smolLM2Path())
        smol = m
        return m
    }
}

/// max |a - b| over two equal-length arrays.
func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "length \(a.count) vs \(b.count)")
    var m: Float = 0
    for i in 0..<a.count { m = max(m, abs(a[i] - b[i])) }
    return m
}

/// Ids of the k largest values, descending (ties: lower id first).
func topK(_ v: ArraySlice<Float>, _ k: Int) -> [Int] {
    let base = v.startIndex
    return v.indices.sorted { v[$0] > v[$1] || (v[$0] == v[$1] && $0 < $1) }.prefix(k).map { $0 - base }
}
