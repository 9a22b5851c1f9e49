// `loss [img=N]` and `grad [img=N] [save=PATH]`: one training example taken apart, for
// teaching. The loss is the mean cross-entropy of the true answer's tokens; the gradient
// flows back through the frozen model to the image embedding e (dL/de) and from there into
// the projector: for e = W·x + b, dL/db = dL/de and dL/dW = dL/de · xᵀ, which the printed
// norms let a reader verify (‖dL/dW‖ = ‖dL/de‖·‖x‖).
import Foundation
import Llava

extension Interpreter {
    /// The image `loss`/`grad` use: `img=`, else the current image, else 0, from
    /// the loaded split, like `show img`.
    func gradientImage(_ index: Int?) -> Int { index ?? currentImage ?? 0 }

    func loss(image index: Int?) throws {
        let i = gradientImage(index)
        let r = try session.lossAndGradients(image: i)
        let answer = try answerText(label: r.image.label!)
        display.line("img \(i) (label \(r.image.label!)): loss \(formatFixed(Double(r.loss), 4))"
                     + " (mean cross-entropy of the \(answer.count) answer tokens \"\(answer.text)\")")
    }

    func grad(image index: Int?, save: String?) throws {
        let i = gradientImage(index)
        let r = try session.lossAndGradients(image: i)
        let projector = try session.currentProjector()
        let x = r.image.normalized()
        var lines = ["img \(i) (label \(r.image.label!)): loss \(formatFixed(Double(r.loss), 4))"]
        for (parameter, g) in zip(projector.parameters, r.grads) {
            lines.append("‖dL/d\(Self.symbol(parameter))‖ \(formatFixed(Double(l2(g)), 6))  "
                         + "[\(parameter.shape.map(String.init).joined(separator: "×"))]")
        }
        lines.append("‖dL/de‖ \(formatFixed(Double(l2(r.dE)), 6))  [\(r.dE.count)] (the image embedding)")
        lines.append("‖x‖ \(formatFixed(Double(l2(x)), 4)) (the normalized image)")
        if let save {
            let entries = zip(projector.parameters, r.grads).map { p, g in
                SafeTensorsWriter.Entry(name: p.name + ".grad", shape: p.shape, values: g)
            }
            try SafeTensorsWriter.write(entries, metadata: ["content": "dL/dparameter for one image",
                                                            "image": "\(i)", "label": "\(r.image.label!)",
                                                            "loss": "\(r.loss)"],
                                        to: expandingTilde(save))
            lines.append("saved " + entries.map(\.name).joined(separator: ", ") + " to \(save)")
        }
        display.line(lines.joined(separator: "\n"))
    }

    /// `W`, `b` for the linear projector's parameters, the full name otherwise.
    static func symbol(_ p: Parameter) -> String {
        switch p.name {
        case "input_layer.weight": return "W"
        case "input_layer.bias": return "b"
        default: return " " + p.name
        }
    }

    /// The target reply as text (special tokens shown) and its token count.
    func answerText(label: Int) throws -> (text: String, count: Int) {
        let ids = try session.prompt().answerIDs(label: label)
        let text = try session.model().requireTokenizer().decode(ids, skipSpecial: false)
        return (text.replacingEscapes(), ids.count)
    }

    func l2(_ v: [Float]) -> Float {
        var sum: Double = 0
        for value in v { sum += Double(value) * Double(value) }
        return Float(sum.squareRoot())
    }
}

/// `~/x` → `$HOME/x` (the session does the same for the paths it opens).
func expandingTilde(_ path: String) -> String {
    (path as NSString).expandingTildeInPath
}
