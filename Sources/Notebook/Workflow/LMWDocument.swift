// `.lmw` workflow documents: Markdown prose with fenced command blocks and recorded outputs.
//
// A command block is a fenced code block tagged `lmw`. Right after it (blank lines allowed
// in between) may come a fenced block tagged `output`: the output the commands are expected
// to print, checked by `llava-mnist check` and rewritten by `check --update`. Because the
// blocks are ordinary Markdown fences, a workflow renders on GitHub as a readable document.
//
//     ```lmw
//     load mnist split=test
//     show img 0
//     ```
//
//     ```output
//     label 7
//     ...
//     ```
//
// Options after `lmw` in the fence's info string:
// - `skip`       — the block is shown but not run (a slow step a reader may run by hand).
// - `keep-going` — an error in this block is printed as its output and the run continues
//                  (lets a workflow demonstrate an error message; the output can record it).
// - `no-check`   — run, but `check` does not compare the output (timings, sampled text).
// - `params`     — the parameters block: only `set KEY=VALUE` lines. `--set KEY=VALUE` on the
//                  command line overrides them right after this block runs (papermill-style);
//                  `--list-params` lists them. A document may have several.
//
// Other fenced blocks (```python, ````markdown …) are prose, so an example of an `lmw` block
// inside a four-backtick fence is not run. Parsing is strict: an unclosed `lmw` or `output`
// block, an unknown option or a syntax error in any statement is an error before anything runs.

import Foundation

/// A parsed `.lmw` workflow.
public struct LMWDocument: Sendable {
    /// Options from the fence's info string (see the file comment).
    public struct BlockOptions: Equatable, Sendable {
        public var skip = false
        public var keepGoing = false
        public var noCheck = false
        public var params = false
        public init() {}
        static let names = ["skip", "keep-going", "no-check", "params"]
    }

    /// A recorded output block.
    public struct ExpectedOutput: Equatable, Sendable {
        /// The block's content, every line ending in `\n` (empty for an empty block).
        public var text: String
        /// File line of the ```` ```output ```` fence; content starts on the next line.
        public var line: Int
    }

    /// A fenced `lmw` block.
    public struct CommandBlock: Equatable, Sendable {
        /// Position among the document's command blocks (the key of `rewritingExpectedOutputs`).
        public var index: Int
        /// File line of the opening fence.
        public var line: Int
        /// The block's content as written (lines joined with `\n`), for echoing and rendering.
        public var source: String
        /// Parsed statements with absolute file lines.
        public var statements: [LocatedStatement]
        public var options: BlockOptions
        public var expected: ExpectedOutput?

        // 0-based line indices, for rewriting.
        var closeLineIndex: Int
        var expectedRange: ClosedRange<Int>?
    }

    public enum Item: Equatable, Sendable {
        /// Markdown text as written (lines joined with `\n`) and the file line it starts on.
        case prose(String, line: Int)
        case commands(CommandBlock)
    }

    /// One `set` line of a parameters block.
    public struct Parameter: Equatable, Sendable {
        public var setting: Setting
        public var value: SettingValue
        public var line: Int
    }

    /// The path given at parse time (used in messages).
    public var file: String?
    /// The document text, byte for byte.
    public let text: String
    public var items: [Item]
    /// Non-fatal findings (no command blocks, a command-looking line outside any block,
    /// an output block with no command block, an unclosed non-lmw fence).
    public var warnings: [NotebookError]

    /// The command blocks in order (`commandBlocks[i].index == i`).
    public var commandBlocks: [CommandBlock] {
        items.compactMap { if case .commands(let block) = $0 { block } else { nil } }
    }

    /// The `set` lines of all parameters blocks, in order.
    public var parameters: [Parameter] {
        commandBlocks.filter(\.options.params).flatMap { block in
            block.statements.compactMap { s in
                if case .set(let setting, let value) = s.statement {
                    Parameter(setting: setting, value: value, line: s.line)
                } else { nil }
            }
        }
    }

    /// The largest workflow accepted (8 MiB; the shipped ones are a few KB).
    public static let maxBytes = 8 << 20

    /// Parses a document; `file` only labels messages.
    public init(text: String, file: String? = nil) throws(NotebookError) {
        guard text.utf8.count <= Self.maxBytes else {
            throw NotebookError(file: file, line: 0,
                                message: "workflow is \(text.utf8.count) bytes, more than the \(Self.maxBytes >> 20) MiB limit")
        }
        self.text = text
        self.file = file
        var scanner = DocumentScanner(text: text, file: file)
        try scanner.run()
        items = scanner.items
        warnings = scanner.warnings
    }

    /// Reads and parses the workflow at `path`, checking its size before reading it.
    public init(contentsOfFile path: String) throws(NotebookError) {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        if let size = attributes?[.size] as? Int, size > Self.maxBytes {
            throw NotebookError(file: path, line: 0,
                                message: "workflow is \(size) bytes, more than the \(Self.maxBytes >> 20) MiB limit")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw NotebookError(file: path, line: 0, message: attributes == nil ? "no such file" : "cannot read the workflow file")
        }
        try self.init(text: String(decoding: data, as: UTF8.self), file: path)
    }

    /// Checks one `--set KEY=VALUE` override against the settings' types.
    public static func parseOverride(_ assignment: String) throws(NotebookError) -> (Setting, SettingValue) {
        guard case .set(let setting, let value)? = try Parser.parseStatement("set " + assignment) else {
            throw NotebookError(line: 0, message: "expected KEY=VALUE, got '\(assignment)'")
        }
        return (setting, value)
    }
}

// MARK: - Scanning

/// A Markdown fence line: its character, length and info string.
struct Fence {
    var char: Character
    var count: Int
    var info: String

    /// Parses an opening fence: up to three spaces, then at least three ` or ~.
    init?(opening line: Substring) {
        let indent = line.prefix(while: { $0 == " " })
        guard indent.count <= 3 else { return nil }
        let rest = line.dropFirst(indent.count)
        guard let c = rest.first, c == "`" || c == "~" else { return nil }
        let run = rest.prefix(while: { $0 == c })
        guard run.count >= 3 else { return nil }
        info = rest.dropFirst(run.count).trimmingWhitespace()
        if c == "`" && info.contains("`") { return nil }  // CommonMark: not a fence
        char = c
        count = run.count
    }

    /// Whether `line` closes this fence.
    func isClosed(by line: Substring) -> Bool {
        let indent = line.prefix(while: { $0 == " " })
        guard indent.count <= 3 else { return false }
        let rest = line.dropFirst(indent.count)
        let run = rest.prefix(while: { $0 == char })
        return run.count >= count && rest.dropFirst(run.count).allSatisfy(\.isWhitespace)
    }

    var language: String { info.split(whereSeparator: \.isWhitespace).first.map(String.init) ?? "" }
    var marker: String { String(repeating: char, count: count) }
}

/// The document's lines with their terminators (so rewriting can reproduce them exactly).
func splitLinesKeepingTerminators(_ text: String) -> [Substring] {
    var lines: [Substring] = []
    var start = text.startIndex
    var i = text.startIndex
    while i < text.endIndex {
        let next = text.index(after: i)
        if text[i] == "\n" || text[i] == "\r\n" {
            lines.append(text[start..<next])
            start = next
        }
        i = next
    }
    if start < text.endIndex { lines.append(text[start...]) }
    return lines
}

extension Substring {
    /// The line without its `\n` / `\r\n`.
    var withoutTerminator: Substring {
        var s = self
        while let last = s.last, last == "\n" || last == "\r\n" || last == "\r" { s = s.dropLast() }
        return s
    }
}

private struct DocumentScanner {
    let file: String?
    let lines: [Substring]
    var items: [LMWDocument.Item] = []
    var warnings: [NotebookError] = []
    var prose: [Substring] = []
    var proseStart = 1
    var index = 0
    /// Command blocks so far (counted, not recounted per block: documents may have thousands).
    var blockCount = 0

    init(text: String, file: String?) {
        self.file = file
        self.lines = splitLinesKeepingTerminators(text).map(\.withoutTerminator)
    }

    mutating func run() throws(NotebookError) {
        while index < lines.count {
            let line = lines[index]
            guard let fence = Fence(opening: line) else {
                noteCommandLookingProse(line)
                addProse(line)
                index += 1
                continue
            }
            switch fence.language {
            case "lmw":
                flushProse()
                try commandBlock(fence)
            case "output":
                warn("```output block without a ```lmw block before it", line: index + 1)
                try proseFence(fence, mustClose: true)
            default:
                try proseFence(fence, mustClose: false)
            }
        }
        flushProse()
        if !items.contains(where: { if case .commands = $0 { true } else { false } }) {
            warnings.append(NotebookError(file: file, line: 0,
                message: "no ```lmw command blocks: nothing to run (is a block tagged differently or indented?)"))
        }
    }

    /// Index of the line closing the fence opened at `open`.
    func closing(_ fence: Fence, openedAt open: Int) throws(NotebookError) -> Int? {
        lines[(open + 1)...].firstIndex(where: fence.isClosed(by:))
    }

    mutating func commandBlock(_ fence: Fence) throws(NotebookError) {
        let open = index
        guard let close = try closing(fence, openedAt: open) else {
            throw NotebookError(file: file, line: open + 1, message: "unclosed \(fence.marker)lmw block (opened here)")
        }
        var options = LMWDocument.BlockOptions()
        for word in fence.info.split(whereSeparator: \.isWhitespace).dropFirst() {
            switch word {
            case "skip": options.skip = true
            case "keep-going": options.keepGoing = true
            case "no-check": options.noCheck = true
            case "params": options.params = true
            default:
                let hint = suggestion(for: String(word), among: LMWDocument.BlockOptions.names)
                    .map { "did you mean '\($0)'?" } ?? "expected " + LMWDocument.BlockOptions.names.joined(separator: ", ")
                let column = columnOf(word, in: lines[open])
                throw NotebookError(file: file, line: open + 1, column: column,
                                    message: "unknown block option '\(word)' (\(hint))")
            }
        }
        let source = lines[(open + 1)..<close].joined(separator: "\n")
        let statements = try Parser.parseProgram(source, firstLine: open + 2, file: file)
        if options.params, let bad = statements.first(where: { if case .set = $0.statement { false } else { true } }) {
            throw NotebookError(file: file, line: bad.line, column: bad.column,
                                message: "only 'set KEY=VALUE' lines belong in a params block")
        }
        index = close + 1
        // An output block may follow after blank lines.
        var expected: LMWDocument.ExpectedOutput?
        var expectedRange: ClosedRange<Int>?
        var next = index
        while next < lines.count, lines[next].allSatisfy(\.isWhitespace) { next += 1 }
        if next < lines.count, let outFence = Fence(opening: lines[next]), outFence.language == "output" {
            guard let outClose = try closing(outFence, openedAt: next) else {
                throw NotebookError(file: file, line: next + 1,
                                    message: "unclosed \(outFence.marker)output block (opened here)")
            }
            let text = lines[(next + 1)..<outClose].map { $0 + "\n" }.joined()
            expected = LMWDocument.ExpectedOutput(text: text, line: next + 1)
            expectedRange = next...outClose
            index = outClose + 1
        }
        let blockIndex = blockCount
        blockCount += 1
        items.append(.commands(LMWDocument.CommandBlock(
            index: blockIndex, line: open + 1, source: source, statements: statements, options: options,
            expected: expected, closeLineIndex: close, expectedRange: expectedRange)))
        proseStart = index + 1
    }

    /// A non-lmw fence: prose, read through to its end so a ```lmw inside it is not a block.
    mutating func proseFence(_ fence: Fence, mustClose: Bool) throws(NotebookError) {
        let open = index
        guard let close = try closing(fence, openedAt: open) else {
            if mustClose {
                throw NotebookError(file: file, line: open + 1,
                                    message: "unclosed \(fence.marker)\(fence.language) block (opened here)")
            }
            warn("unclosed \(fence.marker) block runs to the end of the file", line: open + 1)
            for line in lines[open...] { addProse(line) }
            index = lines.count
            return
        }
        for line in lines[open...close] { addProse(line) }
        index = close + 1
    }

    mutating func addProse(_ line: Substring) {
        if prose.isEmpty { proseStart = index + 1 }
        prose.append(line)
    }

    mutating func flushProse() {
        defer { prose = [] }
        guard prose.contains(where: { !$0.allSatisfy(\.isWhitespace) }) else { return }
        items.append(.prose(prose.joined(separator: "\n"), line: proseStart))
    }

    /// prysk#84: an indented or `$`-prefixed command in prose is silently not run; say so.
    mutating func noteCommandLookingProse(_ line: Substring) {
        let trimmed = line.drop(while: \.isWhitespace)
        let indented = line.count - trimmed.count >= 4 || line.hasPrefix("\t")
        let body = trimmed.hasPrefix("$ ") ? trimmed.dropFirst(2) : (indented ? trimmed : "")
        guard let word = body.split(separator: " ").first, CommandSpec.commandNames.contains(String(word)),
              word != "help", word != "history", word != "time", (try? Parser.parseStatement(String(body))) != nil
        else { return }
        warn("'\(body)' looks like a command but is not in a ```lmw block, so it will not run", line: index + 1)
    }

    /// 1-based column of the first occurrence of `word` as a whole word in `line`.
    func columnOf(_ word: Substring, in line: Substring) -> Int? {
        let chars = Array(line), target = Array(word)
        guard target.count <= chars.count else { return nil }
        // Compared in place, stopping at the first difference: copying each candidate would
        // make a long info string quadratic.
        for start in 0...(chars.count - target.count) where chars[start..<start + target.count].elementsEqual(target)
            && (start == 0 || chars[start - 1].isWhitespace || chars[start - 1] == "`" || chars[start - 1] == "~") {
            return start + 1
        }
        return nil
    }

    mutating func warn(_ message: String, line: Int) {
        warnings.append(NotebookError(file: file, line: line, message: message))
    }
}

// MARK: - Rewriting outputs

extension LMWDocument {
    /// The document text with the output block of each listed command block (by `index`)
    /// replaced, or inserted right after the command block when it has none; every other
    /// byte is unchanged. Used by `check --update` (the caller writes the file atomically).
    /// Output text is written as given, with a final newline added when missing and the
    /// file's line ending; the fence is lengthened when the output itself contains one.
    public func rewritingExpectedOutputs(_ outputs: [Int: String]) -> String {
        let raw = splitLinesKeepingTerminators(text)
        let eol = text.contains("\r\n") ? "\r\n" : "\n"
        var replacements: [Int: (range: ClosedRange<Int>, text: String)] = [:]
        for block in commandBlocks {
            guard let output = outputs[block.index] else { continue }
            var content = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if content.last == "" { content.removeLast() }
            if let range = block.expectedRange {
                let oldOpen = raw[range.lowerBound], oldClose = raw[range.upperBound]
                let fence = Fence(opening: oldOpen.withoutTerminator)!
                if !content.contains(where: { fence.isClosed(by: Substring($0)) }) {
                    // Keep the original fence lines (and a missing final newline) byte for byte.
                    let body = content.map { $0 + eol }.joined()
                    replacements[range.lowerBound] = (range, String(oldOpen) + body + String(oldClose))
                    continue
                }
                replacements[range.lowerBound] = (range, Self.outputBlock(content, eol: eol))
            } else {
                let close = block.closeLineIndex
                let closeLine = String(raw[close])
                let separator = closeLine.hasSuffix("\n") ? "" : eol
                replacements[close] = (close...close, closeLine + separator + Self.outputBlock(content, eol: eol))
            }
        }
        var out = ""
        var i = 0
        while i < raw.count {
            if let r = replacements[i] {
                out += r.text
                i = r.range.upperBound + 1
            } else {
                out += raw[i]
                i += 1
            }
        }
        return out
    }

    /// ```` ```output ```` + lines + closing fence, with a fence longer than any backtick run
    /// that starts a content line.
    static func outputBlock(_ content: [String], eol: String) -> String {
        let longest = content.map { $0.drop(while: { $0 == " " }).prefix(while: { $0 == "`" }).count }.max() ?? 0
        let fence = String(repeating: "`", count: max(3, longest + 1))
        return fence + "output" + eol + content.map { $0 + eol }.joined() + fence + eol
    }
}
