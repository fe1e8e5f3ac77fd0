#!/usr/bin/python3
"""Writes the held-out problem set of the bundled models (models/eval/heldout.jsonl), or problems with their
reasoning traces as plain text for perplexity and importance matrices:

    scripts/train/make_heldout.py [--out models/eval/heldout.jsonl] [--per-family 100] [--seed 2026]
    scripts/train/make_heldout.py --text --out FILE [--per-family 8] [--seed 2027] [--split heldout|train]

Seeded and generated, not hand-picked: per-family problems of each task family (addition, subtraction,
multiplication, unit conversion, two-step word problems), every operand drawn from the held-out half of
tasks.held_out(), which training never draws from (or, with --split train, from the training half). JSONL:
one object per line with problem, answer, family. --text: per problem its question line, the working one step
per line, the final line with \\boxed{}, and a blank line; tests/data/perplexity/arith.txt is
`--text --per-family 8 --seed 2027`, and `--split train` gives calibration text that shares no operand with it.
Needs only Python's standard library (no PyTorch).
"""

import argparse
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tasks  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="models/eval/heldout.jsonl")
    ap.add_argument("--per-family", type=int, default=None, help="default: 100 (JSONL), 8 (--text)")
    ap.add_argument("--seed", type=int, default=None, help="default: 2026 (JSONL), 2027 (--text)")
    ap.add_argument("--split", choices=["heldout", "train"], default="heldout")
    ap.add_argument("--text", action="store_true", help="problems with their traces as plain text")
    args = ap.parse_args()
    per_family = args.per_family if args.per_family is not None else (8 if args.text else 100)
    rng = random.Random(args.seed if args.seed is not None else (2027 if args.text else 2026))
    items = []
    for family in tasks.TASKS:
        for _ in range(per_family):
            s = tasks.sample(rng, args.split, family)
            if args.text:
                items.append(f"{s['question']}\n{s['reasoning']}\n{s['final']}\n")
            else:
                items.append(json.dumps({"problem": s["question"], "answer": s["answer"], "family": family},
                                        ensure_ascii=False) + "\n")
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(items) if args.text else "".join(items))
    os.replace(tmp, args.out)
    print(f"{args.out}: {len(items)} problems")


if __name__ == "__main__":
    main()
