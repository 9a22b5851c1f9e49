// OpenBLAS, loaded at first use instead of linked, so that we can choose its kernels first.
//
// Why: OpenBLAS picks its kernel family once, while the library loads, from CPU models it
// knows. Debian 12's OpenBLAS 0.3.21 does not know recent Xeons (Sapphire/Emerald Rapids) and
// falls back to its SSE3 "Prescott" kernels: prompt processing ran 3× slower on such a machine.
// A linked library is initialized before `main`, too early for us to intervene; loaded here,
// it first receives `OPENBLAS_CORETYPE` named from the instruction sets the CPU reports
// (AVX-512 → SkylakeX, AVX2 + FMA → Haswell). A value the user set is left alone.
import Foundation

/// The few OpenBLAS entry points the engine uses (row-major single-precision GEMM).
public enum BLAS {
    /// C = alpha · op(A) · op(B) + beta · C, all row-major; op transposes when asked.
    /// op(A) is m × k, op(B) is k × n, C is m × n.
    @inline(__always)
    public static func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                             alpha: Float = 1, _ a: UnsafePointer<Float>, lda: Int,
                             _ b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0, _ c: UnsafeMutablePointer<Float>, ldc: Int) {
        library.sgemm(rowMajor, transA ? trans : noTrans, transB ? trans : noTrans,
                      Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// How many threads OpenBLAS may start (we keep it at 1: our own pool parallelizes).
    public static func setThreads(_ n: Int) { library.setThreads(Int32(n)) }

    /// The kernel family OpenBLAS runs (e.g. "SkylakeX", "Haswell"), for benchmark reports.
    public static var coreName: String { String(cString: library.coreName()) }

    // CBLAS enumeration values (cblas.h).
    private static let rowMajor: Int32 = 101, noTrans: Int32 = 111, trans: Int32 = 112

    private static let library = Library.load()

    /// The instruction-set flags /proc/cpuinfo lists for the first CPU (nil elsewhere).
    static func cpuFlags() -> Set<String>? {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return nil }
        return Set(line.split(separator: " ").map(String.init))
    }

    private struct Library {
        typealias SGEMM = @convention(c) (Int32, Int32, Int32, Int32, Int32, Int32, Float,
                                          UnsafePointer<Float>, Int32, UnsafePointer<Float>, Int32,
                                          Float, UnsafeMutablePointer<Float>, Int32) -> Void
        let sgemm: SGEMM
        let setThreads: @convention(c) (Int32) -> Void
        let coreName: @convention(c) () -> UnsafePointer<CChar>

        static let candidates = ["libopenblas.so.0", "libopenblas.so", "libopenblas.dylib",
                                 "/opt/homebrew/opt/openblas/lib/libopenblas.dylib"]

        static func load() -> Library {
            if getenv("OPENBLAS_CORETYPE") == nil, let core = kernelFamily() {
                setenv("OPENBLAS_CORETYPE", core, 0)
            }
            guard let handle = candidates.lazy.compactMap({ dlopen($0, RTLD_NOW | RTLD_GLOBAL) }).first else {
                fail("OpenBLAS not found (tried \(candidates.joined(separator: ", "))); "
                     + "install it (Debian: apt install libopenblas0)")
            }
            func symbol<T>(_ name: String, as: T.Type) -> T {
                guard let p = dlsym(handle, name) else { fail("OpenBLAS lacks \(name)") }
                return unsafeBitCast(p, to: T.self)
            }
            return Library(sgemm: symbol("cblas_sgemm", as: SGEMM.self),
                           setThreads: symbol("openblas_set_num_threads", as: (@convention(c) (Int32) -> Void).self),
                           coreName: symbol("openblas_get_corename", as: (@convention(c) () -> UnsafePointer<CChar>).self))
        }

        /// OpenBLAS's name for the best kernel family this CPU runs (nil where /proc/cpuinfo
        /// is missing, or on CPUs OpenBLAS's own detection handles: no AVX2).
        static func kernelFamily() -> String? {
            guard let flags = cpuFlags() else { return nil }
            if flags.isSuperset(of: ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"]) { return "SkylakeX" }
            if flags.isSuperset(of: ["avx2", "fma"]) { return "Haswell" }
            return nil
        }

        static func fail(_ message: String) -> Never {
            fputs("llava-mnist: \(message)\n", stderr)
            exit(70)
        }
    }
}
