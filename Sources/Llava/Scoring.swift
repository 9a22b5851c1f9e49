// The seed's scoring rule: a reply is correct when its first integer equals the label, or
// when the label's English word appears in it ("seven").

public enum Scoring {
    public static let words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

    /// The first run of ASCII digits in `reply`, as an integer.
    public static func firstInteger(_ reply: String) -> Int? {
        var digits = ""
        for ch in reply.unicodeScalars {
            if ch.value >= 48 && ch.value <= 57 { digits.unicodeScalars.append(ch) }
            else if !digits.isEmpty { break }
        }
        return digits.isEmpty ? nil : Int(digits.prefix(18))
    }

    /// The digit the reply names: its first integer if that is 0–9, else the first number
    /// word found (for the confusion matrix); nil when it names none.
    public static func predictedDigit(_ reply: String) -> Int? {
        if let n = firstInteger(reply) { return (0...9).contains(n) ? n : nil }
        let lower = reply.lowercased()
        let hits = words.enumerated().compactMap { i, w in lower.range(of: w).map { (i, $0.lowerBound) } }
        return hits.min { $0.1 < $1.1 }?.0
    }

    /// The seed's rule.
    public static func isCorrect(_ reply: String, label: Int) -> Bool {
        firstInteger(reply) == label || reply.lowercased().contains(words[label])
    }
}
