// `load image PATH.png as NAME`: a picture of any size made MNIST-like (gray, inverted if
// dark-on-light, cropped, scaled to 20×20 and centred in 28×28 by mass), kept under a name
// for `show image`, `project image` and `ask image=`. (`load model|mnist|projector` and
// `save projector` go straight to the session.)
import Llava

extension Interpreter {
    func loadImage(path: String, name: String) throws {
        let image = try PNGImage.readDigit(path: expandingTilde(resolve(path)))
        session.namedImages[name] = image
        let ink = image.pixels.filter { $0 > 127 }.count
        display.line("loaded image \(name) from \(path): 28×28, \(ink) ink pixels")
    }
}
