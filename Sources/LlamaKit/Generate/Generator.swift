// The generation loop: prefill the prompt in one forward call, then one token at a time
// with the KV cache, streaming each id to a callback until a stop token or the limit.

/// Why generation ended.
public enum StopReason: String, Sendable { case stopToken = "stop", maxTokens = "length", callback = "cancelled" }

/// The tokens generated for one prompt.
public struct Generation: Sendable {
    /// New ids, including the stop token when one ended the reply.
    public var ids: [Int]
    public var stopReason: StopReason
    /// Prompt positions and timing, for `time` and `bench`.
    public var promptTokens: Int
    public var promptSeconds: Double
    public var generateSeconds: Double
}

extension LlamaModel {
    /// Generates up to `maxTokens` ids after a prompt given as input embeddings
    /// ([n × dim], so an image can sit among the token rows). `onToken` sees each id as it
    /// comes and may return false to stop.
    public func generate(embeddings: [Float], cache: KVCache? = nil, maxTokens: Int, stopTokens: Set<Int>,
                         sampling: SamplingParameters, onToken: (Int) -> Bool = { _ in true }) throws -> Generation {
        let cache = cache ?? KVCache(config: config, capacity: embeddings.count / config.dim + maxTokens)
        var sampler = Sampler(sampling)
        let n = embeddings.count / config.dim
        let t0 = Clock.now()
        var logits = try forward(embeddings, cache: cache, logitRows: [n - 1])
        let t1 = Clock.now()
        var ids: [Int] = []
        var reason = StopReason.maxTokens
        while ids.count < maxTokens {
            let next = logits.withUnsafeBufferPointer { sampler.sample($0) }
            ids.append(next)
            let goOn = onToken(next)
            if stopTokens.contains(next) { reason = .stopToken; break }
            if !goOn { reason = .callback; break }
            if ids.count == maxTokens { break }
            try Interrupt.check()
            logits = try forward(embed([next]), cache: cache, logitRows: [0])
        }
        return Generation(ids: ids, stopReason: reason, promptTokens: n, promptSeconds: t1 - t0, generateSeconds: Clock.now() - t1)
    }

    /// Generates after a prompt of token ids.
    public func generate(tokens: [Int], maxTokens: Int, stopTokens: Set<Int>, sampling: SamplingParameters,
                         onToken: (Int) -> Bool = { _ in true }) throws -> Generation {
        try generate(embeddings: embed(tokens), maxTokens: maxTokens, stopTokens: stopTokens, sampling: sampling, onToken: onToken)
    }
}

/// Monotonic seconds.
public enum Clock {
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}

#if canImport(Glibc)
import Glibc
#endif
