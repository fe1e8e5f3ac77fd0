#!/usr/bin/env python3
"""End-to-end tests of `r1 run`, `r1 logits` and `r1 tokenize` on the fixture models, driven as a user would.
Usage: test_run.py R1_BINARY. Exit 77 (skipped) when the fixtures are absent."""
import struct
import subprocess
import sys
import tempfile
from pathlib import Path
from e2e import check, finish, fixtures_dir  # noqa: E402

R1 = sys.argv[1]


def run(args, stdin=None):
    return subprocess.run([R1] + args, input=stdin, capture_output=True, text=True, timeout=120)


def main():
    fixtures = fixtures_dir()
    if fixtures is None:
        print("skipped: shared fixtures not found")
        return 77
    models = fixtures / "models"
    for name in ("tiny-qwen2-a-s1.Q8_0.gguf", "tiny-qwen2-a-s1.Q4_K_M.gguf", "tiny-llama-a-s1.Q8_0.gguf",
                 "tiny-llama-a-s1.Q4_K_M.gguf", "tiny-deepseek2-legacy-a-s1.Q8_0.gguf",
                 "tiny-deepseek2-legacy-a-s1.Q4_K_M.gguf"):
        out = run(["run", str(models / name), "What is 2+2?", "-n", "12", "--temp", "0", "-c", "256", "-v"])
        check(out.returncode == 0, f"run {name}: exit {out.returncode}: {out.stderr}")
        check("Thinking..." in out.stdout, f"run {name}: reasoning not shown apart: {out.stdout!r}")
        check("generation 12 tokens" in out.stderr, f"run {name}: no stats with -v: {out.stderr!r}")
        hidden = run(["run", str(models / name), "Hi", "-n", "6", "--think", "hide", "-c", "128"])
        check(hidden.returncode == 0 and "Thinking" not in hidden.stdout, f"run {name} --think hide")
        raw = run(["run", str(models / name), "Hi", "-n", "6", "--think", "raw", "-c", "128"])
        check(raw.stdout.startswith("<think>"), f"run {name} --think raw: {raw.stdout!r}")

    # -v reports the KV cache per token: the MLA latent for deepseek2 (3 layers x (128 + 16) x 2 bytes).
    ds = run(["run", str(models / "tiny-deepseek2-legacy-a-s1.Q8_0.gguf"), "Hi", "-n", "2", "-c", "128", "-v"])
    check("KV cache 864 bytes per token (MLA latent 128 + rope 16 values (F16) x 3 layers)" in ds.stderr,
          f"run -v KV bytes: {ds.stderr!r}")

    # --fit: the planner's placement and predicted speed, printed before loading; --fit off prints none.
    q8 = str(models / "tiny-qwen2-a-s1.Q8_0.gguf")
    fit = run(["run", q8, "Hi", "-n", "2", "-c", "256", "--fit"])
    check(fit.returncode == 0, f"run --fit: exit {fit.returncode}: {fit.stderr}")
    check("r1: fit: tiny-qwen2-a-s1.Q8_0.gguf (Q8_0) on " in fit.stderr, f"run --fit placement: {fit.stderr!r}")
    check("KV cache" in fit.stderr and "(256 tokens, F16)" in fit.stderr, f"run --fit memory: {fit.stderr!r}")
    check("predicted prompt" in fit.stderr and "read bandwidth" in fit.stderr, f"run --fit speed: {fit.stderr!r}")
    off = run(["run", q8, "Hi", "-n", "2", "-c", "256", "--fit", "off"])
    check(off.returncode == 0 and "r1: fit:" not in off.stderr, f"run --fit off: {off.stderr!r}")
    bad = run(["run", q8, "Hi", "--fit", "maybe"])
    check(bad.returncode != 0 and "--fit" in bad.stderr, f"run --fit maybe: {bad.stderr!r}")

    # --kernels picks the CPU kernels (-v names them), as r1 bench does; the reference answers the same.
    want = run(["run", q8, "Hi", "-n", "4", "-c", "128", "--temp", "0"])
    for kernels in ("scalar", "reference"):
        got = run(["run", q8, "Hi", "-n", "4", "-c", "128", "--temp", "0", "-v", "--kernels", kernels])
        check(got.returncode == 0 and f"kernels: {kernels}" in got.stderr, f"run --kernels {kernels}: {got.stderr!r}")
        check(got.stdout == want.stdout, f"run --kernels {kernels}: {got.stdout!r} against {want.stdout!r}")
    bad = run(["run", q8, "Hi", "--kernels", "sse2"])
    check(bad.returncode != 0 and "--kernels" in bad.stderr, f"run --kernels sse2: {bad.stderr!r}")

    # Interactive chat without a terminal: messages from stdin, multi-line input, /clear, /bye.
    chat = run(["run", str(models / "tiny-qwen2-a-s1.Q8_0.gguf"), "-n", "4", "-c", "256", "-v"],
               stdin='hello\n"""\nline one\nline two\n"""\n/clear\nagain\n/bye\nnever read\n')
    check(chat.returncode == 0, f"chat exit {chat.returncode}: {chat.stderr}")
    check(chat.stderr.count("generation 4 tokens") == 3, f"chat turns: {chat.stderr!r}")
    check("cached" in chat.stderr and "conversation cleared" in chat.stderr, f"chat: {chat.stderr!r}")

    # Same seed, same text.
    a = run(["run", str(models / "tiny-llama-a-s1.Q8_0.gguf"), "Tell me", "-n", "16", "-s", "7", "-c", "128"])
    b = run(["run", str(models / "tiny-llama-a-s1.Q8_0.gguf"), "Tell me", "-n", "16", "-s", "7", "-c", "128"])
    check(a.stdout == b.stdout and a.stdout, "same seed gave different text")

    # Errors: one line, exit 1.
    for args, fragment in ((["run", "/nonexistent.gguf", "hi"], "cannot open"),
                           (["run", str(models / "tiny-qwen2-a-s1.Q8_0.gguf"), "hi", "-ctk", "q4_0"], "q4_0"),
                           (["logits", "-m", str(models / "tiny-qwen2-a-s1.Q8_0.gguf"), "--tokens", "1,x"],
                            "not a token id")):
        out = run(args)
        lines = out.stderr.strip().splitlines()
        check(out.returncode != 0 and len(lines) >= 1 and fragment in out.stderr, f"{args}: {out.stderr!r}")

    # r1 logits: raw float32 [n_tokens, n_vocab].
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "logits.f32"
        out = run(["logits", "-m", str(models / "tiny-qwen2-a-s1.Q8_0.gguf"), "--tokens", "2003,785,922",
                   "--out", str(path)])
        check(out.returncode == 0 and path.stat().st_size == 3 * 2048 * 4, f"logits --out: {out.stderr}")
        if path.exists():
            values = struct.unpack("<4f", path.read_bytes()[:16])
            check(all(v == v for v in values), "logits are NaN")
    text = run(["logits", "-m", str(models / "tiny-qwen2-a-s1.Q8_0.gguf"), "--prompt", "Hello world"])
    check(text.returncode == 0 and "argmax" in text.stdout, f"logits --prompt: {text.stderr}")

    return finish("run e2e")


if __name__ == "__main__":
    sys.exit(main())
