// Plots for rendered notebooks as standalone SVG files: the training loss curve and the
// evaluation confusion matrix. Plain SVG 1.1 with inline styles and generic font families,
// so a browser shows them with no network and no scripts; numbers are formatted without the
// locale, so the same data always gives the same bytes.

/// SVG documents for the notebook's figures.
public enum SVGPlot {
    /// The loss per step as a thin gray line, with a smoothed line (exponential moving
    /// average, as the progress line shows) on top; y from 0 to the largest loss.
    public static func lossCurve(_ losses: [Float], width: Int = 640, height: Int = 320) -> String {
        let left = 56.0, right = 16.0, top = 28.0, bottom = 40.0
        let plotW = Double(width) - left - right, plotH = Double(height) - top - bottom
        let finite = losses.map(Double.init).filter(\.isFinite)
        let yMax = niceCeiling(finite.max() ?? 1)
        let n = max(losses.count, 2)
        func x(_ i: Int) -> Double { left + plotW * Double(i) / Double(n - 1) }
        func y(_ v: Double) -> Double { top + plotH * (1 - min(max(v, 0), yMax) / yMax) }

        var svg = header(width, height, title: "training loss")
        svg += "<text x=\"\(left)\" y=\"18\" font-size=\"14\" font-weight=\"bold\">training loss (\(losses.count) steps)</text>\n"
        // Axes and ticks.
        for k in 0...4 {
            let v = yMax * Double(k) / 4, yy = y(v)
            svg += "<line x1=\"\(left)\" y1=\"\(fmt(yy))\" x2=\"\(fmt(left + plotW))\" y2=\"\(fmt(yy))\" stroke=\"#ddd\"/>\n"
            svg += "<text x=\"\(fmt(left - 6))\" y=\"\(fmt(yy + 4))\" font-size=\"11\" text-anchor=\"end\">\(formatFixed(v, 2))</text>\n"
        }
        for k in 0...4 {
            let step = Int((Double(n - 1) * Double(k) / 4).rounded())
            svg += "<text x=\"\(fmt(x(step)))\" y=\"\(fmt(top + plotH + 16))\" font-size=\"11\" text-anchor=\"middle\">\(step + 1)</text>\n"
        }
        svg += "<text x=\"\(fmt(left + plotW / 2))\" y=\"\(height - 6)\" font-size=\"12\" text-anchor=\"middle\">step</text>\n"
        svg += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(fmt(plotW))\" height=\"\(fmt(plotH))\" fill=\"none\" stroke=\"#888\"/>\n"
        guard !losses.isEmpty else { return svg + "</svg>\n" }
        let raw = losses.enumerated().map { "\(fmt(x($0.offset))),\(fmt(y(Double($0.element))))" }
        svg += "<polyline fill=\"none\" stroke=\"#9ab\" stroke-width=\"1\" points=\"\(raw.joined(separator: " "))\"/>\n"
        var smooth = SmoothedValue(decay: 0.95)
        let smoothed = losses.enumerated().map { "\(fmt(x($0.offset))),\(fmt(y(smooth.add(Double($0.element)))))" }
        svg += "<polyline fill=\"none\" stroke=\"#c33\" stroke-width=\"2\" points=\"\(smoothed.joined(separator: " "))\"/>\n"
        return svg + "</svg>\n"
    }

    /// A heat map of counts[label][answer] (an 11th column counts replies naming no digit),
    /// darker for larger shares of the row, with the count in each non-empty cell.
    public static func confusion(_ counts: [[Int]], cell: Int = 34) -> String {
        let rows = 10, columns = max(10, counts.map(\.count).max() ?? 10)
        let left = 44, top = 52
        let width = left + columns * cell + 16, height = top + rows * cell + 16
        var svg = header(width, height, title: "confusion matrix")
        svg += "<text x=\"\(left)\" y=\"16\" font-size=\"14\" font-weight=\"bold\">confusion (rows: label, columns: answer)</text>\n"
        for c in 0..<columns {
            let label = c < 10 ? String(c) : "?"
            svg += "<text x=\"\(left + c * cell + cell / 2)\" y=\"\(top - 8)\" font-size=\"12\" text-anchor=\"middle\">\(label)</text>\n"
        }
        for r in 0..<rows {
            let row = r < counts.count ? counts[r] : []
            let total = max(1, row.reduce(0, +))
            svg += "<text x=\"\(left - 8)\" y=\"\(top + r * cell + cell / 2 + 4)\" font-size=\"12\" text-anchor=\"end\">\(r)</text>\n"
            for c in 0..<columns {
                let count = c < row.count ? row[c] : 0
                let share = Double(count) / Double(total)
                let shade = Int((255 * (1 - share)).rounded())
                let fill = r == c ? "rgb(\(shade),\(min(255, shade + 40)),\(shade))" : "rgb(255,\(shade),\(shade))"
                svg += "<rect x=\"\(left + c * cell)\" y=\"\(top + r * cell)\" width=\"\(cell)\" height=\"\(cell)\" fill=\"\(count == 0 ? "#fff" : fill)\" stroke=\"#ccc\"/>\n"
                if count > 0 {
                    let ink = share > 0.5 ? "#fff" : "#000"
                    svg += "<text x=\"\(left + c * cell + cell / 2)\" y=\"\(top + r * cell + cell / 2 + 4)\" font-size=\"11\" text-anchor=\"middle\" fill=\"\(ink)\">\(count)</text>\n"
                }
            }
        }
        return svg + "</svg>\n"
    }

    static func header(_ width: Int, _ height: Int, title: String) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" "
            + "font-family=\"sans-serif\">\n<title>\(title)</title>\n"
            + "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n"
    }

    /// Coordinates with two decimals (locale-free, stable bytes).
    static func fmt(_ v: Double) -> String { formatFixed(v, 2) }

    /// 1, 2 or 5 times a power of ten, at least `v` (so the axis ends on a round number).
    static func niceCeiling(_ v: Double) -> Double {
        guard v > 0, v.isFinite else { return 1 }
        var base = 1.0
        while base * 10 <= v { base *= 10 }
        while base > v { base /= 10 }
        for m in [1.0, 2.0, 5.0, 10.0] where base * m >= v { return base * m }
        return base * 10
    }
}
