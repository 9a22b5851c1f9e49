// Cooperative cancellation: a signal handler (Ctrl-C) sets one flag, and long loops
// (layers, generated tokens, training steps) poll it and stop at a clean point.
import Synchronization

/// Thrown by engine loops that saw the interrupt flag.
public struct Interrupted: Error, CustomStringConvertible {
    public init() {}
    public var description: String { "interrupted" }
}

/// The process-wide interrupt flag. Async-signal-safe to set: it is one atomic store.
public enum Interrupt {
    private static let flag = Atomic<Bool>(false)

    /// Marks an interrupt request (called from a SIGINT handler).
    public static func request() { flag.store(true, ordering: .relaxed) }
    /// Whether an interrupt is pending.
    public static var isRequested: Bool { flag.load(ordering: .relaxed) }
    /// Clears the flag (at the start of each command).
    public static func clear() { flag.store(false, ordering: .relaxed) }
    /// Throws `Interrupted` (and clears the flag) when an interrupt is pending.
    public static func check() throws {
        if flag.exchange(false, ordering: .relaxed) { throw Interrupted() }
    }
}
