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
        for source in ["shell ls", "!ls", "exec rm -rf /", "system \"ls\"", "$ ls"] {
            #expect(throws: NotebookError.self) { try Parser.parseStatement(source) }
        }
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
