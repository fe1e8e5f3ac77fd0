#!/usr/bin/env python3
"""Fails when two headers declare a class or struct of the same name in the same namespace.

Two such definitions link into one program without a word from the compiler or linker (the one-definition
rule is not diagnosed), and the program then runs one type's inline destructor on the other's objects: a
heap corruption that showed up only for some architectures in `r1 convert`. Usage: check_type_names.py ROOT.
"""
import re
import sys
from collections import defaultdict
from pathlib import Path

NAMESPACE = re.compile(r"^namespace ([\w:]+) \{")
TYPE = re.compile(r"^(?:struct|class) (?:alignas\([^)]*\) )?(\w+)\b[^;]*$")  # a definition at file scope, not a forward declaration


def main():
    root = Path(sys.argv[1])
    seen = defaultdict(list)
    for header in sorted(list(root.glob("src/**/*.h")) + list(root.glob("include/**/*.h")) +
                         list(root.glob("tools/**/*.h"))):
        namespace = ""
        for line_no, line in enumerate(header.read_text(encoding="utf-8").splitlines(), 1):
            m = NAMESPACE.match(line)
            if m:
                namespace = m.group(1)
                continue
            m = TYPE.match(line)
            if m:
                seen[(namespace, m.group(1))].append(f"{header.relative_to(root)}:{line_no}")
    clashes = {k: v for k, v in seen.items() if len(v) > 1}
    for (namespace, name), where in sorted(clashes.items()):
        print(f"{namespace}::{name} is defined in {len(where)} headers: {', '.join(where)}")
    print(f"{len(clashes)} clashes")
    return 1 if clashes else 0


if __name__ == "__main__":
    sys.exit(main())
