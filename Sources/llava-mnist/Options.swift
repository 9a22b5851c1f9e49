// Options shared by several subcommands, and the glue that turns engine errors into one
// clear line on stderr with a non-zero exit.
import ArgumentParser
import Foundation
import Llava
import Notebook

struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "A GGUF file or Hugging Face model folder (default: SmolLM2-135M-Instruct from the cache).")
    var model: String?

    @Option(name: .long, parsing: .unconditional, help: "Compute threads (default: one per core).")
    var threads: Int?

    @Option(name: .long, help: "Chat format: auto, chatml, llama3 (clean) or llama3-seed (the seed's hand-written prompt).")
    var format: String = "auto"

    func validate() throws {
        if let threads, threads < 1 || threads > 256 { throw ValidationError("--threads must be between 1 and 256") }
        guard ["auto", "chatml", "llama3", "llama3-seed"].contains(format) else {
            throw ValidationError("--format must be auto, chatml, llama3 or llama3-seed")
        }
    }

    /// A session on the chosen model, printing to the terminal.
    func session(display: Display = TerminalDisplay(), quietLoad: Bool = true) throws -> Session {
        if let threads { Parallel.threads = threads }
        let s = Session(display: quietLoad ? QuietDisplay(wrapping: display) : display)
        defer { s.display = display }
        if format == "llama3-seed" { try s.set(.format, .string("llama3")); try s.set(.compat, .bool(true)) }
        else if format == "llama3" { try s.set(.format, .string("llama3")); try s.set(.compat, .bool(false)) }
        else { try s.set(.format, .string(format)) }
        try s.loadModel(model)
        return s
    }
}

/// Drops the chatty "loaded …" lines of set-up steps.
final class QuietDisplay: Display {
    let inner: Display
    init(wrapping d: Display) { inner = d }
    var colorMode: ColorMode { inner.colorMode }
    func line(_ text: String) {}
    func partial(_ text: String) {}
    func status(_ text: String) {}
    func figure(_ figure: Figure, text: String) {}
}

/// Runs `body`, turning known errors into `error: …` on stderr and exit code 1.
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do { return try body() }
    catch let e as ExitCode { throw e }
    catch let e as ValidationError { throw e }
    catch let e as CleanExit { throw e }
    catch {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        throw ExitCode.failure
    }
}

/// Installs the Ctrl-C handler that sets the engine's interrupt flag.
func installInterruptHandler() { LineEditor.installInterruptHandler() }

/// Prints compact JSON (sorted keys) to stdout.
func printJSON(_ object: Any) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    print(String(decoding: data, as: UTF8.self))
}
