// NumPy `.npy` (format 1.0/2.0) reader and writer for float32/uint8 arrays: the format the
// PyTorch reference dumps use, so `trace` output and test goldens compare directly.
//
//   "\x93NUMPY" | u8 major | u8 minor | u16 (v1) or u32 (v2) header length | ASCII dict | data
import Foundation

/// A dense array read from a `.npy` file, widened to float32.
public struct NPYArray: Sendable {
    public let shape: [Int]
    public let values: [Float]

    public init(shape: [Int], values: [Float]) {
        self.shape = shape
        self.values = values
    }

    /// Reads a little-endian `<f4`, `<f8`, `|u1` or `<i8` array in C order.
    public init(path: String) throws {
        let file = try MappedFile(path: path)
        var r = ByteReader(file)
        let magic = try r.readBytes(6)
        guard Array(magic) == [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59] else { throw FormatError(path, "not a .npy file") }
        let major = try r.read(UInt8.self)
        _ = try r.read(UInt8.self)
        let headerLen = major == 1 ? Int(try r.read(UInt16.self)) : Int(try r.read(UInt32.self))
        let header = String(decoding: try r.readBytes(headerLen), as: UTF8.self)
        guard !header.contains("'fortran_order': True") else { throw FormatError(path, "Fortran-order arrays are not supported") }
        guard let descr = Self.field(header, "descr"), let shapeText = Self.field(header, "shape") else {
            throw FormatError(path, "malformed .npy header")
        }
        let shape = shapeText.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let count = shape.reduce(1, *)
        let (size, convert): (Int, (UnsafeRawBufferPointer, Int) -> Float) = switch descr {
        case "<f4": (4, { b, i in b.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) })
        case "<f8": (8, { b, i in Float(b.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) })
        case "|u1": (1, { b, i in Float(b[i]) })
        case "<i8": (8, { b, i in Float(b.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)) })
        default: throw FormatError(path, "unsupported dtype \(descr)")
        }
        let data = try r.readBytes(count * size)
        self.shape = shape
        self.values = (0..<count).map { convert(data, $0) }
    }

    /// The text between the quotes or parentheses after `'key':` in the header dict.
    static func field(_ header: String, _ key: String) -> String? {
        guard let k = header.range(of: "'\(key)':") else { return nil }
        let rest = header[k.upperBound...].drop { $0 == " " }
        guard let open = rest.first else { return nil }
        let close: Character = open == "(" ? ")" : open
        let body = rest.dropFirst()
        guard let end = body.firstIndex(of: close) else { return nil }
        return String(body[..<end])
    }

    /// Writes a float32 array as `.npy` version 1.0.
    public static func write(_ values: [Float], shape: [Int], to path: String) throws {
        let dims = shape.count == 1 ? "\(shape[0])," : shape.map(String.init).joined(separator: ", ")
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(dims)), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var out = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0])
        withUnsafeBytes(of: UInt16(header.utf8.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: Array(header.utf8))
        values.withUnsafeBytes { out.append(contentsOf: $0) }
        try AtomicFile.write(out, to: path)
    }
}
