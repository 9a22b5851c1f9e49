// Matrix-vector products straight from the stored weight formats: one pass over each row's
// blocks, decoding and multiplying in registers (no float32 copy of the row). This is the
// decoding path (one new token: n == 1), where every weight byte is used exactly once per
// token, so decoding cost is the whole cost.
//
// Vectorization notes (checked in the generated assembly, x86-64 Haswell and Sapphire Rapids
// targets):
// - Bytes become floats with vpmovzxbd/vpmovsxbd + vcvtdq2ps. The conversions are generic
//   stdlib code the optimizer must inline; scripts/check-kernels.sh (run by `make test`) fails
//   the build when it stops doing so. Putting a whole kernel's conversions in a helper once made
//   LLVM's SLP vectorizer scalarize the block (3× slower); the small `floats` helpers below are
//   inlined and checked.
// - The 4-bit and 8-bit formats decode two rows per pass: the x block is loaded once for both,
//   and the two independent chains keep more instructions in flight (+13% measured).
// - Per block, the 32 products are summed in one SIMD16 value (one 512-bit register with
//   AVX-512, two 256-bit ones with AVX2), scaled once by the block's scale and accumulated
//   into a SIMD16 total: one horizontal sum per row.
// - Block minimums (Q4_1) and offsets (Q4_0) multiply the sum of x over the block, computed
//   once per product (`RowDotInput.blockSums`), not per row.

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

/// y[r] = W[r]·x for the rows `range` of a weight stored as `type` from `base` (rows of
/// `rowBytes`). The format is chosen once per call, and each format's loop is a function of its
/// own: inlined into one big switch, the kernels grew past the optimizer's inlining budget and
/// the SIMD conversions became out-of-line calls (decoding 1.8× slower).
func rowDots(_ type: GGMLType, _ base: UnsafeRawPointer, rowBytes: Int, _ range: Range<Int>,
             _ y: UnsafeMutablePointer<Float>, _ input: RowDotInput) {
    switch type {
    case .f32: rowsF32(base, rowBytes, range, y, input)
    case .q4_1: rowsQ4_1(base, rowBytes, range, y, input)
    case .q4_0: rowsQ4_0(base, rowBytes, range, y, input)
    case .q8_0: rowsQ8_0(base, rowBytes, range, y, input)
    case .bf16: rowsBF16(base, rowBytes, range, y, input)
    case .q4_K: rowsQ4_K(base, rowBytes, range, y, input)
    case .q6_K: rowsQ6_K(base, rowBytes, range, y, input)
    default: rowsDecoded(type, base, rowBytes, range, y, input)
    }
}

@inline(never) func rowsF32(_ base: UnsafeRawPointer, _ rowBytes: Int, _ range: Range<Int>, _ y: UnsafeMutablePointer<Float>, _ input: RowDotInput) {
    for r in range { y[r] = dot((base + r * rowBytes).assumingMemoryBound(to: Float.self), input.x, input.cols) }
}

@inline(never) func rowsQ4_1(_ base: UnsafeRawPointer, _ rowBytes: Int, _ range: Range<Int>, _ y: UnsafeMutablePointer<Float>, _ input: RowDotInput) {
    var r = range.lowerBound
    while r + 2 <= range.upperBound {
        let row = base + r * rowBytes
        (y[r], y[r + 1]) = dot4BitPair(row, row + rowBytes, input.x, input.blockSums, input.cols / 32, hasMin: true)
        r += 2
    }
    if r < range.upperBound { y[r] = dot4Bit(base + r * rowBytes, input.x, input.blockSums, input.cols / 32, hasMin: true) }
}

@inline(never) func rowsQ4_0(_ base: UnsafeRawPointer, _ rowBytes: Int, _ range: Range<Int>, _ y: UnsafeMutablePointer<Float>, _ input: RowDotInput) {
    var r = range.lowerBound
    while r + 2 <= range.upperBound {
        let row = base + r * rowBytes
        (y[r], y[r + 1]) = dot4BitPair(row, row + rowBytes, input.x, input.blockSums, input.cols / 32, hasMin: false)
        r += 2
    }
    if r < range.upperBound { y[r] = dot4Bit(base + r * rowBytes, input.x, input.blockSums, input.cols / 32, hasMin: false) }
}

@inline(never) func rowsQ8_0(_ base: UnsafeRawPointer, _ rowBytes: Int, _ range: Range<Int>, _ y: UnsafeMutablePointer<Float>, _ input: RowDotInput) {
    var r = range.lowerBound
    while r + 2 <= range.upperBound {
        let row = base + r * rowBytes
        (y[r], y[r + 1]) = dotQ8_0Pair(row, row + rowBytes, input.x, input.cols / 32)
        r += 2
    }
    if r < range.upperBound { y[r] = dotQ8_0(base + r * rowBytes, input.x, input.cols / 32) }
}

@inline(never) func rowsBF16(_ base: UnsafeRawPointer, _ rowBytes: Int, _ range: Range<Int>, _ y: UnsafeMutablePointer<Float>, _ input: RowDotInput) {
    for r in range { y[r] = dotBF16(base + r * rowBytes, input.x, input.cols) }
}

@inline(never) func rowsQ4_K(_ base: UnsafeRawPointer, _ rowBytes: Int, _ range: Range<Int>, _ y: UnsafeMutablePointer<Float>, _ input: RowDotInput) {
    for r in range { y[r] = dotQ4_K(base + r * rowBytes, input.x, input.blockSums, input.cols / 256) }
}

@inline(never) func rowsQ6_K(_ base: UnsafeRawPointer, _ rowBytes: Int, _ range: Range<Int>, _ y: UnsafeMutablePointer<Float>, _ input: RowDotInput) {
    for r in range { y[r] = dotQ6_K(base + r * rowBytes, input.x, input.cols / 256) }
}

/// Formats without a fused kernel (Q5_0, Q5_1, Q5_K, F16): decode the row, then a float dot.
@inline(never) func rowsDecoded(_ type: GGMLType, _ base: UnsafeRawPointer, _ rowBytes: Int, _ range: Range<Int>,
                                _ y: UnsafeMutablePointer<Float>, _ input: RowDotInput) {
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: input.cols)
    defer { scratch.deallocate() }
    for r in range {
        dequantize(type, base + r * rowBytes, into: scratch, count: input.cols)
        y[r] = dot(scratch, input.x, input.cols)
    }
}

/// One Q4_1 row (y = q·d + m, so Σ y·x = d·Σ q·x + m·Σ x) or Q4_0 row (y = (q − 8)·d, so
/// Σ y·x = d·(Σ q·x − 8·Σ x)): 20- or 18-byte blocks, `hasMin` telling which. The same
/// operations in the same order as `dot4BitPair`, so a row's result does not depend on
/// whether it was paired.
@inline(__always)
func dot4Bit(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ xsum: UnsafePointer<Float>, _ nb: Int,
             hasMin: Bool) -> Float {
    var acc = SIMD16<Float>()
    var extra: Float = 0
    let blockBytes = hasMin ? 20 : 18, qOffset = hasMin ? 4 : 2
    for b in 0..<nb {
        let p = row + b * blockBytes
        let xb = UnsafeRawPointer(x + b * 32)
        let d = halfToFloat(p.loadUnaligned(as: UInt16.self))
        let q = p.loadUnaligned(fromByteOffset: qOffset, as: SIMD16<UInt8>.self)
        var s = floats(q & 0xF) * xb.loadUnaligned(as: SIMD16<Float>.self)
        s.addProduct(floats(q &>> 4), xb.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self))
        acc.addProduct(s, SIMD16(repeating: d))
        if hasMin { extra.addProduct(halfToFloat(p.loadUnaligned(fromByteOffset: 2, as: UInt16.self)), xsum[b]) }
        else { extra.addProduct(d, -8 * xsum[b]) }
    }
    return laneSum(acc) + extra
}

/// Sixteen bytes as floats. Built from two 8-lane conversions: the 16-lane ones are larger
/// generic code the optimizer leaves out of line. LLVM joins the halves again (one 512-bit
/// conversion with AVX-512, two 256-bit ones with AVX2).
@inline(__always) func floats(_ v: SIMD16<UInt8>) -> SIMD16<Float> {
    SIMD16(lowHalf: SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: v.lowHalf)),
           highHalf: SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: v.highHalf)))
}

@inline(__always) func floats(_ v: SIMD16<Int8>) -> SIMD16<Float> {
    SIMD16(lowHalf: SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: v.lowHalf)),
           highHalf: SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: v.highHalf)))
}

/// Two Q4_1 or Q4_0 rows against the same x (see `dot4Bit`).
/// The four half-precision block constants of both rows (d and m of Q4_1; d and the next
/// block's first bytes, unused, of Q4_0) are converted by one vector instruction: scalar
/// half→float conversions were a third of the loop's instructions. The minimum terms m·Σx
/// accumulate in lanes 1 and 3 of a 4-lane vector, with no scalar dependency chain.
@inline(__always)
func dot4BitPair(_ row0: UnsafeRawPointer, _ row1: UnsafeRawPointer, _ x: UnsafePointer<Float>,
                 _ xsum: UnsafePointer<Float>, _ nb: Int, hasMin: Bool) -> (Float, Float) {
    var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
    var minAcc = SIMD4<Float>()
    let blockBytes = hasMin ? 20 : 18, qOffset = hasMin ? 4 : 2
    for b in 0..<nb {
        let xb = UnsafeRawPointer(x + b * 32)
        let x0 = xb.loadUnaligned(as: SIMD16<Float>.self), x1 = xb.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
        let p0 = row0 + b * blockBytes, p1 = row1 + b * blockBytes
        let halves = SIMD2<UInt32>(p0.loadUnaligned(as: UInt32.self), p1.loadUnaligned(as: UInt32.self))
        let dm = SIMD4<Float>(unsafeBitCast(halves, to: SIMD4<Float16>.self))  // d0 m0 d1 m1
        let q0 = p0.loadUnaligned(fromByteOffset: qOffset, as: SIMD16<UInt8>.self)
        var s0 = floats(q0 & 0xF) * x0
        s0.addProduct(floats(q0 &>> 4), x1)
        let q1 = p1.loadUnaligned(fromByteOffset: qOffset, as: SIMD16<UInt8>.self)
        var s1 = floats(q1 & 0xF) * x0
        s1.addProduct(floats(q1 &>> 4), x1)
        acc0.addProduct(s0, SIMD16(repeating: dm[0]))
        acc1.addProduct(s1, SIMD16(repeating: dm[2]))
        if hasMin { minAcc.addProduct(dm, SIMD4(repeating: xsum[b])) }
        // Q4_0's offset −8 subtracts 8·d·Σx (lanes 0 and 2 hold d).
        else { minAcc.addProduct(dm, SIMD4(repeating: -8 * xsum[b])) }
    }
    return hasMin ? (laneSum(acc0) + minAcc[1], laneSum(acc1) + minAcc[3])
                  : (laneSum(acc0) + minAcc[0], laneSum(acc1) + minAcc[2])
}

/// Q8_0: y = q·d with signed bytes. Two rows per pass share the loads of x, as above.
@inline(__always)
func dotQ8_0Pair(_ row0: UnsafeRawPointer, _ row1: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ nb: Int) -> (Float, Float) {
    var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
    for b in 0..<nb {
        let xb = UnsafeRawPointer(x + b * 32)
        let x0 = xb.loadUnaligned(as: SIMD16<Float>.self), x1 = xb.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
        let p0 = row0 + b * 34, p1 = row1 + b * 34
        let halves = SIMD4<UInt16>(p0.loadUnaligned(as: UInt16.self), p1.loadUnaligned(as: UInt16.self), 0, 0)
        let d = SIMD4<Float>(unsafeBitCast(halves, to: SIMD4<Float16>.self))
        var s0 = floats(p0.loadUnaligned(fromByteOffset: 2, as: SIMD16<Int8>.self)) * x0
        s0.addProduct(floats(p0.loadUnaligned(fromByteOffset: 18, as: SIMD16<Int8>.self)), x1)
        var s1 = floats(p1.loadUnaligned(fromByteOffset: 2, as: SIMD16<Int8>.self)) * x0
        s1.addProduct(floats(p1.loadUnaligned(fromByteOffset: 18, as: SIMD16<Int8>.self)), x1)
        acc0.addProduct(s0, SIMD16(repeating: d[0]))
        acc1.addProduct(s1, SIMD16(repeating: d[1]))
    }
    return (laneSum(acc0), laneSum(acc1))
}

/// Q8_0, one row: the operations of `dotQ8_0Pair`, in its order.
@inline(__always)
func dotQ8_0(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ nb: Int) -> Float {
    var acc = SIMD16<Float>()
    for b in 0..<nb {
        let p = row + b * 34
        let xb = UnsafeRawPointer(x + b * 32)
        var s = floats(p.loadUnaligned(fromByteOffset: 2, as: SIMD16<Int8>.self)) * xb.loadUnaligned(as: SIMD16<Float>.self)
        s.addProduct(floats(p.loadUnaligned(fromByteOffset: 18, as: SIMD16<Int8>.self)), xb.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self))
        acc.addProduct(s, SIMD16(repeating: halfToFloat(p.loadUnaligned(as: UInt16.self))))
    }
    return laneSum(acc)
}

/// Q4_K (the bulk of a Q4_K_M file): 256-element super-blocks of 8 sub-blocks, each
/// y = d·sc·q − dmin·m with 6-bit sc and m, so Σ y·x = Σ_sub (d·sc·Σ q·x − dmin·m·Σ x).
@inline(__always)
func dotQ4_K(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ xsum: UnsafePointer<Float>, _ superBlocks: Int) -> Float {
    var acc = SIMD8<Float>()
    var minTerm: Float = 0
    for b in 0..<superBlocks {
        let p = row + b * 144
        let d = halfToFloat(p.loadUnaligned(as: UInt16.self))
        let dmin = halfToFloat(p.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
        let scales = (p + 4).assumingMemoryBound(to: UInt8.self)
        for pair in 0..<4 {
            let (sc0, m0) = kScaleMin(scales, 2 * pair)
            let (sc1, m1) = kScaleMin(scales, 2 * pair + 1)
            let xb = UnsafeRawPointer(x + 256 * b + 64 * pair)
            let q = p.loadUnaligned(fromByteOffset: 16 + 32 * pair, as: SIMD32<UInt8>.self)
            let lo = q & 0xF, hi = q &>> 4
            // Low nibbles are the pair's first sub-block, high nibbles its second.
            var s0 = SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: lo.lowHalf.lowHalf)) * xb.loadUnaligned(as: SIMD8<Float>.self)
            s0.addProduct(SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: lo.lowHalf.highHalf)), xb.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
            s0.addProduct(SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: lo.highHalf.lowHalf)), xb.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self))
            s0.addProduct(SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: lo.highHalf.highHalf)), xb.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
            var s1 = SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: hi.lowHalf.lowHalf)) * xb.loadUnaligned(fromByteOffset: 128, as: SIMD8<Float>.self)
            s1.addProduct(SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: hi.lowHalf.highHalf)), xb.loadUnaligned(fromByteOffset: 160, as: SIMD8<Float>.self))
            s1.addProduct(SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: hi.highHalf.lowHalf)), xb.loadUnaligned(fromByteOffset: 192, as: SIMD8<Float>.self))
            s1.addProduct(SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: hi.highHalf.highHalf)), xb.loadUnaligned(fromByteOffset: 224, as: SIMD8<Float>.self))
            acc.addProduct(SIMD8<Float>(repeating: d * Float(sc0)), s0)
            acc.addProduct(SIMD8<Float>(repeating: d * Float(sc1)), s1)
            let sub = 8 * b + 2 * pair
            minTerm += dmin * (Float(m0) * xsum[sub] + Float(m1) * xsum[sub + 1])
        }
    }
    return laneSum(acc) - minTerm
}

/// Q6_K (the output and some FFN weights of a Q4_K_M file): 6-bit values from 4 low bits (ql)
/// and 2 high bits (qh), minus 32, times d and a signed 8-bit scale per 16 elements.
@inline(__always)
func dotQ6_K(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ superBlocks: Int) -> Float {
    var acc = SIMD8<Float>()
    let bias = SIMD8<Int32>(repeating: 32)
    for b in 0..<superBlocks {
        let p = row + b * 210
        let d = halfToFloat(p.loadUnaligned(fromByteOffset: 208, as: UInt16.self))
        let scales = (p + 192).assumingMemoryBound(to: Int8.self)
        for n in 0..<2 {
            for half in 0..<2 {
                // Elements 128n + 32k + 16·half + (0..<16), k = 0…3, share the scale S[2k + half].
                let l = 16 * half
                let la = p.loadUnaligned(fromByteOffset: 64 * n + l, as: SIMD16<UInt8>.self)
                let lb = p.loadUnaligned(fromByteOffset: 64 * n + 32 + l, as: SIMD16<UInt8>.self)
                let h = p.loadUnaligned(fromByteOffset: 128 + 32 * n + l, as: SIMD16<UInt8>.self)
                let q1 = (la & 0xF) | ((h & 3) &<< 4)
                let q2 = (lb & 0xF) | (((h &>> 2) & 3) &<< 4)
                let q3 = (la &>> 4) | (((h &>> 4) & 3) &<< 4)
                let q4 = (lb &>> 4) | (((h &>> 6) & 3) &<< 4)
                let xb = UnsafeRawPointer(x + 256 * b + 128 * n + l)
                var s1 = SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: q1.lowHalf) &- bias) * xb.loadUnaligned(as: SIMD8<Float>.self)
                s1.addProduct(SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: q1.highHalf) &- bias), xb.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
                var s2 = SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: q2.lowHalf) &- bias) * xb.loadUnaligned(fromByteOffset: 128, as: SIMD8<Float>.self)
                s2.addProduct(SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: q2.highHalf) &- bias), xb.loadUnaligned(fromByteOffset: 160, as: SIMD8<Float>.self))
                var s3 = SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: q3.lowHalf) &- bias) * xb.loadUnaligned(fromByteOffset: 256, as: SIMD8<Float>.self)
                s3.addProduct(SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: q3.highHalf) &- bias), xb.loadUnaligned(fromByteOffset: 288, as: SIMD8<Float>.self))
                var s4 = SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: q4.lowHalf) &- bias) * xb.loadUnaligned(fromByteOffset: 384, as: SIMD8<Float>.self)
                s4.addProduct(SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: q4.highHalf) &- bias), xb.loadUnaligned(fromByteOffset: 416, as: SIMD8<Float>.self))
                let sc = scales + 8 * n + half
                acc.addProduct(SIMD8<Float>(repeating: d * Float(sc[0])), s1)
                acc.addProduct(SIMD8<Float>(repeating: d * Float(sc[2])), s2)
                acc.addProduct(SIMD8<Float>(repeating: d * Float(sc[4])), s3)
                acc.addProduct(SIMD8<Float>(repeating: d * Float(sc[6])), s4)
            }
        }
    }
    return laneSum(acc)
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
