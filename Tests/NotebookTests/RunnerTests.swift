import Foundation
import Testing
@testable import Notebook
import Llava

@Suite struct RunnerTests {
    let tour = """
    # Tour

    Some *prose*.

    ```lmw params
    set steps=1000
    set seed=4
    ```

    ```lmw
    get steps
    get seed
    ```

    ```output
    steps=1000
    seed=4
    ```

    Done.

    """

    @Test func runPrintsProseEchoesCommandsAndRecordsOutputs() throws {
        let folder = try temporaryFolder()
        defer { cleanup(folder) }
        let r = CapturedRunner(RunnerOptions())
        #expect(try r.run(tour, file: folder + "/tour.lmw") == 0)
        // Prose is printed as written (its blank lines separate it from the commands).
        #expect(r.out == "# Tour\n\nSome *prose*.\n\nlmw> set steps=1000\nlmw> set seed=4\nlmw> get steps\nlmw> get seed\n\nDone.\n")
        #expect(r.live.text == "steps=1000\nseed=4\n")
        #expect(r.err == "")
        #expect(r.runner.blocks.map(\.output) == ["", "steps=1000\nseed=4\n"])
    }

    @Test func overridesApplyAfterTheParamsBlockAndAreEchoed() throws {
        let folder = try temporaryFolder()
        defer { cleanup(folder) }
        let r = CapturedRunner(RunnerOptions(overrides: ["steps=20"]))
        #expect(try r.run(tour, file: folder + "/tour.lmw") == 0)
        #expect(r.out.contains("lmw> set seed=4\nlmw> set steps=20   # --set\nlmw> get steps\n"))
        #expect(r.live.text == "steps=20\nseed=4\n")

        let bad = CapturedRunner(RunnerOptions(overrides: ["stpes=20"]))
        #expect(try bad.run(tour, file: folder + "/tour.lmw") == 1)
        #expect(bad.err == "--set unknown setting 'stpes' (did you mean 'steps'?)\n")
        #expect(bad.out == "")  // nothing ran
    }

    @Test func overridesWithoutParamsBlockApplyBeforeTheFirstBlock() throws {
        let folder = try temporaryFolder()
        defer { cleanup(folder) }
        let r = CapturedRunner(RunnerOptions(overrides: ["n=5"]))
        #expect(try r.run("```lmw\nget n\n```\n", file: folder + "/w.lmw") == 0)
        #expect(r.live.text == "n=5\n")
    }

    @Test func aCommandFailingHalfwayHaltsWithFileAndLineAndKeepsThePartialTranscript() throws {
        let folder = try temporaryFolder()
        defer { cleanup(folder) }
        let doc = "Intro.\n\n```lmw\nset seed=9\nget seed\nshow image ghost\nget steps\n```\n\n```lmw\nget n\n```\n"
        let r = CapturedRunner(RunnerOptions(render: folder + "/out.md"))
        let file = folder + "/half.lmw"
        #expect(try r.run(doc, file: file) == 1)
        #expect(r.err == "\(file):6: no image named 'ghost' (load one with: load image PATH.png as NAME)\n")
        #expect(r.runner.blocks[0].statements.map(\.text) == ["set seed=9", "get seed", "show image ghost"])
        #expect(r.runner.blocks[0].output == "seed=9\nerror: no image named 'ghost' (load one with: load image PATH.png as NAME)\n")
        #expect(!r.runner.blocks[1].ran)
        #expect(r.runner.session.int(.seed) == 9)  // the session state is kept too

        let md = try String(contentsOfFile: folder + "/out.md", encoding: .utf8)
        #expect(md.contains("```output\nseed=9\nerror: no image named 'ghost'"))
        #expect(md.contains("> **The run stopped here:** `\(file):6: no image named 'ghost'"))
        #expect(md.contains("```lmw\nget n\n```\n\n*(not run: the run stopped before this block)*"))
    }

    @Test func keepGoingBlocksRecordTheErrorAndContinue() throws {
        let folder = try temporaryFolder()
        defer { cleanup(folder) }
        let doc = "```lmw keep-going\nshow image ghost\nget seed\n```\n\n```lmw\nget n\n```\n"
        let r = CapturedRunner(RunnerOptions())
        #expect(try r.run(doc, file: folder + "/k.lmw") == 0)
        #expect(r.out.contains("lmw> show image ghost\nerror: no image named 'ghost'"))
        #expect(r.runner.blocks[0].output.hasPrefix("error: no image named 'ghost'"))
        #expect(r.runner.blocks[1].output == "n=1000\n")
    }

    @Test func runWideKeepGoingContinuesButFails() throws {
        let folder = try temporaryFolder()
        defer { cleanup(folder) }
        let doc = "```lmw\nshow image ghost\nget seed\n```\n\n```lmw\nget n\n```\n"
        let r = CapturedRunner(RunnerOptions(keepGoing: true))
        let file = folder + "/k.lmw"
        #expect(try r.run(doc, file: file) == 1)
        #expect(r.err.hasPrefix("\(file):2: no image named 'ghost'"))
        #expect(r.runner.blocks.map(\.ran) == [true, true])
        #expect(r.runner.blocks[1].output == "n=1000\n")
    }

    @Test func anUnclosedBlockIsReportedBeforeAnythingRuns() throws {
        let folder = try temporaryFolder()
        defer { cleanup(folder) }
        let r = CapturedRunner(RunnerOptions())
        let file = folder + "/u.lmw"
        #expect(try r.run("# T\n\n```lmw\nset seed=1\n```\n\n```lmw\nget seed\n", file: file) == 1)
        #expect(r.err == "\(file):7: unclosed ```lmw block (opened here)\n")
        #expect(r.out == "")
        #expect(r.runner.run(path: folder + "/missing.lmw") == 1)
    }

    @Test func aFileWithoutCommandsWarns() throws {
        let folder = try temporaryFolder()
        defer { cleanup(folder) }
        let r = CapturedRunner(RunnerOptions())
        let file = folder + "/p.lmw"
        #expect(try r.run("Just prose.\n\n    train steps=5\n", file: file) == 0)
        #expect(r.err.contains("\(file): warning: no ```lmw command blocks: nothing to run"))
        #expect(r.err.contains("\(file):3: warning: 'train steps=5' looks like a command"))
    }

    @Test func skipAndQuitAreHonoured() throws {
        let folder = try temporaryFolder()
        defer { cleanup(folder) }
        let doc = "```lmw skip\nshow image ghost\n```\n\n```lmw\nget seed\nquit\nget n\n```\n\n```lmw\nget steps\n```\n"
        let r = CapturedRunner(RunnerOptions())
        #expect(try r.run(doc, file: folder + "/s.lmw") == 0)
        #expect(r.out.hasPrefix("lmw> show image ghost   # skipped\n"))
        #expect(r.live.text == "seed=0\n")
        #expect(r.runner.blocks.map(\.ran) == [false, true, false])
    }

    // MARK: - check

    @Test func checkReportsADiffWithFileAndLine() throws {
        let folder = try temporaryFolder()
        defer { cleanup(folder) }
        let doc = "Text.\n\n```lmw\nget steps\nget seed\n```\n\n```output\nsteps=999\nseed=0\n```\n"
        let r = CapturedRunner(RunnerOptions(mode: .check(update: false)))
        let file = folder + "/c.lmw"
        #expect(try r.run(doc, file: file) == 1)
        #expect(r.out == """
            \(file):3: output differs from the recorded output
            --- expected
            +++ actual
            @@ -9,2 +1,2 @@
            -steps=999
            +steps=1000
             seed=0
            \(file): 1 output blocks checked, 1 differ

            """)
        #expect(r.live.text == "")  // check mode prints no command output
        #expect(try String(contentsOfFile: file, encoding: .utf8) == doc)  // untouched without --update
    }

    @Test func checkHonoursPatternsAndNoCheck() throws {
        let folder = try temporaryFolder()
        defer { cleanup(folder) }
        let doc = """
            ```lmw
            get lr
            get question
            ```

            ```output
            lr=0.00(glob)
            question=* (glob)
            ```

            ```lmw no-check
            get seed
            ```

            ```output
            whatever
            ```

            """
        let r = CapturedRunner(RunnerOptions(mode: .check(update: false)))
        #expect(try r.run(doc, file: folder + "/p.lmw") == 1)  // `lr=0.00(glob)` lacks the space: literal
        let fixed = doc.replacingOccurrences(of: "lr=0.00(glob)", with: "lr=0.00* (glob)")
        let again = CapturedRunner(RunnerOptions(mode: .check(update: false)))
        #expect(try again.run(fixed, file: folder + "/p.lmw") == 0)
        #expect(again.out.hasSuffix("p.lmw: 1 output blocks checked, 0 differ\n"))
    }

    @Test func updateRewritesOutputsInPlaceAndTheNextCheckPasses() throws {
        let folder = try temporaryFolder()
        defer { cleanup(folder) }
        let doc = """
            # Title — with UTF-8 ✓

            ```lmw
            get steps
            get question
            ```

            ```output
            steps=1
            question=* (glob)
            ```

            Between.

            ```lmw
            get seed
            ```
            Trailing prose.

            """
        let file = folder + "/u.lmw"
        let r = CapturedRunner(RunnerOptions(mode: .check(update: true)))
        #expect(try r.run(doc, file: file) == 0)
        #expect(r.out == "\(file): updated 2 output blocks\n")
        let updated = try String(contentsOfFile: file, encoding: .utf8)
        #expect(updated == """
            # Title — with UTF-8 ✓

            ```lmw
            get steps
            get question
            ```

            ```output
            steps=1000
            question=* (glob)
            ```

            Between.

            ```lmw
            get seed
            ```
            ```output
            seed=0
            ```
            Trailing prose.

            """)
        let check = CapturedRunner(RunnerOptions(mode: .check(update: false)))
        #expect(check.runner.run(path: file) == 0)
        let again = CapturedRunner(RunnerOptions(mode: .check(update: true)))
        #expect(again.runner.run(path: file) == 0)
        #expect(again.out == "\(file): all recorded outputs match; nothing to update\n")
    }

    @Test func updateWritesNothingWhenTheRunFails() throws {
        let folder = try temporaryFolder()
        defer { cleanup(folder) }
        let doc = "```lmw\nget seed\n```\n\n```lmw\nshow image ghost\n```\n"
        let file = folder + "/f.lmw"
        let r = CapturedRunner(RunnerOptions(mode: .check(update: true)))
        #expect(try r.run(doc, file: file) == 1)
        #expect(try String(contentsOfFile: file, encoding: .utf8) == doc)
    }

    @Test func listParams() throws {
        let doc = try LMWDocument(text: tour, file: "t.lmw")
        #expect(Runner.parameterList(doc) == """
            steps=1000  (line 6; training steps (images, batch 1))
            seed=4  (line 7; random seed for sampling, initialization and shuffling)
            """)
    }
}
