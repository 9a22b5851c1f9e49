// GGUF reader (versions 2 and 3), after the layout documented in ggml's gguf.h:
//
//   magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv
//   n_kv × (string key | u32 type | value)            metadata, arrays may nest
//   n_tensors × (string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type | u64 offset)
//   padding to `general.alignment` (default 32), then the tensor data
//
// Strings are u64 length + UTF-8 bytes. The file is memory-mapped; tensors are views into it.
// Every count and offset is checked against the file size before anything is allocated.

/// One metadata value of a GGUF file.
public indirect enum GGUFValue: Equatable, Sendable {
    case uint(UInt64), int(Int64), float(Double), bool(Bool), string(String)
    case array([GGUFValue])

    public var int: Int? {
        switch self {
        case .uint(let v): return v <= UInt64(Int.max) ? Int(v) : nil
        case .int(let v): return Int(v)
        default: return nil
        }
    }
    public var double: Double? {
        switch self {
        case .float(let v): return v
        case .uint(let v): return Double(v)
        case .int(let v): return Double(v)
        default: return nil
        }
    }
    public var string: String? { if case .string(let s) = self { return s } else { return nil } }
    public var bool: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public var array: [GGUFValue]? { if case .array(let a) = self { return a } else { return nil } }
}

/// A tensor's description and a view of its bytes in the mapped file.
public struct TensorView: @unchecked Sendable {
    public let name: String
    public let type: GGMLType
    /// Dimensions with the row length first (GGUF's `ne` order): a matrix of `rows` rows of
    /// `cols` elements has shape `[cols, rows]`.
    public let shape: [Int]
    public let data: UnsafeRawPointer
    public let byteCount: Int
    /// Keeps the mapping alive while the view is used.
    public let owner: AnyObject

    public var elementCount: Int { shape.reduce(1, *) }
    public var cols: Int { shape.first ?? 1 }
    public var rows: Int { shape.count <= 1 ? 1 : shape.dropFirst().reduce(1, *) }

    public init(name: String, type: GGMLType, shape: [Int], data: UnsafeRawPointer, byteCount: Int, owner: AnyObject) {
        self.name = name; self.type = type; self.shape = shape
        self.data = data; self.byteCount = byteCount; self.owner = owner
    }

    /// The tensor's values dequantized to float32, row-major.
    public func toFloats() -> [Float] {
        // An empty buffer may have no base address: a zero-size tensor is legal GGUF.
        if elementCount == 0 { return [] }
        return [Float](unsafeUninitializedCapacity: elementCount) { buf, n in
            dequantize(type, data, into: buf.baseAddress!, count: elementCount)
            n = elementCount
        }
    }
}

/// A parsed, memory-mapped GGUF file.
public final class GGUFFile: @unchecked Sendable {
    public let path: String
    public let version: UInt32
    /// Metadata in file order.
    public let metadataKeys: [String]
    public let metadata: [String: GGUFValue]
    public let tensors: [TensorView]
    public let alignment: Int
    public let dataOffset: Int
    let file: MappedFile

    /// ggml's GGML_MAX_DIMS.
    static let maxDims = 4
    /// Largest accepted dimension and element count of one tensor (2^40, about 4 TB of F32):
    /// keeps every later size computation far from overflow.
    static let maxElements = 1 << 40

    public convenience init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    /// Parses GGUF bytes held in memory (copied); `name` labels errors.
    public convenience init(bytes: UnsafeRawBufferPointer, name: String) throws {
        try self.init(file: MappedFile(copying: bytes, name: name))
    }

    init(file: MappedFile) throws {
        self.file = file
        path = file.path
        var r = ByteReader(file)
        r.part = "header"
        guard file.size >= 4 else { throw FormatError(path, "not a GGUF file (only \(file.size) bytes)") }
        let magic = try r.read(UInt32.self)
        guard magic == 0x4655_4747 else { throw FormatError(path, "not a GGUF file (bad magic)") }
        version = try r.read(UInt32.self)
        guard version == 2 || version == 3 else {
            // A big-endian file (gguf-py --bigendian) shows its version byte-swapped.
            let swapped = version.byteSwapped
            if swapped == 2 || swapped == 3 { throw FormatError(path, "big-endian GGUF files are not supported") }
            throw FormatError(path, "unsupported GGUF version \(version) (2 and 3 are supported)")
        }
        let nTensors = try r.read(UInt64.self)
        let nKV = try r.read(UInt64.self)
        // Bound the counts by the file size before anything is allocated: each key/value takes
        // at least 8+4+1 bytes and each tensor info at least 8+4+8+4+8.
        guard nKV <= UInt64(r.remaining / 13) else { throw FormatError(path, "corrupt header: \(nKV) metadata entries cannot fit in the file") }
        guard nTensors <= UInt64(r.remaining / 32) else { throw FormatError(path, "corrupt header: \(nTensors) tensors cannot fit in the file") }

        r.part = "metadata"
        var keys: [String] = []
        var meta: [String: GGUFValue] = [:]
        for _ in 0..<nKV {
            let key = try Self.readString(&r, path)
            let type = try r.read(UInt32.self)
            let value = try Self.readValue(&r, type: type, path: path, depth: 0)
            // ggml refuses duplicates too: which of two values is meant cannot be known.
            guard meta.updateValue(value, forKey: key) == nil else { throw FormatError(path, "corrupt metadata: duplicate key '\(key)'") }
            keys.append(key)
        }
        metadataKeys = keys
        metadata = meta

        var align = 32
        if let a = meta["general.alignment"] {
            guard let v = a.int else { throw FormatError(path, "general.alignment is not an integer") }
            align = v
        }
        guard align > 0, align & (align - 1) == 0 else {
            throw FormatError(path, "general.alignment \(align) is not a power of two")
        }
        guard align <= 1 << 20 else { throw FormatError(path, "general.alignment \(align) is implausibly large") }
        alignment = align

        r.part = "tensor infos"
        struct Info { let name: String; let type: GGMLType; let shape: [Int]; let offset: UInt64 }
        var infos: [Info] = []
        // The count is bounded by the file size, but a large file could still claim millions of
        // tiny infos: reserve a modest amount and let real reads grow the array.
        infos.reserveCapacity(Int(min(nTensors, 1 << 16)))
        var names = Set<String>()
        for _ in 0..<nTensors {
            let name = try Self.readString(&r, path)
            guard names.insert(name).inserted else { throw FormatError(path, "corrupt tensor infos: duplicate tensor name '\(name)'") }
            let nDims = try r.read(UInt32.self)
            guard nDims >= 1, nDims <= UInt32(Self.maxDims) else {
                throw FormatError(path, "tensor '\(name)' has \(nDims) dimensions (1 to \(Self.maxDims) allowed)")
            }
            var shape: [Int] = []
            for _ in 0..<nDims {
                let d = try r.read(UInt64.self)
                guard d <= UInt64(Self.maxElements) else { throw FormatError(path, "tensor '\(name)' has an absurd dimension \(d)") }
                shape.append(Int(d))
            }
            let rawType = try r.read(UInt32.self)
            guard let type = GGMLType(rawValue: rawType) else {
                throw FormatError(path, "tensor '\(name)' has unknown ggml type \(rawType)")
            }
            infos.append(Info(name: name, type: type, shape: shape, offset: try r.read(UInt64.self)))
        }
        dataOffset = (r.offset + align - 1) / align * align

        var views: [TensorView] = []
        views.reserveCapacity(infos.count)
        for info in infos {
            let (count, overflow) = info.shape.reduce((1, false)) { acc, d in
                let (m, o) = acc.0.multipliedReportingOverflow(by: d); return (m, acc.1 || o)
            }
            guard !overflow, count <= Self.maxElements else { throw FormatError(path, "tensor '\(info.name)' has too many elements") }
            guard info.type.isSupported else {
                throw FormatError(path, "tensor '\(info.name)' has type \(info.type) which is not supported (supported: \(GGMLType.supportedNames))")
            }
            guard info.shape[0] % info.type.blockSize == 0 else {
                throw FormatError(path, "tensor '\(info.name)': row length \(info.shape[0]) is not a multiple of the \(info.type) block size \(info.type.blockSize)")
            }
            guard info.offset % UInt64(align) == 0 else {
                throw FormatError(path, "tensor '\(info.name)' has data offset \(info.offset), not a multiple of the alignment \(align)")
            }
            let bytes = count / info.type.blockSize * info.type.typeSize
            // In UInt64 so a hostile offset near 2^64 cannot overflow (the build is -Ounchecked).
            let available = UInt64(max(0, file.size - dataOffset))
            guard info.offset <= available, UInt64(bytes) <= available - info.offset else {
                throw FormatError(path, "tensor '\(info.name)' (\(bytes) bytes at data offset \(info.offset)) lies beyond the end of the file (\(file.size) bytes, data from \(dataOffset)): truncated or corrupt")
            }
            let start = dataOffset + Int(info.offset)
            views.append(TensorView(name: info.name, type: info.type, shape: info.shape,
                                    data: file.base + start, byteCount: bytes, owner: file))
        }
        tensors = views
    }

    /// The tensor with this name, if present.
    public func tensor(_ name: String) -> TensorView? { tensors.first { $0.name == name } }

    // MARK: - Value parsing

    static func readString(_ r: inout ByteReader, _ path: String) throws -> String {
        let n = try r.read(UInt64.self)
        guard n <= UInt64(r.remaining) else { throw FormatError(path, "truncated or corrupt\(r.part.map { " \($0)" } ?? ""): a string of \(n) bytes at offset \(r.offset - 8) runs past the end of the file") }
        let b = try r.readBytes(Int(n))
        return String(decoding: b, as: UTF8.self)
    }

    /// Smallest encoded size of one value of a type, used to bound array counts.
    static func minSize(_ type: UInt32) -> Int {
        switch type {
        case 0, 1, 7: return 1
        case 2, 3: return 2
        case 4, 5, 6: return 4
        case 8: return 8
        case 9: return 12
        default: return 8
        }
    }

    static func readValue(_ r: inout ByteReader, type: UInt32, path: String, depth: Int) throws -> GGUFValue {
        switch type {
        case 0: return .uint(UInt64(try r.read(UInt8.self)))
        case 1: return .int(Int64(try r.read(Int8.self)))
        case 2: return .uint(UInt64(try r.read(UInt16.self)))
        case 3: return .int(Int64(try r.read(Int16.self)))
        case 4: return .uint(UInt64(try r.read(UInt32.self)))
        case 5: return .int(Int64(try r.read(Int32.self)))
        case 6: return .float(Double(try r.readF32()))
        case 7: return .bool(try r.read(UInt8.self) != 0)
        case 8: return .string(try readString(&r, path))
        case 9:
            guard depth < 8 else { throw FormatError(path, "corrupt metadata: arrays nested too deeply") }
            let elemType = try r.read(UInt32.self)
            let count = try r.read(UInt64.self)
            guard elemType <= 12 else { throw FormatError(path, "corrupt metadata: unknown array element type \(elemType)") }
            guard count <= UInt64(r.remaining / minSize(elemType)) else {
                throw FormatError(path, "corrupt metadata: an array of \(count) elements cannot fit in the file")
            }
            var out: [GGUFValue] = []
            // Bounded by the bytes left, not by what a reservation of boxed values would cost.
            out.reserveCapacity(Int(min(count, 1 << 16)))
            for _ in 0..<count { out.append(try readValue(&r, type: elemType, path: path, depth: depth + 1)) }
            return .array(out)
        case 10: return .uint(try r.read(UInt64.self))
        case 11: return .int(try r.read(Int64.self))
        case 12: return .float(try r.readF64())
        default: throw FormatError(path, "corrupt metadata: unknown value type \(type) at offset \(r.offset - 4)")
        }
    }
}
