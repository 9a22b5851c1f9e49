// ggml tensor types and their block layouts, decoded to float32 in the same float32
// operation order as ggml's `dequantize_row_*` (so results match gguf-py bit for bit).
// Layouts (all little-endian; f16 = IEEE half):
//   Q8_0 34 B: d f16 | qs i8[32]                       y = qs*d
//   Q4_0 18 B: d f16 | qs u8[16]                       y[j] = (lo-8)*d, y[j+16] = (hi-8)*d
//   Q4_1 20 B: d f16 | m f16 | qs u8[16]               y = q*d + m
//   Q5_0 22 B: d f16 | qh u32 | qs u8[16]              5th bit from qh, minus 16
//   Q5_1 24 B: d f16 | m f16 | qh u32 | qs u8[16]
//   Q4_K 144 B / Q5_K 176 B / Q6_K 210 B: 256-element super-blocks with 6-bit (or int8) sub-scales.

/// The ggml tensor types (ids as in ggml.h).
public enum GGMLType: UInt32, Sendable, CustomStringConvertible {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15
    case iq2_xxs = 16, iq2_xs = 17, iq3_xxs = 18, iq1_s = 19, iq4_nl = 20, iq3_s = 21, iq2_s = 22, iq4_xs = 23
    case i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28, iq1_m = 29, bf16 = 30
    case tq1_0 = 34, tq2_0 = 35

    public var description: String {
        switch self {
        case .f32: "F32"; case .f16: "F16"; case .bf16: "BF16"; case .q4_0: "Q4_0"; case .q4_1: "Q4_1"
        case .q5_0: "Q5_0"; case .q5_1: "Q5_1"; case .q8_0: "Q8_0"; case .q8_1: "Q8_1"
        case .q2_K: "Q2_K"; case .q3_K: "Q3_K"; case .q4_K: "Q4_K"; case .q5_K: "Q5_K"; case .q6_K: "Q6_K"; case .q8_K: "Q8_K"
        case .iq2_xxs: "IQ2_XXS"; case .iq2_xs: "IQ2_XS"; case .iq3_xxs: "IQ3_XXS"; case .iq1_s: "IQ1_S"
        case .iq4_nl: "IQ4_NL"; case .iq3_s: "IQ3_S"; case .iq2_s: "IQ2_S"; case .iq4_xs: "IQ4_XS"; case .iq1_m: "IQ1_M"
        case .i8: "I8"; case .i16: "I16"; case .i32: "I32"; case .i64: "I64"; case .f64: "F64"
        case .tq1_0: "TQ1_0"; case .tq2_0: "TQ2_0"
        }
    }

    /// Types the engine decodes.
    public var isSupported: Bool {
        switch self {
        case .f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q5_K, .q6_K: true
        default: false
        }
    }
    static let supportedNames = "F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K"

    /// Elements per block.
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16, .i8, .i16, .i32, .i64, .f64: 1
        case .q4_K, .q5_K, .q6_K, .q2_K, .q3_K, .q8_K, .iq2_xxs, .iq2_xs, .iq3_xxs, .iq1_s, .iq3_s, .iq2_s, .iq4_xs, .iq1_m, .tq1_0, .tq2_0: 256
        default: 32
        }
    }

    /// Bytes per block.
    public var typeSize: Int {
        switch self {
        case .f32, .i32: 4
        case .f16, .bf16, .i16: 2
        case .i8: 1
        case .i64, .f64: 8
        case .q4_0: 18; case .q4_1: 20; case .q5_0: 22; case .q5_1: 24; case .q8_0: 34; case .q8_1: 36
        case .q4_K: 144; case .q5_K: 176; case .q6_K: 210; case .q2_K: 84; case .q3_K: 110; case .q8_K: 292
        default: 256 // unsupported types are rejected before their size matters
        }
    }

    /// Bytes taken by a row of `n` elements.
    public func rowBytes(_ n: Int) -> Int { n / blockSize * typeSize }
}

// MARK: - Scalar conversions

/// IEEE binary16 → float32 (subnormals, ±0, ±inf, NaN).
@inline(__always) public func halfToFloat(_ h: UInt16) -> Float {
    Float(Float16(bitPattern: h))
}

/// bfloat16 → float32: the high half of the float32 bits.
@inline(__always) public func bf16ToFloat(_ h: UInt16) -> Float {
    Float(bitPattern: UInt32(h) << 16)
}

/// float32 → bfloat16, round to nearest even (as ggml and PyTorch do).
@inline(__always) public func floatToBF16(_ f: Float) -> UInt16 {
    let u = f.bitPattern
    if f.isNaN { return UInt16((u >> 16) | 64) }
    return UInt16((u &+ 0x7FFF &+ ((u >> 16) & 1)) >> 16)
}

@inline(__always) func loadHalf(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
    halfToFloat(p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
}

// MARK: - Dequantization

/// Decodes `count` elements (a whole number of blocks) of type `type` from `src` into `dst`.
public func dequantize(_ type: GGMLType, _ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
    let nb = count / type.blockSize
    switch type {
    case .f32:
        dst.update(from: src.assumingMemoryBound(to: Float.self), count: count)
    case .f16:
        let s = src.assumingMemoryBound(to: Float16.self)
        for i in 0..<count { dst[i] = Float(s[i]) }
    case .bf16:
        let s = src.assumingMemoryBound(to: UInt16.self)
        for i in 0..<count { dst[i] = bf16ToFloat(s[i]) }
    case .q8_0:
        for b in 0..<nb { dequantQ8_0(src + b * 34, dst + b * 32) }
    case .q4_0:
        for b in 0..<nb { dequantQ4_0(src + b * 18, dst + b * 32) }
    case .q4_1:
        for b in 0..<nb { dequantQ4_1(src + b * 20, dst + b * 32) }
    case .q5_0:
        for b in 0..<nb { dequantQ5(src + b * 22, dst + b * 32, hasMin: false) }
    case .q5_1:
        for b in 0..<nb { dequantQ5(src + b * 24, dst + b * 32, hasMin: true) }
    case .q4_K:
        for b in 0..<nb { dequantQK(src + b * 144, dst + b * 256, fifthBit: false) }
    case .q5_K:
        for b in 0..<nb { dequantQK(src + b * 176, dst + b * 256, fifthBit: true) }
    case .q6_K:
        for b in 0..<nb { dequantQ6_K(src + b * 210, dst + b * 256) }
    default:
        preconditionFailure("dequantize: \(type) is rejected by the loaders")
    }
}

@inline(__always) func dequantQ8_0(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
    let d = loadHalf(p, 0)
    let q = (p + 2).assumingMemoryBound(to: Int8.self)
    for j in 0..<32 { y[j] = Float(q[j]) * d }
}

@inline(__always) func dequantQ4_0(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
    let d = loadHalf(p, 0)
    let q = (p + 2).assumingMemoryBound(to: UInt8.self)
    for j in 0..<16 {
        y[j] = Float(Int(q[j] & 0xF) - 8) * d
        y[j + 16] = Float(Int(q[j] >> 4) - 8) * d
    }
}

@inline(__always) func dequantQ4_1(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
    let d = loadHalf(p, 0), m = loadHalf(p, 2)
    let q = (p + 4).assumingMemoryBound(to: UInt8.self)
    for j in 0..<16 {
        y[j] = Float(q[j] & 0xF) * d + m
        y[j + 16] = Float(q[j] >> 4) * d + m
    }
}

@inline(__always) func dequantQ5(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, hasMin: Bool) {
    let d = loadHalf(p, 0)
    let m: Float = hasMin ? loadHalf(p, 2) : 0
    let h = hasMin ? 4 : 2
    let qh = p.loadUnaligned(fromByteOffset: h, as: UInt32.self)
    let q = (p + h + 4).assumingMemoryBound(to: UInt8.self)
    for j in 0..<16 {
        let lo = Int(q[j] & 0xF) | Int((qh >> UInt32(j)) & 1) << 4
        let hi = Int(q[j] >> 4) | Int((qh >> UInt32(j + 16)) & 1) << 4
        if hasMin {
            y[j] = Float(lo) * d + m
            y[j + 16] = Float(hi) * d + m
        } else {
            y[j] = Float(lo - 16) * d
            y[j + 16] = Float(hi - 16) * d
        }
    }
}

/// The 6-bit scale and min of sub-block `j` of a Q4_K/Q5_K super-block.
@inline(__always) func kScaleMin(_ s: UnsafePointer<UInt8>, _ j: Int) -> (UInt8, UInt8) {
    if j < 4 { return (s[j] & 63, s[j + 4] & 63) }
    return ((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4), (s[j + 4] >> 4) | ((s[j] >> 6) << 4))
}

@inline(__always) func dequantQK(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, fifthBit: Bool) {
    let d = loadHalf(p, 0), dmin = loadHalf(p, 2)
    let scales = (p + 4).assumingMemoryBound(to: UInt8.self)
    let qh = (p + 16).assumingMemoryBound(to: UInt8.self)
    let qs = (p + (fifthBit ? 48 : 16)).assumingMemoryBound(to: UInt8.self)
    for pair in 0..<4 {
        let (sc0, mn0) = kScaleMin(scales, 2 * pair)
        let (sc1, mn1) = kScaleMin(scales, 2 * pair + 1)
        let d0 = d * Float(sc0), m0 = dmin * Float(mn0)
        let d1 = d * Float(sc1), m1 = dmin * Float(mn1)
        for l in 0..<32 {
            let q = qs[32 * pair + l]
            var lo = Int(q & 0xF), hi = Int(q >> 4)
            if fifthBit {
                lo += 16 * Int((qh[l] >> UInt8(2 * pair)) & 1)
                hi += 16 * Int((qh[l] >> UInt8(2 * pair + 1)) & 1)
            }
            y[64 * pair + l] = d0 * Float(lo) - m0
            y[64 * pair + 32 + l] = d1 * Float(hi) - m1
        }
    }
}

@inline(__always) func dequantQ6_K(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
    let d = loadHalf(p, 208)
    for n in 0..<2 {
        let L = (p + 64 * n).assumingMemoryBound(to: UInt8.self)
        let H = (p + 128 + 32 * n).assumingMemoryBound(to: UInt8.self)
        let S = (p + 192 + 8 * n).assumingMemoryBound(to: Int8.self)
        let out = y + 128 * n
        for l in 0..<32 {
            let i = l / 16
            let q1 = Int((L[l] & 0xF) | ((H[l] >> 0) & 3) << 4) - 32
            let q2 = Int((L[l + 32] & 0xF) | ((H[l] >> 2) & 3) << 4) - 32
            let q3 = Int((L[l] >> 4) | ((H[l] >> 4) & 3) << 4) - 32
            let q4 = Int((L[l + 32] >> 4) | ((H[l] >> 6) & 3) << 4) - 32
            out[l] = d * Float(S[i]) * Float(q1)
            out[l + 32] = d * Float(S[i + 2]) * Float(q2)
            out[l + 64] = d * Float(S[i + 4]) * Float(q3)
            out[l + 96] = d * Float(S[i + 6]) * Float(q4)
        }
    }
}
