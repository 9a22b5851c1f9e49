// The panel kernels (a training step's few rows times 4-bit weights) promise more than
// closeness: every output is the plain sequential fused sum over k (forward) or over the rows
// (backward), so their results must equal that sum bit for bit, with 1 or 2 threads, for
// every block of input rows (1–6 at a time), a partial last panel and a partial last chunk,
// and a partial last group of column blocks (backward).
import Foundation
import XCTest
@testable import LlamaKit

final class PanelGemmTests: XCTestCase {
    typealias Weight = MatmulTests.Weight

    func input(_ count: Int, seed: UInt64) -> [Float] { MatmulTests.input(count, seed: seed) }

    /// y[i, r] = fma-sum over k in order, from the decoded weights.
    func sequentialForward(_ dense: [Float], rows: Int, cols: Int, _ x: [Float], n: Int) -> [Float] {
        var y = [Float](repeating: 0, count: n * rows)
        for i in 0..<n {
            for r in 0..<rows {
                var s: Float = 0
                for k in 0..<cols { s = s.addingProduct(x[i * cols + k], dense[r * cols + k]) }
                y[i * rows + r] = s
            }
        }
        return y
    }

    func withThreads(_ t: Int, _ body: () throws -> Void) rethrows {
        let saved = Parallel.threads
        Parallel.threads = t
        defer { Parallel.threads = saved }
        try body()
    }

    /// 37 rows = one full panel and a partial one; 288 columns = a 4-block chunk, then 1 block.
    func testForwardEqualsSequentialFusedSumExactly() throws {
        for type in [GGMLType.q4_1, .q4_0] {
            for cols in [256, 288] {
                let w = try Weight(type, rows: 37, cols: cols)
                let packs = PanelPacks([w.view])
                let dense = w.view.toFloats()
                for n in [2, 5, 6, 7, 13] {
                    let x = input(n * cols, seed: UInt64(n))
                    let expected = sequentialForward(dense, rows: 37, cols: cols, x, n: n)
                    for threads in [1, 2] {
                        var y = [Float](repeating: .nan, count: n * 37)
                        withThreads(threads) { packs.use { y.withUnsafeMutableBufferPointer { matmul($0.baseAddress!, x, n: n, w.view) } } }
                        XCTAssertEqual(y, expected, "\(type) cols=\(cols) n=\(n) threads=\(threads)")
                    }
                }
            }
        }
    }

    /// Products sharing an input (q, k, v) run as one task list over all their panels.
    func testSharedInputForwardEqualsSeparateProducts() throws {
        let a = try Weight(.q4_1, rows: 64, cols: 256), b = try Weight(.q4_0, rows: 37, cols: 256)
        let packs = PanelPacks([a.view, b.view])
        let n = 9, x = input(n * 256, seed: 3)
        var q = [Float](repeating: .nan, count: n * 64), k = [Float](repeating: .nan, count: n * 37)
        packs.use { q.withUnsafeMutableBufferPointer { qp in k.withUnsafeMutableBufferPointer { kp in
            matmul(x, n: n, [(qp.baseAddress!, a.view), (kp.baseAddress!, b.view)])
        }}}
        XCTAssertEqual(q, sequentialForward(a.view.toFloats(), rows: 64, cols: 256, x, n: n))
        XCTAssertEqual(k, sequentialForward(b.view.toFloats(), rows: 37, cols: 256, x, n: n))
    }

    /// dx += dy·W sums over the rows in order, starting from dx's value, weight after weight:
    /// 200 rows = a 128-row chunk and a partial one.
    func testBackwardEqualsSequentialFusedSumExactly() throws {
        let rows = [200, 37, 5], cols = 160   // 160 columns: a group of 3 blocks, then 2
        let weights = try [Weight(.q4_1, rows: rows[0], cols: cols), Weight(.q4_0, rows: rows[1], cols: cols),
                           Weight(.q8_0, rows: rows[2], cols: cols)]
        for n in [1, 6, 11] {
            let dys = rows.enumerated().map { input(n * $0.element, seed: UInt64(10 + $0.offset)) }
            let start = input(n * cols, seed: 7)
            var expected = start
            for (w, dy) in zip(weights, dys) {
                let dense = w.view.toFloats(), r = w.view.rows
                for i in 0..<n {
                    for c in 0..<cols {
                        var s = expected[i * cols + c]
                        for j in 0..<r { s = s.addingProduct(dy[i * r + j], dense[j * cols + c]) }
                        expected[i * cols + c] = s
                    }
                }
            }
            for threads in [1, 2] {
                var dx = start
                withThreads(threads) {
                    dys[0].withUnsafeBufferPointer { d0 in dys[1].withUnsafeBufferPointer { d1 in dys[2].withUnsafeBufferPointer { d2 in
                        matmulBackward(&dx, n: n, [(d0.baseAddress!, weights[0].view), (d1.baseAddress!, weights[1].view),
                                                   (d2.baseAddress!, weights[2].view)])
                    }}}
                }
                XCTAssertEqual(dx, expected, "n=\(n) threads=\(threads)")
            }
        }
    }

    /// Only Q4_0 and Q4_1 are repacked (Q8_0 keeps the tile path forward), and only inside
    /// `use` do products see them.
    func testPacksAreUsedOnlyInTheirScope() throws {
        let q4 = try Weight(.q4_1, rows: 37, cols: 256), q8 = try Weight(.q8_0, rows: 37, cols: 256)
        let qk = try Weight(.q4_K, rows: 37, cols: 256)
        let packs = PanelPacks([q4.view, q8.view, qk.view])
        XCTAssertEqual(packs.byteCount, 2 * 8 * 768)   // 2 panels × 8 blocks
        XCTAssertNil(PanelPacks.lookup(q4.view))
        packs.use {
            XCTAssertNotNil(PanelPacks.lookup(q4.view))
            XCTAssertNil(PanelPacks.lookup(q8.view))
            XCTAssertNil(PanelPacks.lookup(qk.view))
            let inner = PanelPacks([q8.view])
            inner.use { XCTAssertNil(PanelPacks.lookup(q4.view)) }
            XCTAssertNotNil(PanelPacks.lookup(q4.view))
        }
        XCTAssertNil(PanelPacks.lookup(q4.view))
    }
}
