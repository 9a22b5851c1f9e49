// Commands about the session itself rather than the experiment: `help`, `history`, `time`,
// `tokens`. (`set`, `get` and `quit` are one-liners in the interpreter's switch.)
import Llava

extension Interpreter {
    func help(_ topic: String?) throws {
        guard let text = CommandSpec.helpText(for: topic) else {
            // The parser rejects unknown names already; this guards direct `Statement` use.
            throw CommandError("no help for '\(topic ?? "")'")
        }
        display.line(text)
    }

    func history() {
        let lines = historyProvider()
        guard !lines.isEmpty else { display.line("(no statements yet)"); return }
        let width = String(lines.count).count
        display.line(lines.enumerated().map { i, line in
            String(i + 1).leftPadding(width) + "  " + LineEditor.historyEntry(line)
        }.joined(separator: "\n"))
    }

    /// `time STATEMENT`: wall time, and a rate for the commands that have one (training steps,
    /// generated tokens, evaluated images). A failing statement still reports its time.
    func time(_ statement: Statement) throws {
        let t0 = Clock.now()
        var work = Work.none
        defer {
            let seconds = Clock.now() - t0
            var line = "time: \(formatSeconds(seconds)) wall"
            switch work {
            case .none: break
            case .steps(let n): line += ", \(n) steps, \(formatFixed(Double(n) / max(seconds, 1e-9), 2)) steps/s"
            case .tokens(let n): line += ", \(n) tokens, \(formatFixed(Double(n) / max(seconds, 1e-9), 2)) tokens/s"
            case .images(let n): line += ", \(n) images, \(formatFixed(Double(n) / max(seconds, 1e-9), 2)) images/s"
            }
            display.line(line)
        }
        work = try execute(statement)
    }

    /// `0.123s`, `12.3s`, `2m05s`.
    func formatSeconds(_ seconds: Double) -> String {
        seconds < 10 ? formatFixed(seconds, 3) + "s" : seconds < 60 ? formatFixed(seconds, 1) + "s" : formatDuration(seconds)
    }

    /// `tokens "text"`: the ids the model's tokenizer gives (special tokens written in the text
    /// are recognized, as in prompts), each with its vocabulary piece and the text it stands for.
    func tokens(_ text: String) throws {
        let tokenizer = try session.model().requireTokenizer()
        let ids = tokenizer.encode(text, parseSpecial: true)
        let rows = ids.enumerated().map { i, id in
            [String(i), String(id), tokenizer.tokenPiece(id).replacingEscapes(),
             "\"" + tokenizer.decode([id], skipSpecial: false).replacingEscapes() + "\""]
        }
        var out = "\(ids.count) tokens\n" + table(headers: ["#", "id", "piece", "text"], rows: rows,
                                                   alignments: [.right, .right, .left, .left])
        if out.hasSuffix("\n") { out.removeLast() }
        display.line(out)
    }
}
