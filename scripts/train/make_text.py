#!/usr/bin/python3
"""Writes problems with their reasoning traces as plain text, for perplexity and importance matrices:

    scripts/train/make_text.py --out FILE [--split heldout|train] [--per-family 8] [--seed 2027]

Each problem is its question line, the working one step per line, then the final line with \\boxed{}, and a
blank line. tests/data/perplexity/arith.txt is `--split heldout --seed 2027` (the default); calibration text for
`r1 imatrix` that shares no operand with it comes from `--split train`. Standard library only.
"""

import argparse
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tasks  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--split", choices=["heldout", "train"], default="heldout")
    ap.add_argument("--per-family", type=int, default=8)
    ap.add_argument("--seed", type=int, default=2027)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    blocks = []
    for family in tasks.TASKS:
        for _ in range(args.per_family):
            s = tasks.sample(rng, args.split, family)
            blocks.append(f"{s['question']}\n{s['reasoning']}\n{s['final']}\n")
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(blocks))
    os.replace(tmp, args.out)
    print(f"{args.out}: {len(blocks)} problems")


if __name__ == "__main__":
    main()
