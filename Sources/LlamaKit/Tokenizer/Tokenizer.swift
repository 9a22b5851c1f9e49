// The tokenizer seen by the rest of the engine: a protocol, so the model, the generator and
// the multimodal splice never depend on which BPE flavour a model uses.

/// Text ↔ token ids for one model.
public protocol Tokenizer: Sendable {
    /// Number of ids, including added/special tokens.
    var vocabSize: Int { get }
    /// Beginning-of-sequence id, if the model has one.
    var bosID: Int? { get }
    /// End-of-sequence id, if the model has one.
    var eosID: Int? { get }
    /// Whether the model's own settings prepend BOS when encoding with default settings
    /// (true for Llama 3's tokenizer.json, false for SmolLM2).
    var addsBOSByDefault: Bool { get }

    /// Ids for `text`. With `parseSpecial`, special/added tokens written in the text
    /// (e.g. `<|im_start|>`) are recognized whole; without it they are tokenized as plain text.
    /// Never adds BOS: callers that want the model's default (`addsBOSByDefault`) prepend it.
    func encode(_ text: String, parseSpecial: Bool) -> [Int]

    /// The raw bytes a token stands for (special tokens give their text).
    func tokenBytes(_ id: Int) -> [UInt8]

    /// The token's vocabulary string as stored (e.g. `Ġdigit`), for display.
    func tokenPiece(_ id: Int) -> String

    /// The id of a vocabulary entry or special token written exactly, if any.
    func tokenID(_ piece: String) -> Int?

    /// Whether `id` is a special/control token (skipped when `decode` is asked to).
    func isSpecial(_ id: Int) -> Bool

    /// Text for `ids`; invalid UTF-8 sequences become U+FFFD. A requirement (with a default
    /// below) so that tokenizers whose decoder does more than concatenate bytes can say so
    /// (SentencePiece-style BPE strips the leading "▁" space).
    func decode(_ ids: [Int], skipSpecial: Bool) -> String

    /// The model's Jinja chat template, if its files carry one (GGUF `tokenizer.chat_template`,
    /// `tokenizer_config.json` `chat_template`). Default nil.
    var chatTemplate: String? { get }
}

extension Tokenizer {
    /// Ids for `text`, recognizing special tokens.
    public func encode(_ text: String) -> [Int] { encode(text, parseSpecial: true) }

    /// Text for `ids`, special tokens included.
    public func decode(_ ids: [Int]) -> String { decode(ids, skipSpecial: false) }

    public var chatTemplate: String? { nil }

    /// Default: the tokens' bytes concatenated; invalid UTF-8 sequences become U+FFFD.
    public func decode(_ ids: [Int], skipSpecial: Bool) -> String {
        var bytes: [UInt8] = []
        for id in ids where !(skipSpecial && isSpecial(id)) { bytes += tokenBytes(id) }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Turns a stream of token ids into text pieces without ever splitting a UTF-8 character:
/// bytes of an incomplete character are held back until the rest arrives.
public struct StreamingDecoder {
    private var pending: [UInt8] = []
    public init() {}

    /// Adds the bytes of one token and returns the text that is now complete (possibly "").
    public mutating func append(_ bytes: [UInt8]) -> String {
        pending += bytes
        let cut = Self.completePrefixLength(pending)
        guard cut > 0 else { return "" }
        let text = String(decoding: pending[..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return text
    }

    /// Whatever is held back, decoded with replacement characters (call at the end).
    public mutating func flush() -> String {
        defer { pending = [] }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Length of the longest prefix that does not end inside a multi-byte character.
    static func completePrefixLength(_ b: [UInt8]) -> Int {
        var i = b.count - 1
        var back = 0
        // Walk back over at most 3 continuation bytes to the lead byte of the last character.
        while i >= 0, back < 4, b[i] & 0xC0 == 0x80 { i -= 1; back += 1 }
        guard i >= 0 else { return b.count }
        let lead = b[i]
        let need = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
        return b.count - i >= need ? b.count : i
    }
}
