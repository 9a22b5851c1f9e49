// The notebook's lexer: statement text → tokens that remember where they came from.
//
// One statement per line. Tokens are bare words (command names, paths, identifiers),
// numbers, quoted strings and `key=value` pairs; `#` at the start of a token begins a
// comment. A backslash at the very end of a line joins it with the next, and a quoted string
// may span lines, so long `ask` prompts can be typed over several lines (the REPL asks
// `Lexer.needsMoreInput` whether to show a continuation prompt).

/// One lexical token with its 1-based source position (column counts characters).
public struct Token: Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        /// A bare word: a command name, identifier, path or anything else unquoted.
        case word(String)
        /// A numeric literal as written (`12`, `-3`, `0.5`, `1e-3`); see `Token.intValue`.
        case number(String)
        /// A quoted string with its escapes (`\" \\ \n \t`) resolved.
        case string(String)
        /// `key=value`; the value is a word, number or string token with its own position.
        indirect case keyValue(key: String, value: Token)
        /// The end of a logical line (a statement separator).
        case newline
    }

    public var kind: Kind
    public var line: Int
    public var column: Int

    public init(_ kind: Kind, line: Int, column: Int) {
        self.kind = kind
        self.line = line
        self.column = column
    }

    /// The value as an integer when the token is an integer literal.
    public var intValue: Int? {
        guard case .number(let text) = kind else { return nil }
        return Int(text.hasPrefix("+") ? String(text.dropFirst()) : text)
    }

    /// The value as a floating-point number when the token is any numeric literal.
    public var doubleValue: Double? {
        guard case .number(let text) = kind else { return nil }
        return Double(text)
    }

    /// The token's text for messages: words and numbers as written, strings unquoted.
    public var text: String {
        switch kind {
        case .word(let w): return w
        case .number(let n): return n
        case .string(let s): return s
        case .keyValue(let key, let value): return "\(key)=\(value.text)"
        case .newline: return "end of line"
        }
    }
}

/// Turns statement text into tokens. Stateless; all entry points are static.
public enum Lexer {
    /// Tokenizes `text` (one or more lines); `firstLine` is the file line of its first line,
    /// so positions in errors are absolute. Every logical line ends with a `.newline` token.
    public static func tokenize(_ text: String, firstLine: Int = 1) throws(NotebookError) -> [Token] {
        try checkLimits(text, firstLine: firstLine)
        var scanner = Scanner(Array(text), line: firstLine)
        return try scanner.run()
    }

    /// The most text one call reads (4 MiB of UTF-8; a workflow block or a pasted script).
    public static let maxInputBytes = 4 << 20
    /// The longest line, and so the longest word or quoted string on one line, in characters.
    public static let maxLineCharacters = 65_536
    /// The longest word or quoted string (which may span lines), in characters.
    public static let maxTokenCharacters = 65_536

    /// Refuses oversized input before it is copied into a character array.
    static func checkLimits(_ text: String, firstLine: Int) throws(NotebookError) {
        guard text.utf8.count <= maxInputBytes else {
            throw NotebookError(line: firstLine, column: 1,
                                message: "input is \(text.utf8.count) bytes, more than the \(maxInputBytes >> 20) MiB limit")
        }
        var line = firstLine, length = 0
        for c in text {
            if c.isLineBreak { line += 1; length = 0; continue }
            length += 1
            if length > maxLineCharacters {
                throw NotebookError(line: line, column: length,
                                    message: "line longer than \(maxLineCharacters) characters")
            }
        }
    }

    /// Whether `text` stops in the middle of a statement: a trailing `\` continuation or an
    /// open quoted string. The REPL then reads another line and appends it after a newline.
    public static func needsMoreInput(_ text: String) -> Bool {
        if (try? checkLimits(text, firstLine: 1)) == nil { return false }  // the error shows when it runs
        var scanner = Scanner(Array(text), line: 1)
        do {
            _ = try scanner.run()
            return scanner.endedWithContinuation
        } catch {
            return scanner.unterminatedString
        }
    }

    /// Whether `text` is a number literal: optional sign, digits with an optional fraction,
    /// optional exponent (`-3`, `0.5`, `.5`, `1e-3`).
    static func isNumber(_ text: Substring) -> Bool {
        var chars = text[...]
        if let first = chars.first, first == "+" || first == "-" { chars = chars.dropFirst() }
        let intDigits = chars.prefix(while: \.isASCIIDigit)
        chars = chars.dropFirst(intDigits.count)
        var fracDigits: Substring = ""
        if chars.first == "." {
            chars = chars.dropFirst()
            fracDigits = chars.prefix(while: \.isASCIIDigit)
            chars = chars.dropFirst(fracDigits.count)
        }
        guard !intDigits.isEmpty || !fracDigits.isEmpty else { return false }
        if let e = chars.first, e == "e" || e == "E" {
            chars = chars.dropFirst()
            if let sign = chars.first, sign == "+" || sign == "-" { chars = chars.dropFirst() }
            let expDigits = chars.prefix(while: \.isASCIIDigit)
            guard !expDigits.isEmpty else { return false }
            chars = chars.dropFirst(expDigits.count)
        }
        return chars.isEmpty
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
    /// `\n` or `\r\n` (a single Character in Swift).
    var isLineBreak: Bool { self == "\n" || self == "\r\n" || self == "\r" }
}

// MARK: - Scanner

/// A cursor over the characters of a statement text, tracking line and column.
private struct Scanner {
    let chars: [Character]
    var index = 0
    var line: Int
    var column = 1
    var tokens: [Token] = []
    /// Set when the text ends right after a `\` line continuation.
    var endedWithContinuation = false
    /// Set when the text ends inside a quoted string.
    var unterminatedString = false

    init(_ chars: [Character], line: Int) {
        self.chars = chars
        self.line = line
    }

    var current: Character? { index < chars.count ? chars[index] : nil }
    func peek(_ offset: Int = 1) -> Character? {
        index + offset < chars.count ? chars[index + offset] : nil
    }

    mutating func advance() {
        if chars[index].isLineBreak { line += 1; column = 1 } else { column += 1 }
        index += 1
    }

    mutating func run() throws(NotebookError) -> [Token] {
        while let c = current {
            if c.isLineBreak {
                emitNewline()
                advance()
            } else if c == "\\" && (peek() == nil || peek()!.isLineBreak) {
                // Line continuation: the backslash and the line break act as a space.
                advance()
                if current == nil { endedWithContinuation = true } else { advance() }
            } else if c.isWhitespace {
                advance()
            } else if c == "#" {
                while let d = current, !d.isLineBreak { advance() }
            } else {
                tokens.append(try scanToken())
            }
        }
        emitNewline()
        return tokens
    }

    mutating func emitNewline() {
        // Only one separator per logical line, and none for blank or comment-only lines.
        if let last = tokens.last, last.kind != .newline {
            tokens.append(Token(.newline, line: line, column: column))
        }
    }

    /// A word, number, string or key=value starting at the current character.
    mutating func scanToken() throws(NotebookError) -> Token {
        let (startLine, startColumn) = (line, column)
        if current == "\"" || current == "'" {
            return Token(.string(try scanString()), line: startLine, column: startColumn)
        }
        let bare = scanBare()
        // `key=value`: a non-empty key made of identifier characters, then the value.
        if let eq = bare.firstIndex(of: "="), eq != bare.startIndex,
           bare[..<eq].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) {
            let key = String(bare[..<eq])
            let rest = bare[bare.index(after: eq)...]
            let valueColumn = startColumn + key.count + 1
            let value: Token
            if rest.isEmpty, current == "\"" || current == "'" {
                value = Token(.string(try scanString()), line: line, column: valueColumn)
            } else {
                value = Token(Self.classify(rest), line: startLine, column: valueColumn)
            }
            return Token(.keyValue(key: key, value: value), line: startLine, column: startColumn)
        }
        return Token(Self.classify(bare), line: startLine, column: startColumn)
    }

    static func classify(_ text: Substring) -> Token.Kind {
        Lexer.isNumber(text) ? .number(String(text)) : .word(String(text))
    }

    /// Characters up to whitespace or a quote (a quote right after `=` starts the value).
    mutating func scanBare() -> Substring {
        var text = ""
        // A word ends at whitespace, so the line-length check already bounds it.
        while let c = current, !c.isWhitespace, c != "\"" {
            // An apostrophe inside a word is literal (`what's`); after `=` it opens the value.
            if c == "'" && text.last == "=" { break }
            text.append(c)
            advance()
        }
        return Substring(text)
    }

    /// A quoted string; the error for a missing closing quote points at the opening one.
    mutating func scanString() throws(NotebookError) -> String {
        let quote = current!
        let (openLine, openColumn) = (line, column)
        advance()
        var value = ""
        var length = 0
        while let c = current {
            if c == quote { advance(); return value }
            length += 1
            guard length <= Lexer.maxTokenCharacters else {
                throw NotebookError(line: openLine, column: openColumn,
                                    message: "string longer than \(Lexer.maxTokenCharacters) characters")
            }
            if c == "\\" {
                let (escLine, escColumn) = (line, column)
                advance()
                guard let e = current else { break }
                switch e {
                case "\"": value.append("\"")
                case "'": value.append("'")
                case "\\": value.append("\\")
                case "n": value.append("\n")
                case "t": value.append("\t")
                case _ where e.isLineBreak: break  // continuation inside a string
                default:
                    throw NotebookError(line: escLine, column: escColumn,
                                        message: "unknown escape '\\\(e)' in string (use \\\" \\\\ \\n \\t)")
                }
                advance()
                continue
            }
            value.append(c == "\r\n" ? "\n" : c)
            advance()
        }
        unterminatedString = true
        throw NotebookError(line: openLine, column: openColumn, message: "unterminated string")
    }
}
