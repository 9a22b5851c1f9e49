// `llava-mnist inspect`: metadata and tensor table of a model file (GGUF, safetensors file
// or Hugging Face folder); with --tensor, one tensor's values dequantized to float32.
import ArgumentParser
import Foundation
import Llava
import Notebook

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a model file's metadata and tensors, or one tensor's values.")

    @Argument(help: "A .gguf file, a .safetensors file or a Hugging Face model folder.") var path: String
    @Option(help: "Print this tensor's values (dequantized to float32).") var tensor: String?
    @Flag(help: "Machine-readable output.") var json = false

    func run() throws {
        try reportingErrors {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw FormatError(path, "no such file or folder") }
            let (meta, tensors): ([(String, Any)], [TensorView])
            if isDir.boolValue {
                let folder = try SafeTensorsFolder(path: path)
                let cfg = (path as NSString).appendingPathComponent("config.json")
                let obj = FileManager.default.contents(atPath: cfg).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] } ?? [:]
                meta = obj.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
                tensors = folder.tensors.values.sorted { $0.name < $1.name }
            } else if try isGGUF(path) || path.lowercased().hasSuffix(".gguf") {
                let g = try GGUFFile(path: path)
                meta = [("gguf.version", Int(g.version)), ("gguf.alignment", g.alignment), ("gguf.data_offset", g.dataOffset)]
                    + g.metadataKeys.map { ($0, summarize(g.metadata[$0]!)) }
                tensors = g.tensors
            } else {
                let f = try SafeTensorsFile(path: path)
                meta = f.metadata.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
                tensors = f.tensors
            }
            if let name = tensor {
                guard let t = tensors.first(where: { $0.name == name }) else {
                    let near = tensors.map(\.name).filter { $0.contains(name) || name.contains($0) }.prefix(5)
                    throw CommandError("\(path): no tensor named '\(name)'" + (near.isEmpty ? "" : " (similar: \(near.joined(separator: ", ")))"))
                }
                let values = t.toFloats()
                if json { try printJSON(["name": t.name, "type": t.type.description, "shape": Array(t.shape.reversed()), "values": values.map(Double.init)]) }
                else {
                    print("\(t.name) \(t.type) shape \(Array(t.shape.reversed())) (\(values.count) values)")
                    print(values.map { String($0) }.joined(separator: " "))
                }
                return
            }
            if json {
                let rows: [[String: Any]] = tensors.map { ["name": $0.name, "type": $0.type.description, "shape": Array($0.shape.reversed()), "bytes": $0.byteCount] }
                try printJSON(["metadata": Dictionary(meta, uniquingKeysWith: { a, _ in a }), "tensors": rows])
                return
            }
            print("metadata (\(meta.count)):")
            for (k, v) in meta { print("  \(k) = \(v)") }
            print("tensors (\(tensors.count)), shapes outermost first:")
            for t in tensors { print("  \(t.name)  \(t.type)  \(Array(t.shape.reversed()))  \(t.byteCount) bytes") }
            let total = tensors.reduce(0) { $0 + $1.byteCount }, params = tensors.reduce(0) { $0 + $1.elementCount }
            print("total: \(params) parameters, \(total) bytes")
        }
    }

    func isGGUF(_ path: String) throws -> Bool {
        guard let h = FileHandle(forReadingAtPath: path) else { throw FormatError(path, "cannot open") }
        defer { try? h.close() }
        return h.readData(ofLength: 4) == Data("GGUF".utf8)
    }

    /// Long arrays (vocabularies, merges) shortened for display.
    func summarize(_ v: GGUFValue) -> Any {
        switch v {
        case .array(let a) where a.count > 8: return "[\(a.prefix(5).map { "\(summarize($0))" }.joined(separator: ", ")), … (\(a.count) items)]"
        case .array(let a): return "[" + a.map { "\(summarize($0))" }.joined(separator: ", ") + "]"
        case .string(let s): return s.count > 120 ? String(s.prefix(117)).debugDescription + "… (\(s.count) chars)" : s.debugDescription
        case .uint(let u): return u
        case .int(let i): return i
        case .float(let f): return f
        case .bool(let b): return b
        }
    }
}
