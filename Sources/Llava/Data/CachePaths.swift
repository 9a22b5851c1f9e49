// Where downloaded models, data and tokenizers live: the same folders scripts/setup.sh fills.
import Foundation

/// The cache folder layout: `$LLAVA_MNIST_CACHE` (or `~/.cache/llava-mnist`) holding
/// `models/`, `data/` and `tokenizers/`.
public enum CachePaths {
    /// `$LLAVA_MNIST_CACHE` when set and non-empty, otherwise `~/.cache/llava-mnist`.
    public static var root: String {
        if let env = ProcessInfo.processInfo.environment["LLAVA_MNIST_CACHE"], !env.isEmpty { return env }
        let home = ProcessInfo.processInfo.environment["HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? FileManager.default.homeDirectoryForCurrentUser.path
        return (home as NSString).appendingPathComponent(".cache/llava-mnist")
    }

    /// `<root>/models`: GGUF and safetensors model files.
    public static var models: String { (root as NSString).appendingPathComponent("models") }

    /// `<root>/data`: `mnist_5k.csv.gz` and any MNIST IDX files.
    public static var data: String { (root as NSString).appendingPathComponent("data") }

    /// `<root>/tokenizers`: tokenizer.json files (for example `llama3/`).
    public static var tokenizers: String { (root as NSString).appendingPathComponent("tokenizers") }
}
