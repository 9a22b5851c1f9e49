// `llava-mnist models`: what is installed in the cache, and where.
import ArgumentParser
import Foundation
import Llava

struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List installed models, tokenizers and data (the cache folder).")

    func run() throws {
        let fm = FileManager.default
        print("cache: \(CachePaths.root)  (set LLAVA_MNIST_CACHE to move it; scripts/setup.sh fills it)")
        for (title, dir) in [("models", CachePaths.models), ("tokenizers", CachePaths.tokenizers), ("data", CachePaths.data)] {
            print("\(title): \(dir)")
            guard let items = try? fm.contentsOfDirectory(atPath: dir), !items.isEmpty else { print("  (none)"); continue }
            for item in items.sorted() where !item.hasSuffix(".part") {
                let p = (dir as NSString).appendingPathComponent(item)
                print("  \(item)  \(sizeText(p))")
            }
        }
        print("default model: \(fm.fileExists(atPath: Session.defaultModelPath) ? Session.defaultModelPath : "missing: run scripts/setup.sh")")
    }

    func sizeText(_ path: String) -> String {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        fm.fileExists(atPath: path, isDirectory: &isDir)
        let bytes: Int
        if isDir.boolValue {
            bytes = (fm.enumerator(atPath: path)?.allObjects as? [String] ?? []).reduce(0) {
                $0 + ((try? fm.attributesOfItem(atPath: (path as NSString).appendingPathComponent($1))[.size] as? Int) ?? 0)
            }
        } else {
            bytes = (try? fm.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        }
        return bytes > 1 << 20 ? String(format: "%.1f MB", Double(bytes) / 1e6) : "\(bytes) bytes"
    }
}

import Notebook
