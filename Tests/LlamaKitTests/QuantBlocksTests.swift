// ggml block decoding against gguf-py: every supported tensor type's raw blocks
// (Fixtures/quants/<TYPE>.bin) must decode to gguf-py's values (<TYPE>.deq.npy), and the scalar
// half/bfloat16 conversions must handle every special value the README lists.
import Foundation
import XCTest
@testable import LlamaKit

final class QuantBlocksTests: XCTestCase {
    /// (type, elements per block, bytes per block, blocks in the .bin), from the quants README.
    static let cases: [(GGMLType, Int, Int, Int)] = [
        (.f16, 1, 2, 256), (.bf16, 1, 2, 256), (.q8_0, 32, 34, 8), (.q4_0, 32, 18, 8),
        (.q4_1, 32, 20, 8), (.q5_0, 32, 22, 8), (.q5_1, 32, 24, 8),
        (.q4_K, 256, 144, 8), (.q5_K, 256, 176, 8), (.q6_K, 256, 210, 8),
    ]

    static func bin(_ type: GGMLType) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("quants/\(type).bin"))))
    }

    /// Decodes `bytes` as `type`, reading from a deliberately misaligned address: blocks inside
    /// a GGUF are only byte-aligned (18-, 20-, 22-byte blocks), so the decoder must not assume more.
    static func decode(_ type: GGMLType, _ bytes: [UInt8], count: Int, misalign: Int = 0) -> [Float] {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes.count + 16, alignment: 16)
        defer { raw.deallocate() }
        raw.advanced(by: misalign).copyMemory(from: bytes, byteCount: bytes.count)
        var out = [Float](repeating: .nan, count: count)
        out.withUnsafeMutableBufferPointer { dequantize(type, raw.advanced(by: misalign), into: $0.baseAddress!, count: count) }
        return out
    }

    func testBlockGeometryMatchesGGML() {
        for (type, block, bytes, _) in Self.cases {
            XCTAssertEqual(type.blockSize, block, "\(type)")
            XCTAssertEqual(type.typeSize, bytes, "\(type)")
            XCTAssertTrue(type.isSupported, "\(type)")
        }
        XCTAssertEqual(GGMLType.q4_1.rowBytes(576), 18 * 20)
        XCTAssertEqual(GGMLType.q6_K.rowBytes(512), 2 * 210)
        XCTAssertEqual(GGMLType(rawValue: 16)?.description, "IQ2_XXS")
        XCTAssertFalse(GGMLType.iq2_xxs.isSupported)
    }

    /// Every type decodes to gguf-py's values exactly: the decoder uses ggml's float32
    /// operation order, so nothing needs the 1e-6 tolerance the README allows.
    func testEveryTypeMatchesGGUFPy() throws {
        for (type, block, bytesPerBlock, blocks) in Self.cases {
            let bytes = try Self.bin(type)
            XCTAssertEqual(bytes.count, blocks * bytesPerBlock, "\(type).bin size")
            let want = try Fixtures.npy("quants/\(type).deq.npy")
            XCTAssertEqual(want.values.count, blocks * block, "\(type).deq.npy length")
            for misalign in [0, 1, 3] {
                let got = Self.decode(type, bytes, count: want.values.count, misalign: misalign)
                var mismatches = 0, inexact = 0
                for (i, (g, w)) in zip(got, want.values).enumerated() {
                    // `==` treats -0.0 and 0.0 as equal and inf as equal to itself.
                    if g == w { continue }
                    let rel = abs(g - w) / max(abs(w), .leastNormalMagnitude)
                    if !(rel <= 1e-6) {
                        mismatches += 1
                        if mismatches <= 3 { XCTFail("\(type)[\(i)] = \(g), gguf-py \(w) (misalign \(misalign))") }
                    } else {
                        inexact += 1
                    }
                }
                XCTAssertEqual(mismatches, 0, "\(type): values outside 1e-6")
                XCTAssertEqual(inexact, 0, "\(type): values not bit-exact")
            }
        }
    }

    /// Q4_0/Q5_0 block 3 was quantized from zeros with d = -0.0: ggml yields -0.0, and so must we
    /// (bit-exact agreement includes the sign).
    func testZeroBlocksKeepGGMLSign() throws {
        for type in [GGMLType.q4_0, .q5_0] {
            let got = Self.decode(type, try Self.bin(type), count: 256)
            XCTAssertTrue(got[96..<128].allSatisfy { $0 == 0 && $0.sign == .minus }, "\(type) block 3")
        }
        // Q4_1/Q5_1 block 7 is the constant 0.75 (d = 0, m = 0.75).
        for type in [GGMLType.q4_1, .q5_1] {
            let got = Self.decode(type, try Self.bin(type), count: 256)
            XCTAssertEqual(Array(got[224..<256]), [Float](repeating: 0.75, count: 32), "\(type) block 7")
        }
    }

    func testDecodingOneBlockTouchesOnlyItsOutput() throws {
        // count = one block: the element after it must stay untouched.
        for (type, block, _, _) in Self.cases where block > 1 {
            let got = Self.decode(type, try Self.bin(type), count: block)
            XCTAssertEqual(got.count, block)
            let want = try Fixtures.npy("quants/\(type).deq.npy")
            XCTAssertEqual(got, Array(want.values[0..<block]), "\(type) first block")
        }
    }

    func testHalfToFloatSpecials() {
        let cases: [(UInt16, Float)] = [
            (0x0000, 0), (0x3C00, 1), (0xC000, -2), (0x7BFF, 65504), (0xFBFF, -65504),
            (0x0400, 6.1035156e-05),            // smallest normal
            (0x0001, 5.9604645e-08),            // smallest subnormal
            (0x0032, 2.9802322e-06),            // a subnormal
            (0x03FF, 6.0975552e-05),            // largest subnormal
            (0x7C00, .infinity), (0xFC00, -.infinity),
            (0x2E66, 0.0999755859375), (0x3555, 0.333251953125), (0x6800, 2048),
        ]
        for (h, f) in cases { XCTAssertEqual(halfToFloat(h).bitPattern, f.bitPattern, "half 0x\(String(h, radix: 16))") }
        XCTAssertEqual(halfToFloat(0x8000).bitPattern, (-0.0 as Float).bitPattern)
        XCTAssertTrue(halfToFloat(0x7E00).isNaN)
        XCTAssertTrue(halfToFloat(0xFC01).isNaN)
    }

    func testHalfToFloatAgreesWithFixture() throws {
        let bytes = try Self.bin(.f16)
        let want = try Fixtures.npy("quants/F16.deq.npy").values
        for i in 0..<256 {
            let h = UInt16(bytes[2 * i]) | UInt16(bytes[2 * i + 1]) << 8
            XCTAssertEqual(halfToFloat(h).bitPattern, want[i].bitPattern, "F16 element \(i)")
        }
    }

    func testBF16ToFloat() throws {
        XCTAssertEqual(bf16ToFloat(0x3F80), 1)
        XCTAssertEqual(bf16ToFloat(0xC000), -2)
        XCTAssertEqual(bf16ToFloat(0x8000).bitPattern, 0x8000_0000)
        XCTAssertEqual(bf16ToFloat(0x0001).bitPattern, 0x0001_0000)       // subnormal
        XCTAssertEqual(bf16ToFloat(0x7F7F), 3.3895314e+38)                // largest finite
        XCTAssertEqual(bf16ToFloat(0x7F80), .infinity)
        XCTAssertEqual(bf16ToFloat(0xFF80), -.infinity)
        XCTAssertTrue(bf16ToFloat(0x7FC0).isNaN)
        let bytes = try Self.bin(.bf16)
        let want = try Fixtures.npy("quants/BF16.deq.npy").values
        for i in 0..<256 {
            let h = UInt16(bytes[2 * i]) | UInt16(bytes[2 * i + 1]) << 8
            XCTAssertEqual(bf16ToFloat(h).bitPattern, want[i].bitPattern, "BF16 element \(i)")
        }
    }

    /// The README's BF16 specials, including both round-to-nearest-even ties.
    func testFloatToBF16Specials() {
        let cases: [(Float, UInt16)] = [
            (0, 0x0000), (-0.0, 0x8000), (1, 0x3F80), (-2, 0xC000),
            (3.3895314e+38, 0x7F7F),            // largest finite stays finite
            (1e-40, 0x0001),                    // float32 subnormal → bf16 subnormal
            (1.0000001, 0x3F80),                // below half an ulp: rounds down
            (1.00390625, 0x3F80),               // exact tie, 0x3F80 is even: stays
            (1.01171875, 0x3F82),               // exact tie, 0x3F81 is odd: rounds up to even
            (.infinity, 0x7F80), (-.infinity, 0xFF80),
            (3.4e+38, 0x7F80),                  // rounds past the largest finite to +inf
            (0.1, 0x3DCD), (1.0 / 3.0, 0x3EAB), (-1234.5678, 0xC49A),
            (65504, 0x4780),                    // → 65536
        ]
        for (f, want) in cases {
            XCTAssertEqual(floatToBF16(f), want, "\(f)")
        }
        // NaNs stay NaN (quiet), even a signalling NaN whose top mantissa bits are zero,
        // which plain rounding would turn into infinity.
        for bits: UInt32 in [0x7FC0_0000, 0x7F80_0001, 0xFF80_0001, 0x7FFF_FFFF] {
            let b = floatToBF16(Float(bitPattern: bits))
            XCTAssertTrue(bf16ToFloat(b).isNaN, "NaN 0x\(String(bits, radix: 16)) → 0x\(String(b, radix: 16))")
            XCTAssertEqual(b & 0x8000, UInt16(bits >> 16) & 0x8000, "sign kept")
        }
    }

    /// floatToBF16 reproduces gguf-py's BF16 encoding of all 256 source values.
    func testFloatToBF16AgreesWithGGUFPy() throws {
        let src = try Fixtures.npy("quants/BF16.src.npy").values
        let bytes = try Self.bin(.bf16)
        for i in 0..<256 {
            let want = UInt16(bytes[2 * i]) | UInt16(bytes[2 * i + 1]) << 8
            XCTAssertEqual(floatToBF16(src[i]), want, "BF16 source element \(i) = \(src[i])")
        }
    }

    /// Widening and narrowing again is the identity for every finite and infinite bf16.
    func testBF16RoundTripIsIdentity() {
        for h in UInt16.min...UInt16.max {
            let f = bf16ToFloat(h)
            if f.isNaN { continue }
            XCTAssertEqual(floatToBF16(f), h)
        }
    }
}
