// `llava-mnist repl` (also `llava-mnist` alone): the interactive notebook over libedit; when
// standard input is not a terminal it reads statements as a script.
import ArgumentParser
import Llava
import Notebook

struct Repl: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start the interactive notebook (the default). Piped input runs as a script.")

    @Option(help: "Load this model at start (GGUF file or Hugging Face folder).") var model: String?
    @Option(help: "History file (default: ~/.lmw_history).") var history: String?

    func run() throws {
        let session = Session(display: TerminalDisplay())
        if let model {
            do { try session.loadModel(model) }
            catch { FileHandle.standardError.write(Data("error: \(error)\n".utf8)); throw ExitCode.failure }
        }
        let status = runREPL(session: session, historyPath: history ?? LineEditor.defaultHistoryPath)
        if status != 0 { throw ExitCode(status) }
    }
}

import Foundation
