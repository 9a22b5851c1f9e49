// BLAS.swift: OpenBLAS loaded at run time, with its kernel family named from the CPU.
import XCTest
@testable import LlamaKit
#if canImport(Glibc)
import Glibc
#endif

final class BLASTests: XCTestCase {
    /// Row-major sgemm with every transpose combination, alpha and beta, against a plain loop.
    func testSgemmMatchesNaiveProductsInEveryTransposition() {
        let m = 5, n = 7, k = 9
        var rng = SeededRandom(seed: 3)
        func values(_ count: Int) -> [Float] { (0..<count).map { _ in Float(rng.next() % 2001) / 1000 - 1 } }
        let a = values(m * k), b = values(k * n), c0 = values(m * n)
        for transA in [false, true] {
            for transB in [false, true] {
                // op(A) is m × k: stored k × m when transposed; op(B) is k × n likewise.
                func aAt(_ i: Int, _ p: Int) -> Float { transA ? a[p * m + i] : a[i * k + p] }
                func bAt(_ p: Int, _ j: Int) -> Float { transB ? b[j * k + p] : b[p * n + j] }
                var c = c0
                BLAS.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a, lda: transA ? m : k,
                           b, ldb: transB ? k : n, beta: 2, &c, ldc: n)
                for i in 0..<m {
                    for j in 0..<n {
                        var s: Float = 0
                        for p in 0..<k { s += aAt(i, p) * bAt(p, j) }
                        XCTAssertEqual(c[i * n + j], 0.5 * s + 2 * c0[i * n + j], accuracy: 1e-5,
                                       "transA \(transA) transB \(transB) at \(i),\(j)")
                    }
                }
            }
        }
    }

    /// On a CPU with AVX2 and FMA, OpenBLAS must not run its SSE3 fallback: Debian's 0.3.21
    /// does for CPU models it does not know (it did on this project's Xeon: 3× slower prompts),
    /// unless the loader names the kernel family first.
    func testOpenBLASRunsVectorKernelsOnAVX2Machines() throws {
        guard let flags = BLAS.cpuFlags() else { throw XCTSkip("no /proc/cpuinfo") }
        guard flags.isSuperset(of: ["avx2", "fma"]) else { throw XCTSkip("no AVX2 + FMA") }
        if let asked = getenv("OPENBLAS_CORETYPE"), ["prescott", "core2"].contains(String(cString: asked).lowercased()) {
            throw XCTSkip("OPENBLAS_CORETYPE asks for the old kernels")
        }
        XCTAssertNotEqual(BLAS.coreName.lowercased(), "prescott")
        XCTAssertNotEqual(BLAS.coreName.lowercased(), "core2")
    }
}
