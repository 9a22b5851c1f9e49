import Foundation
import Testing
@testable import Notebook

@Suite struct LMWDocumentTests {
    func fixture(_ name: String) throws -> String {
        let url = try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures/\(name)")
        return try String(contentsOf: url, encoding: .utf8)
    }

    func parseError(_ text: String, file: String = "w.lmw") -> String {
        do {
            _ = try LMWDocument(text: text, file: file)
            return "no error"
        } catch {
            return error.description
        }
    }

    @Test func tourStructure() throws {
        let doc = try LMWDocument(text: try fixture("tour.lmw"), file: "tour.lmw")
        #expect(doc.warnings.isEmpty)
        let blocks = doc.commandBlocks
        #expect(blocks.count == 4)
        #expect(blocks.map(\.index) == [0, 1, 2, 3])
        #expect(blocks.map(\.line) == [5, 12, 30, 35])

        #expect(blocks[0].options.params)
        #expect(doc.parameters == [
            .init(setting: .steps, value: .int(50), line: 6),
            .init(setting: .question, value: .string("What digit is this?"), line: 7),
        ])

        #expect(blocks[1].statements.map(\.statement) == [.loadMNIST(split: .test, path: nil), .showImage(.index(0))])
        #expect(blocks[1].statements.map(\.line) == [13, 14])
        #expect(blocks[1].statements[1].text == "show img 0   # the first test image")
        #expect(blocks[1].expected == LMWDocument.ExpectedOutput(text: "label 7\n...\n", line: 17))

        #expect(blocks[2].options.skip && blocks[2].expected == nil)
        #expect(blocks[2].statements.map(\.line) == [31])
        #expect(blocks[2].source == "train \\\n  steps=1000")
    }

    @Test func keepGoingBlockStillParsesStrictly() throws {
        // `trian` in a keep-going block is a syntax error: options never relax parsing.
        #expect(parseError("Text\n```lmw keep-going\nshow img 1\ntrian\n```\n")
            == "w.lmw:4:1: unknown command 'trian' (did you mean 'train'?)")
    }

    @Test func proseItems() throws {
        let doc = try LMWDocument(text: try fixture("tour.lmw"))
        guard case .prose(let first, let line)? = doc.items.first else { Issue.record("no prose"); return }
        #expect(line == 1)
        #expect(first == "# A tour\n\nProse before the parameters.\n")
        // The fenced example is prose, not a command block.
        #expect(doc.items.contains { if case .prose(let t, _) = $0 { t.contains("````markdown\n```lmw\nquit") } else { false } })
    }

    @Test func unclosedBlock() throws {
        #expect(parseError(try fixture("unclosed.lmw"), file: "unclosed.lmw")
            == "unclosed.lmw:3: unclosed ```lmw block (opened here)")
        #expect(parseError("```lmw\nquit\n```\n\n~~~~output\nx\n", file: "w.lmw")
            == "w.lmw:5: unclosed ~~~~output block (opened here)")
    }

    @Test func syntaxErrorHasAbsoluteLine() throws {
        #expect(parseError(try fixture("syntax-error.lmw"), file: "syntax-error.lmw")
            == "syntax-error.lmw:5:7: unknown key 'stpes' for train (did you mean 'steps'?)")
    }

    @Test func noCommandBlocksWarns() throws {
        let doc = try LMWDocument(text: try fixture("prose-only.lmw"), file: "prose-only.lmw")
        #expect(doc.commandBlocks.isEmpty)
        #expect(doc.warnings.map(\.description) == [
            "prose-only.lmw:5: 'train steps=10' looks like a command but is not in a ```lmw block, so it will not run",
            "prose-only.lmw: no ```lmw command blocks: nothing to run (is a block tagged differently or indented?)",
        ])
    }

    @Test func otherWarnings() throws {
        let doc = try LMWDocument(text: "```output\nx\n```\n```lmw\nquit\n```\n```python\nprint(1)\n", file: "w.lmw")
        #expect(doc.warnings.map(\.description) == [
            "w.lmw:1: ```output block without a ```lmw block before it",
            "w.lmw:7: unclosed ``` block runs to the end of the file",
        ])
    }

    @Test func blockOptions() {
        #expect(parseError("```lmw skp\nquit\n```\n") == "w.lmw:1:8: unknown block option 'skp' (did you mean 'skip'?)")
        #expect(parseError("```lmw params\nshow img 1\n```\n") == "w.lmw:2:1: only 'set KEY=VALUE' lines belong in a params block")
    }

    @Test func overrides() throws {
        #expect(try LMWDocument.parseOverride("steps=200") == (.steps, .int(200)))
        #expect(throws: NotebookError(line: 1, column: 11, message: "steps expects an integer, got 'many'")) {
            try LMWDocument.parseOverride("steps=many")
        }
    }

    // MARK: Rewriting

    @Test func rewriteReplacesAndInsertsOnly() throws {
        let text = try fixture("tour.lmw")
        let doc = try LMWDocument(text: text)
        #expect(doc.rewritingExpectedOutputs([:]) == text)
        let updated = doc.rewritingExpectedOutputs([1: "label 7\nnew line\n", 3: "bye"])
        let expected = text
            .replacingOccurrences(of: "```output\nlabel 7\n...\n```", with: "```output\nlabel 7\nnew line\n```")
            .replacingOccurrences(of: "```lmw keep-going no-check\nquit\n```\n",
                                  with: "```lmw keep-going no-check\nquit\n```\n```output\nbye\n```\n")
        #expect(updated == expected)
        // The rewritten document parses back with the new outputs.
        let again = try LMWDocument(text: updated)
        #expect(again.commandBlocks[1].expected?.text == "label 7\nnew line\n")
        #expect(again.commandBlocks[3].expected?.text == "bye\n")
    }

    @Test func rewriteKeepsCRLFAndMissingFinalNewline() throws {
        let text = try fixture("crlf.lmw")
        let doc = try LMWDocument(text: text)
        #expect(doc.commandBlocks.map(\.statements.count) == [1, 1])
        #expect(doc.commandBlocks[0].expected?.text == "old\n")
        #expect(doc.rewritingExpectedOutputs([0: "new\n", 1: ""]) ==
            "# CRLF\r\n\r\n```lmw\r\nshow img 1\r\n```\r\n\r\n```output\r\nnew\r\n```\r\n\r\n```lmw\r\nquit\r\n```\r\n```output\r\n```\r\n")
    }

    @Test func rewriteLengthensFenceWhenOutputHasOne() throws {
        let doc = try LMWDocument(text: "```lmw\nquit\n```\n\n```output\nx\n```\nafter\n")
        #expect(doc.rewritingExpectedOutputs([0: "```\ncode\n"])
            == "```lmw\nquit\n```\n\n````output\n```\ncode\n````\nafter\n")
    }

    // MARK: Limits and fuzz regressions

    @Test func sizeLimit() throws {
        let big = "```lmw\nquit\n```\n" + String(repeating: "prose\n", count: LMWDocument.maxBytes / 6)
        #expect(parseError(big) == "w.lmw: workflow is 8388622 bytes, more than the 8 MiB limit")
        // From a file, the size is checked before the file is read.
        let path = NSTemporaryDirectory() + "lmw-size-\(getpid()).lmw"
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: UInt64(LMWDocument.maxBytes + 1))
        try handle.close()
        #expect(throws: NotebookError(file: path, line: 0, message: "workflow is 8388609 bytes, more than the 8 MiB limit")) {
            try LMWDocument(contentsOfFile: path)
        }
        #expect(throws: NotebookError(file: path + ".none", line: 0, message: "no such file")) {
            try LMWDocument(contentsOfFile: path + ".none")
        }
    }

    @Test func loneCarriageReturnInsideABlock() throws {
        // A lone \r is a line break for the lexer: the statement source lookup used to trap.
        let doc = try LMWDocument(text: "```lmw\nget steps\rquit\n```\n", file: "w.lmw")
        #expect(doc.commandBlocks[0].statements.map(\.text) == ["get steps", "quit"])
    }

    @Test func longUnknownBlockOptionIsFoundQuickly() {
        let word = String(repeating: "s", count: 30_000)
        let text = "```lmw " + String(repeating: "skip ", count: 6_000) + word + "\nquit\n```\n"
        #expect(parseError(text) == "w.lmw:1:30008: unknown block option '\(word)' (expected skip, keep-going, no-check, params)")
    }
}
