// Terminal rendering: pure functions from data to Strings (digits, bar charts, tables,
// confusion matrices, a training progress line). Nothing here writes to the terminal; the
// only I/O is `Terminal`, which says what the terminal can show, so every renderer is
// testable with plain string comparisons.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the attached terminal can display (the only part of this file that looks at the process).
public enum Terminal {
    /// Colour is allowed: standard output is a terminal, `TERM` is not `dumb`, `NO_COLOR` is unset.
    public static var supportsColor: Bool {
        isatty(1) != 0 && environment("TERM") != "dumb" && environment("NO_COLOR") == nil
    }

    /// The terminal announces 24-bit colour (`COLORTERM=truecolor` or `24bit`).
    public static var supportsTrueColor: Bool {
        let value = environment("COLORTERM")
        return value == "truecolor" || value == "24bit"
    }

    /// The colour mode to render digits with, from the two checks above.
    public static var colorMode: ColorMode {
        !supportsColor ? .none : supportsTrueColor ? .trueColor : .ansi256
    }

    /// Columns of standard output, or 80 when unknown.
    public static var width: Int {
        var size = winsize()
        if ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return Int(environment("COLUMNS") ?? "") ?? 80
    }

    static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}

/// How gray levels are drawn.
public enum ColorMode: Equatable, Sendable {
    /// ASCII ramp, no escape sequences.
    case none
    /// 256-colour palette: the 24-step gray ramp (232–255) plus black (16) and white (231).
    case ansi256
    /// 24-bit `38;2;r;g;b` colours.
    case trueColor
}

// MARK: - Digits

/// Draws gray-level images (MNIST digits, projector weight rows) as text.
public enum DigitRenderer {
    /// The ASCII ramp from background to ink.
    public static let ramp: [Character] = Array(" .:-=+*#%@")

    /// `pixels` (row-major, 0 = black … 255 = white, as in MNIST files) drawn in `mode`:
    /// half blocks (`▀`, foreground = upper pixel, background = lower pixel: two pixel rows
    /// per text row) when colour is allowed, the ASCII ramp otherwise, two characters per
    /// pixel so the digit keeps its aspect ratio. Every line ends in `\n`.
    public static func render(_ pixels: [UInt8], width: Int = 28, height: Int = 28, mode: ColorMode) -> String {
        precondition(pixels.count == width * height, "expected \(width)×\(height) pixels")
        switch mode {
        case .none: return ascii(pixels, width: width, height: height)
        case .ansi256, .trueColor: return halfBlocks(pixels, width: width, height: height, trueColor: mode == .trueColor)
        }
    }

    /// The ASCII form: each pixel is two copies of its ramp character.
    public static func ascii(_ pixels: [UInt8], width: Int = 28, height: Int = 28) -> String {
        var out = ""
        for y in 0..<height {
            var line = ""
            for x in 0..<width {
                let c = ramp[Int(pixels[y * width + x]) * (ramp.count - 1) / 255]
                line.append(c)
                line.append(c)
            }
            // Trailing spaces carry no ink; dropping them keeps golden outputs tidy.
            while line.last == " " { line.removeLast() }
            out += line + "\n"
        }
        return out
    }

    /// The half-block form: `▀` with the upper pixel as foreground, the lower as background.
    public static func halfBlocks(_ pixels: [UInt8], width: Int = 28, height: Int = 28, trueColor: Bool) -> String {
        var out = ""
        for y in stride(from: 0, to: height, by: 2) {
            for x in 0..<width {
                let top = pixels[y * width + x]
                let bottom = y + 1 < height ? pixels[(y + 1) * width + x] : 0
                out += "\u{1B}[38;\(color(top, trueColor))m\u{1B}[48;\(color(bottom, trueColor))m▀"
            }
            out += "\u{1B}[0m\n"
        }
        return out
    }

    /// The SGR colour argument (after `38;` or `48;`) for a gray level.
    static func color(_ level: UInt8, _ trueColor: Bool) -> String {
        if trueColor { return "2;\(level);\(level);\(level)" }
        return "5;\(ansi256Gray(level))"
    }

    /// Nearest 256-colour index: black 16, white 231, else the gray ramp 232…255 (8 + 10k).
    static func ansi256Gray(_ level: UInt8) -> Int {
        let v = Int(level)
        if v < 4 { return 16 }
        if v > 246 { return 231 }
        return 232 + min(23, max(0, (v - 8 + 5) / 10))
    }

    /// Real values (e.g. a row of the projector's weight) mapped linearly onto 0…255, the
    /// smallest to black and the largest to white (all black when they are all equal).
    public static func grayLevels(_ values: [Float]) -> [UInt8] {
        guard let lo = values.min(), let hi = values.max(), hi > lo else {
            return [UInt8](repeating: 0, count: values.count)
        }
        return values.map { UInt8(((($0 - lo) / (hi - lo)) * 255).rounded()) }
    }

    /// Several images side by side with a caption under each (`show batch`), ASCII or colour.
    public static func row(_ images: [[UInt8]], captions: [String], width: Int = 28, height: Int = 28,
                           mode: ColorMode, gap: Int = 2) -> String {
        let drawn = images.map { render($0, width: width, height: height, mode: mode)
            .split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init) }
        let cellWidth = mode == .none ? width * 2 : width
        let rows = drawn.map(\.count).max() ?? 0
        let spacer = String(repeating: " ", count: gap)
        var lines: [String] = []
        for r in 0..<rows {
            let cells = drawn.map { img in
                let line = r < img.count ? img[r] : ""
                return mode == .none ? line.padding(cellWidth) : line
            }
            lines.append(cells.joined(separator: spacer).trimmingTrailingSpaces())
        }
        lines.append(captions.map { $0.padding(cellWidth) }.joined(separator: spacer).trimmingTrailingSpaces())
        return lines.map { $0 + "\n" }.joined()
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }

    /// Padded on the left to `width` characters (right-aligned).
    func leftPadding(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}

// MARK: - Numbers

/// Fixed-point formatting without Foundation's locale dependence: `formatFixed(0.12345, 3)` → `0.123`.
public func formatFixed(_ value: Double, _ decimals: Int) -> String {
    guard value.isFinite else { return value.isNaN ? "nan" : (value < 0 ? "-inf" : "inf") }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = (abs(value) * scale).rounded()
    let negative = value < 0 && scaled != 0
    guard scaled < 9e15 else { return String(value) }
    let whole = Int(scaled) / Int(scale), fraction = Int(scaled) % Int(scale)
    var text = String(whole)
    if decimals > 0 {
        let digits = String(fraction)
        text += "." + String(repeating: "0", count: decimals - digits.count) + digits
    }
    return (negative ? "-" : "") + text
}

/// A duration as `42s`, `3m05s`, `1h02m`.
public func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "?" }
    let s = Int(seconds.rounded())
    if s < 60 { return "\(s)s" }
    if s < 3600 { return "\(s / 60)m\(twoDigits(s % 60))s" }
    return "\(s / 3600)h\(twoDigits((s % 3600) / 60))m"
}

private func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : String(value) }

// MARK: - Bar chart

/// Horizontal bars, one per labelled value: `label  value  ████▌`, scaled so the largest
/// magnitude fills `width` cells. Negative values draw with `░` (or `-`), so cosine
/// similarities of either sign read at a glance. `marked` labels get a `◀` (or `<`).
public func barChart(_ items: [(label: String, value: Double)], width: Int = 40, decimals: Int = 3,
                     unicode: Bool = true, marked: Set<String> = []) -> String {
    let labelWidth = items.map(\.label.count).max() ?? 0
    let values = items.map { formatFixed($0.value, decimals) }
    let valueWidth = values.map(\.count).max() ?? 0
    let scale = items.map { abs($0.value) }.filter(\.isFinite).max() ?? 0
    var out = ""
    for (item, text) in zip(items, values) {
        let fraction = scale > 0 && item.value.isFinite ? abs(item.value) / scale : 0
        let bar = item.value < 0 ? String(repeating: unicode ? "░" : "-", count: Int((fraction * Double(width)).rounded()))
            : bars(fraction * Double(width), unicode: unicode)
        var line = item.label.padding(labelWidth) + "  " + text.leftPadding(valueWidth) + "  " + bar
        if marked.contains(item.label) { line += unicode ? " ◀" : " <" }
        out += line.trimmingTrailingSpaces() + "\n"
    }
    return out
}

/// `cells` worth of bar, with eighth blocks for the fraction when Unicode is allowed.
func bars(_ cells: Double, unicode: Bool) -> String {
    guard unicode else { return String(repeating: "#", count: Int(cells.rounded())) }
    let eighths = Int((cells * 8).rounded())
    let partial = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"][eighths % 8]
    return String(repeating: "█", count: eighths / 8) + partial
}

// MARK: - Tables

/// Column alignment in `table`.
public enum Alignment: Sendable { case left, right }

/// A fixed-width table: header, a rule of `-`, then rows; columns separated by two spaces.
/// Numeric-looking columns should be passed `.right`. Missing cells are blank.
public func table(headers: [String], rows: [[String]], alignments: [Alignment] = []) -> String {
    let columns = max(headers.count, rows.map(\.count).max() ?? 0)
    func cell(_ row: [String], _ c: Int) -> String { c < row.count ? row[c] : "" }
    let widths = (0..<columns).map { c in ([headers] + rows).map { cell($0, c).count }.max() ?? 0 }
    func line(_ row: [String]) -> String {
        (0..<columns).map { c in
            (c < alignments.count ? alignments[c] : .left) == .right
                ? cell(row, c).leftPadding(widths[c]) : cell(row, c).padding(widths[c])
        }.joined(separator: "  ").trimmingTrailingSpaces()
    }
    var out = [line(headers), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")]
    out += rows.map(line)
    return out.map { $0 + "\n" }.joined()
}

/// A confusion matrix: rows are true labels, columns predicted labels (the extra last
/// column, when `columnLabels` has one more entry, counts replies with no digit), then each
/// row's total and accuracy. Zero cells print as `.` so the diagonal stands out.
public func confusionMatrix(_ counts: [[Int]], rowLabels: [String] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
                            columnLabels: [String]? = nil) -> String {
    let columns = columnLabels ?? rowLabels
    let headers = ["true\\pred"] + columns + ["n", "acc"]
    var rows: [[String]] = []
    for (r, label) in rowLabels.enumerated() {
        let row = r < counts.count ? counts[r] : []
        let total = row.reduce(0, +)
        let correct = r < row.count ? row[r] : 0
        let cells = columns.indices.map { c in c < row.count && row[c] != 0 ? String(row[c]) : "." }
        let accuracy = total > 0 ? formatFixed(100 * Double(correct) / Double(total), 1) + "%" : "-"
        rows.append([label] + cells + [String(total), accuracy])
    }
    let alignments: [Alignment] = [.left] + Array(repeating: .right, count: columns.count + 2)
    return table(headers: headers, rows: rows, alignments: alignments)
}

// MARK: - Training progress

/// One training progress line, e.g.
/// `step  120/1000 [###.......]  12%  loss 0.8123  avg 0.9012  3.21 steps/s  ETA 4m34s`.
public struct ProgressLine: Equatable, Sendable {
    public var step: Int
    public var total: Int
    public var loss: Double
    public var smoothedLoss: Double
    public var stepsPerSecond: Double
    public var barWidth = 20

    public init(step: Int, total: Int, loss: Double, smoothedLoss: Double, stepsPerSecond: Double) {
        self.step = step
        self.total = total
        self.loss = loss
        self.smoothedLoss = smoothedLoss
        self.stepsPerSecond = stepsPerSecond
    }

    /// Seconds left at the current rate (`nil` before the rate is known).
    public var eta: Double? {
        stepsPerSecond > 0 ? Double(max(0, total - step)) / stepsPerSecond : nil
    }

    /// The line (no newline; the REPL redraws it in place with `\r` on a terminal).
    public func render(unicode: Bool = false) -> String {
        let fraction = total > 0 ? min(1, Double(step) / Double(total)) : 0
        let filled = Int((fraction * Double(barWidth)).rounded(.down))
        let bar = String(repeating: unicode ? "█" : "#", count: filled)
            + String(repeating: unicode ? "·" : ".", count: barWidth - filled)
        let digits = String(total).count
        return "step \(String(step).leftPadding(digits))/\(total) [\(bar)] "
            + "\(String(Int(fraction * 100)).leftPadding(3))%  loss \(formatFixed(loss, 4))  avg \(formatFixed(smoothedLoss, 4))  "
            + "\(formatFixed(stepsPerSecond, 2)) steps/s  ETA \(eta.map(formatDuration) ?? "?")"
    }
}

/// An exponential moving average with bias correction (as Adam's moments), for smoothed loss.
public struct SmoothedValue: Equatable, Sendable {
    public var decay: Double
    private var average = 0.0
    private var weight = 0.0

    public init(decay: Double = 0.9) { self.decay = decay }

    /// Adds a sample and returns the smoothed value.
    @discardableResult
    public mutating func add(_ value: Double) -> Double {
        average = decay * average + (1 - decay) * value
        weight = decay * weight + (1 - decay)
        return self.value
    }

    public var value: Double { weight > 0 ? average / weight : 0 }
}
