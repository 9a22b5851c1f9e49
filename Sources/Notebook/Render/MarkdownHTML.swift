// A small Markdown → HTML converter for the prose of rendered notebooks (no dependency):
// ATX headings, paragraphs, fenced code, block quotes, bullet and numbered lists, pipe
// tables, rules; inline code, bold, italics, links, images and autolinks. Everything else is
// text, HTML-escaped: a workflow's prose can never inject markup or scripts into the page
// (raw HTML in the Markdown is shown as text, not passed through).

enum MarkdownHTML {
    static func convert(_ markdown: String) -> String {
        var lines = markdown.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? String($0.dropLast()) : String($0)
        }
        var out: [String] = []
        var paragraph: [String] = []
        func flush() {
            if !paragraph.isEmpty { out.append("<p>" + inline(paragraph.joined(separator: "\n")) + "</p>") }
            paragraph = []
        }
        var i = 0
        while i < lines.count {
            let line = lines[i]
            let trimmed = line.trimmingWhitespace()
            if trimmed.isEmpty { flush(); i += 1; continue }
            if let fence = Fence(opening: Substring(line)) {
                flush()
                var body: [String] = []
                i += 1
                while i < lines.count, !fence.isClosed(by: Substring(lines[i])) { body.append(lines[i]); i += 1 }
                i += 1
                let language = fence.language.isEmpty ? "" : " class=\"language-\(escape(fence.language))\""
                out.append("<pre><code\(language)>" + escape(body.joined(separator: "\n")) + "</code></pre>")
                continue
            }
            if let (level, text) = heading(trimmed) {
                flush()
                out.append("<h\(level)>" + inline(text) + "</h\(level)>")
                i += 1
                continue
            }
            if trimmed.count >= 3, Set(trimmed.filter { !$0.isWhitespace }).count == 1,
               let c = trimmed.first, "-*_".contains(c), paragraph.isEmpty {
                out.append("<hr>")
                i += 1
                continue
            }
            if trimmed.hasPrefix(">") {
                flush()
                var quoted: [String] = []
                while i < lines.count, lines[i].trimmingWhitespace().hasPrefix(">") {
                    let q = lines[i].trimmingWhitespace().dropFirst()
                    quoted.append(String(q.hasPrefix(" ") ? q.dropFirst() : q))
                    i += 1
                }
                out.append("<blockquote>" + convert(quoted.joined(separator: "\n")) + "</blockquote>")
                continue
            }
            if listMarker(trimmed) != nil {
                flush()
                let ordered = listMarker(trimmed)!.ordered
                var items: [String] = []
                while i < lines.count {
                    let t = lines[i].trimmingWhitespace()
                    if let m = listMarker(t), m.ordered == ordered {
                        items.append(m.text)
                    } else if !t.isEmpty, !items.isEmpty, lines[i].hasPrefix(" ") {
                        items[items.count - 1] += "\n" + t   // a continuation line of the item
                    } else {
                        break
                    }
                    i += 1
                }
                let tag = ordered ? "ol" : "ul"
                out.append("<\(tag)>" + items.map { "<li>" + inline($0) + "</li>" }.joined() + "</\(tag)>")
                continue
            }
            if trimmed.hasPrefix("|"), i + 1 < lines.count, isTableRule(lines[i + 1]) {
                flush()
                let header = cells(trimmed)
                i += 2
                var rows: [[String]] = []
                while i < lines.count, lines[i].trimmingWhitespace().hasPrefix("|") {
                    rows.append(cells(lines[i].trimmingWhitespace()))
                    i += 1
                }
                var table = "<table><thead><tr>" + header.map { "<th>" + inline($0) + "</th>" }.joined() + "</tr></thead><tbody>"
                for row in rows { table += "<tr>" + row.map { "<td>" + inline($0) + "</td>" }.joined() + "</tr>" }
                out.append(table + "</tbody></table>")
                continue
            }
            paragraph.append(trimmed)
            i += 1
        }
        flush()
        lines = []
        return out.joined(separator: "\n")
    }

    static func heading(_ line: String) -> (Int, String)? {
        let hashes = line.prefix(while: { $0 == "#" }).count
        guard (1...6).contains(hashes) else { return nil }
        let rest = line.dropFirst(hashes)
        guard rest.isEmpty || rest.first == " " else { return nil }
        var text = rest.trimmingWhitespace()
        while text.hasSuffix("#") { text.removeLast() }
        return (hashes, text.trimmingWhitespace())
    }

    static func listMarker(_ line: String) -> (ordered: Bool, text: String)? {
        if let c = line.first, "-*+".contains(c), line.dropFirst().first == " " {
            return (false, String(line.dropFirst(2)))
        }
        let digits = line.prefix(while: \.isASCIIDigit)
        if !digits.isEmpty, digits.count <= 9 {
            let rest = line.dropFirst(digits.count)
            if rest.hasPrefix(". ") || rest.hasPrefix(") ") { return (true, String(rest.dropFirst(2))) }
        }
        return nil
    }

    static func isTableRule(_ line: String) -> Bool {
        let t = line.trimmingWhitespace()
        return t.hasPrefix("|") && t.contains("-") && t.allSatisfy { "|-: ".contains($0) }
    }

    static func cells(_ row: String) -> [String] {
        var t = Substring(row)
        if t.hasPrefix("|") { t = t.dropFirst() }
        if t.hasSuffix("|") { t = t.dropLast() }
        return t.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingWhitespace() }
    }

    // MARK: - Inline

    /// Inline markup of one paragraph (already split into blocks).
    static func inline(_ text: String) -> String {
        let chars = Array(text)
        var out = ""
        var i = 0
        func find(_ target: String, from start: Int) -> Int? {
            let t = Array(target)
            guard t.count <= chars.count else { return nil }
            var j = start
            while j + t.count <= chars.count {
                if Array(chars[j..<j + t.count]) == t { return j }
                j += 1
            }
            return nil
        }
        while i < chars.count {
            let c = chars[i]
            if c == "\\", i + 1 < chars.count, "\\`*_[]()#+-.!<>|".contains(chars[i + 1]) {
                out += escape(String(chars[i + 1])); i += 2; continue
            }
            if c == "`" {
                let run = chars[i...].prefix(while: { $0 == "`" }).count
                if let close = find(String(repeating: "`", count: run), from: i + run) {
                    out += "<code>" + escape(String(chars[(i + run)..<close]).trimmingWhitespace()) + "</code>"
                    i = close + run
                    continue
                }
            }
            if c == "*" || c == "_" {
                let double = i + 1 < chars.count && chars[i + 1] == c
                let marker = String(repeating: String(c), count: double ? 2 : 1)
                // `_` inside a word (snake_case) is not emphasis.
                let wordBefore = i > 0 && (chars[i - 1].isLetter || chars[i - 1].isNumber)
                if !(c == "_" && wordBefore), i + marker.count < chars.count, !chars[i + marker.count].isWhitespace,
                   let close = find(marker, from: i + marker.count), close > i + marker.count {
                    let tag = double ? "strong" : "em"
                    out += "<\(tag)>" + inline(String(chars[(i + marker.count)..<close])) + "</\(tag)>"
                    i = close + marker.count
                    continue
                }
            }
            if c == "!" || c == "[", let link = parseLink(chars, at: c == "!" ? i + 1 : i), c == "[" || chars[i + 1] == "[" {
                let url = escape(safeURL(link.url))
                if c == "!" {
                    out += "<img src=\"\(url)\" alt=\"\(escape(link.text))\">"
                } else {
                    out += "<a href=\"\(url)\">" + inline(link.text) + "</a>"
                }
                i = link.end
                continue
            }
            if c == "<", let close = find(">", from: i + 1) {
                let inner = String(chars[(i + 1)..<close])
                if inner.hasPrefix("http://") || inner.hasPrefix("https://"), !inner.contains(" ") {
                    out += "<a href=\"\(escape(inner))\">\(escape(inner))</a>"
                    i = close + 1
                    continue
                }
            }
            out += escape(String(c))
            i += 1
        }
        return out
    }

    /// `[text](url)` starting at `start` (the `[`).
    static func parseLink(_ chars: [Character], at start: Int) -> (text: String, url: String, end: Int)? {
        guard start < chars.count, chars[start] == "[" else { return nil }
        var depth = 0, j = start
        while j < chars.count {
            if chars[j] == "[" { depth += 1 }
            if chars[j] == "]" { depth -= 1; if depth == 0 { break } }
            j += 1
        }
        guard j + 1 < chars.count, chars[j + 1] == "(", let close = chars[(j + 2)...].firstIndex(of: ")") else { return nil }
        let url = String(chars[(j + 2)..<close]).trimmingWhitespace()
        return (String(chars[(start + 1)..<j]), url.split(separator: " ").first.map(String.init) ?? "", close + 1)
    }

    /// Links may not run script: `javascript:` and other non-web schemes become `#`.
    static func safeURL(_ url: String) -> String {
        let lower = url.lowercased()
        guard let colon = lower.firstIndex(of: ":"), !lower[..<colon].contains("/") else { return url }
        let scheme = lower[..<colon]
        return ["http", "https", "mailto"].contains(String(scheme)) ? url : "#"
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}
