import Foundation
import Testing
@testable import Notebook

@Suite struct ParserTests {
    func parse(_ text: String) throws -> Statement? { try Parser.parseStatement(text) }

    func error(_ text: String) -> String {
        do {
            _ = try Parser.parseStatement(text)
            return "no error"
        } catch {
            return error.description
        }
    }

    // MARK: Every command

    @Test func loadCommands() throws {
        #expect(try parse("load model") == .loadModel(nil))
        #expect(try parse("load model ~/models/Llama-3.1-8B-Instruct") == .loadModel("~/models/Llama-3.1-8B-Instruct"))
        #expect(try parse("load model \"my model.gguf\"") == .loadModel("my model.gguf"))
        #expect(try parse("load mnist") == .loadMNIST(split: nil, path: nil))
        #expect(try parse("load mnist split=test path=data/mnist") == .loadMNIST(split: .test, path: "data/mnist"))
        #expect(try parse("load projector out/proj.safetensors") == .loadProjector(path: "out/proj.safetensors"))
        #expect(try parse("load image seven.png as seven") == .loadImage(path: "seven.png", name: "seven"))
    }

    @Test func showAndProject() throws {
        #expect(try parse("show img 3") == .showImage(.index(3)))
        #expect(try parse("show image seven") == .showImage(.named("seven")))
        #expect(try parse("show batch from=10 count=5") == .showBatch(from: 10, count: 5))
        #expect(try parse("show batch") == .showBatch(from: 0, count: 8))
        #expect(try parse("show settings") == .showSettings)
        #expect(try parse("project img 0") == .project(.index(0)))
        #expect(try parse("project image seven") == .project(.named("seven")))
    }

    @Test func ask() throws {
        #expect(try parse("ask \"What digit is this?\" img=4 temp=0.7 top_p=0.95 seed=42 max=12")
            == .ask(question: "What digit is this?", image: .index(4),
                    sampling: SamplingOptions(temperature: 0.7, topP: 0.95, seed: 42, maxTokens: 12)))
        #expect(try parse("ask hello image=seven temp=1")
            == .ask(question: "hello", image: .named("seven"), sampling: SamplingOptions(temperature: 1)))
        #expect(try parse("ask \"hi\"") == .ask(question: "hi", image: nil, sampling: SamplingOptions()))
    }

    @Test func teachingAndTraining() throws {
        #expect(try parse("loss") == .loss(image: nil))
        #expect(try parse("loss img=5") == .loss(image: 5))
        #expect(try parse("grad img=5 save=g.safetensors") == .grad(image: 5, save: "g.safetensors"))
        #expect(try parse("train") == .train(TrainOptions()))
        #expect(try parse("train steps=100 lr=1e-3 batch=2 seed=7 every=10")
            == .train(TrainOptions(steps: 100, learningRate: 0.001, batch: 2, seed: 7, every: 10)))
        #expect(try parse("train lr=1") == .train(TrainOptions(learningRate: 1)))
        #expect(try parse("eval") == .eval(EvalOptions()))
        #expect(try parse("eval n=100 question=\"What is this number?\" greedy")
            == .eval(EvalOptions(count: 100, question: "What is this number?", greedy: true)))
        #expect(try parse("eval greedy=false") == .eval(EvalOptions()))
        #expect(try parse("save projector p.safetensors") == .saveProjector(path: "p.safetensors"))
        #expect(try parse("reset projector") == .resetProjector(seed: nil))
        #expect(try parse("reset projector seed=3") == .resetProjector(seed: 3))
        #expect(try parse("tokens \"The digit is 7.\"") == .tokens("The digit is 7."))
    }

    @Test func sessionCommands() throws {
        #expect(try parse("set steps=200") == .set(.steps, .int(200)))
        #expect(try parse("set lr=1e-4") == .set(.lr, .double(1e-4)))
        #expect(try parse("set temp=1") == .set(.temp, .double(1)))
        #expect(try parse("set question=\"What is this number?\"") == .set(.question, .string("What is this number?")))
        #expect(try parse("set greedy=yes") == .set(.greedy, .bool(true)))
        #expect(try parse("set format=llama3") == .set(.format, .string("llama3")))
        #expect(try parse("get seed") == .get(.seed))
        #expect(try parse("get") == .showSettings)
        #expect(try parse("time train steps=10") == .time(.train(TrainOptions(steps: 10))))
        #expect(try parse("time time show img 1") == .time(.time(.showImage(.index(1)))))
        #expect(try parse("help") == .help(nil))
        #expect(try parse("help train") == .help("train"))
        #expect(try parse("help exit") == .help("quit"))
        #expect(try parse("? load") == .help("load"))
        #expect(try parse("history") == .history)
        #expect(try parse("quit") == .quit)
        #expect(try parse("exit") == .quit)
        #expect(try parse("# only a comment") == nil)
    }

    @Test func programWithLocations() throws {
        let program = try Parser.parseProgram("show img 1\n\n  train \\\n    steps=3 # go\nquit", firstLine: 20)
        #expect(program.map(\.line) == [20, 22, 24])
        #expect(program.map(\.column) == [1, 3, 1])
        #expect(program[1].text == "train \\\n    steps=3 # go")
        #expect(program[1].statement == .train(TrainOptions(steps: 3)))
    }

    // MARK: Errors

    @Test func unknownCommandSuggests() {
        #expect(error("trian steps=5") == "1:1: unknown command 'trian' (did you mean 'train'?)")
        #expect(error("  lod model") == "1:3: unknown command 'lod' (did you mean 'load'?)")
        #expect(error("frobnicate") == "1:1: unknown command 'frobnicate' (try 'help')")
        #expect(error("42") == "1:1: expected a command, got '42' (try 'help')")
    }

    @Test func unknownKeySuggests() {
        #expect(error("train stpes=5") == "1:7: unknown key 'stpes' for train (did you mean 'steps'?)")
        #expect(error("eval qustion=\"x\"") == "1:6: unknown key 'qustion' for eval (did you mean 'question'?)")
        #expect(error("train foo=1") == "1:7: unknown key 'foo' for train (expected steps, lr, batch, seed, every)")
        #expect(error("show img 3 x=1") == "1:12: unknown key 'x' for show img (show img takes no key=value arguments)")
        #expect(error("train steps=1 steps=2") == "1:15: duplicate key 'steps'")
    }

    @Test func subcommands() {
        #expect(error("load modle") == "1:6: unknown subcommand 'modle' for load (did you mean 'model'?)")
        #expect(error("load") == "1:1: load expects one of: model, mnist, projector, image")
        #expect(error("show xyz") == "1:6: unknown subcommand 'xyz' for show (expected one of: img, image, batch, settings, weights)")
    }

    @Test func missingArguments() {
        #expect(error("show img") == "1:1: missing argument N (usage: show img N)")
        #expect(error("load projector") == "1:1: missing argument PATH (usage: load projector PATH)")
        #expect(error("load image a.png") == "1:1: missing argument NAME (usage: load image PATH as NAME)")
        #expect(error("ask img=3") == "1:1: missing argument QUESTION (usage: ask QUESTION [img=N] [image=TEXT] [temp=X] [top_p=X] [seed=N] [max=N])")
        #expect(error("set") == "1:1: missing argument KEY=VALUE (usage: set KEY=VALUE)")
        #expect(error("time") == "1:1: missing argument STATEMENT (usage: time STATEMENT)")
    }

    @Test func wrongTypes() {
        #expect(error("train steps=abc") == "1:13: steps expects an integer, got 'abc'")
        #expect(error("train steps=1.5") == "1:13: steps expects an integer, got '1.5'")
        #expect(error("train lr=fast") == "1:10: lr expects a number, got 'fast'")
        #expect(error("show img seven") == "1:10: N expects an integer, got 'seven'")
        #expect(error("load mnist split=tset") == "1:18: split expects one of train, test, got 'tset' (did you mean 'test'?)")
        #expect(error("set steps=abc") == "1:11: steps expects an integer, got 'abc'")
        #expect(error("set greedy=maybe") == "1:12: greedy expects true or false, got 'maybe'")
        #expect(error("set format=gpt") == "1:12: format expects one of auto, chatml, llama3, got 'gpt'")
    }

    @Test func otherMistakes() {
        #expect(error("set stpes=3") == "1:5: unknown setting 'stpes' (did you mean 'steps'?)")
        #expect(error("get tmp") == "1:5: unknown setting 'tmp' (did you mean 'temp'?)")
        #expect(error("set steps") == "1:5: expected KEY=VALUE, got 'steps' (usage: set KEY=VALUE)")
        #expect(error("help trian") == "1:6: no help for 'trian' (did you mean 'train'?)")
        #expect(error("ask What digit") == "1:10: unexpected argument 'digit' (put text with spaces in quotes)")
        #expect(error("train steps 5") == "1:7: unexpected argument 'steps' (did you mean 'steps=N'?)")
        #expect(error("eval n=2 greedyy") == "1:10: unexpected argument 'greedyy' (did you mean 'greedy'?)")
        #expect(error("train stpes 5") == "1:7: unexpected argument 'stpes' (did you mean 'steps=N'?)")
        #expect(error("load image a.png to b") == "1:18: expected 'as', got 'to' (usage: load image PATH as NAME)")
        #expect(error("ask \"x\" img=1 image=y") == "1:1: use img= or image=, not both")
        #expect(error("time trian") == "1:6: unknown command 'trian' (did you mean 'train'?)")
        #expect(error("show img 1\nquit") == "2:1: expected one statement, found 2")
    }

    @Test func unterminatedString() {
        #expect(error("ask \"What digit") == "1:5: unterminated string")
    }

    @Test func errorsNameTheFile() {
        #expect(throws: NotebookError(file: "w.lmw", line: 7, column: 1, message: "unknown command 'trian' (did you mean 'train'?)")) {
            try Parser.parseProgram("trian", firstLine: 7, file: "w.lmw")
        }
        #expect(NotebookError(file: "w.lmw", line: 7, column: 1, message: "m").description == "w.lmw:7:1: m")
        #expect(NotebookError(file: "w.lmw", line: 7, message: "m").description == "w.lmw:7: m")
        #expect(NotebookError(file: "w.lmw", line: 0, message: "m").description == "w.lmw: m")
        #expect(NotebookError(line: 1, column: 7, message: "m").annotated(source: "train stpes=5")
            == "1:7: m\n  train stpes=5\n        ^")
    }

    @Test func suggestions() {
        #expect(suggestion(for: "tarin", among: ["train", "eval"]) == "train")
        #expect(suggestion(for: "gt", among: ["get", "set"]) == "get")
        #expect(suggestion(for: "xyzzy", among: ["train"]) == nil)
        #expect(suggestion(for: "proj", among: ["project", "quit"]) == "project")
        #expect(editDistance("kitten", "sitting") == 3)
    }

    // MARK: Help

    @Test func helpOverviewListsEveryForm() {
        let text = CommandSpec.overview
        #expect(text.hasPrefix("Commands:\n  load model       load a Llama model"))
        #expect(text.contains("\n  show settings    list the session settings\n"))
        #expect(text.hasSuffix("Type 'help CMD' for details, 'help set' for the settings."))
        #expect(CommandSpec.helpText(for: nil) == text)
    }

    @Test func helpForOneCommand() {
        #expect(CommandSpec.helpText(for: "train") == """
            usage: train [steps=N] [lr=X] [batch=N] [seed=N] [every=N]
              train the projector on MNIST training images (Ctrl-C stops after a step)
                steps=N  training steps (default: setting steps, 1000)
                lr=X     AdamW learning rate (default: setting lr, 0.001)
                batch=N  images per step (default: setting batch, 1)
                seed=N   shuffle and sampling seed (default: setting seed, 0)
                every=N  report every K steps (default: setting every, 100)
            """)
        #expect(CommandSpec.helpText(for: "eval")!.contains("    greedy         pick the most likely token instead of sampling"))
        #expect(CommandSpec.helpText(for: "load")!.components("usage: ") == 4)
        #expect(CommandSpec.helpText(for: "set")!.contains("  question=TEXT              the question asked about each image (default: \"What digit is this?\")"))
        #expect(CommandSpec.helpText(for: "nope") == nil)
    }

    @Test func specTableMatchesAST() throws {
        // Every form parses from its own usage with placeholders filled in.
        for spec in CommandSpec.all {
            let words = [spec.fullName] + spec.positionals.filter { !$0.optional }.map { p -> String in
                switch p.kind {
                case .value(.int): return "1"
                case .value: return "x"
                case .keyword(let w): return w
                case .statement: return "quit"
                case .assignment: return "seed=1"
                case .setting: return "seed"
                case .command: return "train"
                }
            } + spec.keys.filter(\.required).map { "\($0.name)=1" }
            let statement = try #require(try parse(words.joined(separator: " ")))
            // `get` without a key is `show settings`.
            #expect(statement.commandName.hasPrefix(spec.name) || spec.name == "get", "\(spec.fullName)")
        }
    }

    // MARK: Completion

    @Test func completion() {
        #expect(CommandSpec.completions(for: "") == .words(CommandSpec.commandNames))
        #expect(CommandSpec.completions(for: "tr") == .words(["train"]))
        #expect(CommandSpec.completions(for: "load ") == .words(["model", "mnist", "projector", "image"]))
        #expect(CommandSpec.completions(for: "load m") == .words(["model", "mnist"]))
        #expect(CommandSpec.completions(for: "load projector ") == .paths)
        #expect(CommandSpec.completions(for: "load projector out/p") == .paths)
        #expect(CommandSpec.completions(for: "load model ") == .paths)
        #expect(CommandSpec.completions(for: "load image a.png ") == .words(["as"]))
        #expect(CommandSpec.completions(for: "save projector ") == .paths)
        #expect(CommandSpec.completions(for: "save ") == .words(["projector"]))
        #expect(CommandSpec.completions(for: "load mnist ") == .words(["split=", "path="]))
        #expect(CommandSpec.completions(for: "load mnist split=") == .words(["train", "test"]))
        #expect(CommandSpec.completions(for: "load mnist split=te") == .words(["test"]))
        #expect(CommandSpec.completions(for: "load mnist split=test path=") == .paths)
        #expect(CommandSpec.completions(for: "train st") == .words(["steps="]))
        #expect(CommandSpec.completions(for: "train steps=5 ") == .words(["lr=", "batch=", "seed=", "every="]))
        #expect(CommandSpec.completions(for: "eval g") == .words(["greedy"]))
        #expect(CommandSpec.completions(for: "grad save=") == .paths)
        #expect(CommandSpec.completions(for: "set t") == .words(["threads=", "temp=", "top_p="]))
        #expect(CommandSpec.completions(for: "set format=") == .words(["auto", "chatml", "llama3"]))
        #expect(CommandSpec.completions(for: "set compat=f") == .words(["false"]))
        #expect(CommandSpec.completions(for: "get s") == .words(["seed", "steps"]))
        #expect(CommandSpec.completions(for: "help l") == .words(["load", "loss"]))
        #expect(CommandSpec.completions(for: "time tr") == .words(["train"]))
        #expect(CommandSpec.completions(for: "time train e") == .words(["every="]))
        #expect(CommandSpec.completions(for: "ask \"what") == .words([]))
        #expect(CommandSpec.completions(for: "bogus ") == .words([]))
    }

    // MARK: Limits and fuzz regressions

    @Test func nestingLimit() throws {
        #expect(try parse(String(repeating: "time ", count: Parser.maxNesting) + "quit") != nil)
        #expect(error(String(repeating: "time ", count: Parser.maxNesting + 1) + "quit")
                == "1:46: commands nested too deeply (at most 8 levels)")
        // As many levels as fit on one line (13,000) recursed that deep before the limit.
        #expect(error(String(repeating: "time ", count: 13_000) + "quit")
                == "1:46: commands nested too deeply (at most 8 levels)")
    }

    @Test func loneCarriageReturnsSeparateLines() throws {
        // The lexer counts \r as a line break; the source-text lookup must agree.
        let statements = try Parser.parseProgram("get steps\rquit\r\nhelp")
        #expect(statements.map(\.line) == [1, 2, 3])
        #expect(statements.map(\.text) == ["get steps", "quit", "help"])
    }

    /// Inputs FuzzCommandLanguage found trapping in `parseProgram` (Fixtures/fuzz-regressions/):
    /// the source-line lookup split at "\n" only, the lexer also at "\r\n" and a lone "\r".
    @Test(arguments: [
        ("command-crlf-program", "no error: 1 time, 2 show"),
        ("command-lone-cr", "fuzz:12:1: unknown command '-' (try 'help')"),
    ])
    func fuzzRegression(_ name: String, _ expected: String) throws {
        let url = try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures/fuzz-regressions/\(name)")
        let text = String(decoding: try Data(contentsOf: url), as: UTF8.self)
        let outcome: String
        do {
            let statements = try Parser.parseProgram(text, file: "fuzz")
            outcome = "no error: " + statements.map { "\($0.line) \($0.text.split(separator: " ")[0])" }.joined(separator: ", ")
        } catch {
            outcome = error.description
        }
        #expect(outcome == expected)
    }

    @Test func longUnknownWordGetsNoSuggestion() {
        let word = String(repeating: "x", count: 60_000)
        #expect(error(word) == "1:1: unknown command '\(word)' (try 'help')")
        #expect(suggestion(for: String(repeating: "trian", count: 10_000), among: ["train"]) == nil)
    }

}

extension String {
    func components(_ separator: String) -> Int { split(separator: separator, omittingEmptySubsequences: false).count - 1 }
}
