#!/usr/bin/env python3
"""End-to-end test of `r1 inspect`: every GGUF in the shared fixtures inspects exactly as an independent parser
reads it (names, types, shapes, offsets, metadata), and malformed files give exit status 1 with one line on
stderr. Usage: test_inspect.py R1_BINARY. Exit 77 (skipped) when the fixtures are absent."""
import gzip
import json
import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import gguf_oracle  # noqa: E402
from e2e import check, finish, fixtures_dir  # noqa: E402

R1 = sys.argv[1]


def same_value(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-6) or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    return a == b


def inspect_matches_oracle(path):
    out = subprocess.run([R1, "inspect", "--json", str(path)], capture_output=True, text=True)
    check(out.returncode == 0, f"{path.name}: exit {out.returncode}: {out.stderr.strip()}")
    if out.returncode != 0:
        return
    got = json.loads(out.stdout)
    want = gguf_oracle.parse(path)
    check(got["version"] == want["version"], f"{path.name}: version")
    check(got["parts"][0]["data_offset"] == want["data_offset"], f"{path.name}: data offset")
    check(got["tensors"] == want["tensors"], f"{path.name}: tensor list differs")
    check(list(got["metadata"].keys()) == list(want["metadata"].keys()), f"{path.name}: metadata keys differ")
    for key, value in want["metadata"].items():
        check(same_value(got["metadata"].get(key), value), f"{path.name}: metadata {key} differs")
    summary = got["summary"]
    check(summary["parameters"] == sum(math.prod(t["shape"]) for t in want["tensors"]), f"{path.name}: parameters")
    check(summary["tokenizer"].get("vocab_size", 0) == len(want["metadata"].get("tokenizer.ggml.tokens", [])),
          f"{path.name}: vocab size")
    # The text summary must also work.
    text = subprocess.run([R1, "inspect", "--tensors", str(path)], capture_output=True, text=True)
    check(text.returncode == 0 and want["tensors"][0]["name"] in text.stdout, f"{path.name}: text inspect")


def expect_clean_failure(path, fragment):
    out = subprocess.run([R1, "inspect", str(path)], capture_output=True, text=True)
    lines = out.stderr.strip().splitlines()
    check(out.returncode == 1, f"{path.name}: exit status {out.returncode}, expected 1")
    check(len(lines) == 1 and lines[0].startswith("r1: error: "), f"{path.name}: stderr was {out.stderr!r}")
    check(fragment in out.stderr, f"{path.name}: stderr lacks {fragment!r}: {out.stderr!r}")


def main():
    fixtures = fixtures_dir()
    if fixtures is None:
        print("skipped: shared fixtures not found (set R1_FIXTURES or place ../shared/fixtures)")
        return 77
    tmp = Path(tempfile.mkdtemp(prefix="r1-inspect-"))
    try:
        files = sorted(fixtures.rglob("*.gguf"))
        for gz in sorted((fixtures / "models").glob("*.gguf.gz")):
            out = tmp / gz.name[:-3]
            with gzip.open(gz, "rb") as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst)
            files.append(out)
        check(len(files) >= 10, f"found only {len(files)} fixture GGUF files")
        for f in files:
            inspect_matches_oracle(f)

        # Known facts from the fixtures README: llama.cpp's Q4_K_M fallbacks in the deepseek2 model.
        got = json.loads(subprocess.run([R1, "inspect", "--json", str(fixtures / "models" /
                                         "tiny-deepseek2-legacy-a-s1.Q4_K_M.gguf")],
                                        capture_output=True, text=True).stdout)
        types = {t["name"]: t["type"] for t in got["tensors"]}
        check(types["blk.0.attn_q_b.weight"] == "Q5_0", "attn_q_b should be Q5_0")
        check(types["blk.0.attn_output.weight"] == "Q5_1", "attn_output should be Q5_1")
        check(types["blk.0.attn_kv_b.weight"] == "Q8_0", "attn_kv_b should be Q8_0")
        check(types["output.weight"] == "Q6_K", "output should be Q6_K")
        check(got["summary"]["file_type"]["name"] == "Q4_K_M", "file type name")

        meta = subprocess.run([R1, "inspect", "--meta", "tokenizer.ggml.pre", str(fixtures / "models" /
                               "tiny-qwen2-a-s1.Q8_0.gguf")], capture_output=True, text=True)
        check(meta.stdout == "deepseek-r1-qwen\n", f"--meta printed {meta.stdout!r}")

        # Malformed files: exit 1, one line, no crash.
        good = (fixtures / "models" / "tiny-qwen2-a-s1.Q8_0.gguf").read_bytes()
        for cut in (0, 3, 10, 24, 100, 5000, len(good) // 2, len(good) - 64):
            p = tmp / f"cut-{cut}.gguf"
            p.write_bytes(good[:cut])
            expect_clean_failure(p, "")
        (tmp / "text.gguf").write_bytes(b"hello, this is not a model\n")
        expect_clean_failure(tmp / "text.gguf", "not a GGUF file")
        expect_clean_failure(tmp / "missing.gguf", "cannot open")
        # A tensor type id that only ik_llama.cpp writes: patch the first tensor's type field.
        want = gguf_oracle.parse(fixtures / "models" / "tiny-qwen2-a-s1.Q8_0.gguf")
        first = want["tensors"][0]
        name = first["name"].encode()
        at = good.index(len(name).to_bytes(8, "little") + name) + 8 + len(name)
        n_dims = int.from_bytes(good[at:at + 4], "little")
        type_at = at + 4 + 8 * n_dims
        patched = bytearray(good)
        patched[type_at:type_at + 4] = (139).to_bytes(4, "little")
        (tmp / "ik.gguf").write_bytes(bytes(patched))
        expect_clean_failure(tmp / "ik.gguf", "IQ4_K, a type only the ik_llama.cpp fork defines")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return finish("inspect e2e")


if __name__ == "__main__":
    sys.exit(main())
