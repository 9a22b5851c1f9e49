import Foundation
import Testing
@testable import Notebook
import Llava

@Suite struct SandboxTests {
    func violation(_ sandbox: Sandbox, _ source: String, base: String?) throws -> String? {
        let statement = try #require(try Parser.parseStatement(source))
        do {
            try sandbox.check(statement, relativeTo: base)
            return nil
        } catch {
            return Interpreter.message(for: error)
        }
    }

    @Test func pathsInsideAllowedFoldersPass() throws {
        let folder = try temporaryFolder()
        defer { cleanup(folder) }
        let sandbox = Sandbox(allowing: [folder])
        #expect(try violation(sandbox, "save projector p.safetensors", base: folder) == nil)
        #expect(try violation(sandbox, "load image sub/new/d.png as d", base: folder) == nil)  // need not exist yet
        #expect(try violation(sandbox, "load projector \(folder)/x/../p.safetensors", base: nil) == nil)
        #expect(try violation(sandbox, "load model", base: folder) == nil)  // the built-in model
        #expect(try violation(sandbox, "load model SmolLM2", base: folder) == nil)
        #expect(try violation(sandbox, "train steps=5", base: folder) == nil)
    }

    @Test func pathsOutsideAreRejectedWithAClearMessage() throws {
        let folder = try temporaryFolder()
        defer { cleanup(folder) }
        let sandbox = Sandbox(allowing: [folder])
        #expect(try violation(sandbox, "save projector /etc/p.safetensors", base: folder)
                == "save projector: cannot write /etc/p.safetensors: outside the folders this workflow may use (\(folder); add one with --allow DIR)")
        #expect(try violation(sandbox, "load projector ../p.safetensors", base: folder)?
            .hasPrefix("load projector: cannot read ../p.safetensors (\((folder as NSString).deletingLastPathComponent)/p.safetensors): outside") == true)
        #expect(try violation(sandbox, "grad save=/tmp/g.safetensors", base: folder) != nil)
        #expect(try violation(sandbox, "load mnist path=/", base: folder) != nil)
        #expect(try violation(sandbox, "load model /opt/llama", base: folder) != nil)
        #expect(try violation(sandbox, "time save projector /p.safetensors", base: folder)?.hasPrefix("save projector: cannot write") == true)
        // A sibling whose name merely starts with the allowed folder's is outside.
        #expect(try violation(sandbox, "save projector \(folder)-evil/p.safetensors", base: folder) != nil)
    }

    @Test func symlinksAreFollowed() throws {
        let folder = try temporaryFolder()
        let outside = try temporaryFolder("outside")
        defer { cleanup(folder); cleanup(outside) }
        try FileManager.default.createSymbolicLink(atPath: folder + "/escape", withDestinationPath: outside)
        try FileManager.default.createSymbolicLink(atPath: folder + "/rel", withDestinationPath: "../" + (outside as NSString).lastPathComponent)
        try FileManager.default.createDirectory(atPath: folder + "/inside", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: folder + "/ok", withDestinationPath: "inside")
        let sandbox = Sandbox(allowing: [folder])
        #expect(try violation(sandbox, "save projector escape/p.safetensors", base: folder)?
            .contains("(\(outside)/p.safetensors): outside") == true)
        #expect(try violation(sandbox, "load image rel/x.png as x", base: folder) != nil)
        #expect(try violation(sandbox, "save projector ok/p.safetensors", base: folder) == nil)
        #expect(Sandbox.resolve(folder + "/ok/../escape/a", relativeTo: nil) == outside + "/a")
    }

    @Test func allowAndTildeAndDefaults() throws {
        let folder = try temporaryFolder()
        let extra = try temporaryFolder("extra")
        defer { cleanup(folder); cleanup(extra) }
        let sandbox = Sandbox.forWorkflow(at: folder + "/w.lmw", allowing: [extra])
        #expect(sandbox.allowed == [folder, Sandbox.resolve(CachePaths.root, relativeTo: nil), extra])
        #expect(try violation(sandbox, "save projector \(extra)/p.safetensors", base: folder) == nil)
        #expect(try violation(sandbox, "load projector \(CachePaths.root)/p.safetensors", base: folder) == nil)
        #expect(Sandbox.resolve("~/x", relativeTo: nil) == Sandbox.resolve(NSHomeDirectory(), relativeTo: nil) + "/x")
    }

    @Test func theLanguageCannotRunShellCommands() {
        for source in ["shell ls", "!ls", "exec rm -rf /", "system \"ls\"", "$ ls",
                       "fetch https://example.com/m.gguf", "download model", "curl http://x"] {
            #expect(throws: NotebookError.self) { try Parser.parseStatement(source) }
        }
        // The whole command table: a new command has to be added here, on purpose, after
        // checking it opens no process or connection and declares its paths to the sandbox.
        #expect(CommandSpec.commandNames.sorted() == ["ask", "eval", "get", "grad", "gradcheck", "help", "history", "load", "loss",
                                                      "project", "quit", "reset", "save", "set", "show", "time", "tokens", "train"])
    }

    @Test func noSourceFileStartsAProcessOrOpensAConnection() throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources").path
        let forbidden = ["Process(", "URLSession", "popen(", "system(", "posix_spawn", "execv", "fork(", "socket(", "URL(string",
                         "Data(contentsOf: URL(string", "NSTask"]
        var offending: [String] = []
        for file in try FileManager.default.subpathsOfDirectory(atPath: sources) where file.hasSuffix(".swift") {
            let text = try String(contentsOfFile: sources + "/" + file, encoding: .utf8)
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let code = line.trimmingCharacters(in: .whitespaces)
                if code.hasPrefix("//") { continue }
                for word in forbidden where code.contains(word) { offending.append("\(file):\(n + 1): \(word)") }
            }
        }
        #expect(offending.isEmpty, "\(offending)")
    }

    @Test func dotDotCannotClimbOutButMayStayInside() throws {
        let folder = try temporaryFolder()
        defer { cleanup(folder) }
        try FileManager.default.createDirectory(atPath: folder + "/a/b", withIntermediateDirectories: true)
        let sandbox = Sandbox(allowing: [folder])
        #expect(try violation(sandbox, "save projector a/b/../../p.safetensors", base: folder) == nil)
        #expect(try violation(sandbox, "save projector a/../../p.safetensors", base: folder)?.hasPrefix("save projector: cannot write a/../../p.safetensors (") == true)
        #expect(try violation(sandbox, "load image a/b/../../../../../../etc/passwd as x", base: folder)?
            .contains("(/etc/passwd): outside") == true)
        #expect(try violation(sandbox, "grad save=\(folder)/a/../../x.safetensors", base: nil) != nil)
        // `..` after a link climbs from the link's target, as the kernel does.
        let outside = try temporaryFolder("outside")
        defer { cleanup(outside) }
        try FileManager.default.createDirectory(atPath: outside + "/deep", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: folder + "/a/link", withDestinationPath: outside + "/deep")
        #expect(try violation(sandbox, "save projector a/link/../p.safetensors", base: folder)?.contains("(\(outside)/p.safetensors)") == true)
    }

    @Test func aLinkInsideAFolderItReadsCannotLeadOut() throws {
        let folder = try temporaryFolder()
        let outside = try temporaryFolder("outside")
        defer { cleanup(folder); cleanup(outside) }
        // An MNIST folder and a model folder whose files link out of the allowed folders.
        try FileManager.default.createDirectory(atPath: folder + "/mnist", withIntermediateDirectories: true)
        try Data([0]).write(to: URL(fileURLWithPath: outside + "/secret"))
        try FileManager.default.createSymbolicLink(atPath: folder + "/mnist/t10k-images-idx3-ubyte", withDestinationPath: outside + "/secret")
        try FileManager.default.createDirectory(atPath: folder + "/model", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: folder + "/model/config.json", withDestinationPath: "../../" + (outside as NSString).lastPathComponent + "/secret")
        let sandbox = Sandbox(allowing: [folder])
        #expect(try violation(sandbox, "load mnist path=mnist", base: folder)
                == "load mnist: cannot read mnist (\(folder)/mnist): its entry t10k-images-idx3-ubyte leads to \(outside)/secret, outside the folders this workflow may use (\(folder); add one with --allow DIR)")
        #expect(try violation(sandbox, "load model model", base: folder)?.contains("its entry config.json leads to \(outside)/secret") == true)
        // Links that stay inside are fine, and a workflow run stops at the violation.
        try FileManager.default.removeItem(atPath: folder + "/mnist/t10k-images-idx3-ubyte")
        try FileManager.default.createSymbolicLink(atPath: folder + "/mnist/t10k-images-idx3-ubyte", withDestinationPath: "../model")
        #expect(try violation(sandbox, "load mnist path=mnist", base: folder) == nil)
        let r = CapturedRunner(RunnerOptions())
        #expect(try r.run("```lmw\nload model model\n```\n", file: folder + "/w.lmw") == 1)
        #expect(r.err.hasPrefix("\(folder)/w.lmw:2: load model: cannot read model (\(folder)/model): its entry config.json leads to"))
    }

    @Test func setOverridesAreCheckedLikeSetStatements() throws {
        let folder = try temporaryFolder()
        defer { cleanup(folder) }
        let r = CapturedRunner(RunnerOptions(overrides: ["threads=9999"]))
        #expect(try r.run("```lmw\nget threads\n```\n", file: folder + "/w.lmw") == 1)
        #expect(r.err == "--set threads must be between 0 and 256 (0: one per core), got 9999\n")
        #expect(r.out.isEmpty)
    }

    // MARK: - check --update rewrites its file safely

    @Test func checkUpdateRewritesTheRealFileBehindALinkAndKeepsItsMode() throws {
        let folder = try temporaryFolder()
        defer { cleanup(folder) }
        let real = folder + "/real.lmw", link = folder + "/link.lmw"
        let text = "# T\n\n```lmw\nset seed=7\nget seed\n```\n"
        try text.write(toFile: real, atomically: false, encoding: .utf8)
        chmod(real, 0o640)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "real.lmw")
        let r = CapturedRunner(RunnerOptions(mode: .check(update: true)))
        #expect(r.runner.run(path: link) == 0, "\(r.err)")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == "real.lmw")
        #expect(try String(contentsOfFile: real, encoding: .utf8) == text + "```output\nseed=7\n```\n")
        #expect((try FileManager.default.attributesOfItem(atPath: real)[.posixPermissions] as? Int) == 0o640)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == ["link.lmw", "real.lmw"])  // no temporaries
    }

    @Test func checkUpdateLeavesAFileThatChangedMeanwhileOrFailed() throws {
        let folder = try temporaryFolder()
        defer { cleanup(folder) }
        let file = folder + "/w.lmw"
        let text = "```lmw\nset seed=7\nget seed\n```\n"
        try text.write(toFile: file, atomically: false, encoding: .utf8)
        let document = try LMWDocument(text: text, file: file)
        let edited = text + "\nAn edit made while the check ran.\n"
        try edited.write(toFile: file, atomically: false, encoding: .utf8)
        let r = CapturedRunner(RunnerOptions(mode: .check(update: true)))
        #expect(r.runner.run(document: document) == 1)
        #expect(r.err == "\(file): cannot update: the file changed while it was being checked (run check --update again)\n")
        #expect(try String(contentsOfFile: file, encoding: .utf8) == edited)

        // A run halted by an error rewrites nothing.
        let failing = "```lmw\nget seed\nload projector missing.safetensors\n```\n"
        let f = CapturedRunner(RunnerOptions(mode: .check(update: true)))
        #expect(try f.run(failing, file: file) == 1)
        #expect(try String(contentsOfFile: file, encoding: .utf8) == failing)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["w.lmw"])
    }

    @Test func aWorkflowViolationNamesTheLineAndRunsNothingMore() throws {
        let folder = try temporaryFolder()
        defer { cleanup(folder) }
        let r = CapturedRunner(RunnerOptions())
        let file = folder + "/evil.lmw"
        let doc = "```lmw\nset seed=5\nsave projector /etc/evil.safetensors\nset seed=6\n```\n"
        #expect(try r.run(doc, file: file) == 1)
        #expect(r.err.hasPrefix("\(file):3: save projector: cannot write /etc/evil.safetensors: outside the folders this workflow may use ("))
        #expect(r.runner.session.int(.seed) == 5)
        #expect(!FileManager.default.fileExists(atPath: "/etc/evil.safetensors"))

        let allowed = CapturedRunner(RunnerOptions(allow: ["/etc"]))
        _ = try allowed.run("```lmw\nload projector /etc/none.safetensors\n```\n", file: file)
        #expect(!allowed.err.contains("outside the folders"))  // passes the sandbox, fails to open
    }
}
