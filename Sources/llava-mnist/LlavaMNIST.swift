// The `llava-mnist` command: a thin front door over the Notebook session and the engine.
// One file per subcommand; with no arguments it starts the REPL.
import ArgumentParser
import Notebook

@main
struct LlavaMNIST: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "llava-mnist",
        abstract: "Explore llava-mnist: a frozen Llama reading MNIST digits through one trained linear layer.",
        discussion: """
            Models: the default is SmolLM2-135M-Instruct (fetched by scripts/setup.sh into \
            ~/.cache/llava-mnist, or $LLAVA_MNIST_CACHE); --model takes any Llama-family GGUF file \
            or Hugging Face folder (config.json + safetensors + tokenizer.json).
            """,
        subcommands: [Repl.self, Run.self, Check.self, Ask.self, Train.self, Eval.self, EvalLlava.self,
                      Tokenize.self, Generate.self, Inspect.self, Models.self, Bench.self],
        defaultSubcommand: Repl.self)
}
