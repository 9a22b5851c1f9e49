// The safetensors reader, writer and folder loader: the tiny Llama 3 files (float32 and
// bfloat16), sharded folders written here, and corrupt headers, each refused with a
// FormatError naming the file and the problem. Also the model-folder errors of ModelLoader.
import Foundation
import XCTest
@testable import LlamaKit

final class SafeTensorsTests: XCTestCase {
    /// HF tensor names of the tiny Llama 3 and their PyTorch shapes, from its README.
    static let tinyShapes: [String: [Int]] = {
        var s: [String: [Int]] = ["model.embed_tokens.weight": [512, 64], "model.norm.weight": [64], "lm_head.weight": [512, 64]]
        for l in 0..<2 {
            let p = "model.layers.\(l)."
            s[p + "input_layernorm.weight"] = [64]
            s[p + "post_attention_layernorm.weight"] = [64]
            s[p + "self_attn.q_proj.weight"] = [64, 64]
            s[p + "self_attn.k_proj.weight"] = [32, 64]
            s[p + "self_attn.v_proj.weight"] = [32, 64]
            s[p + "self_attn.o_proj.weight"] = [64, 64]
            s[p + "mlp.gate_proj.weight"] = [160, 64]
            s[p + "mlp.up_proj.weight"] = [160, 64]
            s[p + "mlp.down_proj.weight"] = [64, 160]
        }
        return s
    }()

    func testTinyLlama3Float32() throws {
        let path = Fixtures.path("tiny-llama3/model.safetensors")
        let f = try SafeTensorsFile(path: path)
        XCTAssertEqual(f.path, path)
        XCTAssertEqual(f.tensors.count, 21)
        XCTAssertEqual(f.metadata, ["format": "pt"])
        XCTAssertEqual(Set(f.tensors.map(\.name)), Set(Self.tinyShapes.keys))
        for t in f.tensors {
            let shape = try XCTUnwrap(Self.tinyShapes[t.name])
            XCTAssertEqual(t.type, .f32, t.name)
            // Stored innermost first, like GGUF: PyTorch [out, in] → [in, out].
            XCTAssertEqual(t.shape, shape.reversed(), t.name)
            XCTAssertEqual(t.rows, shape.count == 1 ? 1 : shape[0], t.name)
            XCTAssertEqual(t.cols, shape.last, t.name)
            XCTAssertEqual(t.byteCount, 4 * t.elementCount, t.name)
        }
        // Header of 2144 bytes (from a Python reader), then lm_head.weight at data offset 0.
        let lm = try XCTUnwrap(f.tensor("lm_head.weight"))
        XCTAssertEqual(f.file.base.distance(to: lm.data), 8 + 2144)
        let norm = try XCTUnwrap(f.tensor("model.norm.weight")).toFloats()
        XCTAssertEqual(f.file.base.distance(to: f.tensor("model.norm.weight")!.data), 8 + 2144 + 607232)
        // RMSNorm weights are 1 + 0.1·randn: near 1, never exactly 1.
        XCTAssertTrue(norm.allSatisfy { $0 > 0.5 && $0 < 1.5 && $0 != 1 })
        XCTAssertEqual(f.file.size, 8 + 2144 + 607488)
    }

    /// The bfloat16 folder holds torch's round-to-nearest-even casts of the float32 weights,
    /// which floatToBF16 must reproduce bit for bit.
    func testTinyLlama3BFloat16MatchesRoundedFloat32() throws {
        let f32 = try SafeTensorsFile(path: Fixtures.path("tiny-llama3/model.safetensors"))
        let bf = try SafeTensorsFolder(path: Fixtures.path("tiny-llama3/model-bf16"))
        XCTAssertEqual(bf.files.count, 1)
        XCTAssertEqual(bf.tensors.count, 21)
        for t in f32.tensors {
            let b = try XCTUnwrap(bf.tensors[t.name], t.name)
            XCTAssertEqual(b.type, .bf16, t.name)
            XCTAssertEqual(b.shape, t.shape, t.name)
            XCTAssertEqual(b.byteCount, 2 * t.elementCount, t.name)
            let want = t.toFloats().map { bf16ToFloat(floatToBF16($0)) }
            XCTAssertEqual(b.toFloats(), want, t.name)
        }
    }

    func testFolderWithOneFile() throws {
        let folder = try SafeTensorsFolder(path: Fixtures.path("tiny-llama3"))
        XCTAssertEqual(folder.files.map { ($0.path as NSString).lastPathComponent }, ["model.safetensors"])
        XCTAssertEqual(Set(folder.tensors.keys), Set(Self.tinyShapes.keys))
    }

    // MARK: - Writer

    func testWriterRoundTrip() throws {
        let dir = try TempDir.make()
        let path = dir + "/w.safetensors"
        let entries: [SafeTensorsWriter.Entry] = [
            .init(name: "proj.weight", shape: [3, 5], values: (0..<15).map { Float($0) - 7.5 }),
            .init(name: "proj.bias", shape: [3], values: [.infinity, -0.0, .leastNonzeroMagnitude]),
            .init(name: "scalar", shape: [], values: [42]),
            .init(name: "empty", shape: [0, 4], values: []),
        ]
        let meta = ["step": "1200", "note": "héllo \"quoted\" ✓", "format": "pt"]
        try SafeTensorsWriter.write(entries, metadata: meta, to: path)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["w.safetensors"], "no temporary file left behind")
        let f = try SafeTensorsFile(path: path)
        XCTAssertEqual(f.metadata, meta)
        XCTAssertEqual(f.tensors.count, 4)
        for e in entries {
            let t = try XCTUnwrap(f.tensor(e.name), e.name)
            XCTAssertEqual(t.type, .f32)
            XCTAssertEqual(t.shape, e.shape.isEmpty ? [1] : e.shape.reversed(), e.name)
            XCTAssertEqual(t.toFloats().map(\.bitPattern), e.values.map(\.bitPattern), e.name)
            // The writer pads the header so float data is 8-byte aligned in the file.
            XCTAssertEqual(f.file.base.distance(to: t.data) % 4, 0, e.name)
        }
        let headerLength = f.file.base.load(as: UInt64.self)
        XCTAssertEqual((8 + headerLength) % 8, 0)
        // Rewriting replaces the file atomically.
        try SafeTensorsWriter.write([entries[0]], to: path)
        let g = try SafeTensorsFile(path: path)
        XCTAssertEqual(g.tensors.map(\.name), ["proj.weight"])
        XCTAssertEqual(g.metadata, [:])
    }

    /// The temporary file's name is predictable (`path.tmp-PID`): a link planted there must not
    /// redirect the write, and a leftover from a killed writer must not break the next save.
    func testAtomicWriteNeverFollowsALinkAtTheTemporaryName() throws {
        let dir = try TempDir.make()
        let path = dir + "/p.safetensors", victim = dir + "/victim.txt"
        try "keep me".write(toFile: victim, atomically: false, encoding: .utf8)
        XCTAssertEqual(symlink(victim, path + ".tmp-\(getpid())"), 0)
        try SafeTensorsWriter.write([.init(name: "x", shape: [1], values: [1])], to: path)
        XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "keep me")
        XCTAssertEqual(try SafeTensorsFile(path: path).tensors.map(\.name), ["x"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["p.safetensors", "victim.txt"])
    }

    func testWriterWithoutMetadataOmitsTheKey() throws {
        let data = try SafeTensorsWriter.encode([.init(name: "x", shape: [1], values: [1])])
        let n = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let header = String(decoding: data[8..<(8 + n)], as: UTF8.self)
        XCTAssertFalse(header.contains("__metadata__"), header)
        XCTAssertTrue(header.contains(#""data_offsets":[0,4]"#), header)
        XCTAssertTrue(header.contains(#""dtype":"F32""#), header)
    }

    // MARK: - Sharded folders

    /// Two shards and an index, like `save_pretrained(max_shard_size=…)`.
    static func writeSharded(_ dir: String, index: [String: String]? = nil) throws {
        try SafeTensorsWriter.write([.init(name: "a.weight", shape: [2, 2], values: [1, 2, 3, 4]),
                                     .init(name: "b.weight", shape: [2], values: [5, 6])],
                                    metadata: ["format": "pt"], to: dir + "/model-00001-of-00002.safetensors")
        try SafeTensorsWriter.write([.init(name: "c.weight", shape: [1, 3], values: [7, 8, 9])],
                                    metadata: ["format": "pt"], to: dir + "/model-00002-of-00002.safetensors")
        let map = index ?? ["a.weight": "model-00001-of-00002.safetensors", "b.weight": "model-00001-of-00002.safetensors",
                            "c.weight": "model-00002-of-00002.safetensors"]
        let json = try JSONSerialization.data(withJSONObject: ["metadata": ["total_size": 36], "weight_map": map])
        try json.write(to: URL(fileURLWithPath: dir + "/model.safetensors.index.json"))
    }

    func testShardedFolder() throws {
        let dir = try TempDir.make()
        try Self.writeSharded(dir)
        // A stray file the index does not name must be ignored.
        try SafeTensorsWriter.write([.init(name: "stray", shape: [1], values: [0])], to: dir + "/optimizer.safetensors")
        let folder = try SafeTensorsFolder(path: dir)
        XCTAssertEqual(folder.path, dir)
        XCTAssertEqual(folder.files.count, 2)
        XCTAssertEqual(Set(folder.tensors.keys), ["a.weight", "b.weight", "c.weight"])
        XCTAssertEqual(folder.tensors["a.weight"]?.toFloats(), [1, 2, 3, 4])
        XCTAssertEqual(folder.tensors["b.weight"]?.toFloats(), [5, 6])
        XCTAssertEqual(folder.tensors["c.weight"]?.toFloats(), [7, 8, 9])
        XCTAssertEqual(folder.tensors["c.weight"]?.shape, [3, 1])
    }

    func testShardedFolderWithoutIndexReadsEveryShard() throws {
        let dir = try TempDir.make()
        try Self.writeSharded(dir)
        try FileManager.default.removeItem(atPath: dir + "/model.safetensors.index.json")
        XCTAssertEqual(try SafeTensorsFolder(path: dir).tensors.count, 3)
    }

    func testIndexNamingAMissingShard() throws {
        let dir = try TempDir.make()
        try Self.writeSharded(dir)
        try FileManager.default.removeItem(atPath: dir + "/model-00002-of-00002.safetensors")
        expectError(try SafeTensorsFolder(path: dir), dir + "/model-00002-of-00002.safetensors", "no such file")
    }

    func testIndexDisagreeingWithShards() throws {
        let dir = try TempDir.make()
        try Self.writeSharded(dir, index: ["a.weight": "model-00001-of-00002.safetensors", "b.weight": "model-00001-of-00002.safetensors",
                                           "c.weight": "model-00001-of-00002.safetensors", "d.weight": "model-00002-of-00002.safetensors"])
        expectError(try SafeTensorsFolder(path: dir), dir + "/model.safetensors.index.json",
                    "the index puts tensor 'c.weight' in model-00001-of-00002.safetensors, but that shard does not have it")
    }

    func testIndexWithoutWeightMap() throws {
        let dir = try TempDir.make()
        try Self.writeSharded(dir)
        try Data(#"{"metadata": {}}"#.utf8).write(to: URL(fileURLWithPath: dir + "/model.safetensors.index.json"))
        expectError(try SafeTensorsFolder(path: dir), dir + "/model.safetensors.index.json", "not a valid safetensors index (no weight_map)")
    }

    func testIndexWithPathOutsideFolder() throws {
        let dir = try TempDir.make()
        try Self.writeSharded(dir, index: ["a.weight": "../elsewhere.safetensors"])
        expectError(try SafeTensorsFolder(path: dir), dir + "/model.safetensors.index.json",
                    "shard name '../elsewhere.safetensors' is not a file name in this folder")
    }

    func testSameTensorInTwoShards() throws {
        let dir = try TempDir.make()
        try SafeTensorsWriter.write([.init(name: "a", shape: [1], values: [1])], to: dir + "/one.safetensors")
        try SafeTensorsWriter.write([.init(name: "a", shape: [1], values: [2])], to: dir + "/two.safetensors")
        expectError(try SafeTensorsFolder(path: dir), dir + "/two.safetensors", "tensor 'a' is also in another shard of this folder")
    }

    func testFolderWithoutSafetensors() throws {
        let dir = try TempDir.make()
        expectError(try SafeTensorsFolder(path: dir), dir, "no .safetensors files in this folder")
    }

    // MARK: - Bad input

    func expectError<T>(_ body: @autoclosure () throws -> T, _ file: String, _ message: String,
                        filePath: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: filePath, line: line) { error in
            XCTAssertEqual(error as? FormatError, FormatError(file, message), "\(error)", file: filePath, line: line)
        }
    }

    /// A file with this header text (padded with nothing) and data bytes.
    static func raw(_ header: String, data: [UInt8] = [], claimedLength: UInt64? = nil) -> [UInt8] {
        withUnsafeBytes(of: (claimedLength ?? UInt64(header.utf8.count)).littleEndian, Array.init) + Array(header.utf8) + data
    }

    func expectFileError(_ bytes: [UInt8], _ message: String, filePath: StaticString = #filePath, line: UInt = #line) throws {
        let path = try TempDir.file("bad.safetensors", bytes: bytes)
        expectError(try SafeTensorsFile(path: path), path, message, filePath: filePath, line: line)
    }

    func testValidRawFileReads() throws {
        let path = try TempDir.file("ok.safetensors", bytes: Self.raw(#"{"x":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#, data: [0, 0x3C, 0, 0xC0]))
        XCTAssertEqual(try SafeTensorsFile(path: path).tensor("x")?.toFloats(), [1, -2])
    }

    func testParsesBytesInMemory() throws {
        let bytes = Self.raw(#"{"x":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#, data: [0, 0x3C, 0, 0xC0])
        let f = try bytes.withUnsafeBytes { try SafeTensorsFile(bytes: $0, name: "memory.safetensors") }
        XCTAssertEqual(f.tensor("x")?.toFloats(), [1, -2])
        expectError(try bytes.dropLast().withUnsafeBytes { try SafeTensorsFile(bytes: $0, name: "cut.safetensors") },
                    "cut.safetensors", "tensor 'x' has data offsets beyond the end of the file: truncated or corrupt")
    }

    func testMissingFile() throws {
        let path = try TempDir.make() + "/none.safetensors"
        expectError(try SafeTensorsFile(path: path), path, "no such file")
    }

    func testEmptyFile() throws {
        try expectFileError([], "not a safetensors file (only 0 bytes)")
    }

    func testHeaderLengthBeyondFile() throws {
        try expectFileError(Self.raw(#"{"x":1}"#, claimedLength: 1000), "truncated: the header claims 1000 bytes but the file has 7 after the length")
    }

    func testAbsurdHeaderLength() throws {
        try expectFileError(Self.raw("{}", claimedLength: 1 << 63), "not a safetensors file (header length 9223372036854775808 is implausible)")
        try expectFileError(Self.raw("{}", claimedLength: 1), "not a safetensors file (header length 1 is implausible)")
    }

    func testHeaderNotJSON() throws {
        try expectFileError(Self.raw("{not json at all}"), "not a safetensors file (the header is not a JSON object)")
        try expectFileError(Self.raw("[1, 2]"), "not a safetensors file (the header is not a JSON object)")
        // A GGUF file read as safetensors: its magic and version make a huge length.
        try expectFileError(Array("GGUF".utf8) + [3, 0, 0, 0] + [UInt8](repeating: 0, count: 32),
                            "not a safetensors file (header length 14064895815 is implausible)")
    }

    func testUnsupportedDType() throws {
        try expectFileError(Self.raw(#"{"ids":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)),
                            "tensor 'ids' has dtype I64; supported: F32, F16, BF16")
    }

    func testDataOffsetsBeyondFile() throws {
        let msg = "tensor 'x' has data offsets beyond the end of the file: truncated or corrupt"
        try expectFileError(Self.raw(#"{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: [UInt8](repeating: 0, count: 12)), msg)
        // Offsets that would wrap around if added to the data start.
        try expectFileError(Self.raw(#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[9223372036854775800,9223372036854775804]}}"#, data: [0, 0, 0, 0]), msg)
        // End before begin, negative begin, non-integer offsets.
        try expectFileError(Self.raw(#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, data: [0, 0, 0, 0]), msg)
        try expectFileError(Self.raw(#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}"#, data: [0, 0, 0, 0]), msg)
        try expectFileError(Self.raw(#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4.5]}}"#, data: [0, 0, 0, 0, 0]), msg)
    }

    func testShapeNotMatchingByteCount() throws {
        try expectFileError(Self.raw(#"{"x":{"dtype":"F32","shape":[2,3],"data_offsets":[0,16]}}"#, data: [UInt8](repeating: 0, count: 16)),
                            "tensor 'x': shape [2, 3] does not match its 16 data bytes")
        try expectFileError(Self.raw(#"{"x":{"dtype":"BF16","shape":[3],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)),
                            "tensor 'x': shape [3] does not match its 8 data bytes")
        // Dimensions whose product overflows must not wrap into a match.
        try expectFileError(Self.raw(#"{"x":{"dtype":"F32","shape":[1099511627776,1099511627776,1099511627776],"data_offsets":[0,0]}}"#),
                            "tensor 'x': shape [1099511627776, 1099511627776, 1099511627776] does not match its 0 data bytes")
    }

    func testInvalidShape() throws {
        for shape in ["[-1]", "[1.5]", "[\"2\"]", "[2199023255552]"] {
            try expectFileError(Self.raw(#"{"x":{"dtype":"F32","shape":\#(shape),"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
                                "tensor 'x' has an invalid shape")
        }
    }

    func testMalformedEntry() throws {
        for entry in [#"{"shape":[1],"data_offsets":[0,4]}"#, #"{"dtype":"F32","data_offsets":[0,4]}"#,
                      #"{"dtype":"F32","shape":[1],"data_offsets":[0]}"#, "7"] {
            try expectFileError(Self.raw(#"{"x":\#(entry)}"#, data: [0, 0, 0, 0]), "tensor 'x' has a malformed header entry")
        }
    }

    // MARK: - Model folders (ModelLoader)

    /// A temporary model folder with the tiny Llama 3's config and weights, and no tokenizer.
    static func tinyModelFolder(config: [String: Any]? = nil) throws -> String {
        let dir = try TempDir.make()
        let fm = FileManager.default
        try fm.copyItem(atPath: Fixtures.path("tiny-llama3/model.safetensors"), toPath: dir + "/model.safetensors")
        if let config {
            try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: dir + "/config.json"))
        } else {
            try fm.copyItem(atPath: Fixtures.path("tiny-llama3/config.json"), toPath: dir + "/config.json")
        }
        return dir
    }

    func testFolderWithoutConfigIsNotAModelFolder() throws {
        let dir = try TempDir.make()
        try FileManager.default.copyItem(atPath: Fixtures.path("tiny-llama3/model.safetensors"), toPath: dir + "/model.safetensors")
        expectError(try ModelLoader.load(path: dir), dir,
                    "not a model folder: no config.json (expected a Hugging Face folder or a .gguf file)")
    }

    func testFolderWithoutTokenizerLoadsForIdOnlyUse() throws {
        let dir = try Self.tinyModelFolder()
        let m = try ModelLoader.load(path: dir)
        XCTAssertEqual(m.format, "safetensors")
        XCTAssertEqual(m.model.config.layers, 2)
        XCTAssertNil(m.tokenizer)
        XCTAssertNil(m.chatTemplate)
        XCTAssertNil(m.gguf)
        expectError(try m.requireTokenizer(), dir,
                    "no tokenizer.json in this folder: text commands need a tokenizer; id-only commands (generate --prompt-ids) still work")
        XCTAssertTrue(m.tokenizerProblem?.message.contains("id-only commands") ?? false)
    }

    func testConfigWithMissingKeys() throws {
        var config = try Fixtures.json("tiny-llama3/config.json")
        for key in ["hidden_size", "num_hidden_layers", "vocab_size", "intermediate_size", "num_attention_heads"] {
            var c = config
            c.removeValue(forKey: key)
            let dir = try Self.tinyModelFolder(config: c)
            expectError(try ModelLoader.load(path: dir), dir + "/config.json", "missing or invalid \"\(key)\"")
        }
        config["hidden_size"] = "64"
        let dir = try Self.tinyModelFolder(config: config)
        expectError(try ModelLoader.load(path: dir), dir + "/config.json", "missing or invalid \"hidden_size\"")
    }

    func testConfigNotJSON() throws {
        let dir = try Self.tinyModelFolder()
        try Data("{\"hidden_size\": 64,".utf8).write(to: URL(fileURLWithPath: dir + "/config.json"))
        expectError(try ModelLoader.load(path: dir), dir + "/config.json", "not valid JSON")
    }

    func testConfigWithZeroKVHeads() throws {
        var config = try Fixtures.json("tiny-llama3/config.json")
        config["num_key_value_heads"] = 0
        let dir = try Self.tinyModelFolder(config: config)
        expectError(try ModelLoader.load(path: dir), dir + "/config.json", "implausible model shape (KV heads 0, head_dim 16, vocab 512)")
    }
}
