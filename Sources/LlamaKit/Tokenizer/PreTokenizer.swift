// Pre-tokenizers: split text into the "words" that byte-level BPE merges within.
//
// Each scanner below is a hand-written equivalent of one regular expression used by Hugging Face
// tokenizers / llama.cpp. Swift Regex would do, but it is one to two orders of magnitude slower,
// and the REPL tokenizes interactively. The scanners work on a pre-classified array of Unicode
// scalars: \p{L} and \p{N} come from the general category, \s from the White_Space property
// (which is what Oniguruma and Rust's regex mean by \s with Unicode enabled).

/// Which split rule a byte-level BPE tokenizer applies before merging.
public enum PreTokenizerKind: String, Sendable, CaseIterable {
    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    case gpt2
    /// SmolLM2 (`tokenizer.ggml.pre = "smollm"`): every \p{N} character on its own, then GPT-2 on the rest.
    case smollm
    /// Llama 3: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.
    case llama3

    /// The kind for a GGUF `tokenizer.ggml.pre` value; unknown or missing names fall back to GPT-2.
    public init(ggufPre: String?) {
        switch ggufPre {
        case "smollm": self = .smollm
        case "llama-bpe", "llama3", "llama-v3": self = .llama3
        default: self = .gpt2
        }
    }
}

/// Splits UTF-8 text into pre-tokens (byte ranges), following one `PreTokenizerKind`.
struct PreTokenizer {
    // Character classes, one bit each.
    static let letter: UInt8 = 1, number: UInt8 = 2, space: UInt8 = 4, newline: UInt8 = 8

    /// The classes of one scalar (newline = \r or \n, which are also spaces).
    @inline(__always)
    static func classify(_ v: UInt32) -> UInt8 {
        if v < 128 { return asciiClass[Int(v)] }
        guard let s = Unicode.Scalar(v) else { return 0 }
        let p = s.properties
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return letter
        case .decimalNumber, .letterNumber, .otherNumber: return number
        default: return p.isWhitespace ? space : 0
        }
    }

    static let asciiClass: [UInt8] = (0..<128).map { i -> UInt8 in
        let c = UInt8(i)
        if (c >= 65 && c <= 90) || (c >= 97 && c <= 122) { return letter }
        if c >= 48 && c <= 57 { return number }
        if c == 10 || c == 13 { return space | newline }
        if c == 32 || (c >= 9 && c <= 13) { return space }
        return 0
    }

    let kind: PreTokenizerKind
    // Per call: scalars, their classes, and the UTF-8 offset of each scalar (plus the end).
    private var scalars: [UInt32] = []
    private var cls: [UInt8] = []
    private var offsets: [Int] = []

    init(_ kind: PreTokenizerKind) { self.kind = kind }

    /// The pre-token byte ranges of `bytes`, which must be valid UTF-8, in order and covering it.
    mutating func split(_ bytes: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        decode(bytes)
        var out: [Range<Int>] = []
        out.reserveCapacity(scalars.count / 3 + 1)
        let n = scalars.count
        switch kind {
        case .gpt2:
            scanGPT2(0, n, &out)
        case .llama3:
            scanLlama3(0, n, &out)
        case .smollm:
            // Digits(individual_digits) runs first: each \p{N} is a piece, and the GPT-2 regex
            // then sees the text between them as separate inputs (its lookahead stops there too).
            var start = 0
            for i in 0..<n where cls[i] & Self.number != 0 {
                if start < i { scanGPT2(start, i, &out) }
                out.append(offsets[i]..<offsets[i + 1])
                start = i + 1
            }
            if start < n { scanGPT2(start, n, &out) }
        }
        return out
    }

    /// Fills `scalars`, `cls` and `offsets` from valid UTF-8.
    private mutating func decode(_ b: UnsafeBufferPointer<UInt8>) {
        scalars.removeAll(keepingCapacity: true)
        cls.removeAll(keepingCapacity: true)
        offsets.removeAll(keepingCapacity: true)
        var i = 0
        while i < b.count {
            let c = b[i]
            var v = UInt32(c), len = 1
            if c >= 0xF0 { v = UInt32(c & 0x07); len = 4 }
            else if c >= 0xE0 { v = UInt32(c & 0x0F); len = 3 }
            else if c >= 0xC0 { v = UInt32(c & 0x1F); len = 2 }
            if len > 1 {
                for k in 1..<len where i + k < b.count { v = v << 6 | UInt32(b[i + k] & 0x3F) }
            }
            scalars.append(v)
            cls.append(Self.classify(v))
            offsets.append(i)
            i += len
        }
        offsets.append(b.count)
    }

    @inline(__always) private func isL(_ i: Int, _ end: Int) -> Bool { i < end && cls[i] & Self.letter != 0 }
    @inline(__always) private func isN(_ i: Int, _ end: Int) -> Bool { i < end && cls[i] & Self.number != 0 }
    @inline(__always) private func isS(_ i: Int, _ end: Int) -> Bool { i < end && cls[i] & Self.space != 0 }
    @inline(__always) private func isNL(_ i: Int, _ end: Int) -> Bool { i < end && cls[i] & Self.newline != 0 }
    /// [^\s\p{L}\p{N}]
    @inline(__always) private func isOther(_ i: Int, _ end: Int) -> Bool { i < end && cls[i] == 0 }

    @inline(__always) private func emit(_ a: Int, _ b: Int, _ out: inout [Range<Int>]) {
        out.append(offsets[a]..<offsets[b])
    }

    /// Length of a contraction ('s 't 're 've 'm 'll 'd) starting at `i`, or 0.
    private func contraction(_ i: Int, _ end: Int, caseInsensitive: Bool) -> Int {
        guard scalars[i] == 0x27, i + 1 < end else { return 0 }
        // Case folding as the regex engines do it: ASCII, plus U+017F (long s), which folds to "s".
        func lower(_ v: UInt32) -> UInt32 {
            guard caseInsensitive else { return v }
            return v >= 65 && v <= 90 ? v + 32 : v == 0x17F ? 0x73 : v
        }
        let a = lower(scalars[i + 1])
        if a == 0x73 || a == 0x74 || a == 0x6D || a == 0x64 { return 2 }   // s t m d
        guard i + 2 < end else { return 0 }
        let b = lower(scalars[i + 2])
        if (a == 0x72 && b == 0x65) || (a == 0x76 && b == 0x65) || (a == 0x6C && b == 0x6C) { return 3 } // re ve ll
        return 0
    }

    /// End of the whitespace alternatives `\s+(?!\S)|\s+` at `i` (a whitespace scalar).
    private func whitespaceEnd(_ i: Int, _ end: Int) -> Int {
        var j = i
        while isS(j, end) { j += 1 }
        // Followed by a non-space: give the last space back so it can lead the next word,
        // unless the run is a single space (then `\s+` takes it alone).
        if j < end && j - i >= 2 { return j - 1 }
        return j
    }

    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    private func scanGPT2(_ start: Int, _ end: Int, _ out: inout [Range<Int>]) {
        var i = start
        while i < end {
            let c = contraction(i, end, caseInsensitive: false)
            if c > 0 { emit(i, i + c, &out); i += c; continue }
            // The optional leading space is a literal U+0020 only.
            let s = scalars[i] == 0x20 ? i + 1 : i
            var j = s
            if isL(s, end) {
                while isL(j, end) { j += 1 }
            } else if isN(s, end) {
                while isN(j, end) { j += 1 }
            } else if isOther(s, end) {
                while isOther(j, end) { j += 1 }
            } else {
                j = whitespaceEnd(i, end)
            }
            emit(i, j, &out)
            i = j
        }
    }

    /// Llama 3: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
    /// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.
    private func scanLlama3(_ start: Int, _ end: Int, _ out: inout [Range<Int>]) {
        var i = start
        while i < end {
            let c = contraction(i, end, caseInsensitive: true)
            if c > 0 { emit(i, i + c, &out); i += c; continue }
            var j = i
            if isL(i, end) || (!isNL(i, end) && !isN(i, end) && isL(i + 1, end)) {
                // [^\r\n\p{L}\p{N}]?\p{L}+ : any one non-newline, non-letter, non-digit may lead.
                j = i + 1
                while isL(j, end) { j += 1 }
            } else if isN(i, end) {
                while j < end && j - i < 3 && isN(j, end) { j += 1 }
            } else if isOther(scalars[i] == 0x20 ? i + 1 : i, end) {
                j = scalars[i] == 0x20 ? i + 1 : i
                while isOther(j, end) { j += 1 }
                while isNL(j, end) { j += 1 }
            } else {
                // Whitespace. `\s*[\r\n]+` ends right after the last newline of the run, if any.
                var k = i, lastNL = -1
                while isS(k, end) { if isNL(k, end) { lastNL = k }; k += 1 }
                j = lastNL >= 0 ? lastNL + 1 : whitespaceEnd(i, end)
            }
            emit(i, j, &out)
            i = j
        }
    }
}
