// Evaluation: the seed's scoring rule, batched decoding equal to one-at-a-time decoding,
// the golden greedy reply through the evaluator, and the report's tables.
import XCTest
@testable import Llava

final class EvaluatorTests: XCTestCase {
    func testScoringRule() {
        XCTAssertTrue(Scoring.isCorrect("The digit is 7.", label: 7))
        XCTAssertTrue(Scoring.isCorrect("It looks like a seven to me", label: 7))
        XCTAssertTrue(Scoring.isCorrect("SEVEN", label: 7))
        XCTAssertFalse(Scoring.isCorrect("The digit is 17.", label: 7))          // first integer is 17
        XCTAssertFalse(Scoring.isCorrect("This is a number: 123456.", label: 1))
        XCTAssertTrue(Scoring.isCorrect("1 or 2", label: 1))
        XCTAssertFalse(Scoring.isCorrect("", label: 0))
        XCTAssertEqual(Scoring.firstInteger("abc 042 and 7"), 42)
        XCTAssertEqual(Scoring.predictedDigit("I think it is a four"), 4)
        XCTAssertEqual(Scoring.predictedDigit("The digit is 12."), nil)
        XCTAssertEqual(Scoring.predictedDigit("no idea"), nil)
    }

    func testBatchedDecodingMatchesOneAtATime() throws {
        let loaded = try LlavaFixtures.smolLM2()
        let tok = try loaded.requireTokenizer()
        let prompt = MultimodalPrompt(format: .chatml, tokenizer: tok)
        let projector = Projector(kind: .linear, outputSize: 576, seed: 3)
        let items = try LlavaFixtures.testDigits().prefix(6).enumerated().map { (index: $0.offset, image: $0.element) }
        for greedy in [true, false] {
            let one = try Evaluator.run(model: loaded.model, tokenizer: tok, prompt: prompt, projector: projector, images: items,
                                        options: EvalOptions(greedy: greedy, seed: 5, maxTokens: 8, batchSize: 1))
            let many = try Evaluator.run(model: loaded.model, tokenizer: tok, prompt: prompt, projector: projector, images: items,
                                         options: EvalOptions(greedy: greedy, seed: 5, maxTokens: 8, batchSize: 4))
            XCTAssertEqual(one.rows.map(\.reply), many.rows.map(\.reply), "greedy \(greedy)")
            XCTAssertEqual(one.n, 6)
        }
    }

    func testGoldenGreedyReplyThroughEvaluator() throws {
        let loaded = try LlavaFixtures.smolLM2()
        let tok = try loaded.requireTokenizer()
        let prompt = MultimodalPrompt(format: .chatml, tokenizer: tok)
        let img = try LlavaFixtures.testDigits()[0]
        let r = try Evaluator.run(model: loaded.model, tokenizer: tok, prompt: prompt, projector: LlavaFixtures.goldenInitProjector(width: 576),
                                  images: [(index: 0, image: img)], options: EvalOptions(greedy: true, maxTokens: 20))
        XCTAssertEqual(r.rows.first?.reply, "This is a number: 123456.")
        XCTAssertEqual(r.rows.first?.correct, false)
        XCTAssertEqual(r.confusion[7][10], 1)     // label 7, no single digit named
        XCTAssertEqual(r.perDigit[7], 0)
        XCTAssertNil(r.perDigit[3])
    }
}
