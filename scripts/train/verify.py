#!/usr/bin/python3
"""Checks a converted bundled model against the PyTorch model it came from.

    scripts/train/verify.py HF_DIR MODEL.gguf [--r1 build/bin/r1]

Tokenizes held-out problems with the Python tokenizer and with `r1 tokenize` (they must agree id for id),
then compares `r1 logits` on a chat prompt with the PyTorch forward pass of the same weights:
RMS(r1 - torch) / RMS(torch) per position. With r1's default F16 KV cache an F32 GGUF agrees to about 1e-3.
"""

import argparse
import json
import os
import random
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
import models  # noqa: E402
import tasks  # noqa: E402
import train  # noqa: E402


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        base = 8 + n
        out = {}
        for name, info in header.items():
            if name == "__metadata__":
                continue
            assert info["dtype"] == "F32"
            a, b = info["data_offsets"]
            f.seek(base + a)
            out[name] = torch.from_numpy(np.frombuffer(f.read(b - a), dtype=np.float32).copy()).view(info["shape"])
    return out


def load_tokenizer(hf_dir):
    with open(os.path.join(hf_dir, "tokenizer.json"), encoding="utf-8") as f:
        merges = [tuple(m.split(" ")) for m in json.load(f)["model"]["merges"]]
    return bpe.Tokenizer(merges)


def load_weights(model, hf_dir):
    """A saved folder's weights into model (the router bias included; rope tables are not saved)."""
    missing, unexpected = model.load_state_dict(load_safetensors(os.path.join(hf_dir, "model.safetensors")),
                                                strict=False)
    assert not unexpected and all(m in ("cos", "sin") for m in missing), (missing, unexpected)
    return model


def load_folder(hf_dir):
    """(model in eval mode, tokenizer) from a saved folder, its config.json as written."""
    with open(os.path.join(hf_dir, "config.json")) as f:
        model = models.CausalLM(json.load(f))
    return load_weights(model, hf_dir).eval(), load_tokenizer(hf_dir)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("hf_dir")
    ap.add_argument("gguf")
    ap.add_argument("--r1", default="build/bin/r1")
    args = ap.parse_args()

    tok = load_tokenizer(args.hf_dir)
    rng = random.Random(7)
    texts = [train.conversation(tasks.sample(rng, "heldout"))[0] for _ in range(20)]
    for text in texts:
        ours = tok.encode(text)
        got = json.loads(subprocess.run([args.r1, "tokenize", args.gguf, text, "--json"], check=True,
                                        capture_output=True, text=True).stdout)
        if got != ours:
            sys.exit(f"tokenizer mismatch on {text!r}:\n python {ours}\n r1     {got}")
    print(f"tokenizer: {len(texts)} prompts, same ids")

    model, _ = load_folder(args.hf_dir)
    prompt, completion = train.conversation(tasks.sample(rng, "heldout", "mul"))
    ids = tok.encode(prompt + completion)[:160]
    with torch.no_grad():
        x = torch.tensor([ids])
        want = model(x, torch.ones_like(x, dtype=torch.bool))[0].numpy()
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "l.f32")
        subprocess.run([args.r1, "logits", "-m", args.gguf, "--tokens", ",".join(map(str, ids)), "--out", out],
                       check=True, capture_output=True)
        got = np.fromfile(out, dtype=np.float32).reshape(len(ids), -1)
    rel = np.sqrt(((got - want) ** 2).mean(-1)) / np.sqrt((want ** 2).mean(-1))
    same = (got.argmax(-1) == want.argmax(-1)).mean()
    bad = int((rel > 1e-2).sum())
    print(f"logits: {len(ids)} positions ({bad} above 1e-2 at {np.nonzero(rel > 1e-2)[0].tolist()}), relative RMS difference max {rel.max():.2e} mean {rel.mean():.2e}, "
          f"argmax agreement {same * 100:.1f}%")


if __name__ == "__main__":
    main()
