// Small helpers shared by the format files: unaligned block load/store, fp16 fields, ggml's rounding, and
// the scale solvers (make_*_quants) that the K-quants, legacy importance paths and i-quants all use.
#pragma once

#include <cstdint>
#include <cstring>

#include "half.h"

namespace r1 {

template <typename Block>
inline Block load_block(const void* base, int64_t index) {
  Block b;
  std::memcpy(&b, static_cast<const uint8_t*>(base) + index * static_cast<int64_t>(sizeof(Block)), sizeof(Block));
  return b;
}

template <typename Block>
inline void store_block(void* base, int64_t index, const Block& b) {
  std::memcpy(static_cast<uint8_t*>(base) + index * static_cast<int64_t>(sizeof(Block)), &b, sizeof(Block));
}

inline float f16(uint16_t h) { return fp16_to_fp32(h); }
inline uint16_t to_f16(float f) { return fp32_to_fp16(f); }
// The value a float becomes after a round trip through fp16 (what a decoder will see).
inline float round_f16(float f) { return fp16_to_fp32(fp32_to_fp16(f)); }

// Round to nearest, ties to even, for |x| < 2^22: ggml's nearest_int (the magic-number trick). The quantizers
// must round exactly as ggml does to land on the same codes, so this is not std::lround (ties away).
inline int nearest_int(float x) {
  const float shifted = x + 12582912.f;  // 1.5 * 2^23: the integer lands in the low mantissa bits
  int32_t bits;
  std::memcpy(&bits, &shifted, sizeof bits);
  return (bits & 0x007fffff) - 0x00400000;
}

// Nearest entry of a sorted table of n values (ties to the lower entry), as ggml's best_index_int8.
int best_index_sorted(int n, const int8_t* values, float x);

// Scale solvers. Each chooses codes L for the n values x and returns the scale (and for the asymmetric ones the
// negated minimum in *neg_min) minimizing a weighted squared (or absolute) error; names and knobs follow ggml's
// make_qx_quants, make_q3_quants, make_qkx2_quants, make_qkx3_quants and make_qp_quants, whose searches they
// reproduce so that r1 files match llama.cpp's in quality.
//
// Symmetric, codes in [0, 2*nmax): x ≈ scale * (L - nmax). rmse_type 1: weights x², or weights w when given.
float make_qx_quants(int n, int nmax, const float* x, int8_t* L, int rmse_type, const float* w);
// Symmetric 3-bit search with coordinate-descent refinement, codes in [0, 2*nmax).
float make_q3_quants(int n, int nmax, const float* x, int8_t* L, bool do_rmse);
// Asymmetric, codes in [0, nmax]: x ≈ scale * L - *neg_min. Weights required.
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* neg_min,
                       uint8_t* L_aux, float rmin, float rdelta, int nstep, bool use_mad);
// As make_qkx2_quants, but weights may be null (then x²) and an all-equal block is handled.
float make_qkx3_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* neg_min,
                       uint8_t* L_aux, float rmin, float rdelta, int nstep, bool use_mad);
// Non-negative values (block scales) to codes in [0, nmax] with weights.
float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* weights);

}  // namespace r1
