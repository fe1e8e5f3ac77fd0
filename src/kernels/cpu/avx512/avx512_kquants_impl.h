// The K-quant prompt kernels with AVX-512 VNNI, sixteen rows per vector and one int32 lane per row, so each
// broadcast activation word feeds sixteen rows through one vpdpbusd (the AVX2 kernels need vpmaddubsw and an
// add for eight). Each keeps the float operations of the AVX2 kernel it replaces, so the same bits:
// - Q4_K: as dot_q4_k_llama_order (ref_matmul.cpp): a code × activation sum per 32-element sub-block, exact in
//   int32, times its scale; one fused multiply-add per 64 elements for the grouped tokens, per super-block for
//   the others (the reference's bits).
// - Q6_K: as the AVX2 Q6KRows8Kernel: the whole super-block's integer total per row (the -32 offset taken off
//   through the activations' sums per 16), rounded once.
// The AVX2 kernels take every call these do not (decode, fewer than four tokens, `--repack off`, the last
// n_rows % 16 rows).
//
// Compiled twice: natively in avx512_kquants.cpp, and with R1_AVX512_EMULATED in tests/kernels, where
// R1_AVX512_NS names another namespace, so machines without AVX-512 test these exact loops too.
#pragma once

#include "avx512_rows16.h"

namespace r1::cpu {
namespace {
namespace q4k16 {

using v512::I512;
using v512::F512;

constexpr size_t kWeightBytes = sizeof(BlockQ4_K);  // 144

// Sixteen rows of one super-block, transposed so that int32 lane r belongs to row r.
struct alignas(64) Packed {
  int32_t qs[64][16];  // [sub-block j][word i]: codes 4i .. 4i + 3 of sub-block j of row r, one byte each
  int32_t sc[8][16];   // scale of sub-block j
  int32_t mn[4][16];   // mins of sub-blocks 2k (low int16) and 2k + 1 (high int16)
  float d[16];
  float dmin[16];
};

struct alignas(64) State {
  float acc[16];
  float accm[16];
};

// Rows w, w + w_stride, ... (sixteen), super-blocks [0, nb) of them, into out[0, nb).
inline void pack(const uint8_t* w, uint64_t w_stride, int64_t nb, Packed* out) {
  for (int64_t ib = 0; ib < nb; ++ib) {
    Packed& o = out[ib];
    for (int r = 0; r < 16; ++r) {
      const uint8_t* b = w + static_cast<uint64_t>(r) * w_stride + static_cast<uint64_t>(ib) * kWeightBytes;
      uint8_t s8[8], m8[8];
      unpack_k4_scales(b + 4, s8, m8);
      for (int j = 0; j < 8; ++j) o.sc[j][r] = s8[j];
      for (int k = 0; k < 4; ++k) o.mn[k][r] = static_cast<int32_t>(m8[2 * k] | static_cast<uint32_t>(m8[2 * k + 1]) << 16);
      o.d[r] = half_to_float(load_u16(b));
      o.dmin[r] = half_to_float(load_u16(b + 2));
      // 32 bytes per pair of sub-blocks: low nibbles are sub-block 2c, high nibbles 2c + 1.
      for (int c = 0; c < 4; ++c) {
        for (int i = 0; i < 8; ++i) {
          const uint32_t word = load_u32(b + 16 + 32 * c + 4 * i);
          o.qs[16 * c + i][r] = static_cast<int32_t>(word & 0x0F0F0F0Fu);
          o.qs[16 * c + 8 + i][r] = static_cast<int32_t>((word >> 4) & 0x0F0F0F0Fu);
        }
      }
    }
  }
}

// Sixteen packed rows against NT tokens, adding super-blocks [0, nb) into st[0, NT). kPerSpan: one rounding
// per 64 elements (the grouped tokens), otherwise one per super-block.
template <int NT, bool kPerSpan>
R1_V512_INLINE void tile(const Packed* w, int64_t nb, const uint8_t* a, uint64_t a_stride, State* st) {
  F512 acc[NT], accm[NT];
  for (int t = 0; t < NT; ++t) {
    acc[t] = v512::load_f(st[t].acc);
    accm[t] = v512::load_f(st[t].accm);
  }
  for (int64_t ib = 0; ib < nb; ++ib) {
    const Packed& b = w[ib];
    const uint8_t* ab = a + static_cast<uint64_t>(ib) * kQ8_KBytes;
    F512 dd[NT], dm[NT];
    int32_t pair[NT][4];  // span k: the activation sums of sub-blocks 2k, 2k + 1 as two int16 (|sum| <= 32 × 128)
    I512 isum[NT], imin[NT];
    for (int t = 0; t < NT; ++t) {
      const uint8_t* at = ab + static_cast<uint64_t>(t) * a_stride;
      const F512 da = v512::set1_f(load_f32(at));
      dd[t] = v512::mul_f(v512::load_f(b.d), da);
      dm[t] = v512::mul_f(v512::load_f(b.dmin), da);
      int16_t bs[16];
      std::memcpy(bs, at + kQ8_KBsumsOffset, sizeof bs);
      for (int k = 0; k < 4; ++k) {
        const auto lo = static_cast<uint16_t>(bs[4 * k] + bs[4 * k + 1]);
        const auto hi = static_cast<uint16_t>(bs[4 * k + 2] + bs[4 * k + 3]);
        pair[t][k] = static_cast<int32_t>(lo | static_cast<uint32_t>(hi) << 16);
      }
      isum[t] = imin[t] = v512::zero_i();
    }
    for (int k = 0; k < 4; ++k) {
      I512 s[NT], h[NT];
      for (int t = 0; t < NT; ++t) s[t] = h[t] = v512::zero_i();
      for (int i = 0; i < 8; ++i) {
        const I512 lo = v512::load_i(b.qs[16 * k + i]);
        const I512 hi = v512::load_i(b.qs[16 * k + 8 + i]);
        for (int t = 0; t < NT; ++t) {
          const uint8_t* q = ab + static_cast<uint64_t>(t) * a_stride + kQ8_KQsOffset + 64 * k + 4 * i;
          s[t] = v512::dpbusd(s[t], lo, v512::bcast4(q));
          h[t] = v512::dpbusd(h[t], hi, v512::bcast4(q + 32));
        }
      }
      const I512 sc_lo = v512::load_i(b.sc[2 * k]), sc_hi = v512::load_i(b.sc[2 * k + 1]);
      const I512 mn = v512::load_i(b.mn[k]);
      for (int t = 0; t < NT; ++t) {
        const I512 span = v512::add_i(v512::mullo(s[t], sc_lo), v512::mullo(h[t], sc_hi));
        const I512 mins = v512::madd16(mn, v512::set1_i(pair[t][k]));
        if constexpr (kPerSpan) {
          acc[t] = v512::fmadd_f(v512::cvt_f(span), dd[t], acc[t]);
          accm[t] = v512::fmadd_f(v512::cvt_f(mins), dm[t], accm[t]);
        } else {
          isum[t] = v512::add_i(isum[t], span);
          imin[t] = v512::add_i(imin[t], mins);
        }
      }
    }
    if constexpr (!kPerSpan) {
      for (int t = 0; t < NT; ++t) {
        acc[t] = v512::fmadd_f(v512::cvt_f(isum[t]), dd[t], acc[t]);
        accm[t] = v512::fmadd_f(v512::cvt_f(imin[t]), dm[t], accm[t]);
      }
    }
  }
  for (int t = 0; t < NT; ++t) {
    v512::store_f(st[t].acc, acc[t]);
    v512::store_f(st[t].accm, accm[t]);
  }
}

// dot_rows16's kernel: the grouped tokens four at a time (per-span rounding), the others one at a time.
struct Kernel {
  using Packed = q4k16::Packed;
  using State = q4k16::State;
  static constexpr int64_t kBlock = 256;
  static constexpr size_t kWeightBytes = q4k16::kWeightBytes;
  static constexpr size_t kActBytes = kQ8_KBytes;
  static void pack(const uint8_t* w, uint64_t w_stride, int64_t nb, Packed* out) { q4k16::pack(w, w_stride, nb, out); }
  static void tokens(const Packed* w, int64_t nb, const uint8_t* act, uint64_t a_stride, State* st, int64_t n_tokens,
                     int64_t grouped_tokens) {
    int64_t t = 0;
    for (; t + 4 <= grouped_tokens; t += 4) tile<4, true>(w, nb, act + static_cast<uint64_t>(t) * a_stride, a_stride, st + t);
    for (; t < n_tokens; ++t) tile<1, false>(w, nb, act + static_cast<uint64_t>(t) * a_stride, a_stride, st + t);
  }
  static void finish(const State& st, float* y) {
    v512::store_f(y, v512::sub_f(v512::load_f(st.acc), v512::load_f(st.accm)));
  }
};

// Decode (the ungrouped tokens) natively through the eight-row VNNI kernel, the rest through AVX2.
void dot(const DotArgs& a) noexcept { dot_rows16<Kernel>(a, rest_of<GgmlType::kQ4_K, avx512::dot_q4k_ungrouped>); }

}  // namespace q4k16

namespace q6k16 {

using v512::F512;
using v512::I512;

struct alignas(64) Packed {
  int32_t q[64][16];   // [group m of 16][word i]: codes 16m + 4i .. 16m + 4i + 3 of row r (0..63), a byte each
  int32_t sc[16][16];  // the (signed) scale of group m
  int32_t off[8][16];  // groups 2p, 2p + 1: 32 × their scales as two int16
  float d[16];
};

struct alignas(64) State {
  float acc[16];
};

struct Kernel {
  using Packed = q6k16::Packed;
  using State = q6k16::State;
  static constexpr int64_t kBlock = 256;
  static constexpr size_t kWeightBytes = sizeof(BlockQ6_K);
  static constexpr size_t kActBytes = kQ8_KBytes;

  static void pack(const uint8_t* w, uint64_t w_stride, int64_t nb, Packed* out) {
    for (int64_t ib = 0; ib < nb; ++ib) {
      Packed& o = out[ib];
      for (int r = 0; r < 16; ++r) {
        SuperBlockCodes c;
        unpack_q6_k(w + static_cast<uint64_t>(r) * w_stride + static_cast<uint64_t>(ib) * kWeightBytes, c);
        o.d[r] = c.d;
        for (int m = 0; m < 16; ++m) o.sc[m][r] = c.sc[m];
        for (int p = 0; p < 8; ++p) {
          o.off[p][r] = static_cast<int32_t>(static_cast<uint16_t>(c.off[2 * p]) |
                                             static_cast<uint32_t>(static_cast<uint16_t>(c.off[2 * p + 1])) << 16);
        }
        for (int k = 0; k < 64; ++k) {
          o.q[k][r] = static_cast<int32_t>(load_u32(reinterpret_cast<const uint8_t*>(c.q + 4 * k)));
        }
      }
    }
  }

  template <int NT>
  static R1_V512_INLINE void tile(const Packed* w, int64_t nb, const uint8_t* a, uint64_t a_stride, State* st) {
    F512 acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = v512::load_f(st[t].acc);
    for (int64_t ib = 0; ib < nb; ++ib) {
      const Packed& b = w[ib];
      const uint8_t* ab = a + static_cast<uint64_t>(ib) * kQ8_KBytes;
      I512 isum[NT];
      for (int t = 0; t < NT; ++t) {
        // The offset first: lane r = -(sum over the 16 groups of 32 × scale × the activations' sum).
        const uint8_t* bs = ab + static_cast<uint64_t>(t) * a_stride + kQ8_KBsumsOffset;
        I512 o = v512::zero_i();
        for (int p = 0; p < 8; ++p) o = v512::add_i(o, v512::madd16(v512::load_i(b.off[p]), v512::bcast4(bs + 4 * p)));
        isum[t] = v512::sub_i(v512::zero_i(), o);
      }
      for (int m = 0; m < 16; ++m) {
        I512 words[4];
        for (int i = 0; i < 4; ++i) words[i] = v512::load_i(b.q[4 * m + i]);
        const I512 sc = v512::load_i(b.sc[m]);
        for (int t = 0; t < NT; ++t) {
          const uint8_t* q = ab + static_cast<uint64_t>(t) * a_stride + kQ8_KQsOffset + 16 * m;
          I512 s = v512::zero_i();
          for (int i = 0; i < 4; ++i) s = v512::dpbusd(s, words[i], v512::bcast4(q + 4 * i));
          isum[t] = v512::add_i(isum[t], v512::mullo(s, sc));
        }
      }
      for (int t = 0; t < NT; ++t) {
        const F512 dd = v512::mul_f(v512::load_f(b.d), v512::set1_f(load_f32(ab + static_cast<uint64_t>(t) * a_stride)));
        acc[t] = v512::fmadd_f(v512::cvt_f(isum[t]), dd, acc[t]);
      }
    }
    for (int t = 0; t < NT; ++t) v512::store_f(st[t].acc, acc[t]);
  }

  static void tokens(const Packed* w, int64_t nb, const uint8_t* act, uint64_t a_stride, State* st, int64_t n_tokens,
                     int64_t) {
    int64_t t = 0;
    for (; t + 4 <= n_tokens; t += 4) tile<4>(w, nb, act + static_cast<uint64_t>(t) * a_stride, a_stride, st + t);
    for (; t < n_tokens; ++t) tile<1>(w, nb, act + static_cast<uint64_t>(t) * a_stride, a_stride, st + t);
  }

  static void finish(const State& st, float* y) { v512::store_f(y, v512::load_f(st.acc)); }
};

// Calls of fewer than four tokens natively through the eight-row VNNI kernel, the rest through AVX2.
void dot(const DotArgs& a) noexcept { dot_rows16<Kernel>(a, rest_of<GgmlType::kQ6_K, avx512::dot_q6k_few_tokens>); }

}  // namespace q6k16
}  // namespace

namespace R1_AVX512_NS {
void register_kquants(KernelTable& t) {
  t.dot[static_cast<size_t>(GgmlType::kQ4_K)] = q4k16::dot;
  t.dot[static_cast<size_t>(GgmlType::kQ6_K)] = q6k16::dot;
}
}  // namespace R1_AVX512_NS

}  // namespace r1::cpu
