// Where the rows of one forward call sit in the KV cache. A row has a RoPE position, a cache
// slot for its key/value, and sees the slots [0, shared) ∪ [ownStart, slot]: a shared prompt
// prefix plus its own sequence so far. One sequence is the plain case; a batch of sequences
// after one shared prefix (training and evaluation examples all start with the same prompt
// text) runs as one set of matrix products.

/// The cache placement and visibility of each row of a forward call.
public struct RowLayout: Sendable, Equatable {
    /// Slots [0, shared) are visible to every row.
    public var shared: Int
    public var positions: [Int]
    public var slots: [Int]
    public var ownStarts: [Int]

    public var rows: Int { slots.count }

    /// `rows` rows continuing one sequence that already has `start` cached positions.
    public static func sequence(start: Int, rows: Int) -> RowLayout {
        RowLayout(shared: 0, positions: Array(start..<(start + rows)), slots: Array(start..<(start + rows)),
                  ownStarts: Array(repeating: 0, count: rows))
    }

    /// Sequences after a shared prefix of `prefix` positions; sequence s owns the slots
    /// `prefix + s·stride …`, has `done[s]` positions stored and adds `new[s]` rows
    /// (rows are ordered sequence by sequence).
    public static func batch(prefix: Int, stride: Int, done: [Int], new: [Int]) -> RowLayout {
        var l = RowLayout(shared: prefix, positions: [], slots: [], ownStarts: [])
        for s in done.indices {
            let start = prefix + s * stride
            precondition(done[s] + new[s] <= stride, "sequence \(s) outgrows its cache region")
            for k in done[s]..<(done[s] + new[s]) {
                l.positions.append(prefix + k)
                l.slots.append(start + k)
                l.ownStarts.append(start)
            }
        }
        return l
    }

    /// Number of slots row `r` attends to.
    @inline(__always) func visible(_ r: Int) -> Int { shared + slots[r] - ownStarts[r] + 1 }
    /// The slot of the `t`-th visible position of row `r`.
    @inline(__always) func slot(_ r: Int, _ t: Int) -> Int { t < shared ? t : ownStarts[r] + (t - shared) }

    var maxVisible: Int { (0..<rows).map(visible).max() ?? 0 }
    var endSlot: Int { (slots.max() ?? -1) + 1 }
    var endPosition: Int { (positions.max() ?? -1) + 1 }
}
