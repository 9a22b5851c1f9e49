// Replaying a `.lmw` workflow top to bottom, like a notebook: `llava-mnist run` and `check`.
//
// - run: prints the prose and, for each block, every statement echoed after `lmw> ` followed
//   by its output as it happens. `--set KEY=VALUE` overrides are applied right after each
//   params block (before the first block when there is none), papermill-style, and echoed.
// - check: replays silently and compares each block's output with its ```output block
//   (OutputMatcher: `(re)`, `(glob)`, `(~TOL)`, `...`), printing a `FILE:LINE` diff per
//   mismatch; `--update` rewrites the recorded outputs in place, atomically, byte for byte
//   elsewhere. Check output is deterministic: the recorder has no colour and no progress
//   lines, and timings appear only where a command prints them (patterns absorb those).
// - An error halts the run with `FILE:LINE: message` and a non-zero status; a block marked
//   keep-going (or `--keep-going` for the whole run) records the error as output and goes
//   on. The transcript so far is kept either way (and rendered with `--render`).
// - Every path a statement opens is checked by the `Sandbox` first.
import Foundation
import Llava

/// How a workflow is replayed.
public struct RunnerOptions: Sendable {
    public enum Mode: Equatable, Sendable {
        /// Print prose, commands and outputs.
        case run
        /// Compare outputs with the recorded ones; `update` rewrites them.
        case check(update: Bool)
    }

    public var mode: Mode
    /// `--render OUT.md|OUT.html`: write the executed notebook there.
    public var render: String?
    /// `--keep-going`: an error is recorded and the run continues (the exit status is still 1).
    public var keepGoing: Bool
    /// `--set KEY=VALUE` overrides, as typed.
    public var overrides: [String]
    /// `--allow DIR`: folders the workflow may use besides its own and the cache.
    public var allow: [String]
    /// `false` turns the path checks off (tests of trusted fixtures only).
    public var sandboxed: Bool

    public init(mode: Mode = .run, render: String? = nil, keepGoing: Bool = false, overrides: [String] = [],
                allow: [String] = [], sandboxed: Bool = true) {
        self.mode = mode
        self.render = render
        self.keepGoing = keepGoing
        self.overrides = overrides
        self.allow = allow
        self.sandboxed = sandboxed
    }
}

/// Where a runner writes: standard output and error by default; tests capture them.
public struct RunnerConsole {
    /// Prose, echoed commands, diffs and summaries.
    public var out: (String) -> Void
    /// Errors and warnings.
    public var err: (String) -> Void
    /// Live command output in run mode (`nil`: not shown).
    public var live: Display?
    /// Light ANSI styling of prose and prompts (a colour terminal).
    public var styled: Bool

    public init(out: @escaping (String) -> Void, err: @escaping (String) -> Void, live: Display?, styled: Bool) {
        self.out = out
        self.err = err
        self.live = live
        self.styled = styled
    }

    /// The process's standard output and error, styled when stdout is a colour terminal.
    public static var standard: RunnerConsole {
        RunnerConsole(out: { print($0); fflushStdout() },
                      err: { FileHandle.standardError.write(Data(($0 + "\n").utf8)) },
                      live: TerminalDisplay(), styled: Terminal.supportsColor)
    }
}

/// What one statement printed.
public struct StatementRecord: Sendable {
    public var text: String
    public var line: Int
    public var output: String
    public var figures: [Figure]
    /// The error message when it failed.
    public var error: String?
}

/// One command block as it ran.
public struct BlockRecord: Sendable {
    public var block: LMWDocument.CommandBlock
    public var statements: [StatementRecord] = []
    /// Not run: marked `skip`, or after the run halted.
    public var ran = false
    /// Loss history after the block, when the block trained (for the loss-curve plot).
    public var losses: [Float]?
    /// The comparison with the recorded output (check mode, blocks that have one).
    public var match: OutputMatch?

    /// Everything the block printed, as `check` compares it.
    public var output: String {
        statements.map { $0.output + ($0.error.map { "error: \($0)\n" } ?? "") }.joined()
    }
}

/// Replays workflows. One runner, one session: create a new runner per document.
public final class Runner {
    public let options: RunnerOptions
    public let session: Session
    public let interpreter: Interpreter
    let recorder: RecordingDisplay
    let console: RunnerConsole

    /// The blocks of the last run, in document order (unrun ones included).
    public private(set) var blocks: [BlockRecord] = []
    /// The error that halted the last run, if any.
    public private(set) var haltingError: NotebookError?

    public init(options: RunnerOptions = RunnerOptions(), console: RunnerConsole = .standard) {
        self.options = options
        self.console = console
        var live = console.live
        if case .check = options.mode { live = nil }
        recorder = RecordingDisplay(echo: live)
        session = Session(display: recorder)
        interpreter = Interpreter(session: session)
    }

    var isCheck: Bool { if case .check = options.mode { true } else { false } }
    var isUpdate: Bool { options.mode == .check(update: true) }

    /// Reads, parses and runs `path`. Returns the exit status (0: success).
    public func run(path: String) -> Int32 {
        guard FileManager.default.isReadableFile(atPath: path) else {
            console.err("\(path): cannot read the workflow file")
            return 1
        }
        do {
            // Checks the size before reading (a workflow is at most LMWDocument.maxBytes).
            return run(document: try LMWDocument(contentsOfFile: path))
        } catch {
            console.err(error.description)
            return 1
        }
    }

    /// Runs a parsed document. Returns the exit status (0: success).
    public func run(document: LMWDocument) -> Int32 {
        for warning in document.warnings { console.err(Self.warningText(warning)) }
        let overrides: [(Setting, SettingValue)]
        do { overrides = try options.overrides.map(LMWDocument.parseOverride) } catch {
            console.err("--set \(error.message)")
            return 1
        }
        for (setting, value) in overrides {
            if let problem = Session.problem(with: value, for: setting) {
                console.err("--set \(problem)")
                return 1
            }
        }
        let file = document.file
        let folder = file.map { (Sandbox.resolve($0, relativeTo: nil) as NSString).deletingLastPathComponent }
        interpreter.file = file
        interpreter.baseDirectory = folder
        if options.sandboxed {
            interpreter.sandbox = Sandbox(allowing: [folder ?? FileManager.default.currentDirectoryPath, CachePaths.root]
                                          + options.allow)
        }

        blocks = document.commandBlocks.map { BlockRecord(block: $0) }
        haltingError = nil
        var failures = 0, mismatches = 0
        let hasParams = document.commandBlocks.contains { $0.options.params }
        var overridesPending = !overrides.isEmpty

        items: for item in document.items {
            switch item {
            case .prose(let text, _):
                if !isCheck { console.out(styledProse(text)) }
            case .commands(let block):
                if overridesPending, !hasParams {
                    applyOverrides(overrides)
                    overridesPending = false
                }
                var record = blocks[block.index]
                defer { blocks[block.index] = record }
                if block.options.skip {
                    if !isCheck { console.out(echo(block.source, note: "skipped")) }
                    continue
                }
                record.ran = true
                let lossesBefore = session.lossHistory.count
                let outcome = runBlock(block, into: &record, keepGoing: block.options.keepGoing || options.keepGoing)
                if session.lossHistory.count > lossesBefore { record.losses = session.lossHistory }
                if block.options.params, !overrides.isEmpty {
                    applyOverrides(overrides)
                    overridesPending = false
                }
                failures += outcome.failures
                if isCheck, let expected = block.expected, !block.options.noCheck, outcome.halt == nil {
                    let match = OutputMatcher.match(expected: expected.text, actual: record.output)
                    record.match = match
                    if !match.matches {
                        mismatches += 1
                        if !isUpdate {
                            var report = match.report(file: file, line: block.line, firstExpectedLine: expected.line + 1)
                            if report.hasSuffix("\n") { report.removeLast() }
                            console.out(report)
                        }
                    }
                }
                if let halt = outcome.halt {
                    haltingError = halt
                    break items
                }
                if interpreter.quitRequested { break items }
            }
        }

        var status: Int32 = failures > 0 || haltingError != nil ? 1 : 0
        if isUpdate, haltingError == nil {
            status = writeUpdatedOutputs(document) ? status : 1
        } else if isCheck {
            if mismatches > 0 { status = 1 }
            let checked = blocks.filter { $0.match != nil }.count
            console.out("\(file ?? "workflow"): \(checked) output blocks checked, \(mismatches) differ"
                        + (haltingError != nil ? ", stopped by an error" : ""))
        }
        if let render = options.render {
            do {
                try NotebookRenderer.write(ExecutedNotebook(document: document, blocks: blocks,
                                                            error: haltingError?.description, overrides: options.overrides),
                                           to: render)
            } catch {
                console.err("\(render): cannot write the rendered notebook: \(Interpreter.message(for: error))")
                status = 1
            }
        }
        return status
    }

    /// Runs one block's statements; stops at an error unless `keepGoing`.
    func runBlock(_ block: LMWDocument.CommandBlock, into record: inout BlockRecord,
                  keepGoing: Bool) -> (failures: Int, halt: NotebookError?) {
        var failures = 0
        for statement in block.statements {
            if !isCheck { console.out(echo(statement.text, note: nil)) }
            _ = recorder.take()
            var error: NotebookError?
            do {
                try interpreter.run(statement)
            } catch let e as NotebookError {
                error = e
            } catch {
                // Ctrl-C: stop the whole run, whatever keep-going says.
                let e = NotebookError(file: interpreter.file, line: statement.line, message: Interpreter.message(for: error))
                let taken = recorder.take()
                record.statements.append(StatementRecord(text: statement.text, line: statement.line, output: taken.text,
                                                         figures: taken.figures, error: e.message))
                console.err(e.description)
                return (failures + 1, e)
            }
            let taken = recorder.take()
            record.statements.append(StatementRecord(text: statement.text, line: statement.line, output: taken.text,
                                                     figures: taken.figures, error: error?.message))
            if let error {
                if block.options.keepGoing {
                    // An expected error, demonstrated by the workflow: it is the block's output.
                    if !isCheck { console.out("error: \(error.message)") }
                    continue
                }
                console.err(error.description)
                failures += 1
                if !keepGoing { return (failures, error) }
            }
            if interpreter.quitRequested { break }
        }
        return (failures, nil)
    }

    /// Sets the `--set` values and says so (papermill echoes injected parameters too).
    func applyOverrides(_ overrides: [(Setting, SettingValue)]) {
        for (setting, value) in overrides {
            try? session.set(setting, value)
            if !isCheck { console.out(echo("set \(setting.name)=\(value)", note: "--set")) }
        }
    }

    /// Writes `check --update`'s new outputs; returns false when the file cannot be written.
    func writeUpdatedOutputs(_ document: LMWDocument) -> Bool {
        var outputs: [Int: String] = [:]
        for record in blocks where record.ran && !record.block.options.noCheck {
            if let match = record.match {
                if !match.matches { outputs[record.block.index] = match.updatedExpected }
            } else if record.block.expected == nil, !record.output.isEmpty {
                outputs[record.block.index] = record.output
            }
        }
        guard let file = document.file else { return true }
        guard !outputs.isEmpty else {
            console.out("\(file): all recorded outputs match; nothing to update")
            return true
        }
        // The real file behind a symbolic link is rewritten (renaming over the link would
        // replace the link with a copy), with its permissions kept, and only if nobody
        // changed it while it ran: their edits would otherwise be lost.
        let target = Sandbox.resolve(file, relativeTo: nil)
        guard let current = FileManager.default.contents(atPath: target) else {
            console.err("\(file): cannot update: the file is gone or unreadable")
            return false
        }
        guard String(decoding: current, as: UTF8.self) == document.text else {
            console.err("\(file): cannot update: the file changed while it was being checked (run check --update again)")
            return false
        }
        let mode = (try? FileManager.default.attributesOfItem(atPath: target))?[.posixPermissions] as? Int
        do {
            try AtomicFile.write(Data(document.rewritingExpectedOutputs(outputs).utf8), to: target)
            if let mode { chmod(target, mode_t(mode)) }
            console.out("\(file): updated \(outputs.count) output block\(outputs.count == 1 ? "" : "s")")
            return true
        } catch {
            console.err("\(file): cannot update: \(Interpreter.message(for: error))")
            return false
        }
    }

    // MARK: - Text

    static func warningText(_ w: NotebookError) -> String {
        var location = w
        location.message = "warning: " + w.message
        return location.description
    }

    /// Statement text as a prompt would show it: `lmw> ` then `...> ` for continuation lines.
    func echo(_ text: String, note: String?) -> String {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var out = lines.enumerated().map { i, line in
            (i == 0 ? "lmw> " : "...> ") + line
        }.joined(separator: "\n")
        if let note { out += "   # \(note)" }
        return console.styled ? "\u{1B}[1;34m" + out + "\u{1B}[0m" : out
    }

    /// Prose as written, with headings in bold on a colour terminal.
    func styledProse(_ text: String) -> String {
        guard console.styled else { return text }
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix("#") ? "\u{1B}[1m" + line + "\u{1B}[0m" : String(line)
        }.joined(separator: "\n")
    }

    /// `--list-params`: the parameters blocks' settings with their values, one per line.
    public static func parameterList(_ document: LMWDocument) -> String {
        document.parameters.map { p in
            "\(p.setting.name)=\(p.value)  (line \(p.line); \(p.setting.help))"
        }.joined(separator: "\n")
    }
}
