// Projector checkpoints as safetensors with the keys of the published `speed/llava-mnist`
// file (`input_layer.weight` [d, 784], `input_layer.bias` [d], float32), plus string
// metadata (base model, chat format, steps, lr, seed, final loss). Optimizer state lives
// beside it (`NAME.optim.safetensors`) so training resumes exactly. Writes are atomic.
import Foundation

public enum Checkpoint {
    /// Where the optimizer state of checkpoint `path` is kept.
    public static func optimizerPath(for path: String) -> String {
        (path.hasSuffix(".safetensors") ? String(path.dropLast(".safetensors".count)) : path) + ".optim.safetensors"
    }

    /// Writes the projector (and, when given, the optimizer state beside it).
    public static func save(_ projector: Projector, metadata: [String: String], optimizer: AdamW? = nil, to path: String) throws {
        var meta = metadata
        meta["format"] = "llava-mnist projector"
        meta["projector_kind"] = projector.kind.rawValue
        let entries = projector.parameters.map { SafeTensorsWriter.Entry(name: $0.name, shape: $0.shape, values: $0.values) }
        try SafeTensorsWriter.write(entries, metadata: meta, to: path)
        if let optimizer {
            var e: [SafeTensorsWriter.Entry] = []
            for (k, p) in projector.parameters.enumerated() {
                e.append(.init(name: p.name + ".exp_avg", shape: p.shape, values: optimizer.m[k]))
                e.append(.init(name: p.name + ".exp_avg_sq", shape: p.shape, values: optimizer.v[k]))
            }
            let s = optimizer.settings
            try SafeTensorsWriter.write(e, metadata: ["step": "\(optimizer.step)", "lr": "\(s.lr)", "beta1": "\(s.beta1)",
                                                      "beta2": "\(s.beta2)", "eps": "\(s.eps)", "weight_decay": "\(s.weightDecay)"],
                                        to: optimizerPath(for: path))
        }
    }

    /// Reads a projector checkpoint; `width` (the loaded model's d_model) is checked when given.
    public static func load(_ path: String, width: Int? = nil) throws -> (projector: Projector, metadata: [String: String]) {
        let file = try SafeTensorsFile(path: path)
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
            guard w1.cols == Projector.inputSize, b1.elementCount == w1.rows, w2.cols == w1.rows, b2.elementCount == w2.rows else {
                throw FormatError(path, "projector tensors have inconsistent shapes")
            }
            var p = Projector(kind: .mlp, outputSize: w2.rows, hiddenSize: w1.rows)
            for (k, t) in [w1, b1, w2, b2].enumerated() { p.parameters[k].values = t.toFloats() }
            projector = p
        } else {
            let w = try values("input_layer.weight"), b = try values("input_layer.bias")
            guard w.shape.count == 2, w.cols == Projector.inputSize else {
                throw FormatError(path, "input_layer.weight has shape \(w.shape.reversed()), expected [d_model, 784]")
            }
            guard b.elementCount == w.rows else {
                throw FormatError(path, "input_layer.bias has \(b.elementCount) values but the weight has \(w.rows) rows")
            }
            projector = Projector(weight: w.toFloats(), bias: b.toFloats())
        }
        if let width, projector.outputSize != width {
            throw FormatError(path, "this projector outputs \(projector.outputSize)-wide embeddings but the loaded model's d_model is \(width) (it was trained for another model\(file.metadata["base_model"].map { ": \($0)" } ?? ""))")
        }
        return (projector, file.metadata)
    }

    /// Reads the optimizer state saved beside `path`, for `projector`.
    public static func loadOptimizer(for path: String, projector: Projector) throws -> AdamW {
        let optPath = optimizerPath(for: path)
        let file = try SafeTensorsFile(path: optPath)
        let m = file.metadata
        func f(_ k: String, _ def: Float) -> Float { m[k].flatMap(Float.init) ?? def }
        var opt = AdamW(settings: AdamWSettings(lr: f("lr", 1e-3), beta1: f("beta1", 0.9), beta2: f("beta2", 0.999),
                                                eps: f("eps", 1e-8), weightDecay: f("weight_decay", 0.01)),
                        shapes: projector.parameters.map { $0.values.count })
        guard let step = m["step"].flatMap(Int.init) else { throw FormatError(optPath, "missing 'step' in the metadata") }
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
