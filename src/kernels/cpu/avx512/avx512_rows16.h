// The loop every AVX-512 prompt kernel shares: weight rows in groups of sixteen (one int32 or float lane per
// row), each group's columns in chunks packed into a per-thread buffer that stays in L1 while every token
// passes over it. Each token's state waits between chunks, so every sum still runs over the blocks in order:
// the chunking changes no bit. Calls this loop does not take (decode and other calls of fewer than four
// tokens, `--repack off`, the last n_rows % 16 rows) go to `rest`, the AVX2 kernel of the same sums.
//
// A kernel K provides: Packed (sixteen rows of one block), State (one token's sums), kBlock (elements per
// block), kWeightBytes (bytes per block of a weight row), kActBytes (per block of an activation row as its
// tiles read it), pack(w, w_stride, nb, out), tokens(packed, nb, act, a_stride, state, n_tokens,
// grouped_tokens, first: the first chunk, whose sums start at zero instead of from state) and
// finish(state, y); optionally prepare(activation row, nb, out), which rewrites an activation row into the
// layout its tiles read (registered as KernelTable::prepare_q8_0 too).
//
// Each kernel file includes this header for everything it needs: the vector functions (avx512_vec.h), the
// scalar unpackers (cpu_unpack.h), and R1_AVX512_NS, the namespace of its register function (avx512 natively;
// the emulated test build names its own).
#pragma once

#include <cstdint>
#include <cstring>

#include "avx512_vec.h"
#include "cpu_kernel_table.h"
#include "cpu_unpack.h"

#ifndef R1_AVX512_NS
#define R1_AVX512_NS avx512
#endif

namespace r1::cpu {
namespace {

// The call's rows [r0, n_rows).
inline DotArgs rows_from(const DotArgs& a, int64_t r0) {
  DotArgs tail = a;
  tail.w = a.w + static_cast<uint64_t>(r0) * a.w_stride;
  tail.n_rows = a.n_rows - r0;
  tail.y = a.y + r0;
  return tail;
}

// What takes the calls dot_rows16 does not: natively `decode` (an eight-row kernel of avx512_decode.cpp, which
// passes on to the AVX2 kernel what it does not take itself), in the emulated build the AVX2 kernel.
template <GgmlType kType, void (*kDecode)(const DotArgs&, DotFn) noexcept>
void rest_of(const DotArgs& a) noexcept {
#if defined(R1_AVX512_EMULATED)
  avx2_table().dot[static_cast<size_t>(kType)](a);
#else
  kDecode(a, avx2_table().dot[static_cast<size_t>(kType)]);
#endif
}
inline void avx2_only(const DotArgs& a, DotFn avx2) noexcept { avx2(a); }

// Packed rows per chunk: about 24 KiB, inside a 32 KiB L1 beside the activations streaming through.
inline constexpr size_t kRows16ChunkBytes = 24576;

template <class K>
inline void dot_rows16(const DotArgs& a, DotFn rest) noexcept {
  const int64_t rows16 = a.n_rows / 16 * 16;
  if (!a.pack_rows || a.n_tokens < 4 || rows16 == 0) {
    rest(a);
    return;
  }
  const int64_t nb = a.n / K::kBlock;
  const int64_t per_chunk = kRows16ChunkBytes / sizeof(typename K::Packed);
  const int64_t chunk = per_chunk > 0 ? per_chunk : 1;
  auto* packed = static_cast<typename K::Packed*>(thread_scratch(0, static_cast<size_t>(chunk) * sizeof(typename K::Packed)));
  auto* state = static_cast<typename K::State*>(thread_scratch(1, static_cast<size_t>(a.n_tokens) * sizeof(typename K::State)));
  // The activations as the tiles read them: the call's rows, or for a kernel with its own layout
  // (K::prepare, kActBytes per block) the copy quantize_activations prepared once per matmul.
  const uint8_t* act = a.a;
  uint64_t act_stride = a.a_stride;
  if constexpr (requires { &K::prepare; }) {
    if (a.a_prepared == nullptr) {
      rest(a);
      return;
    }
    act = a.a_prepared;
    act_stride = a.a_prepared_stride;
  }
  for (int64_t r = 0; r < rows16; r += 16) {
    for (int64_t c0 = 0; c0 < nb; c0 += chunk) {
      const int64_t nc = nb - c0 < chunk ? nb - c0 : chunk;
      K::pack(a.w + static_cast<uint64_t>(r) * a.w_stride + static_cast<uint64_t>(c0) * K::kWeightBytes, a.w_stride,
              nc, packed);
      K::tokens(packed, nc, act + static_cast<uint64_t>(c0) * K::kActBytes, act_stride, state, a.n_tokens,
                a.grouped_tokens, c0 == 0);
    }
    for (int64_t t = 0; t < a.n_tokens; ++t) K::finish(state[t], a.y + t * a.y_stride + r);
  }
  if (rows16 < a.n_rows) rest(rows_from(a, rows16));
}

}  // namespace
}  // namespace r1::cpu
