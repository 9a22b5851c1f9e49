// PNG in and out through libpng's simplified API, which converts every PNG flavour (gray,
// RGB, palette, alpha, 8/16-bit) to the layout we ask for and reports errors in a message
// field instead of longjmp, so a bad file becomes a FormatError, never a crash.
//
// Reading a user's picture as an MNIST digit follows MNIST's own preparation: white ink on
// black, the ink's bounding box scaled to fit 20×20 (area averaging, aspect kept), then
// placed in the 28×28 field with its centre of mass at the centre.
import CPNG
import Foundation

/// PNG reading and writing for digits, and MNIST-style preparation of arbitrary pictures.
public enum PNGImage {
    /// The largest width or height accepted (checked from the header, before allocating).
    public static let maxSide = 8192
    /// The largest PNG file read into memory.
    public static let maxFileBytes = 256 << 20
    /// Deflate's best compression ratio (1032:1), rounded up.
    static let maxDeflateRatio = 1100

    /// A decoded picture as 8-bit gray, with its (unpremultiplied) alpha when it has one.
    public struct Gray: Sendable, Equatable {
        public var width: Int
        public var height: Int
        /// `width * height` values, row-major, 0 = black.
        public var pixels: [UInt8]
        /// `width * height` opacities (255 = opaque), or nil when the file has no alpha.
        public var alpha: [UInt8]?

        public init(width: Int, height: Int, pixels: [UInt8], alpha: [UInt8]? = nil) {
            self.width = width
            self.height = height
            self.pixels = pixels
            self.alpha = alpha
        }
    }

    // MARK: - Reading

    /// Decodes any PNG to 8-bit gray (colour is converted to luminance by libpng).
    public static func readGray(path: String) throws -> Gray {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        if let size = attributes?[.size] as? Int, size > maxFileBytes {
            throw FormatError(path, "file is larger than the \(maxFileBytes >> 20) MiB limit")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FormatError(path, attributes == nil ? "no such file" : "cannot read the file")
        }
        return try decodeGray(data, name: path)
    }

    /// Decodes PNG bytes; `name` labels errors.
    public static func decodeGray(_ data: Data, name: String) throws -> Gray {
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        guard data.starts(with: signature) else { throw FormatError(name, "not a PNG file") }
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        return try data.withUnsafeBytes { raw -> Gray in
            guard png_image_begin_read_from_memory(&image, raw.baseAddress, raw.count) != 0 else {
                png_image_free(&image)  // libpng frees on error already; this is a no-op then
                throw FormatError(name, "unreadable PNG (libpng: \(message(of: image)))")
            }
            let (width, height) = (Int(image.width), Int(image.height))
            guard (1...maxSide).contains(width), (1...maxSide).contains(height) else {
                png_image_free(&image)
                throw FormatError(name, "picture is \(width)×\(height), larger than the \(maxSide)×\(maxSide) limit")
            }
            // Deflate packs at most about 1032 bytes into one, and a pixel takes at least one
            // bit: a header claiming more pixels than its compressed bytes can hold is refused
            // before the pixel buffer is allocated.
            let minimumRawBytes = height * (1 + (width + 7) / 8)
            guard minimumRawBytes <= maxDeflateRatio * raw.count else {
                png_image_free(&image)
                throw FormatError(name, "picture claims to be \(width)×\(height), more pixels than its \(raw.count) bytes can hold: truncated or corrupt")
            }
            let hasAlpha = image.format & UInt32(PNG_FORMAT_FLAG_ALPHA) != 0
            image.format = UInt32(PNG_FORMAT_FLAG_ALPHA)  // PNG_FORMAT_GA: gray + alpha, 8-bit
            // 16-bit files without gAMA/sRGB are nearly always gamma-encoded like 8-bit ones;
            // libpng would otherwise take them as linear and brighten them.
            image.flags |= UInt32(PNG_IMAGE_FLAG_16BIT_sRGB)
            var buffer = [UInt8](repeating: 0, count: width * height * 2)
            let ok = buffer.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
            guard ok != 0 else {
                png_image_free(&image)
                throw FormatError(name, "corrupt or truncated PNG (libpng: \(message(of: image)))")
            }
            let gray = stride(from: 0, to: buffer.count, by: 2).map { buffer[$0] }
            let alpha = hasAlpha ? stride(from: 1, to: buffer.count, by: 2).map { buffer[$0] } : nil
            return Gray(width: width, height: height, pixels: gray, alpha: alpha)
        }
    }

    /// Reads any PNG as an MNIST-style digit (see `digit(from:invert:)`).
    ///
    /// - Parameter invert: nil decides from the picture's border (light border = dark ink on
    ///   light paper, which is inverted); true or false forces it.
    public static func readDigit(path: String, invert: Bool? = nil) throws -> DigitImage {
        guard let digit = digit(from: try readGray(path: path), invert: invert) else {
            throw FormatError(path, "no digit found: the picture is blank")
        }
        return digit
    }

    /// Prepares a picture the way MNIST's digits were: alpha composited on a background
    /// opposite to the ink, inverted when dark-on-light, levels stretched, cropped to the ink,
    /// scaled to fit 20×20 and placed in 28×28 by centre of mass. A 28×28 picture is taken to
    /// be MNIST-shaped already: only compositing and inversion apply, so an MNIST image comes
    /// back pixel-identical. Returns nil for a blank picture.
    public static func digit(from picture: Gray, invert: Bool? = nil) -> DigitImage? {
        let (w, h) = (picture.width, picture.height)
        guard var pixels = composite(picture) else { return nil }
        if invert ?? (border(pixels, w, h).reduce(0.0) { $0 + Double($1) } / Double(2 * (w + h) - 4) > 127.5) {
            pixels = pixels.map { 255 - $0 }
        }
        if w == DigitImage.side, h == DigitImage.side { return DigitImage(pixels: pixels) }
        return DigitLayout.fit(pixels, width: w, height: h).map { DigitImage(pixels: $0) }
    }

    /// Flattens alpha onto a background opposite to the ink (ink = alpha-weighted mean tone),
    /// so black strokes on a transparent canvas and white ones alike stay visible.
    static func composite(_ picture: Gray) -> [UInt8]? {
        guard let alpha = picture.alpha, alpha.contains(where: { $0 < 255 }) else { return picture.pixels }
        var weighted = 0.0, total = 0.0
        for (g, a) in zip(picture.pixels, alpha) { weighted += Double(g) * Double(a); total += Double(a) }
        guard total > 0 else { return nil }  // fully transparent
        let background = weighted / total < 128 ? 255.0 : 0.0
        return zip(picture.pixels, alpha).map { g, a in
            let t = Double(a) / 255
            return UInt8((Double(g) * t + background * (1 - t)).rounded())
        }
    }

    /// The outermost ring of pixels.
    static func border(_ p: [UInt8], _ w: Int, _ h: Int) -> [UInt8] {
        guard w > 1, h > 1 else { return p }
        var ring = Array(p[0..<w]) + Array(p[(h - 1) * w ..< h * w])
        for y in 1..<(h - 1) { ring += [p[y * w], p[y * w + w - 1]] }
        return ring
    }

    private static func message(of image: png_image) -> String {
        withUnsafeBytes(of: image.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    // MARK: - Writing

    /// PNG bytes of an 8-bit gray picture.
    public static func encodeGray(pixels: [UInt8], width: Int, height: Int) throws -> Data {
        guard (1...maxSide).contains(width), (1...maxSide).contains(height), pixels.count == width * height else {
            throw FormatError("<png>", "cannot encode \(pixels.count) pixels as \(width)×\(height)")
        }
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(width)
        image.height = UInt32(height)
        image.format = 0  // PNG_FORMAT_GRAY
        var size: png_alloc_size_t = 0
        guard png_image_write_to_memory(&image, nil, &size, 0, pixels, 0, nil) != 0, size > 0 else {
            throw FormatError("<png>", "cannot encode PNG (libpng: \(message(of: image)))")
        }
        var out = Data(count: Int(size))
        let ok = out.withUnsafeMutableBytes { png_image_write_to_memory(&image, $0.baseAddress, &size, 0, pixels, 0, nil) }
        guard ok != 0 else { throw FormatError("<png>", "cannot encode PNG (libpng: \(message(of: image)))") }
        return out.prefix(Int(size))
    }

    /// Writes an 8-bit gray PNG atomically (temporary file, then rename).
    public static func writeGray(pixels: [UInt8], width: Int, height: Int, to path: String) throws {
        let data: Data
        do { data = try encodeGray(pixels: pixels, width: width, height: height) }
        catch let error as FormatError { throw FormatError(path, error.message) }
        try AtomicFile.write(data, to: path)
    }

    /// Writes one digit, each pixel as a `scale`×`scale` block (1…64).
    public static func writeDigit(_ image: DigitImage, scale: Int = 1, to path: String) throws {
        guard (1...64).contains(scale) else { throw FormatError(path, "scale \(scale) is outside 1…64") }
        let side = DigitImage.side * scale
        let pixels = (0..<side * side).map { i in image.pixels[(i / side / scale) * DigitImage.side + (i % side) / scale] }
        try writeGray(pixels: pixels, width: side, height: side, to: path)
    }

    /// Writes a contact sheet: digits in `columns` columns, each with an optional caption
    /// (digits, letters and a little punctuation, in a built-in 3×5 font) under it.
    public static func writeGrid(_ images: [DigitImage], columns: Int, labels: [String]? = nil,
                                 scale: Int = 2, to path: String) throws {
        guard !images.isEmpty else { throw FormatError(path, "no images to draw") }
        guard (1...64).contains(scale) else { throw FormatError(path, "scale \(scale) is outside 1…64") }
        if let labels, labels.count != images.count {
            throw FormatError(path, "\(images.count) images but \(labels.count) labels")
        }
        let sheet = ContactSheet(count: images.count, columns: max(1, columns), scale: scale, captions: labels != nil)
        guard sheet.width <= maxSide, sheet.height <= maxSide else {
            throw FormatError(path, "grid would be \(sheet.width)×\(sheet.height), larger than \(maxSide)×\(maxSide)")
        }
        var canvas = [UInt8](repeating: ContactSheet.background, count: sheet.width * sheet.height)
        for (i, image) in images.enumerated() {
            sheet.draw(image, at: i, into: &canvas)
            if let labels { sheet.caption(labels[i], at: i, into: &canvas) }
        }
        try writeGray(pixels: canvas, width: sheet.width, height: sheet.height, to: path)
    }
}

/// MNIST's size normalization and centring for a white-on-black picture of any size.
enum DigitLayout {
    /// The box the ink is scaled to fit, and the field it is placed in.
    static let box = 20, field = DigitImage.side
    /// Ink below this fraction of the picture's contrast is treated as paper noise.
    static let noiseFloor = 0.1

    /// nil when the picture has no ink (no contrast above its border's level).
    static func fit(_ pixels: [UInt8], width w: Int, height h: Int) -> [UInt8]? {
        // Levels: the border's median is the paper, the brightest pixel full ink; ink under
        // the noise floor counts as paper. Worked out per pixel on the fly, because a full
        // 8192² picture as Doubles would take half a gigabyte.
        let ring = PNGImage.border(pixels, w, h).sorted()
        let paper = Double(ring[ring.count / 2])
        let peak = Double(pixels.max() ?? 0)
        guard peak - paper >= 16 else { return nil }
        let floor = UInt8(min(255, (paper + noiseFloor * (peak - paper)).rounded(.up)))
        @inline(__always) func ink(_ x: Int, _ y: Int) -> Double {
            let p = pixels[y * w + x]
            return p < floor ? 0 : min(1, (Double(p) - paper) / (peak - paper)) * 255
        }
        // Bounding box of the ink.
        var (x0, y0, x1, y1) = (w, h, -1, -1)
        for y in 0..<h { for x in 0..<w where pixels[y * w + x] >= floor {
            x0 = min(x0, x); x1 = max(x1, x); y0 = min(y0, y); y1 = max(y1, y)
        } }
        guard x1 >= 0 else { return nil }
        let (cw, ch) = (x1 - x0 + 1, y1 - y0 + 1)
        // Fit the longer side to 20 pixels, keeping the aspect ratio.
        let s = Double(box) / Double(max(cw, ch))
        let (tw, th) = (max(1, Int((Double(cw) * s).rounded())), max(1, Int((Double(ch) * s).rounded())))
        let small = resample(cw, ch, tw, th) { ink(x0 + $0, y0 + $1) }
            .map { UInt8(min(255, max(0, $0.rounded()))) }
        // Centre of mass to pixel (14, 14), where MNIST's digits have theirs (measured on the
        // 5k subset: mean 13.99 down, 14.00 across, spread 0.3), keeping the box inside.
        var (mass, mx, my) = (0.0, 0.0, 0.0)
        for y in 0..<th { for x in 0..<tw {
            let v = Double(small[y * tw + x]); mass += v; mx += v * Double(x); my += v * Double(y)
        } }
        guard mass > 0 else { return nil }
        let centre = Double(field) / 2
        let ox = min(field - tw, max(0, Int((centre - mx / mass).rounded())))
        let oy = min(field - th, max(0, Int((centre - my / mass).rounded())))
        var out = [UInt8](repeating: 0, count: field * field)
        for y in 0..<th { for x in 0..<tw { out[(oy + y) * field + ox + x] = small[y * tw + x] } }
        return out
    }

    /// Area-averaging resize of a `w`×`h` source given by `value(x, y)` (each output pixel is
    /// the mean of the source area it covers), done separably: rows first, then columns.
    static func resample(_ w: Int, _ h: Int, _ tw: Int, _ th: Int, _ value: (Int, Int) -> Double) -> [Double] {
        let wx = weights(from: w, to: tw), wy = weights(from: h, to: th)
        var rows = [Double](repeating: 0, count: h * tw)
        for y in 0..<h { for (tx, taps) in wx.enumerated() {
            rows[y * tw + tx] = taps.reduce(0) { $0 + value($1.0, y) * $1.1 }
        } }
        var out = [Double](repeating: 0, count: th * tw)
        for (ty, taps) in wy.enumerated() { for x in 0..<tw {
            out[ty * tw + x] = taps.reduce(0) { $0 + rows[$1.0 * tw + x] * $1.1 }
        } }
        return out
    }

    /// For each of `n` output cells, the source cells it overlaps and their share of it.
    static func weights(from m: Int, to n: Int) -> [[(Int, Double)]] {
        (0..<n).map { t in
            let lo = Double(t) * Double(m) / Double(n), hi = Double(t + 1) * Double(m) / Double(n)
            return (Int(lo.rounded(.down))..<min(m, Int(hi.rounded(.up)))).compactMap { s in
                let overlap = min(hi, Double(s + 1)) - max(lo, Double(s))
                return overlap > 0 ? (s, overlap / (hi - lo)) : nil
            }
        }
    }
}

/// Layout and drawing of `PNGImage.writeGrid`'s contact sheet.
struct ContactSheet {
    static let background: UInt8 = 48, ink: UInt8 = 255
    let columns: Int, rows: Int, scale: Int
    /// Caption glyph magnification, cell side, gap between cells, caption strip height.
    let fontScale: Int, cell: Int, gap: Int, strip: Int
    var width: Int { columns * cell + (columns + 1) * gap }
    var height: Int { rows * (cell + strip) + (rows + 1) * gap }

    init(count: Int, columns: Int, scale: Int, captions: Bool) {
        self.columns = min(columns, count)
        rows = (count + self.columns - 1) / self.columns
        self.scale = scale
        fontScale = max(1, scale / 2)
        cell = DigitImage.side * scale
        gap = max(2, scale)
        strip = captions ? 7 * fontScale : 0  // 5 glyph rows plus a row of margin each side
    }

    private func origin(_ i: Int) -> (x: Int, y: Int) {
        (gap + (i % columns) * (cell + gap), gap + (i / columns) * (cell + strip + gap))
    }

    func draw(_ image: DigitImage, at i: Int, into canvas: inout [UInt8]) {
        let (ox, oy) = origin(i)
        for y in 0..<cell { for x in 0..<cell {
            canvas[(oy + y) * width + ox + x] = image.pixels[(y / scale) * DigitImage.side + x / scale]
        } }
    }

    /// Centres `text` under cell `i`, dropping characters that do not fit.
    func caption(_ text: String, at i: Int, into canvas: inout [UInt8]) {
        let advance = 4 * fontScale
        let glyphs = Array(text.uppercased().prefix(max(0, (cell + fontScale) / advance)))
        let (ox, oy) = origin(i)
        var x = ox + (cell - (glyphs.count * advance - fontScale)) / 2
        let y = oy + cell + fontScale
        for ch in glyphs {
            let rows = BitmapFont.glyph(ch)
            for (r, bits) in rows.enumerated() { for c in 0..<3 where bits & (4 >> c) != 0 {
                for dy in 0..<fontScale { for dx in 0..<fontScale {
                    canvas[(y + r * fontScale + dy) * width + x + c * fontScale + dx] = Self.ink
                } }
            } }
            x += advance
        }
    }
}

/// A 3×5 pixel font: each glyph is five rows of three bits, most significant bit on the left.
enum BitmapFont {
    static func glyph(_ ch: Character) -> [UInt8] { table[ch] ?? table["?"]! }

    static let table: [Character: [UInt8]] = [
        "0": [7, 5, 5, 5, 7], "1": [2, 6, 2, 2, 7], "2": [7, 1, 7, 4, 7], "3": [7, 1, 7, 1, 7],
        "4": [5, 5, 7, 1, 1], "5": [7, 4, 7, 1, 7], "6": [7, 4, 7, 5, 7], "7": [7, 1, 1, 1, 1],
        "8": [7, 5, 7, 5, 7], "9": [7, 5, 7, 1, 7],
        "A": [2, 5, 7, 5, 5], "B": [6, 5, 6, 5, 6], "C": [3, 4, 4, 4, 3], "D": [6, 5, 5, 5, 6],
        "E": [7, 4, 6, 4, 7], "F": [7, 4, 6, 4, 4], "G": [3, 4, 5, 5, 3], "H": [5, 5, 7, 5, 5],
        "I": [7, 2, 2, 2, 7], "J": [1, 1, 1, 5, 2], "K": [5, 5, 6, 5, 5], "L": [4, 4, 4, 4, 7],
        "M": [5, 7, 7, 5, 5], "N": [6, 5, 5, 5, 5], "O": [2, 5, 5, 5, 2], "P": [6, 5, 6, 4, 4],
        "Q": [2, 5, 5, 6, 3], "R": [6, 5, 6, 5, 5], "S": [3, 4, 2, 1, 6], "T": [7, 2, 2, 2, 2],
        "U": [5, 5, 5, 5, 7], "V": [5, 5, 5, 5, 2], "W": [5, 5, 7, 7, 5], "X": [5, 5, 2, 5, 5],
        "Y": [5, 5, 2, 2, 2], "Z": [7, 1, 2, 4, 7],
        " ": [0, 0, 0, 0, 0], ".": [0, 0, 0, 0, 2], ",": [0, 0, 0, 2, 4], ":": [0, 2, 0, 2, 0],
        "-": [0, 0, 7, 0, 0], "+": [0, 2, 7, 2, 0], "=": [0, 7, 0, 7, 0], "?": [7, 1, 2, 0, 2],
        "!": [2, 2, 2, 0, 2], "/": [1, 1, 2, 4, 4], "(": [1, 2, 2, 2, 1], ")": [4, 2, 2, 2, 4],
        "%": [5, 1, 2, 4, 5], "<": [1, 2, 4, 2, 1], ">": [4, 2, 1, 2, 4], "_": [0, 0, 0, 0, 7],
        "#": [5, 7, 5, 7, 5], "'": [2, 2, 0, 0, 0], "*": [5, 2, 5, 0, 0],
    ]
}
