// Tokenizers against the goldens of ../shared/reference (copied to Fixtures/tokenizer, see its
// PROVENANCE.md): SmolLM2 from its GGUF, Llama 3 from its tokenizer.json, the tiny-llava
// SentencePiece-style tokenizer from the fixture folder.

import Foundation
import XCTest
@testable import LlamaKit

/// Fixture and real-file access shared by the tokenizer and chat-format tests.
enum TokFixtures {
    struct Missing: Error, CustomStringConvertible { let description: String }

    static var fixtureDir: String {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures/tokenizer").path
    }

    static func json(_ name: String) throws -> [String: Any] {
        let url = URL(fileURLWithPath: fixtureDir).appendingPathComponent(name)
        return try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }

    static var cacheDir: String {
        if let c = ProcessInfo.processInfo.environment["LLAVA_MNIST_CACHE"], !c.isEmpty { return c }
        return NSHomeDirectory() + "/.cache/llava-mnist"
    }

    /// A file fetched by scripts/setup.sh: the test fails (never skips) when it is missing.
    static func realFile(_ relative: String) throws -> String {
        let path = cacheDir + "/" + relative
        guard FileManager.default.fileExists(atPath: path) else {
            let msg = "\(path) is missing: run scripts/setup.sh to fetch it (LLAVA_MNIST_CACHE overrides ~/.cache/llava-mnist)"
            XCTFail(msg)
            throw Missing(description: msg)
        }
        return path
    }

    // Loaded once per test process: the Llama 3 vocabulary is large.
    nonisolated(unsafe) private static var smol: (any Tokenizer, GGUFFile)?
    nonisolated(unsafe) private static var llama: (any Tokenizer)?
    private static let lock = NSLock()

    static func smolLM2() throws -> (tokenizer: any Tokenizer, gguf: GGUFFile) {
        lock.lock(); defer { lock.unlock() }
        if let s = smol { return s }
        let gguf = try GGUFFile(path: realFile("models/SmolLM2-135M-Instruct.Q4_1.gguf"))
        let t = try TokenizerLoader.fromGGUF(gguf)
        smol = (t, gguf)
        return (t, gguf)
    }

    static func llama3() throws -> any Tokenizer {
        lock.lock(); defer { lock.unlock() }
        if let l = llama { return l }
        _ = try realFile("tokenizers/llama3/tokenizer.json")
        let t = try TokenizerLoader.fromFolder(cacheDir + "/tokenizers/llama3")
        llama = t
        return t
    }

    static func tinyLlava() throws -> any Tokenizer {
        try TokenizerLoader.fromFolder(fixtureDir + "/tiny-llava")
    }
}

final class TokenizerTests: XCTestCase {
    /// Checks every golden case: ids with special parsing, ids with specials as text, decoding.
    private func checkCases(_ t: any Tokenizer, _ cases: [[String: Any]], file: StaticString = #filePath, line: UInt = #line) {
        for c in cases {
            let text = c["text"] as! String
            let ids = c["ids"] as! [Int]
            XCTAssertEqual(t.encode(text, parseSpecial: true), ids, "ids of \(text.debugDescription)", file: file, line: line)
            XCTAssertEqual(t.decode(ids), c["decoded"] as! String, "decoded \(text.debugDescription)", file: file, line: line)
            if let tokens = c["tokens"] as? [String] {
                XCTAssertEqual(ids.map(t.tokenPiece), tokens, "pieces of \(text.debugDescription)", file: file, line: line)
            }
            if let hex = c["token_bytes_hex"] as? [String] {
                let got = ids.map { t.tokenBytes($0).map { String(format: "%02x", $0) }.joined() }
                XCTAssertEqual(got, hex, "bytes of \(text.debugDescription)", file: file, line: line)
            }
            if let plain = c["ids_special_as_text"] as? [Int] {
                XCTAssertEqual(t.encode(text, parseSpecial: false), plain, "special-as-text ids of \(text.debugDescription)", file: file, line: line)
                XCTAssertEqual(t.decode(plain), c["decoded_special_as_text"] as! String, file: file, line: line)
            } else {
                // Without special-token text, both modes agree.
                XCTAssertEqual(t.encode(text, parseSpecial: false), ids, "parseSpecial=false ids of \(text.debugDescription)", file: file, line: line)
            }
            if let rt = c["roundtrip_equal"] as? Bool {
                XCTAssertEqual(t.decode(ids) == text, rt, "round trip of \(text.debugDescription)", file: file, line: line)
            }
        }
    }

    func testSmolLM2GoldensFromGGUF() throws {
        let (t, _) = try TokFixtures.smolLM2()
        let g = try TokFixtures.json("smollm2_tokenizer_golden.json")
        let cases = g["cases"] as! [[String: Any]]
        XCTAssertEqual(cases.count, 40)
        checkCases(t, cases)
        XCTAssertEqual(t.vocabSize, 49152)
        XCTAssertEqual(t.bosID, 1)
        XCTAssertEqual(t.eosID, 2)
        XCTAssertFalse(t.addsBOSByDefault)
        XCTAssertEqual((t as? BPETokenizer)?.preTokenizer, .smollm)
        for (name, id) in g["special_tokens"] as! [String: Int] {
            XCTAssertEqual(t.tokenID(name), id)
            XCTAssertTrue(t.isSpecial(id), name)
            XCTAssertEqual(t.encode(name), [id])
        }
        XCTAssertFalse(t.isSpecial(504))
        XCTAssertNotNil(t.chatTemplate)
    }

    func testLlama3GoldensFromTokenizerJSON() throws {
        let t = try TokFixtures.llama3()
        let g = try TokFixtures.json("llama3_tokenizer_golden.json")
        let cases = g["cases"] as! [[String: Any]]
        XCTAssertEqual(cases.count, 20)
        checkCases(t, cases)
        XCTAssertEqual(t.vocabSize, 128257)
        XCTAssertEqual(t.bosID, 128000)
        XCTAssertEqual(t.eosID, 128001)
        XCTAssertTrue(t.addsBOSByDefault)
        XCTAssertEqual((t as? BPETokenizer)?.preTokenizer, .llama3)
        for (name, id) in g["key_special_ids"] as! [String: Int] { XCTAssertEqual(t.tokenID(name), id, name) }
        // Default settings (add_special_tokens=True) prepend BOS: the caller adds it.
        for c in g["default_add_special_tokens"] as! [[String: Any]] {
            let text = c["text"] as! String
            XCTAssertEqual(t.encode(text), c["ids_add_special_tokens_false"] as! [Int])
            XCTAssertEqual([t.bosID!] + t.encode(text), c["ids_add_special_tokens_true"] as! [Int])
        }
    }

    func testTinyLlavaSentencePieceGoldens() throws {
        let t = try TokFixtures.tinyLlava()
        XCTAssertTrue(t is SentencePieceBPE)
        XCTAssertEqual(t.vocabSize, 1026)
        XCTAssertEqual(t.bosID, 1)
        XCTAssertEqual(t.eosID, 2)
        XCTAssertTrue(t.addsBOSByDefault)
        let cases = try TokFixtures.json("tiny_llava_tokenizer_goldens.json")["cases"] as! [[String: Any]]
        XCTAssertEqual(cases.count, 22)
        for c in cases {
            let text = c["text"] as! String
            let ids = c["ids"] as! [Int], noBOS = c["ids_no_bos"] as! [Int]
            XCTAssertEqual(t.encode(text), noBOS, "ids of \(text.debugDescription)")
            XCTAssertEqual([t.bosID!] + t.encode(text), ids)
            XCTAssertEqual(noBOS.map(t.tokenPiece), c["tokens"] as! [String], "pieces of \(text.debugDescription)")
            XCTAssertEqual(t.decode(ids), c["decoded"] as! String, "decoded \(text.debugDescription)")
            XCTAssertEqual(t.decode(ids, skipSpecial: true), c["decoded_skip_special"] as! String)
        }
        XCTAssertEqual(t.tokenID("<image>"), 1024)
        XCTAssertEqual(t.encode("<image>", parseSpecial: false).contains(1024), false)
    }

    /// A character split across tokens must come out whole, never as U+FFFD.
    func testStreamingDecodeAcrossTokens() throws {
        let (t, _) = try TokFixtures.smolLM2()
        for text in ["emoji 😀👍🏽 ❤️", "日本語のテキスト", "🇫🇷 flag"] {
            let ids = t.encode(text)
            var d = StreamingDecoder(), out = "", heldBack = 0
            for id in ids {
                let piece = d.append(t.tokenBytes(id))
                if piece.isEmpty { heldBack += 1 }
                XCTAssertFalse(piece.contains("\u{FFFD}"), "a piece of \(text) was cut: \(ids)")
                out += piece
            }
            out += d.flush()
            XCTAssertEqual(out, text)
            if text.hasPrefix("emoji") { XCTAssertGreaterThan(heldBack, 0, "expected a token ending mid-character") }
        }
        // Byte fallback: each byte of 日 is its own token.
        let tiny = try TokFixtures.tinyLlava()
        var d = StreamingDecoder(), pieces: [String] = []
        for id in tiny.encode("日本") { pieces.append(d.append(tiny.tokenBytes(id))) }
        XCTAssertEqual(pieces, [" ", "", "", "日", "", "", "本"])
    }

    func testMissingTokenizerJSONIsAClearError() throws {
        let dir = NSTemporaryDirectory() + "tok-empty-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        XCTAssertThrowsError(try TokenizerLoader.fromFolder(dir)) { e in
            let f = e as? FormatError
            XCTAssertEqual(f?.file, dir)
            XCTAssertTrue(f?.message.contains("no tokenizer.json") == true, "\(e)")
        }
        let bad = dir + "/tokenizer.json"
        try Data("{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}".utf8).write(to: URL(fileURLWithPath: bad))
        XCTAssertThrowsError(try TokenizerLoader.fromFolder(dir)) { e in
            XCTAssertTrue("\(e)".contains("Unigram"), "\(e)")
        }
        try Data("{\"model\": ".utf8).write(to: URL(fileURLWithPath: bad))
        XCTAssertThrowsError(try TokenizerLoader.fromFolder(dir)) { e in
            XCTAssertTrue("\(e)".contains("invalid JSON"), "\(e)")
        }
    }

    // MARK: - GGUF without merges, and unsupported models

    /// Writes a GGUF v3 file with only metadata (no tensors).
    private func writeGGUF(_ kv: [(String, GGUFValue)]) throws -> String {
        var b: [UInt8] = []
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
        func str(_ s: String) { u64(UInt64(s.utf8.count)); b += Array(s.utf8) }
        func typeOf(_ v: GGUFValue) -> UInt32 {
            switch v { case .uint: return 4; case .int: return 5; case .bool: return 7; case .string: return 8; case .array: return 9; case .float: return 6 }
        }
        func value(_ v: GGUFValue) {
            switch v {
            case .uint(let x): u32(UInt32(x))
            case .int(let x): u32(UInt32(bitPattern: Int32(x)))
            case .bool(let x): b.append(x ? 1 : 0)
            case .string(let s): str(s)
            case .float(let f): u32(Float(f).bitPattern)
            case .array(let a): u32(a.first.map(typeOf) ?? 8); u64(UInt64(a.count)); a.forEach(value)
            }
        }
        u32(0x4655_4747); u32(3); u64(0); u64(UInt64(kv.count))
        for (k, v) in kv { str(k); u32(typeOf(v)); value(v) }
        let path = NSTemporaryDirectory() + "tok-\(getpid())-\(UUID().uuidString).gguf"
        try Data(b).write(to: URL(fileURLWithPath: path))
        return path
    }

    func testGGUFWithoutMergesEncodesPerByte() throws {
        // Vocabulary: <s>, </s>, then the byte-level pieces of "a", "b", "Ġ" (space); no merges.
        let tokens: [GGUFValue] = ["<s>", "</s>", "a", "b", "Ġ", "ab"].map { .string($0) }
        let path = try writeGGUF([
            ("tokenizer.ggml.model", .string("gpt2")),
            ("tokenizer.ggml.tokens", .array(tokens)),
            ("tokenizer.ggml.token_type", .array([.int(3), .int(3), .int(1), .int(1), .int(1), .int(1)])),
            ("tokenizer.ggml.bos_token_id", .uint(0)),
            ("tokenizer.ggml.eos_token_id", .uint(1)),
        ])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let t = try TokenizerLoader.fromGGUF(GGUFFile(path: path))
        XCTAssertEqual(t.encode("ab ba"), [2, 3, 4, 3, 2])
        XCTAssertEqual(t.encode("a c!b"), [2, 4, 3])          // c and ! have no token: dropped
        XCTAssertEqual(t.encode("<s>a</s>"), [0, 2, 1])
        XCTAssertEqual(t.decode([0, 2, 4, 3, 1], skipSpecial: true), "a b")
        XCTAssertEqual(t.bosID, 0)
        XCTAssertEqual(t.eosID, 1)
        XCTAssertNil(t.chatTemplate)
    }

    func testUnsupportedGGUFTokenizerModel() throws {
        let path = try writeGGUF([("tokenizer.ggml.model", .string("llama")),
                                  ("tokenizer.ggml.tokens", .array([.string("<unk>")]))])
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertThrowsError(try TokenizerLoader.fromGGUF(GGUFFile(path: path))) { e in
            let f = e as? FormatError
            XCTAssertEqual(f?.file, path)
            XCTAssertTrue(f?.message.contains("'llama' is not supported") == true, "\(e)")
        }
        let none = try writeGGUF([("general.architecture", .string("llama"))])
        defer { try? FileManager.default.removeItem(atPath: none) }
        XCTAssertThrowsError(try TokenizerLoader.fromGGUF(GGUFFile(path: none))) { e in
            XCTAssertTrue("\(e)".contains("id-only commands"), "\(e)")
        }
    }

    // MARK: - Merge engine and speed

    /// The heap merge loop used for long words must agree with the simple loop used for short ones.
    func testLongWordMergeLoopsAgree() throws {
        let (t, _) = try TokFixtures.smolLM2()
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("aaabbcdeeeinnorsttth")
        for _ in 0..<20 {
            let word = String((0..<Int.random(in: 65...400, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
            let ids = t.encode(word)                       // one pre-token → heap path
            XCTAssertEqual(t.decode(ids), word)
            // Same word in chunks below the heap threshold must not merge better than the whole.
            var small: [Int32] = Array(word.utf8).map { Int32(t.tokenID(String(Character(Unicode.Scalar($0))))!) }
            (t as! BPETokenizer).merges.applySmall(&small)
            XCTAssertEqual(small.map(Int.init), ids, word)
        }
    }

    func testLlama3LoadAndEncodeSpeed() throws {
        _ = try TokFixtures.realFile("tokenizers/llama3/tokenizer.json")
        // CPU time, not wall time: the machine may be busy with other builds.
        let start = Date(), cpu0 = clock()
        let t = try TokenizerLoader.fromFolder(TokFixtures.cacheDir + "/tokenizers/llama3")
        let load = Double(clock() - cpu0) / Double(CLOCKS_PER_SEC)
        print("Llama 3 tokenizer load: \(String(format: "%.3f", load)) s CPU, \(String(format: "%.3f", Date().timeIntervalSince(start))) s wall")
        XCTAssertLessThan(load, 1.0, "loading 128k tokens + 280k merges should take well under a second")

        // ~100 KB of mixed text, plus one 20 KB "word" that exercises the heap merge loop.
        var text = ""
        let lines = ["The quick brown fox jumps over the lazy dog 1234567.", "    return a + b  // café",
                     "你好，世界 😀", "don't STOP—it's 3.14!", "\n\n"]
        var i = 0
        while text.utf8.count < 100_000 { text += lines[i % lines.count] + " w\(i) "; i += 1 }
        text += String(repeating: "abcdefghij", count: 2000)
        let c0 = clock()
        let ids = t.encode(text)
        let dt = Double(clock() - c0) / Double(CLOCKS_PER_SEC)
        print("encode \(text.utf8.count) bytes → \(ids.count) ids: \(String(format: "%.3f", dt)) s")
        XCTAssertEqual(t.decode(ids), text)
        XCTAssertLessThan(dt, 1.0)
    }

    // MARK: - Pre-tokenizers and the SentencePiece variants

    /// The hand-written scanners against Python `regex` on 250 strings full of edge cases.
    func testPreTokenizersMatchRegexReference() throws {
        let g = try TokFixtures.json("pretokenizer_regex_cases.json")
        let cases = g["cases"] as! [[String: Any]]
        XCTAssertEqual(cases.count, 250)
        for c in cases {
            let text = c["text"] as! String
            let bytes = Array(text.utf8)
            for kind in PreTokenizerKind.allCases {
                var pre = PreTokenizer(kind)
                let got = bytes.withUnsafeBufferPointer { pre.split($0) }.map { String(decoding: bytes[$0], as: UTF8.self) }
                XCTAssertEqual(got, c[kind.rawValue] as! [String], "\(kind) split of \(text.debugDescription)")
            }
        }
        // Case-insensitive contractions fold the long s (U+017F) to "s", as Python regex does.
        let tricky = Array("it'\u{17F} x'\u{17F}a DON'T".utf8)
        var l3 = PreTokenizer(.llama3)
        XCTAssertEqual(tricky.withUnsafeBufferPointer { l3.split($0) }.map { String(decoding: tricky[$0], as: UTF8.self) },
                       ["it", "'\u{17F}", " x", "'\u{17F}", "a", " DON", "'T"])
        XCTAssertEqual(PreTokenizerKind(ggufPre: "smollm"), .smollm)
        XCTAssertEqual(PreTokenizerKind(ggufPre: "llama-bpe"), .llama3)
        XCTAssertEqual(PreTokenizerKind(ggufPre: nil), .gpt2)
    }

    /// llava-hf's spelling (normalizer Prepend("▁") + Replace(" ", "▁"), no pre-tokenizer) puts a
    /// "▁" in front of every piece of text (tiny-llava README: " Hello world" → ▁ ▁H ell o ▁wor ld).
    func testSentencePieceNormalizerVariant() throws {
        let src = TokFixtures.fixtureDir + "/tiny-llava/tokenizer.json"
        var root = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: src))) as! [String: Any]
        root["pre_tokenizer"] = NSNull()
        root["normalizer"] = ["type": "Sequence", "normalizers": [
            ["type": "Prepend", "prepend": "\u{2581}"],
            ["type": "Replace", "pattern": ["String": " "], "content": "\u{2581}"]]]
        let dir = NSTemporaryDirectory() + "tok-llavahf-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try JSONSerialization.data(withJSONObject: root).write(to: URL(fileURLWithPath: dir + "/tokenizer.json"))
        let t = try TokenizerLoader.fromFolder(dir)
        XCTAssertEqual((t as? SentencePieceBPE)?.prepend, .unconditional)
        XCTAssertEqual(t.encode(" Hello world").map(t.tokenPiece), ["\u{2581}", "\u{2581}H", "ell", "o", "\u{2581}wor", "ld"])
        XCTAssertEqual(t.encode("Hello world"), [715, 525, 310, 439, 693])
        // The piece after <image> gets its own "▁" here (not in the Metaspace "first" form).
        let ids = t.encode("a<image>b")
        XCTAssertEqual(Array(ids.prefix(2)), [325, 1024])
        XCTAssertEqual(t.tokenPiece(ids[2]).first, "\u{2581}")
    }

    // MARK: - Limits and fuzz regressions

    /// Loads tokenizer.json text from memory and returns the error message (or "no error").
    private func jsonError(_ text: String) -> String {
        do {
            _ = try TokenizerLoader.fromTokenizerJSON(data: Data(text.utf8), name: "t.json")
            return "no error"
        } catch let e as FormatError {
            XCTAssertEqual(e.file, "t.json")
            return e.message
        } catch {
            return "\(error)"
        }
    }

    private let byteLevel = #""pre_tokenizer": {"type": "ByteLevel"}"#

    func testFromMemoryMatchesFromFile() throws {
        let path = TokFixtures.fixtureDir + "/tiny-llava/tokenizer.json"
        let file = try TokenizerLoader.fromTokenizerJSON(path, config: nil)
        let memory = try TokenizerLoader.fromTokenizerJSON(data: Data(contentsOf: URL(fileURLWithPath: path)), name: path)
        XCTAssertEqual(memory.vocabSize, file.vocabSize)
        XCTAssertEqual(memory.encode("What digit is this? 7"), file.encode("What digit is this? 7"))
    }

    func testAddedTokenIDLimit() {
        // The tokenizer sizes its tables by the largest id: 10^15 used to trap on the allocation.
        XCTAssertEqual(jsonError(#"{"model": {"type": "BPE", "vocab": {"a": 0}}, "#
                                 + #""added_tokens": [{"id": 1000000000000000, "content": "<x>"}], "# + byteLevel + "}"),
                       "added token '<x>' has id 1000000000000000; ids must be between 0 and 2097151")
        XCTAssertEqual(jsonError(#"{"model": {"type": "BPE", "vocab": {"a": 0}}, "#
                                 + #""added_tokens": [{"id": -1, "content": "<x>"}], "# + byteLevel + "}"),
                       "added token '<x>' has id -1; ids must be between 0 and 2097151")
        XCTAssertEqual(jsonError(#"{"model": {"type": "BPE", "vocab": {"a": 0}}, "#
                                 + #""added_tokens": [{"id": 2097151, "content": "<x>"}], "# + byteLevel + "}"), "no error")
    }

    func testVocabularyIDLimit() {
        XCTAssertEqual(jsonError(#"{"model": {"type": "BPE", "vocab": {"a": 2097152}}, "# + byteLevel + "}"),
                       "model.vocab id 2097152 is absurdly large (ids must be below 2097152)")
    }

    func testFileSizeLimitCheckedBeforeReading() throws {
        // A sparse file: its size is refused from the directory entry, nothing is read.
        let path = try TempDir.make() + "/tokenizer.json"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: nil))
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: UInt64(TokenizerLoader.maxJSONBytes + 1))
        try handle.close()
        XCTAssertThrowsError(try TokenizerLoader.fromTokenizerJSON(path, config: nil)) { e in
            XCTAssertEqual(e as? FormatError, FormatError(path, "file is 134217729 bytes, larger than the 128 MiB limit for tokenizer files"))
        }
        XCTAssertThrowsError(try TokenizerLoader.fromTokenizerJSON(path + ".none", config: nil)) { e in
            XCTAssertEqual(e as? FormatError, FormatError(path + ".none", "no such file"))
        }
    }

    func testJSONNestingLimit() {
        XCTAssertEqual(jsonError(String(repeating: "[", count: 100_000)), "invalid JSON at byte 511: nested too deeply")
    }
}
