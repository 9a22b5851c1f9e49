// The catalogue of bad inputs (Fixtures/bad-inputs/catalogue.json): broken and lying model
// files, projectors, tokenizers, MNIST folders, CSVs, PNGs, workflows and command lines, each
// with the exact one-line message it must produce. Every entry runs through the built
// `llava-mnist` binary, from the command line or piped into `llava-mnist repl`: it must end
// with its expected status (never 0, never a signal) and print exactly its one line on
// stderr, nothing more.
//
// Placeholders in the catalogue: $F the fixture folder (a private copy per run, so nothing
// in the source tree is ever written), $CACHE the model cache, $MODEL the default model,
// $TMP a scratch folder, $LONG a question longer than the model's context.
// The binary fixtures are made by Fixtures/bad-inputs/make-fixtures.py.
import Foundation
import Testing
@testable import Notebook
import Llava

@Suite(.serialized) struct BadInputCatalogueTests {
    struct Entry: Decodable {
        let id: String
        let format: String
        /// Command-line arguments, or…
        let args: [String]?
        /// …the lines piped into `llava-mnist repl`.
        let repl: String?
        let env: [String: String]?
        let status: Int32
        let stderr: String
        /// The first line of standard output, for commands that report there (`check`'s diff).
        let stdout: String?
    }

    static var source: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/bad-inputs").path
    }

    static func catalogue() throws -> [Entry] {
        try JSONDecoder().decode([Entry].self, from: Data(contentsOf: URL(fileURLWithPath: source + "/catalogue.json")))
    }

    @Test func theCatalogueIsLargeCoversEveryFormatAndUsesEveryFixture() throws {
        let entries = try Self.catalogue()
        #expect(entries.count >= 40)
        #expect(Set(entries.map(\.id)).count == entries.count, "duplicate ids")
        #expect(Set(entries.map(\.format)).isSuperset(of: ["gguf", "safetensors", "tokenizer", "idx", "png", "csv", "lmw", "cli"]))
        for e in entries {
            #expect((e.args == nil) != (e.repl == nil), "\(e.id): give either args or repl")
            #expect(e.status != 0, "\(e.id): a bad input must fail")
            #expect(!e.stderr.contains("\n"), "\(e.id): the message must be one line")
            #expect(!e.stderr.isEmpty || e.stdout != nil, "\(e.id): no message expected anywhere")
        }
        // Every fixture file is used by some entry (folders count through their path).
        let text = try String(contentsOfFile: Self.source + "/catalogue.json", encoding: .utf8)
        let files = try FileManager.default.subpathsOfDirectory(atPath: Self.source).filter { path in
            var isDir: ObjCBool = false
            FileManager.default.fileExists(atPath: Self.source + "/" + path, isDirectory: &isDir)
            return !isDir.boolValue && !["catalogue.json", "make-fixtures.py", "PROVENANCE.md"].contains(path)
        }
        for file in files {
            let folder = (file as NSString).deletingLastPathComponent
            let used = text.contains("$F/\(file)") || (!folder.isEmpty && text.contains("$F/\(folder)\""))
                || file.hasPrefix("csv/") && text.contains("$F/\(file.split(separator: "/").prefix(2).joined(separator: "/"))\"")
            #expect(used, "fixture \(file) is used by no catalogue entry")
        }
    }

    @Test func everyBadInputGetsItsOneLineMessageAndANonZeroExit() throws {
        try requireDefaultModel()
        let binary = try REPLTerminalTests.binary()
        let scratch = try temporaryFolder()
        defer { cleanup(scratch) }
        let fixtures = scratch + "/bad-inputs"
        try FileManager.default.copyItem(atPath: Self.source, toPath: fixtures)
        let home = scratch + "/home", tmp = scratch + "/tmp"
        for folder in [home, tmp] { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        let cache = Sandbox.resolve(CachePaths.root, relativeTo: nil)
        let long = String(repeating: "digit ", count: 9000)
        func fill(_ text: String) -> String {
            text.replacingOccurrences(of: "$F", with: fixtures).replacingOccurrences(of: "$CACHE", with: cache)
                .replacingOccurrences(of: "$MODEL", with: Session.defaultModelPath)
                .replacingOccurrences(of: "$TMP", with: tmp).replacingOccurrences(of: "$LONG", with: long)
        }

        var failures = 0
        for e in try Self.catalogue() {
            var environment = ["HOME": home, "LLAVA_MNIST_CACHE": cache, "PATH": "/usr/bin:/bin"]
            for (k, v) in e.env ?? [:] { environment[k] = fill(v) }
            let result = try spawn(binary, e.args.map { $0.map(fill) } ?? ["repl"], stdin: e.repl.map(fill) ?? "",
                                   environment: environment.map { "\($0)=\($1)" }, separateErrors: true)
            let expected = e.stderr.isEmpty ? "" : fill(e.stderr) + "\n"
            var ok = result.status == e.status && result.errors == expected
            #expect(result.status < 128, "\(e.id): ended by signal \(result.status - 128) (a crash)")
            #expect(result.status == e.status, "\(e.id): exit status \(result.status), expected \(e.status)")
            #expect(result.errors == expected, "\(e.id): stderr differs")
            if let stdout = e.stdout {
                let first = result.output.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init)
                #expect(first == fill(stdout), "\(e.id): first line of stdout differs")
                ok = ok && first == fill(stdout)
            }
            if !ok { failures += 1 }
        }
        #expect(failures == 0, "\(failures) catalogue entries failed")
    }
}
