// Next-token choice: greedy (argmax, first index on ties, as torch.argmax) or sampled with
// temperature, top-k and top-p (nucleus), from a seeded generator so a reply is reproducible.

/// How to pick the next token.
public struct SamplingParameters: Sendable, Equatable {
    /// 0 means greedy.
    public var temperature: Float
    /// Keep only the k most likely tokens (0 = no limit).
    public var topK: Int
    /// Keep the smallest set of tokens whose probability reaches p (1 = no limit).
    public var topP: Float
    public var seed: UInt64

    public init(temperature: Float = 0, topK: Int = 0, topP: Float = 1, seed: UInt64 = 0) {
        self.temperature = temperature; self.topK = topK; self.topP = topP; self.seed = seed
    }

    public static let greedy = SamplingParameters()
    /// The seed's evaluation setting: temperature 0.6, top-p 0.9.
    public static func seedEval(seed: UInt64) -> SamplingParameters {
        SamplingParameters(temperature: 0.6, topP: 0.9, seed: seed)
    }
}

/// A stateful sampler (its generator advances with every sampled token).
public struct Sampler: Sendable {
    public let parameters: SamplingParameters
    private var rng: SeededRandom

    public init(_ parameters: SamplingParameters) {
        self.parameters = parameters
        rng = SeededRandom(seed: parameters.seed)
    }

    /// The index of the largest logit (the first one on ties).
    public static func argmax(_ logits: UnsafeBufferPointer<Float>) -> Int {
        var best = 0
        var bestValue = -Float.infinity
        for i in 0..<logits.count where logits[i] > bestValue { best = i; bestValue = logits[i] }
        return best
    }

    /// Picks a token id from one row of logits.
    public mutating func sample(_ logits: UnsafeBufferPointer<Float>) -> Int {
        let p = parameters
        if p.temperature <= 0 { return Self.argmax(logits) }
        let maxLogit = logits.max() ?? 0
        let invT = 1 / p.temperature
        // Tokens far below the maximum can never be picked within top-p < 1; skipping them keeps
        // the sort small on a 128k vocabulary. exp(-30) ≈ 1e-13 of the top token's weight.
        var candidates: [(id: Int, weight: Float)] = []
        candidates.reserveCapacity(256)
        for i in 0..<logits.count {
            let z = (logits[i] - maxLogit) * invT
            if z > -30 { candidates.append((i, expf(z))) }
        }
        candidates.sort { $0.weight > $1.weight || ($0.weight == $1.weight && $0.id < $1.id) }
        if p.topK > 0 && candidates.count > p.topK { candidates.removeLast(candidates.count - p.topK) }
        let total = candidates.reduce(Float(0)) { $0 + $1.weight }
        if p.topP < 1 {
            var cum: Float = 0
            var keep = candidates.count
            for (k, c) in candidates.enumerated() {
                cum += c.weight / total
                if cum >= p.topP { keep = k + 1; break }
            }
            candidates.removeLast(candidates.count - keep)
        }
        let kept = candidates.reduce(Float(0)) { $0 + $1.weight }
        var r = rng.nextFloat() * kept
        for c in candidates {
            r -= c.weight
            if r < 0 { return c.id }
        }
        return candidates.last!.id
    }
}

#if canImport(Glibc)
import Glibc
#endif
