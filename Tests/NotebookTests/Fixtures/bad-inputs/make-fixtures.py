#!/usr/bin/env python3
"""Writes the binary fixtures of the bad-input catalogue (catalogue.json), deterministically.

Run once from this folder (`python3 make-fixtures.py`) and commit the result; the tests only
read the files. Every file is our own and tiny (the largest is a few KB). Text fixtures
(.lmw workflows) are written by hand and live beside these.
"""
import gzip
import json
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def write(rel, data):
    path = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(path, "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- GGUF

def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def kv_u32(key, v):
    return gstr(key) + struct.pack("<II", 4, v)


def kv_str(key, v):
    return gstr(key) + struct.pack("<I", 8) + gstr(v)


def tensor_info(name, dims, ggml_type, offset):
    out = gstr(name) + struct.pack("<I", len(dims))
    for d in dims:
        out += struct.pack("<Q", d)
    return out + struct.pack("<IQ", ggml_type, offset)


def gguf(kvs=(), tensors=(), data=b"", version=3, n_tensors=None, n_kv=None, align=32):
    head = b"GGUF" + struct.pack("<I", version)
    head += struct.pack("<QQ", len(tensors) if n_tensors is None else n_tensors, len(kvs) if n_kv is None else n_kv)
    for kv in kvs:
        head += kv
    for t in tensors:
        head += t
    pad = (-len(head)) % align
    return head + b"\0" * pad + data


write("gguf/bad-magic.gguf", b"GGML" + b"\0" * 20)
write("gguf/three-bytes.gguf", b"GGU")
write("gguf/bad-version.gguf", b"GGUF" + struct.pack("<IQQ", 7, 0, 0))
write("gguf/big-endian.gguf", b"GGUF" + struct.pack(">IQQ", 3, 0, 0))
write("gguf/truncated-header.gguf", b"GGUF" + struct.pack("<I", 3) + b"\x01\x00")
write("gguf/lying-tensor-count.gguf", gguf(n_tensors=1_000_000_000))
write("gguf/lying-kv-count.gguf", gguf(n_kv=1 << 40))
write("gguf/lying-string-length.gguf", b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1 << 40) + b"general.name")
write("gguf/lying-tensor-offset.gguf",
      gguf(kvs=[kv_str("general.architecture", "llama")],
           tensors=[tensor_info("token_embd.weight", [4, 2], 0, 1 << 40)], data=b"\0" * 32))
write("gguf/truncated-data.gguf",
      gguf(kvs=[kv_str("general.architecture", "llama")],
           tensors=[tensor_info("token_embd.weight", [64, 64], 0, 0)], data=b"\0" * 64))
write("gguf/unknown-type.gguf", gguf(tensors=[tensor_info("w", [32], 99, 0)], data=b"\0" * 64))
write("gguf/unsupported-type.gguf", gguf(tensors=[tensor_info("w", [256], 16, 0)], data=b"\0" * 128))
write("gguf/bad-alignment.gguf", gguf(kvs=[kv_u32("general.alignment", 3)]))
write("gguf/duplicate-key.gguf", gguf(kvs=[kv_str("general.name", "a"), kv_str("general.name", "b")]))
write("gguf/absurd-dimension.gguf", gguf(tensors=[tensor_info("w", [1 << 50, 4], 0, 0)], data=b"\0" * 32))
write("gguf/not-llama.gguf", gguf(kvs=[kv_str("general.architecture", "bert")]))
write("gguf/no-architecture.gguf", gguf(kvs=[kv_str("general.name", "empty")]))

# ---------------------------------------------------------------- safetensors


def safetensors(header, data=b"", length=None):
    h = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h) if length is None else length) + h + data


def f16(values):
    return struct.pack("<%de" % len(values), *values)


def projector(rows, cols, bias_rows=None, with_bias=True, meta=None):
    """An F16 projector: input_layer.weight [rows, cols] (+ input_layer.bias [bias_rows])."""
    w = f16([((i * 7919) % 13 - 6) / 100 for i in range(rows * cols)])
    header = {}
    if meta:
        header["__metadata__"] = meta
    header["input_layer.weight"] = {"dtype": "F16", "shape": [rows, cols], "data_offsets": [0, len(w)]}
    data = w
    if with_bias:
        n = rows if bias_rows is None else bias_rows
        b = f16([0.0] * n)
        header["input_layer.bias"] = {"dtype": "F16", "shape": [n], "data_offsets": [len(w), len(w) + len(b)]}
        data += b
    return safetensors(header, data)


write("safetensors/five-bytes.safetensors", b"\x05\0\0\0\0")
write("safetensors/header-beyond-file.safetensors", safetensors(b'{"a":1}', length=4096))
write("safetensors/implausible-header.safetensors", safetensors(b"{}", length=1 << 62))
write("safetensors/bad-json.safetensors", safetensors(b"{this is not json"))
write("safetensors/json-array.safetensors", safetensors(b"[1,2,3]"))
write("safetensors/dtype-i64.safetensors",
      safetensors({"input_layer.weight": {"dtype": "I64", "shape": [2], "data_offsets": [0, 16]}}, b"\0" * 16))
write("safetensors/dtype-size-mismatch.safetensors",
      safetensors({"input_layer.weight": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 8]}}, b"\0" * 8))
write("safetensors/offsets-beyond-end.safetensors",
      safetensors({"input_layer.weight": {"dtype": "F32", "shape": [4], "data_offsets": [0, 1 << 30]}}, b"\0" * 16))
write("safetensors/narrow-projector.safetensors", projector(2, 784, meta={"base_model": "tiny"}))
write("safetensors/missing-bias.safetensors", projector(2, 784, with_bias=False))
write("safetensors/wrong-input-width.safetensors", projector(2, 100))
write("safetensors/bias-mismatch.safetensors", projector(2, 784, bias_rows=3))
write("safetensors/not-a-projector.safetensors",
      safetensors({"linear.weight": {"dtype": "F16", "shape": [2, 2], "data_offsets": [0, 8]}}, f16([1, 2, 3, 4])))

# ---------------------------------------------------------------- tokenizer.json

write("tokenizer/not-json.json", "<html>this is not a tokenizer</html>\n")
write("tokenizer/empty.json", "")
write("tokenizer/no-model.json", '{"version": "1.0", "added_tokens": []}\n')
write("tokenizer/unigram.json", '{"model": {"type": "Unigram", "vocab": [["a", 0.0]]}}\n')
write("tokenizer/truncated.json", '{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1')
write("tokenizer/negative-id.json",
      '{"model": {"type": "BPE", "vocab": {"a": -4}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel"}}\n')

# ---------------------------------------------------------------- Hugging Face folders

write("hf/bad-config/config.json", "{not json\n")
write("hf/no-config/README.txt", "A folder without config.json: not a model.\n")
write("hf/config-missing-keys/config.json", '{"architectures": ["LlamaForCausalLM"], "hidden_size": 64}\n')

# ---------------------------------------------------------------- IDX (MNIST folders)


def idx_images(count, rows, cols, pixels=None, magic=0x803):
    head = struct.pack(">IIII", magic, count, rows, cols)
    return head + (bytes(pixels) if pixels is not None else bytes((i * 37) % 256 for i in range(count * rows * cols)))


def idx_labels(labels, magic=0x801, count=None):
    return struct.pack(">II", magic, len(labels) if count is None else count) + bytes(labels)


IMG, LAB = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"
write(f"idx/truncated/{IMG}", idx_images(3, 28, 28)[:1000])
write(f"idx/truncated/{LAB}", idx_labels([0, 1, 2]))
write(f"idx/bad-magic/{IMG}", idx_labels([0, 1, 2]))          # a label file under the images name
write(f"idx/bad-magic/{LAB}", idx_labels([0, 1, 2]))
write(f"idx/count-mismatch/{IMG}", idx_images(3, 28, 28))
write(f"idx/count-mismatch/{LAB}", idx_labels([0, 1]))
write(f"idx/no-labels/{IMG}", idx_images(1, 28, 28))
write(f"idx/wrong-size/{IMG}", idx_images(2, 10, 10))
write(f"idx/wrong-size/{LAB}", idx_labels([0, 1]))
write(f"idx/bad-label/{IMG}", idx_images(2, 28, 28))
write(f"idx/bad-label/{LAB}", idx_labels([3, 12]))
write(f"idx/bad-gzip/{IMG}.gz", b"\x1f\x8b\x08\x00" + b"\xff" * 40)
write(f"idx/bad-gzip/{LAB}", idx_labels([0]))
write(f"idx/lying-count/{IMG}", struct.pack(">IIII", 0x803, 60000, 28, 28))
write(f"idx/lying-count/{LAB}", idx_labels([0]))
write("idx/empty/README.txt", "No MNIST files here.\n")

# ---------------------------------------------------------------- CSV (cache folders for LLAVA_MNIST_CACHE)


def csv_line(label, pixel=0, fields=785):
    values = [str(pixel)] * (fields - 1) + [str(label)]
    return ",".join(values[:fields]) + "\n"


CSV = "data/mnist_5k.csv.gz"
write(f"csv/short-line/{CSV}", gzip.compress(b"0,0,7\n", mtime=0))
write(f"csv/bad-value/{CSV}", gzip.compress((csv_line(1) + csv_line(2).replace("0,", "x1,", 1)).encode(), mtime=0))
write(f"csv/pixel-range/{CSV}", csv_line(4, pixel=300))      # plain text under the .gz name: read as plain
write(f"csv/bad-label/{CSV}", gzip.compress(csv_line(12).encode(), mtime=0))
write(f"csv/too-few/{CSV}", gzip.compress((csv_line(7) + csv_line(3)).encode(), mtime=0))
write(f"csv/empty/{CSV}", gzip.compress(b"", mtime=0))
write(f"csv/truncated-gzip/{CSV}", gzip.compress(csv_line(5).encode(), mtime=0)[:30])
write("csv/missing/data/README.txt", "The 5k subset is missing from this cache.\n")

# ---------------------------------------------------------------- PNG


def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png(width, height, rows=None, ihdr_width=None, ihdr_height=None):
    sig = b"\x89PNG\r\n\x1a\n"
    ihdr = struct.pack(">IIBBBBB", width if ihdr_width is None else ihdr_width,
                       height if ihdr_height is None else ihdr_height, 8, 0, 0, 0, 0)
    raw = b"".join(b"\0" + bytes(r) for r in (rows or [[0] * width for _ in range(height)]))
    return sig + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


digit = [[255 if 8 <= x <= 11 and 4 <= y <= 23 else 0 for x in range(28)] for y in range(28)]
good = png(28, 28, digit)
write("png/not-a-png.png", b"GIF89a\x1c\x00\x1c\x00 not really a picture")
write("png/truncated.png", good[:60])
write("png/zero-width.png", png(1, 1, ihdr_width=0))
write("png/huge.png", png(1, 1, ihdr_width=100000, ihdr_height=100000))
write("png/blank.png", png(40, 40))  # 28×28 is taken as MNIST-shaped as it is, blank or not
bad_crc = bytearray(good)
bad_crc[29] ^= 0xFF  # inside the IHDR CRC
write("png/bad-crc.png", bytes(bad_crc))
