// A small GGUF writer used only by the tests: it builds valid files of every value type and,
// through its "lying" values and overrides, the corrupt files the reader must refuse. It is
// written from the layout in ggml's gguf.h, independently of the reader under test, so a
// misreading shared by both cannot hide.
import Foundation
@testable import LlamaKit

struct GGUFTestWriter {
    /// One metadata value, tagged with its GGUF value type.
    indirect enum Value {
        case u8(UInt8), i8(Int8), u16(UInt16), i16(Int16), u32(UInt32), i32(Int32)
        case f32(Float), bool(Bool), string(String), u64(UInt64), i64(Int64), f64(Double)
        /// An array whose elements all have GGUF type `of` (arrays of arrays nest).
        case array(of: UInt32, [Value])
        /// A string whose length field claims `claimed` bytes but is followed by nothing.
        case lyingString(claimed: UInt64)
        /// An array header claiming `claimed` elements of type `of`, followed by nothing.
        case lyingArray(of: UInt32, claimed: UInt64)
        /// A value with a raw, possibly invalid, type id and no payload.
        case rawType(UInt32)

        /// GGUF value type id (gguf.h `enum gguf_type`).
        var typeID: UInt32 {
            switch self {
            case .u8: 0; case .i8: 1; case .u16: 2; case .i16: 3; case .u32: 4; case .i32: 5
            case .f32: 6; case .bool: 7; case .string, .lyingString: 8; case .array, .lyingArray: 9
            case .u64: 10; case .i64: 11; case .f64: 12
            case .rawType(let t): t
            }
        }
    }

    /// One tensor: the ggml type id is raw so unsupported and unknown types can be written.
    struct Tensor {
        var name: String
        var type: UInt32
        /// `ne`, innermost (row length) first.
        var shape: [UInt64]
        var data: [UInt8]
        /// Overrides the offset written in the tensor info (relative to the data start).
        var offset: UInt64? = nil
    }

    var version: UInt32 = 3
    var metadata: [(String, Value)] = []
    var tensors: [Tensor] = []
    /// Alignment used for padding; written as `general.alignment` only when set in `metadata`.
    var alignment = 32
    /// Override the counts in the header (the entries written stay as they are).
    var nTensorsOverride: UInt64? = nil
    var nKVOverride: UInt64? = nil

    /// Byte offsets where each part of the built file starts.
    struct Layout { var metadata = 0, tensorInfos = 0, padding = 0, data = 0, end = 0 }

    /// The file's bytes, and where its parts begin.
    func build() -> (bytes: [UInt8], layout: Layout) {
        var out: [UInt8] = []
        var layout = Layout()
        out += Array("GGUF".utf8)
        Self.put(&out, version)
        Self.put(&out, nTensorsOverride ?? UInt64(tensors.count))
        Self.put(&out, nKVOverride ?? UInt64(metadata.count))
        layout.metadata = out.count
        for (key, value) in metadata {
            Self.putString(&out, key)
            Self.put(&out, value.typeID)
            Self.putValue(&out, value)
        }
        layout.tensorInfos = out.count
        // Data always goes at the padded sequential offsets; an overridden offset only changes
        // what the tensor info claims.
        var offsets: [UInt64] = []
        var next: UInt64 = 0
        for t in tensors {
            offsets.append(next)
            next = Self.padded(next + UInt64(t.data.count), alignment)
        }
        for (t, offset) in zip(tensors, offsets) {
            Self.putString(&out, t.name)
            Self.put(&out, UInt32(t.shape.count))
            for d in t.shape { Self.put(&out, d) }
            Self.put(&out, t.type)
            Self.put(&out, t.offset ?? offset)
        }
        layout.padding = out.count
        out += [UInt8](repeating: 0, count: Int(Self.padded(UInt64(out.count), alignment)) - out.count)
        layout.data = out.count
        for (t, offset) in zip(tensors, offsets) {
            out += [UInt8](repeating: 0, count: layout.data + Int(offset) - out.count)
            out += t.data
        }
        layout.end = out.count
        return (out, layout)
    }

    /// Builds the file into a fresh temporary path and returns that path.
    func write(name: String = "test.gguf") throws -> String {
        try TempDir.file(name, bytes: build().bytes)
    }

    static func padded(_ n: UInt64, _ a: Int) -> UInt64 { (n + UInt64(a) - 1) / UInt64(a) * UInt64(a) }

    static func put<T: FixedWidthInteger>(_ out: inout [UInt8], _ v: T) {
        withUnsafeBytes(of: v.littleEndian) { out += $0 }
    }

    static func putString(_ out: inout [UInt8], _ s: String) {
        put(&out, UInt64(s.utf8.count))
        out += Array(s.utf8)
    }

    static func putValue(_ out: inout [UInt8], _ v: Value) {
        switch v {
        case .u8(let x): put(&out, x)
        case .i8(let x): put(&out, x)
        case .u16(let x): put(&out, x)
        case .i16(let x): put(&out, x)
        case .u32(let x): put(&out, x)
        case .i32(let x): put(&out, x)
        case .f32(let x): put(&out, x.bitPattern)
        case .bool(let x): put(&out, UInt8(x ? 1 : 0))
        case .string(let s): putString(&out, s)
        case .u64(let x): put(&out, x)
        case .i64(let x): put(&out, x)
        case .f64(let x): put(&out, x.bitPattern)
        case .array(let of, let items):
            put(&out, of)
            put(&out, UInt64(items.count))
            for item in items {
                precondition(item.typeID == of, "array of type \(of) holds a value of type \(item.typeID)")
                putValue(&out, item)
            }
        case .lyingString(let claimed): put(&out, claimed)
        case .lyingArray(let of, let claimed): put(&out, of); put(&out, claimed)
        case .rawType: break
        }
    }

    /// Little-endian bytes of float32 values (tensor data of type F32).
    static func f32(_ values: [Float]) -> [UInt8] { values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian, Array.init) } }
    /// Little-endian bytes of IEEE half values (tensor data of type F16).
    static func f16(_ values: [Float]) -> [UInt8] { values.flatMap { v in withUnsafeBytes(of: Float16(v).bitPattern.littleEndian, Array.init) } }
}

/// Fresh temporary folders for tests; each call gets its own, so parallel tests cannot collide.
enum TempDir {
    static func make() throws -> String {
        let dir = NSTemporaryDirectory() + "llamakit-fmt-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Writes `bytes` as `name` in a fresh temporary folder and returns its path.
    static func file(_ name: String, bytes: [UInt8]) throws -> String {
        let path = try make() + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }
}
