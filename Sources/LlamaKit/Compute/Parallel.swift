// The one place the engine fans work out to threads. Work is split into one contiguous
// chunk per worker (no per-item dispatch), and OpenBLAS is pinned to one thread so the two
// pools never fight over the machine's cores.
//
// Why our own pool rather than Dispatch: generating one token calls ~200 small products, each
// 20–100 µs of work. Waking a Dispatch worker per call cost more than the second core gave
// (two threads were slower than one). These workers spin briefly between calls, then sleep,
// so back-to-back calls start at once and an idle REPL uses no CPU. Chunks are claimed from
// a shared counter: when the other core is busy (another program, a descheduled worker), the
// calling thread simply takes the remaining chunks itself instead of waiting at a barrier.
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Thread settings for the engine's kernels.
public enum Parallel {
    nonisolated(unsafe) private static var _threads = 0
    nonisolated(unsafe) private static var blasPinned = false
    nonisolated(unsafe) private static var pool: WorkerPool?

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
        let chunkCount = (count + step - 1) / step
        workerPool().run(tasks: chunkCount) { w in
            let s = w * step, e = min(count, s + step)
            if s < e { body(s, e) }
        }
    }

    /// Runs `body(0) … body(count − 1)` on the pool's threads, each task claimed by whichever
    /// thread is free (use a few tasks per thread so a busy core slows nobody down).
    public static func tasks(_ count: Int, _ body: (Int) -> Void) {
        pinBLAS()
        if threads <= 1 || count <= 1 { for t in 0..<count { body(t) }; return }
        workerPool().run(tasks: count, body)
    }

    /// The pool for the current thread count (rebuilt when `threads` changes).
    static func workerPool() -> WorkerPool {
        if let pool, pool.helpers == threads - 1 { return pool }
        pool?.stop()
        let made = WorkerPool(helpers: threads - 1)
        pool = made
        return made
    }

    static func pinBLAS() {
        if !blasPinned {
            BLAS.setThreads(1)
            #if canImport(Glibc)
            // Kernels allocate tile scratch and activations of 0.1–2 MB per call. glibc would
            // serve each from a fresh mmap and fault its pages in again on every call (5% of a
            // training step); from the heap they are reused while still mapped.
            // (mallopt is not in Swift's Glibc module; M_TRIM_THRESHOLD = -1, M_MMAP_THRESHOLD = -3.)
            typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
            if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") {
                let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
                _ = mallopt(-3, 64 << 20)
                _ = mallopt(-1, 256 << 20)
            }
            #endif
            blasPinned = true
        }
    }
}

/// Helper threads that run numbered tasks together with the calling thread.
final class WorkerPool: @unchecked Sendable {
    let helpers: Int
    /// Bumped once per `run`; helpers wait for it to change.
    private let generation = Atomic<Int>(0)
    /// The current run's generation (high bits), task count and next unclaimed task (low bits).
    private let claims = Atomic<Int>(0)
    /// Tasks of the current run not finished yet.
    private let pending = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)
    /// Set while a run is in progress: a nested or concurrent `run` then works alone.
    private let busy = Atomic<Bool>(false)
    /// The current run's body, a `(Int) -> Void` on the caller's stack.
    nonisolated(unsafe) private var job: UnsafeRawPointer?
    private var mutex = pthread_mutex_t()
    private var wake = pthread_cond_t()

    private static let indexBits = 20, countShift = 20, generationShift = 40
    private static let mask = (1 << indexBits) - 1
    /// How long a helper polls for the next run before sleeping (iterations of a load).
    private static let spinLimit = 100_000

    init(helpers: Int) {
        self.helpers = helpers
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&wake, nil)
        for _ in 0..<helpers {
            let box = Unmanaged.passRetained(self).toOpaque()
            var thread = pthread_t()
            pthread_create(&thread, nil, { raw in
                let pool = Unmanaged<WorkerPool>.fromOpaque(raw!).takeRetainedValue()
                pool.helperLoop()
                return nil
            }, box)
            pthread_detach(thread)
        }
    }

    /// Asks the helpers to exit (after the current run); the pool must not be used afterwards.
    func stop() {
        stopped.store(true, ordering: .sequentiallyConsistent)
        generation.add(1, ordering: .sequentiallyConsistent)
        pthread_mutex_lock(&mutex); pthread_cond_broadcast(&wake); pthread_mutex_unlock(&mutex)
    }

    /// Runs `body(0) … body(tasks − 1)`, each exactly once, on the caller and the helpers;
    /// returns when all are done.
    func run(tasks: Int, _ body: (Int) -> Void) {
        precondition(tasks <= Self.mask)
        if helpers == 0 || tasks <= 1
            || !busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
            for t in 0..<tasks { body(t) }
            return
        }
        defer { busy.store(false, ordering: .releasing) }
        withoutActuallyEscaping(body) { escapable in
            var function = escapable
            withUnsafePointer(to: &function) { pointer in
                job = UnsafeRawPointer(pointer)
                let gen = (generation.load(ordering: .relaxed) + 1) & ((1 << 23) - 1)
                pending.store(tasks, ordering: .relaxed)
                claims.store(gen << Self.generationShift | tasks << Self.countShift, ordering: .releasing)
                generation.store(gen, ordering: .sequentiallyConsistent)
                if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                    pthread_mutex_lock(&mutex); pthread_cond_broadcast(&wake); pthread_mutex_unlock(&mutex)
                }
                drain(generation: gen)
                var spins = 0
                while pending.load(ordering: .acquiring) > 0 {
                    spins += 1
                    if spins > 2000 { sched_yield() }
                }
                job = nil
            }
        }
    }

    /// Claims and runs tasks of run `gen` until none is left.
    private func drain(generation gen: Int) {
        while true {
            let value = claims.load(ordering: .acquiring)
            let index = value & Self.mask, count = (value >> Self.countShift) & Self.mask
            guard value >> Self.generationShift == gen, index < count else { return }
            guard claims.compareExchange(expected: value, desired: value + 1, ordering: .acquiringAndReleasing).exchanged
            else { continue }
            // A successful claim of the current run: its body is alive until `pending` reaches 0.
            job!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(index)
            pending.subtract(1, ordering: .releasing)
        }
    }

    private func helperLoop() {
        var seen = generation.load(ordering: .acquiring)
        while true {
            var spins = 0
            var current = generation.load(ordering: .acquiring)
            while current == seen {
                spins += 1
                if spins > Self.spinLimit {
                    pthread_mutex_lock(&mutex)
                    sleepers.add(1, ordering: .sequentiallyConsistent)
                    while generation.load(ordering: .sequentiallyConsistent) == seen {
                        pthread_cond_wait(&wake, &mutex)
                    }
                    sleepers.subtract(1, ordering: .sequentiallyConsistent)
                    pthread_mutex_unlock(&mutex)
                    spins = 0
                }
                current = generation.load(ordering: .acquiring)
            }
            if stopped.load(ordering: .acquiring) { return }
            seen = current
            drain(generation: current)
        }
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
