// The GGUF reader on real files (SmolLM2 Q4_1, the tiny Llama 3 F32 file) and on files written
// by GGUFTestWriter: valid ones of every value type, and the corrupt ones it must refuse with
// a FormatError naming the file and the problem (GGUFBadInputTests, below).
import Foundation
import XCTest
@testable import LlamaKit

final class GGUFTests: XCTestCase {
    // MARK: - SmolLM2-135M-Instruct Q4_1 (the real model)

    func testSmolLM2Layout() throws {
        let f = try GGUFFile(path: Fixtures.smolLM2Path())
        let layout = try Fixtures.json("smollm2/gguf_layout.json")
        XCTAssertEqual(f.version, 3)
        XCTAssertEqual(f.tensors.count, 272)
        XCTAssertEqual(f.tensors.count, layout["n_tensors"] as? Int)
        XCTAssertEqual(f.alignment, 32)
        XCTAssertEqual(f.dataOffset, 1_785_664)   // end of tensor infos, already 32-aligned
        var counts: [String: Int] = [:]
        for t in f.tensors { counts[t.type.description, default: 0] += 1 }
        XCTAssertEqual(counts, layout["tensor_types"] as? [String: Int])
        XCTAssertEqual(f.tensors.filter { $0.type == .q8_0 }.map(\.name), layout["q8_0_tensors"] as? [String])
        XCTAssertNil(f.tensor("output.weight"), "lm_head is tied to token_embd")
        XCTAssertEqual(Set(f.tensors.map(\.name)).count, 272)
        // Every tensor lies inside the file and after the data start.
        for t in f.tensors {
            let start = f.file.base.distance(to: t.data)
            XCTAssertGreaterThanOrEqual(start, f.dataOffset, t.name)
            XCTAssertLessThanOrEqual(start + t.byteCount, f.file.size, t.name)
            XCTAssertEqual(t.byteCount, t.rows * t.type.rowBytes(t.cols), t.name)
        }
    }

    /// gguf-py's dequantization of eight tensors: type, dims, absolute offset, raw bytes, the
    /// first 64 values, and float64 sum / abs-sum of the whole tensor.
    func testSmolLM2DequantCases() throws {
        let f = try GGUFFile(path: Fixtures.smolLM2Path())
        let cases = try XCTUnwrap(Fixtures.json("smollm2/gguf_layout.json")["dequant_cases"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 8)
        for c in cases {
            let name = c["name"] as! String
            let t = try XCTUnwrap(f.tensor(name), name)
            XCTAssertEqual(t.type.description, c["ggml_type"] as? String, name)
            XCTAssertEqual(t.shape, c["gguf_ne"] as? [Int], name)
            XCTAssertEqual(f.file.base.distance(to: t.data), c["data_offset_in_file"] as? Int, name)
            XCTAssertEqual(t.byteCount, c["n_bytes"] as? Int, name)
            XCTAssertEqual(t.type.blockSize, c["block_size_elems"] as? Int, name)
            XCTAssertEqual(t.type.typeSize, c["block_size_bytes"] as? Int, name)
            let raw = UnsafeRawBufferPointer(start: t.data, count: 2 * t.type.typeSize)
            XCTAssertEqual(raw.map { String(format: "%02x", $0) }.joined(), c["first_two_blocks_hex"] as? String, name)

            let values = t.toFloats()
            XCTAssertEqual(values.count, t.elementCount)
            let first = (c["first_64_dequantized_gguf_order"] as! [Double]).map { Float($0) }
            XCTAssertEqual(Array(values.prefix(64)), first, name)
            var sum = 0.0, absSum = 0.0
            for v in values { sum += Double(v); absSum += Double(abs(v)) }
            let wantSum = c["sum_f64"] as! Double, wantAbs = c["abs_sum_f64"] as! Double
            // Only the float64 summation order differs from numpy's pairwise sum.
            XCTAssertEqual(sum, wantSum, accuracy: 1e-10 * wantAbs, name)
            XCTAssertEqual(absSum, wantAbs, accuracy: 1e-10 * wantAbs, name)
        }
    }

    func testSmolLM2Metadata() throws {
        let f = try GGUFFile(path: Fixtures.smolLM2Path())
        XCTAssertEqual(f.metadataKeys, [
            "general.architecture", "general.type", "general.name", "general.organization", "general.finetune",
            "general.basename", "general.size_label", "general.license", "general.languages",
            "llama.block_count", "llama.context_length", "llama.embedding_length", "llama.feed_forward_length",
            "llama.attention.head_count", "llama.attention.head_count_kv", "llama.rope.freq_base",
            "llama.attention.layer_norm_rms_epsilon", "general.file_type", "llama.vocab_size",
            "llama.rope.dimension_count", "tokenizer.ggml.add_space_prefix", "tokenizer.ggml.add_bos_token",
            "tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.token_type",
            "tokenizer.ggml.merges", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
            "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id", "tokenizer.chat_template",
            "general.quantization_version",
        ])
        XCTAssertEqual(f.metadata.count, 33)
        let m = f.metadata
        // string
        XCTAssertEqual(m["general.architecture"], .string("llama"))
        XCTAssertEqual(m["general.name"], .string("Smollm2 135M 8k Lc100K Mix1 Ep2"))
        XCTAssertEqual(m["tokenizer.ggml.pre"], .string("smollm"))
        XCTAssertTrue(m["tokenizer.chat_template"]?.string?.hasPrefix("{% for message in messages %}") ?? false)
        // u32
        XCTAssertEqual(m["llama.block_count"], .uint(30))
        XCTAssertEqual(m["llama.embedding_length"]?.int, 576)
        XCTAssertEqual(m["llama.attention.head_count_kv"]?.int, 3)
        XCTAssertEqual(m["llama.vocab_size"]?.int, 49152)
        XCTAssertEqual(m["general.file_type"], .uint(3))
        // f32, widened exactly
        XCTAssertEqual(m["llama.rope.freq_base"], .float(100000))
        XCTAssertEqual(m["llama.attention.layer_norm_rms_epsilon"], .float(Double(Float(1e-5))))
        // bool
        XCTAssertEqual(m["tokenizer.ggml.add_bos_token"], .bool(false))
        XCTAssertEqual(m["tokenizer.ggml.add_space_prefix"]?.bool, false)
        // arrays of strings and of i32
        XCTAssertEqual(m["general.languages"], .array([.string("en")]))
        let tokens = try XCTUnwrap(m["tokenizer.ggml.tokens"]?.array)
        XCTAssertEqual(tokens.count, 49152)
        XCTAssertEqual(Array(tokens.prefix(4)), [.string("<|endoftext|>"), .string("<|im_start|>"), .string("<|im_end|>"), .string("<repo_name>")])
        let types = try XCTUnwrap(m["tokenizer.ggml.token_type"]?.array)
        XCTAssertEqual(types.count, 49152)
        XCTAssertEqual(types.first, .int(3))
        let merges = try XCTUnwrap(m["tokenizer.ggml.merges"]?.array)
        XCTAssertEqual(merges.count, 48900)
        XCTAssertEqual(merges.first, .string("Ġ t"))
        XCTAssertEqual(m["tokenizer.ggml.bos_token_id"]?.int, 1)
        XCTAssertEqual(m["tokenizer.ggml.eos_token_id"]?.int, 2)
        XCTAssertEqual(m["tokenizer.ggml.unknown_token_id"]?.int, 0)
    }

    // MARK: - tiny-llama3-f32.gguf

    /// Tensor infos as an independent reader (Python struct) lists them: name, ne, data offset.
    static let tinyTensors: [(String, [Int], Int)] = [
        ("rope_freqs.weight", [8], 0), ("token_embd.weight", [64, 512], 32),
        ("blk.0.attn_q.weight", [64, 64], 131104), ("blk.0.attn_k.weight", [64, 32], 147488),
        ("blk.0.attn_v.weight", [64, 32], 155680), ("blk.0.attn_output.weight", [64, 64], 163872),
        ("blk.0.ffn_gate.weight", [64, 160], 180256), ("blk.0.ffn_up.weight", [64, 160], 221216),
        ("blk.0.ffn_down.weight", [160, 64], 262176), ("blk.0.attn_norm.weight", [64], 303136),
        ("blk.0.ffn_norm.weight", [64], 303392), ("blk.1.attn_q.weight", [64, 64], 303648),
        ("blk.1.attn_k.weight", [64, 32], 320032), ("blk.1.attn_v.weight", [64, 32], 328224),
        ("blk.1.attn_output.weight", [64, 64], 336416), ("blk.1.ffn_gate.weight", [64, 160], 352800),
        ("blk.1.ffn_up.weight", [64, 160], 393760), ("blk.1.ffn_down.weight", [160, 64], 434720),
        ("blk.1.attn_norm.weight", [64], 475680), ("blk.1.ffn_norm.weight", [64], 475936),
        ("output_norm.weight", [64], 476192), ("output.weight", [64, 512], 476448),
    ]

    func testTinyLlama3Layout() throws {
        let path = Fixtures.path("tiny-llama3/tiny-llama3-f32.gguf")
        let f = try GGUFFile(path: path)
        XCTAssertEqual(f.version, 3)
        XCTAssertEqual(f.alignment, 32)
        XCTAssertNil(f.metadata["general.alignment"])
        XCTAssertEqual(f.dataOffset, 10176)
        XCTAssertEqual(f.tensors.count, 22)
        for (t, (name, shape, offset)) in zip(f.tensors, Self.tinyTensors) {
            XCTAssertEqual(t.name, name)
            XCTAssertEqual(t.shape, shape, name)
            XCTAssertEqual(t.type, .f32, name)
            XCTAssertEqual(f.file.base.distance(to: t.data), 10176 + offset, name)
            XCTAssertEqual(t.byteCount, 4 * shape.reduce(1, *), name)
        }
        XCTAssertEqual(f.file.size, 10176 + 476448 + 4 * 64 * 512)
    }

    func testTinyLlama3Metadata() throws {
        let f = try GGUFFile(path: Fixtures.path("tiny-llama3/tiny-llama3-f32.gguf"))
        XCTAssertEqual(f.metadataKeys, [
            "general.architecture", "general.name", "llama.block_count", "llama.context_length",
            "llama.embedding_length", "llama.feed_forward_length", "llama.attention.head_count",
            "llama.attention.head_count_kv", "llama.rope.freq_base", "llama.attention.layer_norm_rms_epsilon",
            "general.file_type", "llama.vocab_size", "llama.rope.dimension_count", "tokenizer.ggml.model",
            "tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.token_type",
            "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
        ])
        let m = f.metadata
        let expected: [String: GGUFValue] = [
            "general.architecture": .string("llama"), "general.name": .string("tiny-llama3"),
            "llama.block_count": .uint(2), "llama.context_length": .uint(2048),
            "llama.embedding_length": .uint(64), "llama.feed_forward_length": .uint(160),
            "llama.attention.head_count": .uint(4), "llama.attention.head_count_kv": .uint(2),
            "llama.rope.freq_base": .float(500000), "llama.attention.layer_norm_rms_epsilon": .float(Double(Float(1e-5))),
            "general.file_type": .uint(0), "llama.vocab_size": .uint(512), "llama.rope.dimension_count": .uint(16),
            "tokenizer.ggml.model": .string("gpt2"), "tokenizer.ggml.pre": .string("llama-bpe"),
            "tokenizer.ggml.tokens": .array((0..<512).map { .string("t\($0)") }),
            "tokenizer.ggml.token_type": .array([GGUFValue](repeating: .int(1), count: 512)),
            "tokenizer.ggml.bos_token_id": .uint(1), "tokenizer.ggml.eos_token_id": .uint(2),
        ]
        XCTAssertEqual(m, expected)
        XCTAssertNil(m["tokenizer.ggml.merges"])
    }

    /// The GGUF holds the safetensors weights byte for byte, except attn_q/attn_k whose rows the
    /// converter permuted within each head (GGUF row h·16 + 2i + s = HF row h·16 + 8s + i).
    func testTinyLlama3TensorsMatchSafetensors() throws {
        let g = try GGUFFile(path: Fixtures.path("tiny-llama3/tiny-llama3-f32.gguf"))
        let s = try SafeTensorsFile(path: Fixtures.path("tiny-llama3/model.safetensors"))
        let names = try XCTUnwrap((Fixtures.json("tiny-llama3/goldens.json")["gguf"] as? [String: Any])?["tensor_names"] as? [String: String])
        XCTAssertEqual(names.count, 21)
        for (hf, gg) in names {
            let a = try XCTUnwrap(s.tensor(hf), hf).toFloats(), b = try XCTUnwrap(g.tensor(gg), gg).toFloats()
            XCTAssertEqual(s.tensor(hf)?.shape, g.tensor(gg)?.shape, hf)
            if gg.hasSuffix("attn_q.weight") || gg.hasSuffix("attn_k.weight") {
                let rows = g.tensor(gg)!.rows
                XCTAssertNotEqual(a, b, "\(gg) is permuted")
                for r in 0..<rows {
                    let (h, j) = (r / 16, r % 16), (i, sIdx) = (j / 2, j % 2)
                    let hfRow = h * 16 + 8 * sIdx + i
                    XCTAssertEqual(b[(r * 64)..<(r * 64 + 64)], a[(hfRow * 64)..<(hfRow * 64 + 64)], "\(gg) row \(r)")
                }
            } else {
                XCTAssertEqual(a, b, "\(hf) vs \(gg)")
            }
        }
        let freqs = try XCTUnwrap(g.tensor("rope_freqs.weight")).toFloats()
        XCTAssertEqual(freqs, try Fixtures.npy("tiny-llama3/rope_freqs.npy").values)
        XCTAssertEqual(freqs, [1.0, 2.4422596, 8, 8, 8, 8, 8, 8])
    }

    // MARK: - Files written by GGUFTestWriter

    /// Every GGUF value type, in scalars, arrays and nested arrays.
    static let allValues: [(String, GGUFTestWriter.Value, GGUFValue)] = [
        ("t.u8", .u8(255), .uint(255)), ("t.i8", .i8(-128), .int(-128)),
        ("t.u16", .u16(65535), .uint(65535)), ("t.i16", .i16(-32768), .int(-32768)),
        ("t.u32", .u32(.max), .uint(UInt64(UInt32.max))), ("t.i32", .i32(.min), .int(Int64(Int32.min))),
        ("t.f32", .f32(0.1), .float(Double(Float(0.1)))), ("t.f32.inf", .f32(-.infinity), .float(-.infinity)),
        ("t.bool.true", .bool(true), .bool(true)), ("t.bool.false", .bool(false), .bool(false)),
        ("t.string", .string("héllo ✓ <|im_end|>"), .string("héllo ✓ <|im_end|>")), ("t.empty", .string(""), .string("")),
        ("t.u64", .u64(.max), .uint(.max)), ("t.i64", .i64(.min), .int(.min)),
        ("t.f64", .f64(1e-300), .float(1e-300)),
        ("t.arr.u8", .array(of: 0, [.u8(1), .u8(2)]), .array([.uint(1), .uint(2)])),
        ("t.arr.i16", .array(of: 3, [.i16(-1)]), .array([.int(-1)])),
        ("t.arr.f32", .array(of: 6, [.f32(1.5), .f32(-2)]), .array([.float(1.5), .float(-2)])),
        ("t.arr.bool", .array(of: 7, [.bool(true), .bool(false)]), .array([.bool(true), .bool(false)])),
        ("t.arr.str", .array(of: 8, [.string("a b"), .string("")]), .array([.string("a b"), .string("")])),
        ("t.arr.empty", .array(of: 4, []), .array([])),
        ("t.arr.f64", .array(of: 12, [.f64(.pi)]), .array([.float(.pi)])),
        ("t.arr.nested", .array(of: 9, [.array(of: 5, [.i32(1), .i32(-2)]), .array(of: 8, [.string("x")]),
                                        .array(of: 9, [.array(of: 10, [.u64(7)])])]),
         .array([.array([.int(1), .int(-2)]), .array([.string("x")]), .array([.array([.uint(7)])])])),
    ]

    /// Tensors of several types, with values from the quants fixtures where quantized.
    static func sampleTensors() throws -> [(GGUFTestWriter.Tensor, [Float])] {
        let f32Values = (0..<96).map { Float($0) * 0.25 - 7 }
        let f16Values: [Float] = [0, -0.5, 65504, 1e-7, 3, -1, 0.099975586, 2048]
        func fixture(_ type: GGMLType) throws -> ([UInt8], [Float]) {
            (try QuantBlocksTests.bin(type), try Fixtures.npy("quants/\(type).deq.npy").values)
        }
        let (q8, q8v) = try fixture(.q8_0), (q4k, q4kv) = try fixture(.q4_K), (bf, bfv) = try fixture(.bf16)
        let (q51, q51v) = try fixture(.q5_1), (q6k, q6kv) = try fixture(.q6_K)
        return [
            (.init(name: "a.f32", type: 0, shape: [32, 3], data: GGUFTestWriter.f32(f32Values)), f32Values),
            (.init(name: "b.f16", type: 1, shape: [8], data: GGUFTestWriter.f16(f16Values)), f16Values.map { Float(Float16($0)) }),
            (.init(name: "c.q8_0", type: 8, shape: [64, 4], data: q8), q8v),
            (.init(name: "d.q4_K", type: 12, shape: [512, 2, 2], data: q4k), q4kv),
            (.init(name: "e.bf16", type: 30, shape: [16, 4, 2, 2], data: bf), bfv),
            (.init(name: "f.q5_1", type: 7, shape: [128, 2], data: q51), q51v),
            (.init(name: "g.q6_K", type: 14, shape: [2048], data: q6k), q6kv),
            (.init(name: "h.empty", type: 0, shape: [32, 0], data: []), []),
        ]
    }

    func roundTrip(version: UInt32, alignment: Int?) throws {
        var w = GGUFTestWriter()
        w.version = version
        w.metadata = [("general.architecture", .string("llama"))] + Self.allValues.map { ($0.0, $0.1) }
        if let alignment {
            w.metadata.insert(("general.alignment", .u32(UInt32(alignment))), at: 1)
            w.alignment = alignment
        }
        let tensors = try Self.sampleTensors()
        w.tensors = tensors.map(\.0)
        let (bytes, layout) = w.build()
        let path = try TempDir.file("v\(version).gguf", bytes: bytes)
        let f = try GGUFFile(path: path)
        let where_ = "v\(version), alignment \(alignment.map(String.init) ?? "default")"

        XCTAssertEqual(f.path, path)
        XCTAssertEqual(f.version, version)
        XCTAssertEqual(f.alignment, alignment ?? 32, where_)
        XCTAssertEqual(f.dataOffset, layout.data, where_)
        XCTAssertEqual(f.dataOffset % (alignment ?? 32), 0, where_)
        XCTAssertEqual(f.metadataKeys, w.metadata.map(\.0), where_)
        for (key, _, want) in Self.allValues { XCTAssertEqual(f.metadata[key], want, "\(key), \(where_)") }
        XCTAssertEqual(f.tensors.map(\.name), tensors.map(\.0.name), where_)
        for (t, (info, values)) in zip(f.tensors, tensors) {
            XCTAssertEqual(t.type.rawValue, info.type, t.name)
            XCTAssertEqual(t.shape, info.shape.map { Int($0) }, t.name)
            XCTAssertEqual(t.byteCount, info.data.count, t.name)
            XCTAssertEqual(f.file.base.distance(to: t.data) % (alignment ?? 32), 0, "\(t.name) aligned, \(where_)")
            XCTAssertEqual(t.toFloats(), values, "\(t.name), \(where_)")
        }
        XCTAssertEqual(f.tensor("h.empty")?.elementCount, 0)
    }

    func testWriterRoundTripV3DefaultAlignment() throws { try roundTrip(version: 3, alignment: nil) }
    func testWriterRoundTripV2DefaultAlignment() throws { try roundTrip(version: 2, alignment: nil) }
    func testWriterRoundTripV3Alignment64() throws { try roundTrip(version: 3, alignment: 64) }
    func testWriterRoundTripV2Alignment8() throws { try roundTrip(version: 2, alignment: 8) }
    func testWriterRoundTripAlignment1() throws { try roundTrip(version: 3, alignment: 1) }

    func testNoTensorsNoMetadata() throws {
        let path = try GGUFTestWriter().write()
        let f = try GGUFFile(path: path)
        XCTAssertEqual(f.tensors.count, 0)
        XCTAssertEqual(f.metadataKeys, [])
        XCTAssertEqual(f.dataOffset, 32)
    }

    /// Any integer type is accepted for general.alignment (ggml writes u32, some tools u64).
    func testAlignmentAsU64() throws {
        var w = GGUFTestWriter()
        w.metadata = [("general.alignment", .u64(16))]
        w.alignment = 16
        w.tensors = [.init(name: "x", type: 0, shape: [3], data: GGUFTestWriter.f32([1, 2, 3])),
                     .init(name: "y", type: 0, shape: [1], data: GGUFTestWriter.f32([4]))]
        let f = try GGUFFile(path: w.write())
        XCTAssertEqual(f.alignment, 16)
        XCTAssertEqual(f.tensor("y").map { f.file.base.distance(to: $0.data) - f.dataOffset }, 16)
        XCTAssertEqual(f.tensor("y")?.toFloats(), [4])
    }
}

// MARK: - Bad input

/// Each corrupt file must throw a FormatError with the file's path and this exact message:
/// no crash, no huge allocation (the absurd counts would ask for exabytes if trusted).
final class GGUFBadInputTests: XCTestCase {
    func expectError(_ path: String, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try GGUFFile(path: path), file: file, line: line) { error in
            XCTAssertEqual(error as? FormatError, FormatError(path, message), "\(error)", file: file, line: line)
        }
    }

    /// Writes `bytes` and expects `message` when reading them.
    func expectError(bytes: [UInt8], _ message: String, file: StaticString = #filePath, line: UInt = #line) throws {
        expectError(try TempDir.file("bad.gguf", bytes: bytes), message, file: file, line: line)
    }

    /// A valid small file: two metadata entries and two F32 tensors.
    static func valid() -> GGUFTestWriter {
        var w = GGUFTestWriter()
        w.metadata = [("general.architecture", .string("llama")), ("llama.block_count", .u32(2))]
        w.tensors = [.init(name: "a", type: 0, shape: [4, 2], data: GGUFTestWriter.f32([1, 2, 3, 4, 5, 6, 7, 8])),
                     .init(name: "b", type: 0, shape: [8], data: GGUFTestWriter.f32([Float](repeating: 1, count: 8)))]
        return w
    }

    func testValidBaseFileReads() throws {
        let f = try GGUFFile(path: Self.valid().write())
        XCTAssertEqual(f.tensors.map(\.name), ["a", "b"])
        XCTAssertEqual(f.tensor("b")?.toFloats(), [Float](repeating: 1, count: 8))
    }

    func testMissingFile() throws {
        expectError(try TempDir.make() + "/nope.gguf", "no such file")
    }

    func testParsesBytesInMemory() throws {
        let bytes = Self.valid().build().bytes
        let f = try bytes.withUnsafeBytes { try GGUFFile(bytes: $0, name: "memory.gguf") }
        XCTAssertEqual(f.path, "memory.gguf")
        XCTAssertEqual(f.tensors.map(\.name), ["a", "b"])
        XCTAssertEqual(f.tensor("a")?.toFloats(), [1, 2, 3, 4, 5, 6, 7, 8])
        XCTAssertThrowsError(try bytes.prefix(30).withUnsafeBytes { try GGUFFile(bytes: $0, name: "cut.gguf") }) { e in
            XCTAssertEqual((e as? FormatError)?.file, "cut.gguf")
        }
        XCTAssertThrowsError(try [UInt8]().withUnsafeBytes { try GGUFFile(bytes: $0, name: "empty.gguf") }) { e in
            XCTAssertEqual(e as? FormatError, FormatError("empty.gguf", "not a GGUF file (only 0 bytes)"))
        }
    }

    func testDirectory() throws {
        expectError(try TempDir.make(), "not a regular file")
    }

    func testEmptyFile() throws {
        try expectError(bytes: [], "not a GGUF file (only 0 bytes)")
    }

    func testShortFile() throws {
        try expectError(bytes: Array("GGU".utf8), "not a GGUF file (only 3 bytes)")
    }

    func testBadMagic() throws {
        // A safetensors file's first bytes.
        try expectError(bytes: [0x90, 0x08, 0, 0, 0, 0, 0, 0] + Array(#"{"a":1}"#.utf8), "not a GGUF file (bad magic)")
    }

    func testTruncatedInHeader() throws {
        let bytes = Self.valid().build().bytes
        try expectError(bytes: Array(bytes[0..<12]), "truncated in the header: needs 8 bytes at offset 8 but the file has 12")
        try expectError(bytes: Array(bytes[0..<6]), "truncated in the header: needs 4 bytes at offset 4 but the file has 6")
    }

    func testTruncatedInMetadata() throws {
        // Without tensors, so the header's tensor count cannot be what gives the cut away.
        var w = Self.valid()
        w.tensors = []
        let (bytes, layout) = w.build()
        // The u32 value of llama.block_count ends the metadata; keep 2 of its 4 bytes.
        let cut = layout.tensorInfos - 2
        try expectError(bytes: Array(bytes[0..<cut]), "truncated in the metadata: needs 4 bytes at offset \(cut - 2) but the file has \(cut)")
        // Cut inside a string: its length says 5 ("llama") but the file ends after 3 of them.
        let stringStart = layout.metadata + 8 + "general.architecture".utf8.count + 4
        try expectError(bytes: Array(bytes[0..<(stringStart + 8 + 3)]),
                        "truncated or corrupt metadata: a string of 5 bytes at offset \(stringStart) runs past the end of the file")
    }

    func testTruncatedInTensorInfos() throws {
        let (bytes, layout) = Self.valid().build()
        // Inside the second tensor info's dimensions: name "b" (8+1), n_dims (4), then ne[0].
        let secondInfo = layout.tensorInfos + (8 + 1) + 4 + 2 * 8 + 4 + 8
        let cut = secondInfo + 9 + 4 + 3
        try expectError(bytes: Array(bytes[0..<cut]),
                        "truncated in the tensor infos: needs 8 bytes at offset \(secondInfo + 13) but the file has \(cut)")
    }

    func testTruncatedInData() throws {
        let (bytes, layout) = Self.valid().build()
        // Tensor "b" (32 bytes) starts at data offset 32; cut 4 bytes before its end.
        let cut = layout.data + 32 + 28
        XCTAssertEqual(bytes.count, layout.data + 64)
        try expectError(bytes: Array(bytes[0..<cut]),
                        "tensor 'b' (32 bytes at data offset 32) lies beyond the end of the file (\(cut) bytes, data from \(layout.data)): truncated or corrupt")
        // Cut before the data even starts (inside the padding).
        try expectError(bytes: Array(bytes[0..<(layout.padding + 1)]),
                        "tensor 'a' (32 bytes at data offset 0) lies beyond the end of the file (\(layout.padding + 1) bytes, data from \(layout.data)): truncated or corrupt")
    }

    func testTensorOffsetBeyondFile() throws {
        var w = Self.valid()
        w.tensors[1].offset = 1 << 20
        let (bytes, layout) = w.build()
        try expectError(bytes: bytes,
                        "tensor 'b' (32 bytes at data offset 1048576) lies beyond the end of the file (\(bytes.count) bytes, data from \(layout.data)): truncated or corrupt")
    }

    /// An offset near 2^64 must not wrap around into the file.
    func testTensorOffsetNear2To64() throws {
        var w = Self.valid()
        w.tensors[1].offset = UInt64.max - 31
        let (bytes, layout) = w.build()
        try expectError(bytes: bytes,
                        "tensor 'b' (32 bytes at data offset 18446744073709551584) lies beyond the end of the file (\(bytes.count) bytes, data from \(layout.data)): truncated or corrupt")
    }

    func testTensorSizeBeyondFile() throws {
        var w = Self.valid()
        w.tensors[0].shape = [4, 1000]   // claims 16000 bytes; 32 are there
        let (bytes, layout) = w.build()
        try expectError(bytes: bytes,
                        "tensor 'a' (16000 bytes at data offset 0) lies beyond the end of the file (\(bytes.count) bytes, data from \(layout.data)): truncated or corrupt")
    }

    func testMisalignedTensorOffset() throws {
        var w = Self.valid()
        w.tensors[1].offset = 36
        try expectError(bytes: w.build().bytes, "tensor 'b' has data offset 36, not a multiple of the alignment 32")
    }

    func testAbsurdTensorCount() throws {
        var w = Self.valid()
        w.nTensorsOverride = 1 << 60
        try expectError(bytes: w.build().bytes, "corrupt header: 1152921504606846976 tensors cannot fit in the file")
    }

    func testAbsurdMetadataCount() throws {
        var w = Self.valid()
        w.nKVOverride = 1 << 60
        try expectError(bytes: w.build().bytes, "corrupt header: 1152921504606846976 metadata entries cannot fit in the file")
    }

    func testMetadataCountLargerThanWritten() throws {
        var w = Self.valid()
        w.tensors = []
        w.nKVOverride = 3
        let (bytes, layout) = w.build()
        // The file ends where the third key's length would be.
        let end = layout.tensorInfos
        try expectError(bytes: Array(bytes[0..<end]), "truncated in the metadata: needs 8 bytes at offset \(end) but the file has \(end)")
    }

    func testAbsurdArrayCount() throws {
        var w = Self.valid()
        w.metadata.append(("tokenizer.ggml.tokens", .lyingArray(of: 8, claimed: 1 << 62)))
        try expectError(bytes: w.build().bytes, "corrupt metadata: an array of 4611686018427387904 elements cannot fit in the file")
    }

    func testArrayOfUnknownElementType() throws {
        var w = Self.valid()
        w.metadata.append(("x", .lyingArray(of: 13, claimed: 1)))
        try expectError(bytes: w.build().bytes, "corrupt metadata: unknown array element type 13")
    }

    func testAbsurdStringLength() throws {
        var w = Self.valid()
        w.metadata.append(("general.name", .lyingString(claimed: 1 << 63)))
        let (bytes, layout) = w.build()
        let at = layout.tensorInfos - 8
        // The lying string is the last metadata value: its length field ends the metadata.
        try expectError(bytes: bytes, "truncated or corrupt metadata: a string of 9223372036854775808 bytes at offset \(at) runs past the end of the file")
    }

    func testAbsurdKeyLength() throws {
        var bytes = Self.valid().build().bytes
        // The first key's u64 length is at offset 24.
        bytes.replaceSubrange(24..<32, with: withUnsafeBytes(of: (UInt64(1) << 63).littleEndian, Array.init))
        try expectError(bytes: bytes, "truncated or corrupt metadata: a string of 9223372036854775808 bytes at offset 24 runs past the end of the file")
    }

    func testUnknownValueType() throws {
        var w = Self.valid()
        w.metadata.append(("x", .rawType(13)))
        let layout = w.build().layout
        try expectError(bytes: w.build().bytes, "corrupt metadata: unknown value type 13 at offset \(layout.tensorInfos - 4)")
    }

    func testArraysNestedTooDeeply() throws {
        var v: GGUFTestWriter.Value = .array(of: 4, [.u32(1)])
        for _ in 0..<8 { v = .array(of: 9, [v]) }
        var w = Self.valid()
        w.metadata.append(("deep", v))
        try expectError(bytes: w.build().bytes, "corrupt metadata: arrays nested too deeply")
        // One level less is accepted.
        var ok: GGUFTestWriter.Value = .array(of: 4, [.u32(1)])
        for _ in 0..<7 { ok = .array(of: 9, [ok]) }
        w.metadata[w.metadata.count - 1] = ("deep", ok)
        XCTAssertNoThrow(try GGUFFile(path: TempDir.file("ok.gguf", bytes: w.build().bytes)))
    }

    func testUnsupportedVersion() throws {
        for version: UInt32 in [1, 4, 0] {
            var w = Self.valid()
            w.version = version
            try expectError(bytes: w.build().bytes, "unsupported GGUF version \(version) (2 and 3 are supported)")
        }
    }

    func testBigEndianFile() throws {
        var w = Self.valid()
        w.version = UInt32(3).byteSwapped
        try expectError(bytes: w.build().bytes, "big-endian GGUF files are not supported")
    }

    func testUnsupportedTensorType() throws {
        var w = Self.valid()
        w.tensors[1] = .init(name: "b", type: 16, shape: [256], data: [UInt8](repeating: 0, count: 66))
        try expectError(bytes: w.build().bytes,
                        "tensor 'b' has type IQ2_XXS which is not supported (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K)")
        w.tensors[1].type = 9
        try expectError(bytes: w.build().bytes,
                        "tensor 'b' has type Q8_1 which is not supported (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K)")
    }

    func testUnknownTensorType() throws {
        var w = Self.valid()
        w.tensors[1].type = 99
        try expectError(bytes: w.build().bytes, "tensor 'b' has unknown ggml type 99")
        w.tensors[1].type = 4   // Q4_2, removed from ggml
        try expectError(bytes: w.build().bytes, "tensor 'b' has unknown ggml type 4")
    }

    func testTooManyDimensions() throws {
        var w = Self.valid()
        w.tensors[1].shape = [2, 1, 2, 1, 2]
        try expectError(bytes: w.build().bytes, "tensor 'b' has 5 dimensions (1 to 4 allowed)")
        w.tensors[1].shape = []
        try expectError(bytes: w.build().bytes, "tensor 'b' has 0 dimensions (1 to 4 allowed)")
    }

    func testAbsurdDimension() throws {
        var w = Self.valid()
        w.tensors[1].shape = [8, 1 << 41]
        try expectError(bytes: w.build().bytes, "tensor 'b' has an absurd dimension 2199023255552")
        // Each dimension plausible, the product not.
        w.tensors[1].shape = [1 << 30, 1 << 30, 1 << 30]
        try expectError(bytes: w.build().bytes, "tensor 'b' has too many elements")
    }

    func testRowLengthNotMultipleOfBlockSize() throws {
        var w = Self.valid()
        w.tensors[1] = .init(name: "b", type: 2, shape: [48, 1], data: [UInt8](repeating: 0, count: 27))
        try expectError(bytes: w.build().bytes, "tensor 'b': row length 48 is not a multiple of the Q4_0 block size 32")
        w.tensors[1] = .init(name: "b", type: 14, shape: [128, 2], data: [UInt8](repeating: 0, count: 210))
        try expectError(bytes: w.build().bytes, "tensor 'b': row length 128 is not a multiple of the Q6_K block size 256")
    }

    func testNonPowerOfTwoAlignment() throws {
        for a: UInt32 in [24, 0, 3] {
            var w = Self.valid()
            w.metadata.append(("general.alignment", .u32(a)))
            try expectError(bytes: w.build().bytes, "general.alignment \(a) is not a power of two")
        }
        var w = Self.valid()
        w.metadata.append(("general.alignment", .i32(-32)))
        try expectError(bytes: w.build().bytes, "general.alignment -32 is not a power of two")
        w.metadata[w.metadata.count - 1] = ("general.alignment", .u64(1 << 40))
        try expectError(bytes: w.build().bytes, "general.alignment 1099511627776 is implausibly large")
    }

    func testAlignmentNotAnInteger() throws {
        var w = Self.valid()
        w.metadata.append(("general.alignment", .string("32")))
        try expectError(bytes: w.build().bytes, "general.alignment is not an integer")
    }

    func testDuplicateKey() throws {
        var w = Self.valid()
        w.metadata.append(("llama.block_count", .u32(3)))
        try expectError(bytes: w.build().bytes, "corrupt metadata: duplicate key 'llama.block_count'")
    }

    func testDuplicateTensorName() throws {
        var w = Self.valid()
        w.tensors[1].name = "a"
        try expectError(bytes: w.build().bytes, "corrupt tensor infos: duplicate tensor name 'a'")
    }

    /// Every prefix of a valid file is refused with a FormatError (never a crash).
    func testEveryTruncationThrows() throws {
        var w = Self.valid()
        w.metadata.append(("arr", .array(of: 9, [.array(of: 8, [.string("x"), .string("yz")])])))
        let bytes = w.build().bytes
        let dir = try TempDir.make()
        for n in 0..<bytes.count {
            let path = dir + "/cut\(n).gguf"
            try Data(bytes[0..<n]).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try GGUFFile(path: path), "cut at \(n)") { error in
                XCTAssertEqual((error as? FormatError)?.file, path, "cut at \(n): \(error)")
            }
        }
        XCTAssertNoThrow(try GGUFFile(path: TempDir.file("whole.gguf", bytes: bytes)))
    }
}
