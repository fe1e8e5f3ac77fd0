#!/usr/bin/env python3
"""Renders a chat template the way Hugging Face transformers does (the test oracle for r1's interpreter).

Usage: scripts/text_jinja_oracle.py TEMPLATE_FILE CONTEXT_JSON_FILE  -> rendered text on stdout.
Needs Debian's python3-jinja2. Environment as in transformers: sandboxed, trim_blocks, lstrip_blocks,
loop controls, tojson without ASCII escaping, raise_exception.
"""
import json
import sys

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def main():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    with open(sys.argv[1], encoding="utf-8") as f:
        template = env.from_string(f.read())
    with open(sys.argv[2], encoding="utf-8") as f:
        context = json.load(f)
    sys.stdout.write(template.render(**context))


if __name__ == "__main__":
    main()
