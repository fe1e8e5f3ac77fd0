// Reference matrix multiplication over weights in any GGUF block format: the obviously-correct oracle for
// the SIMD kernels, and the fallback. It reproduces what llama.cpp's CPU backend computes: activations are
// first rounded to the format that backend's dot product uses for the weight type (Q8_0, Q8_1, Q8_K, F16,
// BF16 or F32), then each weight row is decoded and multiplied in double precision, except for the formats
// whose sums llama.cpp's order is reproduced for (Q4_K, and Q4_0/Q5_0/Q8_0/IQ4_NL below).
#pragma once

#include <cmath>
#include <cstdint>

#include "type_table.h"

namespace r1 {

// A 2-D weight matrix as stored in the file: rows of `cols` elements, `row_bytes` apart.
struct WeightView {
  GgmlType type = GgmlType::kF32;
  const uint8_t* data = nullptr;
  int64_t rows = 0;  // output features
  int64_t cols = 0;  // input features (the fastest-varying GGUF dimension)
  uint64_t row_bytes = 0;
};

// The activation format llama.cpp's CPU backend pairs with a weight type ("vec_dot_type").
GgmlType activation_type_for(GgmlType weight_type);

// Rounds x[n] in place to what the dot product with a weight of this type sees (its activation format; Q8_1's
// block-sum term aside: the codes are Q8_0's). The MLA latent is rounded so before it is cached.
void round_like_activation(GgmlType weight_type, float* x, int64_t n);

// y[t, r] = sum_i W[r, i] * a(x[t, i]) for t < n_tokens, where a() rounds activations as llama.cpp does.
// x: [n_tokens, w.cols] row-major; y: [n_tokens, w.rows] row-major. Rows [row_begin, row_end) only.
// How many leading tokens of an n-token matmul llama.cpp's x86 backend multiplies in its four-row Q4_K kernel
// (rounding once per 64 elements); the rest go through its one-row kernel (once per 256). See ref_matmul.cpp.
inline int64_t q4_k_grouped_tokens(int64_t n_tokens) { return n_tokens - n_tokens % 4; }

// llama.cpp's x86 (AVX2) sum for the signed 32-element formats (Q4_0, Q5_0, Q8_0, IQ4_NL) against Q8_0
// activations: per block the 32 code products are summed exactly in eight lanes of four neighbours, each lane
// accumulates fma(d_w * d_a, lane sum, acc), and the lanes are added at the end as its horizontal sum does,
// ((0 + 4) + (2 + 6)) + ((1 + 5) + (3 + 7)). The reference and the scalar kernel sum this way, so a last-bit
// difference cannot flip an 8-bit activation code downstream (see the Q4_K note in ref_matmul.cpp).
struct Block32LlamaSum {
  float lane[8] = {};
  void add(float d, const int8_t* qw, const int8_t* qa) {
    for (int l = 0; l < 8; ++l) {
      int32_t s = 0;
      for (int i = 4 * l; i < 4 * l + 4; ++i) s += qw[i] * qa[i];
      lane[l] = std::fma(d, static_cast<float>(s), lane[l]);
    }
  }
  float total() const {
    return ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
  }
};

void matmul_ref(const WeightView& w, const float* x, int64_t n_tokens, float* y, int64_t row_begin, int64_t row_end);

// Decodes row r of a weight matrix into dst[w.cols] (embedding lookups).
void weight_row_ref(const WeightView& w, int64_t r, float* dst);

}  // namespace r1
