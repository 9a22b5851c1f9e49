# LlavaMNIST: the two commands of the README, and their parts.
#   make reproduce   set up, build, and replay the seed's README experiment (train, then evaluate)
#   make test        set up, run the whole test suite, then check the optimized build's kernels
#                    kept their SIMD code inline (scripts/check-kernels.sh)
.PHONY: setup build test reproduce ask bench clean
SHELL := /bin/bash

BIN := .build/release/llava-mnist

setup:
	bash scripts/setup.sh

build: setup
	swift build -c release

test: setup
	swift test 2>&1 | tee .build-test.log; exit $${PIPESTATUS[0]}
	bash scripts/check-kernels.sh

# The seed's README experiment as replayable notebooks: train (1,000 steps), then evaluate.
reproduce: build
	$(BIN) run Workflows/readme-train.lmw
	$(BIN) run Workflows/readme-eval.lmw

ask: build
	$(BIN) ask "What is the capital of France?"

bench: build
	$(BIN) bench

clean:
	rm -rf .build .build-*
