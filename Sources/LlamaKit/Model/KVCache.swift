// Keys and values of every position seen so far, per layer, so each new token attends to
// the past without recomputing it. Truncating `count` reuses a shared prefix: the multimodal
// prompt's text before `<image>` is computed once and kept for every example.

/// Per-layer key/value storage for one sequence.
public final class KVCache: @unchecked Sendable {
    public let layers: Int
    public let kvDim: Int
    /// Positions stored.
    public var count: Int = 0
    public private(set) var capacity: Int
    let maxCapacity: Int
    private(set) var keys: [UnsafeMutablePointer<Float>]
    private(set) var values: [UnsafeMutablePointer<Float>]

    public init(config: LlamaConfig, capacity: Int = 256) {
        layers = config.layers
        kvDim = config.kvDim
        maxCapacity = config.contextLength
        self.capacity = max(1, min(capacity, config.contextLength))
        keys = (0..<layers).map { _ in .allocate(capacity: 1) }
        values = (0..<layers).map { _ in .allocate(capacity: 1) }
        allocate(self.capacity, keep: 0)
    }

    deinit {
        keys.forEach { $0.deallocate() }
        values.forEach { $0.deallocate() }
    }

    /// Makes room for `total` positions, growing geometrically.
    func reserve(_ total: Int) throws {
        guard total <= maxCapacity else {
            throw FormatError("context", "the sequence needs \(total) positions but the model's context is \(maxCapacity)")
        }
        if total > capacity { allocate(min(maxCapacity, max(total, capacity * 2)), keep: count) }
    }

    private func allocate(_ newCapacity: Int, keep: Int) {
        for l in 0..<layers {
            let k = UnsafeMutablePointer<Float>.allocate(capacity: newCapacity * kvDim)
            let v = UnsafeMutablePointer<Float>.allocate(capacity: newCapacity * kvDim)
            k.update(from: keys[l], count: keep * kvDim)
            v.update(from: values[l], count: keep * kvDim)
            keys[l].deallocate(); values[l].deallocate()
            keys[l] = k; values[l] = v
        }
        capacity = newCapacity
    }

    /// Forgets everything after the first `n` positions.
    public func truncate(to n: Int) { count = min(count, n) }

    /// A copy holding the same positions (to branch from a shared prefix).
    public func copy() -> KVCache {
        let c = KVCache(layers: layers, kvDim: kvDim, maxCapacity: maxCapacity, capacity: max(count, 1))
        for l in 0..<layers {
            c.keys[l].update(from: keys[l], count: count * kvDim)
            c.values[l].update(from: values[l], count: count * kvDim)
        }
        c.count = count
        return c
    }

    private init(layers: Int, kvDim: Int, maxCapacity: Int, capacity: Int) {
        self.layers = layers; self.kvDim = kvDim; self.maxCapacity = maxCapacity; self.capacity = capacity
        keys = (0..<layers).map { _ in .allocate(capacity: capacity * kvDim) }
        values = (0..<layers).map { _ in .allocate(capacity: capacity * kvDim) }
    }
}
