// `llava-mnist ask`: one chat reply, streamed; about an image when --image or --mnist is given.
import ArgumentParser
import Llava
import Notebook

struct Ask: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask the model a question, optionally about a digit image.",
        discussion: "Examples:\n  llava-mnist ask \"What is the capital of France?\"\n  llava-mnist ask --projector p.safetensors --mnist test:0 \"What digit is this?\"")

    @OptionGroup var model: ModelOptions
    @Option(help: "A trained projector (safetensors with input_layer.weight/bias).") var projector: String?
    @Option(help: "A PNG image of a digit (any size; converted like MNIST).") var image: String?
    @Option(help: "An MNIST image: SPLIT:INDEX, e.g. test:0.") var mnist: String?
    @Option(help: "A folder of MNIST IDX files (default: the offline 5k subset).") var data: String?
    @Flag(help: "Invert the PNG (for dark-on-light drawings; detected automatically otherwise).") var invert = false
    @Flag(help: "Greedy decoding instead of sampling.") var greedy = false
    @Option(name: .customLong("max-tokens"), parsing: .unconditional, help: "Most new tokens.") var maxTokens = 256
    @Option(help: "Sampling temperature (0 = greedy).") var temp: Double = 0.6
    @Option(name: .customLong("top-p"), help: "Nucleus sampling threshold.") var topP: Double = 0.9
    @Option(help: "Random seed for sampling.") var seed: Int = 0
    @Argument(help: "The question.") var question: String

    func validate() throws {
        if image != nil && mnist != nil { throw ValidationError("give either --image or --mnist, not both") }
        if maxTokens < 1 || maxTokens > 8192 { throw ValidationError("--max-tokens must be between 1 and 8192") }
        if let mnist, MNISTRef(mnist) == nil { throw ValidationError("--mnist expects SPLIT:INDEX, e.g. test:0 (got '\(mnist)')") }
    }

    func run() throws {
        installInterruptHandler()
        try reportingErrors {
            let s = try model.session()
            if let projector { try s.loadProjector(projector) }
            var img: DigitImage?
            if let image { img = try PNGImage.readDigit(path: image, invert: invert ? true : nil) }
            if let mnist, let ref = MNISTRef(mnist) {
                try s.loadMNIST(split: ref.split, path: data)
                img = try s.image(.index(ref.index))
            } else if data != nil {
                throw CommandError("--data needs --mnist SPLIT:INDEX")
            }
            if img != nil && projector == nil {
                FileHandle.standardError.write(Data("note: no --projector given: using an untrained (random) projector\n".utf8))
            }
            var o = SamplingOptions(temperature: greedy ? 0 : temp, topP: topP, seed: seed, maxTokens: maxTokens)
            if greedy { o.temperature = 0 }
            try s.ask(question, image: img, settings: s.replySettings(o))
        }
    }
}

/// `test:12` → (.test, 12).
struct MNISTRef {
    let split: MNISTSplit
    let index: Int
    init?(_ text: String) {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, let split = MNISTSplit(rawValue: parts[0].lowercased()), let index = Int(parts[1]) else { return nil }
        self.split = split
        self.index = index
    }
}

import Foundation
