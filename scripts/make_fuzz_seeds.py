#!/usr/bin/env python3
"""Makes the GGUF fuzz seed corpus from real files: each seed keeps a file's metadata and tensor list (names,
types, dimension counts) but shrinks every tensor to one block, so seeds are small and still valid.
Usage: make_fuzz_seeds.py OUT_DIR FILE.gguf ..."""
import struct
import sys
from pathlib import Path

BLOCK = {0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34), 10: (256, 84),
         11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210), 16: (256, 66), 17: (256, 74),
         18: (256, 98), 19: (256, 50), 20: (32, 18), 21: (256, 110), 22: (256, 82), 23: (256, 136),
         29: (256, 56), 30: (1, 2), 34: (256, 54), 35: (256, 66), 39: (32, 17)}


def skip_value(data, pos, vtype):
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    if vtype in sizes:
        return pos + sizes[vtype]
    if vtype == 8:
        return pos + 8 + struct.unpack_from("<Q", data, pos)[0]
    etype, n = struct.unpack_from("<IQ", data, pos)
    pos += 12
    for _ in range(n):
        pos = skip_value(data, pos, etype)
    return pos


def shrink(path):
    data = Path(path).read_bytes()
    version, n_tensors, n_kv = struct.unpack_from("<IQQ", data, 4)
    pos = 24
    for _ in range(n_kv):
        pos += 8 + struct.unpack_from("<Q", data, pos)[0]
        vtype = struct.unpack_from("<I", data, pos)[0]
        pos = skip_value(data, pos + 4, vtype)
    out = bytearray(data[:pos])
    offset = 0
    sizes = []
    for _ in range(n_tensors):
        name_len = struct.unpack_from("<Q", data, pos)[0]
        name = data[pos:pos + 8 + name_len]
        pos += 8 + name_len
        n_dims = struct.unpack_from("<I", data, pos)[0]
        pos += 4 + 8 * n_dims
        ttype = struct.unpack_from("<I", data, pos)[0]
        pos += 12
        block, size = BLOCK[ttype]
        out += name + struct.pack("<I", n_dims) + struct.pack("<Q", block) + struct.pack("<Q", 1) * (n_dims - 1)
        out += struct.pack("<IQ", ttype, offset)
        sizes.append(size)
        offset += (size + 31) // 32 * 32
    while len(out) % 32:
        out.append(0)
    for i, size in enumerate(sizes):
        out += bytes((i * 37 + k) & 0xff for k in range(size))
        while len(out) % 32:
            out.append(0)
    return bytes(out)


def main():
    out_dir = Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in sys.argv[2:]:
        (out_dir / (Path(path).stem + ".seed.gguf")).write_bytes(shrink(path))


if __name__ == "__main__":
    main()
