// `run FILE.lmw --render OUT.md|OUT.html`: the executed notebook written as a document.
//
// Figures become files in a folder beside the output (`OUT_files/`, as nbconvert does):
// digits as PNG (scaled up, with a contact sheet for batches), the loss curve and the
// confusion matrix as SVG, all referenced by relative paths. The Markdown form keeps each
// block as a ```lmw fence followed by an ```output fence, so a rendered notebook is itself a
// workflow `check` can replay, and it reads well on GitHub.
import Foundation
import Llava

/// A workflow after a run: the document and what each block printed.
public struct ExecutedNotebook: Sendable {
    public var document: LMWDocument
    public var blocks: [BlockRecord]
    /// The error that halted the run (`FILE:LINE: message`), if any.
    public var error: String?
    /// The `--set` overrides the run used, as typed.
    public var overrides: [String]

    public init(document: LMWDocument, blocks: [BlockRecord], error: String?, overrides: [String]) {
        self.document = document
        self.blocks = blocks
        self.error = error
        self.overrides = overrides
    }
}

/// A figure file written beside the rendered notebook.
struct Asset {
    /// Path relative to the rendered file (`OUT_files/block2-1-1.png`).
    var path: String
    var caption: String
    /// The statement (index in its block) that showed it; nil for the block's loss curve.
    var statement: Int?
    /// A drawing of digits, which replaces the statement's text drawing in HTML.
    var isDigits = false
}

/// Writes an executed notebook as Markdown or HTML, by the output's extension.
public enum NotebookRenderer {
    public static func write(_ notebook: ExecutedNotebook, to path: String) throws {
        let ext = (path as NSString).pathExtension.lowercased()
        guard ext == "md" || ext == "html" || ext == "htm" else {
            throw CommandError("\(path): the rendered notebook must end in .md or .html")
        }
        let output = (path as NSString).expandingTildeInPath
        let assets = try exportAssets(notebook, besides: output)
        let text = ext == "md" ? MarkdownRender.render(notebook, assets: assets)
            : HTMLRender.render(notebook, assets: assets)
        try AtomicFile.write(Data(text.utf8), to: output)
    }

    /// Writes every figure; returns the assets of each block (by block index), in order.
    static func exportAssets(_ notebook: ExecutedNotebook, besides output: String) throws -> [Int: [Asset]] {
        let stem = ((output as NSString).lastPathComponent as NSString).deletingPathExtension
        let folderName = stem + "_files"
        let folder = ((output as NSString).deletingLastPathComponent as NSString).appendingPathComponent(folderName)
        var assets: [Int: [Asset]] = [:]
        var statement: Int?
        var isDigits = false
        func add(_ block: Int, _ name: String, _ caption: String, write: (String) throws -> Void) throws {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try write((folder as NSString).appendingPathComponent(name))
            assets[block, default: []].append(Asset(path: folderName + "/" + name, caption: caption,
                                                    statement: statement, isDigits: isDigits))
        }
        for record in notebook.blocks {
            let b = record.block.index
            for (s, ran) in record.statements.enumerated() {
                for (f, figure) in ran.figures.enumerated() {
                    let name = "block\(b + 1)-\(s + 1)-\(f + 1)"
                    (statement, isDigits) = (s, { if case .digits = figure { true } else { false } }())
                    switch figure {
                    case .digits(let images, let captions):
                        let digits = images.map { DigitImage(pixels: $0) }
                        if digits.count == 1 {
                            try add(b, name + ".png", captions.first ?? "") { try PNGImage.writeDigit(digits[0], scale: 6, to: $0) }
                        } else {
                            // Contact-sheet captions: the label after "N: " (the built-in font is tiny).
                            let labels = captions.map { String($0.split(separator: " ").last ?? "") }
                            try add(b, name + ".png", captions.joined(separator: ", ")) {
                                try PNGImage.writeGrid(digits, columns: min(digits.count, 8), labels: labels, scale: 3, to: $0)
                            }
                        }
                    case .confusion(let counts):
                        try add(b, name + ".svg", "confusion matrix") { try writeText(SVGPlot.confusion(counts), to: $0) }
                    case .lossCurve(let losses):
                        try add(b, name + ".svg", "training loss") { try writeText(SVGPlot.lossCurve(losses), to: $0) }
                    }
                }
            }
            (statement, isDigits) = (nil, false)
            if let losses = record.losses {
                try add(b, "block\(b + 1)-loss.svg", "training loss, \(losses.count) steps so far") {
                    try writeText(SVGPlot.lossCurve(losses), to: $0)
                }
            }
        }
        return assets
    }

    static func writeText(_ text: String, to path: String) throws {
        try AtomicFile.write(Data(text.utf8), to: path)
    }
}

/// The Markdown form.
enum MarkdownRender {
    static func render(_ notebook: ExecutedNotebook, assets: [Int: [Asset]]) -> String {
        var out: [String] = []
        if !notebook.overrides.isEmpty {
            out.append("> Run with " + notebook.overrides.map { "`--set \($0)`" }.joined(separator: " ") + ".\n")
        }
        for item in notebook.document.items {
            switch item {
            case .prose(let text, _):
                out.append(text + "\n")
            case .commands(let block):
                let record = notebook.blocks[block.index]
                var info = "lmw"
                if block.options.params { info += " params" }
                if block.options.keepGoing { info += " keep-going" }
                out.append(fenced(block.source, info: info))
                if block.options.skip {
                    out.append("*(skipped)*\n")
                } else if !record.ran {
                    out.append("*(not run: the run stopped before this block)*\n")
                } else {
                    let output = record.output
                    if !output.isEmpty { out.append(fenced(String(output.dropLast(output.hasSuffix("\n") ? 1 : 0)), info: "output")) }
                    for asset in assets[block.index] ?? [] {
                        out.append("![\(asset.caption.replacingOccurrences(of: "]", with: ")"))](\(asset.path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? asset.path))\n")
                    }
                }
                if let error = notebook.error, record.ran, record.statements.last?.error != nil, !block.options.keepGoing {
                    out.append("> **The run stopped here:** `\(error)`\n")
                }
            }
        }
        return out.joined(separator: "\n")
    }

    /// A fenced block whose fence is longer than any backtick run inside.
    static func fenced(_ text: String, info: String) -> String {
        var longest = 0, run = 0
        for c in text { if c == "`" { run += 1; longest = max(longest, run) } else { run = 0 } }
        let fence = String(repeating: "`", count: max(3, longest + 1))
        return fence + info + "\n" + text + "\n" + fence + "\n"
    }
}
