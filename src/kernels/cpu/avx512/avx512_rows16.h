// The loop every AVX-512 prompt kernel shares: the tokens in passes, and per pass the weight rows in groups of
// sixteen (one int32 or float lane per row), each group's columns in chunks packed into a per-thread buffer
// that stays in L1 while the pass's tokens walk over it. Each token's state waits between chunks, so every sum
// still runs over the blocks in order: neither passes nor chunks change a bit. Calls this loop does not take
// (decode and other calls of fewer than four tokens, `--repack off`, the last n_rows % 16 rows) go to `rest`,
// the AVX2 kernel of the same sums.
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

namespace r1::cpu {
namespace {

// The call's rows [r0, n_rows).
inline DotArgs rows_from(const DotArgs& a, int64_t r0) {
  DotArgs tail = a;
  tail.w = a.w + static_cast<uint64_t>(r0) * a.w_stride;
  tail.n_rows = a.n_rows - r0;
  tail.y = a.y + r0;
  tail.w_packed = nullptr;  // packed groups start at the call's first row; `rest` packs nothing
  return tail;
}

// What takes the calls dot_rows16 does not: `decode` (an eight-row kernel of avx512_decode.h, which passes on
// to the AVX2 kernel what it does not take itself), or the AVX2 kernel alone (avx2_only).
template <GgmlType kType, void (*kDecode)(const DotArgs&, DotFn) noexcept>
void rest_of(const DotArgs& a) noexcept {
  kDecode(a, avx2_table().dot[static_cast<size_t>(kType)]);
}
inline void avx2_only(const DotArgs& a, DotFn avx2) noexcept { avx2(a); }

// A call of several tokens handed to `rest` in blocks of sixteen rows: the cache blocking the caller gives
// kernels that do not block rows themselves (the caller passes kRows16CallRows to these).
inline void rest_by16(const DotArgs& a, DotFn rest) noexcept {
  if (a.n_tokens == 1) {
    rest(a);
    return;
  }
  for (int64_t r = 0; r < a.n_rows; r += 16) {
    DotArgs part = rows_from(a, r);
    part.n_rows = a.n_rows - r < 16 ? a.n_rows - r : 16;
    rest(part);
  }
}

// The cache budget of the loop below, per thread. The tokens go in passes whose activations fit in a share of
// L3 (kRows16PassActBytes): every group of sixteen rows reads each activation of its pass once, so a pass
// larger than L3 would stream them all from DRAM once per group (the FFN down product of a 7B model reads
// 20 MiB of them at 512 tokens). Within a pass, each group's columns go in packed chunks of about 24 KiB that
// stay in L1 while the pass's tokens walk over them; the tokens' states wait in L2 between chunks
// (kRows16StateBytes), and a kernel with large states (Q8_0: eight lanes of sixteen rows, 512 bytes per token)
// takes shorter passes. Each pass packs the rows again, unless they were packed once at load (DotArgs::w_packed).
inline constexpr size_t kRows16ChunkBytes = 24576;
inline constexpr size_t kRows16PassActBytes = 4u << 20;
inline constexpr size_t kRows16StateBytes = 512u << 10;
// What KernelTable::prompt_rows names for these kernels: a thread's whole row range, so that a pass covers
// every row before the next.
inline constexpr int64_t kRows16CallRows = int64_t{1} << 40;

template <class K>
inline void dot_rows16(const DotArgs& a, DotFn rest) noexcept {
  const int64_t rows16 = a.n_rows / 16 * 16;
  if (!a.pack_rows || a.n_tokens < 4 || rows16 == 0) {
    rest_by16(a, rest);
    return;
  }
  // The activations as the tiles read them: the call's rows, or for a kernel with its own layout
  // (K::prepare, kActBytes per block) the copy quantize_activations prepared once per matmul.
  const uint8_t* act = a.a;
  uint64_t act_stride = a.a_stride;
  if constexpr (requires { &K::prepare; }) {
    if (a.a_prepared == nullptr) {
      rest_by16(a, rest);
      return;
    }
    act = a.a_prepared;
    act_stride = a.a_prepared_stride;
  }
  using Packed = typename K::Packed;
  using State = typename K::State;
  const int64_t nb = a.n / K::kBlock;
  const auto per_chunk = static_cast<int64_t>(kRows16ChunkBytes / sizeof(Packed));
  const int64_t chunk = per_chunk > 0 ? per_chunk : 1;
  // Passes are multiples of 4, so the grouped tokens (a multiple of 4 from the first) keep their four-token tiles.
  const auto pass_for = [](size_t budget, size_t per_token) {
    const int64_t fit = static_cast<int64_t>(budget / per_token) / 4 * 4;
    return fit > 4 ? fit : int64_t{4};
  };
  const int64_t by_act = pass_for(kRows16PassActBytes, static_cast<size_t>(nb) * K::kActBytes);
  const int64_t by_state = pass_for(kRows16StateBytes, sizeof(State));
  const int64_t by_budget = by_act < by_state ? by_act : by_state;
  const int64_t pass_cap = a.pass_tokens > 0 && a.pass_tokens < by_budget ? a.pass_tokens : by_budget;
  const int64_t n_passes = (a.n_tokens + pass_cap - 1) / pass_cap;
  const int64_t pass = n_passes == 1 ? a.n_tokens : ((a.n_tokens + n_passes - 1) / n_passes + 3) / 4 * 4;  // even
  // Rows packed at load: group g of sixteen rows is nb blocks from g × nb on.
  const auto* prepacked = reinterpret_cast<const Packed*>(a.w_packed);
  auto* packed = prepacked != nullptr
                     ? nullptr
                     : static_cast<Packed*>(thread_scratch(0, static_cast<size_t>(chunk) * sizeof(Packed)));
  auto* state = static_cast<State*>(thread_scratch(1, static_cast<size_t>(pass) * sizeof(State)));
  for (int64_t t0 = 0; t0 < a.n_tokens; t0 += pass) {
    const int64_t nt = a.n_tokens - t0 < pass ? a.n_tokens - t0 : pass;
    const int64_t left = a.grouped_tokens - t0;
    const int64_t grouped = left < 0 ? 0 : (left < nt ? left : nt);
    const uint8_t* act0 = act + static_cast<uint64_t>(t0) * act_stride;
    for (int64_t r = 0; r < rows16; r += 16) {
      for (int64_t c0 = 0; c0 < nb; c0 += chunk) {
        const int64_t nc = nb - c0 < chunk ? nb - c0 : chunk;
        const Packed* rows = packed;
        if (prepacked != nullptr) {
          rows = prepacked + (r / 16) * nb + c0;
        } else {
          K::pack(a.w + static_cast<uint64_t>(r) * a.w_stride + static_cast<uint64_t>(c0) * K::kWeightBytes,
                  a.w_stride, nc, packed);
        }
        K::tokens(rows, nc, act0 + static_cast<uint64_t>(c0) * K::kActBytes, act_stride, state, nt, grouped, c0 == 0);
      }
      for (int64_t t = 0; t < nt; ++t) K::finish(state[t], a.y + (t0 + t) * a.y_stride + r);
    }
  }
  if (rows16 < a.n_rows) rest(rows_from(a, rows16));
}

// K's packer for KernelTable::packer: the layout dot_rows16 reads from DotArgs::w_packed. pays_at_load: what the
// PrefillRepacked microbenchmarks measured for K (docs/PERFORMANCE.md).
template <class K>
void pack_rows16(const uint8_t* w, uint64_t w_stride, int64_t nb, uint8_t* out) noexcept {
  K::pack(w, w_stride, nb, reinterpret_cast<typename K::Packed*>(out));
}
template <class K>
RowPacker rows16_packer(bool pays_at_load) {
  return RowPacker{pack_rows16<K>, sizeof(typename K::Packed), pays_at_load};
}

}  // namespace
}  // namespace r1::cpu
