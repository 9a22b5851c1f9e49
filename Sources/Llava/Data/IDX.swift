// The IDX format of the MNIST distribution files, raw or gzip-compressed.
//
//   images: u32be magic 0x00000803 | u32be count | u32be rows | u32be cols | count×rows×cols u8
//   labels: u32be magic 0x00000801 | u32be count | count u8
//
// Files come from users and mirrors, so nothing is allocated from a header before the header
// has been checked: the declared size must be plausible and under a cap, and the payload must
// then be exactly that long. Gzip data is inflated as a stream, never past what the header
// declared (plus one byte to detect trailing data), so a gzip bomb costs nothing.
import CPNG
import Foundation

/// Images read from an IDX file: `count` images of `rows`×`cols` uint8 pixels, row-major.
public struct IDXImages: Sendable, Equatable {
    public let count: Int
    public let rows: Int
    public let cols: Int
    /// `count * rows * cols` pixels, image after image.
    public let pixels: [UInt8]

    public init(count: Int, rows: Int, cols: Int, pixels: [UInt8]) {
        precondition(pixels.count == count * rows * cols, "pixel count does not match the dimensions")
        self.count = count
        self.rows = rows
        self.cols = cols
        self.pixels = pixels
    }
}

/// Reader and writer for the IDX files of MNIST (uint8 images and labels).
public enum IDX {
    public static let imagesMagic: UInt32 = 0x0000_0803
    public static let labelsMagic: UInt32 = 0x0000_0801
    /// The most payload a file may declare (1 GiB; all of MNIST's training images are 47 MB).
    public static let maxPayloadBytes = 1 << 30
    /// The largest side an image may declare; real IDX image sets are 28 or 32 pixels wide.
    public static let maxSide = 4096

    /// Reads an image file (magic 0x00000803), gzip or raw.
    public static func readImages(path: String) throws -> IDXImages {
        try images(from: ByteStream(path: path), path: path)
    }

    /// Decodes the bytes of an image file held in memory (gzip or raw); `name` labels errors.
    public static func decodeImages(_ data: Data, name: String) throws -> IDXImages {
        try images(from: ByteStream(data: data, name: name), path: name)
    }

    /// Decodes the bytes of a label file held in memory (gzip or raw); `name` labels errors.
    public static func decodeLabels(_ data: Data, name: String) throws -> [UInt8] {
        try labels(from: ByteStream(data: data, name: name), path: name)
    }

    private static func images(from input: ByteStream, path: String) throws -> IDXImages {
        let header = try readHeader(input, path: path, expected: imagesMagic, dims: 3)
        let (count, rows, cols) = (header[0], header[1], header[2])
        guard (1...maxSide).contains(rows), (1...maxSide).contains(cols) else {
            throw FormatError(path, "absurd image size \(rows)×\(cols) (each side must be 1…\(maxSide))")
        }
        let what = "\(count) images of \(rows)×\(cols)"
        let pixels = try readPayload(input, path: path, what: what, bytes: count.multipliedReportingOverflow(by: rows * cols))
        return IDXImages(count: count, rows: rows, cols: cols, pixels: pixels)
    }

    /// Reads a label file (magic 0x00000801), gzip or raw.
    public static func readLabels(path: String) throws -> [UInt8] {
        try labels(from: ByteStream(path: path), path: path)
    }

    private static func labels(from input: ByteStream, path: String) throws -> [UInt8] {
        let count = try readHeader(input, path: path, expected: labelsMagic, dims: 1)[0]
        return try readPayload(input, path: path, what: "\(count) labels", bytes: (count, false))
    }

    /// The bytes of an image file (uncompressed; pass them to `Gzip.compress` for `.gz`).
    public static func encodeImages(_ images: IDXImages) -> Data {
        var out = header(imagesMagic, [images.count, images.rows, images.cols])
        out.append(contentsOf: images.pixels)
        return out
    }

    /// The bytes of a label file (uncompressed).
    public static func encodeLabels(_ labels: [UInt8]) -> Data {
        var out = header(labelsMagic, [labels.count])
        out.append(contentsOf: labels)
        return out
    }

    // MARK: - Parsing

    /// Checks the magic number and returns the `dims` declared sizes.
    private static func readHeader(_ input: ByteStream, path: String, expected: UInt32, dims: Int) throws -> [Int] {
        let bytes = try input.read(4 + 4 * dims)
        guard bytes.count >= 4 else { throw FormatError(path, "truncated: the file is too short for an IDX header") }
        let magic = bigEndian(bytes, 0)
        guard magic == expected else {
            let hint = switch magic {
            case imagesMagic: " (this is an IDX image file)"
            case labelsMagic: " (this is an IDX label file)"
            default: ""
            }
            throw FormatError(path, "wrong magic \(hex(magic)), expected \(hex(expected))\(hint)")
        }
        guard bytes.count == 4 + 4 * dims else { throw FormatError(path, "truncated: the IDX header ends early") }
        return (0..<dims).map { Int(bigEndian(bytes, 4 + 4 * $0)) }
    }

    /// Reads exactly the declared payload and makes sure nothing follows it.
    private static func readPayload(_ input: ByteStream, path: String, what: String,
                                    bytes declared: (partialValue: Int, overflow: Bool)) throws -> [UInt8] {
        guard !declared.overflow, declared.partialValue <= maxPayloadBytes else {
            throw FormatError(path, "declares \(what), more than the \(maxPayloadBytes >> 20) MiB limit")
        }
        let expected = declared.partialValue
        let payload = try input.read(expected)
        guard payload.count == expected else {
            throw FormatError(path, "truncated: declares \(what) (\(expected) bytes) but holds only \(payload.count)")
        }
        guard try input.read(1).isEmpty else {
            throw FormatError(path, "declares \(what) (\(expected) bytes) but has more data after them")
        }
        return payload
    }

    private static func bigEndian(_ b: [UInt8], _ at: Int) -> UInt32 {
        UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3])
    }

    private static func hex(_ v: UInt32) -> String {
        let digits = String(v, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }

    private static func header(_ magic: UInt32, _ dims: [Int]) -> Data {
        var out = Data()
        for v in [magic] + dims.map({ UInt32($0) }) { withUnsafeBytes(of: v.bigEndian) { out.append(contentsOf: $0) } }
        return out
    }
}

/// The bytes of a file read front to back, transparently inflated when it is gzip (1f 8b).
final class ByteStream {
    private let path: String
    private let raw: Data
    private var offset = 0
    private let inflater: Inflater?

    /// The largest file read into memory: no IDX or CSV file we accept can be bigger.
    static let maxFileBytes = IDX.maxPayloadBytes + (1 << 20)

    convenience init(path: String) throws {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        if let size = attributes?[.size] as? Int, size > Self.maxFileBytes {
            throw FormatError(path, "file is larger than the \(Self.maxFileBytes >> 20) MiB limit")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FormatError(path, attributes == nil ? "no such file" : "cannot read the file")
        }
        try self.init(data: data, name: path)
    }

    /// The bytes of `data` (already in memory); `name` labels errors.
    init(data: Data, name path: String) throws {
        guard data.count <= Self.maxFileBytes else {
            throw FormatError(path, "file is larger than the \(Self.maxFileBytes >> 20) MiB limit")
        }
        self.path = path
        let gzip = data.starts(with: [0x1F, 0x8B])
        raw = gzip ? Data() : data  // the inflater keeps its own copy of compressed bytes
        inflater = gzip ? try Inflater(data, path: path) : nil
    }

    /// Up to `n` bytes; fewer only at the end of the data.
    func read(_ n: Int) throws -> [UInt8] {
        if let inflater {
            // Inflate in slices so memory grows with the data actually present, not with
            // what a (possibly lying) header declared: 64 KB first, then doubling up to 4 MB.
            var out = [UInt8]()
            while out.count < n {
                let slice = try inflater.read(min(n - out.count, min(4 << 20, max(64 << 10, out.count))))
                if slice.isEmpty { break }
                out += slice
            }
            return out
        }
        let end = min(raw.count, offset + n)
        defer { offset = end }
        return [UInt8](raw[raw.startIndex + offset ..< raw.startIndex + end])
    }

    /// Everything that is left, refusing more than `limit` bytes.
    func readAll(limit: Int) throws -> [UInt8] {
        let all = try read(limit + 1)
        guard all.count <= limit else {
            throw FormatError(path, "decompresses to more than the \(limit >> 20) MiB limit")
        }
        return all
    }
}

/// A streaming gzip decoder over zlib (`inflateInit2` with 16 + MAX_WBITS accepts the gzip
/// wrapper). Concatenated gzip members, which `gzip` produces for appended files, are read
/// one after another like `zcat` does.
final class Inflater {
    private let path: String
    /// The compressed bytes, at a fixed address for zlib's `next_in`.
    private let input: UnsafeMutableBufferPointer<UInt8>
    private let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    private var finished = false
    /// Whether zlib's state was set up (and so must be torn down).
    private var started = false

    init(_ data: Data, path: String) throws {
        self.path = path
        input = .allocate(capacity: max(1, data.count))
        _ = input.initialize(from: data)
        stream.initialize(to: z_stream())
        stream.pointee.next_in = input.baseAddress
        stream.pointee.avail_in = UInt32(data.count)
        let status = inflateInit2_(stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        // deinit still runs when this throws, and frees the buffers.
        guard status == Z_OK else { throw FormatError(path, "cannot start the gzip decoder (zlib status \(status))") }
        started = true
    }

    deinit {
        if started { inflateEnd(stream) }
        stream.deallocate()
        input.deallocate()
    }

    /// Up to `n` inflated bytes; fewer only at the end of the stream.
    func read(_ n: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: n)
        var produced = 0
        try out.withUnsafeMutableBufferPointer { outBuf in
            while produced < n, !finished {
                // avail_out is 32-bit: hand out at most 1 GiB per call.
                let chunk = min(n - produced, 1 << 30)
                stream.pointee.next_out = outBuf.baseAddress! + produced
                stream.pointee.avail_out = UInt32(chunk)
                let status = CPNG.inflate(stream, Z_NO_FLUSH)
                produced += chunk - Int(stream.pointee.avail_out)
                switch status {
                case Z_OK:
                    continue
                case Z_STREAM_END:
                    // Another member follows only if its magic does; anything else after the
                    // stream is ignored, as gzip itself ignores trailing garbage.
                    let rest = Int(stream.pointee.avail_in)
                    let next = stream.pointee.next_in!
                    if rest >= 2, next[0] == 0x1F, next[1] == 0x8B {
                        inflateReset(stream)
                    } else {
                        finished = true
                    }
                case Z_BUF_ERROR where stream.pointee.avail_in == 0:
                    throw FormatError(path, "truncated: the gzip data ends early")
                default:
                    let detail = stream.pointee.msg.map { String(cString: $0) } ?? "zlib status \(status)"
                    throw FormatError(path, "corrupt gzip data (\(detail))")
                }
            }
        }
        out.removeLast(n - produced)
        return out
    }
}

/// In-memory gzip compression, for writing `.gz` IDX files and test fixtures.
public enum Gzip {
    /// `data` wrapped as a single gzip member (deflateInit2 with 16 + MAX_WBITS).
    public static func compress(_ data: Data, level: Int32 = 6) throws -> Data {
        var stream = z_stream()
        guard deflateInit2_(&stream, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY,
                            ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw FormatError("<memory>", "cannot start the gzip encoder")
        }
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, UInt(data.count))) + 64
        var out = [UInt8](repeating: 0, count: bound)
        var input = [UInt8](data)
        let status = input.withUnsafeMutableBufferPointer { inBuf in
            out.withUnsafeMutableBufferPointer { outBuf in
                stream.next_in = inBuf.baseAddress
                stream.avail_in = UInt32(inBuf.count)
                stream.next_out = outBuf.baseAddress
                stream.avail_out = UInt32(outBuf.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { throw FormatError("<memory>", "gzip compression failed (zlib status \(status))") }
        return Data(out[0..<Int(stream.total_out)])
    }
}
