// Where command results go. Commands describe what they show (text, digits, a loss curve,
// a confusion matrix); a display decides how: the terminal draws digits with half-blocks,
// the workflow recorder keeps plain text for `check` and files for rendered notebooks.

/// Rich results a command can show besides text.
public enum Figure: Sendable {
    /// Digits with captions (one row).
    case digits([[UInt8]], captions: [String])
    /// Loss per training step.
    case lossCurve([Float])
    /// counts[label][predicted] (column 10: no digit named).
    case confusion([[Int]])
}

/// The sink of everything a command prints.
public protocol Display: AnyObject {
    /// A complete line (or several) of output.
    func line(_ text: String)
    /// Part of a line, printed as it comes (streamed replies); `line` ends it.
    func partial(_ text: String)
    /// A transient status line (progress bar) that the next output replaces; ignored by
    /// displays that record transcripts.
    func status(_ text: String)
    /// A rich result; the display prints its text form and may keep the figure itself.
    func figure(_ figure: Figure, text: String)
    /// Whether colour and Unicode drawing may be used.
    var colorMode: ColorMode { get }
}

/// Writes to standard output; progress lines are redrawn in place on a terminal.
public final class TerminalDisplay: Display {
    public let colorMode: ColorMode
    private let isTTY: Bool
    private var statusShown = false

    public init(colorMode: ColorMode? = nil) {
        self.colorMode = colorMode ?? Terminal.colorMode
        isTTY = Terminal.stdoutIsTerminal
    }

    private func clearStatus() {
        if statusShown { print("\r\u{1B}[2K", terminator: ""); statusShown = false }
    }

    public func line(_ text: String) { clearStatus(); print(text); fflushStdout() }
    public func partial(_ text: String) { clearStatus(); print(text, terminator: ""); fflushStdout() }
    public func status(_ text: String) {
        guard isTTY else { return }
        print("\r\u{1B}[2K" + text, terminator: ""); statusShown = true; fflushStdout()
    }
    public func figure(_ figure: Figure, text: String) { line(text) }
}

/// Keeps everything as plain text (and the figures), for workflows and tests.
public final class RecordingDisplay: Display {
    public private(set) var text = ""
    public private(set) var figures: [Figure] = []
    public let colorMode: ColorMode = .none
    /// Also echo to another display (e.g. the terminal while a workflow runs).
    public let echo: Display?

    public init(echo: Display? = nil) { self.echo = echo }

    public func line(_ s: String) { text += s + "\n"; echo?.line(s) }
    public func partial(_ s: String) { text += s; echo?.partial(s) }
    public func status(_ s: String) { echo?.status(s) }
    public func figure(_ f: Figure, text s: String) { figures.append(f); text += s + "\n"; echo?.figure(f, text: s) }
    /// Takes the text recorded so far and starts afresh.
    public func take() -> (text: String, figures: [Figure]) {
        defer { text = ""; figures = [] }
        return (text, figures)
    }
}

#if canImport(Glibc)
import Glibc
#endif
func fflushStdout() { fflush(nil) }

extension Terminal {
    /// Whether standard output is a terminal.
    public static var stdoutIsTerminal: Bool { isatty(1) == 1 }
}
