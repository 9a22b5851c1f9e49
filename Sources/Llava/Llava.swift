// The experiment layer: MNIST data, projector, multimodal prompts, training, evaluation.
@_exported import LlamaKit
