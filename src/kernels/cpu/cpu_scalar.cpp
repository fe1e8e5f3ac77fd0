// The portable kernel table: integer block dot products in plain C++ for every weight format with a
// cpu_unpack.h unpacker, and float loops for F32/F16/BF16. Each weight block is unpacked once and reused
// for every token of the call. SIMD variants live in avx2/ and avx512/.
#include <cstring>

#include "cpu_kernel_table.h"
#include "cpu_unpack.h"
#include "half.h"
#include "ref_matmul.h"

namespace r1::cpu {
namespace {

void zero_outputs(const DotArgs& a) {
  for (int64_t t = 0; t < a.n_tokens; ++t) {
    for (int64_t r = 0; r < a.n_rows; ++r) a.y[t * a.y_stride + r] = 0.0f;
  }
}

// Super-block formats against Q8_K activations.
template <void (*Unpack)(const uint8_t*, SuperBlockCodes&), size_t kBlockBytes>
void dot_super_block(const DotArgs& a) noexcept {
  zero_outputs(a);
  const int64_t nb = a.n / 256;
  SuperBlockCodes u;
  for (int64_t r = 0; r < a.n_rows; ++r) {
    const uint8_t* wrow = a.w + r * a.w_stride;
    for (int64_t ib = 0; ib < nb; ++ib) {
      Unpack(wrow + ib * kBlockBytes, u);
      for (int64_t t = 0; t < a.n_tokens; ++t) {
        const uint8_t* blk = a.a + t * a.a_stride + ib * kQ8_KBytes;
        const float da = load_f32(blk);
        const auto* qa = reinterpret_cast<const int8_t*>(blk + kQ8_KQsOffset);
        int32_t isum = 0;
        for (int g = 0; g < 16; ++g) {
          int32_t gs = 0;
          for (int i = 0; i < 16; ++i) gs += u.q[16 * g + i] * qa[16 * g + i];
          isum += gs * u.sc[g];
        }
        float v = u.d * static_cast<float>(isum);
        if (u.has_off) {
          int16_t bsums[16];
          std::memcpy(bsums, blk + kQ8_KBsumsOffset, sizeof bsums);
          int32_t ioff = 0;
          for (int g = 0; g < 16; ++g) ioff += u.off[g] * bsums[g];
          v -= u.doff * static_cast<float>(ioff);
        }
        a.y[t * a.y_stride + r] += da * v;
      }
    }
  }
}

// Q4_K in llama.cpp's float order (see dot_q4_k_llama_order in ref_matmul.cpp): exact integer sums per
// super-block (per 64 elements for the grouped tokens), each through one fused multiply-add into a scale and a
// min accumulator, subtracted at the end. Tokens go in tiles so each weight block is unpacked once per tile.
// __builtin_fmaf, not std::fma: an inline std::fma would be one COMDAT symbol shared with the FMA-compiled
// files (see cpu_unpack.h).
void dot_q4_k(const DotArgs& a) noexcept {
  constexpr int64_t kTile = 16;
  const int64_t nb = a.n / 256;
  SuperBlockCodes u;
  for (int64_t r = 0; r < a.n_rows; ++r) {
    const uint8_t* wrow = a.w + r * a.w_stride;
    for (int64_t t0 = 0; t0 < a.n_tokens; t0 += kTile) {
      const int64_t nt = a.n_tokens - t0 < kTile ? a.n_tokens - t0 : kTile;
      float acc[kTile] = {}, accm[kTile] = {};
      for (int64_t ib = 0; ib < nb; ++ib) {
        unpack_q4_k(wrow + ib * static_cast<int64_t>(sizeof(BlockQ4_K)), u);
        for (int64_t t = 0; t < nt; ++t) {
          const uint8_t* blk = a.a + (t0 + t) * a.a_stride + ib * kQ8_KBytes;
          const float da = load_f32(blk);
          const auto* qa = reinterpret_cast<const int8_t*>(blk + kQ8_KQsOffset);
          int16_t bsums[16];
          std::memcpy(bsums, blk + kQ8_KBsumsOffset, sizeof bsums);
          const int step = t0 + t < a.grouped_tokens ? 4 : 16;  // groups of 16 elements per rounding
          for (int g0 = 0; g0 < 16; g0 += step) {
            int32_t isum = 0, imin = 0;
            for (int g = g0; g < g0 + step; ++g) {
              int32_t gs = 0;
              for (int i = 0; i < 16; ++i) gs += u.q[16 * g + i] * qa[16 * g + i];
              isum += gs * u.sc[g];
              imin += u.off[g] * bsums[g];
            }
            acc[t] = __builtin_fmaf(static_cast<float>(isum), u.d * da, acc[t]);
            accm[t] = __builtin_fmaf(static_cast<float>(imin), u.doff * da, accm[t]);
          }
        }
      }
      for (int64_t t = 0; t < nt; ++t) a.y[(t0 + t) * a.y_stride + r] = acc[t] - accm[t];
    }
  }
}

// 32-element formats against Q8_0 (kQ8_1 false) or Q8_1 activations.
template <void (*Unpack)(const uint8_t*, BlockCodes32&), size_t kBlockBytes, bool kQ8_1>
void dot_block32(const DotArgs& a) noexcept {
  zero_outputs(a);
  const int64_t nb = a.n / 32;
  constexpr size_t kActBytes = kQ8_1 ? kQ8_1Bytes : kQ8_0Bytes;
  constexpr size_t kActQs = kQ8_1 ? 4 : 2;
  BlockCodes32 u;
  if constexpr (!kQ8_1) {
    // Signed formats in llama.cpp's order, bit for bit with the reference (Block32LlamaSum).
    for (int64_t r = 0; r < a.n_rows; ++r) {
      const uint8_t* wrow = a.w + r * a.w_stride;
      for (int64_t t = 0; t < a.n_tokens; ++t) {
        Block32LlamaSum sum;
        for (int64_t ib = 0; ib < nb; ++ib) {
          Unpack(wrow + ib * kBlockBytes, u);
          const uint8_t* blk = a.a + t * a.a_stride + ib * kActBytes;
          sum.add(u.d * half_to_float(load_u16(blk)), u.q, reinterpret_cast<const int8_t*>(blk + kActQs));
        }
        a.y[t * a.y_stride + r] = sum.total();
      }
    }
    return;
  }
  for (int64_t r = 0; r < a.n_rows; ++r) {
    const uint8_t* wrow = a.w + r * a.w_stride;
    for (int64_t ib = 0; ib < nb; ++ib) {
      Unpack(wrow + ib * kBlockBytes, u);
      for (int64_t t = 0; t < a.n_tokens; ++t) {
        const uint8_t* blk = a.a + t * a.a_stride + ib * kActBytes;
        const float da = half_to_float(load_u16(blk));
        const auto* qa = reinterpret_cast<const int8_t*>(blk + kActQs);
        int32_t isum = 0;
        for (int i = 0; i < 32; ++i) isum += u.q[i] * qa[i];
        float v = u.d * da * static_cast<float>(isum);
        if constexpr (kQ8_1) v += u.m * half_to_float(load_u16(blk + 2));
        a.y[t * a.y_stride + r] += v;
      }
    }
  }
}

// Float formats: the weight row is decoded in chunks of 256 into float and reused for every token; the
// activations are float32 values already rounded to the weight's format.
template <GgmlType kType>
void dot_float(const DotArgs& a) noexcept {
  zero_outputs(a);
  float buf[256];
  for (int64_t r = 0; r < a.n_rows; ++r) {
    const uint8_t* wrow = a.w + r * a.w_stride;
    for (int64_t i0 = 0; i0 < a.n; i0 += 256) {
      const int64_t len = a.n - i0 < 256 ? a.n - i0 : 256;
      for (int64_t i = 0; i < len; ++i) {
        if constexpr (kType == GgmlType::kF32) buf[i] = load_f32(wrow + 4 * (i0 + i));
        else if constexpr (kType == GgmlType::kF16) buf[i] = half_to_float(load_u16(wrow + 2 * (i0 + i)));
        else buf[i] = bf16_to_fp32(load_u16(wrow + 2 * (i0 + i)));
      }
      for (int64_t t = 0; t < a.n_tokens; ++t) {
        const auto* x = reinterpret_cast<const float*>(a.a + t * a.a_stride) + i0;
        float s = 0.0f;
        for (int64_t i = 0; i < len; ++i) s += buf[i] * x[i];
        a.y[t * a.y_stride + r] += s;
      }
    }
  }
}

KernelTable make_scalar_table() {
  KernelTable t{};
  t.isa = "scalar";
  auto set = [&t](GgmlType type, DotFn fn) { t.dot[static_cast<size_t>(type)] = fn; };
  set(GgmlType::kF32, dot_float<GgmlType::kF32>);
  set(GgmlType::kF16, dot_float<GgmlType::kF16>);
  set(GgmlType::kBF16, dot_float<GgmlType::kBF16>);
  set(GgmlType::kQ4_0, dot_block32<unpack_q4_0, sizeof(BlockQ4_0), false>);
  set(GgmlType::kQ4_1, dot_block32<unpack_q4_1, sizeof(BlockQ4_1), true>);
  set(GgmlType::kQ5_0, dot_block32<unpack_q5_0, sizeof(BlockQ5_0), false>);
  set(GgmlType::kQ5_1, dot_block32<unpack_q5_1, sizeof(BlockQ5_1), true>);
  set(GgmlType::kQ8_0, dot_block32<unpack_q8_0, sizeof(BlockQ8_0), false>);
  set(GgmlType::kIQ4_NL, dot_block32<unpack_iq4_nl, sizeof(BlockIq4Nl), false>);
  set(GgmlType::kQ2_K, dot_super_block<unpack_q2_k, sizeof(BlockQ2_K)>);
  set(GgmlType::kQ3_K, dot_super_block<unpack_q3_k, sizeof(BlockQ3_K)>);
  set(GgmlType::kQ4_K, dot_q4_k);
  set(GgmlType::kQ5_K, dot_super_block<unpack_q5_k, sizeof(BlockQ5_K)>);
  set(GgmlType::kQ6_K, dot_super_block<unpack_q6_k, sizeof(BlockQ6_K)>);
  set(GgmlType::kIQ4_XS, dot_super_block<unpack_iq4_xs, sizeof(BlockIq4Xs)>);
  set(GgmlType::kIQ2_XXS, dot_super_block<unpack_iq2_xxs, sizeof(BlockIq2Xxs)>);
  set(GgmlType::kIQ2_XS, dot_super_block<unpack_iq2_xs, sizeof(BlockIq2Xs)>);
  set(GgmlType::kIQ2_S, dot_super_block<unpack_iq2_s, sizeof(BlockIq2S)>);
  set(GgmlType::kIQ3_XXS, dot_super_block<unpack_iq3_xxs, sizeof(BlockIq3Xxs)>);
  set(GgmlType::kIQ3_S, dot_super_block<unpack_iq3_s, sizeof(BlockIq3S)>);
  set(GgmlType::kIQ1_S, dot_super_block<unpack_iq1_s, sizeof(BlockIq1S)>);
  set(GgmlType::kIQ1_M, dot_super_block<unpack_iq1_m, sizeof(BlockIq1M)>);
  return t;
}

}  // namespace

const KernelTable& scalar_table() {
  static const KernelTable table = make_scalar_table();
  return table;
}

}  // namespace r1::cpu
