// Workflow safety: a `.lmw` file is a document someone may hand you, so replaying it must not
// read or write outside the folders you allow. The command language has no shell, network or
// eval statement (keep it that way); the only reach outside the session is file paths, and
// every path argument is checked here before its statement runs.
//
// Paths are resolved the way the file system will: `~` expanded, relative paths against the
// workflow's folder, `.`/`..` folded, and symbolic links followed for every component that
// exists (so a link inside an allowed folder pointing outside it is caught). A path whose
// tail does not exist yet (a file `save projector` will create) is checked by its deepest
// existing ancestor plus the remaining names.
import Foundation
import Llava

/// The folders a workflow may read and write.
public struct Sandbox: Sendable, Equatable {
    /// Allowed folders, resolved (absolute, no symlinks), without a trailing slash.
    public let allowed: [String]

    /// Allows `folders` (resolved now; `~` and relative paths against the working directory).
    public init(allowing folders: [String]) {
        allowed = folders.map { Self.resolve($0, relativeTo: nil) }
    }

    /// The default for a workflow: its own folder, the cache folder and `extra` (`--allow DIR`).
    public static func forWorkflow(at file: String, allowing extra: [String] = []) -> Sandbox {
        let folder = (Self.resolve(file, relativeTo: nil) as NSString).deletingLastPathComponent
        return Sandbox(allowing: [folder, CachePaths.root] + extra)
    }

    /// Names `load model` accepts for the built-in model (they live in the cache).
    static let modelNames: Set<String> = ["default", "smollm2", "smollm2-135m-instruct"]
    static func isModelName(_ path: String) -> Bool { modelNames.contains(path.lowercased()) }

    /// Every path the statement would open, with what it is for (for the message).
    public static func paths(of statement: Statement) -> [(path: String, use: String)] {
        switch statement {
        case .loadModel(let path?) where !isModelName(path): return [(path, "read")]
        case .loadMNIST(_, let path?): return [(path, "read")]
        case .loadProjector(let path): return [(path, "read")]
        case .loadImage(let path, _): return [(path, "read")]
        case .saveProjector(let path): return [(path, "write")]
        case .grad(_, let save?): return [(save, "write")]
        case .time(let inner): return paths(of: inner)
        case .loadModel, .loadMNIST, .showImage, .showBatch, .showSettings, .project, .projectDigit, .showWeights, .gradCheck, .ask, .loss, .grad,
             .train, .eval, .resetProjector, .tokens, .set, .get, .help, .history, .quit:
            return []
        }
    }

    /// Throws when a path of `statement` leaves the allowed folders. `base` is the folder
    /// relative paths are taken from (the workflow's).
    public func check(_ statement: Statement, relativeTo base: String?) throws {
        var statement = statement
        while case .time(let inner) = statement { statement = inner }  // name the command that opens the file
        for (path, use) in Self.paths(of: statement) {
            let resolved = Self.resolve(path, relativeTo: base)
            let shown = resolved == path ? path : "\(path) (\(resolved))"
            guard allows(resolved) else {
                throw CommandError("\(statement.commandName): cannot \(use) \(shown): outside the folders this workflow may use ("
                                   + allowed.joined(separator: ", ") + "; add one with --allow DIR)")
            }
            // A folder (a Hugging Face model, an MNIST folder) is read by the names inside it:
            // a link in it must not lead out either.
            var isDirectory: ObjCBool = false
            guard use == "read", FileManager.default.fileExists(atPath: resolved, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            for entry in ((try? FileManager.default.contentsOfDirectory(atPath: resolved)) ?? []).sorted() {
                let target = Self.resolve((resolved as NSString).appendingPathComponent(entry), relativeTo: nil)
                guard allows(target) else {
                    throw CommandError("\(statement.commandName): cannot read \(shown): its entry \(entry) leads to \(target), outside the folders this workflow may use ("
                                       + allowed.joined(separator: ", ") + "; add one with --allow DIR)")
                }
            }
        }
    }

    /// Whether a resolved path is one of the allowed folders or inside one.
    public func allows(_ resolved: String) -> Bool {
        allowed.contains { dir in dir == "/" || resolved == dir || resolved.hasPrefix(dir + "/") }
    }

    // MARK: - Resolution

    /// The real path: symbolic links followed through the deepest existing ancestor. A link
    /// followed by `..` is resolved before folding, as the kernel does.
    public static func resolve(_ path: String, relativeTo base: String?) -> String {
        let expanded = (path as NSString).expandingTildeInPath
        let start = expanded.hasPrefix("/") ? expanded
            : ((base ?? FileManager.default.currentDirectoryPath) as NSString).appendingPathComponent(expanded)
        var resolved = "/"
        var remaining = start.split(separator: "/").map(String.init)
        var hops = 0
        while !remaining.isEmpty {
            let part = remaining.removeFirst()
            if part == "." { continue }
            if part == ".." { resolved = (resolved as NSString).deletingLastPathComponent; continue }
            let candidate = (resolved as NSString).appendingPathComponent(part)
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: candidate), hops < 40 {
                hops += 1
                // Splice the link's target in front of what is left and keep walking.
                let targetParts = target.split(separator: "/").map(String.init)
                if target.hasPrefix("/") { resolved = "/" }
                remaining = targetParts + remaining
                continue
            }
            resolved = candidate
        }
        return resolved
    }
}
