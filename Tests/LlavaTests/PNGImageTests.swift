// PNG round trips, MNIST-style preparation of pictures of every PNG flavour, and bad files.
import CPNG
import Foundation
import XCTest
@testable import Llava

final class PNGImageTests: ScratchFolderTestCase {


    /// Writes raw samples with libpng's simplified API in any format (independent of the
    /// writer under test).
    private func writePNG(_ name: String, width: Int, height: Int, format: UInt32, samples: [UInt8],
                          colormap: [UInt8]? = nil, entries: Int = 0) throws -> String {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(width)
        image.height = UInt32(height)
        image.format = format
        image.colormap_entries = UInt32(entries)
        let p = path(name)
        let ok = samples.withUnsafeBytes { buf in
            png_image_write_to_file(&image, p, 0, buf.baseAddress, 0, colormap)
        }
        XCTAssertNotEqual(ok, 0, "libpng could not write the test picture")
        return p
    }

    /// A "7": a top bar and a diagonal, ink value 1 inside, 0 outside, on a `side`² canvas.
    private func seven(side: Int, margin: Int) -> [Double] {
        let s = Double(side), m = Double(margin), t = s * 0.08
        return (0..<side * side).map { i in
            let (x, y) = (Double(i % side), Double(i / side))
            guard x >= m, x < s - m, y >= m, y < s - m else { return 0 }
            let bar = y < m + 2 * t
            // diagonal from top-right to bottom-centre
            let u = (y - m) / (s - 2 * m), cx = (s - m) - u * (s / 2 - m) - t
            return bar || abs(x - cx) < t ? 1 : 0
        }
    }

    /// Checks that `d` looks like an MNIST digit: dark corners, ink fitting 20×20 with one
    /// side 19–20 long, centre of mass at (14, 14) to within the half pixel of an integer shift.
    private func assertMNISTLike(_ d: DigitImage, line: UInt = #line) {
        let p = d.pixels
        XCTAssertEqual(p.count, 784, line: line)
        XCTAssertEqual([p[0], p[27], p[756], p[783]], [0, 0, 0, 0], line: line)
        var (x0, y0, x1, y1, mass, mx, my) = (28, 28, -1, -1, 0.0, 0.0, 0.0)
        for y in 0..<28 { for x in 0..<28 where p[y * 28 + x] > 0 {
            x0 = min(x0, x); x1 = max(x1, x); y0 = min(y0, y); y1 = max(y1, y)
            let v = Double(p[y * 28 + x]); mass += v; mx += v * Double(x); my += v * Double(y)
        } }
        XCTAssertGreaterThan(mass, 0, line: line)
        let (w, h) = (x1 - x0 + 1, y1 - y0 + 1)
        XCTAssertLessThanOrEqual(max(w, h), 20, line: line)
        XCTAssertGreaterThanOrEqual(max(w, h), 19, line: line)
        XCTAssertEqual(mx / mass, 14, accuracy: 0.6, line: line)
        XCTAssertEqual(my / mass, 14, accuracy: 0.6, line: line)
        XCTAssertEqual(p.max(), 255, line: line)
    }

    /// Cosine similarity of two digits' pixels.
    private func similarity(_ a: DigitImage, _ b: DigitImage) -> Double {
        let (x, y) = (a.pixels.map(Double.init), b.pixels.map(Double.init))
        let dot = zip(x, y).reduce(0) { $0 + $1.0 * $1.1 }
        return dot / (x.reduce(0) { $0 + $1 * $1 }.squareRoot() * y.reduce(0) { $0 + $1 * $1 }.squareRoot())
    }

    // MARK: Round trips

    func testMNISTDigitsRoundTripUnchanged() throws {
        for (i, digit) in try DataLayerFixtures.digits().enumerated() {
            let p = path("d\(i).png")
            try PNGImage.writeDigit(digit, scale: 1, to: p)
            XCTAssertEqual(try PNGImage.readDigit(path: p).pixels, digit.pixels)
            XCTAssertEqual(try PNGImage.readDigit(path: p, invert: true).pixels, digit.pixels.map { 255 - $0 })
            // A dark-on-light 28×28 picture is inverted back automatically.
            try PNGImage.writeGray(pixels: digit.pixels.map { 255 - $0 }, width: 28, height: 28, to: p)
            XCTAssertEqual(try PNGImage.readDigit(path: p).pixels, digit.pixels)
        }
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: dir).contains { $0.contains(".tmp-") })
    }

    func testScaledDigitComesBackSimilar() throws {
        for digit in try DataLayerFixtures.digits().prefix(4) {
            let p = path("big.png")
            try PNGImage.writeDigit(digit, scale: 5, to: p)
            let gray = try PNGImage.readGray(path: p)
            XCTAssertEqual([gray.width, gray.height], [140, 140])
            XCTAssertEqual(gray.pixels[(5 * 10 + 2) * 140 + 5 * 14 + 3], digit.pixels[10 * 28 + 14])
            let back = try PNGImage.readDigit(path: p)
            assertMNISTLike(back)
            XCTAssertGreaterThan(similarity(back, digit), 0.9)
        }
    }

    func testGridLayoutAndCaptions() throws {
        let digits = Array(try DataLayerFixtures.digits().prefix(5))
        let p = path("grid.png")
        try PNGImage.writeGrid(digits, columns: 3, labels: ["7 OK", "2", "1", "0", "x?"], scale: 2, to: p)
        let gray = try PNGImage.readGray(path: p)
        // 3 columns of 56 px with 2 px gaps; 2 rows of 56 px plus a 7 px caption strip.
        XCTAssertEqual([gray.width, gray.height], [3 * 56 + 4 * 2, 2 * (56 + 7) + 3 * 2])
        XCTAssertEqual(gray.pixels[(2 + 2 * 14) * gray.width + 2 + 2 * 15], digits[0].pixels[14 * 28 + 15])
        let strip = (2 + 56 ..< 2 + 56 + 7).flatMap { y in (2 ..< 58).map { gray.pixels[y * gray.width + $0] } }
        XCTAssertTrue(strip.contains(255), "the caption is drawn")
        try PNGImage.writeGrid(digits, columns: 8, labels: nil, scale: 1, to: p)
        XCTAssertEqual(try PNGImage.readGray(path: p).width, 5 * 28 + 6 * 2)
        expectError("5 images but 1 labels", file: p) { try PNGImage.writeGrid(digits, columns: 2, labels: ["a"], scale: 1, to: p) }
    }

    // MARK: Other kinds of PNG

    func testRGBPicture() throws {
        // Yellow ink on a dark blue background, 120×90.
        let (w, h) = (120, 90)
        let ink = seven(side: 90, margin: 10)
        let samples = (0..<w * h).flatMap { i -> [UInt8] in
            let (x, y) = (i % w, i / w)
            let on = x >= 15 && x < 105 && ink[y * 90 + x - 15] > 0
            return on ? [250, 230, 40] : [10, 20, 90]
        }
        let p = try writePNG("rgb.png", width: w, height: h, format: UInt32(PNG_FORMAT_FLAG_COLOR), samples: samples)
        assertMNISTLike(try PNGImage.readDigit(path: p))
    }

    func testRGBAWithTransparency() throws {
        // Black strokes on a fully transparent canvas: composited on white, then inverted.
        let ink = seven(side: 64, margin: 6)
        let samples = ink.flatMap { $0 > 0 ? [0, 0, 0, 255] : [0, 0, 0, 0] as [UInt8] }
        let p = try writePNG("rgba.png", width: 64, height: 64,
                             format: UInt32(PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA), samples: samples)
        let d = try PNGImage.readDigit(path: p)
        assertMNISTLike(d)
        // White strokes on transparency give the same digit.
        let white = ink.flatMap { $0 > 0 ? [255, 255, 255, 255] : [255, 255, 255, 0] as [UInt8] }
        let q = try writePNG("rgba-white.png", width: 64, height: 64,
                             format: UInt32(PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA), samples: white)
        XCTAssertEqual(try PNGImage.readDigit(path: q).pixels, d.pixels)
    }

    func testSixteenBitGray() throws {
        let ink = seven(side: 56, margin: 4)
        let samples = ink.flatMap { v -> [UInt8] in
            withUnsafeBytes(of: UInt16(v > 0 ? 65535 : 0)) { Array($0) }  // native-endian 16-bit
        }
        let p = try writePNG("gray16.png", width: 56, height: 56, format: UInt32(PNG_FORMAT_FLAG_LINEAR), samples: samples)
        let data = try Data(contentsOf: URL(fileURLWithPath: p))
        XCTAssertEqual(data[24], 16, "the test file really is 16-bit")
        assertMNISTLike(try PNGImage.readDigit(path: p))
    }

    func testPalettePicture() throws {
        let ink = seven(side: 50, margin: 5)
        let colormap: [UInt8] = [255, 255, 240, 20, 20, 120]  // cream paper, navy ink
        let p = try writePNG("palette.png", width: 50, height: 50,
                             format: UInt32(PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_COLORMAP),
                             samples: ink.map { $0 > 0 ? 1 : 0 }, colormap: colormap, entries: 2)
        let data = try Data(contentsOf: URL(fileURLWithPath: p))
        XCTAssertEqual(data[25], 3, "the test file really is palette-based")
        assertMNISTLike(try PNGImage.readDigit(path: p))
    }

    func testLargeDarkOnLightDrawingMatchesSmallOne() throws {
        // The same 7 drawn at 280×280 and at 140×140 prepares to nearly the same digit.
        let big = seven(side: 280, margin: 40).map { UInt8(255 - 255 * $0) }
        let p = path("drawing.png")
        try PNGImage.writeGray(pixels: big, width: 280, height: 280, to: p)
        let d = try PNGImage.readDigit(path: p)
        assertMNISTLike(d)
        let small = seven(side: 140, margin: 20).map { UInt8(255 - 255 * $0) }
        try PNGImage.writeGray(pixels: small, width: 140, height: 140, to: p)
        XCTAssertGreaterThan(similarity(try PNGImage.readDigit(path: p), d), 0.95)
        // Forcing no inversion makes the white paper the background: nothing darker counts.
        try PNGImage.writeGray(pixels: big, width: 280, height: 280, to: p)
        expectError("no digit found: the picture is blank", file: p) { _ = try PNGImage.readDigit(path: p, invert: false) }
    }

    // MARK: Bad input

    func testNotAPNG() throws {
        let p = path("note.png")
        try Data("hello, not a picture".utf8).write(to: URL(fileURLWithPath: p))
        expectError("not a PNG file", file: p) { _ = try PNGImage.readDigit(path: p) }
        let missing = path("missing.png")
        expectError("no such file", file: missing) { _ = try PNGImage.readDigit(path: missing) }
    }

    func testTruncatedPNG() throws {
        let p = path("cut.png")
        let full = try PNGImage.encodeGray(pixels: seven(side: 64, margin: 6).map { UInt8(255 * $0) }, width: 64, height: 64)
        try full.prefix(full.count / 2).write(to: URL(fileURLWithPath: p))
        expectError("corrupt or truncated PNG (libpng: \(DataLayerFixtures.truncatedPNGMessage))", file: p) {
            _ = try PNGImage.readDigit(path: p)
        }
        try full.prefix(20).write(to: URL(fileURLWithPath: p))
        expectError("unreadable PNG (libpng: \(DataLayerFixtures.headerTruncatedPNGMessage))", file: p) {
            _ = try PNGImage.readDigit(path: p)
        }
    }

    func testOversizedPictureRefusedBeforeDecoding() throws {
        // A valid 1×1 PNG whose IHDR claims 10000×10000 (with a correct CRC).
        var bytes = [UInt8](try PNGImage.encodeGray(pixels: [0], width: 1, height: 1))
        for (offset, value) in [(16, UInt32(10000)), (20, UInt32(10000))] {
            withUnsafeBytes(of: value.bigEndian) { bytes.replaceSubrange(offset ..< offset + 4, with: $0) }
        }
        let crc = bytes[12 ..< 29].withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, 17)) }
        withUnsafeBytes(of: crc.bigEndian) { bytes.replaceSubrange(29 ..< 33, with: $0) }
        let p = path("huge.png")
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        expectError("picture is 10000×10000, larger than the 8192×8192 limit", file: p) { _ = try PNGImage.readDigit(path: p) }
    }

    func testClaimedSizeBeyondCompressedDataRefusedBeforeAllocating() throws {
        // A valid 1×1 PNG whose IHDR claims 8000×8000: within the side limit, but its few
        // bytes cannot inflate to 8000 rows of 1000 bytes (deflate packs at most ~1032:1).
        var bytes = [UInt8](try PNGImage.encodeGray(pixels: [0], width: 1, height: 1))
        for (offset, value) in [(16, UInt32(8000)), (20, UInt32(8000))] {
            withUnsafeBytes(of: value.bigEndian) { bytes.replaceSubrange(offset ..< offset + 4, with: $0) }
        }
        let crc = bytes[12 ..< 29].withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, 17)) }
        withUnsafeBytes(of: crc.bigEndian) { bytes.replaceSubrange(29 ..< 33, with: $0) }
        expectError("picture claims to be 8000×8000, more pixels than its \(bytes.count) bytes can hold: truncated or corrupt",
                    file: "claims.png") { _ = try PNGImage.decodeGray(Data(bytes), name: "claims.png") }
    }

    func testBlankPicture() throws {
        let p = path("blank.png")
        try PNGImage.writeGray(pixels: [UInt8](repeating: 255, count: 100 * 60), width: 100, height: 60, to: p)
        expectError("no digit found: the picture is blank", file: p) { _ = try PNGImage.readDigit(path: p) }
    }

    func testWriterRejectsBadArguments() {
        let p = path("bad.png")
        expectError("cannot encode 3 pixels as 2×2", file: p) { try PNGImage.writeGray(pixels: [1, 2, 3], width: 2, height: 2, to: p) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: p))
    }
}

extension DataLayerFixtures {
    /// libpng's words for data ending early (in the header or in the image data alike).
    static let truncatedPNGMessage = "read beyond end of data"
    static let headerTruncatedPNGMessage = "read beyond end of data"
}
