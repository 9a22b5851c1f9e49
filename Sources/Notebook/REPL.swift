// The interactive loop (`llava-mnist` with no arguments, or `llava-mnist repl`).
//
// On a terminal: libedit editing with history and Tab completion, `lmw> ` prompt, `...> `
// for continuation lines (a trailing `\` or an open quote); an error prints the statement
// with a caret under the problem and the session goes on; Ctrl-C cancels the line being
// typed or interrupts the running command (training stops after its current step, a reply
// after its current token); Ctrl-D or `quit` leaves.
//
// Piped (standard input not a terminal): the input is a script. No banner, no prompt, no
// editing; the first error prints `<stdin>:LINE: message` on standard error and ends the run
// with status 1, so `llava-mnist < steps.lmw` can gate a shell script.
import Foundation
import Llava

/// Runs the REPL until end of input or `quit`; returns the process exit status.
/// - Parameters:
///   - session: the session to drive (default: a new one drawing on the terminal).
///   - historyPath: the history file (default `~/.lmw_history`; nil for none).
///   - interactive: force terminal or script mode (default: from standard input).
public func runREPL(session: Session? = nil, historyPath: String? = LineEditor.defaultHistoryPath,
                    interactive: Bool? = nil) -> Int32 {
    let session = session ?? Session(display: TerminalDisplay())
    let editor = LineEditor(historyPath: historyPath, interactive: interactive)
    let repl = REPL(session: session, editor: editor)
    return editor.isInteractive ? repl.interactive() : repl.script()
}

/// The loop's state: one interpreter, one line editor.
final class REPL {
    let interpreter: Interpreter
    let editor: LineEditor
    var session: Session { interpreter.session }

    init(session: Session, editor: LineEditor) {
        interpreter = Interpreter(session: session)
        self.editor = editor
        interpreter.historyProvider = { [unowned editor] in editor.sessionHistory }
    }

    // MARK: - Terminal

    func interactive() -> Int32 {
        Self.unblockTerminalSignals()
        LineEditor.installInterruptHandler()
        print(banner())
        while !interpreter.quitRequested {
            switch editor.readStatement() {
            case .endOfInput: return 0
            case .cancelled: continue
            case .line(let text): execute(text)
            }
        }
        return 0
    }

    /// Runs one typed statement (or several lines of them), reporting errors on the terminal.
    func execute(_ text: String) {
        let statements: [LocatedStatement]
        do {
            statements = try Parser.parseProgram(text)
        } catch {
            print(Self.annotated(error, source: text))
            return
        }
        for statement in statements {
            do {
                try interpreter.run(statement)
            } catch is Interrupted {
                print("interrupted")
                return
            } catch {
                print("error: " + Interpreter.message(for: error))
                return
            }
            if interpreter.quitRequested { return }
        }
    }

    /// A process may start with signals blocked, inherited from whoever spawned it (a parent
    /// that calls posix_spawn from a worker thread passes its mask on, as Foundation's
    /// `Process` does from Swift concurrency threads). Ctrl-C would then never reach the
    /// handler and the terminal could not hang us up, so the REPL unblocks them first.
    static func unblockTerminalSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH, SIGCONT, SIGTSTP] { sigaddset(&set, signal) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// `error: message`, the offending line, and a caret under the column when there is one.
    static func annotated(_ error: NotebookError, source: String) -> String {
        var out = "error: " + error.message
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.indices.contains(error.line - 1) else { return out }
        out += "\n  " + lines[error.line - 1]
        if let column = error.column { out += "\n  " + String(repeating: " ", count: max(0, column - 1)) + "^" }
        return out
    }

    func banner() -> String {
        let model = FileManager.default.fileExists(atPath: Session.defaultModelPath)
            ? "model: SmolLM2-135M-Instruct (loaded on first use; 'load model PATH' for another Llama)"
            : "model: the default SmolLM2-135M-Instruct is not installed: run scripts/setup.sh, or 'load model PATH'"
        return """
        llava-mnist notebook: a frozen Llama reads MNIST digits through one trained linear layer.
        \(model)
        try: load mnist · show img 0 · project img 0 · ask "What digit is this?" img=0 · train steps=20 · eval n=10
        'help' lists the commands; Tab completes, Ctrl-C interrupts, Ctrl-D quits.
        """
    }

    // MARK: - Script

    /// Standard input as a script: stops at the first error with `<stdin>:LINE: message`.
    func script() -> Int32 {
        interpreter.file = "<stdin>"
        var line = 1
        while !interpreter.quitRequested {
            guard case .line(let text) = editor.readStatement() else { return 0 }
            let first = line
            line += text.count(where: { $0 == "\n" }) + 1
            do {
                for statement in try Parser.parseProgram(text, firstLine: first, file: "<stdin>") {
                    try interpreter.run(statement)
                    if interpreter.quitRequested { break }
                }
            } catch let error as NotebookError {
                FileHandle.standardError.write(Data((error.description + "\n").utf8))
                return 1
            } catch {
                let e = NotebookError(file: "<stdin>", line: first, message: Interpreter.message(for: error))
                FileHandle.standardError.write(Data((e.description + "\n").utf8))
                return 1
            }
        }
        return 0
    }
}
