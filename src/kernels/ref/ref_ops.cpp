// Reference transformer ops. Each follows the formula it names, with llama.cpp's accumulation choices where
// they change results measurably (noted inline).
#include "ref_ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "half.h"
#include "quant_row.h"
#include "ref_matmul.h"

namespace r1 {

void rms_norm_ref(const float* x, const float* weight, float* y, int64_t n, float eps) {
  // As llama.cpp: each square rounded to float, the sum kept in double (ggml_float). The rounding matters:
  // a last-bit difference here can flip an 8-bit code of the next quantized matmul's activations.
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
  const float scale = 1.0f / std::sqrt(static_cast<float>(sum / static_cast<double>(n)) + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * (weight ? weight[i] : 1.0f);
}

namespace {

// YaRN correction range: the dimension index at which a rotation completes n_rot turns over n_ctx_orig.
float yarn_corr_dim(int n_dims, int n_ctx_orig, float n_rot, float base) {
  return static_cast<float>(n_dims) * std::log(static_cast<float>(n_ctx_orig) / (n_rot * 2.0f * static_cast<float>(M_PI))) /
         (2.0f * std::log(base));
}

}  // namespace

void rope_ref(float* x, int n_heads, int head_dim, int64_t pos, const RopeParams& p) {
  const int n_rot = p.n_rot;
  const float theta_scale = std::pow(p.freq_base, -2.0f / static_cast<float>(n_rot));
  float corr_low = 0.0f, corr_high = 0.0f;
  if (p.ext_factor != 0.0f) {
    corr_low = std::max(0.0f, std::floor(yarn_corr_dim(n_rot, p.n_ctx_orig, p.beta_fast, p.freq_base)));
    corr_high = std::min(static_cast<float>(n_rot - 1), std::ceil(yarn_corr_dim(n_rot, p.n_ctx_orig, p.beta_slow, p.freq_base)));
  }
  // cos/sin per rotated pair. theta is advanced by repeated multiplication, as llama.cpp does (the rounding
  // of that product is part of its results). The fused multiply-adds below are where llama.cpp's x86 build
  // (-march=native, where GCC contracts a*b + c) fuses; each changes the last bit of some rotated values,
  // which an F16 cache or an 8-bit activation code can turn into a visible difference.
  std::vector<float> cos_t(static_cast<size_t>(n_rot / 2)), sin_t(static_cast<size_t>(n_rot / 2));
  float theta_base = static_cast<float>(pos);
  for (int i = 0; i < n_rot / 2; ++i) {
    const float ff = p.freq_factors ? p.freq_factors[i] : 1.0f;
    const float theta_extrap = theta_base / ff;
    const float theta_interp = p.freq_scale * theta_extrap;
    float theta = theta_interp;
    float mscale = p.attn_factor;
    if (p.ext_factor != 0.0f) {
      const float y = (static_cast<float>(i) - corr_low) / std::max(0.001f, corr_high - corr_low);
      const float ramp_mix = (1.0f - std::min(1.0f, std::max(0.0f, y))) * p.ext_factor;
      theta = std::fma(theta_interp, 1.0f - ramp_mix, theta_extrap * ramp_mix);
      mscale *= std::fma(0.1f, std::log(1.0f / p.freq_scale), 1.0f);
    }
    cos_t[static_cast<size_t>(i)] = std::cos(theta) * mscale;
    sin_t[static_cast<size_t>(i)] = std::sin(theta) * mscale;
    theta_base *= theta_scale;
  }
  for (int h = 0; h < n_heads; ++h) {
    float* xh = x + static_cast<int64_t>(h) * head_dim;
    for (int i = 0; i < n_rot / 2; ++i) {
      const int a = p.style == RopeStyle::kNeox ? i : 2 * i;
      const int b = p.style == RopeStyle::kNeox ? i + n_rot / 2 : 2 * i + 1;
      const float x0 = xh[a], x1 = xh[b];
      xh[a] = std::fma(x0, cos_t[static_cast<size_t>(i)], -(x1 * sin_t[static_cast<size_t>(i)]));
      xh[b] = std::fma(x0, sin_t[static_cast<size_t>(i)], x1 * cos_t[static_cast<size_t>(i)]);
    }
  }
}

void swiglu_ref(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

namespace {

// Head h's slice of a cached row (the row holds heads of dim values in type).
const uint8_t* head_at(GgmlType type, const uint8_t* row, int h, int dim) {
  const TypeInfo& info = type_info(type);
  return row + static_cast<uint64_t>(h) * dim / info.block_size * info.type_size;
}

// Decodes head h's slice of a cached row.
void cached_head(GgmlType type, const uint8_t* row, int h, int dim, float* out) {
  dequantize_row(type, head_at(type, row, h, dim), out, dim);
}

// The query as the K dot product sees it: rounded to the activation format of the cache type (for a Q8_0
// cache also kept as Q8_0 blocks in q8, which q8_0_dot multiplies).
void round_query(GgmlType k_type, const float* q, int dim, float* out, std::vector<uint8_t>& q8) {
  if (k_type == GgmlType::kF16) {
    for (int i = 0; i < dim; ++i) out[i] = fp16_to_fp32(fp32_to_fp16(q[i]));
  } else if (k_type == GgmlType::kQ8_0) {
    q8.resize(static_cast<size_t>(dim / 32 * 34));
    quantize_row_q8_0_activations(q, q8.data(), dim);
    dequantize_row(GgmlType::kQ8_0, q8.data(), out, dim);
  } else {
    std::memcpy(out, q, static_cast<size_t>(dim) * sizeof(float));
  }
}

// q.k for a Q8_0 key and the Q8_0 query, as llama.cpp's attention computes it (ggml_vec_dot_q8_0_q8_0): an
// integer sum per four values, one multiply-add per block into eight lanes, llama.cpp's horizontal order.
float q8_0_dot(const uint8_t* k, const uint8_t* q8, int dim) {
  Block32LlamaSum sum;
  for (int b = 0; b < dim / 32; ++b) {
    const uint8_t* kb = k + 34 * b;
    const uint8_t* qb = q8 + 34 * b;
    uint16_t hk, hq;
    std::memcpy(&hk, kb, 2);
    std::memcpy(&hq, qb, 2);
    sum.add(fp16_to_fp32(hk) * fp16_to_fp32(hq), reinterpret_cast<const int8_t*>(kb + 2),
            reinterpret_cast<const int8_t*>(qb + 2));
  }
  return sum.total();
}

double dot(const float* a, const float* b, int n) {
  double s = 0.0;
  for (int i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

// q.k over fp16 values in the exact order of llama.cpp's x86 (AVX2) ggml_vec_dot_f16: four 8-lane FMA
// accumulators over 32-value steps, reduced pairwise and by horizontal adds, the tail added in double.
// Flash attention keeps its running output in fp16, so a last-bit difference in a score can flip an fp16
// rounding, and in a quantized model that can flip an 8-bit activation code later: the order matters.
float dot_f16_x86(const float* x, const float* y, int n) {
  const int np = n & ~31;
  float acc[4][8] = {};
  for (int i = 0; i < np; i += 32) {
    for (int j = 0; j < 4; ++j) {
      for (int l = 0; l < 8; ++l) acc[j][l] = std::fma(x[i + 8 * j + l], y[i + 8 * j + l], acc[j][l]);
    }
  }
  float v[8];
  for (int l = 0; l < 8; ++l) v[l] = (acc[0][l] + acc[2][l]) + (acc[1][l] + acc[3][l]);
  float t0[4];
  for (int l = 0; l < 4; ++l) t0[l] = v[l] + v[l + 4];
  double sum = static_cast<double>((t0[0] + t0[1]) + (t0[2] + t0[3]));
  for (int i = np; i < n; ++i) sum += static_cast<double>(x[i] * y[i]);
  return static_cast<float>(sum);
}

}  // namespace

void attention_ref(const AttentionParams& p, const float* q, const uint8_t* k, uint64_t k_row_bytes,
                   const uint8_t* v, uint64_t v_row_bytes, int64_t n_kv, float* out, int head_begin, int head_end) {
  if (head_end < 0) head_end = p.n_head;
  const int group = p.n_head / p.n_head_kv;
  std::vector<float> qh(static_cast<size_t>(p.head_dim_k)), kh(static_cast<size_t>(p.head_dim_k));
  std::vector<float> vh(static_cast<size_t>(p.head_dim_v));
  std::vector<float> scores(static_cast<size_t>(n_kv));
  std::vector<uint8_t> q8;
  // q·k of cached position j: a Q8_0 key against the Q8_0 query in llama.cpp's order, an F16 one under flash
  // attention in llama.cpp's fp16 order, otherwise in double.
  const auto key_dot = [&](int64_t j, int hk) {
    const uint8_t* row = k + static_cast<uint64_t>(j) * k_row_bytes;
    if (p.k_type == GgmlType::kQ8_0) return q8_0_dot(head_at(p.k_type, row, hk, p.head_dim_k), q8.data(), p.head_dim_k);
    cached_head(p.k_type, row, hk, p.head_dim_k, kh.data());
    if (p.k_type == GgmlType::kF16 && p.flash) return dot_f16_x86(qh.data(), kh.data(), p.head_dim_k);
    return static_cast<float>(dot(qh.data(), kh.data(), p.head_dim_k));
  };
  for (int h = head_begin; h < head_end; ++h) {
    const int hk = h / group;
    round_query(p.k_type, q + static_cast<int64_t>(h) * p.head_dim_k, p.head_dim_k, qh.data(), q8);
    float* oh = out + static_cast<int64_t>(h) * p.head_dim_v;
    if (!p.flash) {
      // softmax(scale * q.k) then the probabilities, rounded like an activation for V's type, weight V.
      float max_s = -INFINITY;
      for (int64_t j = 0; j < n_kv; ++j) {
        scores[static_cast<size_t>(j)] = key_dot(j, hk) * p.scale;
        max_s = std::max(max_s, scores[static_cast<size_t>(j)]);
      }
      double sum = 0.0;
      for (auto& s : scores) {
        s = std::exp(s - max_s);
        sum += s;
      }
      const float inv = static_cast<float>(1.0 / sum);
      for (auto& s : scores) {
        s *= inv;
        if (p.v_type == GgmlType::kF16) s = fp16_to_fp32(fp32_to_fp16(s));
      }
      std::vector<double> acc(static_cast<size_t>(p.head_dim_v), 0.0);
      for (int64_t j = 0; j < n_kv; ++j) {
        cached_head(p.v_type, v + j * v_row_bytes, hk, p.head_dim_v, vh.data());
        for (int d = 0; d < p.head_dim_v; ++d) acc[static_cast<size_t>(d)] += static_cast<double>(scores[static_cast<size_t>(j)]) * vh[static_cast<size_t>(d)];
      }
      for (int d = 0; d < p.head_dim_v; ++d) oh[d] = static_cast<float>(acc[static_cast<size_t>(d)]);
      continue;
    }
    // Flash attention as llama.cpp's CPU kernel computes it: online softmax in float over the positions in
    // order; with an F16 V cache and a short context the running output is kept in fp16 (each update
    // rounded), else in f32 (flash_fp16_accumulator).
    float running_sum = 0.0f;
    float running_max = -INFINITY;
    std::vector<float> acc(static_cast<size_t>(p.head_dim_v), 0.0f);
    const bool fp16_acc = flash_fp16_accumulator(p, n_kv);
    const auto score = [&](int64_t j) { return key_dot(j, hk) * p.scale; };
    if (!fp16_acc && p.v_type == GgmlType::kF16) {
      // The float accumulator over an F16 V cache (a long context or a prompt): blocks of kFlashKeyBlock
      // positions (see ref_ops.h).
      float block_scores[kFlashKeyBlock];
      for (int64_t j0 = 0; j0 < n_kv; j0 += kFlashKeyBlock) {
        const int64_t nb = std::min(kFlashKeyBlock, n_kv - j0);
        float block_max = running_max;
        for (int64_t i = 0; i < nb; ++i) {
          block_scores[i] = score(j0 + i);
          block_max = std::max(block_max, block_scores[i]);
        }
        const float ms = std::exp(running_max - block_max);
        for (auto& a : acc) a *= ms;
        float block_sum = 0.0f;
        for (int64_t i = 0; i < nb; ++i) {
          const float w = std::exp(block_scores[i] - block_max);
          cached_head(p.v_type, v + (j0 + i) * v_row_bytes, hk, p.head_dim_v, vh.data());
          for (int d = 0; d < p.head_dim_v; ++d) {
            acc[static_cast<size_t>(d)] = std::fma(vh[static_cast<size_t>(d)], w, acc[static_cast<size_t>(d)]);
          }
          block_sum += w;
        }
        running_sum = running_sum * ms + block_sum;
        running_max = block_max;
      }
      const float inv = running_sum == 0.0f ? 0.0f : 1.0f / running_sum;
      for (int d = 0; d < p.head_dim_v; ++d) oh[d] = acc[static_cast<size_t>(d)] * inv;
      continue;
    }
    for (int64_t j = 0; j < n_kv; ++j) {
      const float s = score(j);
      float ms = 1.0f, vs = 1.0f;
      if (s > running_max) {
        ms = std::exp(running_max - s);
        running_max = s;
        for (auto& a : acc) a = fp16_acc ? fp16_to_fp32(fp32_to_fp16(a * ms)) : a * ms;
      } else {
        vs = std::exp(s - running_max);
      }
      cached_head(p.v_type, v + j * v_row_bytes, hk, p.head_dim_v, vh.data());
      for (int d = 0; d < p.head_dim_v; ++d) {
        float& a = acc[static_cast<size_t>(d)];
        const float vd = vh[static_cast<size_t>(d)];
        a = fp16_acc ? fp16_to_fp32(fp32_to_fp16(std::fma(vd, vs, a))) : std::fma(vd, vs, a);  // ggml_vec_mad_f32
      }
      running_sum = running_sum * ms + vs;
    }
    const float inv = running_sum == 0.0f ? 0.0f : 1.0f / running_sum;
    for (int d = 0; d < p.head_dim_v; ++d) oh[d] = acc[static_cast<size_t>(d)] * inv;
  }
}

}  // namespace r1
