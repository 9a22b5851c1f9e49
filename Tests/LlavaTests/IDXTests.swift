// IDX reading and writing, raw and gzip, and every way a file can be wrong.
import Foundation
import XCTest
@testable import Llava

final class IDXTests: ScratchFolderTestCase {

    private func write(_ data: Data, _ name: String, gzip: Bool = false) throws -> String {
        let p = path(name)
        try (gzip ? Gzip.compress(data) : data).write(to: URL(fileURLWithPath: p))
        return p
    }


    func testRoundTripRawAndGzip() throws {
        let images = try DataLayerFixtures.idxImages()
        let labels = try DataLayerFixtures.labels()
        for gz in [false, true] {
            let ip = try write(IDX.encodeImages(images), "images\(gz)", gzip: gz)
            let lp = try write(IDX.encodeLabels(labels), "labels\(gz)", gzip: gz)
            XCTAssertEqual(try IDX.readImages(path: ip), images)
            XCTAssertEqual(try IDX.readLabels(path: lp), labels)
            let set = try MNIST.loadIDX(images: ip, labels: lp)
            XCTAssertEqual(set.images.map(\.label), [7, 2, 1, 0, 4, 1, 4, 9, 5, 9, 0, 6, 9, 0, 1, 5])
            XCTAssertEqual(set.images[3].pixels, Array(images.pixels[3 * 784 ..< 4 * 784]))
            XCTAssertEqual(try MNIST.loadIDX(images: ip, labels: nil).images.map(\.label), Array(repeating: nil, count: 16))
        }
    }

    func testDecodesBytesInMemory() throws {
        let images = try DataLayerFixtures.idxImages()
        for gz in [false, true] {
            let data = IDX.encodeImages(images)
            XCTAssertEqual(try IDX.decodeImages(gz ? Gzip.compress(data) : data, name: "mem"), images)
            let labels = IDX.encodeLabels([3, 1, 4])
            XCTAssertEqual(try IDX.decodeLabels(gz ? Gzip.compress(labels) : labels, name: "mem"), [3, 1, 4])
        }
        expectError("truncated: declares 3 labels (3 bytes) but holds only 2", file: "mem") {
            _ = try IDX.decodeLabels(IDX.encodeLabels([3, 1, 4]).dropLast(), name: "mem")
        }
    }

    func testHeaderIsBigEndian() throws {
        let data = IDX.encodeLabels([1, 2, 3])
        XCTAssertEqual(Array(data), [0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3])
    }

    func testTruncatedRawFile() throws {
        let full = IDX.encodeImages(try DataLayerFixtures.idxImages())
        let p = try write(full.prefix(full.count - 10), "cut")
        expectError("truncated: declares 16 images of 28×28 (12544 bytes) but holds only 12534", file: p) {
            _ = try IDX.readImages(path: p)
        }
    }

    func testTruncatedGzipPayload() throws {
        let full = IDX.encodeImages(try DataLayerFixtures.idxImages())
        let p = try write(full.prefix(full.count - 784), "cut.gz", gzip: true)
        expectError("truncated: declares 16 images of 28×28 (12544 bytes) but holds only 11760", file: p) {
            _ = try IDX.readImages(path: p)
        }
    }

    func testTruncatedGzipStream() throws {
        let gz = try Gzip.compress(IDX.encodeImages(try DataLayerFixtures.idxImages()))
        let p = try write(gz.prefix(gz.count / 2), "half.gz")
        expectError("truncated: the gzip data ends early", file: p) { _ = try IDX.readImages(path: p) }
    }

    func testCorruptGzip() throws {
        let p = try write(Data([0x1F, 0x8B, 0x08, 0, 0, 0, 0, 0, 0, 3] + [UInt8](repeating: 0xFF, count: 40)), "bad.gz")
        XCTAssertThrowsError(try IDX.readImages(path: p)) { error in
            XCTAssertTrue((error as? FormatError)?.message.hasPrefix("corrupt gzip data (") == true, "\(error)")
        }
    }

    func testWrongMagic() throws {
        let p = try write(IDX.encodeLabels([1, 2]), "labels")
        expectError("wrong magic 0x00000801, expected 0x00000803 (this is an IDX label file)", file: p) {
            _ = try IDX.readImages(path: p)
        }
        let q = try write(Data([0x50, 0x4B, 3, 4, 0, 0, 0, 0]), "zip")
        expectError("wrong magic 0x504b0304, expected 0x00000801", file: q) { _ = try IDX.readLabels(path: q) }
    }

    func testShortHeader() throws {
        let empty = try write(Data(), "empty")
        expectError("truncated: the file is too short for an IDX header", file: empty) { _ = try IDX.readImages(path: empty) }
        let short = try write(Data([0, 0, 8, 3, 0, 0, 0, 1, 0, 0]), "short")
        expectError("truncated: the IDX header ends early", file: short) { _ = try IDX.readImages(path: short) }
    }

    func testAbsurdDimensionsRejectedBeforeAllocating() throws {
        func header(_ words: [UInt32]) -> Data {
            Data(words.flatMap { w in withUnsafeBytes(of: w.bigEndian) { Array($0) } })
        }
        let wide = try write(header([0x803, 1, 100_000, 28]), "wide")
        expectError("absurd image size 100000×28 (each side must be 1…4096)", file: wide) { _ = try IDX.readImages(path: wide) }
        let zero = try write(header([0x803, 1, 0, 28]), "zero")
        expectError("absurd image size 0×28 (each side must be 1…4096)", file: zero) { _ = try IDX.readImages(path: zero) }
        // 4 billion images of 4096×4096 would be 2^56 bytes: refused from the header alone.
        let huge = try write(header([0x803, 0xFFFF_FFFF, 4096, 4096]), "huge.gz", gzip: true)
        expectError("declares 4294967295 images of 4096×4096, more than the 1024 MiB limit", file: huge) {
            _ = try IDX.readImages(path: huge)
        }
    }

    func testGzipBombStopsAtDeclaredSize() throws {
        // A header declaring 1 label followed by 64 MB of zeros: inflation stops one byte past
        // the declared payload.
        var data = IDX.encodeLabels([3])
        data.append(Data(count: 64 << 20))
        let p = try write(data, "bomb.gz", gzip: true)
        XCTAssertLessThan(try Data(contentsOf: URL(fileURLWithPath: p)).count, 200_000)
        expectError("declares 1 labels (1 bytes) but has more data after them", file: p) { _ = try IDX.readLabels(path: p) }
    }

    func testTrailingDataInRawFile() throws {
        let p = try write(IDX.encodeLabels([1, 2]) + Data([9]), "long")
        expectError("declares 2 labels (2 bytes) but has more data after them", file: p) { _ = try IDX.readLabels(path: p) }
    }

    func testConcatenatedGzipMembers() throws {
        let whole = IDX.encodeLabels([1, 2, 3, 4])
        let p = try write(try Gzip.compress(whole.prefix(10)) + Gzip.compress(whole.suffix(from: 10)), "two.gz")
        XCTAssertEqual(try IDX.readLabels(path: p), [1, 2, 3, 4])
    }

    func testMissingFile() {
        let p = path("nope")
        expectError("no such file", file: p) { _ = try IDX.readLabels(path: p) }
    }

    func testImageLabelCountMismatch() throws {
        let ip = try write(IDX.encodeImages(try DataLayerFixtures.idxImages()), "t10k-images-idx3-ubyte")
        let lp = try write(IDX.encodeLabels(Array(try DataLayerFixtures.labels().prefix(15))), "t10k-labels-idx1-ubyte")
        expectError("holds 15 labels but t10k-images-idx3-ubyte holds 16 images", file: lp) {
            _ = try MNIST.loadIDX(images: ip, labels: lp)
        }
    }

    func testNonDigitLabelAndWrongImageSize() throws {
        let lp = try write(IDX.encodeLabels([1, 12]), "labels")
        let ip = try write(IDX.encodeImages(IDXImages(count: 2, rows: 28, cols: 28, pixels: [UInt8](repeating: 0, count: 1568))), "images")
        expectError("label 12 at index 1 is not a digit 0…9", file: lp) { _ = try MNIST.loadIDX(images: ip, labels: lp) }
        let small = try write(IDX.encodeImages(IDXImages(count: 1, rows: 8, cols: 8, pixels: [UInt8](repeating: 0, count: 64))), "small")
        expectError("images are 8×8; MNIST digits must be 28×28", file: small) { _ = try MNIST.loadIDX(images: small, labels: nil) }
    }
}
