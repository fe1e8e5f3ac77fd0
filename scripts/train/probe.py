#!/usr/bin/python3
"""Greedy Pass@1 of a training folder on held-out problems, in PyTorch: a quick way to compare recipes.

    scripts/train/probe.py FOLDER... [--per-family 50] [--device cpu|cuda] [--seed 4242]

Draws --per-family problems of each task family from the held-out half of the number line (tasks.sample, a
fixed seed), writes each answer greedily and counts the ones whose last \\boxed{} is the answer. It is the
measure `r1 eval --temp 0` takes on models/eval/heldout.jsonl, on problems of the same kind, without a GGUF or
a build of r1, so recipes can be tried on a GPU (train.py --device cuda). Teacher-forced exactness (train.py's
log) is no stand-in: a trace may say a step in other words than the reference and still reach the answer; the
word problems showed 0-4 of 100 exact under teacher forcing where greedy decoding solved 47-50 of 50.

The batch is right-padded and recomputed whole for every token (no cache): slow on CPU (minutes per
family), about ten seconds per family on a GPU.
"""

import argparse
import os
import random
import re
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
import tasks  # noqa: E402
import train  # noqa: E402
import verify  # noqa: E402


def last_boxed(text):
    found = re.findall(r"\\boxed\{([^{}]*)\}", text)
    return found[-1].strip() if found else None


@torch.no_grad()
def greedy(model, tok, questions, max_new):
    """The completions (text after the generation prompt) of all questions at once. Each sequence keeps its
    own positions: sequence i's next token is read at its own last position, so the padding after a shorter
    sequence lies in its future and the causal mask hides it."""
    device = model.cos.device
    eos = tok.added[bpe.EOS]
    # The generation prompt opens the reasoning, as the chat template's does.
    seqs = [tok.encode(f"{train.prompt_for(q)}{bpe.THINK}\n") for q in questions]
    start = [len(s) for s in seqs]
    live = list(range(len(seqs)))
    for _ in range(max_new):
        if not live:
            break
        x = torch.zeros(len(live), max(len(seqs[i]) for i in live), dtype=torch.long)
        for row, i in enumerate(live):
            x[row, :len(seqs[i])] = torch.tensor(seqs[i])
        x = x.to(device)
        last = torch.tensor([len(seqs[i]) - 1 for i in live], device=device)
        nxt = model(x, torch.ones_like(x, dtype=torch.bool))[torch.arange(len(live), device=device), last]
        for i, t in zip(live, nxt.argmax(-1).tolist()):
            seqs[i].append(t)
        live = [i for i in live if seqs[i][-1] != eos and len(seqs[i]) < model.c["max_position_embeddings"]]
    return [tok.decode(s[n:]) for s, n in zip(seqs, start)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", nargs="+")
    ap.add_argument("--per-family", type=int, default=50)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--max-new", type=int, default=800, help="tokens written at most per answer")
    args = ap.parse_args()
    for folder in args.folders:
        t0 = time.time()
        model, tok = verify.load_folder(folder)
        model.to(args.device)
        rng = random.Random(args.seed)
        solved = {}
        for family in tasks.TASKS:
            problems = [tasks.sample(rng, "heldout", family) for _ in range(args.per_family)]
            answers = greedy(model, tok, [p["question"] for p in problems], args.max_new)
            solved[family] = sum(last_boxed(a) == p["answer"] for a, p in zip(answers, problems))
        total = sum(solved.values()) / (len(solved) * args.per_family)
        print(f"{folder}: {100 * total:.1f}% greedy, " + ", ".join(f"{f} {n}" for f, n in solved.items()) +
              f" of {args.per_family} each ({time.time() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
