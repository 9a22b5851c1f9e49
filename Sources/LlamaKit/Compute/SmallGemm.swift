// Register-blocked products for a few input rows (a training step's 13 rows, 32 evaluation
// images decoding together): faster than OpenBLAS below ~48 rows, because sgemm repacks both
// operands on every call and its kernels are tuned for large matrices. Measured single-thread on
// a 64-row float32 tile, K = 576: 59 vs 42 GFLOP/s at 13 rows, 78 vs 64 at 32 rows, 75 vs 70 at
// 64; sgemm wins from about 128 rows, so `matmul` switches at `smallGemmRows`.
//
// Both kernels work on float32 rows in the layout the tiles are decoded to, so every element
// of W is read from L1/L2 once per group of input rows, and accumulators stay in registers
// (12 SIMD8 accumulators + 3 weight vectors + 1 input vector = the 16 AVX registers).

/// Input rows up to which `matmul` uses these kernels rather than sgemm.
let smallGemmRows = 48

/// y[i·ldy + r] = Σ_k x[i·K + k]·w[r·K + k] for i < n, r < rows (y = x·Wᵀ on a tile of W).
func smallGemm(_ y: UnsafeMutablePointer<Float>, ldy: Int, _ x: UnsafePointer<Float>, n: Int,
               _ w: UnsafePointer<Float>, rows: Int, k K: Int) {
    let vk = K / 8 * 8
    let xr = UnsafeRawPointer(x), wr = UnsafeRawPointer(w)
    /// The scalar tail of a row pair's dot product (K not a multiple of 8).
    @inline(__always) func tail(_ i: Int, _ r: Int) -> Float {
        var s: Float = 0
        for k in vk..<K { s += x[i * K + k] * w[r * K + k] }
        return s
    }
    var r = 0
    while r + 3 <= rows {
        let w0 = wr + 4 * r * K, w1 = w0 + 4 * K, w2 = w1 + 4 * K
        var i = 0
        while i + 4 <= n {
            var a00 = SIMD8<Float>(), a01 = SIMD8<Float>(), a02 = SIMD8<Float>(), a03 = SIMD8<Float>()
            var a10 = SIMD8<Float>(), a11 = SIMD8<Float>(), a12 = SIMD8<Float>(), a13 = SIMD8<Float>()
            var a20 = SIMD8<Float>(), a21 = SIMD8<Float>(), a22 = SIMD8<Float>(), a23 = SIMD8<Float>()
            let x0 = xr + 4 * i * K, x1 = x0 + 4 * K, x2 = x1 + 4 * K, x3 = x2 + 4 * K
            var k = 0
            while k < 4 * vk {
                let v0 = w0.loadUnaligned(fromByteOffset: k, as: SIMD8<Float>.self)
                let v1 = w1.loadUnaligned(fromByteOffset: k, as: SIMD8<Float>.self)
                let v2 = w2.loadUnaligned(fromByteOffset: k, as: SIMD8<Float>.self)
                var u = x0.loadUnaligned(fromByteOffset: k, as: SIMD8<Float>.self)
                a00.addProduct(v0, u); a10.addProduct(v1, u); a20.addProduct(v2, u)
                u = x1.loadUnaligned(fromByteOffset: k, as: SIMD8<Float>.self)
                a01.addProduct(v0, u); a11.addProduct(v1, u); a21.addProduct(v2, u)
                u = x2.loadUnaligned(fromByteOffset: k, as: SIMD8<Float>.self)
                a02.addProduct(v0, u); a12.addProduct(v1, u); a22.addProduct(v2, u)
                u = x3.loadUnaligned(fromByteOffset: k, as: SIMD8<Float>.self)
                a03.addProduct(v0, u); a13.addProduct(v1, u); a23.addProduct(v2, u)
                k += 32
            }
            @inline(__always) func put(_ di: Int, _ dr: Int, _ a: SIMD8<Float>) {
                y[(i + di) * ldy + r + dr] = a.sum() + tail(i + di, r + dr)
            }
            put(0, 0, a00); put(1, 0, a01); put(2, 0, a02); put(3, 0, a03)
            put(0, 1, a10); put(1, 1, a11); put(2, 1, a12); put(3, 1, a13)
            put(0, 2, a20); put(1, 2, a21); put(2, 2, a22); put(3, 2, a23)
            i += 4
        }
        while i < n {
            var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>()
            let x0 = xr + 4 * i * K
            var k = 0
            while k < 4 * vk {
                let u = x0.loadUnaligned(fromByteOffset: k, as: SIMD8<Float>.self)
                a0.addProduct(w0.loadUnaligned(fromByteOffset: k, as: SIMD8<Float>.self), u)
                a1.addProduct(w1.loadUnaligned(fromByteOffset: k, as: SIMD8<Float>.self), u)
                a2.addProduct(w2.loadUnaligned(fromByteOffset: k, as: SIMD8<Float>.self), u)
                k += 32
            }
            y[i * ldy + r] = a0.sum() + tail(i, r)
            y[i * ldy + r + 1] = a1.sum() + tail(i, r + 1)
            y[i * ldy + r + 2] = a2.sum() + tail(i, r + 2)
            i += 1
        }
        r += 3
    }
    while r < rows {
        for i in 0..<n { y[i * ldy + r] = dot(w + r * K, x + i * K, vk) + tail(i, r) }
        r += 1
    }
}

/// dx[i·cols + c] += Σ_r dy[i·ldy + r]·w[r·cols + c] for i < n, c < cols (dx += dY·W on a tile
/// of W's rows). Slower than sgemm for wide tiles (measured 39 vs 52 GFLOP/s at 1,536 columns:
/// each column strip walks the tile at a 6 KB stride), so `matmulBackward` uses it only up to
/// `smallGemmBackwardCols`.
func smallGemmBackward(_ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, ldy: Int, n: Int,
                       _ w: UnsafePointer<Float>, rows: Int, cols: Int) {
    let wr = UnsafeRawPointer(w), dxr = UnsafeMutableRawPointer(dx)
    @inline(__always) func add(_ i: Int, _ c: Int, _ a: SIMD8<Float>, _ b: SIMD8<Float>) {
        let o = 4 * (i * cols + c)
        dxr.storeBytes(of: dxr.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self) + a, toByteOffset: o, as: SIMD8<Float>.self)
        dxr.storeBytes(of: dxr.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self) + b, toByteOffset: o + 32, as: SIMD8<Float>.self)
    }
    var c = 0
    while c + 16 <= cols {
        var i = 0
        while i + 4 <= n {
            var a00 = SIMD8<Float>(), a01 = SIMD8<Float>(), a10 = SIMD8<Float>(), a11 = SIMD8<Float>()
            var a20 = SIMD8<Float>(), a21 = SIMD8<Float>(), a30 = SIMD8<Float>(), a31 = SIMD8<Float>()
            let d0 = dy + i * ldy, d1 = d0 + ldy, d2 = d1 + ldy, d3 = d2 + ldy
            for r in 0..<rows {
                let p = wr + 4 * (r * cols + c)
                let v0 = p.loadUnaligned(as: SIMD8<Float>.self), v1 = p.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
                var s = SIMD8<Float>(repeating: d0[r]); a00.addProduct(s, v0); a01.addProduct(s, v1)
                s = SIMD8<Float>(repeating: d1[r]); a10.addProduct(s, v0); a11.addProduct(s, v1)
                s = SIMD8<Float>(repeating: d2[r]); a20.addProduct(s, v0); a21.addProduct(s, v1)
                s = SIMD8<Float>(repeating: d3[r]); a30.addProduct(s, v0); a31.addProduct(s, v1)
            }
            add(i, c, a00, a01); add(i + 1, c, a10, a11); add(i + 2, c, a20, a21); add(i + 3, c, a30, a31)
            i += 4
        }
        while i < n {
            var a0 = SIMD8<Float>(), a1 = SIMD8<Float>()
            let d0 = dy + i * ldy
            for r in 0..<rows {
                let p = wr + 4 * (r * cols + c)
                let s = SIMD8<Float>(repeating: d0[r])
                a0.addProduct(s, p.loadUnaligned(as: SIMD8<Float>.self))
                a1.addProduct(s, p.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
            }
            add(i, c, a0, a1)
            i += 1
        }
        c += 16
    }
    while c < cols {
        for i in 0..<n {
            var s: Float = 0
            for r in 0..<rows { s += dy[i * ldy + r] * w[r * cols + c] }
            dx[i * cols + c] += s
        }
        c += 1
    }
}

/// Widest tile for which `smallGemmBackward` beats sgemm (see there).
let smallGemmBackwardCols = 1024
