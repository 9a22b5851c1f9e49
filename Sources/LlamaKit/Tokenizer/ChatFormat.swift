// Chat formats: how a conversation becomes prompt text, hand-written for the templates this
// project meets instead of evaluating Jinja. Each rendering reproduces the model's own template
// byte for byte (see the chat goldens in the tests).

/// One turn of a conversation.
public struct ChatMessage: Sendable, Equatable {
    /// "system", "user", "assistant" (or "tool"/"ipython" for Llama 3).
    public var role: String
    public var content: String
    public init(role: String, content: String) { self.role = role; self.content = content }
}

/// A prompt format. Raw values are the names used on the command line.
public enum ChatFormat: String, CaseIterable, Sendable {
    /// ChatML as in SmolLM2's template: `<|im_start|>role\n…<|im_end|>\n`, with a default system turn.
    case chatml
    /// The official Llama 3.1 Instruct template (header tokens, `\n\n` after headers, trimmed contents).
    case llama3
    /// Llama 3 as the original llava-mnist wrote its prompt by hand (no `\n\n`, no `<|eot_id|>` after
    /// the user turn), with BOS prepended to each separately tokenized part. Chat turns render as `llama3`.
    case llama3Seed = "llama3-seed"
    /// No special tokens: the LLaVA-1.5 conversation style `USER: … ASSISTANT: …`.
    case plain

    /// SmolLM2's default system turn, inserted when a conversation does not start with one.
    public static let smolLMDefaultSystem = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
    /// The fixed preamble of every Llama 3.1 system turn (the template's default date).
    public static let llama3SystemPreamble = "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
    /// The seed's prompt, verbatim; `<image>` marks where the image embedding goes.
    public static let seedPrompt = "<|begin_of_text|><|start_header_id|>system<|end_header_id|><|eot_id|><|start_header_id|>user<|end_header_id|><image>What digit is this?<|start_header_id|>assistant<|end_header_id|>"
    /// The question the seed asks.
    public static let defaultQuestion = "What digit is this?"
    /// Where the image goes in a multimodal prompt.
    public static let imageMarker = "<image>"

    /// The prompt text for `messages`; with `addGenerationPrompt`, ends by opening the assistant's turn.
    public func render(messages: [ChatMessage], addGenerationPrompt: Bool) -> String {
        var out = ""
        switch self {
        case .chatml:
            for (i, m) in messages.enumerated() {
                if i == 0 && m.role != "system" {
                    out += "<|im_start|>system\n\(Self.smolLMDefaultSystem)<|im_end|>\n"
                }
                out += "<|im_start|>\(m.role)\n\(m.content)<|im_end|>\n"
            }
            if addGenerationPrompt { out += "<|im_start|>assistant\n" }
        case .llama3, .llama3Seed:
            var rest = messages[...]
            var system = ""
            if let first = rest.first, first.role == "system" { system = Self.trim(first.content); rest = rest.dropFirst() }
            out += "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n\(Self.llama3SystemPreamble)\(system)<|eot_id|>"
            for m in rest {
                if m.role == "tool" || m.role == "ipython" {
                    out += "<|start_header_id|>ipython<|end_header_id|>\n\n\(m.content)<|eot_id|>"
                } else {
                    out += "<|start_header_id|>\(m.role)<|end_header_id|>\n\n\(Self.trim(m.content))<|eot_id|>"
                }
            }
            if addGenerationPrompt { out += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        case .plain:
            var parts: [String] = []
            for m in messages {
                switch m.role {
                case "user": parts.append("USER: \(m.content)")
                case "assistant": parts.append("ASSISTANT: \(m.content)")
                default: parts.append(m.content)
                }
            }
            if addGenerationPrompt { parts.append("ASSISTANT:") }
            out = parts.joined(separator: " ")
        }
        return out
    }

    /// The format a model's files call for: ChatML if the template or vocabulary has `<|im_start|>`,
    /// Llama 3 if they have `<|start_header_id|>`, plain otherwise. Never returns `llama3Seed`
    /// (that is a choice, not a property of the model).
    public static func detect(chatTemplate: String?, tokenizer: any Tokenizer) -> ChatFormat {
        if let t = chatTemplate {
            if t.contains("<|im_start|>") { return .chatml }
            if t.contains("<|start_header_id|>") { return .llama3 }
        }
        if tokenizer.tokenID("<|im_start|>") != nil { return .chatml }
        if tokenizer.tokenID("<|start_header_id|>") != nil { return .llama3 }
        return .plain
    }

    /// Ids that end a reply: EOS plus whichever of `<|eot_id|>`, `<|eom_id|>`, `<|im_end|>`,
    /// `<|end_of_text|>` the vocabulary has.
    public func stopTokens(_ tokenizer: any Tokenizer) -> Set<Int> {
        var ids = Set<Int>()
        if let e = tokenizer.eosID { ids.insert(e) }
        for s in ["<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|end_of_text|>"] {
            if let id = tokenizer.tokenID(s) { ids.insert(id) }
        }
        return ids
    }

    /// The multimodal prompt around the image, split at `<image>`: the text before it and the
    /// text after it, to be tokenized separately (see `prependsBOSToEachPart`).
    public func imagePrompt(question: String = ChatFormat.defaultQuestion) -> (prefix: String, suffix: String) {
        let full: String
        switch self {
        case .llama3Seed:
            full = Self.seedPrompt.replacingFirst(Self.defaultQuestion, with: question)
        case .chatml, .llama3:
            full = render(messages: [ChatMessage(role: "user", content: Self.imageMarker + question)], addGenerationPrompt: true)
        case .plain:
            full = "USER: \(Self.imageMarker)\n\(question) ASSISTANT:"
        }
        guard let r = full.firstRange(of: Self.imageMarker) else { return (full, "") }
        return (String(full[..<r.lowerBound]), String(full[r.upperBound...]))
    }

    /// The training target for a reply: the text plus the end-of-turn marker
    /// (`The digit is 7.<|im_end|>` or `…<|eot_id|>`; plain text has none).
    public func answer(_ text: String) -> String {
        switch self {
        case .chatml: return text + "<|im_end|>"
        case .llama3, .llama3Seed: return text + "<|eot_id|>"
        case .plain: return text
        }
    }

    /// Whether each separately tokenized part (prefix, suffix, answer) gets BOS in front, as the
    /// seed's default `tokenizer(...)` calls did for Llama 3. True only for `llama3Seed`.
    public var prependsBOSToEachPart: Bool { self == .llama3Seed }

    /// Jinja's `trim` (Python's `str.strip()`): whitespace off both ends.
    static func trim(_ s: String) -> String {
        let u = s.unicodeScalars
        guard let a = u.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let b = u.lastIndex(where: { !$0.properties.isWhitespace })!
        return String(u[a...b])
    }
}

extension String {
    /// `self` with the first occurrence of `target` replaced.
    fileprivate func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let r = firstRange(of: target) else { return self }
        return self[..<r.lowerBound] + replacement + self[r.upperBound...]
    }
}
