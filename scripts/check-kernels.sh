#!/usr/bin/env bash
# Checks the optimized build's hot kernels kept their SIMD conversions inline.
#
# Swift's SIMD conversions (`SIMD8<Int32>(truncatingIfNeeded:)`, `SIMD8<Float>(_:)`) are generic
# stdlib code that the optimizer must specialize *and inline* for the kernels to vectorize. When a
# kernel grows, or the same conversion gains call sites elsewhere, the inliner may stop and leave
# an out-of-line specialization that the kernels call per 8 lanes: decoding then runs 2–4× slower
# with every result unchanged, so no correctness test notices. Such a specialization shows up as
# a local symbol `$ss<N>SIMD<n>V…` in the binary; a good build has none. (Timing is the
# benchmark's business; this checks the code that was generated, which does not vary with load.)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-.build/release/llava-mnist}
if [ $# -eq 0 ]; then swift build -c release --product llava-mnist >/dev/null; fi
if ! command -v nm >/dev/null; then echo "check-kernels: nm not found (binutils)" >&2; exit 2; fi
# `$ss<N>SIMD<n>V…`: a conversion or initializer of a concrete SIMD type; `$ss4SIMDP…`: a method
# of the SIMD protocol (such as `sum()`) specialized for one.
calls=$(nm "$bin" | grep -E ' [tT] \$ss([0-9]+SIMD[0-9]+V|4SIMDP)' || true)
if [ -n "$calls" ]; then
  echo "check-kernels: $bin calls SIMD conversions out of line (a kernel stopped vectorizing):" >&2
  echo "$calls" | awk '{print "  " $3}' | (swift demangle 2>/dev/null || cat) | cut -c1-200 >&2
  exit 1
fi
echo "check-kernels: SIMD conversions inlined in every kernel of $bin"
