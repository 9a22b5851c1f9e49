// The one place the engine fans work out to threads. Work is split into one contiguous
// chunk per worker (no per-item dispatch), and OpenBLAS is pinned to one thread so the two
// pools never fight over the machine's cores.
import Dispatch
import CBLAS

/// Thread settings for the engine's kernels.
public enum Parallel {
    nonisolated(unsafe) private static var _threads = 0
    nonisolated(unsafe) private static var blasPinned = false

    /// Worker threads used by kernels (default: every core).
    public static var threads: Int {
        get { _threads > 0 ? _threads : ProcessInfoCores.count }
        set { _threads = max(1, newValue) }
    }

    /// Runs `body(start, end)` over `0..<count`, split into one chunk per worker.
    /// Chunks are multiples of `grain` so callers can keep blocks together.
    @inline(__always)
    public static func chunks(_ count: Int, grain: Int = 1, _ body: (Int, Int) -> Void) {
        pinBLAS()
        let workers = min(threads, max(1, count / max(grain, 1)))
        if workers <= 1 || count == 0 { body(0, count); return }
        let per = (count + workers - 1) / workers
        let step = (per + grain - 1) / grain * grain
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let s = w * step, e = min(count, s + step)
            if s < e { body(s, e) }
        }
    }

    static func pinBLAS() {
        if !blasPinned { openblas_set_num_threads(1); blasPinned = true }
    }
}

enum ProcessInfoCores {
    static let count: Int = {
        #if canImport(Glibc)
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
        return 2
        #endif
    }()
}
#if canImport(Glibc)
import Glibc
#endif
