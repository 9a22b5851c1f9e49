// Hugging Face safetensors reader and writer.
//
//   u64 N (little-endian) | N bytes of JSON header | tensor data
//   header: { "name": {"dtype": "F32", "shape": [rows, cols], "data_offsets": [begin, end]}, …,
//             "__metadata__": {"key": "string value", …} }
//
// Offsets are relative to the end of the header. Shapes are outermost first (PyTorch order);
// `TensorView.shape` stores them reversed, innermost first, like GGUF.
import Foundation

/// A memory-mapped `.safetensors` file.
public final class SafeTensorsFile: @unchecked Sendable {
    public let path: String
    public let tensors: [TensorView]
    public let metadata: [String: String]
    let file: MappedFile

    /// Headers larger than this are refused (real ones are a few hundred KB).
    static let maxHeaderBytes = 100 << 20

    public convenience init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    /// Parses safetensors bytes held in memory (copied); `name` labels errors.
    public convenience init(bytes: UnsafeRawBufferPointer, name: String) throws {
        try self.init(file: MappedFile(copying: bytes, name: name))
    }

    init(file: MappedFile) throws {
        self.file = file
        path = file.path
        var r = ByteReader(file)
        guard file.size >= 8 else { throw FormatError(path, "not a safetensors file (only \(file.size) bytes)") }
        let n = try r.read(UInt64.self)
        guard n >= 2, n <= UInt64(Self.maxHeaderBytes) else {
            throw FormatError(path, "not a safetensors file (header length \(n) is implausible)")
        }
        guard n <= UInt64(r.remaining) else {
            throw FormatError(path, "truncated: the header claims \(n) bytes but the file has \(r.remaining) after the length")
        }
        let headerBytes = try r.readBytes(Int(n))
        guard let json = try? JSONSerialization.jsonObject(with: Data(headerBytes)), let header = json as? [String: Any] else {
            throw FormatError(path, "not a safetensors file (the header is not a JSON object)")
        }
        let dataStart = 8 + Int(n)
        var meta: [String: String] = [:]
        var views: [TensorView] = []
        for (name, value) in header.sorted(by: { $0.key < $1.key }) {
            if name == "__metadata__" {
                for (k, v) in (value as? [String: Any]) ?? [:] { meta[k] = v as? String ?? "\(v)" }
                continue
            }
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shapeAny = info["shape"] as? [Any], let offs = info["data_offsets"] as? [Any], offs.count == 2 else {
                throw FormatError(path, "tensor '\(name)' has a malformed header entry")
            }
            guard let type = Self.ggmlType(dtype) else {
                throw FormatError(path, "tensor '\(name)' has dtype \(dtype); supported: F32, F16, BF16")
            }
            var shape: [Int] = []
            for d in shapeAny {
                guard let v = Self.integer(d), v >= 0, v <= 1 << 40 else {
                    throw FormatError(path, "tensor '\(name)' has an invalid shape")
                }
                shape.append(Int(v))
            }
            // Compared as `e <= size - dataStart`, never `dataStart + e`: a hostile offset near
            // 2^63 would wrap silently in this -Ounchecked build.
            guard let b = Self.integer(offs[0]), let e = Self.integer(offs[1]),
                  b >= 0, e >= b, e <= Int64(file.size - dataStart) else {
                throw FormatError(path, "tensor '\(name)' has data offsets beyond the end of the file: truncated or corrupt")
            }
            let (count, overflow) = shape.reduce((1, false)) { acc, d in
                let (m, o) = acc.0.multipliedReportingOverflow(by: d); return (m, acc.1 || o)
            }
            let (bytes, overflow2) = count.multipliedReportingOverflow(by: type.typeSize)
            guard !overflow, !overflow2, bytes == Int(e - b) else {
                throw FormatError(path, "tensor '\(name)': shape \(shape) does not match its \(e - b) data bytes")
            }
            views.append(TensorView(name: name, type: type, shape: shape.isEmpty ? [1] : shape.reversed(),
                                    data: file.base + dataStart + Int(b), byteCount: Int(e - b), owner: file))
        }
        tensors = views
        metadata = meta
    }

    /// A JSON number that is a whole number representable as Int64 (not 1.5, not 1e30).
    static func integer(_ any: Any) -> Int64? {
        if let i = any as? Int { return Int64(i) }
        guard let n = any as? NSNumber else { return nil }
        let d = n.doubleValue
        guard d.rounded() == d, abs(d) < 9.0e18 else { return nil }
        return n.int64Value
    }

    static func ggmlType(_ dtype: String) -> GGMLType? {
        switch dtype {
        case "F32": .f32
        case "F16": .f16
        case "BF16": .bf16
        default: nil
        }
    }

    public func tensor(_ name: String) -> TensorView? { tensors.first { $0.name == name } }
}

/// All tensors of a Hugging Face model folder: one `model.safetensors`, or the shards that
/// `model.safetensors.index.json` lists.
public struct SafeTensorsFolder: @unchecked Sendable {
    public let path: String
    public let files: [SafeTensorsFile]
    public let tensors: [String: TensorView]

    public init(path: String) throws {
        self.path = path
        let fm = FileManager.default
        let index = (path as NSString).appendingPathComponent("model.safetensors.index.json")
        var names: [String]
        var weightMap: [String: String] = [:]
        if fm.fileExists(atPath: index) {
            guard let data = fm.contents(atPath: index),
                  let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let map = obj["weight_map"] as? [String: String] else {
                throw FormatError(index, "not a valid safetensors index (no weight_map)")
            }
            // Shards are files of this folder: a name with a slash would read elsewhere.
            if let bad = map.values.first(where: { $0.contains("/") }) {
                throw FormatError(index, "shard name '\(bad)' is not a file name in this folder")
            }
            weightMap = map
            names = Array(Set(map.values)).sorted()
        } else {
            let all = (try? fm.contentsOfDirectory(atPath: path)) ?? []
            names = all.filter { $0.hasSuffix(".safetensors") }.sorted()
        }
        guard !names.isEmpty else { throw FormatError(path, "no .safetensors files in this folder") }
        files = try names.map { try SafeTensorsFile(path: (path as NSString).appendingPathComponent($0)) }
        var all: [String: TensorView] = [:]
        for f in files {
            for t in f.tensors {
                // Two shards with the same tensor: which one is meant cannot be known.
                guard all.updateValue(t, forKey: t.name) == nil else {
                    throw FormatError(f.path, "tensor '\(t.name)' is also in another shard of this folder")
                }
            }
        }
        // The index must agree with the shards, or a wrong or partial download goes unnoticed.
        for (name, shard) in weightMap.sorted(by: { $0.key < $1.key }) {
            guard let t = all[name], (t.owner as? MappedFile)?.path == (path as NSString).appendingPathComponent(shard) else {
                throw FormatError(index, "the index puts tensor '\(name)' in \(shard), but that shard does not have it")
            }
        }
        tensors = all
    }
}

/// Writes float32 tensors and string metadata as a `.safetensors` file, atomically:
/// the bytes go to a temporary file beside the target, are flushed to disk, then renamed.
public enum SafeTensorsWriter {
    /// A tensor to write: its name, shape (outermost first, PyTorch order) and values.
    public struct Entry {
        public let name: String
        public let shape: [Int]
        public let values: [Float]
        public init(name: String, shape: [Int], values: [Float]) {
            self.name = name; self.shape = shape; self.values = values
        }
    }

    public static func encode(_ entries: [Entry], metadata: [String: String] = [:]) throws -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for e in entries {
            precondition(e.shape.reduce(1, *) == e.values.count, "shape does not match values for \(e.name)")
            header[e.name] = ["dtype": "F32", "shape": e.shape, "data_offsets": [offset, offset + 4 * e.values.count]]
            offset += 4 * e.values.count
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while (8 + json.count) % 8 != 0 { json.append(0x20) } // pad so the data is 8-byte aligned
        var out = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        for e in entries { e.values.withUnsafeBytes { out.append(contentsOf: $0) } }
        return out
    }

    public static func write(_ entries: [Entry], metadata: [String: String] = [:], to path: String) throws {
        try AtomicFile.write(encode(entries, metadata: metadata), to: path)
    }
}

/// Crash-safe file replacement: write to `path.tmp-PID`, fsync, rename over `path`, fsync the folder.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        let tmp = path + ".tmp-\(getpid())"
        // The temporary name is predictable: remove whatever is there (a leftover, or a link
        // planted to redirect the write) and create it afresh, never following a link.
        unlink(tmp)
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw FormatError(path, "cannot write (\(String(cString: strerror(errno))))") }
        var ok = true
        data.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 { if errno == EINTR { continue }; ok = false; break }
                done += n
            }
        }
        ok = ok && fsync(fd) == 0
        close(fd)
        guard ok, rename(tmp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(tmp)
            throw FormatError(path, "cannot write (\(reason))")
        }
        let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }
}
