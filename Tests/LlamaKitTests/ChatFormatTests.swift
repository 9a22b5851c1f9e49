// Chat formats: renderings byte-identical to the models' templates (goldens from
// ../shared/reference, copied to Fixtures/tokenizer), their ids, and the multimodal splice.

import Foundation
import XCTest
@testable import LlamaKit

final class ChatFormatTests: XCTestCase {
    private func messages(_ c: [String: Any]) -> [ChatMessage] {
        (c["messages"] as! [[String: String]]).map { ChatMessage(role: $0["role"]!, content: $0["content"]!) }
    }

    func testChatMLMatchesSmolLM2Template() throws {
        let (t, gguf) = try TokFixtures.smolLM2()
        let g = try TokFixtures.json("smollm2_chat.json")
        XCTAssertEqual(gguf.metadata["tokenizer.chat_template"]?.string, g["chat_template"] as? String)
        for c in g["cases"] as! [[String: Any]] {
            let text = ChatFormat.chatml.render(messages: messages(c), addGenerationPrompt: c["add_generation_prompt"] as! Bool)
            XCTAssertEqual(text, c["rendered"] as! String, c["name"] as! String)
            XCTAssertEqual(t.encode(text), c["ids"] as! [Int], c["name"] as! String)
        }
        for (d, a) in (g["answers"] as! [[String: Any]]).enumerated() {
            XCTAssertEqual(ChatFormat.chatml.answer("The digit is \(d)."), a["text"] as! String)
            XCTAssertEqual(t.encode(ChatFormat.chatml.answer("The digit is \(d).")), a["ids"] as! [Int])
        }
    }

    func testLlama3MatchesOfficialTemplate() throws {
        let t = try TokFixtures.llama3()
        let g = try TokFixtures.json("llama3_tokenizer_golden.json")
        for c in g["chat"] as! [[String: Any]] {
            let text = ChatFormat.llama3.render(messages: messages(c), addGenerationPrompt: c["add_generation_prompt"] as! Bool)
            XCTAssertEqual(text, c["rendered"] as! String, c["name"] as! String)
            XCTAssertEqual(t.encode(text), c["ids_add_special_tokens_false"] as! [Int])
            XCTAssertEqual([t.bosID!] + t.encode(text), c["ids_add_special_tokens_true"] as! [Int])
        }
        // Contents are trimmed; the system turn is always there.
        let r = ChatFormat.llama3.render(messages: [.init(role: "system", content: "  Be brief.\n"),
                                                    .init(role: "user", content: "\n hi "),
                                                    .init(role: "assistant", content: "hello")],
                                         addGenerationPrompt: false)
        XCTAssertEqual(r, "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nhello<|eot_id|>")
    }

    func testChatMLImagePromptMatchesMultimodalGolden() throws {
        let (t, _) = try TokFixtures.smolLM2()
        let (prefix, suffix) = ChatFormat.chatml.imagePrompt(question: "What digit is this?")
        XCTAssertEqual(prefix, "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\n")
        XCTAssertEqual(suffix, "What digit is this?<|im_end|>\n<|im_start|>assistant\n")
        // ../shared/reference/smollm2/multimodal/multimodal_golden.json prefix_ids / suffix_ids.
        XCTAssertEqual(t.encode(prefix), [1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 3365, 3511, 308, 34519, 28, 7018, 411, 407, 19712, 8182, 2, 198, 1, 4093, 198])
        XCTAssertEqual(t.encode(suffix), [1780, 11403, 314, 451, 47, 2, 198, 1, 520, 9531, 198])
        XCTAssertEqual(t.encode(ChatFormat.chatml.answer("The digit is 7.")), [504, 11403, 314, 216, 39, 30, 2])
        XCTAssertFalse(ChatFormat.chatml.prependsBOSToEachPart)
        XCTAssertEqual(ChatFormat.chatml.imagePrompt(question: "What is this number?").suffix,
                       "What is this number?<|im_end|>\n<|im_start|>assistant\n")
    }

    func testLlama3SeedPromptIsTheSeedsString() throws {
        let f = ChatFormat.llama3Seed
        let (prefix, suffix) = f.imagePrompt(question: "What digit is this?")
        XCTAssertEqual(prefix + "<image>" + suffix,
                       "<|begin_of_text|><|start_header_id|>system<|end_header_id|><|eot_id|><|start_header_id|>user<|end_header_id|><image>What digit is this?<|start_header_id|>assistant<|end_header_id|>")
        XCTAssertTrue(f.prependsBOSToEachPart)
        XCTAssertEqual(f.answer("The digit is 7."), "The digit is 7.<|eot_id|>")
        XCTAssertEqual(f.imagePrompt(question: "What is this number?").suffix,
                       "What is this number?<|start_header_id|>assistant<|end_header_id|>")

        // With BOS per part, the ids are those of the seed's default tokenizer calls.
        let t = try TokFixtures.llama3()
        let g = try TokFixtures.json("llama3_tokenizer_golden.json")
        let defaults = g["default_add_special_tokens"] as! [[String: Any]]
        let parts = [prefix, suffix, f.answer("The digit is 7.")]
        for (part, golden) in zip(parts, defaults) {
            XCTAssertEqual(part, golden["text"] as! String)
            XCTAssertEqual([t.bosID!] + t.encode(part), golden["ids_add_special_tokens_true"] as! [Int])
        }
    }

    func testLlama3CleanImagePrompt() throws {
        let (prefix, suffix) = ChatFormat.llama3.imagePrompt(question: "What digit is this?")
        XCTAssertEqual(prefix + "<image>" + suffix,
                       ChatFormat.llama3.render(messages: [.init(role: "user", content: "<image>What digit is this?")], addGenerationPrompt: true))
        XCTAssertEqual(prefix, "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n")
        XCTAssertEqual(suffix, "What digit is this?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
        XCTAssertFalse(ChatFormat.llama3.prependsBOSToEachPart)
        XCTAssertEqual(ChatFormat.llama3.answer("The digit is 7."), "The digit is 7.<|eot_id|>")
    }

    func testPlainIsTheLlavaPrompt() throws {
        let (prefix, suffix) = ChatFormat.plain.imagePrompt(question: "What digit is this?")
        XCTAssertEqual(prefix + "<image>" + suffix, "USER: <image>\nWhat digit is this? ASSISTANT:")
        let t = try TokFixtures.tinyLlava()
        XCTAssertEqual(t.encode(prefix + "<image>" + suffix), [451, 323, 1024, 13, 294, 399, 378, 345, 536, 453])
        XCTAssertEqual(ChatFormat.plain.render(messages: [.init(role: "user", content: "hi")], addGenerationPrompt: true),
                       "USER: hi ASSISTANT:")
    }

    func testDetectAndStopTokens() throws {
        let (smol, gguf) = try TokFixtures.smolLM2()
        let template = gguf.metadata["tokenizer.chat_template"]?.string
        XCTAssertEqual(ChatFormat.detect(chatTemplate: template, tokenizer: smol), .chatml)
        XCTAssertEqual(ChatFormat.detect(chatTemplate: nil, tokenizer: smol), .chatml)
        XCTAssertEqual(ChatFormat.chatml.stopTokens(smol), [2])

        let llama = try TokFixtures.llama3()
        XCTAssertNil(llama.chatTemplate)   // tokenizer_config.json has none: detected from the vocabulary
        XCTAssertEqual(ChatFormat.detect(chatTemplate: llama.chatTemplate, tokenizer: llama), .llama3)
        XCTAssertEqual(ChatFormat.llama3.stopTokens(llama), [128001, 128008, 128009])

        let tiny = try TokFixtures.tinyLlava()
        XCTAssertEqual(ChatFormat.detect(chatTemplate: tiny.chatTemplate, tokenizer: tiny), .plain)
        XCTAssertEqual(ChatFormat.plain.stopTokens(tiny), [2])
        XCTAssertEqual(ChatFormat(rawValue: "llama3-seed"), .llama3Seed)
        XCTAssertEqual(ChatFormat.allCases.map(\.rawValue), ["chatml", "llama3", "llama3-seed", "plain"])
    }
}
