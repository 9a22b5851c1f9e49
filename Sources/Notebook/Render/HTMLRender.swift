// The HTML form of a rendered notebook: one self-contained page (inline CSS, no scripts, no
// fonts or styles from the network) plus its figure files, so it opens in any browser
// offline. Prose goes through MarkdownHTML; commands and outputs are <pre> blocks.
import Foundation

enum HTMLRender {
    static func render(_ notebook: ExecutedNotebook, assets: [Int: [Asset]]) -> String {
        let title = notebook.document.file.map { ($0 as NSString).lastPathComponent } ?? "notebook"
        var body: [String] = []
        if !notebook.overrides.isEmpty {
            body.append("<p class=\"note\">Run with " + notebook.overrides.map { "<code>--set \(MarkdownHTML.escape($0))</code>" }
                .joined(separator: " ") + ".</p>")
        }
        for item in notebook.document.items {
            switch item {
            case .prose(let text, _):
                body.append("<div class=\"prose\">\n" + MarkdownHTML.convert(text) + "\n</div>")
            case .commands(let block):
                body.append(cell(block, notebook.blocks[block.index], assets: assets[block.index] ?? [], error: notebook.error))
            }
        }
        return """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(MarkdownHTML.escape(title))</title>
        <style>
        \(style)
        </style>
        </head>
        <body>
        <main>
        \(body.joined(separator: "\n"))
        </main>
        </body>
        </html>

        """
    }

    /// One command block: each statement after a prompt, followed by its output and figures.
    static func cell(_ block: LMWDocument.CommandBlock, _ record: BlockRecord, assets: [Asset], error: String?) -> String {
        var classes = ["cell"]
        if block.options.skip { classes.append("skipped") }
        if !record.ran && !block.options.skip { classes.append("not-run") }
        var out = "<section class=\"\(classes.joined(separator: " "))\" id=\"block-\(block.index + 1)\">\n"
        if record.ran {
            for (index, statement) in record.statements.enumerated() {
                out += "<pre class=\"cmd\">" + prompt(statement.text) + "</pre>\n"
                let figures = assets.filter { $0.statement == index }
                // A digit drawn as an image needs no text drawing too (the caption names it).
                let drawnAsImage = !figures.isEmpty && figures.allSatisfy(\.isDigits)
                let text = (drawnAsImage ? "" : statement.output) + (statement.error.map { "error: \($0)\n" } ?? "")
                if !text.isEmpty {
                    let cls = statement.error == nil ? "out" : "out failed"
                    out += "<pre class=\"\(cls)\">" + MarkdownHTML.escape(String(text.dropLast(text.hasSuffix("\n") ? 1 : 0))) + "</pre>\n"
                }
                out += figures.map(figure).joined()
            }
            out += assets.filter { $0.statement == nil }.map(figure).joined()
            if let error, record.statements.last?.error != nil, !block.options.keepGoing {
                out += "<p class=\"halt\">The run stopped here: <code>\(MarkdownHTML.escape(error))</code></p>\n"
            }
        } else {
            out += "<pre class=\"cmd\">" + prompt(block.source) + "</pre>\n"
            out += "<p class=\"note\">" + (block.options.skip ? "skipped" : "not run: the run stopped before this block") + "</p>\n"
        }
        return out + "</section>"
    }

    static func figure(_ asset: Asset) -> String {
        let src = asset.path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? asset.path
        return "<figure><img src=\"\(MarkdownHTML.escape(src))\" alt=\"\(MarkdownHTML.escape(asset.caption))\">"
            + "<figcaption>\(MarkdownHTML.escape(asset.caption))</figcaption></figure>\n"
    }

    /// Statement text with `lmw>` prompts (dimmed, not selectable) before each line.
    static func prompt(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().map { i, line in
            "<span class=\"prompt\">\(i == 0 ? "lmw&gt;" : "...&gt;") </span>" + MarkdownHTML.escape(String(line))
        }.joined(separator: "\n")
    }

    static let style = """
    body { margin: 0; background: #fafafa; color: #222; font: 16px/1.55 system-ui, -apple-system, "Segoe UI", sans-serif; }
    main { max-width: 56rem; margin: 0 auto; padding: 1.5rem 1.25rem 4rem; }
    h1, h2, h3 { line-height: 1.25; }
    code, pre { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.88em; }
    p code, li code { background: #eee; padding: 0.1em 0.3em; border-radius: 3px; }
    pre { overflow-x: auto; padding: 0.6rem 0.8rem; margin: 0; border-radius: 4px; line-height: 1.3; }
    .prose pre { background: #f0f0f0; margin: 0.8rem 0; }
    .cell { margin: 1rem 0; border-left: 3px solid #4a7ab5; background: #fff; box-shadow: 0 1px 2px rgba(0,0,0,0.08); }
    .cell.skipped, .cell.not-run { border-left-color: #bbb; opacity: 0.75; }
    pre.cmd { background: #eef3fa; color: #123; }
    pre.out { background: #fff; color: #333; border-top: 1px solid #eee; }
    pre.out.failed { color: #a00; }
    .prompt { color: #7a8aa0; user-select: none; }
    figure { margin: 0.6rem 0.8rem; display: inline-block; vertical-align: top; }
    figure img { max-width: 100%; image-rendering: pixelated; border: 1px solid #ddd; }
    figcaption { font-size: 0.85em; color: #555; }
    .note { color: #666; font-style: italic; padding: 0 0.8rem; }
    .halt { color: #a00; font-weight: bold; padding: 0.4rem 0.8rem; }
    table { border-collapse: collapse; margin: 0.8rem 0; }
    th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; }
    blockquote { margin: 0.8rem 0; padding: 0.2rem 1rem; border-left: 3px solid #ccc; color: #555; }
    """
}
