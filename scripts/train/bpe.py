"""A byte-level BPE vocabulary for the bundled models: training, encoding, and the Hugging Face files.

The vocabulary follows the R1-Distill-Qwen layout: GPT-2's byte-to-character map, Qwen2's pre-tokenizer
pattern (each digit its own piece, words with one leading space or punctuation mark), merges learned on the
training text, then R1's special tokens as added tokens. `r1 convert` recognises the pattern as qwen2 and the
vocabulary as DeepSeek's (`deepseek-r1-qwen`), so r1 and llama.cpp split text exactly as this file does.

Python's `re` has no \\p{L}; the pattern below spells letters as [^\\W\\d_] and numbers as \\d, which is the
same split as Qwen2's regex on the text these models see (ASCII plus a few symbols such as ×); the test
tests/cli/test_bundled.py checks r1's ids against these on the whole held-out set.
"""

import collections
import json
import re

# Qwen2's pre-tokenizer regex as tokenizer.json declares it (what r1 and llama.cpp run).
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                 r"\s*[\r\n]+|\s+(?!\S)|\s+")
_L, _N = r"[^\W\d_]", r"\d"
_PY_PATTERN = re.compile(
    r"'(?:[sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD])"
    rf"|(?:(?!{_L}|{_N})[^\r\n])?{_L}+|{_N}| ?(?:(?!{_L}|{_N})[^\s])+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

BOS = "<｜begin▁of▁sentence｜>"
EOS = "<｜end▁of▁sentence｜>"
PAD = "<｜▁pad▁｜>"
USER = "<｜User｜>"
ASSISTANT = "<｜Assistant｜>"
THINK, END_THINK = "<think>", "</think>"
# (content, special): special ones are control tokens; <think> and </think> are plain added tokens in R1.
ADDED = [(BOS, True), (EOS, True), (PAD, True), (USER, False), (ASSISTANT, False), (THINK, False),
         (END_THINK, False)]


def bytes_to_unicode():
    """GPT-2's map from the 256 byte values to printable characters (printable bytes map to themselves)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


BYTE_CHARS = bytes_to_unicode()


def pre_split(text):
    return _PY_PATTERN.findall(text)


def to_symbols(piece):
    return [BYTE_CHARS[b] for b in piece.encode("utf-8")]


def train(texts, vocab_size):
    """Learns merges until the vocabulary (256 bytes + merges + added tokens) has vocab_size entries."""
    words = collections.Counter()
    for text in texts:
        words.update(pre_split(text))
    seqs = {w: to_symbols(w) for w in words}
    merges = []
    n_merges = vocab_size - 256 - len(ADDED)
    while len(merges) < n_merges:
        pairs = collections.Counter()
        for w, count in words.items():
            s = seqs[w]
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] += count
        if not pairs:
            break
        (a, b), count = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        if count < 2:
            break
        merges.append((a, b))
        for w in words:
            s = seqs[w]
            if len(s) < 2:
                continue
            out, i = [], 0
            while i < len(s):
                if i + 1 < len(s) and s[i] == a and s[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            seqs[w] = out
    return Tokenizer(merges)


class Tokenizer:
    def __init__(self, merges):
        self.merges = merges
        self.rank = {m: i for i, m in enumerate(merges)}
        self.vocab = {}
        for b in range(256):
            self.vocab[BYTE_CHARS[b]] = len(self.vocab)
        for a, b in merges:
            self.vocab.setdefault(a + b, len(self.vocab))
        self.added = {}
        for content, _ in ADDED:
            self.added[content] = len(self.vocab) + len(self.added)
        self.id_to_text = {i: t for t, i in self.vocab.items()}
        self.id_to_text.update({i: t for t, i in self.added.items()})
        self.cache = {}
        self.special_re = re.compile("(" + "|".join(re.escape(t) for t, _ in ADDED) + ")")

    def __len__(self):
        return len(self.vocab) + len(self.added)

    def encode_piece(self, piece):
        got = self.cache.get(piece)
        if got is not None:
            return got
        s = to_symbols(piece)
        while len(s) > 1:
            best = min(((self.rank.get((s[i], s[i + 1]), 1 << 30), i) for i in range(len(s) - 1)))
            if best[0] == 1 << 30:
                break
            i = best[1]
            s = s[:i] + [s[i] + s[i + 1]] + s[i + 2:]
        ids = [self.vocab[x] for x in s]
        self.cache[piece] = ids
        return ids

    def encode(self, text):
        """Ids of text with added tokens matched whole (special parsing on, nothing added)."""
        ids = []
        for part in self.special_re.split(text):
            if not part:
                continue
            if part in self.added:
                ids.append(self.added[part])
            else:
                for piece in pre_split(part):
                    ids.extend(self.encode_piece(piece))
        return ids

    def decode(self, ids):
        inverse = {c: b for b, c in BYTE_CHARS.items()}
        out = bytearray()
        for i in ids:
            t = self.id_to_text[i]
            if t in self.added:
                out += t.encode("utf-8")
            else:
                out += bytes(inverse[c] for c in t)
        return out.decode("utf-8", errors="replace")

    def tokenizer_json(self):
        added = [{"id": self.added[c], "content": c, "single_word": False, "lstrip": False, "rstrip": False,
                  "normalized": False, "special": special} for c, special in ADDED]
        return {
            "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
            "normalizer": {"type": "NFC"},
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": QWEN2_PATTERN}, "behavior": "Isolated", "invert": False},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
            "post_processor": {"type": "TemplateProcessing",
                               "single": [{"SpecialToken": {"id": BOS, "type_id": 0}},
                                          {"Sequence": {"id": "A", "type_id": 0}}],
                               "pair": [{"SpecialToken": {"id": BOS, "type_id": 0}},
                                        {"Sequence": {"id": "A", "type_id": 0}},
                                        {"SpecialToken": {"id": BOS, "type_id": 1}},
                                        {"Sequence": {"id": "B", "type_id": 1}}],
                               "special_tokens": {BOS: {"id": BOS, "ids": [self.added[BOS]], "tokens": [BOS]}}},
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                      "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                      "ignore_merges": False, "vocab": self.vocab,
                      "merges": [f"{a} {b}" for a, b in self.merges]},
        }

    def save(self, path):
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.tokenizer_json(), f, ensure_ascii=False, indent=1)
