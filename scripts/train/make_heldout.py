#!/usr/bin/python3
"""Writes the held-out problem set of the bundled models: models/eval/heldout.jsonl.

    scripts/train/make_heldout.py [--out models/eval/heldout.jsonl] [--per-family 100] [--seed 2026]

Seeded and generated, not hand-picked: 100 problems of each task family (addition, subtraction,
multiplication, unit conversion, two-step word problems), every operand drawn from the held-out half of
tasks.held_out(), which training never draws from. One JSON object per line: problem, answer, family.
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
    ap.add_argument("--per-family", type=int, default=100)
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    lines = []
    for family in tasks.TASKS:
        for _ in range(args.per_family):
            s = tasks.sample(rng, "heldout", family)
            lines.append(json.dumps({"problem": s["question"], "answer": s["answer"], "family": family},
                                    ensure_ascii=False))
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, args.out)
    print(f"{args.out}: {len(lines)} problems")


if __name__ == "__main__":
    main()
