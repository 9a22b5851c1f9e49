"""Writes pretokenizer_regex_cases.json: reference pre-tokenizer splits from Python's `regex`
module (pip install regex), for random strings full of edge cases. Run from this folder."""
import json, random, regex
random.seed(7)
alph = [chr(c) for c in list(range(32, 127)) + list(range(0xC0, 0x250)) + list(range(0x400, 0x450)) + list(range(0x4E00, 0x4E20))
        + list(range(0x3040, 0x3060)) + [0x1F600 + i for i in range(20)]]
alph += [' ', '  ', '   ', '\n', '\n\n', '\t', '\r\n', '\r', '\x0b', '\x0c', '\x85', '\xa0', '\u2028', '\u3000', '\u2009',
         "'s", "'S", "'ll", "'LL", "'Re", "'ve", "'d", "'m", "'t", "'", "''", '7', ' 42', '12345', '\x04', '\x1c', '\x1f',
         '٣', '²', '½', 'Ⅻ', '\u0301', '\u200d', '👍🏽', '🇫🇷', 'ǅ', 'ʰ', ' (', '(', '...', ' ...\n', '—']
texts = [''.join(random.choice(alph) for _ in range(random.randint(1, 40))) for _ in range(6000)]
GPT2_PAT = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
L3_PAT = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
GPT2, L3, DIG = regex.compile(GPT2_PAT), regex.compile(L3_PAT), regex.compile(r'\p{N}')
def smol(s):
    out, last = [], 0
    for m in DIG.finditer(s):
        if m.start() > last: out += GPT2.findall(s[last:m.start()])
        out.append(m.group()); last = m.end()
    if last < len(s): out += GPT2.findall(s[last:])
    return out
cases = [{"text": t, "gpt2": GPT2.findall(t), "smollm": smol(t), "llama3": L3.findall(t)} for t in texts]
# Keep the cases where all three rules disagree, plus a random sample of the rest.
tricky = [c for c in cases if len({json.dumps(c[k]) for k in ("gpt2", "smollm", "llama3")}) == 3]
sel = random.sample(tricky, 150) + random.sample(cases, 100)
json.dump({"generator": "gen_pretokenizer_cases.py (regex %s)" % regex.__version__,
           "gpt2_pattern": GPT2_PAT, "llama3_pattern": L3_PAT,
           "smollm_rule": "every \\p{N} character on its own, then the GPT-2 pattern on each stretch between them",
           "cases": sel}, open("pretokenizer_regex_cases.json", "w"), ensure_ascii=False)
print(len(sel), "cases")
