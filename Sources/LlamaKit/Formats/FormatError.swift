// One error type for every file the engine reads: it always names the file and what is wrong,
// so a command-line run can print one clear line and exit non-zero.

/// A file that cannot be read as what it claims to be.
public struct FormatError: Error, CustomStringConvertible, Equatable {
    /// The path of the file (or folder) at fault.
    public let file: String
    /// What is wrong, in words a user can act on.
    public let message: String

    public init(_ file: String, _ message: String) {
        self.file = file
        self.message = message
    }

    public var description: String { "\(file): \(message)" }
}
