// The forward pass against PyTorch: SmolLM2 Q4_1 (top-5 at every position, last logits,
// per-layer residuals, greedy 24) and the tiny Llama-3 model from safetensors (f32, bf16)
// and from GGUF (permuted Q/K, rope_freqs), which exercises llama3 RoPE scaling.
import XCTest
@testable import LlamaKit

final class LlamaForwardTests: XCTestCase {
    // MARK: - SmolLM2 (real model)

    func testSmolLM2ForwardGoldens() throws {
        let loaded = try Fixtures.smolLM2()
        let model = loaded.model
        let golden = try Fixtures.json("smollm2/forward_golden.json")
        let prompts = golden["prompts"] as! [[String: Any]]
        for (k, p) in prompts.enumerated() {
            let ids = p["ids"] as! [Int]
            let cache = KVCache(config: model.config)
            var residuals: [[Float]] = []
            let logits = try model.forward(model.embed(ids), cache: cache, logitRows: Array(0..<ids.count)) { name, _, rows in
                if name == "residual" { residuals.append(Array(rows[(rows.count - model.config.dim)...])) }
            }
            let vocab = model.config.vocabSize
            let top5 = p["top5_ids_per_position"] as! [[Int]]
            for pos in 0..<ids.count {
                let row = logits[(pos * vocab)..<((pos + 1) * vocab)]
                XCTAssertEqual(topK(row, 5), top5[pos], "prompt \(k) position \(pos): top-5 ids")
            }
            let last = Array(logits[((ids.count - 1) * vocab)...])
            let ref = try Fixtures.npy("smollm2/prompt\(k)_last_logits.npy").values
            XCTAssertLessThan(maxAbsDiff(last, ref), 1e-3, "prompt \(k): last-position logits")
            let refRes = try Fixtures.npy("smollm2/prompt\(k)_last_residual_per_layer.npy").values
            for l in 0..<model.config.layers {
                let r = Array(refRes[((l + 1) * 576)..<((l + 2) * 576)])
                let scale = r.map(abs).max()!
                XCTAssertLessThan(maxAbsDiff(residuals[l], r) / scale, 1e-3, "prompt \(k): residual after layer \(l)")
            }
        }
    }

    func testSmolLM2GreedyContinuations() throws {
        let model = try Fixtures.smolLM2().model
        let golden = try Fixtures.json("smollm2/forward_golden.json")
        for (k, p) in (golden["prompts"] as! [[String: Any]]).enumerated() {
            let ids = p["ids"] as! [Int]
            let expected = (p["greedy24"] as! [String: Any])["new_ids"] as! [Int]
            // Decoding does not stop at <|im_end|> in the golden: no stop tokens here.
            let gen = try model.generate(tokens: ids, maxTokens: 24, stopTokens: [], sampling: .greedy)
            XCTAssertEqual(gen.ids, expected, "prompt \(k) greedy continuation")
        }
    }

    // MARK: - tiny Llama 3 (llama3 RoPE scaling; three file layouts)

    func tinyInputs() throws -> [String: [Int]] {
        let g = try Fixtures.json("tiny-llama3/goldens.json")
        let seqs = g["sequences"] as! [String: [String: Any]]
        return seqs.mapValues { $0["input_ids"] as! [Int] }
    }

    func checkTiny(_ path: String, logitsSuffix: String, tolerance: Float, checkGreedy: Bool = true) throws {
        let model = try ModelLoader.load(path: path).model
        let g = try Fixtures.json("tiny-llama3/goldens.json")
        let seqs = g["sequences"] as! [String: [String: Any]]
        for name in ["a", "b", "c"] {
            let ids = seqs[name]!["input_ids"] as! [Int]
            let file = "tiny-llama3/logits_\(name)\(logitsSuffix).npy"
            if FileManager.default.fileExists(atPath: Fixtures.path(file)) {
                let ref = try Fixtures.npy(file).values
                let logits = try model.forward(model.embed(ids), cache: KVCache(config: model.config), logitRows: Array(0..<ids.count))
                XCTAssertLessThan(maxAbsDiff(logits, ref), tolerance, "\(path) sequence \(name) logits")
            }
            if checkGreedy {
                let expected = seqs[name]!["greedy_16"] as! [Int]
                let gen = try model.generate(tokens: ids, maxTokens: 16, stopTokens: [], sampling: .greedy)
                XCTAssertEqual(gen.ids, expected, "\(path) sequence \(name) greedy")
            }
        }
    }

    func testTinyLlama3FromSafetensors() throws {
        try checkTiny(Fixtures.path("tiny-llama3"), logitsSuffix: "", tolerance: 1e-4)
    }

    func testTinyLlama3FromGGUF() throws {
        try checkTiny(Fixtures.path("tiny-llama3/tiny-llama3-f32.gguf"), logitsSuffix: "", tolerance: 1e-4)
    }

    func testTinyLlama3BF16Weights() throws {
        try checkTiny(Fixtures.path("tiny-llama3/model-bf16"), logitsSuffix: "_bf16w", tolerance: 1e-4)
    }

    func testTinyLlama3LayerOutputs() throws {
        let model = try ModelLoader.load(path: Fixtures.path("tiny-llama3")).model
        let ids = try tinyInputs()["a"]!
        let ref = try Fixtures.npy("tiny-llama3/layer_outputs_a.npy").values   // [4, 7, 64]
        var got: [[Float]] = []
        _ = try model.forward(model.embed(ids), cache: KVCache(config: model.config), logitRows: [ids.count - 1]) { name, _, rows in
            if name == "residual" { got.append(Array(rows)) }
        }
        XCTAssertLessThan(maxAbsDiff(model.embed(ids), Array(ref[0..<448])), 1e-6, "embeddings")
        XCTAssertLessThan(maxAbsDiff(got[0], Array(ref[448..<896])), 1e-4, "after layer 0")
        XCTAssertLessThan(maxAbsDiff(got[1], Array(ref[896..<1344])), 1e-4, "after layer 1")
    }

    func testLlama3RoPEFrequencies() throws {
        let st = try ModelLoader.load(path: Fixtures.path("tiny-llama3")).model
        let gg = try ModelLoader.load(path: Fixtures.path("tiny-llama3/tiny-llama3-f32.gguf")).model
        let ref = try Fixtures.npy("tiny-llama3/inv_freq.npy").values
        let a = st.config.ropeInverseFrequencies().map(Float.init)
        let b = gg.config.ropeInverseFrequencies(divisors: gg.weights.ropeFreqDivisors).map(Float.init)
        for i in 0..<ref.count {
            XCTAssertEqual(a[i], ref[i], accuracy: ref[i] * 1e-5, "safetensors inv_freq[\(i)]")
            XCTAssertEqual(b[i], ref[i], accuracy: ref[i] * 1e-5, "GGUF inv_freq[\(i)]")
        }
    }

    func testKVCacheMatchesFullRecompute() throws {
        let model = try ModelLoader.load(path: Fixtures.path("tiny-llama3")).model
        let ids = try tinyInputs()["b"]!
        let full = try model.forward(model.embed(ids), cache: KVCache(config: model.config), logitRows: [ids.count - 1])
        let cache = KVCache(config: model.config, capacity: 4)   // forces growth
        _ = try model.forward(model.embed(Array(ids[0..<10])), cache: cache, logitRows: [])
        var last: [Float] = []
        for t in ids[10...] { last = try model.forward(model.embed([t]), cache: cache, logitRows: [0]) }
        XCTAssertLessThan(maxAbsDiff(full, last), 1e-4)
    }
}
