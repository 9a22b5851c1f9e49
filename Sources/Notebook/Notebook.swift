// The notebook: command language, interpreter, workflows, rendering, line editor.
//
// This file holds the command table (`CommandSpec.all`) that Parser.swift parses with, and
// what else is generated from it: `help` text and tab-completion candidates. Add a command
// here (and a `Statement` case) and parsing, help and completion all know it.

extension CommandSpec {
    init(_ name: String, _ subcommand: String? = nil, _ positionals: [Positional] = [],
         keys: [Key] = [], flags: [(name: String, help: String)] = [],
         summary: String, details: String = "",
         build: @escaping @Sendable (Arguments) throws(NotebookError) -> Statement) {
        self.name = name
        self.subcommand = subcommand
        self.positionals = positionals
        self.keys = keys
        self.flags = flags
        self.summary = summary
        self.details = details
        self.build = build
    }
}

private typealias P = CommandSpec.Positional
private typealias K = CommandSpec.Key

private func arg(_ name: String, _ type: ValueType, optional: Bool = false) -> P {
    P(name: name, kind: .value(type), optional: optional)
}

private func key(_ name: String, _ type: ValueType, _ help: String,
                 default value: SettingValue? = nil, setting: Setting? = nil, required: Bool = false) -> K {
    K(name: name, type: type, help: help, defaultValue: value, setting: setting, required: required)
}

/// `img=N` or `image=NAME` (not both).
private func imageRef(_ a: CommandSpec.Arguments) throws(NotebookError) -> ImageRef? {
    switch (a.int("img"), a.string("image")) {
    case (let n?, nil): return .index(n)
    case (nil, let name?): return .named(name)
    case (nil, nil): return nil
    case (_?, _?): throw NotebookError(line: a.line, column: a.column, message: "use img= or image=, not both")
    }
}

/// `name=N` checked against a range at parse time, so a workflow fails before it runs.
private func checked(_ a: CommandSpec.Arguments, _ name: String, _ range: ClosedRange<Int>) throws(NotebookError) -> Int? {
    guard let v = a.int(name) else { return nil }
    guard range.contains(v) else {
        throw NotebookError(line: a.line, column: a.column,
                            message: "\(name) must be between \(range.lowerBound) and \(range.upperBound), got \(v)")
    }
    return v
}

extension CommandSpec {
    /// Other spellings of command names.
    public static let aliases: [String: String] = ["exit": "quit", "?": "help"]

    /// Distinct command names, in table order.
    public static var commandNames: [String] {
        var seen: Set<String> = []
        return all.map(\.name).filter { seen.insert($0).inserted }
    }

    /// Every command form. The order is the order of `help`.
    public static let all: [CommandSpec] = [
        CommandSpec("load", "model", [arg("MODEL", .path, optional: true)],
                    summary: "load a Llama model (default: the embedded SmolLM2-135M-Instruct)",
                    details: "MODEL is a Hugging Face safetensors folder or a GGUF file.") { a in
            .loadModel(a.string("MODEL"))
        },
        CommandSpec("load", "mnist",
                    keys: [key("split", .choice(MNISTSplit.allCases.map(\.rawValue)), "which file", default: nil),
                           key("path", .path, "directory with the MNIST IDX files")],
                    summary: "load MNIST images and labels (default: the training split)") { a in
            .loadMNIST(split: a.string("split").flatMap(MNISTSplit.init), path: a.string("path"))
        },
        CommandSpec("load", "projector", [arg("PATH", .path)],
                    summary: "load a trained projector (safetensors: input_layer.weight, input_layer.bias)") { a in
            .loadProjector(path: a.string("PATH")!)
        },
        CommandSpec("load", "image", [arg("PATH", .path), P(name: "as", kind: .keyword("as"), optional: false),
                                      arg("NAME", .string)],
                    summary: "load a PNG (any size, converted to 28×28 gray) under a name") { a in
            .loadImage(path: a.string("PATH")!, name: a.string("NAME")!)
        },
        CommandSpec("show", "img", [arg("N", .int)], summary: "draw MNIST image N with its label") { a in
            .showImage(.index(a.int("N")!))
        },
        CommandSpec("show", "image", [arg("NAME", .string)], summary: "draw an image loaded with 'load image'") { a in
            .showImage(.named(a.string("NAME")!))
        },
        CommandSpec("show", "batch",
                    keys: [key("from", .int, "first image", default: .int(0)),
                           key("count", .int, "how many images", default: .int(8))],
                    summary: "draw several MNIST images side by side") { a in
            .showBatch(from: a.int("from")!, count: a.int("count")!)
        },
        CommandSpec("show", "settings", summary: "list the session settings") { _ in .showSettings },
        CommandSpec("project", "img", [arg("N", .int)],
                    summary: "embed image N: norm, nearest tokens, cosine to each digit token") { a in
            .project(.index(a.int("N")!))
        },
        CommandSpec("project", "image", [arg("NAME", .string)],
                    summary: "embed a loaded image: norm, nearest tokens, cosine to each digit token") { a in
            .project(.named(a.string("NAME")!))
        },
        CommandSpec("project",
                    keys: [key("digit", .int, "the digit D (0…9)", required: true),
                           key("n", .int, "how many training images of D to average", default: .int(20))],
                    summary: "mean embedding of the first n training images of digit D, as 'project img' reports it",
                    details: "The mean of the embeddings is the embedding of the mean image for the linear projector.") { a throws(NotebookError) in
            .projectDigit(digit: try checked(a, "digit", 0...9)!, count: try checked(a, "n", 1...1000)!)
        },
        CommandSpec("show", "weights",
                    keys: [key("rows", .int, "how many rows of W to draw (default 8)"),
                           key("from", .int, "first row (default 0)"),
                           key("digit", .int, "draw Wᵀ·u_D instead, u_D the unit embedding of the digit token D")],
                    summary: "draw rows of the projector's W as 28×28 images (mid gray 0, white +, black −)",
                    details: "Each row of W weighs the 784 pixels for one coordinate of the embedding; for an MLP, the first layer's rows. "
                        + "digit=D draws the input that most raises e·u_D, the projection onto the token \"D\".") { a throws(NotebookError) in
            let digit = try checked(a, "digit", 0...9)
            let count = try checked(a, "rows", 1...Interpreter.maxWeightRows), from = a.int("from")
            guard let digit else { return .showWeights(.rows(from: from ?? 0, count: count ?? 8)) }
            guard count == nil, from == nil else {
                throw NotebookError(line: a.line, column: a.column, message: "use rows=/from= or digit=, not both")
            }
            return .showWeights(.digit(digit))
        },
        CommandSpec("ask", nil, [arg("QUESTION", .string)],
                    keys: [key("img", .int, "MNIST image shown to the model"),
                           key("image", .string, "loaded image shown to the model"),
                           key("temp", .double, "sampling temperature", setting: .temp),
                           key("top_p", .double, "nucleus sampling threshold", setting: .topP),
                           key("seed", .int, "sampling seed", setting: .seed),
                           key("max", .int, "most new tokens", setting: .max)],
                    summary: "ask the model a question, optionally about an image (streams the reply)",
                    details: "Without img= or image= the model sees only the text.") { a throws(NotebookError) in
            .ask(question: a.string("QUESTION")!, image: try imageRef(a),
                 sampling: SamplingOptions(temperature: a.double("temp"), topP: a.double("top_p"),
                                           seed: a.int("seed"), maxTokens: a.int("max")))
        },
        CommandSpec("loss", keys: [key("img", .int, "MNIST image (default: the current one)")],
                    summary: "the loss of the true answer for an image") { a in
            .loss(image: a.int("img"))
        },
        CommandSpec("grad", keys: [key("img", .int, "MNIST image (default: the current one)"),
                                   key("save", .path, "write dL/dW and dL/db as safetensors")],
                    summary: "gradient norms of the projector for one image") { a in
            .grad(image: a.int("img"), save: a.string("save"))
        },
        CommandSpec("gradcheck",
                    keys: [key("img", .int, "MNIST image (default: the current one)"),
                           key("eps", .double, "the step ε of the central difference", default: .double(Interpreter.defaultGradCheckEpsilon)),
                           key("count", .int, "how many parameters to check", default: .int(5))],
                    summary: "compare the backward pass with finite differences (L(θ+ε) − L(θ−ε)) / 2ε",
                    details: "Checks the largest-|dL/db| entry of b and entries of the same row of W (the ink pixel with the largest |x|, then seeded random pixels). "
                        + "The loss is float32, with rounding noise of a few 1e-6: a central difference divides that noise by 2ε "
                        + "(ε = 1e-3 already leaves errors of several percent), while a large ε adds curvature error of order ε²; "
                        + "the default ε = \(Interpreter.defaultGradCheckEpsilon) sits between.") { a throws(NotebookError) in
            guard let eps = a.double("eps"), eps > 0 else {
                throw NotebookError(line: a.line, column: a.column, message: "eps must be positive")
            }
            return .gradCheck(image: a.int("img"), epsilon: eps, count: try checked(a, "count", 1...Interpreter.maxGradCheckCount)!)
        },
        CommandSpec("train",
                    keys: [key("steps", .int, "training steps", setting: .steps),
                           key("lr", .double, "AdamW learning rate", setting: .lr),
                           key("batch", .int, "images per step", setting: .batch),
                           key("seed", .int, "shuffle and sampling seed", setting: .seed),
                           key("every", .int, "report every K steps", setting: .every)],
                    summary: "train the projector on MNIST training images (Ctrl-C stops after a step)") { a in
            .train(TrainOptions(steps: a.int("steps"), learningRate: a.double("lr"), batch: a.int("batch"),
                                seed: a.int("seed"), every: a.int("every")))
        },
        CommandSpec("eval",
                    keys: [key("n", .int, "test images from the first", setting: .n),
                           key("question", .string, "question text", setting: .question)],
                    flags: [("greedy", "pick the most likely token instead of sampling")],
                    summary: "accuracy on MNIST test images, with a confusion matrix") { a in
            .eval(EvalOptions(count: a.int("n"), question: a.string("question"), greedy: a.flag("greedy")))
        },
        CommandSpec("save", "projector", [arg("PATH", .path)], summary: "write the projector as safetensors") { a in
            .saveProjector(path: a.string("PATH")!)
        },
        CommandSpec("reset", "projector", keys: [key("seed", .int, "initialization seed", setting: .seed)],
                    summary: "start again from a freshly initialized projector") { a in
            .resetProjector(seed: a.int("seed"))
        },
        CommandSpec("tokens", nil, [arg("TEXT", .string)], summary: "show how the tokenizer splits a text") { a in
            .tokens(a.string("TEXT")!)
        },
        CommandSpec("set", nil, [P(name: "KEY=VALUE", kind: .assignment, optional: false)],
                    summary: "change a session setting ('help set' lists them)") { a in
            .set(a.assignment!.0, a.assignment!.1)
        },
        CommandSpec("get", nil, [P(name: "KEY", kind: .setting, optional: true)],
                    summary: "print a setting (all of them without KEY)") { a in
            a.setting.map(Statement.get) ?? .showSettings
        },
        CommandSpec("time", nil, [P(name: "STATEMENT", kind: .statement, optional: false)],
                    summary: "run a statement and report its wall time and rate") { a in
            .time(a.nested!)
        },
        CommandSpec("help", nil, [P(name: "CMD", kind: .command, optional: true)],
                    summary: "list the commands, or explain one") { a in
            .help(a.string("CMD"))
        },
        CommandSpec("history", summary: "list this session's statements") { _ in .history },
        CommandSpec("quit", summary: "leave (also 'exit' or Ctrl-D)") { _ in .quit },
    ]
}

// MARK: - Help

extension CommandSpec {
    /// `help` with no topic: one line per command form.
    public static var overview: String {
        let width = all.map(\.fullName.count).max() ?? 0
        var lines = ["Commands:"]
        for spec in all {
            lines.append("  " + spec.fullName.padding(width) + "  " + spec.summary)
        }
        lines.append("Type 'help CMD' for details, 'help set' for the settings.")
        return lines.joined(separator: "\n")
    }

    /// `help CMD`: usage, keys and details of every form of the command. `nil` for an
    /// unknown name (the parser already rejects those with a suggestion).
    public static func helpText(for command: String?) -> String? {
        guard let command else { return overview }
        let name = aliases[command] ?? command
        let forms = all.filter { $0.name == name }
        guard !forms.isEmpty else { return nil }
        var lines: [String] = []
        for spec in forms {
            if !lines.isEmpty { lines.append("") }
            lines.append("usage: " + spec.usage)
            lines.append("  " + spec.summary)
            if !spec.details.isEmpty { lines.append("  " + spec.details) }
            let rows = spec.keys.map { k -> (String, String) in
                var help = k.help
                if let s = k.setting { help += " (default: setting \(s.name), \(s.defaultValue))" }
                else if let d = k.defaultValue { help += " (default: \(d))" }
                return ("\(k.name)=\(k.type.placeholder)", help)
            } + spec.flags.map { ($0.name, $0.help) }
            let width = rows.map(\.0.count).max() ?? 0
            for (left, right) in rows { lines.append("    " + left.padding(width) + "  " + right) }
        }
        if name == "set" { lines.append(""); lines.append(settingsHelp) }
        return lines.joined(separator: "\n")
    }

    /// The settings with type and default, for `help set` and `--list-params`.
    public static var settingsHelp: String {
        let rows = Setting.allCases.map { ("\($0.name)=\($0.type.placeholder)", $0) }
        let width = rows.map(\.0.count).max() ?? 0
        return (["Settings:"] + rows.map { left, s in
            "  " + left.padding(width) + "  " + s.help + " (default: \(s.defaultValue))"
        }).joined(separator: "\n")
    }
}

extension String {
    /// Padded with spaces on the right to `width` characters.
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}

// MARK: - Completion

/// What Tab can complete at the cursor.
public enum CompletionResult: Equatable, Sendable {
    /// Candidates for the word being typed (the text after the last space, `=` or quote).
    case words([String])
    /// File names (the line editor uses its file-name completer).
    case paths
}

extension CommandSpec {
    /// Completion candidates for `line`, the text before the cursor. The word being completed
    /// starts after the last space, `=` or `"` (as libedit's word-break characters have it),
    /// so for `split=te` the candidates are values (`test`), for `tr` commands (`train`).
    public static func completions(for line: String) -> CompletionResult {
        if line.filter({ $0 == "\"" }).count % 2 == 1 { return .words([]) }  // inside a string
        var words = line.split(whereSeparator: \.isWhitespace).map(String.init)
        let partial = line.last.map(\.isWhitespace) == false ? words.removeLast() : ""
        func matching(_ candidates: [String], _ prefix: String = partial) -> CompletionResult {
            .words(candidates.filter { $0.hasPrefix(prefix) })
        }
        guard let first = words.first else { return matching(commandNames) }
        let name = aliases[first] ?? first
        if name == "time" {
            let rest = line.drop(while: \.isWhitespace).dropFirst(first.count).drop(while: \.isWhitespace)
            return completions(for: String(rest))
        }
        let forms = all.filter { $0.name == name }
        guard !forms.isEmpty else { return .words([]) }
        var spec = forms[0]
        var args = words.dropFirst()
        if forms.count > 1 || forms[0].subcommand != nil {
            let bare = forms.first { $0.subcommand == nil }
            if let sub = args.first, let form = forms.first(where: { $0.subcommand == sub }) {
                spec = form
                args = args.dropFirst()
            } else if let bare, args.allSatisfy({ $0.contains("=") }) {
                // `project digit=3`: the form without a subcommand takes key=value words.
                if args.isEmpty && !partial.contains("=") {
                    return matching(forms.compactMap(\.subcommand) + bare.keys.map { $0.name + "=" })
                }
                spec = bare
            } else if args.isEmpty {
                return matching(forms.compactMap(\.subcommand))
            } else {
                return .words([])
            }
        }
        // A value after `key=`.
        if let eq = partial.firstIndex(of: "=") {
            let k = String(partial[..<eq]), prefix = String(partial[partial.index(after: eq)...])
            let type = spec.positionals.first?.kind == .assignment ? Setting(rawValue: k)?.type
                : spec.keys.first(where: { $0.name == k })?.type
            switch type {
            case .path?: return .paths
            case .choice(let options)?: return matching(options, prefix)
            case .bool?: return matching(["true", "false"], prefix)
            default: return .words([])
            }
        }
        let used = Set(args.compactMap { $0.split(separator: "=").first.map(String.init) })
        let consumed = args.filter { !$0.contains("=") && !spec.flags.map(\.name).contains($0) }.count
        var candidates: [String] = []
        if spec.positionals.indices.contains(consumed) {
            switch spec.positionals[consumed].kind {
            case .value(.path): return .paths
            case .keyword(let word): candidates.append(word)
            case .setting: candidates += Setting.allCases.map(\.name)
            case .assignment: candidates += Setting.allCases.map { $0.name + "=" }
            case .command: candidates += commandNames
            case .statement: return completions(for: partial)
            case .value: break
            }
        }
        candidates += spec.keys.map(\.name).filter { !used.contains($0) }.map { $0 + "=" }
        candidates += spec.flags.map(\.name).filter { !used.contains($0) }
        return matching(candidates)
    }
}
