import Testing
@testable import Notebook

@Suite struct TerminalRenderTests {
    /// A 4×2 test image: black, dark gray, light gray, white on top; white, black… below.
    let tiny: [UInt8] = [0, 85, 170, 255, 255, 0, 128, 10]

    @Test func asciiRamp() {
        #expect(DigitRenderer.ascii(tiny, width: 4, height: 2) == "  --**@@\n@@  ==\n")
    }

    @Test func asciiIs28By28() {
        var pixels = [UInt8](repeating: 0, count: 784)
        pixels[14 * 28 + 14] = 255
        let lines = DigitRenderer.render(pixels, mode: .none).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 29 && lines.last == "")
        #expect(lines[14] == String(repeating: " ", count: 28) + "@@")
        #expect(lines[0] == "")
    }

    @Test func halfBlocksTrueColor() {
        let out = DigitRenderer.render([0, 255, 128, 10], width: 2, height: 2, mode: .trueColor)
        #expect(out == "\u{1B}[38;2;0;0;0m\u{1B}[48;2;128;128;128m▀\u{1B}[38;2;255;255;255m\u{1B}[48;2;10;10;10m▀\u{1B}[0m\n")
    }

    @Test func halfBlocks256AndOddHeight() {
        let out = DigitRenderer.render([255, 0, 100], width: 1, height: 3, mode: .ansi256)
        #expect(out == "\u{1B}[38;5;231m\u{1B}[48;5;16m▀\u{1B}[0m\n\u{1B}[38;5;241m\u{1B}[48;5;16m▀\u{1B}[0m\n")
        #expect(DigitRenderer.ansi256Gray(128) == 244)
    }

    @Test func grayLevelsFromFloats() {
        #expect(DigitRenderer.grayLevels([-1, 0, 1]) == [0, 128, 255])
        #expect(DigitRenderer.grayLevels([2, 2]) == [0, 0])
    }

    @Test func rowOfDigits() {
        let a: [UInt8] = [255, 0, 0, 255], b: [UInt8] = [0, 0, 0, 0]
        #expect(DigitRenderer.row([a, b], captions: ["7", "1"], width: 2, height: 2, mode: .none)
            == "@@\n  @@\n7     1\n")
    }

    @Test func barChartScalesToLargest() {
        let out = barChart([("0", 0.5), ("1", -0.25), ("7", 1.0)], width: 8, marked: ["7"])
        #expect(out == "0   0.500  ████\n1  -0.250  ░░\n7   1.000  ████████ ◀\n")
        #expect(barChart([("a", 0.3), ("b", 0.6)], width: 4, decimals: 1, unicode: false) == "a  0.3  ##\nb  0.6  ####\n")
        #expect(bars(2.5, unicode: true) == "██▌")
    }

    @Test func fixedWidthTable() {
        let out = table(headers: ["digit", "cos"], rows: [["0", "0.12"], ["10", "-0.5"]], alignments: [.left, .right])
        #expect(out == "digit   cos\n-----  ----\n0      0.12\n10     -0.5\n")
    }

    @Test func confusionMatrixWithNoDigitColumn() {
        var counts = [[Int]](repeating: [Int](repeating: 0, count: 3), count: 2)
        counts[0][0] = 3; counts[0][2] = 1; counts[1][1] = 2
        let out = confusionMatrix(counts, rowLabels: ["0", "1"], columnLabels: ["0", "1", "?"])
        #expect(out == """
            true\\pred  0  1  ?  n     acc
            ---------  -  -  -  -  ------
            0          3  .  1  4   75.0%
            1          .  2  .  2  100.0%

            """)
    }

    @Test func progressLine() {
        let line = ProgressLine(step: 120, total: 1000, loss: 0.81234, smoothedLoss: 0.9, stepsPerSecond: 3.2)
        #expect(line.render() == "step  120/1000 [##..................]  12%  loss 0.8123  avg 0.9000  3.20 steps/s  ETA 4m35s")
        #expect(ProgressLine(step: 0, total: 5, loss: 1, smoothedLoss: 1, stepsPerSecond: 0).eta == nil)
    }

    @Test func numberFormatting() {
        #expect(formatFixed(0.12345, 3) == "0.123")
        #expect(formatFixed(-0.0004, 3) == "0.000")
        #expect(formatFixed(-2.5, 0) == "-3")
        #expect(formatFixed(12, 2) == "12.00")
        #expect(formatFixed(.nan, 2) == "nan")
        #expect(formatDuration(42) == "42s")
        #expect(formatDuration(3725) == "1h02m")
    }

    @Test func smoothedValueIsBiasCorrected() {
        var s = SmoothedValue(decay: 0.9)
        #expect(s.add(2) == 2)
        s.add(4)
        #expect(abs(s.value - (0.9 * 0.1 * 2 + 0.1 * 4) / (1 - 0.81)) < 1e-12)
    }
}
