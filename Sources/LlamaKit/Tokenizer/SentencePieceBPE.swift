// Llama-2 / Vicuna / LLaVA-1.5 style BPE, as Hugging Face's tokenizer.json describes it:
// spaces become "▁" (Metaspace), BPE merges run over characters rather than bytes, and characters
// missing from the vocabulary fall back to their UTF-8 bytes as `<0xNN>` tokens.
//
// Two spellings of the "▁" step exist in the wild and both are accepted:
// * pre-tokenizer `Metaspace(replacement "▁", prepend_scheme "first", split …)` (newer files):
//   a "▁" is prepended only to the text that starts at offset 0 of the input;
// * normalizer `Prepend("▁") + Replace(" ", "▁")` (files converted from SentencePiece, e.g.
//   llava-hf's): a "▁" is prepended to every piece of text between added tokens.

/// When a "▁" is put in front of a piece of text.
public enum MetaspacePrepend: String, Sendable {
    /// Never.
    case never
    /// Only to the text at the very start of the input (and only if it does not start with "▁").
    case first
    /// To every piece of text between added tokens (unless it starts with "▁").
    case always
    /// To every piece of text between added tokens, even one that already starts with "▁"
    /// (the normalizer form `Prepend("▁")`).
    case unconditional
}

/// SentencePiece-style BPE with byte fallback (the tiny-llava test model, Llama 2, Vicuna).
public final class SentencePieceBPE: Tokenizer {
    public let vocabSize: Int
    public let bosID: Int?
    public let eosID: Int?
    public let addsBOSByDefault: Bool
    public let chatTemplate: String?
    public let prepend: MetaspacePrepend
    /// Whether each "▁" starts a new word (merges never cross it).
    public let splitOnSpace: Bool

    static let metaspace: Unicode.Scalar = "\u{2581}"

    private let pieces: [String]
    private let bytesOfID: [[UInt8]]
    private let specialFlags: [Bool]
    private let index: PieceIndex
    /// Single-character pieces by scalar value: the starting symbols of BPE.
    private let charID: [UInt32: Int32]
    /// `<0xNN>` ids, -1 where absent.
    private let byteFallbackID: [Int32]
    private let unkID: Int32?
    private let fuseUnk: Bool
    private let merges: MergeTable
    private let added: AddedTokenMatcher
    private let ignoreMerges: Bool

    /// - Parameters:
    ///   - pieces: the vocabulary in id order (`▁the`, `<0x0A>`, …).
    ///   - merges: merge rules in rank order; rules naming unknown pieces are skipped.
    ///   - addedTokens: tokens matched whole in the text (`<s>`, `<image>`, …).
    ///   - byteFallback: spell unknown characters as `<0xNN>` tokens (else they become `unk`).
    public init(pieces: [String], merges: MergeRules, addedTokens: [AddedToken],
                prepend: MetaspacePrepend, splitOnSpace: Bool, byteFallback: Bool,
                unkToken: String?, fuseUnk: Bool, bosID: Int?, eosID: Int?, addsBOSByDefault: Bool,
                ignoreMerges: Bool = false, chatTemplate: String? = nil) {
        let size = max(pieces.count, (addedTokens.map(\.id).max() ?? -1) + 1)
        var pieceList = pieces + Array(repeating: "", count: size - pieces.count)
        var bytes = [[UInt8]](repeating: [], count: size)
        var special = [Bool](repeating: false, count: size)
        var chars: [UInt32: Int32] = [:]
        var fallback = [Int32](repeating: -1, count: 256)
        for (id, p) in pieces.enumerated() {
            if let b = Self.fallbackByte(p) {
                bytes[id] = [b]
                if byteFallback { fallback[Int(b)] = Int32(id) }
            } else {
                bytes[id] = Array(String(p.unicodeScalars.map { $0 == Self.metaspace ? " " : Character($0) }).utf8)
            }
            let scalars = p.unicodeScalars
            if scalars.count == 1, chars[scalars.first!.value] == nil { chars[scalars.first!.value] = Int32(id) }
        }
        for t in addedTokens where t.id >= 0 {
            pieceList[t.id] = t.content
            bytes[t.id] = Array(t.content.utf8)
            special[t.id] = t.special
        }
        let index = PieceIndex(addedTokens.map { ($0.content, $0.id) } + pieces.enumerated().map { ($1, $0) })
        vocabSize = size
        self.pieces = pieceList
        self.bytesOfID = bytes
        self.specialFlags = special
        self.index = index
        self.charID = chars
        self.byteFallbackID = fallback
        self.unkID = unkToken.flatMap { index.id($0) }.map(Int32.init)
        self.fuseUnk = fuseUnk
        self.merges = MergeTable(rules: merges, index: index)
        self.added = AddedTokenMatcher(addedTokens)
        self.prepend = prepend
        self.splitOnSpace = splitOnSpace
        self.bosID = bosID
        self.eosID = eosID
        self.addsBOSByDefault = addsBOSByDefault
        self.ignoreMerges = ignoreMerges
        self.chatTemplate = chatTemplate
    }

    /// The byte of a `<0xNN>` piece.
    static func fallbackByte(_ p: String) -> UInt8? {
        let u = Array(p.utf8)
        guard u.count == 6, u[0] == 0x3C, u[1] == 0x30, u[2] == 0x78, u[5] == 0x3E else { return nil }
        return UInt8(String(decoding: u[3...4], as: UTF8.self), radix: 16)
    }

    public func encode(_ text: String, parseSpecial: Bool) -> [Int] {
        var text = text
        return text.withUTF8 { buf in
            var out: [Int] = []
            var symbols: [Int32] = []
            for seg in added.segments(buf, parseSpecial: parseSpecial) {
                switch seg {
                case .token(let id): out.append(id)
                case .text(let r):
                    let piece = String(decoding: buf[r], as: UTF8.self)
                    for word in metaspaceWords(piece, atStart: r.lowerBound == 0) {
                        encodeWord(word, into: &symbols)
                        for id in symbols { out.append(Int(id)) }
                    }
                }
            }
            return out
        }
    }

    /// Replaces spaces by "▁", prepends one as configured, and splits before each "▁" if asked.
    private func metaspaceWords(_ text: String, atStart: Bool) -> [[Unicode.Scalar]] {
        var s: [Unicode.Scalar] = text.unicodeScalars.map { $0 == " " ? Self.metaspace : $0 }
        guard !s.isEmpty else { return [] }
        let wantPrefix = prepend == .always || (prepend == .first && atStart)
        if prepend == .unconditional || (wantPrefix && s[0] != Self.metaspace) { s.insert(Self.metaspace, at: 0) }
        guard splitOnSpace else { return [s] }
        var words: [[Unicode.Scalar]] = []
        var start = 0
        for i in 1..<s.count where s[i] == Self.metaspace {
            words.append(Array(s[start..<i])); start = i
        }
        words.append(Array(s[start...]))
        return words
    }

    /// BPE on one word: characters → ids (byte fallback / unk for unknown ones) → merges.
    private func encodeWord(_ word: [Unicode.Scalar], into s: inout [Int32]) {
        s.removeAll(keepingCapacity: true)
        if ignoreMerges, let id = index.id(String(String.UnicodeScalarView(word))) { s.append(Int32(id)); return }
        var lastWasUnk = false
        for c in word {
            if let id = charID[c.value] { s.append(id); lastWasUnk = false; continue }
            let utf8 = Array(String(c).utf8)
            if utf8.allSatisfy({ byteFallbackID[Int($0)] >= 0 }) {
                for b in utf8 { s.append(byteFallbackID[Int(b)]) }
                lastWasUnk = false
            } else if let unk = unkID {
                if !(fuseUnk && lastWasUnk) { s.append(unk) }
                lastWasUnk = true
            }
        }
        merges.apply(&s)
    }

    /// Like the protocol's decode, plus the decoder's last step: one leading space is stripped
    /// (it is the "▁" that encoding prepended).
    public func decode(_ ids: [Int], skipSpecial: Bool) -> String {
        var bytes: [UInt8] = []
        for id in ids where !(skipSpecial && isSpecial(id)) { bytes += tokenBytes(id) }
        if bytes.first == 0x20 { bytes.removeFirst() }
        return String(decoding: bytes, as: UTF8.self)
    }

    public func tokenBytes(_ id: Int) -> [UInt8] { id >= 0 && id < vocabSize ? bytesOfID[id] : [] }
    public func tokenPiece(_ id: Int) -> String { id >= 0 && id < vocabSize ? pieces[id] : "" }
    public func tokenID(_ piece: String) -> Int? { index.id(piece) }
    public func isSpecial(_ id: Int) -> Bool { id >= 0 && id < vocabSize && specialFlags[id] }
}
