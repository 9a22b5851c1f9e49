// The neural-net building blocks of the Llama forward pass and their backward mirrors,
// llm.c style: each op is a pair with mirrored arguments (dinp ← dout), so a reader can check
// one against the other. Vectors are raw float pointers; loops use SIMD8 so they vectorize
// without bounds checks.

// MARK: - Vector helpers

/// The sum of a vector's lanes. SIMD16's own `sum()` is generic code the optimizer leaves out
/// of line (a call for every dot product; 6% of a training step); adding the halves first
/// reaches SIMD8's, which it inlines.
@inline(__always) func laneSum(_ v: SIMD16<Float>) -> Float { (v.lowHalf + v.highHalf).sum() }
@inline(__always) func laneSum(_ v: SIMD8<Float>) -> Float { v.sum() }

@inline(__always) func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
    var i = 0
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    while i + 16 <= n {
        acc0 += ra.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self) * rb.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
        acc1 += ra.loadUnaligned(fromByteOffset: 4 * i + 32, as: SIMD8<Float>.self) * rb.loadUnaligned(fromByteOffset: 4 * i + 32, as: SIMD8<Float>.self)
        i += 16
    }
    var s = (acc0 + acc1).sum()
    while i < n { s += a[i] * b[i]; i += 1 }
    return s
}

/// y += alpha * x
@inline(__always) func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    var i = 0
    let va = SIMD8<Float>(repeating: alpha)
    let rx = UnsafeRawPointer(x), ry = UnsafeMutableRawPointer(y)
    while i + 8 <= n {
        let v = ry.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self) + va * rx.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
        ry.storeBytes(of: v, toByteOffset: 4 * i, as: SIMD8<Float>.self)
        i += 8
    }
    while i < n { y[i] += alpha * x[i]; i += 1 }
}

// MARK: - RMSNorm

/// out[r] = w ⊙ x[r] / sqrt(mean(x[r]²) + eps) for each of `rows` rows of width `d`.
/// Saves 1/rms per row in `rstd` (for the backward pass) when given.
func rmsnormForward(_ out: UnsafeMutablePointer<Float>, _ rstd: UnsafeMutablePointer<Float>?,
                    _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, rows: Int, d: Int, eps: Float) {
    for r in 0..<rows {
        let xr = x + r * d, o = out + r * d
        let s = 1 / (dot(xr, xr, d) / Float(d) + eps).squareRoot()
        rstd?[r] = s
        for i in 0..<d { o[i] = w[i] * (xr[i] * s) }
    }
}

/// dx[r] += d/dx of rmsnorm, given dout[r], the input x[r] and the saved 1/rms.
/// With n = x·s (s = 1/rms): dx = s·(w⊙dout) − s³/d · x · Σ(w⊙dout⊙x).
func rmsnormBackward(_ dx: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>,
                     _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ rstd: UnsafePointer<Float>,
                     rows: Int, d: Int) {
    for r in 0..<rows {
        let xr = x + r * d, g = dout + r * d, o = dx + r * d
        let s = rstd[r]
        var sum: Float = 0
        for i in 0..<d { sum += w[i] * g[i] * xr[i] }
        let c = s * s * s * sum / Float(d)
        for i in 0..<d { o[i] += s * w[i] * g[i] - c * xr[i] }
    }
}

// MARK: - RoPE

/// How a head's dimensions are paired for rotation. Hugging Face weights pair (i, i+hd/2)
/// ("rotate_half"); GGUF files from llama.cpp's converter have Q/K rows permuted so that
/// adjacent dims (2i, 2i+1) pair instead. Both give the same attention scores.
public enum RoPEPairing: Sendable { case halves, adjacent }

/// Rotates `heads` heads of size `hd` at each of `rows` rows in place; row r is at
/// position `positions[r]`. `cos`/`sin` are [position][hd/2] tables.
func ropeForward(_ x: UnsafeMutablePointer<Float>, rows: Int, heads: Int, hd: Int, positions: [Int],
                 cos: UnsafePointer<Float>, sin: UnsafePointer<Float>, pairing: RoPEPairing, inverse: Bool = false) {
    let half = hd / 2
    for r in 0..<rows {
        let c = cos + positions[r] * half, s = sin + positions[r] * half
        for h in 0..<heads {
            let v = x + (r * heads + h) * hd
            for i in 0..<half {
                let (a, b) = pairing == .halves ? (i, i + half) : (2 * i, 2 * i + 1)
                let sn = inverse ? -s[i] : s[i]
                let x0 = v[a], x1 = v[b]
                v[a] = x0 * c[i] - x1 * sn
                v[b] = x1 * c[i] + x0 * sn
            }
        }
    }
}

/// RoPE is a rotation, so its backward is the inverse rotation of the gradient.
func ropeBackward(_ dx: UnsafeMutablePointer<Float>, rows: Int, heads: Int, hd: Int, positions: [Int],
                  cos: UnsafePointer<Float>, sin: UnsafePointer<Float>, pairing: RoPEPairing) {
    ropeForward(dx, rows: rows, heads: heads, hd: hd, positions: positions, cos: cos, sin: sin,
                pairing: pairing, inverse: true)
}

// MARK: - SwiGLU

@inline(__always) func silu(_ x: Float) -> Float { x / (1 + expf(-x)) }

/// out = silu(gate) ⊙ up
func swigluForward(_ out: UnsafeMutablePointer<Float>, _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, _ n: Int) {
    for i in 0..<n { out[i] = silu(gate[i]) * up[i] }
}

/// dgate = dout ⊙ up ⊙ silu'(gate), dup = dout ⊙ silu(gate)   (written, not accumulated)
func swigluBackward(_ dgate: UnsafeMutablePointer<Float>, _ dup: UnsafeMutablePointer<Float>,
                    _ dout: UnsafePointer<Float>, _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, _ n: Int) {
    for i in 0..<n {
        let g = gate[i]
        let sig = 1 / (1 + expf(-g))
        dup[i] = dout[i] * g * sig
        dgate[i] = dout[i] * up[i] * sig * (1 + g * (1 - sig))
    }
}

// MARK: - Softmax

/// In-place softmax of `x[0..<n]`.
public func softmax(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
    var m = -Float.infinity
    for i in 0..<n { m = max(m, x[i]) }
    var s: Float = 0
    for i in 0..<n { x[i] = expf(x[i] - m); s += x[i] }
    let inv = 1 / s
    for i in 0..<n { x[i] *= inv }
}

#if canImport(Glibc)
import Glibc
#endif
