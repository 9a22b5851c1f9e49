// ModelLoader on both layouts of the tiny Llama 3 (GGUF and Hugging Face folder): the same
// hyper-parameters, the same RoPE frequencies (llama3 scaling from config.json vs the GGUF's
// rope_freqs tensor), the same weights; and clear errors naming the tensor when shapes are wrong.
import Foundation
import XCTest
@testable import LlamaKit

final class ModelLoaderTests: XCTestCase {
    static let ggufPath = Fixtures.path("tiny-llama3/tiny-llama3-f32.gguf")
    static let folderPath = Fixtures.path("tiny-llama3")

    func expectError<T>(_ body: @autoclosure () throws -> T, _ file: String, _ message: String,
                        filePath: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: filePath, line: line) { error in
            XCTAssertEqual(error as? FormatError, FormatError(file, message), "\(error)", file: filePath, line: line)
        }
    }

    func testGGUFAndFolderGiveEqualConfigs() throws {
        let g = try ModelLoader.load(path: Self.ggufPath), h = try ModelLoader.load(path: Self.folderPath)
        XCTAssertEqual(g.format, "gguf")
        XCTAssertEqual(h.format, "safetensors")
        XCTAssertNotNil(g.gguf)
        for c in [g.model.config, h.model.config] {
            XCTAssertEqual(c.dim, 64)
            XCTAssertEqual(c.hiddenDim, 160)
            XCTAssertEqual(c.layers, 2)
            XCTAssertEqual(c.heads, 4)
            XCTAssertEqual(c.kvHeads, 2)
            XCTAssertEqual(c.headDim, 16)
            XCTAssertEqual(c.vocabSize, 512)
            XCTAssertEqual(c.contextLength, 2048)
            XCTAssertEqual(c.normEps, 1e-5)
            XCTAssertEqual(c.ropeTheta, 500000)
            XCTAssertFalse(c.tiedEmbeddings)
            XCTAssertEqual(c.bosID, 1)
            XCTAssertEqual(c.eosIDs, [2])
        }
        // llama3 scaling travels differently: as config keys in the folder, as the rope_freqs
        // tensor in the GGUF. Everything else is equal.
        XCTAssertEqual(h.model.config.ropeScaling,
                       LlamaConfig.RoPEScaling(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 64))
        XCTAssertNil(g.model.config.ropeScaling)
        var same = g.model.config
        same.ropeScaling = h.model.config.ropeScaling
        XCTAssertEqual(same, h.model.config)
        XCTAssertEqual(g.model.weights.ropePairing, .adjacent)
        XCTAssertEqual(h.model.weights.ropePairing, .halves)
        XCTAssertNil(h.model.weights.ropeFreqDivisors)
    }

    /// Both routes give transformers' llama3-scaled inverse frequencies (inv_freq.npy).
    func testRoPEFrequenciesAgree() throws {
        let g = try ModelLoader.load(path: Self.ggufPath), h = try ModelLoader.load(path: Self.folderPath)
        let want = try Fixtures.npy("tiny-llama3/inv_freq.npy").values
        let divisors = try XCTUnwrap(g.model.weights.ropeFreqDivisors)
        XCTAssertEqual(divisors, try Fixtures.npy("tiny-llama3/rope_freqs.npy").values)
        let fromGGUF = g.model.config.ropeInverseFrequencies(divisors: divisors)
        let fromConfig = h.model.config.ropeInverseFrequencies()
        XCTAssertEqual(fromGGUF.count, 8)
        XCTAssertEqual(fromConfig.count, 8)
        for i in 0..<8 {
            XCTAssertEqual(fromConfig[i], Double(want[i]), accuracy: 1e-6 * Double(want[i]), "config pair \(i)")
            XCTAssertEqual(fromGGUF[i], Double(want[i]), accuracy: 1e-6 * Double(want[i]), "GGUF pair \(i)")
        }
        // And the scaling matters: without it pair 2 would be 8× faster.
        XCTAssertEqual(LlamaConfig(copying: h.model.config, ropeScaling: nil).ropeInverseFrequencies()[2] / fromConfig[2], 8, accuracy: 1e-9)
    }

    func testGGUFAndFolderGiveEqualWeights() throws {
        let g = try ModelLoader.load(path: Self.ggufPath).model.weights, h = try ModelLoader.load(path: Self.folderPath).model.weights
        XCTAssertEqual(g.tokenEmbedding.toFloats(), h.tokenEmbedding.toFloats())
        XCTAssertEqual(g.output.toFloats(), h.output.toFloats())
        XCTAssertEqual(g.outputNorm, h.outputNorm)
        for (a, b) in zip(g.layers, h.layers) {
            XCTAssertEqual(a.attnNorm, b.attnNorm)
            XCTAssertEqual(a.ffnNorm, b.ffnNorm)
            for (x, y) in [(a.wv, b.wv), (a.wo, b.wo), (a.gate, b.gate), (a.up, b.up), (a.down, b.down)] {
                XCTAssertEqual(x.shape, y.shape, x.name)
                XCTAssertEqual(x.toFloats(), y.toFloats(), x.name)
            }
            // Q and K hold the same rows in a different order (the converter's RoPE permutation).
            XCTAssertEqual(a.wq.toFloats().sorted(), b.wq.toFloats().sorted())
            XCTAssertEqual(a.wk.toFloats().sorted(), b.wk.toFloats().sorted())
        }
    }

    func testBF16FolderHasTheSameConfig() throws {
        let b = try ModelLoader.load(path: Fixtures.path("tiny-llama3/model-bf16"))
        XCTAssertEqual(b.model.config, try ModelLoader.load(path: Self.folderPath).model.config)
        XCTAssertEqual(b.model.weights.layers[0].wq.type, .bf16)
    }

    func testMissingPath() throws {
        let path = try TempDir.make() + "/missing.gguf"
        expectError(try ModelLoader.load(path: path), path, "no such file or folder")
    }

    func testNotAGGUFFile() throws {
        let path = Fixtures.path("tiny-llama3/model.safetensors")
        expectError(try ModelLoader.load(path: path), path, "not a GGUF file (bad magic)")
    }

    // MARK: - GGUF files rewritten with one thing wrong

    /// The tiny Llama 3 GGUF rebuilt by GGUFTestWriter, after `edit` changed its tensors.
    static func tinyGGUF(metadata: [(String, GGUFTestWriter.Value)]? = nil,
                         edit: (inout [GGUFTestWriter.Tensor]) -> Void = { _ in }) throws -> String {
        let src = try GGUFFile(path: ggufPath)
        var w = GGUFTestWriter()
        w.metadata = metadata ?? [
            ("general.architecture", .string("llama")), ("llama.block_count", .u32(2)),
            ("llama.context_length", .u32(2048)), ("llama.embedding_length", .u32(64)),
            ("llama.feed_forward_length", .u32(160)), ("llama.attention.head_count", .u32(4)),
            ("llama.attention.head_count_kv", .u32(2)), ("llama.rope.freq_base", .f32(500000)),
            ("llama.attention.layer_norm_rms_epsilon", .f32(1e-5)), ("llama.vocab_size", .u32(512)),
            ("tokenizer.ggml.bos_token_id", .u32(1)), ("tokenizer.ggml.eos_token_id", .u32(2)),
        ]
        w.tensors = src.tensors.map { t in
            .init(name: t.name, type: t.type.rawValue, shape: t.shape.map(UInt64.init),
                  data: Array(UnsafeRawBufferPointer(start: t.data, count: t.byteCount)))
        }
        edit(&w.tensors)
        return try w.write(name: "tiny.gguf")
    }

    func testRewrittenGGUFLoadsLikeTheOriginal() throws {
        let m = try ModelLoader.load(path: Self.tinyGGUF())
        let o = try ModelLoader.load(path: Self.ggufPath)
        XCTAssertEqual(m.model.config, o.model.config)
        XCTAssertEqual(m.model.weights.layers[1].wq.toFloats(), o.model.weights.layers[1].wq.toFloats())
        XCTAssertNotNil(m.tokenizerProblem, "this copy has no tokenizer")
    }

    func testWrongAttnQShapeNamesTheTensor() throws {
        let path = try Self.tinyGGUF { tensors in
            let i = tensors.firstIndex { $0.name == "blk.0.attn_q.weight" }!
            tensors[i].shape = [64, 32]
            tensors[i].data = Array(tensors[i].data.prefix(64 * 32 * 4))
        }
        expectError(try ModelLoader.load(path: path), path, "tensor blk.0.attn_q.weight has shape 32×64, expected 64×64")
    }

    func testTransposedFFNNamesTheTensor() throws {
        let path = try Self.tinyGGUF { tensors in
            let i = tensors.firstIndex { $0.name == "blk.1.ffn_down.weight" }!
            tensors[i].shape = [64, 160]
        }
        expectError(try ModelLoader.load(path: path), path, "tensor blk.1.ffn_down.weight has shape 160×64, expected 64×160")
    }

    func testMissingTensor() throws {
        let path = try Self.tinyGGUF { $0.removeAll { $0.name == "blk.1.attn_v.weight" } }
        expectError(try ModelLoader.load(path: path), path, "missing tensor blk.1.attn_v.weight")
    }

    func testMissingOutputMeansTiedEmbeddings() throws {
        let path = try Self.tinyGGUF { $0.removeAll { $0.name == "output.weight" } }
        let m = try ModelLoader.load(path: path)
        XCTAssertTrue(m.model.config.tiedEmbeddings)
        XCTAssertEqual(m.model.weights.output.name, "token_embd.weight")
    }

    func testWrongRopeFreqsLength() throws {
        let path = try Self.tinyGGUF { tensors in
            tensors[0].shape = [4]
            tensors[0].data = Array(tensors[0].data.prefix(16))
        }
        expectError(try ModelLoader.load(path: path), path, "tensor rope_freqs.weight has shape 1×4, expected 1×8")
    }

    func testUnsupportedArchitecture() throws {
        let path = try Self.tinyGGUF(metadata: [("general.architecture", .string("gpt2"))])
        expectError(try ModelLoader.load(path: path), path, "architecture 'gpt2' is not supported (Llama-family models only)")
    }

    func testNoArchitectureAndNoLlamaKeys() throws {
        let path = try Self.tinyGGUF(metadata: [("general.name", .string("not a model"))])
        expectError(try ModelLoader.load(path: path), path,
                    "no general.architecture metadata and no llama.embedding_length: not a Llama-family model file")
    }

    func testMissingMetadataKey() throws {
        let path = try Self.tinyGGUF(metadata: [("general.architecture", .string("llama")), ("llama.embedding_length", .u32(64))])
        expectError(try ModelLoader.load(path: path), path, "missing or invalid metadata key llama.feed_forward_length")
    }

    func testZeroKVHeads() throws {
        let path = try Self.tinyGGUF(metadata: [
            ("llama.block_count", .u32(2)), ("llama.embedding_length", .u32(64)), ("llama.feed_forward_length", .u32(160)),
            ("llama.attention.head_count", .u32(4)), ("llama.attention.head_count_kv", .u32(0)),
        ])
        expectError(try ModelLoader.load(path: path), path, "implausible model shape (KV heads 0, head_dim 16, vocab 512)")
    }

    // MARK: - Folder with a wrong shape

    func testFolderWithWrongQProjShapeNamesTheTensor() throws {
        let src = try SafeTensorsFile(path: Fixtures.path("tiny-llama3/model.safetensors"))
        let dir = try TempDir.make()
        try FileManager.default.copyItem(atPath: Fixtures.path("tiny-llama3/config.json"), toPath: dir + "/config.json")
        let entries = src.tensors.map { t -> SafeTensorsWriter.Entry in
            let values = t.toFloats()
            if t.name == "model.layers.0.self_attn.q_proj.weight" {
                return .init(name: t.name, shape: [32, 64], values: Array(values.prefix(32 * 64)))
            }
            return .init(name: t.name, shape: t.shape.reversed(), values: values)
        }
        try SafeTensorsWriter.write(entries, to: dir + "/model.safetensors")
        expectError(try ModelLoader.load(path: dir), dir, "tensor model.layers.0.self_attn.q_proj.weight has shape 32×64, expected 64×64")
    }
}

extension LlamaConfig {
    /// This config with a different RoPE scaling (for comparing with and without it).
    init(copying c: LlamaConfig, ropeScaling: RoPEScaling?) {
        self = c
        self.ropeScaling = ropeScaling
    }
}

final class GenerationConfigTests: XCTestCase {
    /// generation_config.json's end-of-sequence ids join config.json's (Llama 3.1 lists three).
    func testGenerationConfigAddsStopIDs() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gencfg-\(getpid())").path
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for f in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(atPath: Fixtures.path("tiny-llama3/\(f)"), toPath: dir + "/" + f)
        }
        XCTAssertEqual(try ModelLoader.load(path: dir).model.config.eosIDs, [2])
        try Data(#"{"bos_token_id": 1, "eos_token_id": [2, 7, 9]}"#.utf8).write(to: URL(fileURLWithPath: dir + "/generation_config.json"))
        XCTAssertEqual(try ModelLoader.load(path: dir).model.config.eosIDs, [2, 7, 9])
    }
}
