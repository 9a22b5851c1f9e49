// Matrix-vector products straight from the stored weight formats: one pass over each row's
// blocks, decoding and multiplying in registers (no float32 copy of the row). This is the
// decoding path (one new token: n == 1), where every weight byte is used exactly once per
// token, so decoding cost is the whole cost.
//
// Vectorization notes (checked in the generated assembly, x86-64 Haswell target):
// - Bytes become floats with vpmovzxbd/vpmovsxbd + vcvtdq2ps (SIMD8<Int32> → SIMD8<Float>).
//   The conversions are written inline in each kernel: moving them into a helper function
//   made LLVM's SLP vectorizer scalarize the block (3× slower).
// - The 4-bit formats decode two rows per pass: the x block is loaded once for both, and
//   the two independent chains keep more instructions in flight (+13% measured).
// - Per block, products of the 32 elements are summed in one SIMD8 register, scaled once by
//   the block's scale and accumulated into a SIMD8 total: one horizontal sum per row.
// - Block minimums (Q4_1) and offsets (Q4_0) multiply the sum of x over the block, computed
//   once per product (`BlockSums`), not per row.

/// The input vector of a matrix-vector product, with the sum of each 32-element block.
struct RowDotInput {
    let x: UnsafePointer<Float>
    let blockSums: UnsafeMutablePointer<Float>
    let cols: Int

    /// Prepares `x` (of `cols` elements); call `release()` when done.
    init(_ x: UnsafePointer<Float>, cols: Int) {
        self.x = x
        self.cols = cols
        let blocks = (cols + 31) / 32
        blockSums = .allocate(capacity: blocks)
        for b in 0..<blocks {
            var s: Float = 0
            for j in (32 * b)..<min(cols, 32 * b + 32) { s += x[j] }
            blockSums[b] = s
        }
    }

    func release() { blockSums.deallocate() }
}

/// Whether `rowDot` has a fused kernel for `type` (others decode the row to scratch first).
@inline(__always) func hasFusedRowDot(_ type: GGMLType) -> Bool {
    switch type {
    case .f32, .q4_0, .q4_1, .q8_0, .bf16: true
    default: false
    }
}

/// Σ_j W[row, j]·x[j] for one stored row. `scratch` (cols floats) is used by formats without a
/// fused kernel.
@inline(__always)
func rowDot(_ type: GGMLType, _ row: UnsafeRawPointer, _ input: RowDotInput,
            scratch: UnsafeMutablePointer<Float>?) -> Float {
    let cols = input.cols
    switch type {
    case .f32: return dot(row.assumingMemoryBound(to: Float.self), input.x, cols)
    case .q4_1: return dotQ4_1(row, input.x, input.blockSums, cols / 32)
    case .q4_0: return dotQ4_0(row, input.x, input.blockSums, cols / 32)
    case .q8_0: return dotQ8_0(row, input.x, cols / 32)
    case .bf16: return dotBF16(row, input.x, cols)
    default:
        dequantize(type, row, into: scratch!, count: cols)
        return dot(scratch!, input.x, cols)
    }
}

/// Q4_1: y = q·d + m, so Σ y·x = d·Σ q·x + m·Σ x.
@inline(__always)
func dotQ4_1(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ xsum: UnsafePointer<Float>, _ nb: Int) -> Float {
    var acc = SIMD8<Float>()
    var minTerm: Float = 0
    for b in 0..<nb {
        let p = row + b * 20
        let xb = UnsafeRawPointer(x + b * 32)
        let d = halfToFloat(p.loadUnaligned(as: UInt16.self))
        let m = halfToFloat(p.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
        let q = p.loadUnaligned(fromByteOffset: 4, as: SIMD16<UInt8>.self)
        let lo = q & 0xF, hi = q &>> 4
        var s = SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: lo.lowHalf)) * xb.loadUnaligned(as: SIMD8<Float>.self)
        s.addProduct(SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: lo.highHalf)), xb.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
        s.addProduct(SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: hi.lowHalf)), xb.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self))
        s.addProduct(SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: hi.highHalf)), xb.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
        acc.addProduct(SIMD8<Float>(repeating: d), s)
        minTerm += m * xsum[b]
    }
    return acc.sum() + minTerm
}

/// Two Q4_1 rows against the same x (`blockBytes` 20, or 18 for Q4_0 with `hasMin` false).
@inline(__always)
func dot4BitPair(_ row0: UnsafeRawPointer, _ row1: UnsafeRawPointer, _ x: UnsafePointer<Float>,
                 _ xsum: UnsafePointer<Float>, _ nb: Int, hasMin: Bool) -> (Float, Float) {
    var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
    var extra0: Float = 0, extra1: Float = 0
    let blockBytes = hasMin ? 20 : 18, qOffset = hasMin ? 4 : 2
    for b in 0..<nb {
        let xb = UnsafeRawPointer(x + b * 32)
        let x0 = xb.loadUnaligned(as: SIMD8<Float>.self), x1 = xb.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
        let x2 = xb.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self), x3 = xb.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)
        let xs = xsum[b]
        do {
            let p = row0 + b * blockBytes
            let d = halfToFloat(p.loadUnaligned(as: UInt16.self))
            let q = p.loadUnaligned(fromByteOffset: qOffset, as: SIMD16<UInt8>.self)
            let lo = q & 0xF, hi = q &>> 4
            var s = SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: lo.lowHalf)) * x0
            s.addProduct(SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: lo.highHalf)), x1)
            s.addProduct(SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: hi.lowHalf)), x2)
            s.addProduct(SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: hi.highHalf)), x3)
            acc0.addProduct(SIMD8<Float>(repeating: d), s)
            // Q4_1 adds m·Σx; Q4_0's offset −8 subtracts 8·d·Σx.
            extra0 += (hasMin ? halfToFloat(p.loadUnaligned(fromByteOffset: 2, as: UInt16.self)) : -8 * d) * xs
        }
        do {
            let p = row1 + b * blockBytes
            let d = halfToFloat(p.loadUnaligned(as: UInt16.self))
            let q = p.loadUnaligned(fromByteOffset: qOffset, as: SIMD16<UInt8>.self)
            let lo = q & 0xF, hi = q &>> 4
            var s = SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: lo.lowHalf)) * x0
            s.addProduct(SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: lo.highHalf)), x1)
            s.addProduct(SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: hi.lowHalf)), x2)
            s.addProduct(SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: hi.highHalf)), x3)
            acc1.addProduct(SIMD8<Float>(repeating: d), s)
            extra1 += (hasMin ? halfToFloat(p.loadUnaligned(fromByteOffset: 2, as: UInt16.self)) : -8 * d) * xs
        }
    }
    return (acc0.sum() + extra0, acc1.sum() + extra1)
}

/// Q4_0: y = (q − 8)·d, so Σ y·x = d·(Σ q·x − 8·Σ x).
@inline(__always)
func dotQ4_0(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ xsum: UnsafePointer<Float>, _ nb: Int) -> Float {
    var acc = SIMD8<Float>()
    var offsetTerm: Float = 0
    for b in 0..<nb {
        let p = row + b * 18
        let xb = UnsafeRawPointer(x + b * 32)
        let d = halfToFloat(p.loadUnaligned(as: UInt16.self))
        let q = p.loadUnaligned(fromByteOffset: 2, as: SIMD16<UInt8>.self)
        let lo = q & 0xF, hi = q &>> 4
        var s = SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: lo.lowHalf)) * xb.loadUnaligned(as: SIMD8<Float>.self)
        s.addProduct(SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: lo.highHalf)), xb.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
        s.addProduct(SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: hi.lowHalf)), xb.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self))
        s.addProduct(SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: hi.highHalf)), xb.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
        acc.addProduct(SIMD8<Float>(repeating: d), s)
        offsetTerm += d * xsum[b]
    }
    return acc.sum() - 8 * offsetTerm
}

/// Q8_0: y = q·d with signed bytes.
@inline(__always)
func dotQ8_0(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ nb: Int) -> Float {
    var acc = SIMD8<Float>()
    for b in 0..<nb {
        let p = row + b * 34
        let d = halfToFloat(p.loadUnaligned(as: UInt16.self))
        let xb = UnsafeRawPointer(x + b * 32)
        let q0 = SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: p.loadUnaligned(fromByteOffset: 2, as: SIMD8<Int8>.self)))
        let q1 = SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: p.loadUnaligned(fromByteOffset: 10, as: SIMD8<Int8>.self)))
        let q2 = SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: p.loadUnaligned(fromByteOffset: 18, as: SIMD8<Int8>.self)))
        let q3 = SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: p.loadUnaligned(fromByteOffset: 26, as: SIMD8<Int8>.self)))
        var s = q0 * xb.loadUnaligned(as: SIMD8<Float>.self)
        s.addProduct(q1, xb.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
        s.addProduct(q2, xb.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self))
        s.addProduct(q3, xb.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
        acc.addProduct(SIMD8<Float>(repeating: d), s)
    }
    return acc.sum()
}

/// BF16: the high half of float32 bits, widened by a shift.
@inline(__always)
func dotBF16(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ cols: Int) -> Float {
    var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
    let xr = UnsafeRawPointer(x)
    var i = 0
    while i + 16 <= cols {
        let w0 = SIMD8<UInt32>(truncatingIfNeeded: row.loadUnaligned(fromByteOffset: 2 * i, as: SIMD8<UInt16>.self)) &<< 16
        let w1 = SIMD8<UInt32>(truncatingIfNeeded: row.loadUnaligned(fromByteOffset: 2 * i + 16, as: SIMD8<UInt16>.self)) &<< 16
        acc0.addProduct(unsafeBitCast(w0, to: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self))
        acc1.addProduct(unsafeBitCast(w1, to: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: 4 * i + 32, as: SIMD8<Float>.self))
        i += 16
    }
    var s = (acc0 + acc1).sum()
    let w = row.assumingMemoryBound(to: UInt16.self)
    while i < cols { s += bf16ToFloat(w[i]) * x[i]; i += 1 }
    return s
}
