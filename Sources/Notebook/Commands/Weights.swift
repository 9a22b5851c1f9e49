// `show weights [rows=N] [from=K]` and `show weights digit=D`: the projector's weights as
// pictures. Row i of W holds the 784 pixel weights of embedding coordinate i, so it is itself
// a 28×28 image: e_i = w_i · x + b_i is large when the digit's ink falls on w_i's bright
// (positive) pixels and avoids its dark (negative) ones. `digit=D` combines the rows along
// the direction u_D of the token "D": since e·u_D = x·(Wᵀu_D) + b·u_D, the image Wᵀu_D is the
// input (per unit of pixel norm) that most raises the projection of e onto the token.
import Llava

extension Interpreter {
    /// Most weight rows `show weights` draws at once (as `show batch`).
    static let maxWeightRows = 64

    func showWeights(_ view: WeightsView) throws {
        let projector = try session.currentProjector()
        switch view {
        case .rows(let from, let count): try showWeightRows(projector, from: from, count: count)
        case .digit(let d): try showDigitDirection(projector, digit: d)
        }
    }

    /// Rows of the first layer's weight ([rows × 784]) drawn side by side.
    func showWeightRows(_ projector: Projector, from: Int, count: Int) throws {
        let w = projector.parameters[0]
        let rows = w.shape[0], n = Projector.inputSize
        guard from >= 0, from < rows else {
            throw CommandError("from=\(from) is out of range: W has \(rows) rows (0…\(rows - 1))")
        }
        let indices = Array(from..<min(rows, from + count))
        let images = indices.map { Self.symmetricGrayLevels(Array(w.values[($0 * n)..<(($0 + 1) * n)])) }
        let captions = indices.map { "w[\($0)]" }
        let layer = projector.kind == .linear ? "W" : "W1 (first layer)"
        let header = "rows \(indices.first!)…\(indices.last!) of \(layer) [\(w.shape.map(String.init).joined(separator: "×"))],"
            + " projector \(session.projectorOrigin): gray 0, white positive, black negative (each row scaled to its own max |w|)"
        let drawing = wrappedRow(images, captions: captions)
        display.line(header)
        display.figure(.digits(images, captions: captions), text: drawing)
    }

    /// Wᵀ·u_D drawn as an image, with the numbers that say how much it matters.
    func showDigitDirection(_ projector: Projector, digit: Int) throws {
        let (v, bias) = try digitDirection(projector, digit: digit)
        let vNorm = v.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        let image = Self.symmetricGrayLevels(v)
        let title = "Wᵀ·u_\(digit): the input that most raises e·u_\(digit), u_\(digit) = unit embedding of \"\(digit)\""
            + " (projector \(session.projectorOrigin))"
        let numbers = "‖Wᵀ·u_\(digit)‖ \(formatFixed(Double(vNorm), 4)), b·u_\(digit) \(formatFixed(Double(bias), 4));"
            + " white pixels raise e·u_\(digit), black ones lower it"
        display.figure(.digits([image], captions: ["Wᵀ·u_\(digit)"]),
                       text: DigitRenderer.render(image, mode: display.colorMode) + title + "\n" + numbers)
    }

    /// v = Wᵀ·u_D and b·u_D, so that e·u_D = x·v + b·u_D for every input x.
    func digitDirection(_ projector: Projector, digit: Int) throws -> (v: [Float], bias: Float) {
        guard projector.kind == .linear else {
            throw CommandError("show weights digit= needs a linear projector (this one is \(projector.kind.rawValue): e is not linear in x)")
        }
        let m = try session.model()
        guard let id = try session.prompt().digitTokenID(digit) else {
            throw CommandError("the tokenizer has no token for \"\(digit)\"")
        }
        let token = m.model.embed([id])
        let tokenNorm = token.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        let u = token.map { $0 / max(tokenNorm, .leastNormalMagnitude) }
        let w = projector.parameters[0].values, b = projector.parameters[1].values
        let n = Projector.inputSize
        var v = [Float](repeating: 0, count: n)
        for (i, ui) in u.enumerated() where ui != 0 {
            for j in 0..<n { v[j] += ui * w[i * n + j] }
        }
        return (v, zip(b, u).reduce(Float(0)) { $0 + $1.0 * $1.1 })
    }

    /// Values mapped to gray levels symmetrically around 0: 0 → mid gray, +max|v| → white,
    /// −max|v| → black, so the sign of a weight reads off its shade (DigitRenderer.grayLevels
    /// maps min…max, which would move 0 around from row to row).
    static func symmetricGrayLevels(_ values: [Float]) -> [UInt8] {
        let m = values.reduce(Float(0)) { max($0, abs($1)) }
        guard m > 0 else { return [UInt8](repeating: 128, count: values.count) }
        return Array(DigitRenderer.grayLevels(values + [-m, m]).dropLast(2))
    }
}
