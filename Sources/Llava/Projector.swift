// The vision encoder of llava-mnist: one Linear(784 → d_model) with bias, mapping a
// normalized 28×28 digit to one input embedding of the frozen Llama (the seed's
// `input_layer`). As a teaching comparison, a LLaVA-1.5-style two-layer GELU MLP.
import Foundation

/// Which projector architecture.
public enum ProjectorKind: String, Sendable, CaseIterable {
    /// e = W·x + b (the seed).
    case linear
    /// e = W2·gelu(W1·x + b1) + b2 (LLaVA-1.5's projector shape).
    case mlp
}

/// A named float32 tensor of the projector (its safetensors key and PyTorch-order shape).
public struct Parameter: Sendable {
    public let name: String
    public let shape: [Int]
    public var values: [Float]
}

/// The trainable image → embedding map.
public struct Projector: Sendable {
    public static let inputSize = 784
    public let kind: ProjectorKind
    /// d_model of the LLM it feeds.
    public let outputSize: Int
    public let hiddenSize: Int
    /// linear: [input_layer.weight [d,784], input_layer.bias [d]];
    /// mlp: [..linear_1.weight [h,784], ..linear_1.bias, ..linear_2.weight [d,h], ..linear_2.bias].
    public var parameters: [Parameter]

    /// A freshly initialized projector, like PyTorch's `nn.Linear`: weight and bias uniform in
    /// ±1/√fan_in, drawn from a seeded generator.
    public init(kind: ProjectorKind = .linear, outputSize: Int, hiddenSize: Int? = nil, seed: UInt64 = 0) {
        self.kind = kind
        self.outputSize = outputSize
        self.hiddenSize = kind == .mlp ? (hiddenSize ?? outputSize) : 0
        var rng = SeededRandom(seed: seed)
        func uniform(_ count: Int, fanIn: Int) -> [Float] {
            let bound = 1 / Float(fanIn).squareRoot()
            return (0..<count).map { _ in (rng.nextFloat() * 2 - 1) * bound }
        }
        let n = Self.inputSize
        switch kind {
        case .linear:
            parameters = [Parameter(name: "input_layer.weight", shape: [outputSize, n], values: uniform(outputSize * n, fanIn: n)),
                          Parameter(name: "input_layer.bias", shape: [outputSize], values: uniform(outputSize, fanIn: n))]
        case .mlp:
            let h = self.hiddenSize
            parameters = [Parameter(name: "input_layer.linear_1.weight", shape: [h, n], values: uniform(h * n, fanIn: n)),
                          Parameter(name: "input_layer.linear_1.bias", shape: [h], values: uniform(h, fanIn: n)),
                          Parameter(name: "input_layer.linear_2.weight", shape: [outputSize, h], values: uniform(outputSize * h, fanIn: h)),
                          Parameter(name: "input_layer.linear_2.bias", shape: [outputSize], values: uniform(outputSize, fanIn: h))]
        }
    }

    /// A linear projector with the given weight [d × 784] and bias [d].
    public init(weight: [Float], bias: [Float]) {
        kind = .linear
        outputSize = bias.count
        hiddenSize = 0
        precondition(weight.count == bias.count * Self.inputSize, "weight must be [d × 784]")
        parameters = [Parameter(name: "input_layer.weight", shape: [bias.count, Self.inputSize], values: weight),
                      Parameter(name: "input_layer.bias", shape: [bias.count], values: bias)]
    }

    /// The intermediate values `backward` needs.
    public struct Activations: Sendable {
        let x: [Float]
        let hidden: [Float]   // mlp only: pre-activation W1·x + b1
        let act: [Float]      // mlp only: gelu(hidden)
    }

    /// Embeddings for a batch of normalized images ([B × 784] → [B × d]).
    public func forward(_ x: [Float]) -> (embeddings: [Float], saved: Activations) {
        let b = x.count / Self.inputSize
        switch kind {
        case .linear:
            let e = affine(x, rows: b, w: parameters[0].values, bias: parameters[1].values, outSize: outputSize, inSize: Self.inputSize)
            return (e, Activations(x: x, hidden: [], act: []))
        case .mlp:
            let h = affine(x, rows: b, w: parameters[0].values, bias: parameters[1].values, outSize: hiddenSize, inSize: Self.inputSize)
            let a = h.map(gelu)
            let e = affine(a, rows: b, w: parameters[2].values, bias: parameters[3].values, outSize: outputSize, inSize: hiddenSize)
            return (e, Activations(x: x, hidden: h, act: a))
        }
    }

    /// Gradients of every parameter (same order and shapes) given dL/d(embeddings) [B × d].
    public func backward(_ dE: [Float], saved: Activations) -> [[Float]] {
        let b = dE.count / outputSize
        switch kind {
        case .linear:
            return affineBackward(dE, input: saved.x, rows: b, outSize: outputSize, inSize: Self.inputSize)
        case .mlp:
            let g2 = affineBackward(dE, input: saved.act, rows: b, outSize: outputSize, inSize: hiddenSize)
            var dAct = [Float](repeating: 0, count: b * hiddenSize)
            // dAct = dE · W2
            BLAS.sgemm(m: b, n: hiddenSize, k: outputSize, dE, lda: outputSize, parameters[2].values, ldb: hiddenSize,
                       &dAct, ldc: hiddenSize)
            let dHidden = zip(dAct, saved.hidden).map { $0 * geluDerivative($1) }
            let g1 = affineBackward(dHidden, input: saved.x, rows: b, outSize: hiddenSize, inSize: Self.inputSize)
            return g1 + g2
        }
    }
}

/// y[rows × out] = x[rows × in] · Wᵀ + bias
func affine(_ x: [Float], rows: Int, w: [Float], bias: [Float], outSize: Int, inSize: Int) -> [Float] {
    var y = [Float](repeating: 0, count: rows * outSize)
    for r in 0..<rows { for o in 0..<outSize { y[r * outSize + o] = bias[o] } }
    BLAS.sgemm(transB: true, m: rows, n: outSize, k: inSize, x, lda: inSize, w, ldb: inSize, beta: 1, &y, ldc: outSize)
    return y
}

/// [dW = dyᵀ·x, db = Σ dy] for `affine`.
func affineBackward(_ dy: [Float], input x: [Float], rows: Int, outSize: Int, inSize: Int) -> [[Float]] {
    var dw = [Float](repeating: 0, count: outSize * inSize)
    BLAS.sgemm(transA: true, m: outSize, n: inSize, k: rows, dy, lda: outSize, x, ldb: inSize, &dw, ldc: inSize)
    var db = [Float](repeating: 0, count: outSize)
    for r in 0..<rows { for o in 0..<outSize { db[o] += dy[r * outSize + o] } }
    return [dw, db]
}

/// Exact (erf) GELU, as PyTorch's default and LLaVA's projector.
@inline(__always) func gelu(_ x: Float) -> Float { 0.5 * x * (1 + erf(x * Float(0.5).squareRoot())) }

@inline(__always) func geluDerivative(_ x: Float) -> Float {
    let cdf: Float = 0.5 * (1 + erf(x * Float(0.5).squareRoot()))
    let pdf: Float = expf(-0.5 * x * x) / (2 * Float.pi).squareRoot()
    return cdf + x * pdf
}
