import Testing
@testable import Notebook

@Suite struct OutputMatcherTests {
    func matches(_ expected: String, _ actual: String) -> Bool {
        OutputMatcher.match(expected: expected, actual: actual).matches
    }

    @Test func literalLines() {
        #expect(matches("a\nb\n", "a\nb\n"))
        #expect(matches("a\nb", "a\nb\n"))  // a final newline is not a line
        #expect(!matches("a\nb\n", "a\nc\n"))
        #expect(!matches("a\n", "a\n\n"))
        #expect(matches("", ""))
    }

    @Test func regexLines() {
        #expect(matches("loss [0-9.]+ (re)\n", "loss 0.8123\n"))
        #expect(!matches("loss [0-9.]+ (re)\n", "loss 0.8123 nan\n"))  // whole line
        #expect(!matches("loss [0-9.]+ (re)\n", "xloss 0.8\n"))
        #expect(matches("a|b (re)\n", "b\n"))  // alternation stays inside the anchors
        #expect(matches("( (re)\n", "(\n"))  // an invalid regex matches its text literally
    }

    @Test func globLines() {
        #expect(matches("took * s (glob)\n", "took 1.25 s\n"))
        #expect(matches("step ?/10 (glob)\n", "step 3/10\n"))
        #expect(!matches("step ?/10 (glob)\n", "step 10/10\n"))
        #expect(matches("a\\*b (glob)\n", "a*b\n"))
        #expect(!matches("a\\*b (glob)\n", "axb\n"))
        #expect(matches("*x*y (glob)\n", "1x2x3y\n"))
    }

    @Test func ellipsis() {
        #expect(matches("start\n...\nend\n", "start\nend\n"))
        #expect(matches("start\n...\nend\n", "start\n1\n2\n3\nend\n"))
        #expect(matches("...\n", "anything\nat all\n"))
        #expect(matches("...\n", ""))
        #expect(!matches("start\n...\nend\n", "start\n1\n"))
    }

    @Test func numberTolerance() {
        #expect(matches("loss 0.812 acc 91% (~0.01)\n", "loss 0.817 acc 91%\n"))
        #expect(!matches("loss 0.812 (~0.001)\n", "loss 0.817\n"))
        #expect(matches("loss 2.0 (~5%)\n", "loss 2.09\n"))
        #expect(!matches("loss 2.0 (~5%)\n", "loss 2.2\n"))
        #expect(!matches("loss 2.0 (~5%)\n", "gain 2.0\n"))
        #expect(matches("cos -0.25 (~0.01)\n", "cos -0.251\n"))
    }

    @Test func report() {
        let result = OutputMatcher.match(expected: "a\nb\nc\nd\n", actual: "a\nB\nc\nd\ne\n")
        #expect(!result.matches)
        #expect(result.report(file: "w.lmw", line: 12, firstExpectedLine: 17) == """
            w.lmw:12: output differs from the recorded output
            --- expected
            +++ actual
            @@ -17,4 +1,5 @@
             a
            -b
            +B
             c
             d
            +e

            """)
        #expect(OutputMatcher.match(expected: "x\n", actual: "x\n").report(file: nil, line: 1, firstExpectedLine: 2) == "")
    }

    @Test func reportSplitsDistantHunks() {
        let expected = (1...20).map { "line \($0)\n" }.joined()
        let actual = expected.replacingOccurrences("line 2\n", with: "LINE 2\n")
            .replacingOccurrences("line 19\n", with: "LINE 19\n")
        let report = OutputMatcher.match(expected: expected, actual: actual).report(file: nil, line: 3, firstExpectedLine: 5)
        #expect(report.split(separator: "\n").filter { $0.hasPrefix("@@") } == ["@@ -5,5 +1,5 @@", "@@ -20,5 +16,5 @@"])
    }

    @Test func updatedExpectedKeepsMatchingPatterns() {
        let expected = "loss [0-9.]+ (re)\n...\nend\nstep 1\ntime * (glob)\n"
        let actual = "loss 0.5\nnoise\nend\nstep 2\ntime 3s\n"
        let result = OutputMatcher.match(expected: expected, actual: actual)
        #expect(!result.matches)
        #expect(result.updatedExpected == "loss [0-9.]+ (re)\n...\nend\nstep 2\ntime * (glob)\n")
        #expect(OutputMatcher.match(expected: result.updatedExpected, actual: actual).matches)
    }

    @Test func alignment() {
        let result = OutputMatcher.match(expected: "a\n...\nz\n", actual: "a\nb\nc\nz\n")
        #expect(result.diff == [.same(expected: 0, actual: 0), .skipped(expected: 1, actual: 1..<3), .same(expected: 2, actual: 3)])
    }
}
