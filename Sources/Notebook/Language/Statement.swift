// The notebook's AST: one enum case per command, with typed arguments.
//
// Parsing (Parser.swift) and execution (the Interpreter) stay apart: the interpreter is one
// exhaustive `switch` over `Statement`, so adding a command is a compile error everywhere it
// must be handled. Optional arguments are `nil` when not written; the interpreter then uses
// the session setting of the same meaning (see `Setting`), which is what lets a workflow's
// parameters block (`set steps=200`) and `--set` on the command line drive the commands.

/// Which image a command is about.
public enum ImageRef: Equatable, Sendable {
    /// The N-th image (0-based) of the loaded MNIST split: `img=N`, `show img N`.
    case index(Int)
    /// An image loaded with `load image PATH as NAME`: `image=NAME`, `show image NAME`.
    case named(String)
}

/// The two MNIST files.
public enum MNISTSplit: String, CaseIterable, Equatable, Sendable {
    case train, test
}

/// Sampling arguments of `ask`; `nil` means the session setting (`temp`, `top_p`, `seed`, `max`).
public struct SamplingOptions: Equatable, Sendable {
    public var temperature: Double?
    public var topP: Double?
    public var seed: Int?
    public var maxTokens: Int?

    public init(temperature: Double? = nil, topP: Double? = nil, seed: Int? = nil, maxTokens: Int? = nil) {
        self.temperature = temperature
        self.topP = topP
        self.seed = seed
        self.maxTokens = maxTokens
    }
}

/// What `show weights` draws.
public enum WeightsView: Equatable, Sendable {
    /// Rows `from..<from+count` of W (of the first layer for an MLP), each as a 28×28 image.
    case rows(from: Int, count: Int)
    /// Wᵀ·u_D, with u_D the unit embedding of the digit token D: the input that most raises e·u_D.
    case digit(Int)
}

/// Arguments of `train`; `nil` means the session setting (`steps`, `lr`, `batch`, `seed`, `every`).
public struct TrainOptions: Equatable, Sendable {
    public var steps: Int?
    public var learningRate: Double?
    public var batch: Int?
    public var seed: Int?
    /// Print the loss and a sampled reply every K steps.
    public var every: Int?

    public init(steps: Int? = nil, learningRate: Double? = nil, batch: Int? = nil,
                seed: Int? = nil, every: Int? = nil) {
        self.steps = steps
        self.learningRate = learningRate
        self.batch = batch
        self.seed = seed
        self.every = every
    }
}

/// Arguments of `eval`; `nil` means the session setting (`n`, `question`).
public struct EvalOptions: Equatable, Sendable {
    /// How many test images (from the first).
    public var count: Int?
    public var question: String?
    /// `true` when the `greedy` flag was written; `false` leaves it to the `greedy` setting.
    public var greedy: Bool

    public init(count: Int? = nil, question: String? = nil, greedy: Bool = false) {
        self.count = count
        self.question = question
        self.greedy = greedy
    }
}

/// One parsed statement. The interpreter switches over it exhaustively.
public indirect enum Statement: Equatable, Sendable {
    /// `load model [NAME|PATH]`: `nil` loads the embedded default model.
    case loadModel(String?)
    /// `load mnist [split=train|test] [path=DIR]`: `nil` split means `train`; `nil` path the bundled data.
    case loadMNIST(split: MNISTSplit?, path: String?)
    /// `load projector PATH` (safetensors with `input_layer.weight` and `input_layer.bias`).
    case loadProjector(path: String)
    /// `load image PATH.png as NAME`.
    case loadImage(path: String, name: String)
    /// `show img N` / `show image NAME`: draw the digit.
    case showImage(ImageRef)
    /// `show batch from=N count=K`: a row of digits with labels.
    case showBatch(from: Int, count: Int)
    /// `show settings` (also `get` with no key): every session setting and its value.
    case showSettings
    /// `project img N` / `project image NAME`: embedding norm, nearest tokens, digit cosines.
    case project(ImageRef)
    /// `project digit=D [n=K]`: the mean embedding of the first K training images of digit D.
    case projectDigit(digit: Int, count: Int)
    /// `show weights [rows=N] [from=K]` / `show weights digit=D`: the projector's weights as images.
    case showWeights(WeightsView)
    /// `gradcheck [img=N] [eps=X] [count=K]`: finite differences against the backward pass.
    case gradCheck(image: Int?, epsilon: Double, count: Int)
    /// `ask "question" [img=N|image=NAME] [temp= top_p= seed= max=]`: stream a reply.
    case ask(question: String, image: ImageRef?, sampling: SamplingOptions)
    /// `loss [img=N]`: the loss of the true answer (`nil`: the interpreter's current image).
    case loss(image: Int?)
    /// `grad [img=N] [save=PATH]`: gradient norms; `save` writes dL/dW, dL/db as safetensors.
    case grad(image: Int?, save: String?)
    /// `train [steps=N] [lr= batch= seed= every=K]`.
    case train(TrainOptions)
    /// `eval [n=N] [question="…"] [greedy]`.
    case eval(EvalOptions)
    /// `save projector PATH`.
    case saveProjector(path: String)
    /// `reset projector [seed=N]`: a freshly initialized (untrained) projector.
    case resetProjector(seed: Int?)
    /// `tokens "text"`: how the model's tokenizer splits a text (ids and pieces).
    case tokens(String)
    /// `set KEY=VALUE`: the value is already checked against the setting's type.
    case set(Setting, SettingValue)
    /// `get KEY`; `get` alone is `showSettings`.
    case get(Setting)
    /// `time STATEMENT`: run it and report wall time (and steps/s or tokens/s).
    case time(Statement)
    /// `help [CMD]`.
    case help(String?)
    /// `history`: this session's accepted lines.
    case history
    /// `quit` (also `exit`).
    case quit

    /// The command word(s) as typed, for messages (`"load model"`, `"train"`).
    public var commandName: String {
        switch self {
        case .loadModel: return "load model"
        case .loadMNIST: return "load mnist"
        case .loadProjector: return "load projector"
        case .loadImage: return "load image"
        case .showImage(.index): return "show img"
        case .showImage(.named): return "show image"
        case .showBatch: return "show batch"
        case .showSettings: return "show settings"
        case .project, .projectDigit: return "project"
        case .showWeights: return "show weights"
        case .gradCheck: return "gradcheck"
        case .ask: return "ask"
        case .loss: return "loss"
        case .grad: return "grad"
        case .train: return "train"
        case .eval: return "eval"
        case .saveProjector: return "save projector"
        case .resetProjector: return "reset projector"
        case .tokens: return "tokens"
        case .set: return "set"
        case .get: return "get"
        case .time: return "time"
        case .help: return "help"
        case .history: return "history"
        case .quit: return "quit"
        }
    }
}

/// A statement with where it was written: absolute file line and column of its first token,
/// and its source text (continuation lines included) for echoing in transcripts.
public struct LocatedStatement: Equatable, Sendable {
    public var statement: Statement
    public var line: Int
    public var column: Int
    public var text: String

    public init(_ statement: Statement, line: Int, column: Int, text: String) {
        self.statement = statement
        self.line = line
        self.column = column
        self.text = text
    }
}

// MARK: - Values and settings

/// The type of an argument or setting value; drives checking, messages and completion.
public enum ValueType: Equatable, Sendable {
    case int
    case double
    case string
    /// A file or directory path (completed with file names).
    case path
    case bool
    case choice([String])

    /// How a message names the expected type: "steps expects an integer, got 'abc'".
    public var expectation: String {
        switch self {
        case .int: return "an integer"
        case .double: return "a number"
        case .string: return "a string"
        case .path: return "a path"
        case .bool: return "true or false"
        case .choice(let options): return "one of " + options.joined(separator: ", ")
        }
    }

    /// Placeholder in usage lines (`steps=N`).
    public var placeholder: String {
        switch self {
        case .int: return "N"
        case .double: return "X"
        case .string: return "TEXT"
        case .path: return "PATH"
        case .bool: return "true|false"
        case .choice(let options): return options.joined(separator: "|")
        }
    }
}

/// A typed value of a setting.
public enum SettingValue: Equatable, Sendable, CustomStringConvertible {
    case int(Int)
    case double(Double)
    case string(String)
    case bool(Bool)

    /// As `get` prints it (strings quoted, so they can be pasted back into `set`).
    public var description: String {
        switch self {
        case .int(let v): return String(v)
        case .double(let v): return String(v)
        case .string(let v): return "\"" + v.replacingEscapes() + "\""
        case .bool(let v): return v ? "true" : "false"
        }
    }

    public var intValue: Int? { if case .int(let v) = self { v } else { nil } }
    public var doubleValue: Double? {
        switch self {
        case .double(let v): return v
        case .int(let v): return Double(v)
        default: return nil
        }
    }
    public var stringValue: String? { if case .string(let v) = self { v } else { nil } }
    public var boolValue: Bool? { if case .bool(let v) = self { v } else { nil } }
}

extension String {
    /// The text with `\ " newline tab` written as escapes, for quoting.
    func replacingEscapes() -> String {
        var out = ""
        for c in self {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default: out.append(c)
            }
        }
        return out
    }
}

/// The session settings: names, types, defaults and help. The interpreter should take its
/// initial values from `defaultValue`, so `show settings`, `help set`, `--list-params` and the
/// engine agree.
public enum Setting: String, CaseIterable, Equatable, Sendable {
    case seed, threads, format, question, temp
    case topP = "top_p"
    case max, greedy, steps, lr, batch, every, n, compat, color

    /// The name as written in `set`/`get`.
    public var name: String { rawValue }

    public var type: ValueType {
        switch self {
        case .seed, .threads, .max, .steps, .batch, .every, .n: return .int
        case .temp, .topP, .lr: return .double
        case .question: return .string
        case .greedy, .compat: return .bool
        case .format: return .choice(["auto", "chatml", "llama3"])
        case .color: return .choice(["auto", "on", "off"])
        }
    }

    /// The seed's values (llava-mnist's README settings) where it has one.
    public var defaultValue: SettingValue {
        switch self {
        case .seed: return .int(0)
        case .threads: return .int(0)
        case .format: return .string("auto")
        case .question: return .string("What digit is this?")
        case .temp: return .double(0.6)
        case .topP: return .double(0.9)
        case .max: return .int(20)
        case .greedy: return .bool(false)
        case .steps: return .int(1000)
        case .lr: return .double(1e-3)
        case .batch: return .int(1)
        case .every: return .int(100)
        case .n: return .int(1000)
        case .compat: return .bool(true)
        case .color: return .string("auto")
        }
    }

    public var help: String {
        switch self {
        case .seed: return "random seed for sampling, initialization and shuffling"
        case .threads: return "compute threads (0: one per core)"
        case .format: return "chat format of the prompt (auto: from the model)"
        case .question: return "the question asked about each image"
        case .temp: return "sampling temperature"
        case .topP: return "nucleus sampling threshold"
        case .max: return "most new tokens per reply"
        case .greedy: return "always pick the most likely token"
        case .steps: return "training steps (images, batch 1)"
        case .lr: return "AdamW learning rate"
        case .batch: return "images per training step"
        case .every: return "report loss and a sample every K steps"
        case .n: return "test images evaluated by eval"
        case .compat: return "reproduce the seed's double-BOS tokenization quirk"
        case .color: return "colour output (auto: when the terminal supports it)"
        }
    }
}
