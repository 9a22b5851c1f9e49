// `llava-mnist run FILE.lmw`: replay a workflow like a notebook, top to bottom; optionally
// write the executed notebook as Markdown or HTML.
import ArgumentParser
import Notebook

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay a .lmw workflow (prose and commands), printing the outputs.",
        discussion: "Example: llava-mnist run Workflows/quickstart.lmw --set steps=50 --render out/quickstart.html")

    @Argument(help: "The workflow file.") var file: String
    @Option(name: .customLong("set"), help: "Override a parameter, papermill-style: --set steps=200 (repeatable).") var overrides: [String] = []
    @Option(help: "Write the executed notebook to OUT.md or OUT.html (figures as files beside it).") var render: String?
    @Flag(name: .customLong("keep-going"), help: "Continue after a failing command (the error is recorded).") var keepGoing = false
    @Option(name: .customLong("allow"), help: "Another folder the workflow may read and write (repeatable).") var allow: [String] = []
    @Flag(name: .customLong("list-params"), help: "List the workflow's parameters and exit.") var listParams = false

    func run() throws {
        installInterruptHandler()
        if listParams {
            guard FileManager.default.isReadableFile(atPath: file) else {
                FileHandle.standardError.write(Data("\(file): cannot read the workflow file\n".utf8))
                throw ExitCode.failure
            }
            do { print(Runner.parameterList(try LMWDocument(contentsOfFile: file)), terminator: "") }
            catch { FileHandle.standardError.write(Data("\(error)\n".utf8)); throw ExitCode.failure }
            return
        }
        let runner = Runner(options: RunnerOptions(mode: .run, render: render, keepGoing: keepGoing, overrides: overrides, allow: allow))
        let status = runner.run(path: file)
        if status != 0 { throw ExitCode(status) }
    }
}

import Foundation
