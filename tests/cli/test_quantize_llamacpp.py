#!/usr/bin/env python3
"""`r1 quantize` writes what llama.cpp's llama-quantize writes, byte for byte: for the fixture models, each mix
(with and without an importance matrix) is quantized by r1 and its sha256 compared with the hash of llama.cpp's
file in tests/data/quantize/llamacpp_sha256.txt (scripts/quantize_llamacpp_hashes.sh remakes that table).
Usage: test_quantize_llamacpp.py R1_BINARY [--all]. Without --all, each mix runs on one model (the models taken
in turn, so every model and every mix is covered); --all runs the whole table (~90 s on 2 cores).
Exit 77 (skipped) when the fixtures are absent."""
import gzip
import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from e2e import SOURCE, check, finish, fixtures_dir  # noqa: E402

R1 = str(Path(sys.argv[1]).resolve())
ALL = "--all" in sys.argv[2:]
DATA = SOURCE / "tests" / "data" / "quantize"


def table():
    rows = []
    for line in (DATA / "llamacpp_sha256.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            model, mix, imatrix, digest = line.split()
            rows.append((model, mix, imatrix == "imatrix", digest))
    return rows


def subset(rows):
    """Each (mix, imatrix) once, on the models in turn."""
    models = sorted({r[0] for r in rows})
    seen, out = {}, []
    for r in rows:
        key = (r[1], r[2])
        if key in seen:
            continue
        seen[key] = len(seen)
        want = models[seen[key] % len(models)]
        out.append(next(x for x in rows if x[0] == want and (x[1], x[2]) == key))
    return out


def main():
    fixtures = fixtures_dir()
    if fixtures is None:
        print("skipped: shared fixtures not found")
        return 77
    rows = table()
    check(len(rows) >= 140, f"hash table has {len(rows)} rows")
    if not ALL:
        rows = subset(rows)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        inputs = {}
        for model, mix, imatrix, digest in rows:
            if model not in inputs:
                inputs[model] = tmp / f"{model}.f32.gguf"
                with gzip.open(fixtures / "models" / f"{model}.f32.gguf.gz") as src, open(inputs[model], "wb") as dst:
                    shutil.copyfileobj(src, dst)
            out = tmp / "out.gguf"
            # The imatrix goes by the relative name llama-quantize was given: both record it in the file.
            args = [R1, "quantize", str(inputs[model]), str(out), mix, "-t", "2"]
            if imatrix:
                args[2:2] = ["--imatrix", f"im-{model}.gguf"]
            run = subprocess.run(args, cwd=DATA, capture_output=True, text=True, timeout=300)
            what = f"{model} {mix}{' --imatrix' if imatrix else ''}"
            if run.returncode != 0:
                check(False, f"{what}: exit {run.returncode}: {run.stderr.strip()[-300:]}")
                continue
            got = hashlib.sha256(out.read_bytes()).hexdigest()
            check(got == digest, f"{what}: sha256 {got} differs from llama-quantize's {digest}")
        print(f"compared {len(rows)} files with llama-quantize's")
    return finish("quantize_llamacpp")


if __name__ == "__main__":
    sys.exit(main())
