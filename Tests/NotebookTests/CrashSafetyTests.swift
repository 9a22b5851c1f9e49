// Crash safety of training state, end to end: the real `llava-mnist train` process is killed
// with SIGKILL (no handler runs, nothing is flushed) while it writes a checkpoint and between
// checkpoints, again and again. After every kill the checkpoint at --out must load, with its
// optimizer state of one consistent step; `--resume` then continues, and the run that was
// killed four times ends bit for bit where an uninterrupted run with the same seed and thread
// count ends.
import Foundation
import Testing
@testable import Notebook
import Llava

@Suite(.serialized) struct CrashSafetyTests {
    /// Starts a program without waiting for it; output goes to `log`.
    func launch(_ path: String, _ arguments: [String], log: String) throws -> pid_t {
        try NotebookTests.launch(path, arguments, output: log, append: true)
    }

    /// Whether `pid` has ended (reaping it); its raw wait status when it has.
    func ended(_ pid: pid_t) -> Int32? {
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        return r == pid ? status : nil
    }

    /// The step of the optimizer state at `path` (header only), or nil while there is none.
    func savedStep(_ path: String) -> Int? {
        (try? SafeTensorsFile(path: Checkpoint.optimizerPath(for: path)))?.metadata["step"].flatMap(Int.init)
    }

    func temporaries(in folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.contains(".tmp-") }.sorted()
    }

    func bits(_ p: Projector) -> [[UInt32]] { p.parameters.map { $0.values.map(\.bitPattern) } }

    @Test func killedTrainingAlwaysLeavesALoadableCheckpointAndResumesBitForBit() throws {
        try requireDefaultModel()
        let binary = try REPLTerminalTests.binary()
        let folder = try temporaryFolder()
        defer { cleanup(folder) }
        let steps = 16
        let recipe = ["train", "--steps", "\(steps)", "--seed", "5", "--threads", "2", "--every", "0"]

        // The uninterrupted run.
        let reference = folder + "/reference.safetensors"
        let clean = try spawn(binary, recipe + ["--out", reference], separateErrors: true)
        #expect(clean.status == 0, "\(clean.errors)")

        // The same run, saving every step, killed four times: twice while it writes (once in
        // each of the two files' windows), twice at a random moment between saves.
        let out = folder + "/killed.safetensors", log = folder + "/killed.log"
        enum Moment: String { case writingOptimizer, writingProjector, random }
        let plan: [Moment] = [.writingOptimizer, .random, .writingProjector, .random]
        var rng = SystemRandomNumberGenerator()
        var pid = try launch(binary, recipe + ["--save-every", "1", "--out", out], log: log)
        var resumedSteps: [Int] = []
        var killedWhileWriting = 0   // kills that left a half-written temporary file behind
        for (round, moment) in plan.enumerated() {
            // Progress first: one more checkpoint than the process started from.
            let start = savedStep(out) ?? 0
            let deadline = Date().addingTimeInterval(60)
            var killedEarly = false
            while (savedStep(out) ?? 0) <= start {
                guard ended(pid) == nil else { Issue.record("round \(round): the run ended before a checkpoint:\n\(try String(contentsOfFile: log, encoding: .utf8))"); return }
                guard Date() < deadline else { kill(pid, SIGKILL); Issue.record("round \(round): no checkpoint within 60 s"); return }
                usleep(2_000)
            }
            // Then the moment to kill.
            switch moment {
            case .random:
                usleep(UInt32.random(in: 0...400_000, using: &rng))
            case .writingOptimizer, .writingProjector:
                let wanted = moment == .writingOptimizer ? ".optim.safetensors.tmp-" : "killed.safetensors.tmp-"
                let until = Date().addingTimeInterval(20)
                while !temporaries(in: folder).contains(where: { $0.contains(wanted) }), Date() < until {
                    if ended(pid) != nil { killedEarly = true; break }
                    usleep(100)
                }
            }
            #expect(!killedEarly, "round \(round): the run ended on its own")
            #expect(kill(pid, SIGKILL) == 0)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            #expect(status & 0x7f == SIGKILL, "round \(round): the run was not killed (wait status \(status))")

            // The last good checkpoint loads: the projector file, and the training state,
            // which is one whole step (at most one ahead of the projector file).
            let (projector, meta) = try Checkpoint.load(out, width: 576)
            let state = try Checkpoint.loadTrainingState(out, width: 576)
            let projectorStep = try #require(meta["steps"].flatMap(Int.init))
            #expect(state.optimizer.step == projectorStep || state.optimizer.step == projectorStep + 1,
                    "round \(round): optimizer at step \(state.optimizer.step), projector at \(projectorStep)")
            if state.optimizer.step == projectorStep { #expect(bits(state.projector) == bits(projector)) }
            #expect((1..<steps).contains(state.optimizer.step))
            resumedSteps.append(state.optimizer.step)
            if moment != .random, !temporaries(in: folder).isEmpty { killedWhileWriting += 1 }

            pid = try launch(binary, recipe + ["--save-every", "1", "--out", out, "--resume"], log: log)
        }
        // The write windows are milliseconds long (fsync); the kills aimed at them hit them.
        #expect(killedWhileWriting >= 1, "no kill landed inside a checkpoint write")
        // The last resume runs to the end.
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = try String(contentsOfFile: log, encoding: .utf8)
        #expect(status == 0, "the last resume failed:\n\(text)")
        #expect(resumedSteps == resumedSteps.sorted() && Set(resumedSteps).count == resumedSteps.count, "steps went backwards: \(resumedSteps)")
        for step in resumedSteps { #expect(text.contains("resuming \(out) at step \(step) of \(steps)")) }

        // Bit for bit the uninterrupted run: projector and optimizer state.
        let expected = try Checkpoint.loadTrainingState(reference, width: 576)
        let got = try Checkpoint.loadTrainingState(out, width: 576)
        #expect(got.optimizer.step == steps)
        #expect(bits(got.projector) == bits(expected.projector), "the resumed projector differs from the uninterrupted run's")
        #expect(got.optimizer.m.map { $0.map(\.bitPattern) } == expected.optimizer.m.map { $0.map(\.bitPattern) })
        #expect(got.optimizer.v.map { $0.map(\.bitPattern) } == expected.optimizer.v.map { $0.map(\.bitPattern) })
        #expect(bits(try Checkpoint.load(out, width: 576).projector) == bits(expected.projector))
        // Killed writers leave temporary files; the next save removes them.
        #expect(temporaries(in: folder).isEmpty, "left behind: \(temporaries(in: folder))")
    }

    @Test func resumeRefusesAFlagThatWouldChangeTheRunAndAMismatchedPair() throws {
        try requireDefaultModel()
        let binary = try REPLTerminalTests.binary()
        let folder = try temporaryFolder()
        defer { cleanup(folder) }
        let out = folder + "/p.safetensors"
        let first = try spawn(binary, ["train", "--steps", "2", "--seed", "4", "--every", "0", "--out", out], separateErrors: true)
        #expect(first.status == 0, "\(first.errors)")
        let conflict = try spawn(binary, ["train", "--resume", "--seed", "3", "--out", out], separateErrors: true)
        #expect(conflict.status == 1)
        #expect(conflict.errors == "error: \(out): this run was trained with --seed 4; resuming it with --seed 3 would not continue it (leave the flag out)\n")

        // Files of the earlier layout (optimizer state without the parameters) pair with the
        // projector file, whose step must match.
        let state = try Checkpoint.loadTrainingState(out, width: 576)
        let optPath = Checkpoint.optimizerPath(for: out)
        let file = try SafeTensorsFile(path: optPath)
        let moments = file.tensors.filter { $0.name.contains(".exp_avg") }
            .map { SafeTensorsWriter.Entry(name: $0.name, shape: Array($0.shape.reversed()), values: $0.toFloats()) }
        var meta = file.metadata
        meta["step"] = "1"
        try SafeTensorsWriter.write(moments, metadata: meta, to: optPath)
        #expect(throws: FormatError.self) { try Checkpoint.loadTrainingState(out, width: 576) }
        do { _ = try Checkpoint.loadTrainingState(out, width: 576) } catch {
            #expect("\(error)" == "\(out): the projector is at step 2 but its optimizer state is at step 1: they were not saved together, so the run cannot be resumed exactly")
        }
        meta["step"] = "2"
        try SafeTensorsWriter.write(moments, metadata: meta, to: optPath)
        #expect(bits(try Checkpoint.loadTrainingState(out, width: 576).projector) == bits(state.projector))

        // Nothing to resume.
        let none = try spawn(binary, ["train", "--resume", "--out", folder + "/none.safetensors"], separateErrors: true)
        #expect(none.errors == "error: \(folder)/none.safetensors: no such file: nothing to resume (train without --resume to start a run)\n")
        try FileManager.default.removeItem(atPath: optPath)
        let lone = try spawn(binary, ["train", "--resume", "--out", out], separateErrors: true)
        #expect(lone.errors == "error: \(out): no optimizer state beside it (p.optim.safetensors): only a run saved by `train` can be resumed\n")
    }
}
