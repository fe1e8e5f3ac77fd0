// The signed 32-element formats (Q4_0, Q5_0, Q8_0, IQ4_NL) against Q8_0 activations, for prompts, with AVX-512
// VNNI: sixteen rows per vector, in llama.cpp's order (Block32LlamaSum, ref_matmul.h) and so with the
// reference's bits. Word i of a block (codes 4i .. 4i + 3) gives, for sixteen rows at once, the exact integer
// sum that is lane i of llama.cpp's one-row kernel; it goes into accumulator i with that kernel's multiply-add,
// and the eight accumulators are added in its horizontal order at the end (as the AVX2 Block32Rows8Kernel does
// for eight rows).
//
// vpdpbusd multiplies unsigned by signed bytes, so the codes are packed as code + 128 (unsigned) and each
// word's sum starts from -128 × the sum of its four activations: sum (w + 128) × a - 128 × sum a = sum w × a,
// exactly, in int32 (no saturation anywhere, unlike vpmaddubsw).
//
// Compiled natively (avx512_block32.cpp) and emulated in tests/kernels, like avx512_kquants_impl.h.
#pragma once

#include "avx512_decode.h"
#include "avx512_rows16.h"

namespace r1::cpu {
namespace {
namespace block32x16 {

using v512::F512;
using v512::I512;

struct alignas(64) Packed {
  int32_t q[8][16];  // word i: codes 4i .. 4i + 3 of row r, each + 128 as an unsigned byte
  float d[16];
};

struct alignas(64) State {
  float acc[8][16];  // llama.cpp's eight lanes, each for sixteen rows
};

// Unpack: one of cpu_unpack.h's unpack_q4_0 / q5_0 / q8_0 / iq4_nl, naming the format (each has its own vector
// packer below).
template <void (*Unpack)(const uint8_t*, BlockCodes32&), size_t kBytes>
struct Kernel {
  static constexpr int64_t kBlock = 32;
  static constexpr size_t kWeightBytes = kBytes;
  // Each Q8_0 activation block prepared once per matmul (prepare): its scale as a float, the eight starting
  // values -128 × each word's sum, then the 32 codes. The tiles then read every operand straight from memory
  // (broadcast loads), where computing these per token and per sixteen rows cost more vector operations than
  // the products themselves.
  static constexpr size_t kActBytes = kPreparedQ8_0Bytes;
  static constexpr size_t kActStart = 4, kActCodes = 36;
  static_assert(kActCodes + 32 == kActBytes);
  using Packed = block32x16::Packed;
  using State = block32x16::State;

  static void pack(const uint8_t* w, uint64_t w_stride, int64_t nb, Packed* out) {
    if constexpr (Unpack == unpack_q8_0) {
      pack_q8_0(w, w_stride, nb, out);
    } else if constexpr (Unpack == unpack_q5_0) {
      pack_q5_0(w, w_stride, nb, out);
    } else {
      static_assert(Unpack == unpack_q4_0 || Unpack == unpack_iq4_nl, "a format without a vector packer");
      // Each nibble's byte in the packed word: its code + 128 (Q4_0: nibble - 8; IQ4_NL: the table's value).
      alignas(16) uint8_t table[16];
      for (int i = 0; i < 16; ++i) {
        table[i] = static_cast<uint8_t>((Unpack == unpack_q4_0 ? i - 8 : kIq4Values.v[i]) + 128);
      }
      pack_nibbles(w, w_stride, nb, table, out);
    }
  }

  // Two blocks of sixteen rows at a time: codes(b, next) gives one row's codes of blocks b and next as 64 bytes,
  // each its code + 128 once xor'ed with offset; the rows are transposed (lane r is row r), so that word i of each
  // block has one lane per row. For an odd count the last block goes in twice, the copy unused.
  template <size_t kBlockBytes, class Codes>
  static void pack_by_pairs(const uint8_t* w, uint64_t w_stride, int64_t nb, I512 offset, Codes codes, Packed* out) {
    for (int64_t ib = 0; ib < nb; ib += 2) {
      const bool pair = ib + 1 < nb;
      I512 v[16];
      alignas(64) int32_t d_bits[2][16];
      for (int r = 0; r < 16; ++r) {
        const uint8_t* b = w + static_cast<uint64_t>(r) * w_stride + static_cast<uint64_t>(ib) * kBlockBytes;
        const uint8_t* next = pair ? b + kBlockBytes : b;
        v[r] = codes(b, next);
        d_bits[0][r] = load_u16(b);
        d_bits[1][r] = load_u16(next);
      }
      v512::transpose16(v);
      for (int h = 0; h < (pair ? 2 : 1); ++h) {
        for (int i = 0; i < 8; ++i) v512::store_i(out[ib + h].q[i], v512::xor_i(v[8 * h + i], offset));
        v512::store_f(out[ib + h].d, v512::half_lo_to_f(v512::load_i(d_bits[h])));
      }
    }
  }

  // Q8_0's codes are the file's bytes, 32 after the scale: + 128 by the xor.
  static void pack_q8_0(const uint8_t* w, uint64_t w_stride, int64_t nb, Packed* out) {
    const auto codes = [](const uint8_t* b, const uint8_t* next) { return v512::loadu_2x256(b + 2, next + 2); };
    pack_by_pairs<kQ8_0Bytes>(w, w_stride, nb, v512::set1_i(static_cast<int32_t>(0x80808080u)), codes, out);
  }

  // The 16 nibble bytes at q and at q_next (two blocks; codes j and j + 16 in byte j) as 64 bytes, codes 0..31 of
  // each block in order: each block's bytes in two 128-bit quarters, shifted right by 0 in the first and 4 in
  // the second, then masked.
  static R1_V512_INLINE I512 nibbles_in_order(const uint8_t* q, const uint8_t* q_next) {
    alignas(64) static constexpr int32_t kShifts[16] = {0, 0, 0, 0, 4, 4, 4, 4, 0, 0, 0, 0, 4, 4, 4, 4};
    const I512 bytes = v512::load_4x128(q, q, q_next, q_next);
    return v512::and_i(v512::srlv_i(bytes, v512::load_i(kShifts)), v512::set1_i(0x0F0F0F0F));
  }

  // Q4_0 and IQ4_NL (18-byte blocks: the fp16 scale, then 16 bytes of nibbles): each nibble becomes its packed
  // byte through table (vpshufb).
  static void pack_nibbles(const uint8_t* w, uint64_t w_stride, int64_t nb, const uint8_t (&table)[16],
                           Packed* out) {
    const I512 lookup = v512::load_4x128(table, table, table, table);
    const auto codes = [&](const uint8_t* b, const uint8_t* next) {
      return v512::shuffle_bytes(lookup, nibbles_in_order(b + 2, next + 2));
    };
    static_assert(kBytes == 18);
    pack_by_pairs<18>(w, w_stride, nb, v512::zero_i(), codes, out);
  }

  // Q5_0 (22-byte blocks: the fp16 scale, qh (bit j: the fifth bit of code j), then nibbles as Q4_0's): qh's 32
  // bits of each block or'ed in as bit 4 of its 32 bytes (in the codes' order), then code - 16 + 128 per byte
  // (no carry between bytes: at most 31 + 112).
  static void pack_q5_0(const uint8_t* w, uint64_t w_stride, int64_t nb, Packed* out) {
    const I512 bias = v512::set1_i(0x70707070);
    const auto codes = [&](const uint8_t* b, const uint8_t* next) {
      const uint64_t fifth = load_u32(b + 2) | static_cast<uint64_t>(load_u32(next + 2)) << 32;
      return v512::add_i(v512::or_bytes_where(nibbles_in_order(b + 6, next + 6), fifth, 0x10), bias);
    };
    static_assert(kBytes == 22);
    pack_by_pairs<22>(w, w_stride, nb, v512::zero_i(), codes, out);
  }

  static void prepare(const uint8_t* q8_0, int64_t nb, uint8_t* out) {
    for (int64_t ib = 0; ib < nb; ++ib) {
      const uint8_t* b = q8_0 + static_cast<uint64_t>(ib) * kQ8_0Bytes;
      uint8_t* o = out + static_cast<uint64_t>(ib) * kActBytes;
      const float d = half_to_float(load_u16(b));
      std::memcpy(o, &d, sizeof d);
      int32_t start[8];
      v512::neg_word_sums_x128(b + 2, start);
      std::memcpy(o + kActStart, start, sizeof start);
      std::memcpy(o + kActCodes, b + 2, 32);
    }
  }

  template <int NT>
  static R1_V512_INLINE void tile(const Packed* w, int64_t nb, const uint8_t* a, uint64_t a_stride, State* st,
                         bool first) {
    F512 acc[NT][8];
    for (int t = 0; t < NT; ++t) {
      for (int i = 0; i < 8; ++i) acc[t][i] = first ? v512::zero_f() : v512::load_f(st[t].acc[i]);
    }
    for (int64_t ib = 0; ib < nb; ++ib) {
      const Packed& b = w[ib];
      const F512 dw = v512::load_f(b.d);
      const uint8_t* ab[NT];
      F512 dd[NT];
      // The starting values come in two 16-byte broadcasts, each word then spread by a shuffle, where eight
      // 4-byte broadcasts cost eight loads: the load ports are what bind this loop, the shuffles run beside
      // the conversions (docs/PERFORMANCE.md, "Q8_0 prompt tile").
      I512 starts[NT][2];
      for (int t = 0; t < NT; ++t) {
        ab[t] = a + static_cast<uint64_t>(t) * a_stride + static_cast<uint64_t>(ib) * kActBytes;
        dd[t] = v512::mul_f(dw, v512::set1_f(load_f32(ab[t])));
        for (int h = 0; h < 2; ++h) starts[t][h] = v512::bcast16(ab[t] + kActStart + 16 * h);
      }
      // Word by word, the tokens side by side: each word is loaded where it is used, and the tokens' chains
      // interleave (4–5 % less time than token after token).
      for (int i = 0; i < 8; ++i) {
        const I512 word = v512::load_i(b.q[i]);
        for (int t = 0; t < NT; ++t) {
          const I512 start = v512::spread_lane(starts[t][i / 4], i % 4);
          const I512 sum = v512::dpbusd(start, word, v512::bcast4(ab[t] + kActCodes + 4 * i));
          acc[t][i] = v512::fmadd_f(dd[t], v512::cvt_f(sum), acc[t][i]);
        }
      }
    }
    for (int t = 0; t < NT; ++t) {
      for (int i = 0; i < 8; ++i) v512::store_f(st[t].acc[i], acc[t][i]);
    }
  }

  // Two tokens at a time: their sixteen accumulators and the block's eight words fill the registers.
  static void tokens(const Packed* w, int64_t nb, const uint8_t* act, uint64_t a_stride, State* st, int64_t n_tokens,
                     int64_t, bool first) {
    int64_t t = 0;
    for (; t + 2 <= n_tokens; t += 2) {
      tile<2>(w, nb, act + static_cast<uint64_t>(t) * a_stride, a_stride, st + t, first);
    }
    for (; t < n_tokens; ++t) {
      tile<1>(w, nb, act + static_cast<uint64_t>(t) * a_stride, a_stride, st + t, first);
    }
  }

  // The lanes added as the one-row kernel's horizontal sum adds them: ((0 + 4) + (2 + 6)) + ((1 + 5) + (3 + 7)).
  static void finish(const State& st, float* y) {
    F512 l[8];
    for (int i = 0; i < 8; ++i) l[i] = v512::load_f(st.acc[i]);
    const F512 even = v512::add_f(v512::add_f(l[0], l[4]), v512::add_f(l[2], l[6]));
    const F512 odd = v512::add_f(v512::add_f(l[1], l[5]), v512::add_f(l[3], l[7]));
    v512::store_f(y, v512::add_f(even, odd));
  }
};

// Q8_0's calls of fewer than four tokens through the eight-row VNNI decode kernel (avx512_decode.h); the
// other formats' and the rest through AVX2.
template <GgmlType kType, void (*Unpack)(const uint8_t*, BlockCodes32&), size_t kBytes>
void dot(const DotArgs& a) noexcept {
  if constexpr (kType == GgmlType::kQ8_0) {
    dot_rows16<Kernel<Unpack, kBytes>>(a, rest_of<kType, decode8::q8_0_few_tokens>);
  } else {
    dot_rows16<Kernel<Unpack, kBytes>>(a, rest_of<kType, avx2_only>);
  }
}

// KernelTable::prepare_q8_0: the layout is the same for every weight type of this kernel.
void prepare_q8_0_row(const uint8_t* act, uint8_t* dst, int64_t n) noexcept {
  Kernel<unpack_q8_0, kQ8_0Bytes>::prepare(act, n / 32, dst);
}

}  // namespace block32x16
}  // namespace

namespace R1_AVX512_NS {
void register_block32(KernelTable& t) {
  using namespace block32x16;
  t.dot[static_cast<size_t>(GgmlType::kQ4_0)] = dot<GgmlType::kQ4_0, unpack_q4_0, sizeof(BlockQ4_0)>;
  t.dot[static_cast<size_t>(GgmlType::kQ5_0)] = dot<GgmlType::kQ5_0, unpack_q5_0, sizeof(BlockQ5_0)>;
  t.dot[static_cast<size_t>(GgmlType::kQ8_0)] = dot<GgmlType::kQ8_0, unpack_q8_0, kQ8_0Bytes>;
  t.dot[static_cast<size_t>(GgmlType::kIQ4_NL)] = dot<GgmlType::kIQ4_NL, unpack_iq4_nl, sizeof(BlockIq4Nl)>;
  for (GgmlType type : {GgmlType::kQ4_0, GgmlType::kQ5_0, GgmlType::kQ8_0, GgmlType::kIQ4_NL}) {
    t.prompt_rows[static_cast<size_t>(type)] = kRows16CallRows;
  }
  // Paid at load (docs/PERFORMANCE.md): Q8_0's copy is 1.06 times the file and gains at few tokens, losing nothing
  // at 512. Q4_0's, Q5_0's and IQ4_NL's vector packing per call runs within a few % of their copies at 512 tokens,
  // which would take 1.6 to 2 times the file.
  t.packer[static_cast<size_t>(GgmlType::kQ4_0)] = rows16_packer<Kernel<unpack_q4_0, sizeof(BlockQ4_0)>>(false);
  t.packer[static_cast<size_t>(GgmlType::kQ5_0)] = rows16_packer<Kernel<unpack_q5_0, sizeof(BlockQ5_0)>>(false);
  t.packer[static_cast<size_t>(GgmlType::kQ8_0)] = rows16_packer<Kernel<unpack_q8_0, kQ8_0Bytes>>(true);
  t.packer[static_cast<size_t>(GgmlType::kIQ4_NL)] = rows16_packer<Kernel<unpack_iq4_nl, sizeof(BlockIq4Nl)>>(false);
  t.prepare_q8_0 = prepare_q8_0_row;
}
}  // namespace R1_AVX512_NS

}  // namespace r1::cpu
