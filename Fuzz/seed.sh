#!/usr/bin/env bash
# Builds the seed corpora of the fuzz targets from real files of this repository (test
# fixtures, workflows, the bad-input fixtures) and the installed default model's header.
# Output: Fuzz/corpus/seeds/<Target>/ (generated, git-ignored). Run by scripts/fuzz.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=Fuzz/corpus/seeds
rm -rf "$OUT"
mkdir -p "$OUT"/{FuzzGGUF,FuzzSafeTensors,FuzzTokenizerJSON,FuzzIDX,FuzzPNG,FuzzCommandLanguage,FuzzLMW}
CACHE=${LLAVA_MNIST_CACHE:-$HOME/.cache/llava-mnist}

copy() {  # copy TARGET FILE... (missing files and files over 256 KB are skipped: the big
          # fixtures are represented below by their headers with shrunk tensors)
    local target=$1; shift
    for f in "$@"; do
        [ -f "$f" ] && [ "$(stat -c %s "$f")" -le 262144 ] || continue
        cp "$f" "$OUT/$target/$(echo "${f#$ROOT/}" | tr '/' '_')"
    done
}

shopt -s nullglob globstar
copy FuzzGGUF Tests/**/*.gguf
copy FuzzSafeTensors Tests/**/*.safetensors
copy FuzzTokenizerJSON Tests/**/tokenizer*.json Tests/NotebookTests/Fixtures/bad-inputs/tokenizer/*.json
copy FuzzIDX Tests/**/*ubyte*
copy FuzzPNG Tests/**/*.png Samples/*.png
copy FuzzLMW Workflows/*.lmw Tests/**/*.lmw

python3 - "$OUT" "$CACHE" <<'PY'
import glob, gzip, json, os, random, re, struct, sys, zlib
out, cache = sys.argv[1], sys.argv[2]
rnd = random.Random(0)

def put(target, name, data):
    with open(os.path.join(out, target, name), "wb") as f:
        f.write(data)

# --- GGUF: the default model's first 256 KB (header + the start of its metadata), and the
# same metadata re-emitted with short arrays and one small tensor of each supported type.
model = os.path.join(cache, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")

def gstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b

def read_gguf_meta(buf):
    pos = 24
    n_t, n_kv = struct.unpack_from("<QQ", buf, 8)
    def rstr():
        nonlocal pos
        n, = struct.unpack_from("<Q", buf, pos); pos += 8
        s = buf[pos:pos + n]; pos += n; return s
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    def rval(t):
        nonlocal pos
        if t in sizes:
            v = buf[pos:pos + sizes[t]]; pos += sizes[t]; return (t, v)
        if t == 8: return (t, rstr())
        if t == 9:
            et, n = struct.unpack_from("<IQ", buf, pos); pos += 12
            return (t, (et, [rval(et) for _ in range(n)]))
        raise ValueError(t)
    kvs = []
    for _ in range(n_kv):
        k = rstr(); t, = struct.unpack_from("<I", buf, pos); pos += 4
        kvs.append((k, rval(t)))
    return kvs

def wval(t, v, cap):
    if t == 8: return gstr(v)
    if t == 9:
        et, items = v
        items = items[:cap]
        return struct.pack("<IQ", et, len(items)) + b"".join(wval(et, x[1], cap) for x in items)
    return v

def write_gguf(kvs, tensors, cap=256, align=32):
    b = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for k, (t, v) in kvs:
        b += gstr(k) + struct.pack("<I", t) + wval(t, v, cap)
    off = 0; data = b""
    for name, ttype, shape, payload in tensors:
        b += gstr(name) + struct.pack("<I", len(shape)) + b"".join(struct.pack("<Q", d) for d in shape)
        b += struct.pack("<IQ", ttype, off)
        pad = (-len(payload)) % align
        data += payload + b"\0" * pad; off += len(payload) + pad
    b += b"\0" * ((-len(b)) % align)
    return b + data

# (type id, block size, bytes per block) of the supported ggml types
types = {"F32": (0, 1, 4), "F16": (1, 1, 2), "Q4_0": (2, 32, 18), "Q4_1": (3, 32, 20), "Q5_0": (6, 32, 22),
         "Q5_1": (7, 32, 24), "Q8_0": (8, 32, 34), "Q4_K": (12, 256, 144), "Q5_K": (13, 256, 176),
         "Q6_K": (14, 256, 210), "BF16": (30, 1, 2)}
def small_tensors():
    ts = []
    for name, (tid, bs, size) in types.items():
        cols = max(bs, 32) if bs > 1 else 8
        payload = bytes(rnd.randrange(256) for _ in range(cols // bs * size * 2))
        if name in ("F16", "BF16"):   # finite values
            payload = b"".join(struct.pack("<H", 0x3c00 if name == "F16" else 0x3f80) for _ in range(cols * 2))
        ts.append(("t." + name, tid, [cols, 2], payload))
    return ts

if os.path.exists(model):
    with open(model, "rb") as f:
        head = f.read(256 << 10)
    put("FuzzGGUF", "smollm2-head-256k.gguf", head)
    with open(model, "rb") as f:
        full_meta = f.read(8 << 20)
    kvs = read_gguf_meta(full_meta)
    put("FuzzGGUF", "smollm2-metadata-short-arrays.gguf", write_gguf(kvs, small_tensors(), cap=300))
    put("FuzzGGUF", "smollm2-metadata-tiny-vocab.gguf", write_gguf(kvs, [], cap=40))
# the tiny test model's metadata with small tensors
for p in glob.glob("Tests/**/*.gguf", recursive=True):
    try:
        kvs = read_gguf_meta(open(p, "rb").read())
    except Exception:
        continue
    put("FuzzGGUF", os.path.basename(p) + ".small", write_gguf(kvs, small_tensors()[:3], cap=64))
put("FuzzGGUF", "tensors-only.gguf", write_gguf([(b"general.alignment", (4, struct.pack("<I", 64)))], small_tensors(), align=64))

# --- safetensors: small files in the layout of the fixtures (F32, F16, BF16, metadata).
def st(entries, meta=None):
    header, data = {}, b""
    if meta: header["__metadata__"] = meta
    for name, dtype, shape, payload in entries:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(payload)]}
        data += payload
    j = json.dumps(header).encode()
    j += b" " * ((-(8 + len(j))) % 8)
    return struct.pack("<Q", len(j)) + j + data
put("FuzzSafeTensors", "projector.safetensors", st([("input_layer.weight", "F32", [4, 784], struct.pack("<f", 0.5) * 4 * 784),
                                                     ("input_layer.bias", "F32", [4], struct.pack("<4f", 1, 2, 3, 4))],
                                                    {"format": "pt", "steps": "10"}))
put("FuzzSafeTensors", "mixed.safetensors", st([("a", "F16", [2, 3], b"\x00\x3c" * 6), ("b", "BF16", [3], b"\x80\x3f" * 3),
                                                ("c", "F32", [], struct.pack("<f", 1.5)), ("d", "F32", [0, 4], b"")]))
for p in glob.glob("Tests/**/*.safetensors", recursive=True):
    raw = open(p, "rb").read()
    if len(raw) < 8 or struct.unpack_from("<Q", raw)[0] > len(raw): continue
    n, = struct.unpack_from("<Q", raw)
    try:
        header = json.loads(raw[8:8 + n])
    except Exception:
        continue
    if not isinstance(header, dict): continue
    # the real header, tensors shrunk to at most 16 elements so the seed stays small
    entries = []
    for k, v in header.items():
        if k == "__metadata__" or not isinstance(v, dict): continue
        dt = v.get("dtype", "F32"); size = {"F32": 4, "F16": 2, "BF16": 2}.get(dt, 4)
        shape = [min(d, 4) for d in v.get("shape", []) if isinstance(d, int)]
        count = 1
        for d in shape: count *= d
        entries.append((k, dt, shape, bytes(rnd.randrange(256) for _ in range(count * size))))
    put("FuzzSafeTensors", os.path.basename(os.path.dirname(p)) + "-shrunk.safetensors", st(entries, header.get("__metadata__")))

# --- tokenizer.json: the tiny fixtures as they are, plus a minimal one of each flavour.
bytelevel = {"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3, "Ġa": 4, "<s>": 5},
                       "merges": ["a b", "Ġ a"]},
             "added_tokens": [{"id": 5, "content": "<s>", "special": True}, {"id": 6, "content": "<|im_start|>", "special": True}],
             "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "\\p{N}{1,3}"}}, {"type": "ByteLevel"}]},
             "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}]},
             "decoder": {"type": "ByteLevel"}}
put("FuzzTokenizerJSON", "bytelevel-llama3.json", json.dumps(bytelevel).encode())
bytelevel["model"]["merges"] = [["a", "b"], ["Ġ", "a"]]
bytelevel["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": True}, {"type": "ByteLevel"}]}
put("FuzzTokenizerJSON", "bytelevel-smollm-pairs.json", json.dumps(bytelevel).encode())
sp = {"normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
      "model": {"type": "BPE", "vocab": {"<unk>": 0, "<0x41>": 1, "▁": 2, "a": 3, "▁a": 4}, "merges": ["▁ a"],
                "byte_fallback": True, "unk_token": "<unk>", "fuse_unk": True},
      "added_tokens": [{"id": 0, "content": "<unk>", "special": True}], "pre_tokenizer": None,
      "decoder": {"type": "Sequence", "decoders": []}}
put("FuzzTokenizerJSON", "sentencepiece.json", json.dumps(sp, ensure_ascii=False).encode())
sp["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": False}
sp["normalizer"] = None
put("FuzzTokenizerJSON", "metaspace.json", json.dumps(sp).encode())   # \u escapes

# --- IDX: images and labels, raw and gzip (the real MNIST test files' first images).
def idx_images(n, r, c, px): return struct.pack(">IIII", 0x803, n, r, c) + px
def idx_labels(ls): return struct.pack(">II", 0x801, len(ls)) + bytes(ls)
px = bytes(rnd.randrange(256) for _ in range(3 * 28 * 28))
put("FuzzIDX", "images-3.idx", idx_images(3, 28, 28, px))
put("FuzzIDX", "images-3.idx.gz", gzip.compress(idx_images(3, 28, 28, px)))
put("FuzzIDX", "labels-5.idx", idx_labels([7, 2, 1, 0, 4]))
put("FuzzIDX", "labels-5.idx.gz", gzip.compress(idx_labels([7, 2, 1, 0, 4])))
put("FuzzIDX", "labels-2members.idx.gz", gzip.compress(idx_labels([1, 2])[:5]) + gzip.compress(idx_labels([1, 2])[5:]))
for p in glob.glob("/work/shared/data/mnist/t10k-*.gz") + glob.glob(os.path.join(cache, "data", "*ubyte*")):
    raw = gzip.open(p).read()
    if raw[:4] == b"\0\0\x08\x03":
        raw = struct.pack(">IIII", 0x803, 4, 28, 28) + raw[16:16 + 4 * 784]
    else:
        raw = struct.pack(">II", 0x801, 64) + raw[8:8 + 64]
    put("FuzzIDX", os.path.basename(p) + ".head.gz", gzip.compress(raw))

# --- PNG: every colour type and bit depth libpng's simplified API converts.
def png(w, h, color, depth, rows, extra=b"", interlace=0):
    def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    raw = b"".join(b"\0" + r for r in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, interlace))
            + extra + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
digit = [[255 if 8 <= x <= 19 and 6 <= y <= 22 and (x in (8, 19) or y in (6, 22)) else 0 for x in range(28)] for y in range(28)]
put("FuzzPNG", "gray8-28.png", png(28, 28, 0, 8, [bytes(r) for r in digit]))
put("FuzzPNG", "gray8-40x30-dark-on-light.png", png(40, 30, 0, 8, [bytes(255 - (digit[y % 28][x % 28]) for x in range(40)) for y in range(30)]))
put("FuzzPNG", "gray1-32.png", png(32, 32, 0, 1, [bytes([0x0f if 8 < y < 24 else 0] * 4) for y in range(32)]))
put("FuzzPNG", "gray16-16.png", png(16, 16, 0, 16, [b"".join(struct.pack(">H", (x * y * 997) & 0xffff) for x in range(16)) for y in range(16)]))
put("FuzzPNG", "rgb8-20.png", png(20, 20, 2, 8, [b"".join(bytes((x * 12, y * 12, 128)) for x in range(20)) for y in range(20)]))
put("FuzzPNG", "rgba8-20.png", png(20, 20, 6, 8, [b"".join(bytes((255, 255, 255, 255 if 5 < x < 15 else 0)) for x in range(20)) for y in range(20)]))
put("FuzzPNG", "gray-alpha8-20.png", png(20, 20, 4, 8, [b"".join(bytes((0, 255 if 5 < y < 15 else 0)) for x in range(20)) for y in range(20)]))
plte = b"\0\0\0\xff\xff\xff\x80\x80\x80"
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
put("FuzzPNG", "palette4-trns-16.png", png(16, 16, 3, 4, [bytes([0x12 if 3 < y < 12 else 0x00] * 8) for y in range(16)],
                                            extra=chunk(b"PLTE", plte) + chunk(b"tRNS", b"\x00\xff")))
put("FuzzPNG", "gray8-gama-28.png", png(28, 28, 0, 8, [bytes(r) for r in digit],
                                              extra=chunk(b"gAMA", struct.pack(">I", 45455))))

# --- command language: every statement of the workflows and the test fixtures, one per
# seed, plus a few multi-line programs (continuations, strings over lines).
seen = set()
for p in glob.glob("Workflows/*.lmw") + glob.glob("Tests/**/*.lmw", recursive=True):
    text = open(p, encoding="utf-8", errors="replace").read()
    for block in re.findall(r"```lmw[^\n]*\n(.*?)```", text, re.S):
        for line in block.splitlines():
            if line.strip() and line not in seen:
                seen.add(line)
                put("FuzzCommandLanguage", "stmt-%03d" % len(seen), line.encode())
        put("FuzzCommandLanguage", "block-%03d" % len(seen), block.encode())
for i, prog in enumerate([
    'ask "What digit\\n is this?" img=3 \\\n  max=20 temp=0.5\n# comment\nset steps=200\n',
    "time train steps=2 every=1\r\nshow img 3\r\n",
    "ask 'it''s' question=\"a \\\"b\\\"\" \\\r\n greedy=true\n",
    "help train\nhelp\nget steps\nset lr=1e-3\nload model ~/m.gguf\nload image a.png as x\n",
]):
    put("FuzzCommandLanguage", "program-%d" % i, prog.encode())
PY

for d in "$OUT"/*; do
    printf '%-22s %4d files %9d bytes\n' "$(basename "$d")" "$(ls "$d" | wc -l)" "$(cat "$d"/* | wc -c)"
done
