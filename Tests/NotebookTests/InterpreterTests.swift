import Foundation
import Testing
@testable import Notebook
import Llava

@Suite struct InterpreterTests {
    // MARK: - Errors users see (no model needed)

    @Test func unknownCommandSuggestsTheClosest() {
        let (interpreter, _) = recordingInterpreter()
        #expect(errorText(interpreter, "trian steps=5") == "t.lmw:1:1: unknown command 'trian' (did you mean 'train'?)")
        #expect(errorText(interpreter, "\n\nfrobnicate") == "t.lmw:3:1: unknown command 'frobnicate' (try 'help')")
    }

    @Test func mistypedAndMissingArguments() {
        let (interpreter, _) = recordingInterpreter()
        #expect(errorText(interpreter, "train steps=abc") == "t.lmw:1:13: steps expects an integer, got 'abc'")
        #expect(errorText(interpreter, "train stesp=5") == "t.lmw:1:7: unknown key 'stesp' for train (did you mean 'steps'?)")
        #expect(errorText(interpreter, "load projector")
                == "t.lmw:1:1: missing argument PATH (usage: load projector PATH)")
        #expect(errorText(interpreter, "set temp=hot") == "t.lmw:1:10: temp expects a number, got 'hot'")
    }

    @Test func unterminatedStringPointsAtTheQuote() {
        let (interpreter, _) = recordingInterpreter()
        #expect(errorText(interpreter, "ask \"What digit") == "t.lmw:1:5: unterminated string")
    }

    @Test func aStatementBeforeASyntaxErrorDoesNotRun() {
        // The whole text is parsed first: nothing runs when any line is malformed.
        let (interpreter, _) = recordingInterpreter()
        #expect(errorText(interpreter, "set steps=7\nshow imgg 1") .hasPrefix("t.lmw:2:6: unknown subcommand 'imgg'"))
        #expect(interpreter.session.int(.steps) == 1000)
    }

    // MARK: - Settings, help, history, quit

    @Test func setGetAndShowSettings() throws {
        let (interpreter, display) = recordingInterpreter()
        #expect(try run(interpreter, display, "set steps=20\nset question=\"What is this number?\"") == "")
        #expect(try run(interpreter, display, "get steps\nget question") == "steps=20\nquestion=\"What is this number?\"\n")
        let settings = try run(interpreter, display, "show settings")
        let rows = settings.split(separator: "\n").map { $0.split(separator: " ") }
        #expect(rows.contains(["steps", "20", "1000"]))
        #expect(rows.contains(["seed", "0"]))
        #expect(rows.contains(["question", "\"What", "is", "this", "number?\"", "\"What", "digit", "is", "this?\""]))
        #expect(try run(interpreter, display, "get") == settings)
    }

    @Test func helpComesFromTheCommandTable() throws {
        let (interpreter, display) = recordingInterpreter()
        let overview = try run(interpreter, display, "help")
        #expect(overview.hasPrefix("Commands:\n"))
        #expect(overview.contains("  train "))
        let train = try run(interpreter, display, "help train")
        #expect(train.hasPrefix("usage: train [steps=N] [lr=X] [batch=N] [seed=N] [every=N]\n"))
        #expect(try run(interpreter, display, "help exit").hasPrefix("usage: quit"))
    }

    @Test func historyListsTheProvidedLines() throws {
        let (interpreter, display) = recordingInterpreter()
        #expect(try run(interpreter, display, "history") == "(no statements yet)\n")
        interpreter.historyProvider = { ["show img 1", "ask \"two\nlines\""] }
        #expect(try run(interpreter, display, "history") == "1  show img 1\n2  ask \"two\\nlines\"\n")
    }

    @Test func quitStopsTheRestOfTheSource() throws {
        let (interpreter, display) = recordingInterpreter()
        #expect(try run(interpreter, display, "set seed=1\nquit\nset seed=2") == "")
        #expect(interpreter.quitRequested)
        #expect(interpreter.session.int(.seed) == 1)
    }

    // MARK: - With the default model and data

    @Test func showImageDrawsTheDigitWithItsLabel() throws {
        let (interpreter, display) = recordingInterpreter()
        _ = display.take()
        try interpreter.run(source: "show img 0")
        let taken = display.take()
        let lines = taken.text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 30)  // 28 rows, the caption, the final newline
        #expect(lines[28].hasPrefix("img 0 (train): label "))
        #expect(taken.text.contains("@@"))
        guard case .digits(let images, let captions)? = taken.figures.first else {
            Issue.record("no digits figure"); return
        }
        #expect(images.count == 1 && images[0].count == 784)
        #expect(captions == [String(lines[28])])
        #expect(interpreter.currentImage == 0)
    }

    @Test func showBatchWrapsRowsAndCaptionsEachDigit() throws {
        let (interpreter, display) = recordingInterpreter()
        let text = try run(interpreter, display, "show batch from=3 count=3")
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        // Two ASCII digits fit in the recorder's 120 columns: rows of 2 and 1, with a blank between.
        #expect(lines.count == 29 + 1 + 29 + 1)
        #expect(lines[28].hasPrefix("3: "))
        #expect(lines[28].contains("4: "))
        #expect(lines[58].hasPrefix("5: "))
        #expect(errorText(interpreter, "show batch count=0") == "t.lmw:1: count must be between 1 and 64, got 0")
    }

    @Test func outOfRangeImageIsALocatedError() throws {
        let (interpreter, _) = recordingInterpreter()
        #expect(errorText(interpreter, "\nshow img 99999").hasPrefix("t.lmw:2: train image 99999 is out of range: the train split has "))
        #expect(errorText(interpreter, "show image nope")
                == "t.lmw:1: no image named 'nope' (load one with: load image PATH.png as NAME)")
    }

    @Test func projectListsNearestTokensAndDigitCosinesQuickly() throws {
        try requireDefaultModel()
        let (interpreter, display) = recordingInterpreter()
        try run(interpreter, display, "load model\nload mnist")
        let t0 = Clock.now()
        let text = try run(interpreter, display, "project img 0")
        let seconds = Clock.now() - t0
        #expect(seconds < 1.0, "project took \(seconds)s")
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines[0].hasPrefix("img 0 (train): label "))
        #expect(lines[1].hasPrefix("embedding norm ") && lines[1].hasSuffix("(d_model 576)"))
        #expect(lines[2] == "nearest tokens by cosine:")
        #expect(lines[3].hasPrefix("  1. id ") && lines[7].hasPrefix("  5. id "))
        #expect(lines[8] == "cosine to each digit token:")
        #expect(lines.count == 19)
        let label = interpreter.session.namedImages.isEmpty ? try interpreter.session.image(.index(0)).label! : 0
        #expect(lines[9 + label].hasSuffix(" <"))  // the true digit is marked

        // The nearest-token search agrees with a brute-force float copy of the table.
        let m = try interpreter.session.model().model
        let e = try interpreter.session.currentProjector().forward(interpreter.session.image(.index(0)).normalized()).embeddings
        let table = m.weights.tokenEmbedding.toFloats()
        var bestID = 0, best = -Float.infinity
        for r in 0..<m.weights.tokenEmbedding.rows {
            let c = cosineSimilarity(e, Array(table[(r * 576)..<((r + 1) * 576)]))
            if c > best { best = c; bestID = r }
        }
        #expect(interpreter.nearestTokens(to: e, model: m, count: 1).first?.id == bestID)
    }

    @Test func lossAndGradWithSavedGradients() throws {
        try requireDefaultModel()
        let folder = try temporaryFolder()
        defer { cleanup(folder) }
        let (interpreter, display) = recordingInterpreter()
        let loss = try run(interpreter, display, "show img 2\nloss").split(separator: "\n").last!
        #expect(loss.hasPrefix("img 2 (label "))
        #expect(loss.contains("): loss "))
        #expect(loss.hasSuffix("answer tokens \"The digit is \(try interpreter.session.image(.index(2)).label!).<|im_end|>\")"))

        let path = folder + "/g.safetensors"
        let text = try run(interpreter, display, "grad img=2 save=\(path)")
        let lines = text.split(separator: "\n").map(String.init)
        // Same image, same projector: the same loss as `loss` printed.
        #expect(loss.hasPrefix(lines[0] + " (mean cross-entropy"))
        #expect(lines[1].hasPrefix("‖dL/dW‖ ") && lines[1].hasSuffix("[576×784]"))
        #expect(lines[2].hasPrefix("‖dL/db‖ ") && lines[2].hasSuffix("[576]"))
        #expect(lines[3].hasPrefix("‖dL/de‖ "))
        #expect(lines[5] == "saved input_layer.weight.grad, input_layer.bias.grad to \(path)")

        // dL/db = dL/de for e = W·x + b; dL/dW = dL/de·xᵀ, so ‖dL/dW‖ = ‖dL/de‖·‖x‖.
        func number(_ line: String) -> Double { Double(line.split(separator: " ")[1])! }
        #expect(number(lines[2]) == number(lines[3]))
        #expect(abs(number(lines[1]) - number(lines[3]) * number(lines[4])) <= 1e-3 * number(lines[1]) + 2e-6)

        let file = try SafeTensorsFile(path: path)
        #expect(file.tensor("input_layer.weight.grad")?.shape == [784, 576])  // stored innermost first
        #expect(file.tensor("input_layer.bias.grad")?.elementCount == 576)
        #expect(file.metadata["image"] == "2")
    }

    @Test func tokensShowsIdsAndPieces() throws {
        try requireDefaultModel()
        let (interpreter, display) = recordingInterpreter()
        try run(interpreter, display, "load model")
        let text = try run(interpreter, display, "tokens \"The digit is 7.\"")
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines[0] == "\(lines.count - 3) tokens")
        #expect(lines[1].hasPrefix("#  ") && lines[1].contains("piece") && lines[1].hasSuffix("text"))
        #expect(lines.contains { $0.hasSuffix("\" 7\"") || $0.hasSuffix("\"7\"") })
    }

    @Test func timeReportsWallTimeAndRate() throws {
        try requireDefaultModel()
        let (interpreter, display) = recordingInterpreter()
        let text = try run(interpreter, display, "time ask \"Say hi\" max=3 temp=0")
        let last = String(text.split(separator: "\n").last!)
        #expect(last.range(of: #"^time: \d+\.\d+s wall, \d tokens, \d+\.\d\d tokens/s$"#, options: .regularExpression) != nil, "\(last)")
        #expect(try run(interpreter, display, "time get seed").hasSuffix("s wall\n"))
    }

    @Test func trainThenAskAboutAnImageAndReset() throws {
        try requireDefaultModel()
        let (interpreter, display) = recordingInterpreter()
        try run(interpreter, display, "load model")
        let trained = try run(interpreter, display, "train steps=2 every=0")
        #expect(trained.hasPrefix("trained 2 steps in "))
        let reply = try run(interpreter, display, "ask \"What digit is this?\" img=1 max=4 temp=0")
        #expect(!reply.isEmpty && reply.hasSuffix("\n"))
        #expect(interpreter.currentImage == 1)
        #expect(try run(interpreter, display, "reset projector seed=3") == "projector reset: fresh (seed 3)\n")
    }

    @Test func loadImageFromPNG() throws {
        try requireDefaultModel()
        let folder = try temporaryFolder()
        defer { cleanup(folder) }
        let (interpreter, display) = recordingInterpreter()
        let digit = try interpreter.session.image(.index(5))
        // Dark ink on white paper, twice the size: readDigit inverts and re-centres it.
        let big: [UInt8] = (0..<(56 * 56)).map { (i: Int) -> UInt8 in
            let source: Int = (i / 112) * 28 + (i % 56) / 2
            return 255 - digit.pixels[source]
        }
        try PNGImage.writeGray(pixels: big, width: 56, height: 56, to: folder + "/five.png")
        interpreter.baseDirectory = folder
        let text = try run(interpreter, display, "load image five.png as mine\nshow image mine")
        #expect(text.hasPrefix("loaded image mine from five.png: 28×28, "))
        #expect(text.hasSuffix("image mine: no label\n"))
        #expect(errorText(interpreter, "load image missing.png as x").hasPrefix("t.lmw:1: "))
    }
}
