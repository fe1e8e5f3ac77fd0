// Reference matmul: activation rounding per weight type (as llama.cpp's x86 CPU backend does it), then
// decoded-row dot products in double; Q4_K (dot_q4_k_llama_order) and the signed 32-element formats
// (Block32LlamaSum) in llama.cpp's own float order.
#include "ref_matmul.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "check.h"
#include "half.h"
#include "quant_row.h"

namespace r1 {

GgmlType activation_type_for(GgmlType weight_type) {
  switch (weight_type) {
    case GgmlType::kF32: return GgmlType::kF32;
    case GgmlType::kF16: return GgmlType::kF16;
    case GgmlType::kBF16: return GgmlType::kBF16;
    case GgmlType::kQ4_1:
    case GgmlType::kQ5_1:
    case GgmlType::kQ8_1: return GgmlType::kQ8_1;
    case GgmlType::kQ4_0:
    case GgmlType::kQ5_0:
    case GgmlType::kQ8_0:
    case GgmlType::kIQ4_NL:
    case GgmlType::kMXFP4:
    case GgmlType::kNVFP4:
    case GgmlType::kQ1_0:
    case GgmlType::kQ2_0: return GgmlType::kQ8_0;
    default: return GgmlType::kQ8_K;
  }
}

namespace {

// Q8_1 activation blocks decoded for the reference: d and s as fp32 (from their fp16 storage), the codes.
struct Q8_1Block {
  float d;
  float s;
  int8_t q[32];
};

void quantize_q8_1(const float* x, int64_t n, std::vector<Q8_1Block>& out) {
  std::vector<uint8_t> raw(static_cast<size_t>(n / 32 * 36));
  quantize_row_q8_1_activations(x, raw.data(), n);
  out.resize(static_cast<size_t>(n / 32));
  for (size_t b = 0; b < out.size(); ++b) {
    const uint8_t* blk = raw.data() + b * 36;
    uint16_t d16, s16;
    std::memcpy(&d16, blk, 2);
    std::memcpy(&s16, blk + 2, 2);
    out[b].d = fp16_to_fp32(d16);
    out[b].s = fp16_to_fp32(s16);
    std::memcpy(out[b].q, blk + 4, 32);
  }
}

// The activation row as the dot product sees it (for every format except Q8_1, which needs its s term).
void round_activations(GgmlType act, const float* x, int64_t n, float* out, std::vector<uint8_t>& scratch) {
  switch (act) {
    case GgmlType::kF32: std::memcpy(out, x, static_cast<size_t>(n) * sizeof(float)); return;
    case GgmlType::kF16:
      for (int64_t i = 0; i < n; ++i) out[i] = fp16_to_fp32(fp32_to_fp16(x[i]));
      return;
    case GgmlType::kBF16:
      for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_fp32(fp32_to_bf16(x[i]));
      return;
    case GgmlType::kQ8_0:
      scratch.resize(*row_bytes(type_info(GgmlType::kQ8_0), static_cast<uint64_t>(n)));
      quantize_row_q8_0_activations(x, scratch.data(), n);
      dequantize_row(GgmlType::kQ8_0, scratch.data(), out, n);
      return;
    case GgmlType::kQ8_K:
      scratch.resize(*row_bytes(type_info(GgmlType::kQ8_K), static_cast<uint64_t>(n)));
      quantize_row_q8_k_activations(x, scratch.data(), n);
      dequantize_row(GgmlType::kQ8_K, scratch.data(), out, n);
      return;
    default: R1_CHECK(false, "unexpected activation type");
  }
}

// Q8_K activation block as the Q4_K product reads it: fp32 d, int8 codes, and int16 sums per 16 codes.
struct Q8KView {
  float d;
  const int8_t* q;
  int16_t bsums[16];
};

Q8KView q8k_block(const uint8_t* blk) {
  Q8KView v;
  std::memcpy(&v.d, blk, 4);
  v.q = reinterpret_cast<const int8_t*>(blk + 4);
  std::memcpy(v.bsums, blk + 4 + 256, sizeof v.bsums);
  return v;
}

// llama.cpp's x86 backend repacks Q4_K matrices (row count a multiple of 8, which every real model has). Its
// kernels sum exactly in integers over a span of the super-block, then in float with one fused multiply-add
// per span, scales and mins in two accumulators:
//   acc  = fma(float(sum_j sc_j * sum(q * qa)), d * da, acc)          (j: the 32-element sub-blocks of the span)
//   accm = fma(float(sum_j mn_j * (bsum_2j + bsum_2j+1)), dmin * da, accm)
// and returns acc - accm. The span is 64 elements in its four-row kernel (the first n - n % 4 tokens of a
// batch of n) and the whole super-block for the other tokens. A double-precision dot differs from both in the
// last bit; a last-bit difference can flip an 8-bit activation code of the next product, and random-weight
// models amplify one flip to ~1 % of the logits. So the reference and every kernel sum Q4_K this way.
float dot_q4_k_llama_order(const uint8_t* w_row, const uint8_t* q8k_row, int64_t k, bool grouped) {
  const uint64_t act_block_bytes = type_info(GgmlType::kQ8_K).type_size;
  const int span = grouped ? 2 : 8;  // sub-blocks of 32 per rounding
  float acc = 0.0f, accm = 0.0f;
  Q4KCodes c;
  for (int64_t b = 0; b < k / 256; ++b) {
    unpack_q4_k_block(w_row + b * 144, c);
    const Q8KView a = q8k_block(q8k_row + static_cast<uint64_t>(b) * act_block_bytes);
    for (int j0 = 0; j0 < 8; j0 += span) {
      int32_t isum = 0, imin = 0;
      for (int j = j0; j < j0 + span; ++j) {
        int32_t s = 0;
        for (int l = 0; l < 32; ++l) s += c.q[32 * j + l] * a.q[32 * j + l];
        isum += s * c.sc[j];
        imin += c.mn[j] * (a.bsums[2 * j] + a.bsums[2 * j + 1]);
      }
      acc = std::fma(static_cast<float>(isum), c.d * a.d, acc);
      accm = std::fma(static_cast<float>(imin), c.dmin * a.d, accm);
    }
  }
  return acc - accm;
}

void matmul_q4_k_ref(const WeightView& w, const float* x, int64_t n_tokens, float* y, int64_t row_begin,
                     int64_t row_end) {
  const int64_t k = w.cols;
  const uint64_t act_row_bytes = *row_bytes(type_info(GgmlType::kQ8_K), static_cast<uint64_t>(k));
  std::vector<uint8_t> act(static_cast<size_t>(n_tokens) * act_row_bytes);
  for (int64_t t = 0; t < n_tokens; ++t) quantize_row_q8_k_activations(x + t * k, act.data() + t * act_row_bytes, k);
  const int64_t grouped = q4_k_grouped_tokens(n_tokens);
  for (int64_t r = row_begin; r < row_end; ++r) {
    const uint8_t* src = w.data + static_cast<uint64_t>(r) * w.row_bytes;
    for (int64_t t = 0; t < n_tokens; ++t) {
      y[t * w.rows + r] = dot_q4_k_llama_order(src, act.data() + t * act_row_bytes, k, t < grouped);
    }
  }
}

// Signed 32-element formats in llama.cpp's order (Block32LlamaSum). The weight codes are each decoded value
// over its block's scale: exact, since every value is that fp16 scale times a small integer.
void matmul_block32_ref(const WeightView& w, const float* x, int64_t n_tokens, float* y, int64_t row_begin,
                        int64_t row_end) {
  const int64_t k = w.cols, nb = k / 32;
  const uint64_t act_row_bytes = *row_bytes(type_info(GgmlType::kQ8_0), static_cast<uint64_t>(k));
  const uint64_t block_bytes = type_info(w.type).type_size;
  std::vector<uint8_t> act(static_cast<size_t>(n_tokens) * act_row_bytes);
  for (int64_t t = 0; t < n_tokens; ++t) quantize_row_q8_0_activations(x + t * k, act.data() + t * act_row_bytes, k);
  std::vector<float> row(static_cast<size_t>(k));
  std::vector<int8_t> codes(static_cast<size_t>(k));
  std::vector<float> scale(static_cast<size_t>(nb));
  for (int64_t r = row_begin; r < row_end; ++r) {
    const uint8_t* src = w.data + static_cast<uint64_t>(r) * w.row_bytes;
    dequantize_row(w.type, src, row.data(), k);
    for (int64_t b = 0; b < nb; ++b) {
      uint16_t d16;
      std::memcpy(&d16, src + b * block_bytes, 2);
      const float d = fp16_to_fp32(d16);
      scale[static_cast<size_t>(b)] = d;
      for (int i = 0; i < 32; ++i) {
        const float v = row[static_cast<size_t>(b * 32 + i)];
        codes[static_cast<size_t>(b * 32 + i)] = d == 0.0f ? 0 : static_cast<int8_t>(std::lround(v / d));
      }
    }
    for (int64_t t = 0; t < n_tokens; ++t) {
      const uint8_t* a = act.data() + t * act_row_bytes;
      Block32LlamaSum sum;
      for (int64_t b = 0; b < nb; ++b) {
        uint16_t da16;
        std::memcpy(&da16, a + b * 34, 2);
        sum.add(scale[static_cast<size_t>(b)] * fp16_to_fp32(da16), codes.data() + b * 32,
                reinterpret_cast<const int8_t*>(a + b * 34 + 2));
      }
      y[t * w.rows + r] = sum.total();
    }
  }
}

bool is_signed_block32(GgmlType type) {
  return type == GgmlType::kQ4_0 || type == GgmlType::kQ5_0 || type == GgmlType::kQ8_0 || type == GgmlType::kIQ4_NL;
}

}  // namespace

void round_like_activation(GgmlType weight_type, float* x, int64_t n) {
  GgmlType act = activation_type_for(weight_type);
  if (act == GgmlType::kF32) return;
  if (act == GgmlType::kQ8_1) act = GgmlType::kQ8_0;
  std::vector<uint8_t> scratch;
  const std::vector<float> in(x, x + n);
  round_activations(act, in.data(), n, x, scratch);
}

void weight_row_ref(const WeightView& w, int64_t r, float* dst) {
  dequantize_row(w.type, w.data + static_cast<uint64_t>(r) * w.row_bytes, dst, w.cols);
}

void matmul_ref(const WeightView& w, const float* x, int64_t n_tokens, float* y, int64_t row_begin, int64_t row_end) {
  if (w.type == GgmlType::kQ4_K) {
    matmul_q4_k_ref(w, x, n_tokens, y, row_begin, row_end);
    return;
  }
  if (is_signed_block32(w.type)) {
    matmul_block32_ref(w, x, n_tokens, y, row_begin, row_end);
    return;
  }
  const GgmlType act = activation_type_for(w.type);
  const int64_t k = w.cols;
  std::vector<float> xa(static_cast<size_t>(n_tokens * k));
  std::vector<uint8_t> scratch;
  std::vector<std::vector<Q8_1Block>> q81(act == GgmlType::kQ8_1 ? static_cast<size_t>(n_tokens) : 0);
  for (int64_t t = 0; t < n_tokens; ++t) {
    if (act == GgmlType::kQ8_1) {
      quantize_q8_1(x + t * k, k, q81[static_cast<size_t>(t)]);
      for (int64_t b = 0; b < k / 32; ++b) {
        const Q8_1Block& blk = q81[static_cast<size_t>(t)][static_cast<size_t>(b)];
        for (int i = 0; i < 32; ++i) xa[static_cast<size_t>(t * k + b * 32 + i)] = blk.d * blk.q[i];
      }
    } else {
      round_activations(act, x + t * k, k, xa.data() + t * k, scratch);
    }
  }
  std::vector<float> row(static_cast<size_t>(k));
  for (int64_t r = row_begin; r < row_end; ++r) {
    const uint8_t* src = w.data + static_cast<uint64_t>(r) * w.row_bytes;
    dequantize_row(w.type, src, row.data(), k);
    for (int64_t t = 0; t < n_tokens; ++t) {
      const float* a = xa.data() + t * k;
      double sum = 0.0;
      if (act == GgmlType::kQ8_1) {
        // Q4_1/Q5_1 blocks start with fp16 d and fp16 m; w = d*q + m, and llama.cpp computes
        // sum(d*q * a) + m * s, with s the fp16-rounded block sum of the activations.
        const uint64_t block_bytes = type_info(w.type).type_size;
        for (int64_t b = 0; b < k / 32; ++b) {
          uint16_t m16;
          std::memcpy(&m16, src + b * block_bytes + 2, 2);
          const double m = fp16_to_fp32(m16);
          double block = 0.0;
          for (int i = 0; i < 32; ++i) block += (row[static_cast<size_t>(b * 32 + i)] - m) * a[b * 32 + i];
          sum += block + m * q81[static_cast<size_t>(t)][static_cast<size_t>(b)].s;
        }
      } else {
        for (int64_t i = 0; i < k; ++i) sum += static_cast<double>(row[static_cast<size_t>(i)]) * a[i];
      }
      y[t * w.rows + r] = static_cast<float>(sum);
    }
  }
}

}  // namespace r1
