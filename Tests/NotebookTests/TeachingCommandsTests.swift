// The teaching commands `project digit=`, `show weights` and `gradcheck`: how they parse,
// what their bad arguments say, and what they compute on the real default model.
import Foundation
import Testing
@testable import Notebook
import Llava

@Suite struct TeachingCommandsTests {
    private func parse(_ text: String) throws -> Statement? { try Parser.parseStatement(text) }

    // MARK: - Parsing (no model needed)

    @Test func parsesTheNewForms() throws {
        #expect(try parse("project digit=3") == .projectDigit(digit: 3, count: 20))
        #expect(try parse("project digit=0 n=5") == .projectDigit(digit: 0, count: 5))
        #expect(try parse("project img 4") == .project(.index(4)))  // the subcommand forms still win
        #expect(try parse("show weights") == .showWeights(.rows(from: 0, count: 8)))
        #expect(try parse("show weights rows=3 from=10") == .showWeights(.rows(from: 10, count: 3)))
        #expect(try parse("show weights digit=7") == .showWeights(.digit(7)))
        #expect(try parse("gradcheck") == .gradCheck(image: nil, epsilon: Interpreter.defaultGradCheckEpsilon, count: 5))
        #expect(try parse("gradcheck img=3 eps=1e-3 count=2") == .gradCheck(image: 3, epsilon: 1e-3, count: 2))
        #expect(try parse("time gradcheck count=1") == .time(.gradCheck(image: nil, epsilon: 0.01, count: 1)))
    }

    @Test func badArgumentsSayWhatIsWrong() {
        let (interpreter, _) = recordingInterpreter()
        #expect(errorText(interpreter, "project digit=12") == "t.lmw:1:1: digit must be between 0 and 9, got 12")
        #expect(errorText(interpreter, "project") == "t.lmw:1:1: missing argument digit=N (usage: project digit=N [n=N])")
        #expect(errorText(interpreter, "project digit=3 n=0") == "t.lmw:1:1: n must be between 1 and 1000, got 0")
        #expect(errorText(interpreter, "project imgg 3").hasPrefix("t.lmw:1:9: unknown subcommand 'imgg' for project (did you mean 'img'?)"))
        #expect(errorText(interpreter, "show weights rows=0") == "t.lmw:1:1: rows must be between 1 and 64, got 0")
        #expect(errorText(interpreter, "show weights digit=3 rows=2") == "t.lmw:1:1: use rows=/from= or digit=, not both")
        #expect(errorText(interpreter, "show weights digit=-1") == "t.lmw:1:1: digit must be between 0 and 9, got -1")
        #expect(errorText(interpreter, "gradcheck foo=1") == "t.lmw:1:11: unknown key 'foo' for gradcheck (expected img, eps, count)")
        #expect(errorText(interpreter, "gradcheck eps=0") == "t.lmw:1:1: eps must be positive")
        #expect(errorText(interpreter, "gradcheck count=21") == "t.lmw:1:1: count must be between 1 and 20, got 21")
        #expect(errorText(interpreter, "gradcheck eps=small") == "t.lmw:1:15: eps expects a number, got 'small'")
    }

    @Test func helpAndCompletionKnowTheNewCommands() {
        #expect(CommandSpec.helpText(for: "gradcheck")!.hasPrefix("usage: gradcheck [img=N] [eps=X] [count=N]\n"))
        #expect(CommandSpec.helpText(for: "gradcheck")!.contains("ε = 1e-3 already leaves errors of several percent"))
        #expect(CommandSpec.helpText(for: "project")!.contains("usage: project digit=N [n=N]"))
        #expect(CommandSpec.helpText(for: "show")!.contains("usage: show weights [rows=N] [from=N] [digit=N]"))
        #expect(CommandSpec.completions(for: "project ") == .words(["img", "image", "digit=", "n="]))
        #expect(CommandSpec.completions(for: "project d") == .words(["digit="]))
        #expect(CommandSpec.completions(for: "project digit=3 ") == .words(["n="]))
        #expect(CommandSpec.completions(for: "show w") == .words(["weights"]))
        #expect(CommandSpec.completions(for: "show weights ") == .words(["rows=", "from=", "digit="]))
        #expect(CommandSpec.completions(for: "grad") == .words(["grad", "gradcheck"]))
    }

    @Test func symmetricGraysKeepZeroAtMidGray() {
        #expect(Interpreter.symmetricGrayLevels([-1, 0, 0.5]) == [0, 128, 191])
        #expect(Interpreter.symmetricGrayLevels([0, 2]) == [128, 255])  // not min→black: 0 stays gray
        #expect(Interpreter.symmetricGrayLevels([0, 0]) == [128, 128])
    }

    // MARK: - On the default model

    @Test func projectDigitReportsTheMeanEmbedding() throws {
        try requireDefaultModel()
        let (interpreter, display) = recordingInterpreter()
        try interpreter.run(source: "load model\nload mnist")
        _ = display.take()
        try interpreter.run(source: "project digit=3 n=4")
        let (text, figures) = display.take()
        #expect(text.contains("mean of the first 4 train images labelled 3\nmean embedding of digit 3 (4 images), projector fresh (seed 0)\n"))
        #expect(text.contains("nearest tokens by cosine:\n  1. id "))
        #expect(text.contains("\"3\"") && text.contains(" <"))  // the digit is marked in the chart

        // The printed norm is ‖W·x̄ + b‖ for the mean x̄ of the four normalized images.
        let images = try interpreter.session.mnist().train.images.filter { $0.label == 3 }.prefix(4)
        var mean = [Float](repeating: 0, count: 784)
        for image in images { for (j, v) in image.normalized().enumerated() { mean[j] += v / 4 } }
        let e = try interpreter.session.currentProjector().forward(mean).embeddings
        let norm = e.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        #expect(text.contains("embedding norm \(formatFixed(Double(norm), 4)) (d_model 576)"), "\(text)")

        guard case .digits(let pixels, let captions)? = figures.first else { Issue.record("no digits figure"); return }
        #expect(captions == ["mean of the first 4 train images labelled 3"])
        #expect(pixels.count == 1 && pixels[0].count == 784)
        #expect(errorText(interpreter, "project digit=3 n=401", file: nil)
                == "1: the training split has only 400 images labelled 3, not 401")
    }

    @Test func showWeightsDrawsRowsAndTheDigitDirection() throws {
        try requireDefaultModel()
        let (interpreter, display) = recordingInterpreter()
        try interpreter.run(source: "load model")
        _ = display.take()
        try interpreter.run(source: "show weights rows=3 from=10")
        let (text, figures) = display.take()
        #expect(text.hasPrefix("rows 10…12 of W [576×784], projector fresh (seed 0)"))
        guard case .digits(let images, let captions)? = figures.first else { Issue.record("no digits figure"); return }
        #expect(captions == ["w[10]", "w[11]", "w[12]"])
        // Row 11, scaled on its own: its largest |w| is black or white, and zero would be gray.
        let w = try interpreter.session.currentProjector().parameters[0].values
        #expect(images[1] == Interpreter.symmetricGrayLevels(Array(w[(11 * 784)..<(12 * 784)])))
        #expect(images[1].contains(0) || images[1].contains(255))
        #expect(errorText(interpreter, "show weights from=576", file: nil) == "1: from=576 is out of range: W has 576 rows (0…575)")

        try interpreter.run(source: "show weights digit=7")
        let digit = display.take()
        #expect(digit.text.contains("Wᵀ·u_7: the input that most raises e·u_7"))
        guard case .digits(_, let caption)? = digit.figures.first else { Issue.record("no digits figure"); return }
        #expect(caption == ["Wᵀ·u_7"])

        // The defining identity: e·u_D = x·(Wᵀu_D) + b·u_D for any input x.
        let projector = try interpreter.session.currentProjector()
        let (v, bias) = try interpreter.digitDirection(projector, digit: 7)
        let x = try interpreter.session.mnist().train.images[0].normalized()
        let m = try interpreter.session.model()
        let token = m.model.embed([try interpreter.session.prompt().digitTokenID(7)!])
        let tokenNorm = token.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        let e = projector.forward(x).embeddings
        let lhs = zip(e, token).reduce(Float(0)) { $0 + $1.0 * $1.1 } / tokenNorm
        let rhs = zip(x, v).reduce(Float(0)) { $0 + $1.0 * $1.1 } + bias
        #expect(abs(lhs - rhs) < 1e-3 * max(1, abs(lhs)), "\(lhs) vs \(rhs)")
    }

    @Test func gradcheckAgreesWithTheBackwardPassAndRestoresTheProjector() throws {
        try requireDefaultModel()
        let (interpreter, display) = recordingInterpreter()
        try interpreter.run(source: "load model\nload mnist")
        let before = try interpreter.session.currentProjector().parameters.map(\.values)

        let (image, _, rows) = try interpreter.gradCheckRows(image: 3, epsilon: Interpreter.defaultGradCheckEpsilon, count: 4)
        #expect(image == 3)
        #expect(rows.count == 4)
        #expect(rows.map(\.relativeError).max()! < 5e-2, "\(rows)")
        // The largest-|g| bias entry: a gradient well above noise, and finite differences that
        // would expose a wrong one: a flipped sign or a factor of 2 is far outside the tolerance.
        let b = rows[0]
        #expect(b.name.hasPrefix("b["))
        #expect(abs(b.analytic) > 1e-3)
        #expect(b.numeric.sign == b.analytic.sign)
        #expect(abs(b.numeric - b.analytic) < 5e-2 * abs(b.analytic))
        #expect(Interpreter.GradCheckRow.relativeError(-b.analytic, b.numeric) > 1)
        #expect(Interpreter.GradCheckRow.relativeError(2 * b.analytic, b.numeric) > 0.3)
        // The W entries are in b's row: the chain rule dL/dW[i,j] = dL/db[i] · x_j.
        for row in rows.dropFirst() {
            #expect(row.name.hasPrefix("W[" + String(b.name.dropFirst(2).dropLast()) + ","))
            #expect(abs(row.analytic - b.analytic * Double(row.slope)) <= 1e-5 * max(abs(row.analytic), 1e-3))
        }
        #expect(try interpreter.session.currentProjector().parameters.map(\.values) == before)

        _ = display.take()
        try interpreter.run(source: "gradcheck img=3 count=2")
        let text = display.take().text
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("img 3 (label 3): loss ") == true)
        #expect(lines[1].split(separator: " ") == ["parameter", "∂e/∂θ", "analytic", "dL/dθ", "numeric", "rel.", "error"])
        #expect(lines.count == 6, "\(text)")
        #expect(lines.last?.hasPrefix("max relative error ") == true)
        #expect(lines.last?.hasSuffix("over 2 parameters: the backward pass agrees with finite differences") == true, "\(text)")
        #expect(try interpreter.session.currentProjector().parameters.map(\.values) == before)
    }
}
