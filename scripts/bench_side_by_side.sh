#!/usr/bin/env bash
# r1 bench next to llama.cpp's llama-bench on the same GGUF files and thread count. The two tools alternate,
# one timed run each per round, so the drift of a shared machine falls on both; the table gives each side's
# median over the rounds, every sample, and the median over the rounds of r1 / llama.cpp. llama-bench comes from a llama.cpp build
# of your own (nothing of it is in this repository).
#
#   scripts/bench_side_by_side.sh -b path/to/llama-bench [-r ROUNDS] [-t THREADS] [-o OUTDIR] MODEL.gguf...
#
# Tests: pp128 + tg32 and pp512 + tg128 (llama-bench's -p/-n), each tool with its defaults otherwise (both run
# flash attention over an F16 cache on the CPU). Set R1=path/to/r1 to pick the binary (default build/bin/r1).
set -euo pipefail

llama_bench="" rounds=3 threads=2 out=""
while getopts "b:r:t:o:" opt; do
  case $opt in
    b) llama_bench=$OPTARG ;;
    r) rounds=$OPTARG ;;
    t) threads=$OPTARG ;;
    o) out=$OPTARG ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
if [[ -z $llama_bench || $# -eq 0 ]]; then
  echo "usage: $0 -b LLAMA_BENCH [-r ROUNDS] [-t THREADS] [-o OUTDIR] MODEL.gguf..." >&2
  exit 2
fi
r1=${R1:-build/bin/r1}
out=${out:-$(mktemp -d)}
mkdir -p "$out"

for model in "$@"; do
  name=$(basename "$model" .gguf)
  for test in "128 32" "512 128"; do
    read -r p n <<<"$test"
    for ((round = 1; round <= rounds; round++)); do
      "$r1" bench -m "$model" -p "$p" -n "$n" -r 1 -t "$threads" --no-bandwidth --json \
        >"$out/r1.$name.p$p.n$n.$round.json"
      "$llama_bench" -m "$model" -p "$p" -n "$n" -r 1 -t "$threads" -o json \
        >"$out/llama.$name.p$p.n$n.$round.json" 2>/dev/null
    done
  done
done
"$r1" bench --bandwidth >"$out/bandwidth.txt"

python3 - "$out" <<'EOF'
import glob, json, os, re, statistics, sys
out = sys.argv[1]
# (model, test) -> {"r1": {round: t/s}, "llama": {round: t/s}, "bw": [GB/s]}
rows = {}
for path in sorted(glob.glob(os.path.join(out, "*.json"))):
    tool, model, p, n, rnd = re.match(r"(r1|llama)\.(.*)\.p(\d+)\.n(\d+)\.(\d+)\.json", os.path.basename(path)).groups()
    for t in json.load(open(path)):
        test = f"pp{t['n_prompt']}" if t["n_prompt"] else f"tg{t['n_gen']}"
        cell = rows.setdefault((model, test), {"r1": {}, "llama": {}, "bw": []})
        cell[tool][int(rnd)] = t["avg_ts"]
        if tool == "r1" and t.get("achieved_bw_gbs"):
            cell["bw"].append(t["achieved_bw_gbs"])
print(open(os.path.join(out, "bandwidth.txt")).read().strip().splitlines()[-1])
print()
# The ratio column is the median of each round's ratio: the two runs of a round are a minute apart and see
# more nearly the same machine than the two columns' medians do.
print("| model | test | r1 t/s (median) | llama.cpp t/s (median) | r1 / llama.cpp | r1 read GB/s | r1 samples | llama.cpp samples |")
print("| --- | --- | ---: | ---: | ---: | ---: | --- | --- |")
for (model, test), c in sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][1][:2] == "tg", int(kv[0][1][2:]))):
    rounds = sorted(set(c["r1"]) & set(c["llama"]))
    ratio = statistics.median(c["r1"][k] / c["llama"][k] for k in rounds)
    a, b = statistics.median(c["r1"].values()), statistics.median(c["llama"].values())
    bw = f"{statistics.median(c['bw']):.1f}" if c["bw"] else ""
    fmt = lambda d: ", ".join(f"{d[k]:.1f}" for k in sorted(d))
    print(f"| {model} | {test} | {a:.2f} | {b:.2f} | {ratio:.2f} | {bw} | {fmt(c['r1'])} | {fmt(c['llama'])} |")
EOF
