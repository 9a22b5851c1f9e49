// Recorded vs actual output, compared line by line the way cram/prysk tests do.
//
// A recorded line is literal unless it ends in a marker:
//   `TEXT (re)`      TEXT is a regular expression that must match the whole line;
//   `TEXT (glob)`    `*` matches any run of characters, `?` one character (`\*`, `\?`, `\\` escape);
//   `TEXT (~TOL)`    numbers may differ by at most TOL (`(~1e-3)`), or by TOL percent (`(~5%)`);
//                    the text between numbers must be equal;
//   `...`            alone on a line, matches any number of lines (including none).
// The comparison is one edit-distance alignment in which pattern lines match for free, so the
// report is a minimal unified diff, and `updatedExpected` can keep pattern lines that still
// match when `check --update` rewrites a block (as cram's `-i` does).

import Foundation

/// One step of the alignment between expected (pattern) lines and actual lines.
public enum OutputDiffLine: Equatable, Sendable {
    /// Expected line `expected` matched actual line `actual` (literally or as a pattern).
    case same(expected: Int, actual: Int)
    /// A `...` line at `expected` absorbed the actual lines in `actual`.
    case skipped(expected: Int, actual: Range<Int>)
    /// Expected line missing from the actual output.
    case removed(expected: Int)
    /// Actual line not in the expected output.
    case added(actual: Int)
}

/// The result of comparing one block's output.
public struct OutputMatch: Sendable {
    public let expectedLines: [String]
    public let actualLines: [String]
    public let diff: [OutputDiffLine]

    /// Whether every line matched.
    public var matches: Bool {
        !diff.contains { if case .removed = $0 { true } else if case .added = $0 { true } else { false } }
    }

    /// The expected text updated to the actual output, keeping `(re)`, `(glob)`, `(~…)` and
    /// `...` lines that matched, so variable parts stay variable after `check --update`.
    public var updatedExpected: String {
        var out: [String] = []
        for step in diff {
            switch step {
            case .same(let e, let a):
                out.append(OutputMatcher.Pattern(expectedLines[e]).isLiteral ? actualLines[a] : expectedLines[e])
            case .skipped(let e, _): out.append(expectedLines[e])
            case .removed: break
            case .added(let a): out.append(actualLines[a])
            }
        }
        return out.map { $0 + "\n" }.joined()
    }

    /// A unified-diff-like report: `FILE:LINE: output differs`, then hunks with `-expected`
    /// and `+actual` lines and three lines of context. Hunk headers count expected lines
    /// from `firstExpectedLine` (the file line of the first recorded line) and actual lines
    /// from 1. Empty when the output matches.
    public func report(file: String?, line: Int, firstExpectedLine: Int) -> String {
        guard !matches else { return "" }
        let header = NotebookError(file: file, line: line, message: "output differs from the recorded output")
        var out = [header.description, "--- expected", "+++ actual"]
        // Flatten to (kind, text, expected index?, actual index?) rows; `...` spans become one row.
        typealias Row = (mark: Character, text: String, e: Int?, a: Int?)
        var rows: [Row] = []
        for step in diff {
            switch step {
            case .same(let e, let a): rows.append((" ", actualLines[a], e, a))
            case .skipped(let e, let r): rows.append((" ", expectedLines[e], e, r.isEmpty ? nil : r.lowerBound))
            case .removed(let e): rows.append(("-", expectedLines[e], e, nil))
            case .added(let a): rows.append(("+", actualLines[a], nil, a))
            }
        }
        let context = 3
        var i = 0
        while i < rows.count {
            guard rows[i].mark != " " else { i += 1; continue }
            // Grow a hunk while changes are within 2×context of each other.
            let start = max(0, i - context)
            var end = i
            var j = i
            while j < rows.count {
                if rows[j].mark != " " { end = j }
                if j - end > 2 * context { break }
                j += 1
            }
            let stop = min(rows.count, end + context + 1)
            let hunk = rows[start..<stop]
            let eCount = hunk.filter { $0.mark != "+" }.count, aCount = hunk.filter { $0.mark != "-" }.count
            let eStart = (rows[..<stop].dropFirst(start).first { $0.e != nil }?.e ?? expectedLines.count)
            let aStart = (rows[..<stop].dropFirst(start).first { $0.a != nil }?.a ?? actualLines.count)
            out.append("@@ -\(firstExpectedLine + eStart),\(eCount) +\(aStart + 1),\(aCount) @@")
            out += hunk.map { String($0.mark) + $0.text }
            i = stop
        }
        return out.joined(separator: "\n") + "\n"
    }
}

/// Compares recorded output with actual output.
public enum OutputMatcher {
    /// Aligns `expected` (recorded, with patterns) against `actual`. Both are split into
    /// lines at `\n`; a final newline does not make an extra empty line.
    public static func match(expected: String, actual: String) -> OutputMatch {
        let e = lines(of: expected), a = lines(of: actual)
        let patterns = e.map(Pattern.init)
        let n = e.count, m = a.count
        // cost[i][j]: fewest removed+added lines aligning e[i...] with a[j...].
        var cost = [[Int]](repeating: [Int](repeating: 0, count: m + 1), count: n + 1)
        var hits = [[Bool]](repeating: [Bool](repeating: false, count: m), count: n)
        for i in 0..<n where !patterns[i].isEllipsis {
            for j in 0..<m { hits[i][j] = patterns[i].matches(a[j]) }
        }
        for j in 0...m { cost[n][j] = m - j }
        for i in stride(from: n - 1, through: 0, by: -1) {
            cost[i][m] = cost[i + 1][m] + (patterns[i].isEllipsis ? 0 : 1)
            for j in stride(from: m - 1, through: 0, by: -1) {
                if patterns[i].isEllipsis {
                    cost[i][j] = min(cost[i + 1][j], cost[i][j + 1])
                } else {
                    var best = min(cost[i + 1][j], cost[i][j + 1]) + 1
                    if hits[i][j] { best = min(best, cost[i + 1][j + 1]) }
                    cost[i][j] = best
                }
            }
        }
        // Walk the cheapest path; on ties prefer a match, then `-` before `+` (diff order).
        var diff: [OutputDiffLine] = []
        var i = 0, j = 0
        while i < n || j < m {
            if i < n, patterns[i].isEllipsis {
                var k = j
                while k < m, cost[i][k] != cost[i + 1][k] { k += 1 }  // absorb until ending is as cheap
                diff.append(.skipped(expected: i, actual: j..<k))
                i += 1
                j = k
            } else if i < n, j < m, hits[i][j], cost[i][j] == cost[i + 1][j + 1] {
                diff.append(.same(expected: i, actual: j))
                i += 1
                j += 1
            } else if i < n, cost[i][j] == cost[i + 1][j] + 1 {
                diff.append(.removed(expected: i))
                i += 1
            } else {
                diff.append(.added(actual: j))
                j += 1
            }
        }
        return OutputMatch(expectedLines: e, actualLines: a, diff: diff)
    }

    static func lines(of text: String) -> [String] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    // MARK: - Patterns

    /// One recorded line, classified by its marker.
    struct Pattern {
        enum Kind {
            case literal(String)
            case regex(NSRegularExpression?, String)
            case glob([Character])
            case approx(String, tolerance: Double, relative: Bool)
            case ellipsis
        }
        let kind: Kind

        init(_ line: String) {
            if line == "..." {
                kind = .ellipsis
            } else if line.hasSuffix(" (re)") {
                let body = String(line.dropLast(5))
                kind = .regex(try? NSRegularExpression(pattern: "^(?:" + body + ")$"), body)
            } else if line.hasSuffix(" (glob)") {
                kind = .glob(Array(line.dropLast(7)))
            } else if line.hasSuffix(")"), let open = line.range(of: " (~", options: .backwards),
                      case let spec = line[open.upperBound..<line.index(before: line.endIndex)],
                      let tolerance = Double(spec.hasSuffix("%") ? spec.dropLast() : spec) {
                kind = .approx(String(line[..<open.lowerBound]), tolerance: tolerance, relative: spec.hasSuffix("%"))
            } else {
                kind = .literal(line)
            }
        }

        var isEllipsis: Bool { if case .ellipsis = kind { true } else { false } }
        var isLiteral: Bool { if case .literal = kind { true } else { false } }

        func matches(_ line: String) -> Bool {
            switch kind {
            case .literal(let text): return text == line
            case .ellipsis: return true
            case .regex(let regex?, _):
                let range = NSRange(line.startIndex..., in: line)
                return regex.firstMatch(in: line, range: range) != nil
            case .regex(nil, let body): return body == line  // an invalid regex matches its text literally
            case .glob(let pattern): return globMatch(pattern[...], Array(line)[...])
            case .approx(let text, let tolerance, let relative):
                return approxMatch(text, line, tolerance: tolerance, relative: relative)
            }
        }
    }
}

/// `*` any run, `?` one character, backslash escapes the next character.
func globMatch(_ pattern: ArraySlice<Character>, _ text: ArraySlice<Character>) -> Bool {
    var p = pattern.startIndex, t = text.startIndex
    var starP: Int?, starT = 0
    while t < text.endIndex {
        if p < pattern.endIndex, pattern[p] == "\\", p + 1 < pattern.endIndex, pattern[p + 1] == text[t] {
            p += 2; t += 1
        } else if p < pattern.endIndex, pattern[p] == "?" || (pattern[p] == text[t] && pattern[p] != "*" && pattern[p] != "\\") {
            p += 1; t += 1
        } else if p < pattern.endIndex, pattern[p] == "*" {
            starP = p; starT = t; p += 1
        } else if let s = starP {
            // Backtrack: let the last `*` absorb one more character.
            p = s + 1; starT += 1; t = starT
        } else {
            return false
        }
    }
    while p < pattern.endIndex, pattern[p] == "*" { p += 1 }
    return p == pattern.endIndex
}

/// Equal text between numbers, and each pair of numbers within the tolerance.
func approxMatch(_ expected: String, _ actual: String, tolerance: Double, relative: Bool) -> Bool {
    let e = numberSegments(expected), a = numberSegments(actual)
    guard e.count == a.count else { return false }
    for (x, y) in zip(e, a) {
        switch (x, y) {
        case (.text(let s), .text(let t)) where s == t: continue
        case (.number(let u), .number(let v)):
            let allowed = relative ? abs(u) * tolerance / 100 : tolerance
            if abs(u - v) > allowed * (1 + 1e-12) { return false }
        default: return false
        }
    }
    return true
}

enum Segment: Equatable { case text(String), number(Double) }

/// Splits a line into runs of text and decimal numbers (`-0.25`, `1e-3`, `42`).
func numberSegments(_ line: String) -> [Segment] {
    let chars = Array(line)
    var segments: [Segment] = []
    var text = ""
    var i = 0
    while i < chars.count {
        let startsNumber = chars[i].isASCIIDigit
            || (chars[i] == "-" && i + 1 < chars.count && chars[i + 1].isASCIIDigit
                && (i == 0 || !(chars[i - 1].isLetter || chars[i - 1].isASCIIDigit)))
        guard startsNumber else { text.append(chars[i]); i += 1; continue }
        var j = i + 1
        while j < chars.count, chars[j].isASCIIDigit || chars[j] == "." { j += 1 }
        if j < chars.count, chars[j] == "e" || chars[j] == "E" {
            var k = j + 1
            if k < chars.count, chars[k] == "-" || chars[k] == "+" { k += 1 }
            if k < chars.count, chars[k].isASCIIDigit {
                j = k
                while j < chars.count, chars[j].isASCIIDigit { j += 1 }
            }
        }
        guard let value = Double(String(chars[i..<j])) else { text.append(chars[i]); i += 1; continue }
        if !text.isEmpty { segments.append(.text(text)); text = "" }
        segments.append(.number(value))
        i = j
    }
    if !text.isEmpty { segments.append(.text(text)) }
    return segments
}
