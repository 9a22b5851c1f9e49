// The CLIP image processor of LLaVA-1.5 (transformers' CLIPImageProcessor, PIL backend) for
// MNIST digits: gray → RGB, resize the shortest side with Pillow's bicubic filter (bit-exact
// with Pillow's Resample.c: two uint8 passes with 22-bit fixed-point weights), centre crop,
// rescale, normalize with CLIP's mean and std. Output: pixel values [3][H][W], float32.
import Foundation

/// The settings of `preprocessor_config.json`, and the preprocessing they describe.
public struct CLIPImageProcessor: Sendable, Equatable {
    /// Target of the shortest side (`size.shortest_edge`, 336 for LLaVA-1.5).
    public var shortestEdge: Int
    /// Centre crop (`crop_size`), height × width.
    public var cropHeight: Int
    public var cropWidth: Int
    public var doResize: Bool
    public var doCenterCrop: Bool
    public var doRescale: Bool
    public var doNormalize: Bool
    public var rescaleFactor: Double
    public var mean: [Float]
    public var std: [Float]

    /// LLaVA-1.5's settings (llava-hf/llava-1.5-7b-hf).
    public static let llava15 = CLIPImageProcessor(
        shortestEdge: 336, cropHeight: 336, cropWidth: 336, doResize: true, doCenterCrop: true, doRescale: true,
        doNormalize: true, rescaleFactor: 1.0 / 255, mean: [0.48145466, 0.4578275, 0.40821073],
        std: [0.26862954, 0.26130258, 0.27577711])

    /// Reads `preprocessor_config.json` from a model folder.
    public static func load(folder: String) throws -> CLIPImageProcessor {
        let path = (folder as NSString).appendingPathComponent("preprocessor_config.json")
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FormatError(path, "missing: a LLaVA folder needs preprocessor_config.json (the CLIP image processor settings); download it with the model")
        }
        guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw FormatError(path, "not a valid JSON object")
        }
        return try CLIPImageProcessor(json: json, path: path)
    }

    public init(shortestEdge: Int, cropHeight: Int, cropWidth: Int, doResize: Bool, doCenterCrop: Bool, doRescale: Bool,
                doNormalize: Bool, rescaleFactor: Double, mean: [Float], std: [Float]) {
        self.shortestEdge = shortestEdge; self.cropHeight = cropHeight; self.cropWidth = cropWidth
        self.doResize = doResize; self.doCenterCrop = doCenterCrop; self.doRescale = doRescale
        self.doNormalize = doNormalize; self.rescaleFactor = rescaleFactor; self.mean = mean; self.std = std
    }

    /// Settings from a parsed `preprocessor_config.json`; anything absent takes LLaVA-1.5's value.
    public init(json: [String: Any], path: String) throws {
        var p = Self.llava15
        func number(_ any: Any?) -> Double? { (any as? NSNumber)?.doubleValue }
        if let size = json["size"] as? [String: Any] {
            guard let s = number(size["shortest_edge"]) else {
                throw FormatError(path, "size must give shortest_edge (other resize modes are not supported)")
            }
            p.shortestEdge = Int(s)
        } else if let s = number(json["size"]) { p.shortestEdge = Int(s) }
        if let crop = json["crop_size"] as? [String: Any] {
            p.cropHeight = Int(number(crop["height"]) ?? Double(p.cropHeight))
            p.cropWidth = Int(number(crop["width"]) ?? Double(p.cropWidth))
        } else if let c = number(json["crop_size"]) { p.cropHeight = Int(c); p.cropWidth = Int(c) }
        p.doResize = json["do_resize"] as? Bool ?? true
        p.doCenterCrop = json["do_center_crop"] as? Bool ?? true
        p.doRescale = json["do_rescale"] as? Bool ?? true
        p.doNormalize = json["do_normalize"] as? Bool ?? true
        p.rescaleFactor = number(json["rescale_factor"]) ?? p.rescaleFactor
        // Foundation's JSON reader on Linux can land one ulp off "0.00392156862745098";
        // Python's value is exactly 1/255, which is what the factor always means here.
        if abs(p.rescaleFactor - 1.0 / 255) < 1e-15 { p.rescaleFactor = 1.0 / 255 }
        if let m = json["image_mean"] as? [Any] { p.mean = m.compactMap { number($0).map(Float.init) } }
        if let s = json["image_std"] as? [Any] { p.std = s.compactMap { number($0).map(Float.init) } }
        if let r = number(json["resample"]), Int(r) != 3 {
            throw FormatError(path, "resample \(Int(r)) is not supported (only 3, bicubic, as LLaVA-1.5 uses)")
        }
        guard p.mean.count == 3, p.std.count == 3, p.std.allSatisfy({ $0 != 0 }) else {
            throw FormatError(path, "image_mean and image_std must hold 3 numbers (std non-zero)")
        }
        guard (1...4096).contains(p.shortestEdge), (1...4096).contains(p.cropHeight), (1...4096).contains(p.cropWidth) else {
            throw FormatError(path, "size or crop_size out of range")
        }
        self = p
    }

    // MARK: - Preprocessing

    /// Pixel values `[3][cropHeight][cropWidth]` for an MNIST digit.
    public func pixelValues(_ image: DigitImage) -> [Float] {
        pixelValues(gray: image.pixels, width: DigitImage.side, height: DigitImage.side)
    }

    /// Pixel values for any gray image (`convert("RGB")` copies gray into R, G and B).
    public func pixelValues(gray: [UInt8], width: Int, height: Int) -> [Float] {
        var (img, w, h) = (gray, width, height)
        if doResize {
            let (ow, oh) = resizedSize(width: w, height: h)
            img = BicubicResize.resize(img, width: w, height: h, toWidth: ow, toHeight: oh)
            (w, h) = (ow, oh)
        }
        if doCenterCrop { (img, w, h) = Self.centerCrop(img, width: w, height: h, toWidth: cropWidth, toHeight: cropHeight) }
        var out = [Float](repeating: 0, count: 3 * w * h)
        for c in 0..<3 {
            for i in 0..<(w * h) {
                // float64 rescale then float32, as numpy does `image * scale` then casts
                var x = doRescale ? Float(Double(img[i]) * rescaleFactor) : Float(img[i])
                if doNormalize { x = (x - mean[c]) / std[c] }
                out[c * w * h + i] = x
            }
        }
        return out
    }

    /// The size after resizing the shortest side to `shortestEdge` (transformers'
    /// `get_resize_output_image_size` with `default_to_square=False`).
    func resizedSize(width: Int, height: Int) -> (Int, Int) {
        let short = min(width, height), long = max(width, height)
        let newLong = Int(Double(shortestEdge) * Double(long) / Double(short))
        return width <= height ? (shortestEdge, newLong) : (newLong, shortestEdge)
    }

    /// transformers' `center_crop`: offsets `(size − crop) / 2` rounded down, padding with 0
    /// where the image is smaller than the crop.
    static func centerCrop(_ img: [UInt8], width: Int, height: Int, toWidth cw: Int, toHeight ch: Int) -> ([UInt8], Int, Int) {
        if cw == width && ch == height { return (img, width, height) }
        let top = (height - ch) / 2, left = (width - cw) / 2
        var out = [UInt8](repeating: 0, count: cw * ch)
        for y in 0..<ch where (0..<height).contains(y + top) {
            for x in 0..<cw where (0..<width).contains(x + left) { out[y * cw + x] = img[(y + top) * width + x + left] }
        }
        return (out, cw, ch)
    }
}

/// Pillow's bicubic resampling of an 8-bit single-channel image (Resample.c,
/// `ImagingResample` with `IMAGING_TRANSFORM_BICUBIC`): separable passes, horizontal first,
/// each rounding to uint8, with antialiasing (the support widens when downscaling).
enum BicubicResize {
    /// Fraction bits of the fixed-point weights: 32 − 8 − 2, as Pillow's `PRECISION_BITS`.
    static let precisionBits = 22

    /// Keys' cubic convolution kernel with a = −0.5 (Pillow's `bicubic_filter`).
    static func keys(_ x: Double) -> Double {
        let a = -0.5, t = abs(x)
        if t < 1 { return ((a + 2) * t - (a + 3)) * t * t + 1 }
        if t < 2 { return (((t - 5) * t + 8) * t - 4) * a }
        return 0
    }

    /// Per output index: the first input index and the fixed-point weights of its taps.
    static func coefficients(inSize: Int, outSize: Int) -> [(start: Int, weights: [Int])] {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = 2 * filterScale
        return (0..<outSize).map { x in
            let center = (Double(x) + 0.5) * scale
            let xmin = max(Int(center - support + 0.5), 0)
            let xmax = min(Int(center + support + 0.5), inSize)
            var w = (xmin..<xmax).map { keys((Double($0) - center + 0.5) / filterScale) }
            let sum = w.reduce(0, +)
            if sum != 0 { w = w.map { $0 / sum } }
            let one = Double(1 << precisionBits)
            // round half away from zero, as Pillow's normalize_coeffs_8bpc
            return (xmin, w.map { $0 < 0 ? Int(-0.5 + $0 * one) : Int(0.5 + $0 * one) })
        }
    }

    /// `(2²¹ + Σ pixel·w) >> 22`, clamped to 0…255.
    @inline(__always) static func clip8(_ acc: Int) -> UInt8 {
        UInt8(clamping: (acc + (1 << (precisionBits - 1))) >> precisionBits)
    }

    static func resize(_ img: [UInt8], width: Int, height: Int, toWidth ow: Int, toHeight oh: Int) -> [UInt8] {
        var cur = img, w = width
        if ow != width {
            let k = coefficients(inSize: width, outSize: ow)
            var out = [UInt8](repeating: 0, count: ow * height)
            for y in 0..<height {
                for x in 0..<ow {
                    var acc = 0
                    for (j, wt) in k[x].weights.enumerated() { acc += Int(cur[y * w + k[x].start + j]) * wt }
                    out[y * ow + x] = clip8(acc)
                }
            }
            cur = out; w = ow
        }
        if oh != height {
            let k = coefficients(inSize: height, outSize: oh)
            var out = [UInt8](repeating: 0, count: w * oh)
            for y in 0..<oh {
                for x in 0..<w {
                    var acc = 0
                    for (j, wt) in k[y].weights.enumerated() { acc += Int(cur[(k[y].start + j) * w + x]) * wt }
                    out[y * w + x] = clip8(acc)
                }
            }
            cur = out
        }
        return cur
    }
}
