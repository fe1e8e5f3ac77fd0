"""`r1 plan --calibrate` end to end on the bundled model: it benchmarks, writes the fitted CPU factors to the
config directory (or --save), and later plans for this machine use them unless --efficiency says otherwise."""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import e2e

r1 = sys.argv[1]
model = str(e2e.SOURCE / "models" / "r1-mini-qwen2-F16.gguf")

with tempfile.TemporaryDirectory() as tmp:
    env = dict(os.environ, XDG_CONFIG_HOME=tmp)
    run = subprocess.run([r1, "plan", "--calibrate", "-m", model, "-t", "2"], capture_output=True, text=True, env=env)
    e2e.check(run.returncode == 0, f"calibrate failed: {run.stderr}")
    saved = Path(tmp) / "r1" / "efficiency.json"
    e2e.check(saved.is_file(), "no efficiency.json in the config directory")
    if saved.is_file():
        cpu = json.loads(saved.read_text())["cpu"]
        for key in ("decode_bw", "decode_bw_moe", "flops"):
            e2e.check(0.01 <= cpu[key] <= 1.0, f"{key} {cpu[key]} out of range")
        e2e.check(cpu["source"].startswith("calibrated "), f"source {cpu['source']!r}")
        e2e.check("fitted CPU factors" in run.stdout and "saved to" in run.stdout, f"output: {run.stdout}")

        # Plans for this machine pick the calibration up; --efficiency overrides it.
        plan_args = [r1, "plan", "--hardware", "this", "--bandwidth", "20", "-m", "deepseek-r1:7b", "-q", "Q4_K_M",
                     "--json"]
        planned = subprocess.run(plan_args, capture_output=True, text=True, env=env)
        e2e.check(planned.returncode == 0, f"plan failed: {planned.stderr}")
        if planned.returncode == 0:
            used = json.loads(planned.stdout)["efficiency"]["cpu"]
            e2e.check(abs(used["decode_bw"] - cpu["decode_bw"]) < 1e-9, f"plan used {used}, saved {cpu}")
        other = Path(tmp) / "other.json"
        other.write_text(json.dumps({"cpu": {"decode_bw": 0.33}}))
        planned = subprocess.run(plan_args + ["--efficiency", str(other)], capture_output=True, text=True, env=env)
        e2e.check(planned.returncode == 0 and json.loads(planned.stdout)["efficiency"]["cpu"]["decode_bw"] == 0.33,
                  "--efficiency did not override the calibration")

    # A catalog name is not a file to benchmark: a clear error, nothing written.
    bad = subprocess.run([r1, "plan", "--calibrate", "-m", "deepseek-r1:7b", "--save", str(Path(tmp) / "x.json")],
                         capture_output=True, text=True, env=env)
    e2e.check(bad.returncode == 1 and "GGUF file" in bad.stderr, f"catalog name: {bad.returncode} {bad.stderr}")
    e2e.check(not (Path(tmp) / "x.json").exists(), "a failed calibration wrote a file")

sys.exit(e2e.finish("cli_plan_calibrate"))
