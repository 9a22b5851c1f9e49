// The REPL's line editor: libedit (BSD, readline-compatible API) with completion from the
// command table, a plain-text history file, and Ctrl-C that cancels the line, not the session.
// See docs/libedit.md for the traps this code steps around; the comments name them.
//
// Reading uses libedit's callback interface (rl_callback_handler_install + poll +
// rl_callback_read_char), as CPython does: a plain readline() swallows the first Ctrl-C
// (libedit's read retries one EINTR), while poll() returns EINTR at once, so one Ctrl-C
// cancels the line. When standard input is not a terminal, libedit is never touched: lines
// come from readLine() with no prompt, so piped scripts give golden-testable output.

@preconcurrency import CEditLine
import LlamaKit
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads statements from the user (or from a pipe).
public final class LineEditor {
    /// What one read produced.
    public enum Input: Equatable, Sendable {
        case line(String)
        /// Ctrl-C at the prompt: the typed text is dropped, the session goes on.
        case cancelled
        /// Ctrl-D on an empty line, or the end of piped input.
        case endOfInput
    }

    /// Whether libedit is in use (standard input is a terminal and `TERM` is not `dumb`).
    public let isInteractive: Bool
    /// The history file (`~/.lmw_history` by default), `nil` for none.
    public let historyPath: String?
    /// Most history lines replayed at start (the file is compacted when it grows past twice this).
    public let historyLimit: Int
    /// Statements accepted in this session, oldest first (for the `history` command).
    public private(set) var sessionHistory: [String] = []

    /// `~/.lmw_history`, or `nil` when `HOME` is unset.
    public static var defaultHistoryPath: String? {
        getenv("HOME").map { String(cString: $0) + "/.lmw_history" }
    }

    /// Whether standard input is an interactive terminal libedit can drive.
    public static var stdinIsTerminal: Bool {
        isatty(0) != 0 && getenv("TERM").map { String(cString: $0) } != "dumb"
    }

    /// Sets up the editor. `completer` maps the text before the cursor to candidates; the
    /// default completes from the command table. `interactive: nil` decides from the terminal.
    public init(historyPath: String? = LineEditor.defaultHistoryPath, historyLimit: Int = 1000,
                interactive: Bool? = nil,
                completer: @escaping @Sendable (String) -> CompletionResult = CommandSpec.completions) {
        self.isInteractive = interactive ?? LineEditor.stdinIsTerminal
        self.historyPath = historyPath
        self.historyLimit = historyLimit
        guard isInteractive else { return }
        // libedit enables multibyte input only when LC_CTYPE's codeset is UTF-8.
        setlocale(LC_CTYPE, "")
        // libedit keeps the pointer, so it must outlive every call: strdup'd once, never freed.
        rl_readline_name = UnsafePointer(strdup("llava-mnist"))
        completionProvider.withLock { $0 = completer }
        rl_attempted_completion_function = attemptedCompletion
        rl_initialize()
        for line in loadHistory() { add_history(line) }
    }

    // MARK: Reading

    /// One statement: reads continuation lines (prompted with `continuationPrompt`) while the
    /// text ends in `\` or inside a quoted string. Accepted statements go to the history.
    public func readStatement(prompt: String = "lmw> ", continuationPrompt: String = "...> ") -> Input {
        guard case .line(var text) = readLine(prompt: prompt) else { return readLineResult }
        while Lexer.needsMoreInput(text) {
            switch readLine(prompt: continuationPrompt) {
            case .line(let more): text += "\n" + more
            case .cancelled: return .cancelled
            case .endOfInput: return .line(text)  // the parser reports what is unfinished
            }
        }
        record(text)
        return .line(text)
    }

    private var readLineResult: Input = .endOfInput

    /// One physical line, without its newline and without touching the history.
    public func readLine(prompt: String) -> Input {
        let result = isInteractive ? readInteractive(prompt: prompt) : readPiped()
        readLineResult = result
        return result
    }

    /// Where non-interactive lines come from (standard input; tests substitute their own).
    var pipedInput: () -> String? = { Swift.readLine(strippingNewline: true) }

    private func readPiped() -> Input {
        // No prompt: piped output stays exactly the commands' output.
        pipedInput().map(Input.line) ?? .endOfInput
    }

    private func readInteractive(prompt: String) -> Input {
        pendingLine.withLock { $0 = nil }
        Interrupt.clear()
        rl_callback_handler_install(prompt, lineHandler)
        while true {
            var fds = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
            if poll(&fds, 1, -1) < 0 {
                guard errno == EINTR else { rl_callback_handler_remove(); return .endOfInput }
                if Interrupt.isRequested {
                    // Our handler (or libedit's, which re-raises to ours) saw Ctrl-C.
                    Interrupt.clear()
                    rl_callback_handler_remove()  // restores the tty's cooked mode
                    fputs("^C\n", stdout)
                    fflush(stdout)
                    return .cancelled
                }
                continue  // SIGWINCH, SIGCONT: keep reading
            }
            rl_callback_read_char()
            if let done = pendingLine.withLock({ $0 }) {
                // libedit already left unbuffered mode before calling lineHandler.
                rl_callback_handler_remove()
                if done == .endOfInput { fputs("\n", stdout) }  // leave the shell on a fresh line
                return done
            }
        }
    }

    // MARK: History

    /// Adds an accepted statement to the session list, libedit's in-memory history and the
    /// history file (appended at once, so parallel sessions interleave rather than clobber).
    public func record(_ statement: String) {
        let entry = Self.historyEntry(statement)
        guard !entry.isEmpty else { return }
        sessionHistory.append(statement)
        guard isInteractive else { return }
        add_history(entry)
        guard let historyPath else { return }
        let fd = open(historyPath, O_WRONLY | O_APPEND | O_CREAT, 0o600)
        guard fd >= 0 else { return }  // an unwritable history degrades, never fails
        let bytes = Array((entry + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    /// A statement as one history line: `\`-continuations become spaces and newlines inside
    /// strings become `\n` escapes, which the lexer reads back as the same text.
    static func historyEntry(_ statement: String) -> String {
        statement.replacingOccurrences("\\\n", with: " ").replacingOccurrences("\n", with: "\\n")
            .trimmingWhitespace()
    }

    /// The last `historyLimit` lines of the history file; compacts the file when it has
    /// grown past twice that (by rename, so a crash leaves the old file).
    func loadHistory() -> [String] {
        guard let historyPath, let text = readFile(historyPath) else { return [] }
        let all = text.split(separator: "\n").map(String.init)
        let kept = Array(all.suffix(historyLimit))
        if all.count > 2 * historyLimit {
            let temp = historyPath + ".tmp\(getpid())"
            if writeFile(temp, kept.map { $0 + "\n" }.joined()) { rename(temp, historyPath) } else { unlink(temp) }
        }
        return kept
    }
}

// MARK: - Files (POSIX, to keep Foundation out of the editor)

func readFile(_ path: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&buffer, 1, buffer.count, file)
        if n <= 0 { break }
        bytes += buffer[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}

func writeFile(_ path: String, _ text: String) -> Bool {
    guard let file = fopen(path, "w") else { return false }
    let bytes = Array(text.utf8)
    let written = fwrite(bytes, 1, bytes.count, file)
    return fclose(file) == 0 && written == bytes.count
}

extension String {
    func replacingOccurrences(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

// MARK: - Interrupts

extension LineEditor {
    /// Installs the SIGINT handler: it only sets `Interrupt`'s flag (async-signal-safe: one
    /// atomic store). No SA_RESTART, so a blocking read or poll returns EINTR and the loop
    /// around it can look at the flag. libedit re-raises Ctrl-C to this handler after
    /// restoring the terminal. Call once at REPL start; engine loops poll `Interrupt.check()`.
    public static func installInterruptHandler() {
        var action = sigaction()
        #if os(Linux)
        action.__sigaction_handler.sa_handler = { _ in Interrupt.request() }
        #else
        action.__sigaction_u.__sa_handler = { _ in Interrupt.request() }
        #endif
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        sigaction(SIGINT, &action, nil)
    }
}

// MARK: - libedit callbacks (C function pointers: no captures, state in lock-guarded globals)

/// The completer installed by the editor, called from libedit's completion callback.
private let completionProvider = Mutex<(@Sendable (String) -> CompletionResult)?>(nil)
/// Candidates for the completion in progress, handed out one by one to `candidateGenerator`.
private let completionCandidates = Mutex<(words: [String], next: Int)>(([], 0))
/// The line delivered by `lineHandler` (`.endOfInput` for Ctrl-D), `nil` while typing.
private let pendingLine = Mutex<LineEditor.Input?>(nil)

private let lineHandler: @convention(c) (UnsafeMutablePointer<CChar>?) -> Void = { line in
    guard let line else {
        pendingLine.withLock { $0 = .endOfInput }
        return
    }
    let text = String(cString: line)
    free(line)  // libedit hands over a strdup'd copy
    pendingLine.withLock { $0 = .line(text) }
}

private let attemptedCompletion: @convention(c) (UnsafePointer<CChar>?, Int32, Int32)
    -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = { text, _, end in
    // libedit resets this on every call; without it a nil result falls back to file names.
    rl_attempted_completion_over = 1
    guard let text, let buffer = rl_line_buffer else { return nil }
    let before = String(decoding: UnsafeRawBufferPointer(start: buffer, count: Int(end)).bindMemory(to: UInt8.self),
                        as: UTF8.self)
    let result = completionProvider.withLock { $0 }?(before) ?? .words([])
    switch result {
    case .paths:
        rl_completion_append_character = 0  // libedit adds "/" or " " itself for file names
        return rl_completion_matches(text, rl_filename_completion_function)
    case .words(let words):
        let prefix = String(cString: text)
        let matching = words.filter { $0.hasPrefix(prefix) }
        guard !matching.isEmpty else { return nil }
        // `steps=` wants its value typed right after the `=`.
        rl_completion_append_character = matching.allSatisfy { $0.hasSuffix("=") } ? 0 : 32
        completionCandidates.withLock { $0 = (matching, 0) }
        return rl_completion_matches(text, candidateGenerator)
    }
}

private let candidateGenerator: @convention(c) (UnsafePointer<CChar>?, Int32) -> UnsafeMutablePointer<CChar>? = { _, state in
    completionCandidates.withLock { candidates in
        if state == 0 { candidates.next = 0 }
        guard candidates.next < candidates.words.count else { return nil }
        defer { candidates.next += 1 }
        return strdup(candidates.words[candidates.next])  // libedit frees the matches
    }
}
