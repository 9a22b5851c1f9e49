// `llava-mnist train`: the seed's train.py. Trains the projector against the frozen model
// and writes it (with optimizer state beside it) as safetensors; Ctrl-C saves what was
// trained and says how to resume.
import ArgumentParser
import Foundation
import Llava
import Notebook

/// Named training recipes.
enum Preset: String, ExpressibleByArgument, CaseIterable {
    /// The seed's recipe: 1,000 steps, batch 1, AdamW lr 1e-3 constant, linear projector.
    case seed
    /// The best recipe found on this machine within ten minutes of training (README).
    case best

    /// Epochs of the regression stage before end-to-end training (Distillation.swift).
    var distillEpochs: Int { self == .best ? 40 : 0 }

    var options: (TrainingOptions, ProjectorKind) {
        var o = TrainingOptions()
        switch self {
        case .seed:
            return (o, .linear)
        case .best:
            // Measured (README): a distilled MLP projector fine-tuned end to end, 95.0% greedy
            // (95.0% sampled) on the first 1,000 t10k images after 6.3 min of training on 2 cores.
            o.steps = 300
            o.batch = 8
            o.optimizer.lr = 3e-4
            o.schedule = .cosine
            o.shift = 1
            return (o, .mlp)
        }
    }
}

extension ProjectorKind: ExpressibleByArgument {}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train the projector (the seed's train.py).",
        discussion: "Example: llava-mnist train --preset seed --out projector.safetensors")

    @OptionGroup var model: ModelOptions
    @Option(help: "A folder of MNIST IDX files (default: the offline 5k subset, seeded stratified split).") var data: String?
    @Option(help: "Recipe: seed (1,000 steps, batch 1, lr 1e-3) or best (distilled MLP projector, then 300 steps of batch 8 end to end).") var preset: Preset = .seed
    @Option(parsing: .unconditional, help: "Training steps (overrides the preset).") var steps: Int?
    @Option(parsing: .unconditional, help: "AdamW learning rate (overrides the preset).") var lr: Double?
    @Option(parsing: .unconditional, help: "Images per step (overrides the preset).") var batch: Int?
    @Option(parsing: .unconditional, help: "Seed for initialization, data order and augmentation (default 0).") var seed: Int?
    @Option(name: .customLong("projector-kind"), help: "linear (the seed) or mlp (LLaVA-1.5 style).") var projectorKind: ProjectorKind?
    @Option(help: "Learning-rate schedule: constant or cosine (overrides the preset).") var schedule: String?
    @Option(parsing: .unconditional, help: "Random shifts of up to N pixels (augmentation; overrides the preset).") var shift: Int?
    @Option(help: "Where to write the projector.") var out = "projector.safetensors"
    @Flag(help: "Continue the run saved at --out (its optimizer state is beside it) with its recipe, to the same result as an uninterrupted run.") var resume = false
    @Option(name: .customLong("save-every"), parsing: .unconditional,
            help: "Also save the projector and optimizer state to --out every K steps (atomically; 0: only at the end).") var saveEvery = 0
    @Option(parsing: .unconditional, help: "Print the loss and a sampled reply every K steps.") var every = 100
    @Option(help: "Append per-step losses (step, loss) to this file.") var log: String?
    @Flag(name: .customLong("torch-random"), help: "Draw the initial projector and the data order exactly as PyTorch does after torch.manual_seed(seed) (nn.Linear, then torch.randperm over the 5k subset): the start and order of a PyTorch run of the recipe. Linear projector only.") var torchRandom = false
    @Option(name: .customLong("distill-epochs"), parsing: .unconditional, help: "First fit the projector without the LLM to the model's own digit-token embeddings for N epochs (0 = off; overrides the preset).") var distillEpochs: Int?

    func validate() throws {
        if let steps, steps < 0 || steps > 100_000_000 { throw ValidationError("--steps must be between 0 and 100000000") }
        if let distillEpochs, distillEpochs < 0 || distillEpochs > 1000 { throw ValidationError("--distill-epochs must be between 0 and 1000") }
        if let batch, batch < 1 || batch > 256 { throw ValidationError("--batch must be between 1 and 256") }
        if let lr, !(lr > 0 && lr <= 10) { throw ValidationError("--lr must be greater than 0 and at most 10") }
        if let schedule, LRSchedule(rawValue: schedule) == nil { throw ValidationError("--schedule must be constant or cosine") }
        if let shift, shift < 0 || shift > 8 { throw ValidationError("--shift must be between 0 and 8") }
        if saveEvery < 0 { throw ValidationError("--save-every must not be negative (0: save only at the end)") }
        if every < 0 { throw ValidationError("--every must not be negative (0: no reports)") }
        if resume, distillEpochs ?? 0 > 0 { throw ValidationError("--distill-epochs starts a run; it cannot be combined with --resume") }
    }

    func run() throws {
        installInterruptHandler()
        try reportingErrors {
            if let log { setenv("LLAVA_MNIST_LOSS_LOG", log, 1) }
            let s = try model.session()
            try s.loadMNIST(split: .train, path: data)
            var (options, kind) = preset.options
            if torchRandom, (projectorKind ?? kind) == .mlp {
                throw CommandError("--torch-random initializes a linear projector (nn.Linear); --preset \(preset.rawValue) trains an MLP (use --projector-kind linear)")
            }
            let dim = try s.model().model.config.dim
            var resumed: Checkpoint.TrainingState?
            if resume {
                // The run's own recipe, unless a flag says otherwise (then it must agree).
                let state = try Checkpoint.loadTrainingState(out, width: dim)
                try adopt(state.optimizerMetadata, into: &options)
                resumed = state
            }
            if let steps { options.steps = steps }
            if let lr { options.optimizer.lr = Float(lr) }
            if let batch { options.batch = batch }
            if let schedule { options.schedule = LRSchedule(rawValue: schedule)! }
            if let shift { options.shift = shift }
            if let seed { options.seed = UInt64(truncatingIfNeeded: seed) }
            if torchRandom { options.torchRandom = true }
            let seed = Int(truncatingIfNeeded: options.seed)
            var done = 0
            if let resumed {
                s.projector = resumed.projector
                s.projectorOrigin = out
                done = resumed.optimizer.step
                say("resuming \(out) at step \(done) of \(options.steps)")
            } else {
                var p = options.torchRandom ? Projector.torchInitialized(outputSize: dim, seed: options.seed)
                    : Projector(kind: projectorKind ?? kind, outputSize: dim, hiddenSize: 1024, seed: UInt64(truncatingIfNeeded: seed))
                let epochs = distillEpochs ?? preset.distillEpochs
                if epochs > 0 {
                    var d = DistillationOptions()
                    d.epochs = epochs
                    d.shift = options.shift
                    d.seed = UInt64(truncatingIfNeeded: seed)
                    let t0 = Clock.now()
                    let targets = Distillation.targets(model: try s.model().model, prompt: try s.prompt())
                    try Distillation.fit(&p, images: try s.mnist().train.images, targets: targets, options: d) { epoch, loss in
                        say("distill epoch \(epoch)/\(epochs): mse \(String(format: "%.3e", loss))")
                    }
                    say("distilled in \(String(format: "%.1f", Clock.now() - t0)) s")
                }
                s.projector = p
                s.projectorOrigin = epochs > 0 ? "distilled (seed \(seed))" : options.torchRandom ? "fresh (seed \(seed), PyTorch's draws)" : "fresh (seed \(seed))"
            }
            let t = try s.startTraining(options, optimizer: resumed?.optimizer, stepsDone: done)
            if let resumed, resumed.metadata["steps"].flatMap(Int.init) != done {
                // The last run was killed between its two files: the projector file lags the state
                // resumed from (which holds the projector too). Bring it level first, so that it is
                // never more than the one step behind that a kill mid-save can leave.
                try s.saveCheckpoint(t, to: out)
            }
            say("training \(s.projector!.kind.rawValue) projector on \(t.data.source): \(options.steps) steps, batch \(options.batch), "
                  + "lr \(options.optimizer.lr) (\(options.schedule.rawValue)), shift \(options.shift), seed \(seed), format \(try s.chatFormat().rawValue)")
            let remaining = options.steps - done
            if remaining > 0 {
                try s.train(TrainOptions(steps: remaining, learningRate: Double(options.optimizer.lr), batch: options.batch, seed: seed, every: every),
                            saveEvery: saveEvery, saveTo: out)
            }
            try s.saveProjector(out)
            if t.stepsDone < options.steps, remaining > 0 {
                let same = [("--model", model.model), ("--format", model.format == "auto" ? nil : model.format), ("--data", data),
                            ("--steps", steps.map(String.init))].compactMap { flag, value in value.map { " \(flag) \($0)" } }.joined()
                say("resume with: llava-mnist train --resume --out \(out)\(same)")
            }
        }
    }

    /// Takes the recipe a resumed run was saved with (`recipe_*` metadata) as the defaults;
    /// a flag given now must agree with it, or the result would not be the run's.
    func adopt(_ meta: [String: String], into options: inout TrainingOptions) throws {
        func conflict(_ flag: String, _ saved: String, _ given: String) -> CommandError {
            CommandError("\(out): this run was trained with \(flag) \(saved); resuming it with \(flag) \(given) would not continue it (leave the flag out)")
        }
        if let v = meta["recipe_seed"].flatMap(UInt64.init) {
            if let seed, UInt64(truncatingIfNeeded: seed) != v { throw conflict("--seed", "\(v)", "\(seed)") }
            options.seed = v
        }
        if let v = meta["recipe_batch"].flatMap(Int.init) {
            if let batch, batch != v { throw conflict("--batch", "\(v)", "\(batch)") }
            options.batch = v
        }
        if let v = meta["recipe_lr"].flatMap(Float.init) {
            if let lr, Float(lr) != v { throw conflict("--lr", "\(v)", "\(lr)") }
            options.optimizer.lr = v
        }
        if let v = meta["recipe_schedule"].flatMap(LRSchedule.init(rawValue:)) {
            if let schedule, schedule != v.rawValue { throw conflict("--schedule", v.rawValue, schedule) }
            options.schedule = v
        }
        if let v = meta["recipe_shift"].flatMap(Int.init) {
            if let shift, shift != v { throw conflict("--shift", "\(v)", "\(shift)") }
            options.shift = v
        }
        if let v = meta["recipe_steps"].flatMap(Int.init) { options.steps = v }
        options.torchRandom = meta["recipe_rng"] == "torch"
        if torchRandom, !options.torchRandom { throw conflict("--torch-random", "off", "on") }
    }
}

/// Prints a line at once, even into a file or pipe: the log of a run that gets killed keeps
/// every line the run printed.
func say(_ line: String) {
    print(line)
    fflush(nil)
}
