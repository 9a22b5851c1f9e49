// The parser: tokens → `Statement`, driven by one table of `CommandSpec`s.
//
// The same table gives parsing, `help` text and tab completion, so they cannot disagree
// (swift-argument-parser's idea, shrunk). Each spec names its command (and subcommand), its
// positional arguments, its `key=value` arguments with types and defaults, bare flags, and a
// `build` function from checked arguments to the typed `Statement` case.

// MARK: - Errors

/// Every error of the command language and workflow files: a message and where it applies.
/// Rendered `LINE:COL: message`, or `FILE:LINE:COL: message` when the file is known
/// (`FILE:LINE: message` for errors about whole lines, such as an unclosed block, and
/// `FILE: message` with `line` 0 for errors about a whole file).
public struct NotebookError: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String?
    public var line: Int
    public var column: Int?
    public var message: String

    public init(file: String? = nil, line: Int, column: Int? = nil, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String {
        var parts: [String] = []
        if let file { parts.append(file) }
        if line > 0 {
            parts.append(String(line))
            if let column { parts.append(String(column)) }
        }
        return parts.isEmpty ? message : parts.joined(separator: ":") + ": " + message
    }

    /// The error with the source line it points into and a caret under the column, for the
    /// REPL. `source` is the text the line numbers count in; `firstLine` its first line number.
    public func annotated(source: String, firstLine: Int = 1) -> String {
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false)
        let index = line - firstLine
        guard lines.indices.contains(index) else { return description }
        var out = description + "\n  " + lines[index]
        if let column { out += "\n  " + String(repeating: " ", count: max(0, column - 1)) + "^" }
        return out
    }

    func inFile(_ file: String?) -> NotebookError {
        var copy = self
        if copy.file == nil { copy.file = file }
        return copy
    }
}

// MARK: - Entry points

/// Statement text → statements. Stateless.
public enum Parser {
    /// Parses every statement in `text` (one per logical line; blank and comment lines are
    /// skipped). `firstLine` is the file line of the text's first line; `file` goes into errors.
    public static func parseProgram(_ text: String, firstLine: Int = 1,
                                    file: String? = nil) throws(NotebookError) -> [LocatedStatement] {
        do {
            let tokens = try Lexer.tokenize(text, firstLine: firstLine)
            // Split where the lexer counts lines (\n, \r\n and a lone \r), so token lines index it.
            let sourceLines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isLineBreak)
            var result: [LocatedStatement] = []
            var start = 0
            for (i, token) in tokens.enumerated() where token.kind == .newline {
                let lineTokens = Array(tokens[start..<i])
                start = i + 1
                guard let first = lineTokens.first else { continue }
                let statement = try parse(lineTokens)
                // Source text: from the first token's line through the line that ended it.
                let last = sourceLines.count - 1
                let from = min(first.line - firstLine, last), to = min(max(from, token.line - firstLine), last)
                let text = sourceLines[from...to].map(String.init).joined(separator: "\n").trimmingWhitespace()
                result.append(LocatedStatement(statement, line: first.line, column: first.column, text: text))
            }
            return result
        } catch {
            throw error.inFile(file)
        }
    }

    /// Parses exactly one statement; `nil` for a blank or comment-only text.
    public static func parseStatement(_ text: String, line: Int = 1) throws(NotebookError) -> Statement? {
        let statements = try parseProgram(text, firstLine: line)
        if statements.count > 1 {
            throw NotebookError(line: statements[1].line, column: statements[1].column,
                                message: "expected one statement, found \(statements.count)")
        }
        return statements.first?.statement
    }

    /// How deeply commands may nest (`time time … STATEMENT`): each level is a recursion.
    public static let maxNesting = 8

    /// Parses the tokens of one logical line (no `.newline` tokens, at least one token).
    /// `depth` counts the commands this one is nested in.
    static func parse(_ tokens: [Token], depth: Int = 0) throws(NotebookError) -> Statement {
        let head = tokens[0]
        guard depth <= maxNesting else {
            throw NotebookError(line: head.line, column: head.column,
                                message: "commands nested too deeply (at most \(maxNesting) levels)")
        }
        guard case .word(let rawName) = head.kind else {
            throw NotebookError(line: head.line, column: head.column,
                                message: "expected a command, got '\(head.text)' (try 'help')")
        }
        let name = CommandSpec.aliases[rawName] ?? rawName
        let candidates = CommandSpec.all.filter { $0.name == name }
        guard !candidates.isEmpty else {
            let hint = suggestion(for: rawName, among: CommandSpec.commandNames)
                .map { "did you mean '\($0)'?" } ?? "try 'help'"
            throw NotebookError(line: head.line, column: head.column,
                                message: "unknown command '\(rawName)' (\(hint))")
        }
        var rest = tokens.dropFirst()
        let spec: CommandSpec
        if candidates.count == 1, candidates[0].subcommand == nil {
            spec = candidates[0]
        } else if let bare = candidates.first(where: { $0.subcommand == nil }), rest.first.map({ token in
            if case .keyValue = token.kind { true } else { false } }) ?? true {
            // A command with subcommands may also have a form without one (`project digit=3`
            // beside `project img 3`); it takes the line when no word follows the command.
            spec = bare
        } else {
            let subs = candidates.compactMap(\.subcommand)
            guard let subToken = rest.first else {
                throw NotebookError(line: head.line, column: head.column,
                                    message: "\(name) expects one of: \(subs.joined(separator: ", "))")
            }
            guard case .word(let sub) = subToken.kind, let match = candidates.first(where: { $0.subcommand == sub }) else {
                let hint = suggestion(for: subToken.text, among: subs).map { "did you mean '\($0)'?" }
                    ?? "expected one of: \(subs.joined(separator: ", "))"
                throw NotebookError(line: subToken.line, column: subToken.column,
                                    message: "unknown subcommand '\(subToken.text)' for \(name) (\(hint))")
            }
            spec = match
            rest = rest.dropFirst()
        }
        let arguments = try spec.bind(Array(rest), head: head, depth: depth)
        return try spec.build(arguments)
    }
}

// MARK: - Did you mean

/// The closest of `candidates` to `word` when it is close enough to be a likely typo:
/// at most one edit for short words and two for longer ones (a swap counts as one edit),
/// or the only candidate that `word` is a prefix of.
public func suggestion(for word: String, among candidates: [String]) -> String? {
    let limit = word.count <= 3 ? 1 : 2
    // Lengths differing by more than the limit cannot be within it: skip the quadratic
    // distance (a pasted megabyte-long word would otherwise cost a megabyte-row table).
    let scored = candidates.filter { abs($0.count - word.count) <= limit }
        .map { ($0, editDistance(word, $0)) }.filter { $0.1 <= limit }
    if let best = scored.min(by: { $0.1 < $1.1 }) { return best.0 }
    let prefixed = candidates.filter { $0.hasPrefix(word) }
    return !word.isEmpty && prefixed.count == 1 ? prefixed[0] : nil
}

/// Optimal-string-alignment distance: insertions, deletions, substitutions and adjacent swaps.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
    var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
    for i in 0...a.count { d[i][0] = i }
    for j in 0...b.count { d[0][j] = j }
    for i in 1...a.count {
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
            }
        }
    }
    return d[a.count][b.count]
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}

// MARK: - Command specs

/// One command form: what it accepts, how it is documented, and how it builds its statement.
public struct CommandSpec: Sendable {
    /// A positional argument.
    public struct Positional: Sendable {
        public enum Kind: Sendable, Equatable {
            /// A typed value (a word, number or quoted string).
            case value(ValueType)
            /// A fixed word, e.g. `as` in `load image PATH as NAME`.
            case keyword(String)
            /// The rest of the line as a nested statement (`time STATEMENT`).
            case statement
            /// A setting name (`get KEY`).
            case setting
            /// `KEY=VALUE` for a setting (`set`).
            case assignment
            /// A command name (`help CMD`).
            case command
        }
        public var name: String
        public var kind: Kind
        public var optional: Bool
    }

    /// A `key=value` argument.
    public struct Key: Sendable {
        public var name: String
        public var type: ValueType
        public var help: String
        /// Used when the key is absent; `nil` leaves the statement's field `nil`.
        public var defaultValue: SettingValue?
        /// The session setting used when the key is absent (shown in help).
        public var setting: Setting?
        /// The form cannot do without it (`project digit=D`); shown without brackets in usage.
        public var required = false
    }

    public var name: String
    public var subcommand: String?
    public var positionals: [Positional] = []
    public var keys: [Key] = []
    /// Bare words that switch something on (`eval greedy`); also accepted as `greedy=true`.
    public var flags: [(name: String, help: String)] = []
    /// One line for the `help` overview.
    public var summary: String
    /// Paragraphs for `help CMD`.
    public var details: String = ""
    let build: @Sendable (Arguments) throws(NotebookError) -> Statement

    /// The command words: `load model`, `train`.
    public var fullName: String { [name, subcommand].compactMap { $0 }.joined(separator: " ") }

    /// `train [steps=N] [lr=X] …`, generated from the spec.
    public var usage: String {
        var parts = [fullName]
        for p in positionals {
            let text: String
            switch p.kind {
            case .keyword(let word): text = word
            case .assignment: text = "KEY=VALUE"
            case .setting: text = "KEY"
            case .command: text = "CMD"
            default: text = p.name
            }
            parts.append(p.optional ? "[\(text)]" : text)
        }
        for key in keys {
            let text = "\(key.name)=\(key.type.placeholder)"
            parts.append(key.required ? text : "[\(text)]")  // else a default, a setting, or nil
        }
        for flag in flags { parts.append("[\(flag.name)]") }
        return parts.joined(separator: " ")
    }

    /// Checked arguments handed to `build`, by positional or key name.
    public struct Arguments: Sendable {
        var values: [String: SettingValue] = [:]
        var flags: Set<String> = []
        var nested: Statement?
        var assignment: (Setting, SettingValue)?
        var setting: Setting?
        /// Where the command starts, for errors raised while building.
        var line = 0, column = 0

        func int(_ name: String) -> Int? { values[name]?.intValue }
        func double(_ name: String) -> Double? { values[name]?.doubleValue }
        func string(_ name: String) -> String? { values[name]?.stringValue }
        func flag(_ name: String) -> Bool { flags.contains(name) }
    }
}

extension CommandSpec {
    /// Matches the tokens after the command words against this spec.
    func bind(_ tokens: [Token], head: Token, depth: Int = 0) throws(NotebookError) -> Arguments {
        var args = Arguments(line: head.line, column: head.column)
        var nextPositional = 0
        var index = 0
        while index < tokens.count {
            let token = tokens[index]
            index += 1
            if case .keyValue(let key, let value) = token.kind, !(positionals.indices.contains(nextPositional)
                && [.assignment, .statement].contains(positionals[nextPositional].kind)) {
                try bindKey(key, value, token, into: &args)
                continue
            }
            if case .word(let word) = token.kind, flags.contains(where: { $0.name == word }) {
                args.flags.insert(word)
                continue
            }
            guard positionals.indices.contains(nextPositional) else {
                throw unexpected(token, after: positionals.last)
            }
            let positional = positionals[nextPositional]
            nextPositional += 1
            switch positional.kind {
            case .value(let type):
                args.values[positional.name] = try convert(token, to: type, name: positional.name)
            case .keyword(let word):
                guard token.kind == .word(word) else {
                    throw NotebookError(line: token.line, column: token.column,
                                        message: "expected '\(word)', got '\(token.text)' (usage: \(usage))")
                }
            case .statement:
                args.nested = try Parser.parse(Array(tokens[(index - 1)...]), depth: depth + 1)
                index = tokens.count
            case .setting:
                args.setting = try settingNamed(token)
            case .command:
                let name = CommandSpec.aliases[token.text] ?? token.text
                guard case .word = token.kind, CommandSpec.commandNames.contains(name) || name == "set" else {
                    let hint = suggestion(for: token.text, among: CommandSpec.commandNames)
                        .map { " (did you mean '\($0)'?)" } ?? ""
                    throw NotebookError(line: token.line, column: token.column,
                                        message: "no help for '\(token.text)'\(hint)")
                }
                args.values[positional.name] = .string(name)
            case .assignment:
                guard case .keyValue(_, let value) = token.kind else {
                    throw NotebookError(line: token.line, column: token.column,
                                        message: "expected KEY=VALUE, got '\(token.text)' (usage: \(usage))")
                }
                var keyToken = token
                if case .keyValue(let key, _) = token.kind { keyToken.kind = .word(key) }
                let setting = try settingNamed(keyToken)
                args.assignment = (setting, try convert(value, to: setting.type, name: setting.name))
            }
        }
        // Name the first missing value, not a keyword such as `as`.
        let missingArguments = positionals.dropFirst(nextPositional).filter { !$0.optional }
        if let missing = missingArguments.first(where: { if case .keyword = $0.kind { false } else { true } })
            ?? missingArguments.first {
            let what = missing.kind == .assignment ? "KEY=VALUE" : missing.name
            throw NotebookError(line: head.line, column: head.column,
                                message: "missing argument \(what) (usage: \(usage))")
        }
        if let missing = keys.first(where: { $0.required && args.values[$0.name] == nil }) {
            throw NotebookError(line: head.line, column: head.column,
                                message: "missing argument \(missing.name)=\(missing.type.placeholder) (usage: \(usage))")
        }
        for key in keys where args.values[key.name] == nil {
            args.values[key.name] = key.defaultValue
        }
        return args
    }

    private func bindKey(_ key: String, _ value: Token, _ token: Token, into args: inout Arguments) throws(NotebookError) {
        if flags.contains(where: { $0.name == key }) {
            if try convert(value, to: .bool, name: key).boolValue == true { args.flags.insert(key) }
            return
        }
        guard let spec = keys.first(where: { $0.name == key }) else {
            let names = keys.map(\.name) + flags.map(\.name)
            let hint = names.isEmpty ? "\(fullName) takes no key=value arguments"
                : suggestion(for: key, among: names).map { "did you mean '\($0)'?" }
                    ?? "expected " + names.joined(separator: ", ")
            throw NotebookError(line: token.line, column: token.column,
                                message: "unknown key '\(key)' for \(fullName) (\(hint))")
        }
        guard args.values[key] == nil else {
            throw NotebookError(line: token.line, column: token.column, message: "duplicate key '\(key)'")
        }
        args.values[key] = try convert(value, to: spec.type, name: key)
    }

    private func settingNamed(_ token: Token) throws(NotebookError) -> Setting {
        if let setting = Setting(rawValue: token.text) { return setting }
        let hint = suggestion(for: token.text, among: Setting.allCases.map(\.name))
            .map { "did you mean '\($0)'?" } ?? "see 'help set'"
        throw NotebookError(line: token.line, column: token.column,
                            message: "unknown setting '\(token.text)' (\(hint))")
    }

    private func unexpected(_ token: Token, after last: Positional?) -> NotebookError {
        var hint = ""
        if case .word(let w) = token.kind, let key = keys.first(where: { $0.name == w }) {
            hint = " (did you mean '\(key.name)=\(key.type.placeholder)'?)"
        } else if case .value(.string) = last?.kind {
            hint = " (put text with spaces in quotes)"
        } else if case .word(let w) = token.kind, let flag = suggestion(for: w, among: flags.map(\.name)) {
            hint = " (did you mean '\(flag)'?)"  // a misspelt flag: `eval greedyy`
        } else if case .word(let w) = token.kind,
                  let key = suggestion(for: w, among: keys.map(\.name)).flatMap({ k in keys.first { $0.name == k } }) {
            hint = " (did you mean '\(key.name)=\(key.type.placeholder)'?)"
        } else {
            hint = " (usage: \(usage))"
        }
        return NotebookError(line: token.line, column: token.column,
                             message: "unexpected argument '\(token.text)'\(hint)")
    }
}

/// Checks a value token against a type: `steps expects an integer, got 'abc'`.
func convert(_ token: Token, to type: ValueType, name: String) throws(NotebookError) -> SettingValue {
    let text = token.text
    func fail(_ extra: String = "") -> NotebookError {
        NotebookError(line: token.line, column: token.column,
                      message: "\(name) expects \(type.expectation), got '\(text)'\(extra)")
    }
    switch type {
    case .int:
        guard Lexer.isNumber(Substring(text)), let v = Int(text.hasPrefix("+") ? String(text.dropFirst()) : text)
        else { throw fail() }
        return .int(v)
    case .double:
        guard Lexer.isNumber(Substring(text)), let v = Double(text), v.isFinite else { throw fail() }
        return .double(v)
    case .string:
        return .string(text)
    case .path:
        guard !text.isEmpty else { throw fail() }
        return .string(text)
    case .bool:
        switch text.lowercased() {
        case "true", "yes", "on", "1": return .bool(true)
        case "false", "no", "off", "0": return .bool(false)
        default: throw fail()
        }
    case .choice(let options):
        guard options.contains(text) else {
            throw fail(suggestion(for: text, among: options).map { " (did you mean '\($0)'?)" } ?? "")
        }
        return .string(text)
    }
}
