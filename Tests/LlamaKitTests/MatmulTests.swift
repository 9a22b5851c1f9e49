// Products straight from the stored formats: the fused matrix-vector kernels (one new token)
// and the tiled sgemm path (many rows) must equal the product of the decoded weights, for
// every supported type; and the worker pool must run each task exactly once.
import Foundation
import XCTest
@testable import LlamaKit

final class MatmulTests: XCTestCase {
    /// A `rows × cols` weight of `type`, tiled from the real blocks of Fixtures/quants/<TYPE>.bin
    /// (so every block is a valid encoding), misaligned by one byte as GGUF data may be.
    final class Weight {
        let raw: UnsafeMutableRawPointer
        let view: TensorView
        init(_ type: GGMLType, rows: Int, cols: Int) throws {
            let bytes = try Self.finiteBlocks(type)
            let blockBytes = type.typeSize, blocks = bytes.count / blockBytes
            let perRow = cols / type.blockSize
            raw = .allocate(byteCount: rows * perRow * blockBytes + 1, alignment: 16)
            let base = raw + 1
            for r in 0..<rows {
                for k in 0..<perRow {
                    let source = ((r * 7 + k * 3) % blocks) * blockBytes
                    (base + (r * perRow + k) * blockBytes).copyMemory(from: Array(bytes[source..<(source + blockBytes)]), byteCount: blockBytes)
                }
            }
            view = TensorView(name: "w", type: type, shape: [cols, rows], data: UnsafeRawPointer(base),
                              byteCount: rows * perRow * blockBytes, owner: NSObject())
        }
        deinit { raw.deallocate() }

        /// The fixture's blocks; for F16/BF16 (whose fixture holds ±inf and NaN on purpose)
        /// 256 finite values instead.
        static func finiteBlocks(_ type: GGMLType) throws -> [UInt8] {
            if type == .f32 {
                return (0..<256).flatMap { i -> [UInt8] in
                    withUnsafeBytes(of: (Float((i * 37) % 256 - 128) / 64).bitPattern.littleEndian) { Array($0) }
                }
            }
            guard type == .f16 || type == .bf16 else { return try QuantBlocksTests.bin(type) }
            let halves: [UInt16] = (0..<256).map { i in
                let v = Float((i * 37) % 256 - 128) / 64
                return type == .f16 ? Float16(v).bitPattern : floatToBF16(v)
            }
            return halves.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        }
    }

    static let types: [GGMLType] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q5_K, .q6_K]

    /// y = W·x in float64 from the decoded weights, and Σ|w·x| per row (the error scale).
    func reference(_ w: TensorView, _ x: [Float], n: Int) -> (y: [Double], scale: [Double]) {
        let dense = w.toFloats()
        var y = [Double](repeating: 0, count: n * w.rows), scale = y
        for i in 0..<n {
            for r in 0..<w.rows {
                for c in 0..<w.cols {
                    let p = Double(dense[r * w.cols + c]) * Double(x[i * w.cols + c])
                    y[i * w.rows + r] += p
                    scale[i * w.rows + r] += abs(p)
                }
            }
        }
        return (y, scale)
    }

    func input(_ count: Int, seed: UInt64) -> [Float] { Self.input(count, seed: seed) }

    /// Deterministic values in [-2, 2] with 1/500 steps.
    static func input(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int(state >> 40) % 2001 - 1000) / 500
        }
    }

    func check(_ type: GGMLType, n: Int, threads: Int, cols: Int? = nil,
               file: StaticString = #filePath, line: UInt = #line) throws {
        // 37 rows: odd, so the two-row kernels also run their one-row tail (and 37 = 12·3 + 1
        // for the three-row blocks of the small-batch kernel).
        let cols = cols ?? (type.blockSize == 256 ? 512 : 256)
        let weight = try Weight(type, rows: 37, cols: cols)
        let x = input(n * cols, seed: UInt64(type.rawValue) + 1)
        let (expected, scale) = reference(weight.view, x, n: n)
        let saved = Parallel.threads
        Parallel.threads = threads
        defer { Parallel.threads = saved }
        var y = [Float](repeating: .nan, count: n * 37)
        y.withUnsafeMutableBufferPointer { matmul($0.baseAddress!, x, n: n, weight.view) }
        for i in 0..<y.count {
            XCTAssertEqual(Double(y[i]), expected[i], accuracy: 1e-5 * scale[i] + 1e-6,
                           "\(type) n=\(n) threads=\(threads) element \(i)", file: file, line: line)
        }
    }

    func testMatrixVectorProductsFromEveryStoredFormat() throws {
        for type in Self.types {
            try check(type, n: 1, threads: 1)
            try check(type, n: 1, threads: 2)
        }
    }

    /// 3 and 6 input rows take the small-batch kernel (its 4-row blocks and its 1-row tail),
    /// 50 take sgemm; F32 with 100 columns checks the kernel's tail beyond multiples of 8.
    func testMatrixMatrixProductsFromEveryStoredFormat() throws {
        for type in Self.types {
            for n in [3, 6, 50] { try check(type, n: n, threads: 2) }
        }
        try check(.f32, n: 6, threads: 2, cols: 100)
        try check(.f32, n: 1, threads: 1, cols: 100)
    }

    /// dx += dy·W against float64, for the small-batch kernel (256 columns) and sgemm (wider
    /// tiles, or many rows).
    func testBackwardProducts() throws {
        for (type, n, cols) in [(GGMLType.q4_1, 6, 256), (.q8_0, 5, 2048), (.q4_1, 60, 256), (.f32, 7, 100)] {
            let rows = 70
            let weight = try Weight(type, rows: rows, cols: cols)
            let dense = weight.view.toFloats()
            let dy = input(n * rows, seed: 5)
            var dx = input(n * cols, seed: 6)
            var expected = dx.map(Double.init), scale = [Double](repeating: 0, count: n * cols)
            for i in 0..<n {
                for r in 0..<rows {
                    for c in 0..<cols {
                        let p = Double(dy[i * rows + r]) * Double(dense[r * cols + c])
                        expected[i * cols + c] += p
                        scale[i * cols + c] += abs(p)
                    }
                }
            }
            dx.withUnsafeMutableBufferPointer { matmulBackward($0.baseAddress!, dy, n: n, weight.view) }
            for j in 0..<dx.count {
                XCTAssertEqual(Double(dx[j]), expected[j], accuracy: 1e-5 * scale[j] + 1e-5, "\(type) n=\(n) cols=\(cols) element \(j)")
            }
        }
    }

    /// q, k and v in one region equal three separate products (rows split across weights).
    func testSharedInputProductsEqualSeparateOnes() throws {
        let a = try Weight(.q4_1, rows: 37, cols: 256), b = try Weight(.q8_0, rows: 5, cols: 256)
        let d = try Weight(.bf16, rows: 11, cols: 256)
        let x = input(256, seed: 9)
        var together = [Float](repeating: .nan, count: 37 + 5 + 11)
        together.withUnsafeMutableBufferPointer { p in
            matmul(x, n: 1, [(p.baseAddress!, a.view), (p.baseAddress! + 37, b.view), (p.baseAddress! + 42, d.view)])
        }
        var apart = [Float](repeating: .nan, count: 37 + 5 + 11)
        apart.withUnsafeMutableBufferPointer { p in
            matmul(p.baseAddress!, x, n: 1, a.view)
            matmul(p.baseAddress! + 37, x, n: 1, b.view)
            matmul(p.baseAddress! + 42, x, n: 1, d.view)
        }
        XCTAssertEqual(together, apart)
    }

    /// Every task runs once, also with more tasks than threads, nested runs and runs from
    /// several threads at once (those fall back to running alone).
    func testWorkerPoolRunsEachTaskExactlyOnce() {
        let saved = Parallel.threads
        Parallel.threads = 2
        defer { Parallel.threads = saved }
        for tasks in [1, 2, 3, 17, 1000] {
            let counts = UnsafeMutablePointer<Int>.allocate(capacity: tasks * 8)
            counts.initialize(repeating: 0, count: tasks * 8)
            defer { counts.deallocate() }
            for _ in 0..<50 {
                Parallel.tasks(tasks) { t in
                    counts[t * 8] += 1
                    Parallel.tasks(2) { inner in counts[t * 8 + 1 + inner] += 1 }
                }
            }
            for t in 0..<tasks {
                XCTAssertEqual(counts[t * 8], 50, "task \(t) of \(tasks)")
                XCTAssertEqual(counts[t * 8 + 1], 50); XCTAssertEqual(counts[t * 8 + 2], 50)
            }
        }
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            var sum = 0
            let lock = NSLock()
            Parallel.tasks(64) { t in lock.lock(); sum += t; lock.unlock() }
            XCTAssertEqual(sum, 64 * 63 / 2)
        }
    }
}
