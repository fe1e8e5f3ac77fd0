#!/usr/bin/env python3
"""End-to-end test of `r1 template`: the prompt it prints for the fixture models' chat templates equals what
Python's jinja2 renders (scripts/text_jinja_oracle.py) with the same variables, byte for byte.
Usage: test_template.py R1_BINARY. Exit 77 (skipped) when the fixtures or python3-jinja2 are absent."""
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from e2e import SOURCE, check, finish, fixtures_dir  # noqa: E402

R1 = sys.argv[1]
ORACLE = SOURCE / "scripts" / "text_jinja_oracle.py"
BOS, EOS = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"

CONVERSATIONS = {
    "single": [{"role": "user", "content": "What is 4821 + 3907?"}],
    "system_multi": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "<think>\nGreet back.\n</think>\n\nHello!"},
        {"role": "user", "content": "Ünïcödé 中文 🙂 \"quotes\"\n  and\ttabs"},
    ],
}


def r1(args):
    return subprocess.run([R1] + args, capture_output=True, timeout=120)


def oracle(template_file, context, tmp):
    context_file = Path(tmp) / "context.json"
    context_file.write_text(json.dumps(context, ensure_ascii=False), encoding="utf-8")
    out = subprocess.run([sys.executable, str(ORACLE), str(template_file), str(context_file)], capture_output=True,
                         timeout=60)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.decode())
    return out.stdout


def compare(model, template_file, tmp, what):
    for conv_name, messages in CONVERSATIONS.items():
        messages_file = Path(tmp) / f"{conv_name}.json"
        messages_file.write_text(json.dumps(messages, ensure_ascii=False), encoding="utf-8")
        for agp in (False, True):
            for think in (True, False):
                args = ["template", "-m", str(model), "--messages", str(messages_file)]
                args += ["--add-generation-prompt"] if agp else []
                args += [] if think else ["--no-think"]
                got = r1(args)
                context = {"messages": messages, "add_generation_prompt": agp, "bos_token": BOS, "eos_token": EOS,
                           "enable_thinking": think}
                want = oracle(template_file, context, tmp)
                label = f"{what} {conv_name} agp={agp} think={think}"
                check(got.returncode == 0, f"{label}: exit {got.returncode}: {got.stderr.decode()}")
                check(b"warn" not in got.stderr, f"{label}: fell back: {got.stderr.decode()}")
                check(got.stdout == want, f"{label}:\n got  {got.stdout!r}\n want {want!r}")


def main():
    fixtures = fixtures_dir()
    if fixtures is None:
        print("skipped: shared fixtures not found")
        return 77
    if subprocess.run([sys.executable, "-c", "import jinja2"], capture_output=True).returncode != 0:
        print("skipped: python3-jinja2 not installed")
        return 77
    templates = fixtures / "chat_templates"
    models = fixtures / "models"
    hf = fixtures / "hf" / "tiny-qwen2-a-s1-hf"
    with tempfile.TemporaryDirectory() as tmp:
        # The GGUF files carry the R1 templates of the fixtures README (section 5).
        compare(models / "tiny-qwen2-a-s1.Q8_0.gguf", templates / "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja",
                tmp, "qwen2 gguf")
        compare(models / "tiny-llama-a-s1.Q8_0.gguf", templates / "deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja",
                tmp, "llama gguf")
        # A Hugging Face folder, named by its tokenizer_config.json.
        hf_template = Path(tmp) / "hf.jinja"
        hf_template.write_text(json.loads((hf / "tokenizer_config.json").read_text(encoding="utf-8"))["chat_template"],
                               encoding="utf-8")
        compare(hf / "tokenizer_config.json", hf_template, tmp, "hf folder")

        # --var: extra variables reach the template (JSON values, else strings); messages as an OpenAI body.
        messages_file = Path(tmp) / "body.json"
        messages_file.write_text(json.dumps({"model": "x", "messages": CONVERSATIONS["single"]}), encoding="utf-8")
        got = r1(["template", "-m", str(models / "tiny-qwen2-a-s1.Q8_0.gguf"), "--messages", str(messages_file),
                  "--add-generation-prompt", "--var", "enable_thinking=false", "--var", "bos_token=[BOS]"])
        check(got.returncode == 0, f"--var: exit {got.returncode}: {got.stderr.decode()}")
        check(got.stdout.decode().startswith("[BOS]<｜User｜>") and got.stdout.decode().endswith("<think>\n</think>"),
              f"--var: {got.stdout!r}")

        # Errors: one line, exit 1.
        bad = Path(tmp) / "bad.json"
        bad.write_text('{"messages": 3}', encoding="utf-8")
        for args, fragment in ((["--messages", str(bad)], "array of messages"),
                               (["--messages", "/nonexistent.json"], "cannot open"),
                               (["--messages", str(messages_file), "--var", "novalue"], "key=value")):
            out = r1(["template", "-m", str(models / "tiny-qwen2-a-s1.Q8_0.gguf")] + args)
            err = out.stderr.decode()
            check(out.returncode == 1 and fragment in err and err.count("\n") == 1, f"{args}: {out.returncode} {err!r}")

    return finish("template e2e")


if __name__ == "__main__":
    sys.exit(main())
