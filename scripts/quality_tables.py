#!/usr/bin/python3
"""Remakes the bundled models' tables in docs/QUANTIZATION.md: Pass@1 and KL divergence under quantization.

    scripts/quality_tables.py types FOLDER [--work DIR]
        one row per `r1 convert --outtype T` of a training folder (every matrix at T): file size and Pass@1 per
        family on all 500 held-out problems, greedy
    scripts/quality_tables.py mixes MODEL.gguf [--work DIR] [--mixes Q8_0,...] [--recipes r1-1.58bit,...]
                              [--per-family N]
        one row per llama.cpp mix and R1 recipe (`r1 quantize`): size, perplexity and KL divergence against F16 on
        tests/data/perplexity/arith.txt (-c 256), Pass@1 on the first N (default 10) held-out problems of each family;
        the i-quants and recipes with an importance matrix made from training-split problems

Prints markdown rows in the tables' column order, one as each finishes. Needs a build of r1 (build/bin/r1).
Everything it makes goes under --work (default: build/quality); nothing under models/ or docs/ is touched.
"""

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
R1 = os.path.join(ROOT, "build", "bin", "r1")
HELDOUT = os.path.join(ROOT, "models", "eval", "heldout.jsonl")
ARITH = os.path.join(ROOT, "tests", "data", "perplexity", "arith.txt")
FAMILIES = ["add", "sub", "mul", "convert", "word"]
TYPES = ["f16", "q8_0", "q6_k", "q4_k", "q3_k", "q2_k"]
MIXES = ["F16", "Q8_0", "Q6_K", "Q4_K_M", "IQ4_XS", "Q3_K_M", "Q2_K", "IQ2_XXS", "IQ1_S"]
RECIPES = ["r1-2.51bit", "r1-2.22bit", "r1-1.73bit", "r1-1.58bit"]
NEEDS_IMATRIX = {"IQ2_XXS", "IQ1_S", "IQ1_M"}  # llama.cpp refuses these without one


def r1(*args):
    return subprocess.run([R1, *args], check=True, capture_output=True, text=True).stdout


def mib(path):
    return os.path.getsize(path) / (1 << 20)


def families(dataset):
    with open(dataset) as f:
        return [json.loads(line)["family"] for line in f if line.strip()]


def eval_by_family(model, dataset):
    """{family: (right, asked)} from `r1 eval --json`, items in the dataset's order."""
    out = json.loads(r1("eval", "-m", model, "--dataset", dataset, "--temp", "0", "-c", "2048", "--json"))
    tally = {}
    for fam, item in zip(families(dataset), out["items"]):
        right, asked = tally.get(fam, (0, 0))
        tally[fam] = (right + bool(item["correct"]), asked + 1)
    return tally, out["pass@1"]


def pass_cell(tally, pass1):
    """Pass@1 with the count it comes from: '96% (48/50)'."""
    right = sum(r for r, _ in tally.values())
    asked = sum(a for _, a in tally.values())
    return f"{100 * pass1:.0f}% ({right}/{asked})"


def types_table(folder, work):
    print("| type | file | add | sub | mul | convert | word | Pass@1 |")
    print("| --- | ---: | --- | --- | --- | --- | --- | ---: |")
    for t in TYPES:
        gguf = os.path.join(work, f"type-{t}.gguf")
        r1("convert", folder, gguf, "--outtype", t)
        tally, pass1 = eval_by_family(gguf, HELDOUT)
        cells = " | ".join(f"{tally[f][0]}/{tally[f][1]}" for f in FAMILIES)
        print(f"| {t.upper()} | {mib(gguf):.1f} MiB | {cells} | {100 * pass1:.1f}% |", flush=True)


def first_per_family(work, n):
    path = os.path.join(work, f"first{n}.jsonl")
    seen = {}
    with open(HELDOUT) as f, open(path, "w") as out:
        for line in f:
            fam = json.loads(line)["family"]
            seen[fam] = seen.get(fam, 0) + 1
            if seen[fam] <= n:
                out.write(line)
    return path


def mixes_table(model, work, mixes, recipes, per_family):
    base = os.path.join(work, "base.kl")
    r1("perplexity", "-m", model, "-f", ARITH, "-c", "256", "--save-logits", base)
    subset = first_per_family(work, per_family)
    calib = os.path.join(work, "calib.txt")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "train", "make_heldout.py"), "--text",
                    "--split", "train", "--seed", "31", "--out", calib], check=True, capture_output=True)
    im = os.path.join(work, "im.gguf")
    r1("imatrix", "-m", model, "-f", calib, "-c", "256", "-o", im)
    print("| file | size | PPL | mean KLD | KLD 99% | same top | RMS Δp | Pass@1 |")
    print("| --- | ---: | --- | --- | ---: | --- | ---: | ---: |")
    runs = [(m, ["--imatrix", im] if m in NEEDS_IMATRIX else [], m + (", im" if m in NEEDS_IMATRIX else ""))
            for m in mixes]
    runs += [(r, ["--recipe", r, "--imatrix", im], f"`{r}`, im") for r in recipes]
    for what, flags, label in runs:
        if what == "F16":  # the reference itself: its perplexity and Pass@1, nothing to compare
            s = json.loads(r1("perplexity", "-m", model, "-f", ARITH, "-c", "256", "--json"))
            print(f"| F16 | {mib(model):.2f} MiB | {s['ppl']:.4f} ± {s['ppl_err']:.4f} | | | | | "
                  f"{pass_cell(*eval_by_family(model, subset))} |", flush=True)
            continue
        q = os.path.join(work, f"mix-{label.replace('`', '').replace(', ', '-')}.gguf")
        if flags and flags[0] == "--recipe":
            r1("quantize", model, q, *flags)
        else:
            r1("quantize", model, q, what, *flags)
        s = json.loads(r1("perplexity", "-m", q, "-f", ARITH, "-c", "256", "--kld-base", base, "--json"))
        print(f"| {label} | {mib(q):.2f} MiB | {s['ppl']:.4f} ± {s['ppl_err']:.4f} | "
              f"{s['kld']:.6f} ± {s['kld_err']:.6f} | {s['kld_percentiles']['99%']:.5f} | "
              f"{100 * s['same_top']:.2f} ± {100 * s['same_top_err']:.2f} % | {100 * s['dp_rms']:.2f} % | "
              f"{pass_cell(*eval_by_family(q, subset))} |", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["types", "mixes"])
    ap.add_argument("source", help="a training folder (types) or an F16 GGUF (mixes)")
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "quality"))
    ap.add_argument("--mixes", default=",".join(MIXES))
    ap.add_argument("--recipes", default=",".join(RECIPES))
    ap.add_argument("--per-family", type=int, default=10, help="mixes: held-out problems per family for Pass@1")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    try:
        if args.what == "types":
            types_table(args.source, args.work)
        else:
            mixes_table(args.source, args.work, [m for m in args.mixes.split(",") if m],
                        [r for r in args.recipes.split(",") if r], args.per_family)
    except subprocess.CalledProcessError as e:
        sys.exit(f"quality_tables.py: {' '.join(e.cmd)} failed:\n{e.stderr}")


if __name__ == "__main__":
    main()
