// PNG through our libpng wrapper, then the MNIST-style preparation `ask --image` applies.
import Foundation
import Llava
import CFuzz

func fuzz(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let data = count > 0 ? Data(bytes: start!, count: count) : Data()
    guard let gray = try? PNGImage.decodeGray(data, name: "fuzz.png") else { return 0 }
    _ = PNGImage.digit(from: gray)
    _ = PNGImage.digit(from: gray, invert: true)
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(UnsafeRawPointer(data), size) })
