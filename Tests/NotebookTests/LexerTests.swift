import Testing
@testable import Notebook

@Suite struct LexerTests {
    func kinds(_ text: String) throws -> [Token.Kind] {
        try Lexer.tokenize(text).map(\.kind)
    }

    @Test func wordsNumbersStringsAndKeys() throws {
        #expect(try kinds(#"train steps=100 lr=1e-3 ask "hi there" -2 0.5 ./a/b.png"#) == [
            .word("train"),
            .keyValue(key: "steps", value: Token(.number("100"), line: 1, column: 13)),
            .keyValue(key: "lr", value: Token(.number("1e-3"), line: 1, column: 20)),
            .word("ask"), .string("hi there"), .number("-2"), .number("0.5"), .word("./a/b.png"), .newline,
        ])
    }

    @Test func positionsAreOneBased() throws {
        let tokens = try Lexer.tokenize("  show img 3\nquit", firstLine: 10)
        #expect(tokens.map { [$0.line, $0.column] } == [[10, 3], [10, 8], [10, 12], [10, 13], [11, 1], [11, 5]])
    }

    @Test func escapes() throws {
        #expect(try kinds(#""a\"b\\c\nd\te""#) == [.string("a\"b\\c\nd\te"), .newline])
        #expect(try kinds(#"question="What's \"this\"?""#) == [
            .keyValue(key: "question", value: Token(.string("What's \"this\"?"), line: 1, column: 10)), .newline,
        ])
    }

    @Test func singleQuotesAndApostrophes() throws {
        #expect(try kinds("ask 'hi' what's") == [.word("ask"), .string("hi"), .word("what's"), .newline])
    }

    @Test func numbersVersusWords() throws {
        #expect(try kinds("1 -1 +2 1.5 .5 1e3 1E-3 1e 1.2.3 - e5 12abc") == [
            .number("1"), .number("-1"), .number("+2"), .number("1.5"), .number(".5"), .number("1e3"),
            .number("1E-3"), .word("1e"), .word("1.2.3"), .word("-"), .word("e5"), .word("12abc"), .newline,
        ])
        #expect(Token(.number("-7"), line: 1, column: 1).intValue == -7)
        #expect(Token(.number("1e-3"), line: 1, column: 1).intValue == nil)
        #expect(Token(.number("1e-3"), line: 1, column: 1).doubleValue == 0.001)
    }

    @Test func commentsAndBlankLines() throws {
        #expect(try kinds("# a comment\n\nshow img 1 # trailing\n   # indented\n") == [
            .word("show"), .word("img"), .number("1"), .newline,
        ])
        #expect(try kinds("load image a#1.png as x") == [
            .word("load"), .word("image"), .word("a#1.png"), .word("as"), .word("x"), .newline,
        ])
    }

    @Test func lineContinuation() throws {
        let tokens = try Lexer.tokenize("train \\\n  steps=5\nquit")
        #expect(tokens.map(\.kind) == [
            .word("train"), .keyValue(key: "steps", value: Token(.number("5"), line: 2, column: 9)), .newline,
            .word("quit"), .newline,
        ])
        #expect(tokens[1].line == 2 && tokens[1].column == 3)
    }

    @Test func stringsMaySpanLines() throws {
        #expect(try kinds("ask \"one\ntwo\"") == [.word("ask"), .string("one\ntwo"), .newline])
    }

    @Test func unterminatedStringPointsAtOpeningQuote() {
        #expect(throws: NotebookError(line: 3, column: 5, message: "unterminated string")) {
            try Lexer.tokenize("ask \"what digit", firstLine: 3)
        }
        #expect(throws: NotebookError(line: 1, column: 19, message: "unterminated string")) {
            try Lexer.tokenize("eval n=3 question=\"abc")
        }
    }

    @Test func unknownEscape() {
        #expect(throws: NotebookError(line: 1, column: 8, message: #"unknown escape '\q' in string (use \" \\ \n \t)"#)) {
            try Lexer.tokenize(#"ask "ab\q""#)
        }
    }

    @Test func needsMoreInput() {
        #expect(Lexer.needsMoreInput("train \\"))
        #expect(Lexer.needsMoreInput("ask \"open"))
        #expect(!Lexer.needsMoreInput("ask \"closed\""))
        #expect(!Lexer.needsMoreInput("ask \"bad \\q\""))
        #expect(!Lexer.needsMoreInput(""))
    }
}

/// The line editor's non-terminal path: continuation driven by `Lexer.needsMoreInput`.
extension LexerTests {
    @Test func pipedLineEditorReadsContinuations() throws {
        let editor = LineEditor(historyPath: nil, interactive: false)
        var lines = ["show img 1", "train \\", "  steps=5", "ask \"two", "lines\"", "quit"][...]
        editor.pipedInput = { lines.popFirst() }
        var read: [LineEditor.Input] = []
        while true {
            let input = editor.readStatement()
            read.append(input)
            if input == .endOfInput { break }
        }
        #expect(read == [.line("show img 1"), .line("train \\\n  steps=5"), .line("ask \"two\nlines\""),
                         .line("quit"), .endOfInput])
        #expect(editor.sessionHistory.count == 4)
        #expect(LineEditor.historyEntry("train \\\n  steps=5") == "train    steps=5")
        #expect(LineEditor.historyEntry("ask \"two\nlines\"") == "ask \"two\\nlines\"")
        // The history form lexes back to the same statement.
        #expect(try Parser.parseStatement(LineEditor.historyEntry("ask \"two\nlines\"")) == .ask(
            question: "two\nlines", image: nil, sampling: SamplingOptions()))
    }
}

/// Limits that turn hostile input into one clear error before anything large is allocated.
extension LexerTests {
    func lexError(_ text: String) -> String {
        do {
            _ = try Lexer.tokenize(text)
            return "no error"
        } catch {
            return error.description
        }
    }

    @Test func lineLengthLimit() {
        let long = String(repeating: "a", count: Lexer.maxLineCharacters)
        #expect(lexError("show " + long) == "1:65537: line longer than 65536 characters")
        #expect(lexError("quit\n" + long) == "no error")
        #expect(!Lexer.needsMoreInput("ask \"" + long + long))   // too long: run it to see the error
    }

    @Test func stringLengthLimit() {
        // A quoted string may span lines, each of them short.
        let line = String(repeating: "b", count: 1000) + "\n"
        #expect(lexError("ask \"" + String(repeating: line, count: 66) + "\"")
                == "1:5: string longer than 65536 characters")
        #expect(lexError("ask \"" + String(repeating: line, count: 65) + "\"") == "no error")
    }

    @Test func inputSizeLimit() {
        let text = String(repeating: "quit\n", count: Lexer.maxInputBytes / 5 + 1)
        #expect(lexError(text) == "1:1: input is 4194305 bytes, more than the 4 MiB limit")
    }
}
