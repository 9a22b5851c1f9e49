// `llava-mnist check FILE.lmw`: replay a workflow and compare each block's output with the
// recorded one (wildcards allowed); --update rewrites the recorded outputs in place.
import ArgumentParser
import Notebook

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay a workflow and compare outputs with the recorded ones (non-zero exit and a diff on mismatch).")

    @Argument(help: "The workflow file.") var file: String
    @Flag(help: "Rewrite the recorded outputs with the new ones (atomically).") var update = false
    @Option(name: .customLong("set"), help: "Override a parameter: --set steps=20 (repeatable).") var overrides: [String] = []
    @Flag(name: .customLong("keep-going"), help: "Continue after a failing command.") var keepGoing = false
    @Option(name: .customLong("allow"), help: "Another folder the workflow may read and write (repeatable).") var allow: [String] = []

    func run() throws {
        installInterruptHandler()
        let runner = Runner(options: RunnerOptions(mode: .check(update: update), keepGoing: keepGoing, overrides: overrides, allow: allow))
        let status = runner.run(path: file)
        if status != 0 { throw ExitCode(status) }
    }
}
