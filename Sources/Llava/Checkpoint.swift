// Projector checkpoints as safetensors with the keys of the published `speed/llava-mnist`
// file (`input_layer.weight` [d, 784], `input_layer.bias` [d], float32), plus string
// metadata (base model, chat format, steps, lr, seed, final loss). Optimizer state lives
// beside it (`NAME.optim.safetensors`) so training resumes exactly.
//
// Crash safety: each file is replaced atomically (`AtomicFile`: temporary file, fsync,
// rename, fsync of the folder), so a reader sees the old or the new version, never a mix.
// The two files cannot be replaced together, so the optimizer file is self-contained: it
// holds the parameters of its step as well as the moments, and it is written first. A
// process killed between the two writes leaves a newer optimizer file beside the previous
// projector file; `loadTrainingState` resumes from the optimizer file, which is always one
// consistent step.
import Foundation

public enum Checkpoint {
    /// Where the optimizer state of checkpoint `path` is kept.
    public static func optimizerPath(for path: String) -> String {
        (path.hasSuffix(".safetensors") ? String(path.dropLast(".safetensors".count)) : path) + ".optim.safetensors"
    }

    /// Writes the projector (and, when given, the optimizer state beside it: first, with the
    /// parameters it belongs to, so the pair survives a crash between the two writes).
    public static func save(_ projector: Projector, metadata: [String: String], optimizer: AdamW? = nil, to path: String) throws {
        var meta = metadata
        meta["format"] = "llava-mnist projector"
        meta["projector_kind"] = projector.kind.rawValue
        let entries = projector.parameters.map { SafeTensorsWriter.Entry(name: $0.name, shape: $0.shape, values: $0.values) }
        removeStaleTemporaries(of: path)
        if let optimizer {
            let optPath = optimizerPath(for: path)
            removeStaleTemporaries(of: optPath)
            var e = entries
            for (k, p) in projector.parameters.enumerated() {
                e.append(.init(name: p.name + ".exp_avg", shape: p.shape, values: optimizer.m[k]))
                e.append(.init(name: p.name + ".exp_avg_sq", shape: p.shape, values: optimizer.v[k]))
            }
            let s = optimizer.settings
            var optMeta = ["step": "\(optimizer.step)", "lr": "\(s.lr)", "beta1": "\(s.beta1)",
                           "beta2": "\(s.beta2)", "eps": "\(s.eps)", "weight_decay": "\(s.weightDecay)",
                           "projector_kind": projector.kind.rawValue]
            // The recipe of the run (seed, batch, schedule…), so `train --resume` continues it as it was.
            for (k, v) in metadata where k.hasPrefix("recipe_") { optMeta[k] = v }
            try SafeTensorsWriter.write(e, metadata: optMeta, to: optPath)
        }
        try SafeTensorsWriter.write(entries, metadata: meta, to: path)
    }

    /// Deletes `path.tmp-PID` files that a killed process left behind (`AtomicFile`'s
    /// temporaries), for processes that no longer run.
    static func removeStaleTemporaries(of path: String) {
        let dir = (path as NSString).deletingLastPathComponent, name = (path as NSString).lastPathComponent + ".tmp-"
        let folder = dir.isEmpty ? "." : dir
        guard let items = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        for item in items where item.hasPrefix(name) {
            guard let pid = Int32(item.dropFirst(name.count)), pid > 0, pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { unlink((folder as NSString).appendingPathComponent(item)) }
        }
    }

    /// Reads a projector checkpoint; `width` (the loaded model's d_model) is checked when given.
    public static func load(_ path: String, width: Int? = nil) throws -> (projector: Projector, metadata: [String: String]) {
        let file = try SafeTensorsFile(path: path)
        return (try projector(in: file, path: path, width: width), file.metadata)
    }

    /// Whether `file` holds projector parameters (a projector file, or a new-style optimizer file).
    static func hasProjector(_ file: SafeTensorsFile) -> Bool {
        file.tensor("input_layer.weight") != nil || file.tensor("input_layer.linear_1.weight") != nil
    }

    /// The projector whose parameters `file` holds.
    static func projector(in file: SafeTensorsFile, path: String, width: Int?) throws -> Projector {
        func values(_ name: String) throws -> TensorView {
            guard let t = file.tensor(name) else {
                let have = file.tensors.map(\.name).joined(separator: ", ")
                throw FormatError(path, "missing tensor '\(name)' (found: \(have.isEmpty ? "none" : have)); not a llava-mnist projector")
            }
            return t
        }
        let projector: Projector
        if file.tensor("input_layer.linear_1.weight") != nil {
            let w1 = try values("input_layer.linear_1.weight"), b1 = try values("input_layer.linear_1.bias")
            let w2 = try values("input_layer.linear_2.weight"), b2 = try values("input_layer.linear_2.bias")
            guard w1.shape.count == 2, w2.shape.count == 2, w1.cols == Projector.inputSize, b1.elementCount == w1.rows,
                  w2.cols == w1.rows, b2.elementCount == w2.rows else {
                throw FormatError(path, "projector tensors have inconsistent shapes")
            }
            var p = Projector(kind: .mlp, outputSize: w2.rows, hiddenSize: w1.rows)
            for (k, t) in [w1, b1, w2, b2].enumerated() { p.parameters[k].values = t.toFloats() }
            projector = p
        } else {
            let w = try values("input_layer.weight"), b = try values("input_layer.bias")
            guard w.shape.count == 2, w.cols == Projector.inputSize else {
                throw FormatError(path, "input_layer.weight has shape \(Array(w.shape.reversed())), expected [d_model, 784]")
            }
            guard b.elementCount == w.rows else {
                throw FormatError(path, "input_layer.bias has \(b.elementCount) values but the weight has \(w.rows) rows")
            }
            projector = Projector(weight: w.toFloats(), bias: b.toFloats())
        }
        if let width, projector.outputSize != width {
            throw FormatError(path, "this projector outputs \(projector.outputSize)-wide embeddings but the loaded model's d_model is \(width) (it was trained for another model\(file.metadata["base_model"].map { ": \($0)" } ?? ""))")
        }
        return projector
    }

    /// What `train --resume` continues: the projector and optimizer state of one step.
    public struct TrainingState {
        public var projector: Projector
        public var optimizer: AdamW
        /// The projector file's metadata (base model, chat format…), when it could be read.
        public var metadata: [String: String]
        /// The optimizer file's metadata: step, AdamW settings and the run's `recipe_*` keys.
        public var optimizerMetadata: [String: String]
    }

    /// Reads the state saved at `path` by a training run: the optimizer file beside it holds
    /// the parameters of its step (files written before it did are paired with the projector
    /// file, whose step must then match). A crash between the two writes of `save` leaves the
    /// optimizer file one step ahead of the projector file: its step is the one resumed.
    public static func loadTrainingState(_ path: String, width: Int? = nil) throws -> TrainingState {
        let optPath = optimizerPath(for: path)
        let fm = FileManager.default
        guard fm.fileExists(atPath: optPath) else {
            if !fm.fileExists(atPath: path) {
                throw FormatError(path, "no such file: nothing to resume (train without --resume to start a run)")
            }
            throw FormatError(path, "no optimizer state beside it (\((optPath as NSString).lastPathComponent)): "
                              + "only a run saved by `train` can be resumed")
        }
        let optFile = try SafeTensorsFile(path: optPath)
        guard let step = optFile.metadata["step"].flatMap(Int.init), step >= 0 else {
            throw FormatError(optPath, "missing 'step' in the metadata")
        }
        let projector: Projector
        var metadata: [String: String] = [:]
        if hasProjector(optFile) {
            projector = try self.projector(in: optFile, path: optPath, width: width)
            metadata = (try? SafeTensorsFile(path: path))?.metadata ?? [:]
        } else {
            let (p, meta) = try load(path, width: width)
            if let saved = meta["steps"].flatMap(Int.init), saved != step {
                throw FormatError(path, "the projector is at step \(saved) but its optimizer state is at step \(step): "
                                  + "they were not saved together, so the run cannot be resumed exactly")
            }
            projector = p
            metadata = meta
        }
        let optimizer = try self.optimizer(in: optFile, path: optPath, projector: projector)
        return TrainingState(projector: projector, optimizer: optimizer, metadata: metadata, optimizerMetadata: optFile.metadata)
    }

    /// Reads the optimizer state saved beside `path`, for `projector`.
    public static func loadOptimizer(for path: String, projector: Projector) throws -> AdamW {
        let optPath = optimizerPath(for: path)
        return try optimizer(in: SafeTensorsFile(path: optPath), path: optPath, projector: projector)
    }

    static func optimizer(in file: SafeTensorsFile, path optPath: String, projector: Projector) throws -> AdamW {
        let m = file.metadata
        func f(_ k: String, _ def: Float) -> Float { m[k].flatMap(Float.init) ?? def }
        var opt = AdamW(settings: AdamWSettings(lr: f("lr", 1e-3), beta1: f("beta1", 0.9), beta2: f("beta2", 0.999),
                                                eps: f("eps", 1e-8), weightDecay: f("weight_decay", 0.01)),
                        shapes: projector.parameters.map { $0.values.count })
        guard let step = m["step"].flatMap(Int.init), step >= 0 else { throw FormatError(optPath, "missing 'step' in the metadata") }
        opt.step = step
        for (k, p) in projector.parameters.enumerated() {
            guard let a = file.tensor(p.name + ".exp_avg"), let b = file.tensor(p.name + ".exp_avg_sq"),
                  a.elementCount == p.values.count, b.elementCount == p.values.count else {
                throw FormatError(optPath, "optimizer state for '\(p.name)' is missing or has the wrong size")
            }
            opt.m[k] = a.toFloats()
            opt.v[k] = b.toFloats()
        }
        return opt
    }
}
