// Builds a `Tokenizer` from a GGUF file's metadata or from a Hugging Face tokenizer.json.
//
// tokenizer.json files are read with the small JSON parser at the end of this file rather than
// Foundation's JSONSerialization: Llama 3's file (9 MB, 128k vocabulary entries, 280k merges)
// takes about 0.5 s through JSONSerialization and NSNumber/NSString bridging on Linux, several
// times longer than this direct byte scanner.

import Foundation

/// Loads tokenizers from model files.
public enum TokenizerLoader {
    /// The tokenizer stored in a GGUF file's `tokenizer.ggml.*` metadata.
    ///
    /// Supports `tokenizer.ggml.model = "gpt2"` (byte-level BPE). Merges may be absent (tiny test
    /// models): then every byte is looked up on its own and unknown bytes are dropped.
    public static func fromGGUF(_ gguf: GGUFFile) throws -> any Tokenizer {
        let m = gguf.metadata, path = gguf.path
        let model = m["tokenizer.ggml.model"]?.string
        guard let model else {
            throw FormatError(path, "no tokenizer in this GGUF (tokenizer.ggml.model is missing): text commands need a tokenizer; id-only commands (generate --prompt-ids) still work")
        }
        guard model == "gpt2" else {
            throw FormatError(path, "tokenizer model '\(model)' is not supported (only 'gpt2' byte-level BPE, as in Llama 3 and SmolLM2); use a tokenizer.json folder instead, or id-only commands")
        }
        guard let tokenValues = m["tokenizer.ggml.tokens"]?.array else {
            throw FormatError(path, "tokenizer.ggml.tokens is missing or not an array")
        }
        var pieces: [String] = []
        pieces.reserveCapacity(tokenValues.count)
        for (i, v) in tokenValues.enumerated() {
            guard let s = v.string else { throw FormatError(path, "tokenizer.ggml.tokens[\(i)] is not a string") }
            pieces.append(s)
        }
        var merges: [String] = []
        if let mv = m["tokenizer.ggml.merges"]?.array {
            merges.reserveCapacity(mv.count)
            for (i, v) in mv.enumerated() {
                guard let rule = v.string, rule.utf8.contains(0x20) else {
                    throw FormatError(path, "tokenizer.ggml.merges[\(i)] is not of the form \"left right\"")
                }
                merges.append(rule)
            }
        }
        // token_type: 3 = control (special), 4 = user-defined (always matched whole).
        var added: [AddedToken] = []
        if let types = m["tokenizer.ggml.token_type"]?.array {
            for (id, t) in types.enumerated() where id < pieces.count {
                switch t.int {
                case 3: added.append(AddedToken(id: id, content: pieces[id], special: true))
                case 4: added.append(AddedToken(id: id, content: pieces[id], special: false))
                default: break
                }
            }
        }
        let pre = PreTokenizerKind(ggufPre: m["tokenizer.ggml.pre"]?.string)
        func validID(_ key: String) -> Int? {
            guard let id = m[key]?.int, id >= 0, id < pieces.count else { return nil }
            return id
        }
        return BPETokenizer(
            pieces: pieces, merges: .joined(merges), addedTokens: added, preTokenizer: pre,
            bosID: validID("tokenizer.ggml.bos_token_id"), eosID: validID("tokenizer.ggml.eos_token_id"),
            addsBOSByDefault: m["tokenizer.ggml.add_bos_token"]?.bool ?? false,
            chatTemplate: m["tokenizer.chat_template"]?.string)
    }

    /// The tokenizer of a Hugging Face model folder: `tokenizer.json`, plus `tokenizer_config.json` if present.
    public static func fromFolder(_ dir: String) throws -> any Tokenizer {
        let fm = FileManager.default
        let json = (dir as NSString).appendingPathComponent("tokenizer.json")
        guard fm.fileExists(atPath: json) else {
            throw FormatError(dir, "no tokenizer.json in this folder: text commands need a tokenizer; id-only commands (generate --prompt-ids) still work")
        }
        let config = (dir as NSString).appendingPathComponent("tokenizer_config.json")
        return try fromTokenizerJSON(json, config: fm.fileExists(atPath: config) ? config : nil)
    }

    /// A tokenizer from a `tokenizer.json` (BPE model; byte-level or SentencePiece-style) and an
    /// optional `tokenizer_config.json` (BOS/EOS names, `add_bos_token`, `chat_template`).
    public static func fromTokenizerJSON(_ path: String, config: String?) throws -> any Tokenizer {
        try fromTokenizerJSON(root: JSONValue.parse(file: path), path: path,
                              config: config.map { try JSONValue.parse(file: $0) })
    }

    /// The same from bytes in memory: `json` is the tokenizer.json, `config` the optional
    /// tokenizer_config.json; `name` labels errors.
    public static func fromTokenizerJSON(data json: Data, name: String, config: Data? = nil,
                                         configName: String = "tokenizer_config.json") throws -> any Tokenizer {
        try fromTokenizerJSON(root: JSONValue.parse(json, name: name), path: name,
                              config: config.map { try JSONValue.parse($0, name: configName) })
    }

    /// Token ids (vocabulary and added tokens) must be below this: the tokenizer's tables are
    /// sized by the largest id, and the largest real vocabularies have about 260k entries.
    public static let maxVocabularySize = 1 << 21

    /// Text from a file quoted in an error message, cut to a readable length on one line.
    static func clipped(_ s: String, _ limit: Int = 40) -> String {
        let head = s.prefix(limit + 1).map { $0.isNewline ? " " : String($0) }
        return head.count <= limit ? head.joined() : head.prefix(limit).joined() + "…"
    }

    /// The largest tokenizer.json or tokenizer_config.json read (Llama 3's is 9 MB; the
    /// largest published ones, 250k-entry multilingual vocabularies, about 35 MB).
    public static let maxJSONBytes = 128 << 20

    private static func fromTokenizerJSON(root: JSONValue, path: String, config cfg: JSONValue?) throws -> any Tokenizer {
        guard let model = root["model"] else { throw FormatError(path, "no \"model\" section: not a tokenizer.json") }
        let type = model["type"]?.string ?? (model["merges"] != nil ? "BPE" : "unknown")
        guard type == "BPE" else {
            throw FormatError(path, "tokenizer model type '\(type)' is not supported (only BPE)")
        }
        guard let vocab = model["vocab"]?.objectPairs else { throw FormatError(path, "model.vocab is missing or not an object") }

        var pieces = [String](repeating: "", count: vocab.count)
        for (piece, v) in vocab {
            guard let id = v.int, id >= 0 else { throw FormatError(path, "model.vocab[\"\(Self.clipped(piece))\"] is not a non-negative integer") }
            if id >= pieces.count {
                guard id < maxVocabularySize else {
                    throw FormatError(path, "model.vocab id \(id) is absurdly large (ids must be below \(maxVocabularySize))")
                }
                pieces += Array(repeating: "", count: id + 1 - pieces.count)
            }
            pieces[id] = piece
        }
        var joined: [String] = [], pairs: [(String, String)] = []
        for (i, v) in (model["merges"]?.array ?? []).enumerated() {
            if let s = v.string, s.utf8.contains(0x20), pairs.isEmpty { joined.append(s); continue }
            if let a = v.array, a.count == 2, let l = a[0].string, let r = a[1].string, joined.isEmpty { pairs.append((l, r)); continue }
            throw FormatError(path, "model.merges[\(i)] is neither \"left right\" nor [\"left\", \"right\"] like the others")
        }
        let merges: MergeRules = pairs.isEmpty ? .joined(joined) : .pairs(pairs)
        var added: [AddedToken] = []
        for t in root["added_tokens"]?.array ?? [] {
            guard let id = t["id"]?.int, let content = t["content"]?.string else {
                throw FormatError(path, "an added_tokens entry has no id or content")
            }
            // Checked before the tokenizer sizes its tables by the largest id.
            guard id >= 0, id < maxVocabularySize else {
                throw FormatError(path, "added token '\(Self.clipped(content))' has id \(id); ids must be between 0 and \(maxVocabularySize - 1)")
            }
            added.append(AddedToken(id: id, content: content, special: t["special"]?.bool ?? false))
        }

        // Token ids named by the config (a string or {"content": …}), then the post-processor.
        func lookup(_ name: String?) -> Int? {
            guard let name else { return nil }
            if let t = added.first(where: { $0.content == name }) { return t.id }
            return pieces.firstIndex(of: name)
        }
        func configToken(_ key: String) -> String? { cfg?[key]?.string ?? cfg?[key]?["content"]?.string }
        let template = root["post_processor"].flatMap { $0.find(type: "TemplateProcessing") }
        let templateBOS = template?["single"]?.array?.first?["SpecialToken"]?["id"]?.string
        let bos = lookup(configToken("bos_token")) ?? lookup(templateBOS)
        let eos = lookup(configToken("eos_token"))
        let addsBOS = cfg?["add_bos_token"]?.bool ?? (templateBOS != nil && lookup(templateBOS) != nil)
        var chatTemplate = cfg?["chat_template"]?.string
        if chatTemplate == nil, let list = cfg?["chat_template"]?.array {   // [{name, template}]
            chatTemplate = (list.first { $0["name"]?.string == "default" } ?? list.first)?["template"]?.string
        }
        let ignoreMerges = model["ignore_merges"]?.bool ?? false

        let pre = root["pre_tokenizer"], norm = root["normalizer"], dec = root["decoder"]
        if pre?.find(type: "ByteLevel") != nil || dec?.find(type: "ByteLevel") != nil {
            let kind: PreTokenizerKind
            if pre?.find(type: "Digits") != nil {
                kind = .smollm
            } else if let regex = pre?.find(type: "Split")?["pattern"]?["Regex"]?.string, regex.contains("\\p{N}{1,3}") {
                kind = .llama3
            } else {
                kind = .gpt2
            }
            return BPETokenizer(pieces: pieces, merges: merges, addedTokens: added, preTokenizer: kind,
                                bosID: bos, eosID: eos, addsBOSByDefault: addsBOS,
                                ignoreMerges: ignoreMerges, chatTemplate: chatTemplate)
        }
        let metaspace = pre?.find(type: "Metaspace")
        let normPrepend = norm?.find(type: "Prepend") != nil
        if metaspace != nil || normPrepend || norm?.find(type: "Replace") != nil || model["byte_fallback"]?.bool == true {
            let prepend: MetaspacePrepend
            if let m = metaspace {
                switch m["prepend_scheme"]?.string {
                case "never": prepend = .never
                case "always": prepend = .always
                case "first": prepend = .first
                default: prepend = (m["add_prefix_space"]?.bool ?? true) ? .always : .never
                }
            } else {
                prepend = normPrepend ? .unconditional : .never
            }
            return SentencePieceBPE(
                pieces: pieces, merges: merges, addedTokens: added, prepend: prepend,
                splitOnSpace: metaspace?["split"]?.bool ?? (metaspace != nil),
                byteFallback: model["byte_fallback"]?.bool ?? false, unkToken: model["unk_token"]?.string,
                fuseUnk: model["fuse_unk"]?.bool ?? false, bosID: bos, eosID: eos, addsBOSByDefault: addsBOS,
                ignoreMerges: ignoreMerges, chatTemplate: chatTemplate)
        }
        throw FormatError(path, "unsupported BPE flavour: neither a ByteLevel nor a Metaspace/SentencePiece pre-tokenizer")
    }

}

// MARK: - A small JSON reader

/// A parsed JSON value. Objects keep their key order as an array of pairs (a 128k-entry
/// vocabulary is only ever iterated, never looked up by key).
fileprivate enum JSONValue {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([(String, JSONValue)])

    subscript(key: String) -> JSONValue? {
        if case .object(let pairs) = self { return pairs.first { $0.0 == key }?.1 }
        return nil
    }
    var string: String? { if case .string(let s) = self { return s }; return nil }
    var bool: Bool? { if case .bool(let b) = self { return b }; return nil }
    var array: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    var objectPairs: [(String, JSONValue)]? { if case .object(let p) = self { return p }; return nil }
    var int: Int? {
        if case .number(let d) = self, d == d.rounded(), abs(d) < 9e15 { return Int(d) }
        return nil
    }

    /// The first object (depth first) whose "type" is `type`: finds e.g. the ByteLevel step
    /// inside a `Sequence` pre-tokenizer.
    func find(type: String) -> JSONValue? {
        switch self {
        case .object(let pairs):
            if self["type"]?.string == type { return self }
            for (_, v) in pairs { if let hit = v.find(type: type) { return hit } }
        case .array(let a):
            for v in a { if let hit = v.find(type: type) { return hit } }
        default: break
        }
        return nil
    }

    static func parse(file path: String) throws -> JSONValue {
        // The size is checked before reading, so a huge file is refused without being loaded.
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        if let size = attributes?[.size] as? Int, size > TokenizerLoader.maxJSONBytes {
            throw FormatError(path, "file is \(size) bytes, larger than the \(TokenizerLoader.maxJSONBytes >> 20) MiB limit for tokenizer files")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FormatError(path, attributes == nil ? "no such file" : "cannot read this file")
        }
        return try parse(data, name: path)
    }

    static func parse(_ data: Data, name path: String) throws -> JSONValue {
        guard data.count <= TokenizerLoader.maxJSONBytes else {
            throw FormatError(path, "file is \(data.count) bytes, larger than the \(TokenizerLoader.maxJSONBytes >> 20) MiB limit for tokenizer files")
        }
        return try data.withUnsafeBytes { raw in
            var p = JSONParser(bytes: raw.bindMemory(to: UInt8.self), path: path)
            return try p.parseDocument()
        }
    }
}

/// A recursive-descent parser over UTF-8 bytes.
fileprivate struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    let path: String
    var pos = 0
    var depth = 0

    init(bytes: UnsafeBufferPointer<UInt8>, path: String) { self.bytes = bytes; self.path = path }

    func fail(_ what: String) -> FormatError { FormatError(path, "invalid JSON at byte \(pos): \(what)") }

    mutating func parseDocument() throws -> JSONValue {
        let v = try value()
        skipSpace()
        guard pos == bytes.count else { throw fail("unexpected data after the end") }
        return v
    }

    mutating func skipSpace() {
        while pos < bytes.count, bytes[pos] == 0x20 || bytes[pos] == 0x0A || bytes[pos] == 0x0D || bytes[pos] == 0x09 { pos += 1 }
    }

    mutating func value() throws -> JSONValue {
        skipSpace()
        guard pos < bytes.count else { throw fail("unexpected end of file") }
        switch bytes[pos] {
        case 0x22: return .string(try string())
        case 0x7B:
            depth += 1; defer { depth -= 1 }
            guard depth < 512 else { throw fail("nested too deeply") }
            pos += 1
            var pairs: [(String, JSONValue)] = []
            skipSpace()
            if pos < bytes.count, bytes[pos] == 0x7D { pos += 1; return .object(pairs) }
            while true {
                skipSpace()
                guard pos < bytes.count, bytes[pos] == 0x22 else { throw fail("expected a key") }
                let k = try string()
                skipSpace()
                guard pos < bytes.count, bytes[pos] == 0x3A else { throw fail("expected ':'") }
                pos += 1
                pairs.append((k, try value()))
                skipSpace()
                guard pos < bytes.count else { throw fail("unterminated object") }
                if bytes[pos] == 0x2C { pos += 1; continue }
                if bytes[pos] == 0x7D { pos += 1; return .object(pairs) }
                throw fail("expected ',' or '}'")
            }
        case 0x5B:
            depth += 1; defer { depth -= 1 }
            guard depth < 512 else { throw fail("nested too deeply") }
            pos += 1
            var items: [JSONValue] = []
            skipSpace()
            if pos < bytes.count, bytes[pos] == 0x5D { pos += 1; return .array(items) }
            while true {
                items.append(try value())
                skipSpace()
                guard pos < bytes.count else { throw fail("unterminated array") }
                if bytes[pos] == 0x2C { pos += 1; continue }
                if bytes[pos] == 0x5D { pos += 1; return .array(items) }
                throw fail("expected ',' or ']'")
            }
        case 0x74: try literal("true"); return .bool(true)
        case 0x66: try literal("false"); return .bool(false)
        case 0x6E: try literal("null"); return .null
        default: return try number()
        }
    }

    mutating func literal(_ word: StaticString) throws {
        let n = word.utf8CodeUnitCount
        guard pos + n <= bytes.count else { throw fail("unexpected end of file") }
        for i in 0..<n where bytes[pos + i] != word.utf8Start[i] { throw fail("unknown literal") }
        pos += n
    }

    mutating func number() throws -> JSONValue {
        let start = pos
        var isInt = true
        var neg = false
        if pos < bytes.count, bytes[pos] == 0x2D { neg = true; pos += 1 }
        var v = 0
        while pos < bytes.count {
            let c = bytes[pos]
            if c >= 0x30 && c <= 0x39 {
                if v < 1 << 50 { v = v * 10 + Int(c - 0x30) } else { isInt = false }
            } else if c == 0x2E || c == 0x65 || c == 0x45 || c == 0x2B || c == 0x2D {
                isInt = false
            } else { break }
            pos += 1
        }
        guard pos > start + (neg ? 1 : 0) else { throw fail("unexpected character") }
        if isInt { return .number(Double(neg ? -v : v)) }
        guard let d = Double(String(decoding: bytes[start..<pos], as: UTF8.self)) else { throw fail("bad number") }
        return .number(d)
    }

    mutating func string() throws -> String {
        pos += 1   // opening quote
        let start = pos
        // Fast path: no escapes.
        while pos < bytes.count, bytes[pos] != 0x22, bytes[pos] != 0x5C { pos += 1 }
        guard pos < bytes.count else { throw fail("unterminated string") }
        if bytes[pos] == 0x22 {
            defer { pos += 1 }
            return String(decoding: bytes[start..<pos], as: UTF8.self)
        }
        var out = Array(bytes[start..<pos])
        while true {
            guard pos < bytes.count else { throw fail("unterminated string") }
            let c = bytes[pos]
            if c == 0x22 { pos += 1; return String(decoding: out, as: UTF8.self) }
            if c != 0x5C { out.append(c); pos += 1; continue }
            guard pos + 1 < bytes.count else { throw fail("unterminated escape") }
            let e = bytes[pos + 1]
            pos += 2
            switch e {
            case 0x22, 0x5C, 0x2F: out.append(e)
            case 0x62: out.append(0x08)
            case 0x66: out.append(0x0C)
            case 0x6E: out.append(0x0A)
            case 0x72: out.append(0x0D)
            case 0x74: out.append(0x09)
            case 0x75:
                var u = try hex4()
                if (0xD800..<0xDC00).contains(u), pos + 1 < bytes.count, bytes[pos] == 0x5C, bytes[pos + 1] == 0x75 {
                    pos += 2
                    let low = try hex4()
                    if (0xDC00..<0xE000).contains(low) {
                        u = 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        out += Array("\u{FFFD}".utf8); u = low
                    }
                }
                let scalar = Unicode.Scalar(u) ?? "\u{FFFD}"
                out += Array(String(scalar).utf8)
            default: throw fail("unknown escape")
            }
        }
    }

    mutating func hex4() throws -> UInt32 {
        guard pos + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[pos..<(pos + 4)], as: UTF8.self), radix: 16) else {
            throw fail("bad \\u escape")
        }
        pos += 4
        return v
    }
}
