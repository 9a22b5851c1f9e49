// `show img N`, `show image NAME`, `show batch from= count=`, `show settings`: pure
// presentation. Digits go out as `Figure.digits` so rendered notebooks get PNG files, with the
// text drawing (half blocks on a colour terminal, ASCII otherwise) as their text form.
import Llava

extension Interpreter {
    /// The caption under a drawn image: which one it is and its label.
    func caption(_ ref: ImageRef, _ image: DigitImage) -> String {
        let label = image.label.map { "label \($0)" } ?? "no label"
        switch ref {
        case .index(let i): return "img \(i) (\(session.split.rawValue)): \(label)"
        case .named(let name): return "image \(name): \(label)"
        }
    }

    func showImage(_ ref: ImageRef) throws {
        let image = try session.image(ref)
        if case .index(let i) = ref { currentImage = i }
        let text = caption(ref, image)
        let drawing = DigitRenderer.render(image.pixels, mode: display.colorMode)
        display.figure(.digits([image.pixels], captions: [text]), text: drawing + text)
    }

    /// Most images `show batch` draws at once (a screenful).
    static let maxBatch = 64

    func showBatch(from: Int, count: Int) throws {
        guard count >= 1, count <= Self.maxBatch else {
            throw CommandError("count must be between 1 and \(Self.maxBatch), got \(count)")
        }
        let set = session.split == .train ? try session.mnist().train : try session.mnist().test
        guard from >= 0, from < set.count else {
            throw CommandError("from=\(from) is out of range: the \(session.split.rawValue) split has \(set.count) images (0…\(set.count - 1))")
        }
        let indices = Array(from..<min(set.count, from + count))
        let images = indices.map { set.images[$0].pixels }
        let captions = indices.map { i in "\(i): " + (set.images[i].label.map(String.init) ?? "?") }
        let text = wrappedRow(images, captions: captions)
        display.figure(.digits(images, captions: captions), text: text)
    }

    func showSettings() {
        let rows = Setting.allCases.map { s -> [String] in
            let value = session.settings[s] ?? s.defaultValue
            return [s.name, value.description, value == s.defaultValue ? "" : s.defaultValue.description]
        }
        var text = table(headers: ["setting", "value", "default (when changed)"], rows: rows)
        if text.hasSuffix("\n") { text.removeLast() }
        display.line(text)
    }

    /// Images side by side with captions, wrapped to the terminal's width (a fixed 120
    /// columns when recording, so transcripts do not depend on the window).
    func wrappedRow(_ images: [[UInt8]], captions: [String]) -> String {
        // ASCII digits are 56 columns wide, half-block ones 28.
        let cell = (display.colorMode == .none ? 56 : 28) + 2
        let width = display is TerminalDisplay ? Terminal.width : 120
        let perRow = max(1, (width + 2) / cell)
        var text = ""
        for start in stride(from: 0, to: images.count, by: perRow) {
            let end = min(images.count, start + perRow)
            if start > 0 { text += "\n" }
            text += DigitRenderer.row(Array(images[start..<end]), captions: Array(captions[start..<end]), mode: display.colorMode)
        }
        if text.hasSuffix("\n") { text.removeLast() }
        return text
    }
}
