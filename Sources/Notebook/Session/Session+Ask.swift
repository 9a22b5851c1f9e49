// `ask`: a chat reply from the model, about an image (spliced through the projector) or
// about text alone, streamed to the display as it is generated.
import Llava

/// How to generate a reply (resolved from arguments and settings).
public struct ReplySettings: Sendable {
    public var sampling: SamplingParameters
    public var maxTokens: Int
}

extension Session {
    /// Sampling from the `ask` arguments, falling back to the session settings.
    public func replySettings(_ o: SamplingOptions) -> ReplySettings {
        let temp = bool(.greedy) && o.temperature == nil ? 0 : (o.temperature ?? double(.temp))
        return ReplySettings(sampling: SamplingParameters(temperature: Float(temp), topP: Float(o.topP ?? double(.topP)),
                                                          seed: UInt64(truncatingIfNeeded: o.seed ?? int(.seed))),
                             maxTokens: o.maxTokens ?? int(.max))
    }

    /// Asks `question`, about `image` when given; streams and returns the reply.
    @discardableResult
    public func ask(_ question: String, image: DigitImage?, settings r: ReplySettings) throws -> Generation {
        let m = try model()
        let tok = try m.requireTokenizer()
        let format = try chatFormat()
        let embeddings: [Float]
        let context = m.model.config.contextLength
        guard r.maxTokens >= 1 else { throw CommandError("max must be positive, got \(r.maxTokens)") }
        if let image {
            let p = try prompt(question: question)
            try Self.checkContext(promptTokens: p.prefixIDs.count + 1 + p.suffixIDs.count, maxTokens: r.maxTokens, context: context)
            let e = try currentProjector().forward(image.normalized()).embeddings
            embeddings = m.model.embed(p.prefixIDs) + p.rowsAfterPrefix(model: m.model, image: e)
        } else {
            let text = format.render(messages: [ChatMessage(role: "user", content: question)], addGenerationPrompt: true)
            var ids = tok.encode(text, parseSpecial: true)
            if format == .plain, tok.addsBOSByDefault, let bos = tok.bosID { ids.insert(bos, at: 0) }
            try Self.checkContext(promptTokens: ids.count, maxTokens: r.maxTokens, context: context)
            embeddings = m.model.embed(ids)
        }
        var stream = StreamingDecoder()
        let stops = format.stopTokens(tok).union(tok.eosID.map { [$0] } ?? []).union(m.model.config.eosIDs)
        let gen = try m.model.generate(embeddings: embeddings, maxTokens: r.maxTokens, stopTokens: stops, sampling: r.sampling) { id in
            if !tok.isSpecial(id) { display.partial(stream.append(tok.tokenBytes(id))) }
            return true
        }
        display.line(stream.flush())
        return gen
    }
}
