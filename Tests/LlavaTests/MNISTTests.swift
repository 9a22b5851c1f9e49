// Digits, normalization against the PyTorch golden, folder/CSV loaders and the seeded split.
import Foundation
import XCTest
@testable import Llava

/// Fixtures of the data-layer tests (Fixtures/data, see PROVENANCE.md there).
enum DataLayerFixtures {
    static func path(_ name: String) -> String {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
            .appendingPathComponent("data").appendingPathComponent(name).path
    }

    /// MNIST test images 0…15 (t10k order) as one IDX image block.
    static func idxImages() throws -> IDXImages {
        let npy = try NPYArray(path: path("test_images_0_15_uint8.npy"))
        precondition(npy.shape == [16, 28, 28])
        return IDXImages(count: 16, rows: 28, cols: 28, pixels: npy.values.map { UInt8($0) })
    }

    static func labels() throws -> [UInt8] {
        try NPYArray(path: path("test_labels_0_15_uint8.npy")).values.map { UInt8($0) }
    }

    static func digits() throws -> [DigitImage] {
        let images = try idxImages(), labels = try labels()
        return (0..<16).map { DigitImage(pixels: Array(images.pixels[$0 * 784 ..< ($0 + 1) * 784]), label: Int(labels[$0])) }
    }

    /// A fresh empty folder under the temporary directory.
    static func scratchFolder() throws -> String {
        let dir = (NSTemporaryDirectory() as NSString).appendingPathComponent("llava-data-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }
}

final class MNISTTests: ScratchFolderTestCase {


    // MARK: Normalization

    func testNormalizedMatchesPyTorchGoldenBitForBit() throws {
        let golden = try NPYArray(path: DataLayerFixtures.path("img0_image0_normalized.npy"))
        let mine = try DataLayerFixtures.digits()[0].normalized()
        XCTAssertEqual(golden.values.count, 784)
        XCTAssertEqual(mine.map(\.bitPattern), golden.values.map(\.bitPattern))
        XCTAssertEqual(DigitImage(pixels: [UInt8](repeating: 0, count: 784)).normalized()[0], -0.42421296)
    }

    // MARK: IDX folders

    private func writeSplit(_ prefix: String, imagesName: String? = nil, gzip: Bool) throws {
        let ext = gzip ? ".gz" : ""
        let images = IDX.encodeImages(try DataLayerFixtures.idxImages())
        let labels = IDX.encodeLabels(try DataLayerFixtures.labels())
        try (gzip ? Gzip.compress(images) : images)
            .write(to: URL(fileURLWithPath: path((imagesName ?? "\(prefix)-images-idx3-ubyte") + ext)))
        try (gzip ? Gzip.compress(labels) : labels)
            .write(to: URL(fileURLWithPath: path("\(prefix)-labels-idx1-ubyte" + ext)))
    }

    func testLoadFolderBothSplits() throws {
        try writeSplit("train", imagesName: "train-images.idx3-ubyte", gzip: true)
        try writeSplit("t10k", gzip: false)
        let (train, test) = try MNIST.loadFolder(dir)
        XCTAssertEqual(train?.count, 16)
        XCTAssertEqual(test?.images.first?.label, 7)
        XCTAssertEqual(train?.source, "train-images.idx3-ubyte.gz")
        let data = try MNISTData.fromFolder(dir)
        XCTAssertEqual(data.test.images.map(\.label), try DataLayerFixtures.digits().map(\.label))
        XCTAssertEqual(data.description, "MNIST IDX files in \(dir): 16 train, 16 test (t10k, canonical order)")
    }

    func testLoadFolderOneSplitOrNone() throws {
        expectError("no MNIST files (expected train-images-idx3-ubyte[.gz] and/or t10k-images-idx3-ubyte[.gz] with their label files)",
                    file: dir) { _ = try MNIST.loadFolder(dir) }
        try writeSplit("t10k", gzip: true)
        let (train, test) = try MNIST.loadFolder(dir)
        XCTAssertNil(train)
        XCTAssertEqual(test?.count, 16)
        expectError("has no training files (train-images-idx3-ubyte[.gz])", file: dir) { _ = try MNISTData.fromFolder(dir) }
        try FileManager.default.removeItem(atPath: path("t10k-labels-idx1-ubyte.gz"))
        expectError("has t10k-images-idx3-ubyte.gz but no t10k-labels-idx1-ubyte[.gz]", file: dir) { _ = try MNIST.loadFolder(dir) }
        let missing = path("absent")
        expectError("no such folder", file: missing) { _ = try MNIST.loadFolder(missing) }
    }

    // MARK: CSV

    private func csvLine(_ digit: DigitImage) -> String {
        (digit.pixels.map(String.init) + [String(digit.label!)]).joined(separator: ",")
    }

    func testLoadCSVGzipAndPlain() throws {
        let digits = try DataLayerFixtures.digits()
        let text = digits.prefix(3).map(csvLine).joined(separator: "\n") + "\n"
        let plain = path("d.csv"), gz = path("d.csv.gz")
        try Data(text.utf8).write(to: URL(fileURLWithPath: plain))
        try Gzip.compress(Data(text.replacingOccurrences(of: "\n", with: "\r\n").utf8)).write(to: URL(fileURLWithPath: gz))
        for p in [plain, gz] {
            let set = try MNIST.loadCSV(p)
            XCTAssertEqual(set.images, Array(digits.prefix(3)))
        }
    }

    func testCSVBadLines() throws {
        let good = csvLine(try DataLayerFixtures.digits()[0])
        func check(_ bad: String, _ message: String, line: UInt = #line) throws {
            let p = path("bad.csv.gz")
            try Gzip.compress(Data("\(good)\n\(bad)\n\(good)\n".utf8)).write(to: URL(fileURLWithPath: p))
            expectError(message, file: "\(p):2", { _ = try MNIST.loadCSV(p) }, line: line)
        }
        var fields = good.split(separator: ",").map(String.init)
        try check(fields.prefix(783).joined(separator: ","), "expected 785 values (784 pixels and a label), found 783")
        fields[4] = "256"
        try check(fields.joined(separator: ","), "pixel 5 is 256, outside 0…255")
        fields[4] = "1.5"
        try check(fields.joined(separator: ","), "value 5 ('1.5') is not a whole number 0…255")
        fields[4] = "0"; fields[784] = "10"
        try check(fields.joined(separator: ","), "label 10 is not a digit 0…9")
        let empty = path("empty.csv")
        try Data().write(to: URL(fileURLWithPath: empty))
        expectError("holds no images", file: empty) { _ = try MNIST.loadCSV(empty) }
    }

    // MARK: Seeded randomness

    func testSeededShuffleIsPinned() {
        // Pins the exact order so a change to the shuffle (which would change every split and
        // every training run) is noticed.
        var rng = SeededRandom(seed: 42)
        var items = Array(0..<10)
        MNIST.seededShuffle(&items, using: &rng)
        XCTAssertEqual(items, DataLayerFixtures.pinnedShuffle42)
        XCTAssertEqual(items.sorted(), Array(0..<10))
    }

    // MARK: The real 5k subset

    func testOfflineSplitOfTheRealSubset() throws {
        let cache = CachePaths.root
        let csv = (CachePaths.data as NSString).appendingPathComponent("mnist_5k.csv.gz")
        guard FileManager.default.fileExists(atPath: csv) else {
            return XCTFail("\(csv) is missing: run scripts/setup.sh to fetch the MNIST 5k subset")
        }
        let all = try MNIST.loadCSV(csv)
        XCTAssertEqual(all.count, 5000)
        XCTAssertEqual(all.labelCounts, Array(repeating: 500, count: 10))

        let a = try MNISTData.defaultOffline(cache: cache, seed: 0)
        XCTAssertEqual(a.train.count, 4000)
        XCTAssertEqual(a.test.count, 1000)
        XCTAssertEqual(a.train.labelCounts, Array(repeating: 400, count: 10))
        XCTAssertEqual(a.test.labelCounts, Array(repeating: 100, count: 10))
        XCTAssertTrue(Set(a.train.images.map(\.pixels)).isDisjoint(with: a.test.images.map(\.pixels)))
        XCTAssertEqual(Set(a.train.images.map(\.pixels) + a.test.images.map(\.pixels)).count,
                       Set(all.images.map(\.pixels)).count)
        // Every prefix mixes digits: the first 20 held-out images are not all one digit.
        XCTAssertGreaterThan(Set(a.test.images.prefix(20).map(\.label)).count, 3)
        XCTAssertEqual(a.description,
                       "MNIST 5k subset (mnist_5k.csv.gz), stratified split with seed 0: 4,000 train (400 per digit), 1,000 held out (100 per digit)")

        let same = try MNISTData.defaultOffline(cache: cache, seed: 0)
        XCTAssertEqual(same.train.images, a.train.images)
        XCTAssertEqual(same.test.images, a.test.images)
        XCTAssertEqual(same.shuffledTrainOrder(seed: 5), a.shuffledTrainOrder(seed: 5))

        let other = try MNISTData.defaultOffline(cache: cache, seed: 1)
        XCTAssertNotEqual(Set(other.test.images.map(\.pixels)), Set(a.test.images.map(\.pixels)))
        XCTAssertNotEqual(a.shuffledTrainOrder(seed: 5), a.shuffledTrainOrder(seed: 6))
        XCTAssertEqual(a.shuffledTrainOrder(seed: 5).sorted(), Array(0..<4000))
    }

    func testOfflineMissingFileNamesSetup() throws {
        let p = (dir as NSString).appendingPathComponent("data/mnist_5k.csv.gz")
        expectError("missing: run scripts/setup.sh to fetch the MNIST 5k subset", file: p) {
            _ = try MNISTData.defaultOffline(cache: dir)
        }
    }

    func testCachePaths() {
        let saved = ProcessInfo.processInfo.environment["LLAVA_MNIST_CACHE"]
        defer { if let saved { setenv("LLAVA_MNIST_CACHE", saved, 1) } else { unsetenv("LLAVA_MNIST_CACHE") } }
        setenv("LLAVA_MNIST_CACHE", "/tmp/somewhere", 1)
        XCTAssertEqual(CachePaths.root, "/tmp/somewhere")
        XCTAssertEqual(CachePaths.models, "/tmp/somewhere/models")
        XCTAssertEqual(CachePaths.data, "/tmp/somewhere/data")
        XCTAssertEqual(CachePaths.tokenizers, "/tmp/somewhere/tokenizers")
        unsetenv("LLAVA_MNIST_CACHE")
        XCTAssertTrue(CachePaths.root.hasSuffix("/.cache/llava-mnist"))
    }
}

extension DataLayerFixtures {
    /// `seededShuffle` of 0..<10 with `SeededRandom(seed: 42)`.
    static let pinnedShuffle42 = [7, 3, 8, 9, 5, 6, 4, 1, 0, 2]
}
