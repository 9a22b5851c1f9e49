// The `llava-mnist` subcommands as a script sees them: exit status, stdout JSON shapes, and
// one clear `error: FILE: problem` line on stderr for bad input (never a crash).
import Foundation
import XCTest
@testable import Notebook
import Llava

final class CommandLineTests: XCTestCase {
    struct Result { let status: Int32; let stdout: String; let stderr: String }

    /// The built binary beside the test bundle (or `$LLAVA_MNIST_BIN`).
    static var binary: String {
        if let p = ProcessInfo.processInfo.environment["LLAVA_MNIST_BIN"], !p.isEmpty { return p }
        return Bundle.module.bundleURL.deletingLastPathComponent().appendingPathComponent("llava-mnist").path
    }

    /// Fixtures of the engine tests, found from this file's place in the source tree.
    static func engineFixture(_ relative: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("LlamaKitTests/Fixtures").appendingPathComponent(relative).path
    }

    func run(_ args: [String]) throws -> Result {
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: Self.binary), "no binary at \(Self.binary): build first")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    var tmp: String!
    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("lm-cli-\(getpid())-\(name.filter(\.isLetter))").path
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: tmp) }

    func expectError(_ args: [String], _ message: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try run(args)
        XCTAssertEqual(r.status, 1, "exit status of \(args)", file: file, line: line)
        XCTAssertEqual(r.stderr.trimmingCharacters(in: .newlines), message, file: file, line: line)
    }

    // MARK: - Engine commands (issue 2)

    func testGenerateByIDsOnAFolderWithoutTokenizer() throws {
        let r = try run(["generate", "--model", Self.engineFixture("tiny-llama3"), "--prompt-ids", "1,483,321,351,459,297,397",
                         "--max-tokens", "16", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(obj["ids"] as? [Int], [261, 128, 422, 272, 121, 410, 97, 263, 365, 69, 47, 405, 291, 207, 54, 22])
    }

    func testTextCommandOnAFolderWithoutTokenizer() throws {
        let dir = Self.engineFixture("tiny-llama3")
        try expectError(["generate", "--model", dir, "--prompt", "hi"],
                        "error: \(dir): no tokenizer.json in this folder: text commands need a tokenizer; id-only commands (generate --prompt-ids) still work")
    }

    func testMissingModelFile() throws {
        try expectError(["generate", "--model", tmp + "/nope.gguf", "--prompt-ids", "1"], "error: \(tmp!)/nope.gguf: no such model file or folder")
    }

    func testNotAGGUF() throws {
        let path = tmp + "/fake.gguf"
        try Data("this is not a model at all".utf8).write(to: URL(fileURLWithPath: path))
        try expectError(["generate", "--model", path, "--prompt-ids", "1"], "error: \(path): not a GGUF file (bad magic)")
        try expectError(["inspect", path], "error: \(path): not a GGUF file (bad magic)")
    }

    func testTruncatedGGUF() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.engineFixture("tiny-llama3/tiny-llama3-f32.gguf")))
        let path = tmp + "/cut.gguf"
        try data.prefix(200_000).write(to: URL(fileURLWithPath: path))
        let r = try run(["inspect", path])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.hasPrefix("error: \(path): tensor '"), r.stderr)
        XCTAssertTrue(r.stderr.contains("lies beyond the end of the file"), r.stderr)
    }

    func testTokenizeJSON() throws {
        let r = try run(["tokenize", "--json", "The digit is 7.<|im_end|>"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "{\"ids\":[504,11403,314,216,39,30,2],\"tokens\":[\"The\",\"Ġdigit\",\"Ġis\",\"Ġ\",\"7\",\".\",\"<|im_end|>\"]}\n")
    }

    func testGenerateGreedyMatchesGolden() throws {
        // forward golden prompt 1 ("plain_fox"): greedy continuation from PyTorch
        let golden = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.engineFixture("smollm2/forward_golden.json")))) as! [String: Any]
        let p = (golden["prompts"] as! [[String: Any]])[1]
        let promptIDs = (p["ids"] as! [Int]).map(String.init).joined(separator: ",")
        let expected = (p["greedy24"] as! [String: Any])["new_ids"] as! [Int]
        let r = try run(["generate", "--prompt-ids", promptIDs, "--max-tokens", "24", "--ignore-eos", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(obj["ids"] as? [Int], expected)
    }

    // MARK: - Experiment commands (issue 3)

    func testMNISTIndexOutOfRange() throws {
        try expectError(["ask", "--mnist", "test:99999", "What digit is this?"],
                        "error: test image 99999 is out of range: the test split has 1000 images (0…999)")
    }

    func testProjectorOfTheWrongWidth() throws {
        let path = tmp + "/narrow.safetensors"
        try Checkpoint.save(Projector(kind: .linear, outputSize: 64, seed: 1), metadata: ["base_model": "tiny"], to: path)
        try expectError(["eval", "--projector", path, "--n", "1"],
                        "error: \(path): this projector outputs 64-wide embeddings but the loaded model's d_model is 576 (it was trained for another model: tiny)")
    }

    func testProjectorWithMissingKeys() throws {
        let path = tmp + "/other.safetensors"
        try SafeTensorsWriter.write([.init(name: "linear.weight", shape: [2, 2], values: [1, 2, 3, 4])], to: path)
        try expectError(["ask", "--projector", path, "--mnist", "test:0", "What digit is this?"],
                        "error: \(path): missing tensor 'input_layer.weight' (found: linear.weight); not a llava-mnist projector")
    }

    func testImageThatIsNotAPNG() throws {
        let path = tmp + "/digit.png"
        try Data("GIF89a not really".utf8).write(to: URL(fileURLWithPath: path))
        let r = try run(["ask", "--image", path, "What digit is this?"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.hasPrefix("error: \(path): "), r.stderr)
        XCTAssertTrue(r.stderr.contains("PNG"), r.stderr)
    }

    func testTruncatedIDXAndCountMismatch() throws {
        let digits = (0..<3).map { i in DigitImage(pixels: [UInt8](repeating: UInt8(i * 40), count: 784), label: i) }
        let images = IDX.encodeImages(IDXImages(count: 3, rows: 28, cols: 28, pixels: digits.flatMap(\.pixels)))
        try images.prefix(1000).write(to: URL(fileURLWithPath: tmp + "/t10k-images-idx3-ubyte"))
        try IDX.encodeLabels([0, 1, 2]).write(to: URL(fileURLWithPath: tmp + "/t10k-labels-idx1-ubyte"))
        let r = try run(["eval", "--data", tmp, "--n", "1"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.hasPrefix("error: \(tmp!)/t10k-images-idx3-ubyte: "), r.stderr)
        try images.write(to: URL(fileURLWithPath: tmp + "/t10k-images-idx3-ubyte"))
        try IDX.encodeLabels([0, 1]).write(to: URL(fileURLWithPath: tmp + "/t10k-labels-idx1-ubyte"))
        let m = try run(["eval", "--data", tmp, "--n", "1"])
        XCTAssertEqual(m.status, 1)
        XCTAssertTrue(m.stderr.contains("3") && m.stderr.contains("2"), m.stderr)
    }

    func testNegativeSeedsAreSeedsNotCrashes() throws {
        let home = tmp + "/home"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        let r = try spawn(Self.binary, ["repl"], stdin: "set seed=-1\nreset projector\nreset projector seed=-7\n",
                          environment: ["HOME=\(home)", "LLAVA_MNIST_CACHE=\(CachePaths.root)"], separateErrors: true)
        XCTAssertEqual(r.status, 0, r.errors)
        XCTAssertTrue(r.output.hasSuffix("\nprojector reset: fresh (seed -1)\nprojector reset: fresh (seed -7)\n"), r.output)
    }

    func testTrainEvalRoundTripAndResume() throws {
        let out = tmp + "/p.safetensors"
        var r = try run(["train", "--steps", "2", "--out", out, "--every", "0"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: Checkpoint.optimizerPath(for: out)))
        r = try run(["train", "--steps", "3", "--out", out, "--resume", "--every", "0"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("resuming \(out) at step 2 of 3"), r.stdout)
        let (_, meta) = try Checkpoint.load(out, width: 576)
        XCTAssertEqual(meta["steps"], "3")
        r = try run(["eval", "--projector", out, "--n", "2", "--greedy", "--json", "--max-tokens", "6"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(obj["n"] as? Int, 2)
        XCTAssertNotNil(obj["accuracy"] as? Double)
        XCTAssertEqual((obj["per_digit"] as? [Any])?.count, 10)
        XCTAssertEqual((obj["confusion"] as? [[Int]])?.count, 10)
    }
}
