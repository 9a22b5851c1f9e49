// The `llava-mnist` command: a thin front door over the Notebook session and the engine.
// One file per subcommand; with no arguments it starts the REPL.
//
// Every failure ends with one line on stderr (`error: …`) and a non-zero exit: 1 for bad
// input found while running, 64 for a command line that does not parse or validate
// (ArgumentParser's usage errors, turned into one line that names the --help to read).
import ArgumentParser
import Foundation
import Notebook

@main
struct LlavaMNIST: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "llava-mnist",
        abstract: "Explore llava-mnist: a frozen Llama reading MNIST digits through one trained linear layer.",
        discussion: """
            Models: the default is SmolLM2-135M-Instruct (fetched by scripts/setup.sh into \
            ~/.cache/llava-mnist, or $LLAVA_MNIST_CACHE); --model takes any Llama-family GGUF file \
            or Hugging Face folder (config.json + safetensors + tokenizer.json).
            """,
        subcommands: [Repl.self, Run.self, Check.self, Ask.self, Train.self, Eval.self, EvalLlava.self,
                      Tokenize.self, Generate.self, Inspect.self, Models.self, Bench.self],
        defaultSubcommand: Repl.self)

    static var subcommandNames: [String] {
        configuration.subcommands.map { $0._commandName }
    }

    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        // A first word that is no subcommand would reach the REPL as a stray argument.
        if let first = arguments.first, !first.hasPrefix("-"), first != "help", !subcommandNames.contains(first) {
            let hint = closest(first, among: subcommandNames).map { " (did you mean '\($0)'?)" } ?? ""
            fail("unknown command '\(first)'\(hint); commands: \(subcommandNames.joined(separator: ", "))", code: .validationFailure)
        }
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch {
            let code = exitCode(for: error)
            // --help, --version and the like print their full text, as ArgumentParser does.
            if code == .success { exit(withError: error) }
            let message = self.message(for: error)
            guard !message.isEmpty else { Foundation.exit(code.rawValue) }  // already reported
            var line = String(message.split(separator: "\n").first ?? "")
            if line.hasPrefix("Error: ") { line.removeFirst("Error: ".count) }
            if let c = line.first, c.isUppercase, line.dropFirst().first?.isLowercase == true {
                line = c.lowercased() + line.dropFirst()
            }
            if code == .validationFailure {
                let sub = arguments.first { subcommandNames.contains($0) }
                line += " (see 'llava-mnist \(sub.map { $0 + " " } ?? "")--help')"
            }
            fail(line, code: code)
        }
    }

    static func fail(_ message: String, code: ExitCode) -> Never {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        Foundation.exit(code.rawValue)
    }

    /// The nearest name within two edits (a typo), if any.
    static func closest(_ word: String, among names: [String]) -> String? {
        func distance(_ a: [Character], _ b: [Character]) -> Int {
            var row = Array(0...b.count)
            for i in 1...max(1, a.count) where !a.isEmpty {
                var previous = row[0]
                row[0] = i
                for j in 1...max(1, b.count) where !b.isEmpty {
                    let saved = row[j]
                    row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                    previous = saved
                }
            }
            return row[b.count]
        }
        let w = Array(word.lowercased())
        return names.map { ($0, distance(w, Array($0))) }.filter { $0.1 <= 2 }.min { $0.1 < $1.1 }?.0
    }
}
