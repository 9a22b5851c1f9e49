// The regression stage: it fits images to per-label targets, deterministically per seed,
// and its targets are the model's own digit-token embeddings.
import XCTest
@testable import Llava

final class DistillationTests: XCTestCase {
    func testFitsTargetsDeterministically() throws {
        let digits = try LlavaFixtures.testDigits()
        var rng = SeededRandom(seed: 9)
        let targets = (0..<10).map { _ in (0..<8).map { _ in rng.nextFloat() - 0.5 } }
        var options = DistillationOptions()
        options.epochs = 60
        options.batch = 4
        options.lr = 3e-3
        options.shift = 0
        var a = Projector(kind: .mlp, outputSize: 8, hiddenSize: 32, seed: 1)
        let losses = try Distillation.fit(&a, images: digits, targets: targets, options: options)
        XCTAssertEqual(losses.count, 60)
        XCTAssertLessThan(losses.last!, losses.first! / 20, "the regression should fit 16 images")
        // every image lands nearest to its own label's target
        for img in digits {
            let e = a.forward(img.normalized()).embeddings
            let dist = targets.map { t in zip(e, t).reduce(Float(0)) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } }
            XCTAssertEqual(dist.firstIndex(of: dist.min()!), img.label)
        }
        var b = Projector(kind: .mlp, outputSize: 8, hiddenSize: 32, seed: 1)
        _ = try Distillation.fit(&b, images: digits, targets: targets, options: options)
        XCTAssertEqual(a.parameters.map(\.values), b.parameters.map(\.values), "same seed, same projector")
    }

    func testTargetsAreDigitTokenEmbeddings() throws {
        let loaded = try LlavaFixtures.smolLM2()
        let prompt = MultimodalPrompt(format: .chatml, tokenizer: try loaded.requireTokenizer())
        let t = Distillation.targets(model: loaded.model, prompt: prompt)
        XCTAssertEqual(t.count, 10)
        XCTAssertEqual(t[7], loaded.model.embed([39]))   // "7" is id 39 in SmolLM2's vocabulary
    }
}
