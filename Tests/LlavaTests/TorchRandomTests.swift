// TorchRandom.swift against PyTorch. Expected values printed by PyTorch 2.15 (CPU) with
//   torch.manual_seed(0); lin = torch.nn.Linear(784, 576); perm = torch.randperm(5000)
// (lin.weight.flatten()[:4], lin.weight.flatten()[-1], lin.bias[:2], perm[:8]); our own run,
// nothing copied from PyTorch's sources.
import XCTest
@testable import Llava

final class TorchRandomTests: XCTestCase {
    func testLinearInitializationIsPyTorchsBitForBit() {
        let p = Projector.torchInitialized(outputSize: 576, seed: 0)
        let w = p.parameters[0].values, b = p.parameters[1].values
        XCTAssertEqual(p.parameters[0].shape, [576, 784])
        XCTAssertEqual(Array(w.prefix(4)), [-0.00026738643646240234, 0.019158700481057167, -0.029394470155239105, -0.026283537968993187])
        XCTAssertEqual(w.last, 0.024938132613897324)
        XCTAssertEqual(Array(b.prefix(2)), [-0.018982691690325737, 0.009443143382668495])
    }

    func testTrainingOrderIsTorchRandpermAfterTheInitialization() {
        let order = Projector.torchTrainingOrder(outputSize: 576, seed: 0, count: 5000)
        XCTAssertEqual(Array(order.prefix(8)), [3624, 1850, 3316, 1141, 2566, 3675, 1709, 3374])
        XCTAssertEqual(order.sorted(), Array(0..<5000))
    }

    /// The generator is the standard mt19937: its 10,000th output for seed 5489 is 4123659995
    /// (the C++ standard's check value for std::mt19937).
    func testGeneratorIsTheStandardMersenneTwister() {
        var g = TorchGenerator(seed: 5489)
        g.skip(9999)
        XCTAssertEqual(g.random(), 4_123_659_995)
    }
}
