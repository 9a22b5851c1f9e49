// Every shipped workflow that runs in minutes is replayed in `check` mode against its recorded
// outputs, with small `--set` overrides so the whole suite stays under a minute. They run in
// a copy of Workflows/ in a temporary folder, in README order (readme-train saves the
// projector the two evaluations load), so a test run never writes into the source tree.
import Foundation
import Testing
@testable import Notebook
import Llava

@Suite(.serialized) struct WorkflowsTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Workflows").path

    /// The replayed workflows, in order, with their overrides.
    static let replayed: [(file: String, overrides: [String])] = [
        ("quickstart.lmw", ["steps=3", "n=2"]),
        ("readme-train.lmw", ["steps=3"]),
        ("readme-eval.lmw", ["n=2"]),
        ("readme-eval-question.lmw", ["n=2"]),
        ("inside-the-projector.lmw", ["steps=3"]),
        ("gradient-check.lmw", []),
    ]
    /// Shipped but not replayed: needs the 14 GB LLaVA-1.5-7B download.
    static let notReplayed: Set<String> = ["readme-eval-llava.lmw"]

    @Test func everyShippedWorkflowParsesCleanlyAndIsAccountedFor() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.folder).filter { $0.hasSuffix(".lmw") }
        #expect(Set(files) == Set(Self.replayed.map(\.file)).union(Self.notReplayed))
        for file in files {
            let path = Self.folder + "/" + file
            let doc = try LMWDocument(text: try String(contentsOfFile: path, encoding: .utf8), file: path)
            #expect(doc.warnings.isEmpty, "\(file): \(doc.warnings)")
            #expect(!doc.commandBlocks.isEmpty)
        }
    }

    @Test func shippedWorkflowsReplayInCheckMode() throws {
        try requireDefaultModel()
        let work = try temporaryFolder()
        defer { cleanup(work) }
        for (file, _) in Self.replayed {
            try FileManager.default.copyItem(atPath: Self.folder + "/" + file, toPath: work + "/" + file)
        }
        for (file, overrides) in Self.replayed {
            let t0 = Clock.now()
            let r = CapturedRunner(RunnerOptions(mode: .check(update: false), overrides: overrides))
            let status = r.runner.run(path: work + "/" + file)
            #expect(status == 0, "\(file) --set \(overrides):\n\(r.out)\(r.err)")
            #expect(r.out.hasSuffix(", 0 differ\n"))
            #expect(r.err == "")
            #expect(Clock.now() - t0 < 30, "\(file) took too long for the test suite")
        }
        // The evaluations really used the projector the training workflow saved.
        #expect(FileManager.default.fileExists(atPath: work + "/readme-train.safetensors"))
    }
}
