// End to end: the real `llava-mnist repl` binary in a real pseudo-terminal (tmux), typed at
// with `send-keys` and read back with `capture-pane`, as a user would see it. It checks what
// only a terminal shows: Tab completion, history recall with the Up arrow, Ctrl-C stopping a
// training run without ending the session, error messages with a caret, Ctrl-D leaving.
import Foundation
import Testing
@testable import Notebook
import Llava

@Suite(.serialized) struct REPLTerminalTests {
    /// The built binary: `$LLAVA_MNIST_BIN`, or `llava-mnist` beside the test bundle
    /// (`.build/<config>/`), which `swift build --build-tests` produces.
    static func binary() throws -> String {
        if let path = ProcessInfo.processInfo.environment["LLAVA_MNIST_BIN"], !path.isEmpty { return path }
        let folder = Bundle.module.bundleURL.deletingLastPathComponent()
        let path = folder.appendingPathComponent("llava-mnist").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            Issue.record("no llava-mnist binary at \(path): run `swift build --build-tests` (or set LLAVA_MNIST_BIN)")
            throw CommandError("no binary")
        }
        return path
    }

    /// One tmux server on a private socket, with one window running the REPL.
    final class Terminal {
        let socket = "lmw-test-\(getpid())-\(UUID().uuidString.prefix(8))"
        let tmux: String

        init() throws {
            let candidates = ["/usr/bin/tmux", "/usr/local/bin/tmux", "/bin/tmux"]
            guard let tmux = candidates.first(where: FileManager.default.isExecutableFile(atPath:)) else {
                Issue.record("tmux is not installed (scripts/setup.sh installs it)")
                throw CommandError("no tmux")
            }
            self.tmux = tmux
        }

        @discardableResult
        func run(_ arguments: [String]) throws -> String {
            try spawn(tmux, ["-L", socket, "-f", "/dev/null"] + arguments).output
        }

        func start(_ command: String) throws {
            try run(["new-session", "-d", "-s", "repl", "-x", "150", "-y", "50", command])
            // Keep the pane after the program exits, to read its exit status.
            try run(["set-option", "-t", "repl", "remain-on-exit", "on"])
        }

        func send(_ keys: String...) throws { try run(["send-keys", "-t", "repl"] + keys) }
        func type(_ text: String) throws { try run(["send-keys", "-t", "repl", "-l", text]) }

        /// The screen with its scrollback.
        func screen() throws -> String { try run(["capture-pane", "-p", "-t", "repl", "-S", "-500"]) }

        /// Waits until `condition` holds for the screen; returns the screen.
        @discardableResult
        func wait(_ what: String, timeout: Double = 30, _ condition: (String) -> Bool) throws -> String {
            let deadline = Date().addingTimeInterval(timeout)
            var last = ""
            while Date() < deadline {
                last = try screen()
                if condition(last) { return last }
                usleep(100_000)
            }
            Issue.record("timed out waiting for \(what); the screen was:\n\(last)")
            throw CommandError("timeout")
        }

        /// Whether the program in the pane ended, and how: "0" (its exit status) or "signal N".
        func paneStatus() throws -> (dead: Bool, status: String) {
            let text = try run(["display-message", "-p", "-t", "repl", "#{pane_dead}|#{pane_dead_status}|#{pane_dead_signal}"])
            let parts = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "|", omittingEmptySubsequences: false)
            let signal = parts.count > 2 ? String(parts[2]) : ""
            let status = parts.count > 1 ? String(parts[1]) : ""
            return (parts.first == "1", signal.isEmpty ? status : "signal \(signal)")
        }

        /// Ends the program in the pane (if a failed test left it running) and the server.
        func kill() {
            if let pid = Int32((try? run(["display-message", "-p", "-t", "repl", "#{pane_pid}"]))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""), pid > 0, (try? paneStatus().dead) == false {
                Glibc.kill(pid, SIGKILL)
            }
            _ = try? run(["kill-server"])
        }
    }

    func count(_ needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }

    /// The last non-empty line of the screen (capture-pane drops trailing spaces, so a
    /// completed `train ` shows as `lmw> train`).
    func lastLine(_ screen: String) -> String {
        String(screen.split(separator: "\n").last { !$0.allSatisfy(\.isWhitespace) } ?? "")
    }

    @Test func completionHistoryInterruptAndExitInARealTerminal() throws {
        try requireDefaultModel()
        let binary = try Self.binary()
        let home = try temporaryFolder()
        defer { cleanup(home) }
        let terminal = try Terminal()
        defer { terminal.kill() }
        let cache = Sandbox.resolve(CachePaths.root, relativeTo: nil)
        // The exit status goes to a file: tmux 3.3 sometimes reports a dead pane without it.
        let statusFile = home + "/exit-status"
        try terminal.start("env HOME='\(home)' LLAVA_MNIST_CACHE='\(cache)' TERM=xterm-256color '\(binary)' repl; echo $? > '\(statusFile)'")
        try terminal.wait("the banner and prompt") { $0.contains("'help' lists the commands") && $0.contains("lmw>") }

        // A plain command.
        try terminal.type("get seed"); try terminal.send("Enter")
        try terminal.wait("get seed's answer") { count("seed=0", in: $0) == 1 }

        // History: Up recalls the previous line; Enter runs it again.
        try terminal.send("Up")
        try terminal.wait("the recalled line") { lastLine($0).hasPrefix("lmw> get seed") }
        try terminal.send("Enter")
        try terminal.wait("the repeated answer") { count("seed=0", in: $0) == 2 }

        // An error shows a caret and the session goes on.
        try terminal.type("trian steps=5"); try terminal.send("Enter")
        try terminal.wait("the did-you-mean error") {
            $0.contains("error: unknown command 'trian' (did you mean 'train'?)\n  trian steps=5\n  ^")
        }

        // Tab completion of the command name, then a training run stopped with Ctrl-C.
        try terminal.type("tra"); try terminal.send("Tab")
        try terminal.wait("completion to 'train '") { lastLine($0) == "lmw> train" }
        try terminal.type("steps=50 every=0"); try terminal.send("Enter")
        try terminal.wait("training progress", timeout: 60) { $0.contains("steps/s  ETA") }
        try terminal.send("C-c")
        let stopped = try terminal.wait("the interrupted message", timeout: 60) { $0.contains("interrupted after ") }
        #expect(stopped.contains("of 50 steps: the projector keeps them"))

        // Still alive: a later command answers.
        try terminal.type("get seed"); try terminal.send("Enter")
        try terminal.wait("an answer after the interrupt") { count("seed=0", in: $0) == 3 }

        // Ctrl-C at the prompt cancels the typed line only.
        // Wait for the echo first: the tty driver discards unread input when ^C arrives, as
        // it would for a user whose keystrokes the program has not read yet.
        try terminal.type("get steps")
        try terminal.wait("the typed line") { lastLine($0) == "lmw> get steps" }
        try terminal.send("C-c")
        try terminal.wait("the cancelled line") { $0.contains("lmw> get steps^C") || $0.contains("get steps^C") }
        #expect(try !terminal.screen().contains("steps=1000"))

        // Ctrl-D leaves with status 0.
        try terminal.send("C-d")
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: statusFile), Date() < deadline { usleep(100_000) }
        usleep(100_000)
        let exitStatus = (try? String(contentsOfFile: statusFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(exitStatus == "0", "exit status: \(exitStatus ?? "none")")

        // The history file got every accepted line, for the next session.
        let history = try String(contentsOfFile: home + "/.lmw_history", encoding: .utf8)
        #expect(history == "get seed\nget seed\ntrian steps=5\ntrain steps=50 every=0\nget seed\n")
    }

    @Test func pipedInputIsAScriptThatStopsAtTheFirstError() throws {
        let binary = try Self.binary()
        let home = try temporaryFolder()
        defer { cleanup(home) }
        let result = try spawn(binary, ["repl"], stdin: "set seed=3\nget seed\n\nask \"two\nlines\" max=bad\nget n\n",
                               environment: ["HOME=\(home)", "LLAVA_MNIST_CACHE=\(CachePaths.root)", "PATH=/usr/bin:/bin"],
                               separateErrors: true)
        #expect(result.status == 1)
        #expect(result.output == "seed=3\n")  // no banner, no prompt
        #expect(result.errors == "<stdin>:5:12: max expects an integer, got 'bad'\n")
        #expect(!FileManager.default.fileExists(atPath: home + "/.lmw_history"))  // scripts leave no history
    }
}

/// Runs a program to completion with posix_spawn and waitpid: output and errors go through
/// temporary files (a daemon such as the tmux server keeps inherited pipes open forever).
func spawn(_ path: String, _ arguments: [String], stdin: String = "", environment: [String]? = nil,
           separateErrors: Bool = false) throws -> (status: Int32, output: String, errors: String) {
    let base = NSTemporaryDirectory() + "spawn-\(UUID().uuidString)"
    let (inPath, outPath, errPath) = (base + ".in", base + ".out", base + ".err")
    try stdin.write(toFile: inPath, atomically: false, encoding: .utf8)
    defer { for p in [inPath, outPath, errPath] { try? FileManager.default.removeItem(atPath: p) } }
    let pid = try launch(path, arguments, stdin: inPath, output: outPath, errors: separateErrors ? errPath : nil,
                         environment: environment)
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return (exitStatus, (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
}

/// Starts a program without waiting for it: standard input from the file `stdin`, output
/// truncated into `output` (or appended, with `append`), errors into `errors` or with the
/// output. The child starts with no blocked signals whatever thread the test runs on.
func launch(_ path: String, _ arguments: [String], stdin: String = "/dev/null", output: String, errors: String? = nil,
            append: Bool = false, environment: [String]? = nil) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0o600)
    if let errors {
        posix_spawn_file_actions_addopen(&actions, 2, errors, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    } else {
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
    }
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var empty = sigset_t()
    sigemptyset(&empty)
    posix_spawnattr_setsigmask(&attributes, &empty)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))

    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    let env = (environment ?? ProcessInfo.processInfo.environment.map { "\($0)=\($1)" }).map { strdup($0) } + [nil]
    defer { for p in argv + env { free(p) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, path, &actions, &attributes, argv, env)
    guard rc == 0 else { throw CommandError("cannot run \(path): \(String(cString: strerror(rc)))") }
    return pid
}
