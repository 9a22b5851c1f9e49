// The state of one notebook session: the model, the data, the projector and the settings,
// and the operations every front door shares. The REPL, the workflow runner and the
// `llava-mnist` subcommands all drive a Session (through the Interpreter or directly), so a
// command behaves the same wherever it is typed.
import Foundation
import Llava

/// An error a command reports to the user (one line, no stack).
public struct CommandError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One notebook session.
public final class Session {
    public var display: Display
    public var settings: [Setting: SettingValue] = Dictionary(uniqueKeysWithValues: Setting.allCases.map { ($0, $0.defaultValue) })

    public private(set) var loaded: LoadedModel?
    public private(set) var data: MNISTData?
    /// The split `show img N`, `project img N` and `ask img=N` read.
    public private(set) var split: MNISTSplit = .train
    public var projector: Projector?
    /// Where the projector came from ("fresh (seed 0)", a path, "trained 200 steps").
    public var projectorOrigin = ""
    /// Images loaded with `load image PATH as NAME`.
    public var namedImages: [String: DigitImage] = [:]
    /// The training run the `train` command continues.
    public var trainer: Trainer?
    /// Loss of every training step of this session (for plots).
    public var lossHistory: [Float] = []

    public init(display: Display) { self.display = display }

    // MARK: - Settings

    public func int(_ s: Setting) -> Int { settings[s]?.intValue ?? s.defaultValue.intValue ?? 0 }
    public func double(_ s: Setting) -> Double { settings[s]?.doubleValue ?? s.defaultValue.doubleValue ?? 0 }
    public func string(_ s: Setting) -> String { settings[s]?.stringValue ?? s.defaultValue.stringValue ?? "" }
    public func bool(_ s: Setting) -> Bool { settings[s]?.boolValue ?? s.defaultValue.boolValue ?? false }

    public func set(_ s: Setting, _ v: SettingValue) throws {
        if let problem = Self.problem(with: v, for: s) { throw CommandError(problem) }
        settings[s] = v
        switch s {
        case .threads: Parallel.threads = v.intValue ?? 0
        case .format, .compat, .question: trainer = nil   // the prompt changed
        default: break
        }
    }

    /// Why `value` is not acceptable for `setting` beyond its type (a range), or nil. The
    /// model's context limits `max` further; `ask` and `eval` check that when they start.
    public static func problem(with value: SettingValue, for setting: Setting) -> String? {
        func within(_ range: ClosedRange<Double>, _ note: String = "") -> String? {
            guard let v = value.doubleValue, !range.contains(v) else { return nil }
            let bounds = setting.type == .int ? "\(Int(range.lowerBound)) and \(Int(range.upperBound))"
                : "\(range.lowerBound) and \(range.upperBound)"
            return "\(setting.name) must be between \(bounds)\(note), got \(value)"
        }
        switch setting {
        case .threads: return within(0...256, " (0: one per core)")
        case .batch: return within(1...256)
        case .steps: return within(1...100_000_000)
        case .max: return within(1...1_000_000)
        case .n: return within(1...1_000_000)
        case .every: return within(0...100_000_000)
        case .temp: return within(0...100)
        case .topP:
            guard let v = value.doubleValue, !(v > 0 && v <= 1) else { return nil }
            return "top_p must be greater than 0 and at most 1, got \(value)"
        case .lr:
            guard let v = value.doubleValue, !(v > 0 && v <= 10) else { return nil }
            return "lr must be greater than 0 and at most 10, got \(value)"
        case .seed, .format, .question, .greedy, .compat, .color: return nil
        }
    }

    /// Throws unless a prompt of `promptTokens` positions followed by up to `maxTokens` new
    /// ones fits the model's context (checked before anything is allocated).
    public static func checkContext(promptTokens: Int, maxTokens: Int, context: Int) throws {
        if promptTokens >= context {
            throw CommandError("the prompt is \(promptTokens) tokens, too long for the model's context of \(context) tokens: shorten the question")
        }
        if maxTokens > context - promptTokens {
            throw CommandError("up to \(maxTokens) new tokens after the \(promptTokens)-token prompt would need \(promptTokens + maxTokens) positions, "
                               + "more than the model's context of \(context) tokens: ask for at most \(context - promptTokens)")
        }
    }

    // MARK: - Model

    /// The default model: SmolLM2-135M-Instruct in the cache (fetched by scripts/setup.sh).
    public static var defaultModelPath: String { CachePaths.models + "/SmolLM2-135M-Instruct.Q4_1.gguf" }

    /// Loads a model by path (or the default when nil); a projector of another width is dropped.
    public func loadModel(_ path: String?) throws {
        let p = try Self.resolveModelPath(path)
        let m = try ModelLoader.load(path: p)
        loaded = m
        trainer = nil
        if projector?.outputSize != m.model.config.dim { resetProjector(seed: nil) }
        let c = m.model.config
        display.line("loaded \(p): \(c.layers) layers, d_model \(c.dim), \(c.heads) heads (\(c.kvHeads) KV), vocab \(c.vocabSize), \(m.format)"
                     + (m.tokenizer == nil ? " (no tokenizer)" : ", chat format \(try chatFormat().rawValue)"))
    }

    /// Maps `nil`/"default"/"smollm2" to the cached default and checks the path exists.
    public static func resolveModelPath(_ path: String?) throws -> String {
        let p: String
        switch path?.lowercased() {
        case nil, "default", "smollm2", "smollm2-135m-instruct": p = defaultModelPath
        default: p = (path! as NSString).expandingTildeInPath
        }
        guard FileManager.default.fileExists(atPath: p) else {
            if p == defaultModelPath { throw CommandError("the default model is not installed (\(p)): run scripts/setup.sh") }
            throw CommandError("\(p): no such model file or folder")
        }
        return p
    }

    /// The model, loading the default one on first use.
    public func model() throws -> LoadedModel {
        if let loaded { return loaded }
        try loadModel(nil)
        return loaded!
    }

    /// The chat format: the `format` setting, or detected from the model.
    public func chatFormat() throws -> ChatFormat {
        let m = try model()
        let tok = try m.requireTokenizer()
        switch string(.format) {
        case "chatml": return .chatml
        case "llama3": return bool(.compat) ? .llama3Seed : .llama3
        case "llama3-seed": return .llama3Seed
        default:
            let f = ChatFormat.detect(chatTemplate: m.chatTemplate, tokenizer: tok)
            return f == .llama3 && bool(.compat) ? .llama3Seed : f
        }
    }

    /// The multimodal prompt for `question` (default: the `question` setting).
    public func prompt(question: String? = nil) throws -> MultimodalPrompt {
        let m = try model()
        return MultimodalPrompt(format: try chatFormat(), tokenizer: try m.requireTokenizer(), question: question ?? string(.question))
    }

    // MARK: - Projector

    public func resetProjector(seed: Int?) {
        guard let m = loaded else { projector = nil; return }
        let s = seed ?? int(.seed)
        projector = Projector(kind: .linear, outputSize: m.model.config.dim, seed: UInt64(truncatingIfNeeded: s))
        projectorOrigin = "fresh (seed \(s))"
        trainer = nil
    }

    public func currentProjector() throws -> Projector {
        _ = try model()
        if projector == nil { resetProjector(seed: nil) }
        return projector!
    }

    public func loadProjector(_ path: String) throws {
        let m = try model()
        let (p, meta) = try Checkpoint.load((path as NSString).expandingTildeInPath, width: m.model.config.dim)
        projector = p
        projectorOrigin = path
        trainer = nil
        let info = ["base_model", "steps", "final_loss"].compactMap { k in meta[k].map { "\(k) \($0)" } }.joined(separator: ", ")
        display.line("loaded projector \(path): \(p.kind.rawValue), 784 → \(p.outputSize)" + (info.isEmpty ? "" : " (\(info))"))
    }

    public func saveProjector(_ path: String) throws {
        let p = try currentProjector()
        try Checkpoint.save(p, metadata: checkpointMetadata(trainer), optimizer: trainer?.optimizer, to: (path as NSString).expandingTildeInPath)
        display.line("saved projector to \(path)" + (trainer != nil ? " (optimizer state beside it)" : ""))
    }

    /// Saves a training run's projector and optimizer state mid-run (`train --save-every`).
    public func saveCheckpoint(_ t: Trainer, to path: String) throws {
        try Checkpoint.save(t.projector, metadata: checkpointMetadata(t), optimizer: t.optimizer, to: (path as NSString).expandingTildeInPath)
    }

    /// What a checkpoint records: the model and format it belongs to and, for a training run,
    /// its progress and recipe (`recipe_*` keys, which `train --resume` continues with).
    func checkpointMetadata(_ t: Trainer?) throws -> [String: String] {
        let m = try model()
        var meta = ["base_model": (m.path as NSString).lastPathComponent, "chat_format": try chatFormat().rawValue,
                    "seed": "\(int(.seed))", "origin": projectorOrigin]
        if let t {
            let o = t.options
            meta["seed"] = "\(o.seed)"
            meta["steps"] = "\(t.stepsDone)"; meta["lr"] = "\(o.optimizer.lr)"; meta["batch"] = "\(o.batch)"
            if let l = t.losses.last { meta["final_loss"] = String(format: "%.4f", l) }
            meta["recipe_seed"] = "\(o.seed)"
            meta["recipe_batch"] = "\(o.batch)"
            meta["recipe_lr"] = "\(o.optimizer.lr)"
            meta["recipe_schedule"] = o.schedule.rawValue
            meta["recipe_shift"] = "\(o.shift)"
            if o.torchRandom { meta["recipe_rng"] = "torch" }
            if o.steps < Int.max / 2 { meta["recipe_steps"] = "\(o.steps)" }   // the notebook trains open-ended
        }
        return meta
    }

    // MARK: - Data

    /// Loads MNIST: the IDX folder `path`, or the default offline split of the 5k subset.
    public func loadMNIST(split: MNISTSplit?, path: String?) throws {
        if let path {
            data = try Self.loadData(folder: (path as NSString).expandingTildeInPath)
        } else if data == nil || split == nil {
            data = try MNISTData.defaultOffline(seed: 0)
        }
        self.split = split ?? .train
        trainer = nil
        let d = data!
        display.line("mnist: \(d.description); train \(d.train.count), test \(d.test.count); using \(self.split.rawValue)")
    }

    /// MNIST from an IDX folder. A folder with only the test files (t10k) evaluates on them
    /// and trains on all 5,000 images of the offline subset (none of which is in t10k).
    public static func loadData(folder: String) throws -> MNISTData {
        let (train, test) = try MNIST.loadFolder(folder)
        guard let test else { throw CommandError("\(folder): no MNIST test files (t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz])") }
        if let train { return MNISTData(train: train, test: test, description: "MNIST IDX files in \(folder): \(train.count) train, \(test.count) test") }
        let subset = try MNIST.loadCSV(CachePaths.data + "/mnist_5k.csv.gz")
        return MNISTData(train: subset, test: test,
                         description: "train: all \(subset.count) images of the 5k subset (seeded shuffle); test: MNIST IDX files in \(folder) (\(test.count), canonical order)")
    }

    public func mnist() throws -> MNISTData {
        if let data { return data }
        data = try MNISTData.defaultOffline(seed: 0)
        return data!
    }

    /// The image an `ImageRef` names.
    public func image(_ ref: ImageRef) throws -> DigitImage {
        switch ref {
        case .named(let name):
            guard let img = namedImages[name] else {
                let have = namedImages.keys.sorted().joined(separator: ", ")
                throw CommandError("no image named '\(name)'" + (have.isEmpty ? " (load one with: load image PATH.png as NAME)" : " (loaded: \(have))"))
            }
            return img
        case .index(let i):
            let set = split == .train ? try mnist().train : try mnist().test
            guard i >= 0, i < set.count else {
                throw CommandError("\(split.rawValue) image \(i) is out of range: the \(split.rawValue) split has \(set.count) images (0…\(set.count - 1))")
            }
            return set.images[i]
        }
    }

    /// Training order: a seeded shuffle for the offline subset, the file order for IDX data
    /// (the seed trains on the first 1,000 training images in order).
    /// With `torchRandom`, the subset's shuffle is `torch.randperm` as a PyTorch run draws it.
    public func trainingOrder(seed: UInt64, torchRandom: Bool = false) throws -> [Int] {
        let d = try mnist()
        if d.description.hasPrefix("MNIST IDX") { return Array(0..<d.train.count) }
        if torchRandom { return Projector.torchTrainingOrder(outputSize: try model().model.config.dim, seed: seed, count: d.train.count) }
        return d.shuffledTrainOrder(seed: seed)
    }
}
