// The command language: lexer, parser, and what the REPL asks of them.
import Notebook
import CFuzz
import Foundation

func fuzz(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    _ = Lexer.needsMoreInput(text)
    do {
        _ = try Parser.parseProgram(text, firstLine: 1, file: "fuzz")
    } catch {
        _ = error.description
        _ = error.annotated(source: text)
    }
    _ = try? Parser.parseStatement(text)
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(UnsafeRawPointer(data), size) })
