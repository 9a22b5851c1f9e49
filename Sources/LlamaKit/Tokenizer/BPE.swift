// Byte-level BPE (GPT-2 style), as used by SmolLM2 and Llama 3, plus the two pieces both BPE
// tokenizers share: the merge engine and the added-token matcher.
//
// Encoding: split off added/special tokens → pre-tokenize (PreTokenizer.swift) → map each byte of
// a word to its single-byte token → repeatedly merge the adjacent pair with the lowest merge
// rank. Merges are looked up by a packed pair of token ids, so no strings are built while encoding.

/// A token added on top of the BPE vocabulary (e.g. `<|im_start|>`), matched whole in the text.
public struct AddedToken: Sendable, Equatable {
    public var id: Int
    public var content: String
    /// Special tokens are matched only when encoding with `parseSpecial`, and skipped by
    /// `decode(_:skipSpecial: true)`; non-special added tokens are always matched.
    public var special: Bool
    public init(id: Int, content: String, special: Bool) {
        self.id = id; self.content = content; self.special = special
    }
}

/// GPT-2's reversible map between bytes and printable characters: bytes that are printable
/// Latin-1 stand for themselves, the other 68 are shifted to U+0100 and up (space → `Ġ`, \n → `Ċ`).
enum ByteAlphabet {
    static let scalarOfByte: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var shifted: UInt32 = 256
        for b in 0..<256 {
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            if printable { table[b] = UInt32(b) } else { table[b] = shifted; shifted += 1 }
        }
        return table
    }()

    /// Inverse of `scalarOfByte`, indexed by scalar value (all values are below 324).
    static let byteOfScalar: [Int16] = {
        var table = [Int16](repeating: -1, count: 324)
        for b in 0..<256 { table[Int(scalarOfByte[b])] = Int16(b) }
        return table
    }()

    /// The raw bytes a byte-level piece stands for, or nil if it uses characters outside the alphabet.
    static func bytes(of piece: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(piece.utf8.count)
        for s in piece.unicodeScalars {
            guard s.value < 324, case let b = byteOfScalar[Int(s.value)], b >= 0 else { return nil }
            out.append(UInt8(b))
        }
        return out
    }

    /// The byte-level piece for raw bytes (the inverse of `bytes(of:)`).
    static func piece(of bytes: some Sequence<UInt8>) -> String {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(Unicode.Scalar(scalarOfByte[Int(b)])!) }
        return String(s)
    }
}

/// Vocabulary lookup by exact UTF-8 bytes: an open-addressing hash table over one flat byte
/// buffer. Swift's `[String: Int]` hashes the Unicode-normalized form, which is slow for byte-level
/// pieces (`Ġ…` is non-ASCII) and made loading Llama 3's 128k pieces + 280k merges take ~0.7 s.
/// Comparing exact bytes is also what Hugging Face does.
struct PieceIndex: Sendable {
    private var storage: [UInt8] = []
    private var ranges: [(start: Int32, end: Int32, id: Int32)] = []
    /// Each slot: the upper 32 bits of the hash, then the entry number (all ones when empty).
    /// The hash tag lets a probe skip other entries without touching `ranges` or `storage`.
    private var slots: [UInt64]
    private let mask: Int

    /// Indexes `entries` (piece, id); the first entry for a piece wins. Empty pieces are skipped.
    init(_ entries: [(String, Int)]) {
        var size = 16
        while size < entries.count * 2 { size <<= 1 }
        slots = [UInt64](repeating: .max, count: size)
        mask = size - 1
        storage.reserveCapacity(entries.count * 8)
        ranges.reserveCapacity(entries.count)
        for (piece, id) in entries where !piece.isEmpty {
            var p = piece
            p.withUTF8 { buf in
                let h = Self.hash(buf), tag = h & 0xFFFF_FFFF_0000_0000
                var slot = Int(truncatingIfNeeded: h) & mask
                while slots[slot] != .max {
                    if slots[slot] & 0xFFFF_FFFF_0000_0000 == tag, equal(Int(slots[slot] & 0xFFFF_FFFF), buf) { return }
                    slot = (slot + 1) & mask
                }
                let start = Int32(storage.count)
                storage.append(contentsOf: buf)
                slots[slot] = tag | UInt64(ranges.count)
                ranges.append((start, Int32(storage.count), Int32(id)))
            }
        }
    }

    @inline(__always)
    static func hash(_ b: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325   // FNV-1a, then a final mix so every bit depends on every byte
        for x in b { h = (h ^ UInt64(x)) &* 0x100_0000_01b3 }
        h ^= h >> 29; h &*= 0xbf58_476d_1ce4_e5b9; h ^= h >> 32
        return h
    }

    @inline(__always)
    private func equal(_ entry: Int, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        let r = ranges[entry]
        guard Int(r.end - r.start) == b.count else { return false }
        var i = Int(r.start)
        for x in b { if storage[i] != x { return false }; i += 1 }
        return true
    }

    /// The id of the piece with exactly these bytes, or -1.
    func id(_ b: UnsafeBufferPointer<UInt8>) -> Int32 {
        let h = Self.hash(b), tag = h & 0xFFFF_FFFF_0000_0000
        var slot = Int(truncatingIfNeeded: h) & mask
        while slots[slot] != .max {
            let e = Int(slots[slot] & 0xFFFF_FFFF)
            if slots[slot] & 0xFFFF_FFFF_0000_0000 == tag, equal(e, b) { return ranges[e].id }
            slot = (slot + 1) & mask
        }
        return -1
    }

    func id(_ piece: String) -> Int? {
        var p = piece
        let v = p.withUTF8 { id($0) }
        return v >= 0 ? Int(v) : nil
    }
}

/// Merge rules in rank order, in either of the two spellings model files use.
public enum MergeRules: Sendable {
    /// "left right", split at the first space (GGUF, older tokenizer.json).
    case joined([String])
    /// ["left", "right"] (newer tokenizer.json; pieces may contain spaces).
    case pairs([(String, String)])

    public var count: Int {
        switch self { case .joined(let l): return l.count; case .pairs(let l): return l.count }
    }
}

/// Merge ranks keyed by a packed pair of token ids: `left << 32 | right` → `rank << 32 | result`.
/// Packing rank above result means comparing values compares ranks first.
struct MergeTable: Sendable {
    private var table: [UInt64: UInt64] = [:]

    var isEmpty: Bool { table.isEmpty }
    var count: Int { table.count }

    init(capacity: Int = 0) { table.reserveCapacity(capacity) }

    /// Records that `left right` merges into `result` with this rank; the first (lowest) rank wins.
    mutating func add(left: Int, right: Int, result: Int, rank: Int) {
        let key = UInt64(UInt32(left)) << 32 | UInt64(UInt32(right))
        if table[key] == nil { table[key] = UInt64(UInt32(rank)) << 32 | UInt64(UInt32(result)) }
    }

    /// Adds the rule `left right` (as UTF-8), looking the pieces and their concatenation up in
    /// `index`; rules naming unknown pieces are skipped. `scratch` is reused between calls.
    mutating func add(left: UnsafeBufferPointer<UInt8>, right: UnsafeBufferPointer<UInt8>, rank: Int,
                      index: PieceIndex, scratch: inout [UInt8]) {
        let l = index.id(left), r = index.id(right)
        guard l >= 0, r >= 0 else { return }
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: left)
        scratch.append(contentsOf: right)
        let m = scratch.withUnsafeBufferPointer { index.id($0) }
        if m >= 0 { add(left: Int(l), right: Int(r), result: Int(m), rank: rank) }
    }

    /// A table from rules in rank order: pairs of pieces, or single strings "left right" (split at
    /// the first space, the format of GGUF files and older tokenizer.json files).
    init(rules: MergeRules, index: PieceIndex) {
        self.init(capacity: rules.count)
        var scratch: [UInt8] = []
        switch rules {
        case .joined(let list):
            for (rank, rule) in list.enumerated() {
                var s = rule
                s.withUTF8 { buf in
                    guard let sp = buf.firstIndex(of: 0x20) else { return }
                    add(left: UnsafeBufferPointer(rebasing: buf[..<sp]), right: UnsafeBufferPointer(rebasing: buf[(sp + 1)...]),
                        rank: rank, index: index, scratch: &scratch)
                }
            }
        case .pairs(let list):
            for (rank, (a, b)) in list.enumerated() {
                var a = a, b = b
                a.withUTF8 { ab in b.withUTF8 { bb in add(left: ab, right: bb, rank: rank, index: index, scratch: &scratch) } }
            }
        }
    }

    @inline(__always)
    func lookup(_ a: Int32, _ b: Int32) -> UInt64? {
        table[UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))]
    }

    /// Applies merges to `s` until none applies: always the lowest rank, leftmost on ties
    /// (the same order as Hugging Face's heap of (rank, position)).
    func apply(_ s: inout [Int32]) {
        guard s.count >= 2, !table.isEmpty else { return }
        if s.count <= 64 { applySmall(&s) } else { applyLarge(&s) }
    }

    /// Short words: keep the value of each adjacent pair in an array and scan it for the minimum.
    /// O(n²) in the worst case, but n is small and there is no allocation beyond one array.
    func applySmall(_ s: inout [Int32]) {
        var pair = [UInt64](repeating: .max, count: s.count - 1)
        for i in 0..<pair.count { pair[i] = lookup(s[i], s[i + 1]) ?? .max }
        while !pair.isEmpty {
            var best = UInt64.max, at = -1
            for i in 0..<pair.count where pair[i] < best { best = pair[i]; at = i }
            guard at >= 0 else { break }
            s[at] = Int32(truncatingIfNeeded: best & 0xFFFF_FFFF)
            s.remove(at: at + 1)
            pair.remove(at: at)
            if at > 0 { pair[at - 1] = lookup(s[at - 1], s[at]) ?? .max }
            if at < pair.count { pair[at] = lookup(s[at], s[at + 1]) ?? .max }
        }
    }

    /// Long words (say, a 100 KB run of letters): a doubly linked list and a binary min-heap of
    /// (rank, position), with stale entries skipped when popped. O(n log n).
    func applyLarge(_ s: inout [Int32]) {
        let n = s.count
        var ids = s
        var prev = [Int32](unsafeUninitializedCapacity: n) { b, c in for i in 0..<n { b[i] = Int32(i - 1) }; c = n }
        var next = [Int32](unsafeUninitializedCapacity: n) { b, c in for i in 0..<n { b[i] = i + 1 < n ? Int32(i + 1) : -1 }; c = n }
        var heap = MinHeap()
        for i in 0..<(n - 1) {
            if let v = lookup(ids[i], ids[i + 1]) { heap.push((v & 0xFFFF_FFFF_0000_0000) | UInt64(i)) }
        }
        while let top = heap.pop() {
            let pos = Int(top & 0xFFFF_FFFF), rank = top >> 32
            let nx = Int(next[pos])
            guard ids[pos] >= 0, nx >= 0, let v = lookup(ids[pos], ids[nx]), v >> 32 == rank else { continue }
            ids[pos] = Int32(truncatingIfNeeded: v & 0xFFFF_FFFF)
            ids[nx] = -1
            let after = Int(next[nx])
            next[pos] = Int32(after)
            if after >= 0 { prev[after] = Int32(pos) }
            let before = Int(prev[pos])
            if before >= 0, let w = lookup(ids[before], ids[pos]) { heap.push((w & 0xFFFF_FFFF_0000_0000) | UInt64(before)) }
            if after >= 0, let w = lookup(ids[pos], ids[after]) { heap.push((w & 0xFFFF_FFFF_0000_0000) | UInt64(pos)) }
        }
        // Position 0 is never the right half of a merge, so it is alive and heads the list.
        s.removeAll(keepingCapacity: true)
        var i = 0
        while i >= 0 { s.append(ids[i]); i = Int(next[i]) }
    }
}

/// A binary min-heap of packed UInt64 keys.
private struct MinHeap {
    private var a: [UInt64] = []
    mutating func push(_ x: UInt64) {
        a.append(x)
        var i = a.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if a[p] <= a[i] { break }
            a.swapAt(p, i); i = p
        }
    }
    mutating func pop() -> UInt64? {
        guard let top = a.first else { return nil }
        let last = a.removeLast()
        if !a.isEmpty {
            a[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < a.count && a[l] < a[m] { m = l }
                if r < a.count && a[r] < a[m] { m = r }
                if m == i { break }
                a.swapAt(i, m); i = m
            }
        }
        return top
    }
}

/// Finds added tokens written in text: leftmost match first, and the longest at that position
/// (so `<|im_start|>` is not cut short by a shorter token sharing its prefix).
struct AddedTokenMatcher: Sendable {
    enum Segment { case text(Range<Int>), token(Int) }
    private struct Entry: Sendable { let bytes: [UInt8]; let id: Int; let special: Bool }
    /// Candidates by first byte, longest first.
    private var byFirst: [[Entry]] = Array(repeating: [], count: 256)
    private(set) var isEmpty = true

    init(_ tokens: [AddedToken]) {
        for t in tokens where !t.content.isEmpty {
            let b = Array(t.content.utf8)
            byFirst[Int(b[0])].append(Entry(bytes: b, id: t.id, special: t.special))
            isEmpty = false
        }
        for i in 0..<256 where byFirst[i].count > 1 { byFirst[i].sort { $0.bytes.count > $1.bytes.count } }
    }

    /// Splits `b` into plain-text ranges and added-token ids. Special tokens count only with
    /// `parseSpecial`; non-special added tokens always do.
    func segments(_ b: UnsafeBufferPointer<UInt8>, parseSpecial: Bool) -> [Segment] {
        if isEmpty { return b.isEmpty ? [] : [.text(0..<b.count)] }
        var out: [Segment] = []
        var textStart = 0, i = 0
        scan: while i < b.count {
            for e in byFirst[Int(b[i])] where (parseSpecial || !e.special) && i + e.bytes.count <= b.count {
                var k = 1
                while k < e.bytes.count && b[i + k] == e.bytes[k] { k += 1 }
                if k == e.bytes.count {
                    if textStart < i { out.append(.text(textStart..<i)) }
                    out.append(.token(e.id))
                    i += k; textStart = i
                    continue scan
                }
            }
            i += 1
        }
        if textStart < b.count { out.append(.text(textStart..<b.count)) }
        return out
    }
}

/// Byte-level BPE over the GPT-2 byte alphabet (SmolLM2, Llama 3, GPT-2).
///
/// Bytes with no single-byte token in the vocabulary are dropped, as Hugging Face's BPE does
/// when there is no unknown token. Without merges (tiny test models) every byte is its own token.
public final class BPETokenizer: Tokenizer {
    public let vocabSize: Int
    public let bosID: Int?
    public let eosID: Int?
    public let addsBOSByDefault: Bool
    public let chatTemplate: String?
    /// The split rule applied before merging.
    public let preTokenizer: PreTokenizerKind
    /// Number of merges in use.
    public var mergeCount: Int { merges.count }

    private let pieces: [String]
    private let bytesOfID: [[UInt8]]
    private let specialFlags: [Bool]
    private let index: PieceIndex
    private let byteID: [Int32]
    let merges: MergeTable
    private let added: AddedTokenMatcher
    private let ignoreMerges: Bool

    /// - Parameters:
    ///   - pieces: the vocabulary in id order, as byte-level strings (`Ġdigit`). Added tokens may
    ///     also appear here; their entry in `addedTokens` decides how they are treated.
    ///   - merges: merge rules in rank order. Rules naming unknown pieces are skipped.
    ///   - addedTokens: tokens matched whole in the text (ids may lie beyond `pieces`).
    ///   - ignoreMerges: take a word that is itself in the vocabulary as one token without merging.
    public init(pieces: [String], merges: MergeRules, addedTokens: [AddedToken],
                preTokenizer: PreTokenizerKind, bosID: Int?, eosID: Int?, addsBOSByDefault: Bool,
                ignoreMerges: Bool = false, chatTemplate: String? = nil) {
        let size = max(pieces.count, (addedTokens.map(\.id).max() ?? -1) + 1)
        var pieceList = pieces + Array(repeating: "", count: size - pieces.count)
        var bytes = [[UInt8]](repeating: [], count: size)
        var special = [Bool](repeating: false, count: size)
        for (id, p) in pieces.enumerated() { bytes[id] = ByteAlphabet.bytes(of: p) ?? Array(p.utf8) }
        for t in addedTokens where t.id >= 0 {
            pieceList[t.id] = t.content
            bytes[t.id] = Array(t.content.utf8)
            special[t.id] = t.special
        }
        // Added tokens first: their id wins over a vocabulary entry with the same text.
        let index = PieceIndex(addedTokens.map { ($0.content, $0.id) } + pieces.enumerated().map { ($1, $0) })
        var byteID = [Int32](repeating: -1, count: 256)
        for b in 0..<256 {
            byteID[b] = Int32(index.id(String(Unicode.Scalar(ByteAlphabet.scalarOfByte[b])!)) ?? -1)
        }
        vocabSize = size
        self.pieces = pieceList
        self.bytesOfID = bytes
        self.specialFlags = special
        self.index = index
        self.byteID = byteID
        self.merges = MergeTable(rules: merges, index: index)
        self.added = AddedTokenMatcher(addedTokens)
        self.preTokenizer = preTokenizer
        self.bosID = bosID
        self.eosID = eosID
        self.addsBOSByDefault = addsBOSByDefault
        self.ignoreMerges = ignoreMerges
        self.chatTemplate = chatTemplate
    }

    public func encode(_ text: String, parseSpecial: Bool) -> [Int] {
        var text = text
        return text.withUTF8 { buf in
            var out: [Int] = []
            out.reserveCapacity(buf.count / 3 + 1)
            var pre = PreTokenizer(preTokenizer)
            // Per call, not shared: no lock needed, and repeated words in a long text hit it.
            var cache: [ArraySlice<UInt8>: [Int32]] = [:]
            var symbols: [Int32] = []
            for seg in added.segments(buf, parseSpecial: parseSpecial) {
                switch seg {
                case .token(let id): out.append(id)
                case .text(let r):
                    let base = r.lowerBound
                    for w in pre.split(UnsafeBufferPointer(rebasing: buf[r])) {
                        let word = buf[(base + w.lowerBound)..<(base + w.upperBound)]
                        if word.count == 1 {
                            let id = byteID[Int(word.first!)]
                            if id >= 0 { out.append(Int(id)) }
                            continue
                        }
                        let key = ArraySlice(word)
                        if let hit = cache[key] { for id in hit { out.append(Int(id)) }; continue }
                        encodeWord(word, into: &symbols)
                        cache[key] = symbols
                        for id in symbols { out.append(Int(id)) }
                    }
                }
            }
            return out
        }
    }

    /// BPE on one pre-token's bytes.
    private func encodeWord(_ word: Slice<UnsafeBufferPointer<UInt8>>, into s: inout [Int32]) {
        s.removeAll(keepingCapacity: true)
        if ignoreMerges, let id = index.id(ByteAlphabet.piece(of: word)) { s.append(Int32(id)); return }
        for b in word {
            let id = byteID[Int(b)]
            if id >= 0 { s.append(id) }
        }
        merges.apply(&s)
    }

    public func tokenBytes(_ id: Int) -> [UInt8] { id >= 0 && id < vocabSize ? bytesOfID[id] : [] }
    public func tokenPiece(_ id: Int) -> String { id >= 0 && id < vocabSize ? pieces[id] : "" }
    public func tokenID(_ piece: String) -> Int? { index.id(piece) }
    public func isSpecial(_ id: Int) -> Bool { id >= 0 && id < vocabSize && specialFlags[id] }
}
