#!/bin/sh
# Remakes tests/data/quantize/llamacpp_sha256.txt: llama.cpp's llama-quantize output for every fixture model and
# mix, hashed, for tests/cli/test_quantize_llamacpp.py to compare r1 quantize with. Nothing of llama.cpp enters
# this repository, only the hashes of what it writes.
# Usage: scripts/quantize_llamacpp_hashes.sh LLAMA_QUANTIZE FIXTURES_DIR > tests/data/quantize/llamacpp_sha256.txt
set -eu
quantize=$1
fixtures=$2
data=$(cd "$(dirname "$0")/../tests/data/quantize" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
plain="F16 BF16 Q8_0 Q6_K Q5_K_M Q5_K_S Q5_1 Q5_0 Q4_K_M Q4_K_S Q4_1 Q4_0 IQ4_NL IQ4_XS Q3_K_L Q3_K_M Q3_K_S IQ3_M IQ3_S Q2_K TQ2_0 TQ1_0 MXFP4_MOE"
with_imatrix="Q4_K_M Q4_0 IQ4_XS IQ3_XS IQ3_XXS Q2_K Q2_K_S IQ2_M IQ2_S IQ2_XS IQ2_XXS IQ1_M IQ1_S"
echo "# sha256 of llama.cpp's llama-quantize output for the fixture models: MODEL MIX IMATRIX SHA256"
echo "# made by scripts/quantize_llamacpp_hashes.sh; IMATRIX '-' means none, 'imatrix' means --imatrix im-MODEL.gguf"
echo "# (this folder, passed by that relative name: llama-quantize records it in the file)."
for model in tiny-llama-a-s1 tiny-qwen2-a-s1 tiny-deepseek2-legacy-a-s1 tiny-deepseek2-split-a-s1; do
  gunzip -c "$fixtures/models/$model.f32.gguf.gz" > "$work/$model.f32.gguf"
  for mix in $plain; do
    "$quantize" "$work/$model.f32.gguf" "$work/out.gguf" "$mix" 2 > /dev/null 2>&1
    echo "$model $mix - $(sha256sum "$work/out.gguf" | cut -c1-64)"
  done
  for mix in $with_imatrix; do
    (cd "$data" && "$quantize" --imatrix "im-$model.gguf" "$work/$model.f32.gguf" "$work/out.gguf" "$mix" 2 > /dev/null 2>&1)
    echo "$model $mix imatrix $(sha256sum "$work/out.gguf" | cut -c1-64)"
  done
  rm -f "$work/$model.f32.gguf"
done
