// The packed on-disk block of every GGUF block format, with its size pinned, and the per-family entry points
// that quant_dispatch.cpp puts in the codec table. Code outside src/quant uses quant_row.h instead.
#pragma once

#include <cstdint>

namespace r1 {

constexpr int kQK_K = 256;  // elements per super-block (K-quants, i-quants, ternary)

// Every block is a plain byte layout; fp16 fields are stored as their raw bits (little-endian, as in the file).
struct BlockQ4_0 {
  uint16_t d;       // scale
  uint8_t qs[16];   // 4-bit codes: byte j holds element j (low nibble) and j+16 (high nibble)
};
struct BlockQ4_1 {
  uint16_t d, m;    // scale and minimum
  uint8_t qs[16];
};
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];    // fifth bit of element j at bit j
  uint8_t qs[16];
};
struct BlockQ5_1 {
  uint16_t d, m;
  uint8_t qh[4];
  uint8_t qs[16];
};
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[32];
};
struct BlockQ8_1 {  // activations only: paired with Q4_1/Q5_1 weights
  uint16_t d;       // scale (fp16)
  uint16_t s;       // fp16(d * sum of qs), the offset term of the Q4_1/Q5_1 dot products
  int8_t qs[32];
};
struct BlockQ2_K {
  uint8_t scales[16];  // low nibble: scale, high nibble: min, per 16 elements
  uint8_t qs[64];
  uint16_t d, dmin;
};
struct BlockQ3_K {
  uint8_t hmask[32];
  uint8_t qs[64];
  uint8_t scales[12];  // sixteen 6-bit scales
  uint16_t d;
};
struct BlockQ4_K {
  uint16_t d, dmin;
  uint8_t scales[12];  // eight 6-bit scales and eight 6-bit mins
  uint8_t qs[128];
};
struct BlockQ5_K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qh[32];
  uint8_t qs[128];
};
struct BlockQ6_K {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint16_t d;
};
struct BlockQ8_K {
  float d;
  int8_t qs[256];
  int16_t bsums[16];  // sum of each 16 codes
};
struct BlockIq2Xxs {
  uint16_t d;
  uint16_t qs[32];
};
struct BlockIq2Xs {
  uint16_t d;
  uint16_t qs[32];
  uint8_t scales[8];
};
struct BlockIq2S {
  uint16_t d;
  uint8_t qs[64];  // 32 grid index bytes, then 32 sign bytes
  uint8_t qh[8];
  uint8_t scales[8];
};
struct BlockIq3Xxs {
  uint16_t d;
  uint8_t qs[96];  // 64 grid index bytes, then 8 × uint32 of (4 × 7 sign bits, 4-bit scale)
};
struct BlockIq3S {
  uint16_t d;
  uint8_t qs[64];
  uint8_t qh[8];
  uint8_t signs[32];
  uint8_t scales[4];
};
struct BlockIq1S {
  uint16_t d;
  uint8_t qs[32];
  uint16_t qh[8];
};
struct BlockIq1M {
  uint8_t qs[32];
  uint8_t qh[16];
  uint8_t scales[8];  // 3-bit block scales; the fp16 super-scale is spread over the top nibbles
};
struct BlockIq4Nl {
  uint16_t d;
  uint8_t qs[16];
};
struct BlockIq4Xs {
  uint16_t d;
  uint16_t scales_h;
  uint8_t scales_l[4];
  uint8_t qs[128];
};
struct BlockTq1_0 {
  uint8_t qs[48];  // 5 trits per byte
  uint8_t qh[4];   // 4 trits per byte
  uint16_t d;
};
struct BlockTq2_0 {
  uint8_t qs[64];
  uint16_t d;
};
struct BlockMxfp4 {
  uint8_t e;  // E8M0 shared exponent
  uint8_t qs[16];
};
struct BlockNvfp4 {
  uint8_t d[4];  // UE4M3 scale per 16 elements
  uint8_t qs[32];
};
struct BlockQ1_0 {
  uint16_t d;
  uint8_t qs[16];
};
struct BlockQ2_0 {
  uint16_t d;
  uint8_t qs[16];
};

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);
static_assert(sizeof(BlockIq2Xxs) == 66);
static_assert(sizeof(BlockIq2Xs) == 74);
static_assert(sizeof(BlockIq2S) == 82);
static_assert(sizeof(BlockIq3Xxs) == 98);
static_assert(sizeof(BlockIq3S) == 110);
static_assert(sizeof(BlockIq1S) == 50);
static_assert(sizeof(BlockIq1M) == 56);
static_assert(sizeof(BlockIq4Nl) == 18);
static_assert(sizeof(BlockIq4Xs) == 136);
static_assert(sizeof(BlockTq1_0) == 54);
static_assert(sizeof(BlockTq2_0) == 66);
static_assert(sizeof(BlockMxfp4) == 17);
static_assert(sizeof(BlockNvfp4) == 36);
static_assert(sizeof(BlockQ1_0) == 18);
static_assert(sizeof(BlockQ2_0) == 18);

// Per-family entry points. Dequantizers take a count of blocks; quantizers take one row of n elements (a
// multiple of the block size, checked by the caller) and the row's importance weights (n values or null).
// src and dst need no alignment: callers hand in arbitrary byte offsets (a row of 17-byte MXFP4 blocks, a
// user buffer), so the format code copies each block into a local struct with memcpy (load_block/store_block).
#define R1_QUANT_DECLARE(name)                                                          \
  void dequantize_##name(const void* src, float* dst, int64_t n_blocks);               \
  void quantize_##name(const float* src, void* dst, int64_t n, const float* importance)

R1_QUANT_DECLARE(q4_0);
R1_QUANT_DECLARE(q4_1);
R1_QUANT_DECLARE(q5_0);
R1_QUANT_DECLARE(q5_1);
R1_QUANT_DECLARE(q8_0);
R1_QUANT_DECLARE(q2_k);
R1_QUANT_DECLARE(q3_k);
R1_QUANT_DECLARE(q4_k);
R1_QUANT_DECLARE(q5_k);
R1_QUANT_DECLARE(q6_k);
R1_QUANT_DECLARE(q8_k);
R1_QUANT_DECLARE(iq2_xxs);
R1_QUANT_DECLARE(iq2_xs);
R1_QUANT_DECLARE(iq2_s);
R1_QUANT_DECLARE(iq3_xxs);
R1_QUANT_DECLARE(iq3_s);
R1_QUANT_DECLARE(iq1_s);
R1_QUANT_DECLARE(iq1_m);
R1_QUANT_DECLARE(iq4_nl);
R1_QUANT_DECLARE(iq4_xs);
R1_QUANT_DECLARE(tq1_0);
R1_QUANT_DECLARE(tq2_0);
R1_QUANT_DECLARE(mxfp4);
R1_QUANT_DECLARE(nvfp4);
R1_QUANT_DECLARE(q1_0);
R1_QUANT_DECLARE(q2_0);

#undef R1_QUANT_DECLARE

}  // namespace r1
