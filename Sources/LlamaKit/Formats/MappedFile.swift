// Read-only memory mapping of model files: weights stay in the page cache in their file
// format, so a 5 GB GGUF costs no heap and loads instantly.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only into memory. The mapping lives as long as this object.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let size: Int
    public let base: UnsafeRawPointer
    /// Whether `base` is a heap copy (in-memory bytes, or an empty file) rather than a mapping.
    private let onHeap: Bool

    /// A heap copy of `bytes`, read as if they were a file named `name` (which labels errors):
    /// lets parsers run on bytes that never touched a disk (fuzzing, downloads in memory).
    public init(copying bytes: UnsafeRawBufferPointer, name: String) {
        path = name
        size = bytes.count
        onHeap = true
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(1, bytes.count), alignment: 64)
        if let src = bytes.baseAddress, bytes.count > 0 { p.copyMemory(from: src, byteCount: bytes.count) }
        base = UnsafeRawPointer(p)
    }

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw FormatError(path, errno == ENOENT ? "no such file" : "cannot open (\(String(cString: strerror(errno))))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FormatError(path, "cannot stat") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw FormatError(path, "not a regular file") }
        size = Int(st.st_size)
        onHeap = size == 0
        if size == 0 {
            // mmap refuses empty files; keep a valid dangling pointer so readers report "truncated".
            base = UnsafeRawPointer(UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 64))
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw FormatError(path, "cannot map into memory")
        }
        base = UnsafeRawPointer(p)
    }

    deinit {
        if onHeap { UnsafeMutableRawPointer(mutating: base).deallocate() }
        else { munmap(UnsafeMutableRawPointer(mutating: base), size) }
    }

    /// The bytes `[offset, offset+count)` after checking they lie inside the file.
    public func bytes(at offset: Int, count: Int) throws -> UnsafeRawBufferPointer {
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset else {
            throw FormatError(path, "truncated: needs \(count) bytes at offset \(offset) but the file has \(size)")
        }
        return UnsafeRawBufferPointer(start: base + offset, count: count)
    }
}

/// A bounds-checked little-endian reader over a mapped file, used by header parsers.
/// Every read checks the remaining length first, so a truncated or lying header becomes a
/// `FormatError`, never a crash.
struct ByteReader {
    let file: MappedFile
    var offset: Int
    /// The part of the file being parsed ("header", "metadata", …), named in truncation errors
    /// so a user can tell a cut-off download from a corrupt field.
    var part: String?

    init(_ file: MappedFile, offset: Int = 0) {
        self.file = file
        self.offset = offset
    }

    var remaining: Int { file.size - offset }

    /// The error for a read of `count` bytes that would run past the end of the file.
    func truncated(_ count: Int) -> FormatError {
        let whereText = part.map { " in the \($0)" } ?? ""
        return FormatError(file.path, "truncated\(whereText): needs \(count) bytes at offset \(offset) but the file has \(file.size)")
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type) throws -> T {
        let b = try readBytes(MemoryLayout<T>.size)
        return T(littleEndian: b.loadUnaligned(as: T.self))
    }

    mutating func readF32() throws -> Float { Float(bitPattern: try read(UInt32.self)) }
    mutating func readF64() throws -> Double { Double(bitPattern: try read(UInt64.self)) }

    mutating func readBytes(_ count: Int) throws -> UnsafeRawBufferPointer {
        guard count >= 0, count <= remaining else { throw truncated(count) }
        let b = try file.bytes(at: offset, count: count)
        offset += count
        return b
    }
}
