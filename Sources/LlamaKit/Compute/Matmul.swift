// Products with weight matrices kept in their stored format (F32, F16, BF16 or a ggml
// quantization): the only place BLAS is called. One input row (decoding) runs the fused
// kernels of RowDot.swift. Otherwise a worker decodes a tile of weight rows into float32
// scratch, then multiplies it with every input row at once (our kernel for a few rows, sgemm
// for many), so decoding costs are shared by the whole batch of positions. A training step's
// few rows take the panel kernels of PanelGemm.swift instead (forward inside `PanelPacks.use`,
// backward for Q4_0, Q4_1 and Q8_0).

/// Rows of W decoded per tile (64 × 1536 columns = 384 KB, within L2; 3.5 MB for Llama 3.1
/// 8B's 14336-wide down projection). 64 measured ~20% faster training steps than 32 (OpenBLAS
/// repacks the input rows on every call) and faster than 128 (the tile leaves L2).
let tileRows = 64

/// y[n × rows] = x[n × cols] · Wᵀ, where W (a `rows × cols` tensor) is the weight of a
/// `Linear(cols → rows)` layer.
public func matmul(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, n: Int, _ w: TensorView) {
    let rows = w.rows, cols = w.cols
    if w.type == .f32 {
        Parallel.chunks(rows, grain: tileRows) { r0, r1 in
            let wp = w.data.assumingMemoryBound(to: Float.self) + r0 * cols
            if n == 1 {
                for r in r0..<r1 { y[r] = dot(wp + (r - r0) * cols, x, cols) }
            } else {
                tileProduct(y + r0, ldy: rows, x, n: n, wp, rows: r1 - r0, cols: cols)
            }
        }
        return
    }
    let rowBytes = w.type.rowBytes(cols)
    if n == 1 { return matvec(y, x, w) }
    if n <= smallGemmRows, let packed = PanelPacks.lookup(w) { return panelMatmul(x, n: n, [(y, packed)]) }
    Parallel.chunks(rows, grain: tileRows) { r0, r1 in
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: tileRows * cols)
        defer { scratch.deallocate() }
        var t = r0
        while t < r1 {
            let count = min(tileRows, r1 - t)
            dequantize(w.type, w.data + t * rowBytes, into: scratch, count: count * cols)
            tileProduct(y + t, ldy: rows, x, n: n, scratch, rows: count, cols: cols)
            t += count
        }
    }
}

/// y[i·ldy + r] = x[i]·w[r] for a tile of float32 weight rows: our register-blocked kernel for
/// a few input rows, sgemm for many (see SmallGemm.swift).
@inline(__always)
func tileProduct(_ y: UnsafeMutablePointer<Float>, ldy: Int, _ x: UnsafePointer<Float>, n: Int,
                 _ w: UnsafePointer<Float>, rows: Int, cols: Int) {
    if n <= smallGemmRows {
        smallGemm(y, ldy: ldy, x, n: n, w, rows: rows, k: cols)
    } else {
        BLAS.sgemm(transB: true, m: n, n: rows, k: cols, x, lda: cols, w, ldb: cols, y, ldc: ldy)
    }
}

/// Several products of the same input (q, k and v; gate and up). For one input row they run
/// in one parallel region, so the workers start once instead of once per weight.
public func matmul(_ x: UnsafePointer<Float>, n: Int, _ products: [(y: UnsafeMutablePointer<Float>, w: TensorView)]) {
    if n == 1 { return matvec(x, products) }
    let packed = n <= smallGemmRows ? products.compactMap { p in PanelPacks.lookup(p.w).map { (p.y, $0) } } : []
    if packed.count == products.count { return panelMatmul(x, n: n, packed) }
    for p in products { matmul(p.y, x, n: n, p.w) }
}

/// y[rows] = W·x for one input vector, from the stored format (see RowDot.swift).
func matvec(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: TensorView) {
    matvec(x, [(y, w)])
}

/// Matrix-vector products sharing their input: the rows of all weights are split into a few
/// chunks per thread, which the pool's threads claim as they go (see Parallel.swift).
func matvec(_ x: UnsafePointer<Float>, _ products: [(y: UnsafeMutablePointer<Float>, w: TensorView)]) {
    let cols = products[0].w.cols
    precondition(products.allSatisfy { $0.w.cols == cols }, "products sharing an input must have its width")
    let input = RowDotInput(x, cols: cols)
    defer { input.release() }
    let total = products.reduce(0) { $0 + $1.w.rows }
    let tasks = max(1, min(total / 16, 4 * Parallel.threads))
    let step = (total + tasks - 1) / tasks
    Parallel.tasks((total + step - 1) / step) { t in
        var first = t * step, end = min(total, first + step)
        for p in products {
            // The part of [first, end) that falls in this weight's rows.
            let rows = p.w.rows
            if first < rows && first < end {
                rowDots(p.w.type, p.w.data, rowBytes: p.w.type.rowBytes(cols), first..<min(rows, end), p.y, input)
            }
            first = max(0, first - rows)
            end -= rows
            if end <= 0 { break }
        }
    }
}

/// dx[n × cols] += dy[n × rows] · W: the gradient of `matmul` with respect to its input.
/// (The frozen model never needs dW.)
public func matmulBackward(_ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, n: Int, _ w: TensorView) {
    if panelBackwardHandles(w, n: n) { return panelMatmulBackward(dx, n: n, [(dy, w)]) }
    let rows = w.rows, cols = w.cols
    let rowBytes = w.type.rowBytes(cols)
    let workers = min(Parallel.threads, max(1, rows / tileRows))
    // Each worker accumulates into its own buffer; they are summed at the end.
    let partial = UnsafeMutablePointer<Float>.allocate(capacity: workers * n * cols)
    partial.initialize(repeating: 0, count: workers * n * cols)
    defer { partial.deallocate() }
    let per = ((rows + workers - 1) / workers + tileRows - 1) / tileRows * tileRows
    Parallel.chunks(workers) { w0, w1 in
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: tileRows * cols)
        defer { scratch.deallocate() }
        for worker in w0..<w1 {
            let acc = partial + worker * n * cols
            var t = worker * per
            let end = min(rows, t + per)
            while t < end {
                let count = min(tileRows, end - t)
                let wt: UnsafePointer<Float>
                if w.type == .f32 {
                    wt = w.data.assumingMemoryBound(to: Float.self) + t * cols
                } else {
                    dequantize(w.type, w.data + t * rowBytes, into: scratch, count: count * cols)
                    wt = UnsafePointer(scratch)
                }
                if n <= smallGemmRows && cols <= smallGemmBackwardCols {
                    smallGemmBackward(acc, dy + t, ldy: rows, n: n, wt, rows: count, cols: cols)
                } else {
                    BLAS.sgemm(m: n, n: cols, k: count, dy + t, lda: rows, wt, ldb: cols, beta: 1, acc, ldc: cols)
                }
                t += count
            }
        }
    }
    for worker in 0..<workers { axpy(1, partial + worker * n * cols, dx, n * cols) }
}

/// dx += Σ dy·W over several weights of the same input (gate and up; q, k and v), in the
/// order given.
public func matmulBackward(_ dx: UnsafeMutablePointer<Float>, n: Int, _ products: [(dy: UnsafePointer<Float>, w: TensorView)]) {
    if products.allSatisfy({ panelBackwardHandles($0.w, n: n) }) { return panelMatmulBackward(dx, n: n, products) }
    for p in products { matmulBackward(dx, p.dy, n: n, p.w) }
}

/// One row of an embedding table (or any matrix), decoded to float32.
public func readRow(_ w: TensorView, _ row: Int, into out: UnsafeMutablePointer<Float>) {
    dequantize(w.type, w.data + row * w.type.rowBytes(w.cols), into: out, count: w.cols)
}
