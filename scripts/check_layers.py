#!/usr/bin/env python3
"""Layer check: fails when a file includes a header from a layer above its own (see docs/ARCHITECTURE.md).

Headers are included by bare name and are unique across the tree, so each include maps to exactly one layer.
"""
import re
import sys
from pathlib import Path

# Each layer and the layers it may include from (besides itself). Keep in sync with the CMake DEPS.
ALLOWED = {
    "core": [],
    "quant": ["core"],
    "gguf": ["quant", "core"],
    "kernels/ref": ["quant", "core"],
    "kernels/cpu": ["kernels/ref", "quant", "core"],
    "kernels/cuda": ["kernels/ref", "quant", "core"],
    "backend": ["kernels/cpu", "kernels/cuda", "kernels/ref", "quant", "core"],
    "text": ["gguf", "quant", "core"],
    "sampling": ["core"],
    "model": ["backend", "kernels/ref", "gguf", "quant", "core"],
    "engine": ["model", "text", "sampling", "backend", "gguf", "quant", "core", "include/r1"],
    "include/r1": [],
    "tools": ["engine", "model", "text", "sampling", "backend", "kernels/cpu", "kernels/ref", "gguf", "quant", "core",
              "include/r1"],
    "tools/cli": ["include/r1", "tools", "engine", "model", "text", "sampling", "backend", "kernels/cpu",
                  "kernels/ref", "gguf", "quant", "core"],
    "tools/server": ["include/r1", "core"],
}

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)


def layer_of(root: Path, path: Path):
    rel = path.relative_to(root).as_posix()
    for prefix in ("src/kernels/ref", "src/kernels/cpu", "src/kernels/cuda"):
        if rel.startswith(prefix + "/"):
            return prefix[len("src/"):]
    if rel.startswith("src/"):
        return rel.split("/")[1]
    if rel.startswith("include/r1/"):
        return "include/r1"
    for prefix in ("tools/cli", "tools/server"):
        if rel.startswith(prefix + "/"):
            return prefix
    return None


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    files = [p for d in ("src", "include", "tools") for p in (root / d).rglob("*")
             if p.suffix in (".h", ".hpp", ".cpp", ".cc", ".cu", ".cuh") and p.is_file()]
    header_layer = {}
    errors = []
    for f in files:
        if f.suffix in (".h", ".hpp", ".cuh"):
            layer = layer_of(root, f)
            if f.name in header_layer and header_layer[f.name][0] != f:
                errors.append(f"{f.relative_to(root)}: header name also used by {header_layer[f.name][0].relative_to(root)}")
            header_layer[f.name] = (f, layer)
    for f in files:
        layer = layer_of(root, f)
        if layer is None:
            continue
        if layer not in ALLOWED:
            errors.append(f"{f.relative_to(root)}: folder is not a known layer; add it to scripts/check_layers.py")
            continue
        for name in INCLUDE.findall(f.read_text(errors="replace")):
            base = Path(name).name
            if base not in header_layer:
                continue  # not one of ours (system or third-party header)
            target = header_layer[base][1]
            if target == layer or target in ALLOWED[layer]:
                continue
            errors.append(f"{f.relative_to(root)}: includes \"{name}\" from layer '{target}', "
                          f"which layer '{layer}' may not depend on")
    for e in errors:
        print(e)
    print(f"layer check: {len(files)} files, {len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
