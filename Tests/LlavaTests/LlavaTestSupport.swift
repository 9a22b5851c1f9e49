// Shared helpers for the experiment tests: fixtures, the cached SmolLM2 model, test digits.
import Foundation
import XCTest
@testable import Llava

enum LlavaFixtures {
    static func path(_ relative: String) -> String {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures").appendingPathComponent(relative).path
    }
    static func json(_ relative: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path(relative)))) as! [String: Any]
    }
    static func npy(_ relative: String) throws -> [Float] { try NPYArray(path: path(relative)).values }

    /// MNIST test images 0…15 with their labels.
    static func testDigits() throws -> [DigitImage] {
        let px = try npy("data/test_images_0_15_uint8.npy"), labels = try npy("data/test_labels_0_15_uint8.npy")
        return (0..<16).map { i in DigitImage(pixels: px[(i * 784)..<((i + 1) * 784)].map { UInt8($0) }, label: Int(labels[i])) }
    }

    nonisolated(unsafe) private static var smol: LoadedModel?
    /// The real SmolLM2 model fetched by scripts/setup.sh; fails (never skips) when absent.
    static func smolLM2(file: StaticString = #filePath, line: UInt = #line) throws -> LoadedModel {
        if let smol { return smol }
        let p = CachePaths.models + "/SmolLM2-135M-Instruct.Q4_1.gguf"
        guard FileManager.default.fileExists(atPath: p) else {
            XCTFail("missing \(p): run scripts/setup.sh (or `make setup`) first", file: file, line: line)
            throw XCTSkip("model missing")
        }
        let m = try ModelLoader.load(path: p)
        smol = m
        return m
    }

    /// The golden projector initialization: W[i][j] = 0.02·sin(0.37i + 0.11j + 0.5), b[i] = 0.01·cos(0.7i),
    /// evaluated in float64 and rounded to float32.
    static func goldenInitProjector(width: Int) -> Projector {
        var w = [Float](repeating: 0, count: width * 784)
        for i in 0..<width { for j in 0..<784 { w[i * 784 + j] = Float(0.02 * sin(0.37 * Double(i) + 0.11 * Double(j) + 0.5)) } }
        let b = (0..<width).map { Float(0.01 * cos(0.7 * Double($0))) }
        return Projector(weight: w, bias: b)
    }
}

func maxAbs(_ a: [Float]) -> Float { a.reduce(0) { max($0, abs($1)) } }
func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "length \(a.count) vs \(b.count)")
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// A test case with a fresh scratch folder per test, and a check for exact `FormatError`s.
class ScratchFolderTestCase: XCTestCase {
    var dir = ""

    override func setUpWithError() throws { dir = try DataLayerFixtures.scratchFolder() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func path(_ name: String) -> String { (dir as NSString).appendingPathComponent(name) }

    /// `body` must throw exactly `FormatError(file, message)`.
    func expectError(_ message: String, file: String, _ body: () throws -> Void, line: UInt = #line) {
        XCTAssertThrowsError(try body(), line: line) { error in
            XCTAssertEqual(error as? FormatError, FormatError(file, message), line: line)
        }
    }
}
