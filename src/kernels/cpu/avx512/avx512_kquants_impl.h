// The K-quant prompt kernels with AVX-512 VNNI, sixteen rows per vector and one int32 lane per row, so each
// broadcast activation word feeds sixteen rows through one vpdpbusd (the AVX2 kernels need vpmaddubsw and an
// add for eight). Each keeps the float operations of the AVX2 kernel it replaces, so the same bits:
// - Q4_K: as dot_q4_k_llama_order (ref_matmul.cpp): a code × activation sum per 32-element sub-block, exact in
//   int32, times its scale; one fused multiply-add per 64 elements for the grouped tokens, per super-block for
//   the others (the reference's bits).
// - Q6_K: as the AVX2 Q6KRows8Kernel: the whole super-block's integer total per row (the -32 offset taken off
//   through the activations' sums per 16), rounded once.
// Decode goes to the eight-row kernels of avx512_decode.h; the AVX2 kernels take every other call these do not
// (`--repack off`, the last n_rows % 16 rows).
//
// Compiled twice: natively in avx512_kquants.cpp, and with R1_AVX512_EMULATED in tests/kernels, where
// R1_AVX512_NS names another namespace, so machines without AVX-512 test these exact loops too.
#pragma once

#include "avx512_decode.h"
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

// Rows w, w + w_stride, ... (sixteen), super-blocks [0, nb) of them, into out[0, nb). Each row's block is
// read as three 64-byte vectors and the sixteen rows transposed, so lane r of every vector below is row r:
// head[0] = d | dmin << 16, head[1..3] = the 12 scale bytes, head[4..15] and the rest = the 32 code words.
inline void pack(const uint8_t* w, uint64_t w_stride, int64_t nb, Packed* out) {
  const I512 nibbles = v512::set1_i(0x0F0F0F0F), six = v512::set1_i(0x3F3F3F3F), two = v512::set1_i(0x03030303);
  const I512 byte0 = v512::set1_i(0xFF), byte2 = v512::set1_i(0xFF0000);
  for (int64_t ib = 0; ib < nb; ++ib) {
    Packed& o = out[ib];
    I512 head[16], mid[16], tail[16];  // block bytes 0..63, 64..127, 80..143 (no read past the block)
    for (int r = 0; r < 16; ++r) {
      const uint8_t* b = w + static_cast<uint64_t>(r) * w_stride + static_cast<uint64_t>(ib) * kWeightBytes;
      head[r] = v512::loadu_i(b);
      mid[r] = v512::loadu_i(b + 64);
      tail[r] = v512::loadu_i(b + kWeightBytes - 64);
    }
    v512::transpose16(head);
    v512::transpose16(mid);
    v512::transpose16(tail);
    v512::store_f(o.d, v512::half_lo_to_f(head[0]));
    v512::store_f(o.dmin, v512::half_lo_to_f(v512::srli_i<16>(head[0])));
    // unpack_k4_scales, sixteen rows at once: byte j of sc_lo is scale j, of sc_hi scale 4 + j; the same for mins.
    const I512 a = head[1], b = head[2], c = head[3];
    const I512 sc_lo = v512::and_i(a, six);
    const I512 sc_hi = v512::or_i(v512::and_i(c, nibbles), v512::slli_i<4>(v512::and_i(v512::srli_i<6>(a), two)));
    const I512 mn_lo = v512::and_i(b, six);
    const I512 mn_hi = v512::or_i(v512::and_i(v512::srli_i<4>(c), nibbles),
                                  v512::slli_i<4>(v512::and_i(v512::srli_i<6>(b), two)));
    const I512 scales[2] = {sc_lo, sc_hi};
    for (int h = 0; h < 2; ++h) {
      v512::store_i(o.sc[4 * h], v512::and_i(scales[h], byte0));
      v512::store_i(o.sc[4 * h + 1], v512::and_i(v512::srli_i<8>(scales[h]), byte0));
      v512::store_i(o.sc[4 * h + 2], v512::and_i(v512::srli_i<16>(scales[h]), byte0));
      v512::store_i(o.sc[4 * h + 3], v512::srli_i<24>(scales[h]));
    }
    // Mins 2k and 2k + 1 as two int16: bytes 0 and 1 of a word to bits 0 and 16, bytes 2 and 3 likewise.
    const I512 mins[2] = {mn_lo, mn_hi};
    for (int h = 0; h < 2; ++h) {
      const I512 m = mins[h];
      v512::store_i(o.mn[2 * h], v512::or_i(v512::and_i(m, byte0), v512::and_i(v512::slli_i<8>(m), byte2)));
      v512::store_i(o.mn[2 * h + 1],
                    v512::or_i(v512::and_i(v512::srli_i<16>(m), byte0), v512::and_i(v512::srli_i<8>(m), byte2)));
    }
    // Code word q = 8c + i (block bytes 16 + 4q): low nibbles are sub-block 2c, high nibbles 2c + 1.
    for (int q = 0; q < 32; ++q) {
      const I512 word = q < 12 ? head[4 + q] : q < 28 ? mid[q - 12] : tail[q - 16];
      const int c = q / 8, i = q % 8;
      v512::store_i(o.qs[16 * c + i], v512::and_i(word, nibbles));
      v512::store_i(o.qs[16 * c + 8 + i], v512::and_i(v512::srli_i<4>(word), nibbles));
    }
  }
}

// Sixteen packed rows against NT tokens, adding super-blocks [0, nb) into st[0, NT). kPerSpan: one rounding
// per 64 elements (the grouped tokens), otherwise one per super-block.
template <int NT, bool kPerSpan>
R1_V512_INLINE void tile(const Packed* w, int64_t nb, const uint8_t* a, uint64_t a_stride, State* st,
                         bool first) {
  F512 acc[NT], accm[NT];
  for (int t = 0; t < NT; ++t) {
    acc[t] = first ? v512::zero_f() : v512::load_f(st[t].acc);
    accm[t] = first ? v512::zero_f() : v512::load_f(st[t].accm);
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
                     int64_t grouped_tokens, bool first) {
    int64_t t = 0;
    for (; t + 4 <= grouped_tokens; t += 4) {
      tile<4, true>(w, nb, act + static_cast<uint64_t>(t) * a_stride, a_stride, st + t, first);
    }
    for (; t < n_tokens; ++t) {
      tile<1, false>(w, nb, act + static_cast<uint64_t>(t) * a_stride, a_stride, st + t, first);
    }
  }
  static void finish(const State& st, float* y) {
    v512::store_f(y, v512::sub_f(v512::load_f(st.acc), v512::load_f(st.accm)));
  }
};

// Decode (the ungrouped tokens) through the eight-row VNNI kernel, the rest through AVX2.
void dot(const DotArgs& a) noexcept { dot_rows16<Kernel>(a, rest_of<GgmlType::kQ4_K, decode8::q4k_ungrouped>); }

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

  // unpack_q6_k for sixteen rows at once: each row's block read as 64-byte vectors and the rows transposed,
  // so lane r of every vector is row r. A code word joins a word of ql (low or high nibbles) and two bits of
  // each byte of a word of qh.
  static void pack(const uint8_t* w, uint64_t w_stride, int64_t nb, Packed* out) {
    const I512 nibbles = v512::set1_i(0x0F0F0F0F), two = v512::set1_i(0x03030303), low16 = v512::set1_i(0xFFFF);
    for (int64_t ib = 0; ib < nb; ++ib) {
      Packed& o = out[ib];
      I512 ql[2][16], qh[16], sc[16];  // block bytes 0..63, 64..127 (ql), 128..191 (qh), 144..207 (scales last)
      alignas(64) int32_t d_bits[16];
      for (int r = 0; r < 16; ++r) {
        const uint8_t* b = w + static_cast<uint64_t>(r) * w_stride + static_cast<uint64_t>(ib) * kWeightBytes;
        ql[0][r] = v512::loadu_i(b + offsetof(BlockQ6_K, ql));
        ql[1][r] = v512::loadu_i(b + offsetof(BlockQ6_K, ql) + 64);
        qh[r] = v512::loadu_i(b + offsetof(BlockQ6_K, qh));
        sc[r] = v512::loadu_i(b + offsetof(BlockQ6_K, scales) - 48);
        d_bits[r] = load_u16(b + offsetof(BlockQ6_K, d));
      }
      v512::transpose16(ql[0]);
      v512::transpose16(ql[1]);
      v512::transpose16(qh);
      v512::transpose16(sc);
      v512::store_f(o.d, v512::half_lo_to_f(v512::load_i(d_bits)));
      // Elements 32j + 4i .. 32j + 4i + 3 (word 8j + i): ql word 16h + 8(k & 1) + i, qh word 8h + i, h = j / 4,
      // k = j % 4 (ql's low nibbles for k < 2, its high ones after; qh's bits 2k, 2k + 1 of each byte).
      for (int j = 0; j < 8; ++j) {
        const int h = j / 4, k = j % 4;
        for (int i = 0; i < 8; ++i) {
          const int lw = 16 * h + 8 * (k & 1) + i;
          const I512 lo = ql[lw / 16][lw % 16], hi = qh[8 * h + i];
          const I512 low = k < 2 ? v512::and_i(lo, nibbles) : v512::and_i(v512::srli_i<4>(lo), nibbles);
          I512 top = hi;
          if (k == 1) top = v512::srli_i<2>(hi);
          if (k == 2) top = v512::srli_i<4>(hi);
          if (k == 3) top = v512::srli_i<6>(hi);
          v512::store_i(o.q[8 * j + i], v512::or_i(low, v512::slli_i<4>(v512::and_i(top, two))));
        }
      }
      // The sixteen signed scales (sc[12 .. 15], four bytes each), and pairs of them × 32 as two int16.
      I512 s[16];
      for (int m = 0; m < 16; ++m) {
        const I512 word = sc[12 + m / 4];
        switch (m % 4) {
          case 0: s[m] = v512::srai_i<24>(v512::slli_i<24>(word)); break;
          case 1: s[m] = v512::srai_i<24>(v512::slli_i<16>(word)); break;
          case 2: s[m] = v512::srai_i<24>(v512::slli_i<8>(word)); break;
          default: s[m] = v512::srai_i<24>(word); break;
        }
        v512::store_i(o.sc[m], s[m]);
      }
      for (int p = 0; p < 8; ++p) {
        const I512 lo = v512::and_i(v512::slli_i<5>(s[2 * p]), low16);  // 32 × scale 2p, low int16
        v512::store_i(o.off[p], v512::or_i(lo, v512::slli_i<21>(s[2 * p + 1])));  // 32 × scale 2p + 1, high
      }
    }
  }

  template <int NT>
  static R1_V512_INLINE void tile(const Packed* w, int64_t nb, const uint8_t* a, uint64_t a_stride, State* st,
                         bool first) {
    F512 acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = first ? v512::zero_f() : v512::load_f(st[t].acc);
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
                     int64_t, bool first) {
    int64_t t = 0;
    for (; t + 4 <= n_tokens; t += 4) {
      tile<4>(w, nb, act + static_cast<uint64_t>(t) * a_stride, a_stride, st + t, first);
    }
    for (; t < n_tokens; ++t) {
      tile<1>(w, nb, act + static_cast<uint64_t>(t) * a_stride, a_stride, st + t, first);
    }
  }

  static void finish(const State& st, float* y) { v512::store_f(y, v512::load_f(st.acc)); }
};

// Calls of fewer than four tokens through the eight-row VNNI kernel, the rest through AVX2.
void dot(const DotArgs& a) noexcept { dot_rows16<Kernel>(a, rest_of<GgmlType::kQ6_K, decode8::q6k_few_tokens>); }

}  // namespace q6k16
}  // namespace

namespace R1_AVX512_NS {
void register_kquants(KernelTable& t) {
  t.dot[static_cast<size_t>(GgmlType::kQ4_K)] = q4k16::dot;
  t.dot[static_cast<size_t>(GgmlType::kQ6_K)] = q6k16::dot;
  t.prompt_rows[static_cast<size_t>(GgmlType::kQ4_K)] = kRows16CallRows;
  t.prompt_rows[static_cast<size_t>(GgmlType::kQ6_K)] = kRows16CallRows;
  // Copies of 2.2 and 1.7 times the file's bytes that prompts of 512 tokens read no faster than they pack per call
  // (gains at 8 tokens): `--repack on` makes them, auto does not.
  t.packer[static_cast<size_t>(GgmlType::kQ4_K)] = rows16_packer<q4k16::Kernel>(false);
  t.packer[static_cast<size_t>(GgmlType::kQ6_K)] = rows16_packer<q6k16::Kernel>(false);
}
}  // namespace R1_AVX512_NS

}  // namespace r1::cpu
