import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import Notebook
import Llava

@Suite struct RenderTests {
    // MARK: - Markdown → HTML

    @Test func markdownBlocksAndInlines() {
        let html = MarkdownHTML.convert("""
            # Title *one*

            Text with `code`, **bold**, _it_, snake_case and [a link](https://x.org/a?b=1&c).
            Second line <b>raw</b>.

            - one
            - two `x`

            1. first
            2. second

            > quoted **text**

            | a | b |
            |---|---|
            | 1 | `2` |

            ```lmw
            show img 0 < & >
            ```
            ---
            """)
        #expect(html == """
            <h1>Title <em>one</em></h1>
            <p>Text with <code>code</code>, <strong>bold</strong>, <em>it</em>, snake_case and <a href="https://x.org/a?b=1&amp;c">a link</a>.
            Second line &lt;b&gt;raw&lt;/b&gt;.</p>
            <ul><li>one</li><li>two <code>x</code></li></ul>
            <ol><li>first</li><li>second</li></ol>
            <blockquote><p>quoted <strong>text</strong></p></blockquote>
            <table><thead><tr><th>a</th><th>b</th></tr></thead><tbody><tr><td>1</td><td><code>2</code></td></tr></tbody></table>
            <pre><code class="language-lmw">show img 0 &lt; &amp; &gt;</code></pre>
            <hr>
            """)
    }

    @Test func proseCannotInjectScript() {
        let html = MarkdownHTML.convert("[x](javascript:alert(1)) <script>alert(1)</script> ![i](data:text/html,hi)")
        #expect(!html.contains("<script"))
        #expect(!html.contains("javascript:"))
        #expect(html.contains("<a href=\"#\">x</a>"))
        #expect(html.contains("<img src=\"#\" alt=\"i\">"))
    }

    // MARK: - SVG

    @Test func svgPlotsAreWellFormedAndDeterministic() throws {
        let losses: [Float] = [2.5, 2.0, 1.2, 0.9, 0.95, 0.4]
        let curve = SVGPlot.lossCurve(losses)
        #expect(curve == SVGPlot.lossCurve(losses))
        #expect(curve.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(curve.contains("training loss (6 steps)"))
        #expect(curve.contains(">5.00</text>"))  // the axis ends on a round number above 2.5
        #expect(XMLParser(data: Data(curve.utf8)).parse())  // well-formed XML
        #expect(SVGPlot.niceCeiling(2.5) == 5 && SVGPlot.niceCeiling(0.37) == 0.5 && SVGPlot.niceCeiling(10) == 10)

        var counts = [[Int]](repeating: [Int](repeating: 0, count: 11), count: 10)
        counts[3][3] = 7; counts[3][8] = 2; counts[5][10] = 1
        let matrix = SVGPlot.confusion(counts)
        #expect(XMLParser(data: Data(matrix.utf8)).parse())
        #expect(matrix.contains(">7</text>") && matrix.contains(">?</text>"))
        #expect(!matrix.contains("http://") || matrix.components(separatedBy: "http://").count == 2)  // only the namespace
    }

    // MARK: - Rendered notebooks

    /// A short notebook with a digit, a batch, a training run and an evaluation.
    let notebook = """
        # Rendered

        Some *prose* with a [link](https://example.org).

        ```lmw params
        set steps=2
        set n=2
        set every=0
        ```

        ```lmw
        load mnist
        show img 0
        show batch from=0 count=3
        ```

        ```lmw
        train
        load mnist split=test
        eval
        ```

        ```lmw
        show image ghost
        ```

        ```lmw
        get seed
        ```

        """

    func render(_ output: String) throws -> (CapturedRunner, String) {
        let r = CapturedRunner(RunnerOptions(render: output))
        let status = try r.run(notebook, file: (output as NSString).deletingLastPathComponent + "/rendered.lmw")
        #expect(status == 1)  // the ghost image halts the run
        return (r, try String(contentsOfFile: output, encoding: .utf8))
    }

    @Test func htmlNotebookIsSelfContainedWithFiguresBesideIt() throws {
        try requireDefaultModel()
        let folder = try temporaryFolder()
        defer { cleanup(folder) }
        let (_, html) = try render(folder + "/out.html")
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains("<h1>Rendered</h1>"))
        #expect(html.contains("<pre class=\"cmd\"><span class=\"prompt\">lmw&gt; </span>show img 0</pre>"))
        // Digits appear as images with captions, not as ASCII drawings.
        #expect(html.contains("<figure><img src=\"out_files/block2-2-1.png\" alt=\"img 0 (train): label 7\"><figcaption>img 0 (train): label 7</figcaption></figure>"))
        #expect(!html.contains("@@"))
        // Nothing from the network: the only URL is the prose's own link.
        let urls = html.components(separatedBy: "http").count - 1
        #expect(urls == 1)
        #expect(!html.contains("<script") && !html.contains("<link"))
        // Figures: the digit and the batch as PNG, the loss curve and confusion matrix as SVG.
        let files = try FileManager.default.contentsOfDirectory(atPath: folder + "/out_files").sorted()
        #expect(files == ["block2-2-1.png", "block2-3-1.png", "block3-3-1.svg", "block3-loss.svg"])
        for file in files { #expect(html.contains("src=\"out_files/\(file)\"")) }
        let digit = try PNGImage.readGray(path: folder + "/out_files/block2-2-1.png")
        #expect(digit.width == 168 && digit.height == 168)
        #expect(html.contains("The run stopped here: <code>\(folder)/rendered.lmw:24: no image named 'ghost'"))
        #expect(html.contains("<section class=\"cell not-run\" id=\"block-5\">"))
    }

    @Test func markdownNotebookIsAReplayableWorkflow() throws {
        try requireDefaultModel()
        let folder = try temporaryFolder()
        defer { cleanup(folder) }
        let (_, md) = try render(folder + "/out.md")
        #expect(md.hasPrefix("# Rendered\n"))
        #expect(md.contains("```lmw\nload mnist\nshow img 0\nshow batch from=0 count=3\n```\n\n```output\nmnist: "))
        #expect(md.contains("![img 0 (train): label 7](out_files/block2-2-1.png)"))
        #expect(md.contains("![training loss, 2 steps so far](out_files/block3-loss.svg)"))
        // The rendered Markdown parses as a workflow whose recorded outputs are the run's.
        let doc = try LMWDocument(text: md, file: folder + "/out.md")
        #expect(doc.commandBlocks.count == 5)
        #expect(doc.commandBlocks[1].expected?.text.hasPrefix("mnist: ") == true)
        #expect(doc.commandBlocks[0].options.params)
    }

    @Test func badRenderTargetFailsTheRun() throws {
        let folder = try temporaryFolder()
        defer { cleanup(folder) }
        let r = CapturedRunner(RunnerOptions(render: folder + "/out.pdf"))
        #expect(try r.run("```lmw\nget seed\n```\n", file: folder + "/w.lmw") == 1)
        #expect(r.err == "\(folder)/out.pdf: cannot write the rendered notebook: \(folder)/out.pdf: the rendered notebook must end in .md or .html\n")
    }
}
