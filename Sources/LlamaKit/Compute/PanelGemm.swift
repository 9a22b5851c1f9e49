// Products of a quantized weight matrix (Q4_0, Q4_1, Q8_0) with the few input rows of a training step,
// in "broadcast" form: 32 weight rows (or columns) sit side by side in one vector pair, each
// input element is broadcast, and a handful of input rows accumulate at once. No horizontal
// sums, and every element of W is decoded once per call into an L1-sized chunk that all input
// rows reuse. Measured single-thread on this AVX-512 machine with the weights in cache, 64 rows ×
// K = 576, 18 input rows: 12.4 µs against 29.7 µs for decoding a float32 tile and running
// `smallGemm` on it. In a whole training step, where weights come from memory, steps got 1.1–1.2×
// faster: the multiply-adds run at ~90 GFLOP/s per core there, 111 in cache, against 116 for a
// register-only FMA loop in the same hour, so what is left is mostly decoding.
//
// Each output sums its products in order (k = 0, 1, 2, … with one fused multiply-add each,
// starting from 0 or from the value already there), so results do not depend on the vector
// width, the chunking or the number of threads.
//
// The forward product needs 32 rows' values at the same k in one vector, the transpose of the
// file's layout: `PanelWeights` repacks a 4-bit matrix once (while a `Trainer` holds it). The
// backward product needs 32 columns of one row, which is exactly one block of the file (Q4_0,
// Q4_1 or Q8_0), so it decodes the mapped weights directly.
import CPrefetch
import Synchronization

/// Weight rows per panel and elements per block: one vector pair (two AVX-512 or four AVX2 registers).
let panelWidth = 32

/// 32 floats as two 16-lane halves. (Swift's `SIMD32<Float>` compiles to element-wise stack
/// code here: measured 100× slower.)
struct PanelVector {
    var lo: SIMD16<Float>, hi: SIMD16<Float>

    @inline(__always) init() { lo = SIMD16(); hi = SIMD16() }
    @inline(__always) init(_ lo: SIMD16<Float>, _ hi: SIMD16<Float>) { self.lo = lo; self.hi = hi }
    @inline(__always) init(_ p: UnsafeRawPointer, _ offset: Int) {
        lo = p.loadUnaligned(fromByteOffset: offset, as: SIMD16<Float>.self)
        hi = p.loadUnaligned(fromByteOffset: offset + 64, as: SIMD16<Float>.self)
    }
    @inline(__always) func store(_ p: UnsafeMutableRawPointer, _ offset: Int) {
        p.storeBytes(of: lo, toByteOffset: offset, as: SIMD16<Float>.self)
        p.storeBytes(of: hi, toByteOffset: offset + 64, as: SIMD16<Float>.self)
    }
    /// self += s · v, fused, lane by lane.
    @inline(__always) mutating func addProduct(_ s: Float, _ v: PanelVector) {
        let b = SIMD16<Float>(repeating: s)
        lo.addProduct(b, v.lo); hi.addProduct(b, v.hi)
    }
}

/// 16 floats: the AVX2 build's kernel works on one half of a panel at a time (two registers).
struct HalfPanel {
    var v: SIMD16<Float>
    @inline(__always) init() { v = SIMD16() }
    @inline(__always) init(_ p: UnsafeRawPointer, _ offset: Int) { v = p.loadUnaligned(fromByteOffset: offset, as: SIMD16<Float>.self) }
    @inline(__always) func store(_ p: UnsafeMutableRawPointer, _ offset: Int) { p.storeBytes(of: v, toByteOffset: offset, as: SIMD16<Float>.self) }
    @inline(__always) mutating func addProduct(_ s: Float, _ w: HalfPanel) { v.addProduct(SIMD16(repeating: s), w.v) }
}

/// What the kernel accumulates per input row, and in how many passes it covers a panel's 32
/// lanes. Six input rows at once either way: on AVX-512, 6 × 2 accumulators + 2 weight
/// registers of 32; on AVX2, 6 × 2 + 2 of 16 per half. (A whole panel on AVX2, 3 rows × 4
/// accumulators + 4 weight registers, ran out of registers: 0.87× the tile path's speed. 12 rows
/// × 2 on AVX-512 measured no faster.)
#if AVX512
typealias KernelLanes = PanelVector
let kernelPasses = 1
#else
typealias KernelLanes = HalfPanel
let kernelPasses = 2
#endif
let panelInputRows = 6

/// Elements of the reduced dimension decoded per chunk: 128 × 32 floats = 16 KB, within L1.
let panelChunk = 128

/// Whether `matmulBackward` of `n` rows with `w` takes the backward panel kernel: a few rows,
/// and blocks of 32 elements with a scale (and a minimum) that it decodes.
func panelBackwardHandles(_ w: TensorView, n: Int) -> Bool {
    guard n <= smallGemmRows, w.cols % panelWidth == 0 else { return false }
    switch w.type {
    case .q4_0, .q4_1, .q8_0: return true
    default: return false
    }
}

// MARK: - The shared kernel

/// Runs `body` with a stack buffer of `floats` floats aligned to a cache line, so that no
/// 512-bit load of the kernel's weights straddles two lines.
@inline(__always)
private func withChunk(floats: Int, _ body: (UnsafeMutablePointer<Float>) -> Void) {
    withUnsafeTemporaryAllocation(byteCount: 4 * floats, alignment: 64) { raw in
        body(raw.baseAddress!.bindMemory(to: Float.self, capacity: floats))
    }
}

/// y[i·ldy + j] (+)= Σ_{k < count} x[i·ldx + k] · w[k·32 + j] for i < I (≤ 6) and the lanes j
/// of one `KernelLanes` (all 32, or 16 from where `y` and `w` point), each sum in k order. `I`
/// is a constant at every call site (see `panelRows`), so the unused accumulators fold away.
@inline(__always)
private func panelBlock(_ I: Int, _ y: UnsafeMutablePointer<Float>, ldy: Int, _ x: UnsafePointer<Float>, ldx: Int,
                        _ w: UnsafePointer<Float>, count: Int, accumulate: Bool) {
    let yr = UnsafeMutableRawPointer(y), wr = UnsafeRawPointer(w)
    @inline(__always) func start(_ i: Int) -> KernelLanes {
        accumulate && i < I ? KernelLanes(yr, 4 * i * ldy) : KernelLanes()
    }
    var a0 = start(0), a1 = start(1), a2 = start(2), a3 = start(3), a4 = start(4), a5 = start(5)
    let x1 = x + ldx, x2 = x1 + ldx, x3 = x2 + ldx, x4 = x3 + ldx, x5 = x4 + ldx
    for k in 0..<count {
        let v = KernelLanes(wr, 4 * panelWidth * k)
        a0.addProduct(x[k], v)
        if I > 1 { a1.addProduct(x1[k], v) }
        if I > 2 { a2.addProduct(x2[k], v) }
        if I > 3 { a3.addProduct(x3[k], v) }
        if I > 4 { a4.addProduct(x4[k], v) }
        if I > 5 { a5.addProduct(x5[k], v) }
    }
    @inline(__always) func put(_ i: Int, _ a: KernelLanes) {
        if i < I { a.store(yr, 4 * i * ldy) }
    }
    put(0, a0); put(1, a1); put(2, a2); put(3, a3); put(4, a4); put(5, a5)
}

/// `panelBlock` over all `n` input rows, `panelInputRows` at a time, and over the panel's 32
/// lanes in `kernelPasses` passes.
@inline(never)
private func panelRows(_ y: UnsafeMutablePointer<Float>, ldy: Int, _ x: UnsafePointer<Float>, ldx: Int, n: Int,
                       _ w: UnsafePointer<Float>, count: Int, accumulate: Bool) {
    for pass in 0..<kernelPasses {
        let lane = pass * panelWidth / kernelPasses, wp = w + lane
        var i = 0
        while i < n {
            let yi = y + i * ldy + lane, xi = x + i * ldx
            switch min(panelInputRows, n - i) {
            case 6: panelBlock(6, yi, ldy: ldy, xi, ldx: ldx, wp, count: count, accumulate: accumulate)
            case 5: panelBlock(5, yi, ldy: ldy, xi, ldx: ldx, wp, count: count, accumulate: accumulate)
            case 4: panelBlock(4, yi, ldy: ldy, xi, ldx: ldx, wp, count: count, accumulate: accumulate)
            case 3: panelBlock(3, yi, ldy: ldy, xi, ldx: ldx, wp, count: count, accumulate: accumulate)
            case 2: panelBlock(2, yi, ldy: ldy, xi, ldx: ldx, wp, count: count, accumulate: accumulate)
            default: panelBlock(1, yi, ldy: ldy, xi, ldx: ldx, wp, count: count, accumulate: accumulate)
            }
            i += panelInputRows
        }
    }
}

// The decoders avoid Swift's generic SIMD conversions: those stay inline only while few kernels
// use them (see scripts/check-kernels.sh), and RowDot's matrix-vector kernels already take that
// budget. The forward one works on 32-bit lanes of a layout made for it; the backward one reads
// the file's blocks with the scalar loops of QuantBlocks.swift, which LLVM vectorizes.

// MARK: - Forward: y = x · Wᵀ from repacked panels

/// A Q4_0 or Q4_1 matrix repacked for the forward product. For each panel of 32 rows and each
/// block of 32 columns: the rows' scales d (32 floats), minimums m (32 floats; −8·d for Q4_0),
/// then the 32 × 32 nibbles, for each column 16 bytes whose low nibbles hold rows 0–15 and high
/// nibbles rows 16–31 (interleaved by 4 columns, see `byteOffset`). Decoding a column then
/// gives the panel's 32 weights at that k in one vector pair.
/// 768 bytes per 1,024 weights (Q4_1's file: 640).
///
/// Q8_0 (SmolLM2's output head) is not repacked: its forward product has only the answer's
/// 7 rows to share each decoded chunk, and measured no faster than the tile path, while its
/// copy would add 32 MB.
final class PanelWeights: @unchecked Sendable {
    let rows: Int, cols: Int
    let panels: Int, blocks: Int
    let data: UnsafeMutableRawPointer
    static let blockBytes = 2 * 4 * panelWidth + 16 * panelWidth

    /// Repacks `w`, or nil for a type or shape the forward panel kernel does not handle.
    init?(_ w: TensorView) {
        guard w.type == .q4_0 || w.type == .q4_1, w.cols % panelWidth == 0 else { return nil }
        rows = w.rows; cols = w.cols
        panels = (rows + panelWidth - 1) / panelWidth; blocks = cols / panelWidth
        data = .allocate(byteCount: panels * blocks * Self.blockBytes, alignment: 64)
        Parallel.tasks(panels) { p in
            for b in 0..<blocks { repack(w, panel: p, block: b) }
        }
    }

    deinit { data.deallocate() }

    var byteCount: Int { panels * blocks * Self.blockBytes }

    private func repack(_ w: TensorView, panel p: Int, block b: Int) {
        let rowBytes = w.type.rowBytes(cols), hasMin = w.type == .q4_1
        let out = data + (p * blocks + b) * Self.blockBytes
        out.initializeMemory(as: UInt8.self, repeating: 0, count: Self.blockBytes)   // padding rows decode to 0
        let d = out.assumingMemoryBound(to: Float.self), m = d + panelWidth
        let q = (out + 2 * 4 * panelWidth).assumingMemoryBound(to: UInt8.self)
        for j in 0..<min(panelWidth, rows - p * panelWidth) {
            let block = w.data + (p * panelWidth + j) * rowBytes + b * w.type.typeSize
            d[j] = loadHalf(block, 0)
            m[j] = hasMin ? loadHalf(block, 2) : -8 * d[j]
            let qs = (block + (hasMin ? 4 : 2)).assumingMemoryBound(to: UInt8.self)
            let shift: UInt8 = j < 16 ? 0 : 4
            for e in 0..<16 {
                q[Self.byteOffset(column: e, row: j)] |= (qs[e] & 0xF) << shift
                q[Self.byteOffset(column: e + 16, row: j)] |= (qs[e] >> 4) << shift
            }
        }
    }

    /// Where the nibble of (column, row) sits among a block's 512 bytes of nibbles: 32-bit lane
    /// `row % 16` of the 64-byte group of columns 4g…4g+3 holds one byte per column (low nibble
    /// row, high nibble row + 16). Decoding then needs only shifts and masks of 32-bit lanes.
    @inline(__always)
    static func byteOffset(column e: Int, row j: Int) -> Int { (e / 4) * 64 + (j % 16) * 4 + e % 4 }

    /// Decodes columns [32·b0, 32·b1) of panel `p` into `chunk` (one 32-float row per column).
    /// A nibble q becomes a float by setting it as the low mantissa bits of 2²³ and subtracting
    /// 2²³ (exact), which keeps everything in 16-lane vectors without Swift's generic
    /// conversions (see check-kernels.sh). Then q·d + m: q·d has at most 4 + 11 significant
    /// bits, so the sum rounds once, as the file's decoder does.
    @inline(never)
    fileprivate func decode(panel p: Int, blocks b0: Int, _ b1: Int, into chunk: UnsafeMutablePointer<Float>) {
        let magic = SIMD16<UInt32>(repeating: 0x4B00_0000), offset = SIMD16<Float>(repeating: 8_388_608)
        let cr = UnsafeMutableRawPointer(chunk)
        for b in b0..<b1 {
            let block = UnsafeRawPointer(data + (p * blocks + b) * Self.blockBytes)
            let d = PanelVector(block, 0), m = PanelVector(block, 4 * panelWidth)
            for g in 0..<panelWidth / 4 {
                let v = block.load(fromByteOffset: 2 * 4 * panelWidth + 64 * g, as: SIMD16<UInt32>.self)
                for t in 0..<4 {
                    let shift = UInt32(8 * t)
                    let lo = unsafeBitCast(((v &>> shift) & 0xF) | magic, to: SIMD16<Float>.self) - offset
                    let hi = unsafeBitCast(((v &>> (shift + 4)) & 0xF) | magic, to: SIMD16<Float>.self) - offset
                    PanelVector(m.lo.addingProduct(lo, d.lo), m.hi.addingProduct(hi, d.hi))
                        .store(cr, 4 * panelWidth * ((b - b0) * panelWidth + 4 * g + t))
                }
            }
        }
    }

    /// y[i·ldy + r] = x[i]·W[r] for the 32 rows of panel `p` (all of them, padding included:
    /// `y` must have room for 32 outputs per input row).
    @inline(never)
    fileprivate func product(panel p: Int, _ y: UnsafeMutablePointer<Float>, ldy: Int, _ x: UnsafePointer<Float>, n: Int) {
        withChunk(floats: panelChunk * panelWidth) { chunk in
            let perChunk = panelChunk / panelWidth
            var b = 0
            while b < blocks {
                let end = min(blocks, b + perChunk)
                decode(panel: p, blocks: b, end, into: chunk)
                panelRows(y, ldy: ldy, x + b * panelWidth, ldx: cols, n: n, chunk,
                          count: (end - b) * panelWidth, accumulate: b > 0)
                b = end
            }
        }
    }
}

/// Forward products of one input with several repacked weights (q, k, v; gate, up): every
/// panel of every weight is one task, claimed by whichever thread is free.
func panelMatmul(_ x: UnsafePointer<Float>, n: Int, _ products: [(y: UnsafeMutablePointer<Float>, w: PanelWeights)]) {
    let firstTask = products.reduce(into: [0]) { $0.append($0.last! + $1.w.panels) }
    Parallel.tasks(firstTask.last!) { t in
        var p = 0
        while firstTask[p + 1] <= t { p += 1 }
        let (y, w) = products[p]
        let panel = t - firstTask[p], r0 = panel * panelWidth
        if r0 + panelWidth <= w.rows {
            w.product(panel: panel, y + r0, ldy: w.rows, x, n: n)
        } else {
            // The last, partial panel: compute into scratch and copy the real rows.
            withUnsafeTemporaryAllocation(of: Float.self, capacity: n * panelWidth) { tmp in
                w.product(panel: panel, tmp.baseAddress!, ldy: panelWidth, x, n: n)
                for i in 0..<n { (y + i * w.rows + r0).update(from: tmp.baseAddress! + i * panelWidth, count: w.rows - r0) }
            }
        }
    }
}

// MARK: - Backward: dx += dy · W from the file's blocks

/// Floats decoded at a time by a backward task (32 KB, within L1).
let backwardChunkFloats = 8192

/// dx[i·cols + c] += Σ_r dy[i·ldy + r]·W[r, c] for every (dy, W) pair in order, split by
/// groups of 32-column blocks of dx: each task walks all rows of every weight for its columns,
/// so dx's sums run over the rows in order, whatever the threads or the grouping.
///
/// Groups are as wide as the threads allow (two per thread): a task then reads long runs of
/// each row, where narrow groups made it wait on memory for every row (rows are `rowBytes`
/// apart, and the hardware prefetcher follows streams, not strides).
func panelMatmulBackward(_ dx: UnsafeMutablePointer<Float>, n: Int,
                         _ products: [(dy: UnsafePointer<Float>, w: TensorView)]) {
    let cols = products[0].w.cols, blocks = cols / panelWidth
    precondition(products.allSatisfy { $0.w.cols == cols && panelBackwardHandles($0.w, n: n) })
    // Groups differ by at most one block (18 blocks: 5, 5, 4, 4), so two threads finish together.
    let tasks = min(blocks, 2 * Parallel.threads), group = (blocks + tasks - 1) / tasks
    let chunkRows = max(8, backwardChunkFloats / (group * panelWidth))
    Parallel.tasks(tasks) { g in
        let b0 = g * blocks / tasks, b1 = (g + 1) * blocks / tasks
        withChunk(floats: group * chunkRows * panelWidth) { chunk in
            for (dy, w) in products {
                var r = 0
                while r < w.rows {
                    let end = min(w.rows, r + chunkRows)
                    decodeColumns(w, rows: r, end, blocks: b0, b1, into: chunk, rowsApart: chunkRows)
                    for b in b0..<b1 {
                        panelRows(dx + b * panelWidth, ldy: cols, dy + r, ldx: w.rows, n: n,
                                  chunk + (b - b0) * chunkRows * panelWidth, count: end - r, accumulate: true)
                    }
                    r = end
                }
            }
        }
    }
}

/// How many rows ahead `decodeColumns` asks for its blocks (~1 µs of decoding).
let prefetchRows = 16

/// Decodes blocks [b0, b1) of rows [r0, r1) (one file block per row and block) into `chunk`:
/// block b's rows one after the other, the blocks `rowsApart` rows apart.
@inline(never)
private func decodeColumns(_ w: TensorView, rows r0: Int, _ r1: Int, blocks b0: Int, _ b1: Int,
                           into chunk: UnsafeMutablePointer<Float>, rowsApart: Int) {
    let rowBytes = w.type.rowBytes(w.cols), size = w.type.typeSize
    for r in r0..<r1 {
        let row = w.data + r * rowBytes
        // A hint for the same columns some rows ahead: the stride defeats the hardware prefetcher.
        let ahead = row + prefetchRows * rowBytes + b0 * size
        var line = 0
        while line < (b1 - b0) * size { prefetchForRead(ahead + line); line += 64 }
        for b in b0..<b1 {
            let out = chunk + ((b - b0) * rowsApart + r - r0) * panelWidth, block = row + b * size
            switch w.type {
            case .q4_1: dequantQ4_1(block, out)
            case .q4_0: dequantQ4_0(block, out)
            default: dequantQ8_0(block, out)
            }
        }
    }
}

// MARK: - Which weights are repacked

/// Repacked copies of a set of weights, which `matmul` uses for a few input rows inside
/// `use(_:)`. A `Trainer` holds one and wraps its steps in it: repacking costs a fraction of a
/// second and ~80 MB for SmolLM2, repaid within a few steps. Outside that scope (generation,
/// evaluation, the trainer's own prompt prefix) products take the tile path, so their results
/// never depend on whether a trainer happens to exist.
public final class PanelPacks: @unchecked Sendable {
    private let packed: [UnsafeRawPointer: PanelWeights]
    /// Bytes held by the repacked copies.
    public let byteCount: Int

    /// Repacks every Q4_0 and Q4_1 matrix among `tensors` (others keep the tile path).
    public init(_ tensors: [TensorView]) {
        var packed: [UnsafeRawPointer: PanelWeights] = [:]
        for t in tensors where packed[t.data] == nil { packed[t.data] = PanelWeights(t) }
        self.packed = packed
        byteCount = packed.values.reduce(0) { $0 + $1.byteCount }
    }

    /// Runs `body` with these copies in use by `matmul` (on any thread; scopes nest).
    public func use<T>(_ body: () throws -> T) rethrows -> T {
        let outer = Self.active.withLock { a in defer { a = self }; return a }
        defer { Self.active.withLock { $0 = outer } }
        return try body()
    }

    private static let active = Mutex<PanelPacks?>(nil)

    /// The repacked copy of `w`, if it is in the packs now in use.
    static func lookup(_ w: TensorView) -> PanelWeights? {
        active.withLock { $0?.packed[w.data] }
    }
}
