#!/usr/bin/env python3
"""End-to-end tests of the bundled model (models/), which every fresh clone has: `r1 run` answers with its
reasoning shown apart, `r1 eval` scores held-out problems, and the held-out set is what its seeded generator
writes. Usage: test_bundled.py R1_BINARY."""
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from e2e import SOURCE, check, finish  # noqa: E402

R1 = sys.argv[1]
MODEL = SOURCE / "models" / "r1-mini-qwen2-F16.gguf"
MODEL_DEEPSEEK2 = SOURCE / "models" / "r1-mini-deepseek2-F16.gguf"
HELDOUT = SOURCE / "models" / "eval" / "heldout.jsonl"
# The bundled model's greedy Pass@1 on the 30 problems below was 0.967 (29 of 30) when it was committed
# (models/README.md; 0.976 on all 500); a broken tokenizer, template, converter or forward pass gives 0, and a
# kernel that rounds differently from the one it was checked with costs a few. Raise this with each better model.
MIN_PASS1 = 0.85
# The deepseek2 (MLA + MoE) model's was 1.00 (30 of 30) when it was committed (0.956 on all 500).
MIN_PASS1_DEEPSEEK2 = 0.8


def run(args):
    return subprocess.run([R1] + args, capture_output=True, text=True, timeout=600)


def main():
    # The held-out set is exactly what scripts/train/make_heldout.py writes (standard library only).
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "heldout.jsonl"
        subprocess.run([sys.executable, str(SOURCE / "scripts" / "train" / "make_heldout.py"), "--out", str(out)],
                       check=True, capture_output=True)
        check(out.read_bytes() == HELDOUT.read_bytes(), "models/eval/heldout.jsonl differs from its generator's output")
    lines = [json.loads(l) for l in HELDOUT.read_text().splitlines() if l.strip()]
    check(len(lines) >= 500, f"held-out set has {len(lines)} problems")

    # One answer, streamed: the reasoning apart from the answer, a boxed result that is right.
    got = run(["run", str(MODEL), "What is 4821 + 3907?", "--temp", "0"])
    check(got.returncode == 0, f"run: exit {got.returncode}: {got.stderr}")
    check("Thinking..." in got.stdout and "...done thinking." in got.stdout, f"run: no reasoning shown: {got.stdout!r}")
    answer = got.stdout.split("...done thinking.")[-1]
    check("\\boxed{8728}" in answer, f"run: wrong or missing answer: {got.stdout!r}")

    # The deepseek2 model (R1's architecture in miniature) answers the same question the same way.
    got = run(["run", str(MODEL_DEEPSEEK2), "What is 4821 + 3907?", "--temp", "0"])
    check(got.returncode == 0 and "...done thinking." in got.stdout and "\\boxed{8728}" in got.stdout.split("...done thinking.")[-1],
          f"run deepseek2: {got.returncode} {got.stdout!r} {got.stderr!r}")

    # Accuracy on the first held-out problems of every family, greedy: trained models, not random ones.
    picked = []
    for family in ("add", "sub", "mul", "convert", "word"):
        picked += [l for l in lines if l["family"] == family][:6]
    with tempfile.TemporaryDirectory() as tmp:
        subset = Path(tmp) / "subset.jsonl"
        subset.write_text("".join(json.dumps(l) + "\n" for l in picked))
        for model, least in ((MODEL, MIN_PASS1), (MODEL_DEEPSEEK2, MIN_PASS1_DEEPSEEK2)):
            ev = run(["eval", "-m", str(model), "--dataset", str(subset), "--temp", "0", "--json"])
            check(ev.returncode == 0, f"eval {model.name}: exit {ev.returncode}: {ev.stderr}")
            if ev.returncode == 0:
                result = json.loads(ev.stdout)
                check(result["n"] == len(picked) and len(result["items"]) == len(picked), f"eval: counts {result}")
                check(result["pass@1"] >= least,
                      f"eval {model.name}: pass@1 {result['pass@1']} on {len(picked)} held-out problems")
                print(f"{model.name}: pass@1 {result['pass@1']:.3f} on {len(picked)} held-out problems")
        text = run(["eval", "-m", str(MODEL), "--dataset", str(subset), "--temp", "0", "--limit", "3"])
        check(re.match(r"pass@1 \d+\.\d\d% \(\d+ of 3 samples right", text.stdout) is not None,
              f"eval: summary line {text.stdout!r}")
        bad = Path(tmp) / "bad.jsonl"
        bad.write_text('{"problem": "x", "answer": "1"}\n{"problem": 1}\n')
        err = run(["eval", "-m", str(MODEL), "--dataset", str(bad)])
        check(err.returncode == 1 and "line 2" in err.stderr, f"eval: bad dataset: {err.returncode} {err.stderr!r}")

    # r1 bench takes several -m, as llama-bench does: one JSON array with every model's tests, in order.
    bench = run(["bench", "-m", str(MODEL), "-m", str(MODEL_DEEPSEEK2), "-p", "16", "-n", "4", "-r", "1",
                 "--no-bandwidth", "--json"])
    check(bench.returncode == 0, f"bench two models: exit {bench.returncode}: {bench.stderr}")
    if bench.returncode == 0:
        tests = json.loads(bench.stdout)
        kinds = [(t["model_type"].split()[0], t["n_prompt"], t["n_gen"]) for t in tests]
        check(kinds == [("qwen2", 16, 0), ("qwen2", 0, 4), ("deepseek2", 16, 0), ("deepseek2", 0, 4)],
              f"bench two models: {kinds}")

    # The KV cache types, as llama-bench's -ctk/-ctv (and its type_k/type_v fields); the latent cache of the
    # deepseek2 model too.
    for model in (MODEL, MODEL_DEEPSEEK2):
        q8 = run(["bench", "-m", str(model), "-p", "16", "-n", "4", "-r", "1", "-d", "40", "-ctk", "q8_0",
                  "-ctv", "q8_0", "--no-bandwidth", "--json"])
        check(q8.returncode == 0, f"bench -ctk q8_0 {model.name}: exit {q8.returncode}: {q8.stderr}")
        if q8.returncode == 0:
            types = {(t["type_k"], t["type_v"]) for t in json.loads(q8.stdout)}
            check(types == {("q8_0", "q8_0")}, f"bench -ctk q8_0 {model.name}: {types}")
    bad_cache = run(["bench", "-m", str(MODEL), "-ctk", "q4_0", "--no-bandwidth"])
    check(bad_cache.returncode != 0, f"bench -ctk q4_0: exit {bad_cache.returncode}")

    return finish("bundled model e2e")


if __name__ == "__main__":
    sys.exit(main())
