// The interpreter: one exhaustive `switch` over `Statement`, shared by the REPL, the workflow
// runner and the `llava-mnist` subcommands, so a command behaves the same wherever it is typed.
//
// Experiment commands (load, train, eval, ask, save) call the `Session`; commands that only
// present something (show, project, loss/grad, tokens, help, …) live in Commands/*.swift, one
// file per family. Every failure leaves here as a `NotebookError` located at the statement
// (`FILE:LINE: message`), except a Ctrl-C, which stays `Interrupted` so callers can tell
// "the user stopped it" from "it failed".
import Foundation
import Llava

/// Runs statements against a session.
public final class Interpreter {
    public let session: Session
    /// Where command results go (the session's display).
    public var display: Display { session.display }

    /// The file statements come from, for error messages (`nil`: none, as in the REPL).
    public var file: String?
    /// Relative paths in statements resolve against this folder (a workflow's own folder);
    /// `nil` leaves them relative to the working directory.
    public var baseDirectory: String?
    /// Checked before each statement runs; `nil` allows every path (the REPL).
    public var sandbox: Sandbox?
    /// The accepted lines `history` lists (the REPL hands in its line editor's).
    public var historyProvider: () -> [String] = { [] }
    /// Set by `quit`; the REPL stops reading, a workflow stops running.
    public private(set) var quitRequested = false
    /// The MNIST image `loss` and `grad` use without `img=`: the last one shown, projected or
    /// asked about, so `show img 3` then `loss` talks about the same digit.
    public internal(set) var currentImage: Int?

    /// Row norms of the embedding table, computed once per model for `project`.
    var embeddingNorms: (model: ObjectIdentifier, norms: [Float])?
    /// The LLaVA-1.5 model `ask` uses after `load model` on a llava-hf folder (Commands/LlavaCommands.swift).
    public internal(set) var llava: LlavaModel?

    public init(session: Session) {
        self.session = session
    }

    // MARK: - Entry points

    /// Parses `source` and runs its statements in order, stopping at the first error.
    public func run(source: String, file: String? = nil) throws {
        let saved = self.file
        self.file = file ?? saved
        defer { self.file = saved }
        for statement in try Parser.parseProgram(source, file: self.file) {
            try run(statement)
            if quitRequested { return }
        }
    }

    /// Runs one statement. Throws a `NotebookError` naming the statement's line (and file),
    /// or `Interrupted` when Ctrl-C stopped it.
    public func run(_ located: LocatedStatement) throws {
        Interrupt.clear()
        do {
            try sandbox?.check(located.statement, relativeTo: baseDirectory)
            try execute(located.statement)
        } catch let error as Interrupted {
            throw error
        } catch {
            throw Self.locate(error, line: located.line, file: file)
        }
    }

    /// Any error as the one-line message a user should see (no file, no stack).
    public static func message(for error: Error) -> String {
        switch error {
        case let e as NotebookError: return e.message
        case let e as CommandError: return e.message
        case let e as FormatError: return e.description
        case is Interrupted: return "interrupted"
        case let e as CustomStringConvertible: return e.description
        default: return error.localizedDescription
        }
    }

    /// The error as a `NotebookError` at `line`, keeping a position it already has.
    static func locate(_ error: Error, line: Int, file: String?) -> NotebookError {
        if var located = error as? NotebookError {
            if located.line == 0 { located.line = line; located.column = nil }
            if located.file == nil { located.file = file }
            return located
        }
        return NotebookError(file: file, line: line, message: message(for: error))
    }

    // MARK: - Dispatch

    /// What a statement did that `time` can turn into a rate.
    enum Work {
        case none
        case steps(Int)
        case tokens(Int)
        case images(Int)
    }

    @discardableResult
    func execute(_ statement: Statement) throws -> Work {
        switch statement {
        case .loadModel(let path):
            try loadModelOrLlava(path.map { Sandbox.isModelName($0) ? $0 : resolve($0) })
        case .loadMNIST(let split, let path):
            try session.loadMNIST(split: split, path: path.map(resolve))
        case .loadProjector(let path):
            try session.loadProjector(resolve(path))
        case .loadImage(let path, let name):
            try loadImage(path: path, name: name)
        case .showImage(let ref):
            try showImage(ref)
        case .showBatch(let from, let count):
            try showBatch(from: from, count: count)
        case .showSettings:
            showSettings()
        case .project(let ref):
            try project(ref)
        case .projectDigit(let digit, let count):
            try projectDigit(digit, count: count)
        case .showWeights(let view):
            try showWeights(view)
        case .gradCheck(let image, let epsilon, let count):
            try gradCheck(image: image, epsilon: epsilon, count: count)
        case .ask(let question, let ref, let sampling):
            let image = try ref.map { ref in
                if case .index(let i) = ref { currentImage = i }
                return try session.image(ref)
            }
            let generation = try llava.map { try askLlava($0, question: question, image: image, settings: session.replySettings(sampling)) }
                ?? session.ask(question, image: image, settings: session.replySettings(sampling))
            return .tokens(generation.ids.count)
        case .loss(let index):
            try loss(image: index)
        case .grad(let index, let save):
            try grad(image: index, save: save.map(resolve))
        case .train(let options):
            let before = session.trainer?.stepsDone
            try session.train(options)
            // A trainer replaced by different settings restarts its count at 0.
            let after = session.trainer?.stepsDone ?? 0
            return .steps(before.map { after >= $0 ? after - $0 : after } ?? after)
        case .eval(let options):
            let report = try llava.map { try evalLlava($0, options: options) } ?? session.evaluate(n: options.count, question: options.question,
                                              greedy: options.greedy ? true : nil)
            return .images(report.n)
        case .saveProjector(let path):
            try session.saveProjector(resolve(path))
        case .resetProjector(let seed):
            _ = try session.model()
            session.resetProjector(seed: seed)
            display.line("projector reset: \(session.projectorOrigin)")
        case .tokens(let text):
            try tokens(text)
        case .set(let setting, let value):
            try session.set(setting, value)
        case .get(let setting):
            display.line("\(setting.name)=\(session.settings[setting] ?? setting.defaultValue)")
        case .time(let inner):
            try time(inner)
        case .help(let topic):
            try help(topic)
        case .history:
            history()
        case .quit:
            quitRequested = true
        }
        return .none
    }

    /// A path argument resolved against `baseDirectory` (`~` is left to the session, so
    /// messages show the path as written).
    func resolve(_ path: String) -> String {
        guard let baseDirectory, !path.hasPrefix("/"), !path.hasPrefix("~") else { return path }
        return (baseDirectory as NSString).appendingPathComponent(path)
    }
}
