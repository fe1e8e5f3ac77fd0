"""What the end-to-end scripts in tests/cli share: the source tree, the fixtures folder, collected failures and
the summary line whose count sets the exit status (CTest reads 0 pass, 1 fail, 77 skipped)."""
import os
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


def fixtures_dir():
    """../shared/fixtures beside the checkout, or where R1_FIXTURES points; None when absent."""
    env = os.environ.get("R1_FIXTURES")
    path = Path(env) if env else SOURCE.parent / "shared" / "fixtures"
    return path if path.is_dir() else None


def finish(name):
    for f in failures:
        print("FAIL:", f)
    print(f"{name}: {len(failures)} failures")
    return 1 if failures else 0
