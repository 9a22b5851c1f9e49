// Shared helpers for the interpreter, runner, render and workflow tests.
import Foundation
import Testing
@testable import Notebook
import Llava

/// The default model must be installed (scripts/setup.sh); tests fail, not skip, without it.
func requireDefaultModel() throws {
    guard FileManager.default.fileExists(atPath: Session.defaultModelPath) else {
        Issue.record("the default model is missing (\(Session.defaultModelPath)): run scripts/setup.sh")
        throw CommandError("no model")
    }
}

/// A session that records its output, and an interpreter over it.
func recordingInterpreter() -> (Interpreter, RecordingDisplay) {
    let display = RecordingDisplay()
    return (Interpreter(session: Session(display: display)), display)
}

/// Runs `source` and returns what it printed.
@discardableResult
func run(_ interpreter: Interpreter, _ display: RecordingDisplay, _ source: String, file: String? = nil) throws -> String {
    _ = display.take()
    try interpreter.run(source: source, file: file)
    return display.take().text
}

/// The error `source` raises, as printed (`FILE:LINE:COL: message`), or "no error".
func errorText(_ interpreter: Interpreter, _ source: String, file: String? = "t.lmw") -> String {
    do {
        try interpreter.run(source: source, file: file)
        return "no error"
    } catch {
        return (error as? NotebookError)?.description ?? "\(error)"
    }
}

/// A fresh temporary folder, removed by the caller with `cleanup`.
func temporaryFolder(_ name: String = #function) throws -> String {
    let clean = name.filter { $0.isLetter || $0.isNumber }
    let path = NSTemporaryDirectory() + "lmw-\(clean)-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return Sandbox.resolve(path, relativeTo: nil)
}

func cleanup(_ path: String) { try? FileManager.default.removeItem(atPath: path) }

/// A runner whose console is captured into strings.
final class CapturedRunner {
    var out = ""
    var err = ""
    let runner: Runner

    /// What commands printed live (run mode).
    let live = RecordingDisplay()

    init(_ options: RunnerOptions) {
        var box: CapturedRunner!
        let console = RunnerConsole(out: { box.out += $0 + "\n" }, err: { box.err += $0 + "\n" }, live: live, styled: false)
        runner = Runner(options: options, console: console)
        box = self
    }

    func run(_ text: String, file: String) throws -> Int32 {
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return runner.run(path: file)
    }
}
