// The multimodal recipe against PyTorch on SmolLM2: prompt ids around the image, loss,
// dL/dW and dL/db (single image and a batch of two), the greedy reply of the untrained
// projector, and one AdamW step fed with the golden gradients.
import XCTest
@testable import Llava
import LlamaKit

final class TrainerTests: XCTestCase {
    func makeTrainer(_ images: [DigitImage], batch: Int) throws -> Trainer {
        let loaded = try LlavaFixtures.smolLM2()
        let tok = try loaded.requireTokenizer()
        let prompt = MultimodalPrompt(format: .chatml, tokenizer: tok)
        var options = TrainingOptions()
        options.batch = batch
        return try Trainer(model: loaded.model, prompt: prompt, projector: LlavaFixtures.goldenInitProjector(width: 576),
                           data: MNISTSet(images: images, source: "test"), order: Array(images.indices), options: options)
    }

    func testPromptIDsMatchGolden() throws {
        let tok = try LlavaFixtures.smolLM2().requireTokenizer()
        let g = try LlavaFixtures.json("multimodal/multimodal_golden.json")
        let prompt = MultimodalPrompt(format: .chatml, tokenizer: tok)
        XCTAssertEqual(prompt.prefixIDs, g["prefix_ids"] as! [Int])
        XCTAssertEqual(prompt.suffixIDs, g["suffix_ids"] as! [Int])
        XCTAssertEqual(prompt.imagePosition, g["image_position"] as! Int)
        XCTAssertEqual(prompt.answerIDs(label: 7), [504, 11403, 314, 216, 39, 30, 2])
    }

    func testLossAndGradientsSingleImage() throws {
        let digits = try LlavaFixtures.testDigits()
        let trainer = try makeTrainer([digits[0]], batch: 1)
        let (loss, _, grads, _) = try trainer.lossAndGradients([digits[0]])
        XCTAssertEqual(loss, 1.5965739, accuracy: 1.5965739 * 1e-4)
        let dW = try LlavaFixtures.npy("multimodal/img0_dL_dW.npy"), db = try LlavaFixtures.npy("multimodal/img0_dL_db.npy")
        XCTAssertLessThan(maxAbsDiff(grads[0], dW), 2e-3 * maxAbs(dW), "dL/dW")
        XCTAssertLessThan(maxAbsDiff(grads[1], db), 2e-3 * maxAbs(db), "dL/db")
    }

    func testLossAndGradientsBatchOfTwo() throws {
        let digits = try LlavaFixtures.testDigits()
        let trainer = try makeTrainer([digits[1], digits[2]], batch: 2)
        let (loss, perExample, grads, _) = try trainer.lossAndGradients([digits[1], digits[2]])
        XCTAssertEqual(loss, 1.4254415, accuracy: 1.4254415 * 1e-4)
        XCTAssertEqual(perExample[0], 1.5412880, accuracy: 1e-4)
        XCTAssertEqual(perExample[1], 1.3095951, accuracy: 1e-4)
        let dW = try LlavaFixtures.npy("multimodal/batch_img1_img2_dL_dW.npy"), db = try LlavaFixtures.npy("multimodal/batch_img1_img2_dL_db.npy")
        XCTAssertLessThan(maxAbsDiff(grads[0], dW), 2e-3 * maxAbs(dW), "dL/dW")
        XCTAssertLessThan(maxAbsDiff(grads[1], db), 2e-3 * maxAbs(db), "dL/db")
    }

    func testAdamWStepOnGoldenGradients() throws {
        var params = LlavaFixtures.goldenInitProjector(width: 576).parameters
        var opt = AdamW(settings: AdamWSettings(), shapes: params.map { $0.values.count })
        opt.update(&params, grads: [try LlavaFixtures.npy("multimodal/img0_dL_dW.npy"), try LlavaFixtures.npy("multimodal/img0_dL_db.npy")])
        XCTAssertLessThan(maxAbsDiff(params[0].values, try LlavaFixtures.npy("multimodal/img0_W_after_adamw_step1.npy")), 1e-6)
        XCTAssertLessThan(maxAbsDiff(params[1].values, try LlavaFixtures.npy("multimodal/img0_b_after_adamw_step1.npy")), 1e-6)
    }

    func testGreedyReplyOfInitialProjector() throws {
        let loaded = try LlavaFixtures.smolLM2()
        let tok = try loaded.requireTokenizer()
        let prompt = MultimodalPrompt(format: .chatml, tokenizer: tok)
        let e = LlavaFixtures.goldenInitProjector(width: 576).forward(try LlavaFixtures.testDigits()[0].normalized()).embeddings
        let rows = loaded.model.embed(prompt.prefixIDs) + prompt.rowsAfterPrefix(model: loaded.model, image: e)
        let gen = try loaded.model.generate(embeddings: rows, maxTokens: 20, stopTokens: [2], sampling: .greedy)
        XCTAssertEqual(gen.ids, [1348, 314, 253, 1230, 42, 216, 33, 34, 35, 36, 37, 38, 30, 2])
        XCTAssertEqual(tok.decode(gen.ids), "This is a number: 123456.<|im_end|>")
    }

    func testTrainingStepLowersLossAndResumesExactly() throws {
        let digits = try LlavaFixtures.testDigits()
        let a = try makeTrainer(Array(digits[0..<4]), batch: 1)
        try a.run(count: 4) { _ in }
        XCTAssertEqual(a.stepsDone, 4)
        // resume from a checkpoint after 2 steps: the same projector as the uninterrupted run
        let b = try makeTrainer(Array(digits[0..<4]), batch: 1)
        try b.run(count: 2) { _ in }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("llava-resume-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/p.safetensors"
        try Checkpoint.save(b.projector, metadata: ["steps": "2"], optimizer: b.optimizer, to: path)
        let (p, _) = try Checkpoint.load(path, width: 576)
        let opt = try Checkpoint.loadOptimizer(for: path, projector: p)
        let loaded = try LlavaFixtures.smolLM2()
        let c = try Trainer(model: loaded.model, prompt: b.prompt, projector: p, data: b.data, order: b.order,
                            options: b.options, optimizer: opt, stepsDone: 2)
        try c.run(count: 2) { _ in }
        XCTAssertEqual(c.projector.parameters[0].values, a.projector.parameters[0].values)
        XCTAssertEqual(c.projector.parameters[1].values, a.projector.parameters[1].values)
    }

    /// A step's products add their terms in a fixed order (PanelGemm.swift), so the thread count
    /// does not change a single bit of the trained projector.
    func testTrainingIsIdenticalWithOneAndTwoThreads() throws {
        let digits = Array(try LlavaFixtures.testDigits()[0..<3])
        let saved = Parallel.threads
        defer { Parallel.threads = saved }
        var results: [[[Float]]] = []
        for threads in [1, 2] {
            Parallel.threads = threads
            let t = try makeTrainer(digits, batch: 1)
            try t.run(count: 3) { _ in }
            results.append(t.projector.parameters.map(\.values))
        }
        XCTAssertEqual(results[0], results[1])
    }
}
