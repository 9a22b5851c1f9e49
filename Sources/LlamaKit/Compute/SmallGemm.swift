// Register-blocked products for a few input rows (a training step's 13 rows, 32 evaluation
// images decoding together): faster than OpenBLAS below ~48 rows, because sgemm repacks both
// operands on every call and its kernels are tuned for large matrices. Measured single-thread on
// a 64-row float32 tile, K = 576: 59 vs 42 GFLOP/s at 13 rows, 78 vs 64 at 32 rows, 75 vs 70 at
// 64; sgemm wins from about 128 rows, so `matmul` switches at `smallGemmRows`.
//
// Both kernels work on float32 rows in the layout the tiles are decoded to, so every element
// of W is read from L1/L2 once per group of input rows, and accumulators stay in registers
// (12 accumulators + 3 weight vectors + 1 input vector = the 16 AVX2 registers).

/// The float vector the kernels work in: one AVX-512 register when the build targets it
/// (Package.swift defines AVX512), else one AVX2 register. Same code, twice the FLOPs per
/// instruction; the register budget below holds for both (AVX-512 has 32 registers).
#if AVX512
typealias FloatLanes = SIMD16<Float>
#else
typealias FloatLanes = SIMD8<Float>
#endif
let lanes = FloatLanes.scalarCount, laneBytes = 4 * FloatLanes.scalarCount

/// Input rows up to which `matmul` uses these kernels rather than sgemm.
let smallGemmRows = 48

/// y[i·ldy + r] = Σ_k x[i·K + k]·w[r·K + k] for i < n, r < rows (y = x·Wᵀ on a tile of W).
func smallGemm(_ y: UnsafeMutablePointer<Float>, ldy: Int, _ x: UnsafePointer<Float>, n: Int,
               _ w: UnsafePointer<Float>, rows: Int, k K: Int) {
    let vk = K / lanes * lanes
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
            var a00 = FloatLanes(), a01 = FloatLanes(), a02 = FloatLanes(), a03 = FloatLanes()
            var a10 = FloatLanes(), a11 = FloatLanes(), a12 = FloatLanes(), a13 = FloatLanes()
            var a20 = FloatLanes(), a21 = FloatLanes(), a22 = FloatLanes(), a23 = FloatLanes()
            let x0 = xr + 4 * i * K, x1 = x0 + 4 * K, x2 = x1 + 4 * K, x3 = x2 + 4 * K
            var k = 0
            while k < 4 * vk {
                let v0 = w0.loadUnaligned(fromByteOffset: k, as: FloatLanes.self)
                let v1 = w1.loadUnaligned(fromByteOffset: k, as: FloatLanes.self)
                let v2 = w2.loadUnaligned(fromByteOffset: k, as: FloatLanes.self)
                var u = x0.loadUnaligned(fromByteOffset: k, as: FloatLanes.self)
                a00.addProduct(v0, u); a10.addProduct(v1, u); a20.addProduct(v2, u)
                u = x1.loadUnaligned(fromByteOffset: k, as: FloatLanes.self)
                a01.addProduct(v0, u); a11.addProduct(v1, u); a21.addProduct(v2, u)
                u = x2.loadUnaligned(fromByteOffset: k, as: FloatLanes.self)
                a02.addProduct(v0, u); a12.addProduct(v1, u); a22.addProduct(v2, u)
                u = x3.loadUnaligned(fromByteOffset: k, as: FloatLanes.self)
                a03.addProduct(v0, u); a13.addProduct(v1, u); a23.addProduct(v2, u)
                k += laneBytes
            }
            @inline(__always) func put(_ di: Int, _ dr: Int, _ a: FloatLanes) {
                y[(i + di) * ldy + r + dr] = laneSum(a) + tail(i + di, r + dr)
            }
            put(0, 0, a00); put(1, 0, a01); put(2, 0, a02); put(3, 0, a03)
            put(0, 1, a10); put(1, 1, a11); put(2, 1, a12); put(3, 1, a13)
            put(0, 2, a20); put(1, 2, a21); put(2, 2, a22); put(3, 2, a23)
            i += 4
        }
        while i < n {
            var a0 = FloatLanes(), a1 = FloatLanes(), a2 = FloatLanes()
            let x0 = xr + 4 * i * K
            var k = 0
            while k < 4 * vk {
                let u = x0.loadUnaligned(fromByteOffset: k, as: FloatLanes.self)
                a0.addProduct(w0.loadUnaligned(fromByteOffset: k, as: FloatLanes.self), u)
                a1.addProduct(w1.loadUnaligned(fromByteOffset: k, as: FloatLanes.self), u)
                a2.addProduct(w2.loadUnaligned(fromByteOffset: k, as: FloatLanes.self), u)
                k += laneBytes
            }
            y[i * ldy + r] = laneSum(a0) + tail(i, r)
            y[i * ldy + r + 1] = laneSum(a1) + tail(i, r + 1)
            y[i * ldy + r + 2] = laneSum(a2) + tail(i, r + 2)
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
    @inline(__always) func add(_ i: Int, _ c: Int, _ a: FloatLanes, _ b: FloatLanes) {
        let o = 4 * (i * cols + c)
        dxr.storeBytes(of: dxr.loadUnaligned(fromByteOffset: o, as: FloatLanes.self) + a, toByteOffset: o, as: FloatLanes.self)
        dxr.storeBytes(of: dxr.loadUnaligned(fromByteOffset: o + laneBytes, as: FloatLanes.self) + b, toByteOffset: o + laneBytes, as: FloatLanes.self)
    }
    var c = 0
    while c + 2 * lanes <= cols {
        var i = 0
        while i + 4 <= n {
            var a00 = FloatLanes(), a01 = FloatLanes(), a10 = FloatLanes(), a11 = FloatLanes()
            var a20 = FloatLanes(), a21 = FloatLanes(), a30 = FloatLanes(), a31 = FloatLanes()
            let d0 = dy + i * ldy, d1 = d0 + ldy, d2 = d1 + ldy, d3 = d2 + ldy
            for r in 0..<rows {
                let p = wr + 4 * (r * cols + c)
                let v0 = p.loadUnaligned(as: FloatLanes.self), v1 = p.loadUnaligned(fromByteOffset: laneBytes, as: FloatLanes.self)
                var s = FloatLanes(repeating: d0[r]); a00.addProduct(s, v0); a01.addProduct(s, v1)
                s = FloatLanes(repeating: d1[r]); a10.addProduct(s, v0); a11.addProduct(s, v1)
                s = FloatLanes(repeating: d2[r]); a20.addProduct(s, v0); a21.addProduct(s, v1)
                s = FloatLanes(repeating: d3[r]); a30.addProduct(s, v0); a31.addProduct(s, v1)
            }
            add(i, c, a00, a01); add(i + 1, c, a10, a11); add(i + 2, c, a20, a21); add(i + 3, c, a30, a31)
            i += 4
        }
        while i < n {
            var a0 = FloatLanes(), a1 = FloatLanes()
            let d0 = dy + i * ldy
            for r in 0..<rows {
                let p = wr + 4 * (r * cols + c)
                let s = FloatLanes(repeating: d0[r])
                a0.addProduct(s, p.loadUnaligned(as: FloatLanes.self))
                a1.addProduct(s, p.loadUnaligned(fromByteOffset: laneBytes, as: FloatLanes.self))
            }
            add(i, c, a0, a1)
            i += 1
        }
        c += 2 * lanes
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
