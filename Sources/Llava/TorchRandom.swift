// PyTorch's CPU random numbers, reproduced: the generator behind `torch.manual_seed`, the
// uniform draws of `nn.Linear`'s initialization and `torch.randperm`. With them a run starts
// from the very projector and visits the images in the very order of a PyTorch run of the
// recipe with the same seed (`train --torch-random`); only float rounding then tells the two
// runs apart. Checked against PyTorch 2.15 in TorchRandomTests.

/// PyTorch's default CPU generator: the 32-bit Mersenne Twister (mt19937) seeded as
/// `torch.manual_seed(seed)` seeds it.
public struct TorchGenerator: Sendable {
    private var state = [UInt32](repeating: 0, count: 624)
    private var index = 624

    public init(seed: UInt64) {
        state[0] = UInt32(truncatingIfNeeded: seed)
        for i in 1..<624 { state[i] = 1_812_433_253 &* (state[i - 1] ^ (state[i - 1] >> 30)) &+ UInt32(i) }
    }

    /// The next 32 bits (`generator->random()` in ATen).
    public mutating func random() -> UInt32 {
        if index >= 624 { twist() }
        var y = state[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    private mutating func twist() {
        for k in 0..<624 {
            let y = (state[k] & 0x8000_0000) | (state[(k + 1) % 624] & 0x7FFF_FFFF)
            state[k] = state[(k + 397) % 624] ^ (y >> 1) ^ ((y & 1) != 0 ? 0x9908_B0DF : 0)
        }
        index = 0
    }

    /// `tensor.uniform_(from, to)` for a float32 tensor, one element: 24 random bits scaled in
    /// double precision, with the bounds held as float32 (ATen's uniform_real_distribution).
    public mutating func uniform(_ from: Double, _ to: Double) -> Float {
        let lo = Float(from), hi = Float(to)
        let x = Double(random() & 0xFF_FFFF) * 0x1p-24
        return Float(x * Double(hi - lo) + Double(lo))
    }

    /// `torch.randperm(n)` on the CPU (n below 2³²): a forward Fisher–Yates shuffle.
    public mutating func randperm(_ n: Int) -> [Int] {
        var r = Array(0..<n)
        if n < 2 { return r }
        for i in 0..<(n - 1) {
            let z = Int(random() % UInt32(n - i))
            r.swapAt(i, z + i)
        }
        return r
    }

    /// Skips `count` draws.
    public mutating func skip(_ count: Int) { for _ in 0..<count { _ = random() } }

    /// `nn.Linear(fanIn, outputs)`'s initial weight and bias: kaiming_uniform_(a=√5) for the
    /// weight (bound √3·√(2/6)/√fan_in), then uniform ±1/√fan_in for the bias.
    public mutating func linearInit(outputs: Int, fanIn: Int) -> (weight: [Float], bias: [Float]) {
        let weightBound = 3.0.squareRoot() * ((2.0 / 6.0).squareRoot() / Double(fanIn).squareRoot())
        let weight = (0..<(outputs * fanIn)).map { _ in uniform(-weightBound, weightBound) }
        let biasBound = 1 / Double(fanIn).squareRoot()
        let bias = (0..<outputs).map { _ in uniform(-biasBound, biasBound) }
        return (weight, bias)
    }
}

extension Projector {
    /// The linear projector PyTorch creates after `torch.manual_seed(seed)`.
    public static func torchInitialized(outputSize: Int, seed: UInt64) -> Projector {
        var g = TorchGenerator(seed: seed)
        let (w, b) = g.linearInit(outputs: outputSize, fanIn: inputSize)
        return Projector(weight: w, bias: b)
    }

    /// The training order PyTorch then draws, `torch.randperm(count)`, after the projector's
    /// initialization consumed its numbers.
    public static func torchTrainingOrder(outputSize: Int, seed: UInt64, count: Int) -> [Int] {
        var g = TorchGenerator(seed: seed)
        g.skip(outputSize * inputSize + outputSize)
        return g.randperm(count)
    }
}
