// The one splice function of llava-mnist: the chat prompt is split at `<image>`, the text
// before and after is tokenized separately, and the image embedding is placed between them:
//
//   [embed(prefix ids), e, embed(suffix ids)]  (+ embed(answer ids) when training)
//
// In seed-compatible Llama 3 mode each part is tokenized with the tokenizer's default
// settings, which prepends <|begin_of_text|> to every part (two BOS before the system header,
// one before the question and one before the answer), as the original script did.

/// Token ids of the multimodal prompt around the image, for one question.
public struct MultimodalPrompt: Sendable {
    public let format: ChatFormat
    public let question: String
    public let prefixIDs: [Int]
    public let suffixIDs: [Int]
    private let tokenizer: any Tokenizer

    public init(format: ChatFormat, tokenizer: any Tokenizer, question: String = ChatFormat.defaultQuestion) {
        self.format = format
        self.question = question
        self.tokenizer = tokenizer
        let (prefix, suffix) = format.imagePrompt(question: question)
        prefixIDs = Self.encodePart(prefix, format: format, tokenizer: tokenizer)
        suffixIDs = Self.encodePart(suffix, format: format, tokenizer: tokenizer)
    }

    static func encodePart(_ text: String, format: ChatFormat, tokenizer: any Tokenizer) -> [Int] {
        let ids = tokenizer.encode(text, parseSpecial: true)
        if format.prependsBOSToEachPart, tokenizer.addsBOSByDefault, let bos = tokenizer.bosID { return [bos] + ids }
        return ids
    }

    /// Position of the image in the full sequence.
    public var imagePosition: Int { prefixIDs.count }

    /// Ids of the target reply "The digit is D." plus the turn terminator.
    public func answerIDs(label: Int) -> [Int] {
        Self.encodePart(format.answer("The digit is \(label)."), format: format, tokenizer: tokenizer)
    }

    /// The input embedding rows after the cached prefix: [e, suffix, answer…] ([rows × d]).
    public func rowsAfterPrefix(model: LlamaModel, image: [Float], answer: [Int] = []) -> [Float] {
        image + model.embed(suffixIDs + answer)
    }

    /// Rows (relative to the image row) whose logits predict each answer token.
    public func answerLogitRows(answerCount: Int) -> [Int] {
        (0..<answerCount).map { suffixIDs.count + $0 }
    }

    /// The token id of the digit `label` written alone (for the cosine-similarity report).
    public func digitTokenID(_ label: Int) -> Int? {
        tokenizer.encode("\(label)", parseSpecial: false).last
    }
}
