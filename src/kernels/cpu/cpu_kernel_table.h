// Internal to src/kernels/cpu: the per-ISA dispatch table, the activation block layouts the kernels read,
// and the argument block every dot kernel takes. The public face is cpu_kernels.h; the kernels themselves
// live in cpu_scalar.cpp (plain C++) and the avx2/ and avx512/ folders (intrinsics, own compile flags).
#pragma once

#include <cstddef>
#include <cstdint>

#include "ref_ops.h"
#include "type_table.h"

namespace r1::cpu {

// Q8_1 activations (paired with Q4_1/Q5_1 weights): d and s = d * sum(qs) are fp16 bits, as in llama.cpp.
struct ActQ8_1 {
  uint16_t d;
  uint16_t s;
  int8_t qs[32];
};
static_assert(sizeof(ActQ8_1) == 36);

// Byte offsets inside the activation blocks (Q8_0: {fp16 d, qs[32]}; Q8_K: {float d, qs[256], int16 bsums[16]}).
inline constexpr size_t kQ8_0Bytes = 34;
inline constexpr size_t kQ8_1Bytes = 36;
inline constexpr size_t kQ8_KBytes = 292;
inline constexpr size_t kQ8_KQsOffset = 4;
inline constexpr size_t kQ8_KBsumsOffset = 260;

// One call computes y[t * y_stride + r] = dot(weight row r, activation row t) for r < n_rows, t < n_tokens.
// Weight rows are w_stride bytes apart, activation rows a_stride bytes apart; both need no alignment.
// The activation rows are in the format activation_type_for(weight type) names; F32/F16/BF16 activations
// are stored as float32 values already rounded to that format. Cache blocking is the caller's: it passes
// a row block small enough to stay in cache while the kernel walks the tokens in register tiles, or for a
// kernel that blocks its rows itself the rows its table names (KernelTable::prompt_rows).
struct DotArgs {
  int64_t n = 0;  // elements per row (a multiple of the weight type's block size)
  const uint8_t* w = nullptr;
  uint64_t w_stride = 0;
  int64_t n_rows = 0;
  const uint8_t* a = nullptr;
  uint64_t a_stride = 0;
  int64_t n_tokens = 0;
  float* y = nullptr;
  int64_t y_stride = 0;
  // Q4_K only: the leading tokens that llama.cpp's x86 backend multiplies in its four-row kernel, which rounds
  // once per 64 elements instead of once per super-block: q4_k_grouped_tokens(n_tokens) (ref_matmul.h), a
  // multiple of 4.
  int64_t grouped_tokens = 0;
  // Calls with four or more tokens may pack the weight rows eight at a time (dot_rows8 in avx2_common.h);
  // false keeps every token on the file's layout (`--repack off`).
  bool pack_rows = true;
  // The most tokens a kernel that takes the tokens in passes (dot_rows16) puts in one; 0: its cache budget.
  int64_t pass_tokens = 0;
  // The same activation rows in the table's prepared layout (KernelTable::prepare_q8_0), a_prepared_stride
  // bytes apart; null where there is none.
  const uint8_t* a_prepared = nullptr;
  uint64_t a_prepared_stride = 0;
  // The call's weight rows already in the kernel's packed layout (RowPacker below), from its first row: packed
  // once at load (`--repack`, PackedWeights), so the kernel reads them instead of packing them per call. Null:
  // packed per call (or not at all). Only kernels with a packer read it; the others ignore it.
  const uint8_t* w_packed = nullptr;
};
using DotFn = void (*)(const DotArgs& args) noexcept;

// One activation row of n floats (a multiple of 256) to Q8_K, bit for bit quantize_q8_k (quant_k.cpp); the
// same for Q8_0 and Q8_1 (multiples of 32, quantize_row_q8_0/q8_1_activations).
using QuantizeQ8KFn = void (*)(const float* x, uint8_t* dst, int64_t n) noexcept;
// A Q8_0 activation row of n elements rewritten into the layout a prompt kernel reads (kPreparedQ8_0Bytes per
// block of 32: AVX-512's puts the scale as a float, eight int32 starting values and the codes side by side).
// quantize_activations does it once per matmul, so every row block and thread of it shares the copy.
using PrepareFn = void (*)(const uint8_t* act, uint8_t* dst, int64_t n) noexcept;
inline constexpr size_t kPreparedQ8_0Bytes = 68;
// Weight rows in a prompt kernel's own layout, sixteen rows at a time: pack writes nb blocks of the sixteen rows
// w, w + w_stride, ... to out (block_bytes each, 64-byte aligned), exactly as the kernel packs them per call,
// so a matmul reading the copy gives the same bits. Groups of sixteen rows follow each other, nb blocks each.
using PackRowsFn = void (*)(const uint8_t* w, uint64_t w_stride, int64_t nb, uint8_t* out) noexcept;
struct RowPacker {
  PackRowsFn pack;       // null: this weight type has no packed layout in this ISA
  uint64_t block_bytes;  // one block (kBlock elements) of sixteen rows
  bool pays_at_load;     // measured: prompts on a copy packed at load beat packing per call (`--repack auto`)
};

// out[i] = gate[i] * sigmoid(gate[i]) * up[i], within a few ulp of swiglu_ref (ref_ops.h).
using SwigluFn = void (*)(const float* gate, const float* up, float* out, int64_t n) noexcept;

// Flash attention over F16 or Q8_0 K and V caches for heads [head_begin, head_end): attention_ref's contract and
// bits (ref_ops.h), head dimensions up to kMaxAttentionHeadDim.
using AttentionFn = void (*)(const AttentionParams& p, const float* q, const uint8_t* k, uint64_t k_row_bytes,
                             const uint8_t* v, uint64_t v_row_bytes, int64_t n_kv, float* out, int head_begin,
                             int head_end) noexcept;
inline constexpr int kMaxAttentionHeadDim = 1024;

inline constexpr size_t kMaxTypeId = 64;

// A plain aggregate (no constructor or member function the ISA files would have to emit: see cpu_unpack.h);
// value-initialize it with `KernelTable t{};`.
struct KernelTable {
  const char* isa;
  DotFn dot[kMaxTypeId];  // indexed by GgmlType id; null: no kernel for that weight type in this ISA
  // Rows per call of several tokens for the dot kernels that block rows themselves; 0: the caller's block.
  int64_t prompt_rows[kMaxTypeId];
  AttentionFn attention_flash;      // F16/Q8_0 caches, flash; null: attention_ref runs
  QuantizeQ8KFn quantize_q8_k;      // null: the scalar quantize_row_q8_k_activations runs
  QuantizeQ8KFn quantize_q8_0;      // null: the scalar quantize_row_q8_0_activations runs
  QuantizeQ8KFn quantize_q8_1;      // null: the scalar quantize_row_q8_1_activations runs
  SwigluFn swiglu;                  // null: swiglu_ref runs
  PrepareFn prepare_q8_0;           // null: the prompt kernels read Q8_0 activation rows as they are
  RowPacker packer[kMaxTypeId];     // per weight type; what PackedWeights packs at load

  // Only called from baseline-compiled code (cpu_kernels.cpp).
  DotFn find(GgmlType t) const {
    const auto id = static_cast<size_t>(t);
    return id < kMaxTypeId ? dot[id] : nullptr;
  }
};

// Filled once (function-local statics, immutable afterwards). avx2_table()/avx512_table() may only be called
// when the CPU has those features; they are compiled only on x86-64.
const KernelTable& scalar_table();
#if defined(__x86_64__)
const KernelTable& avx2_table();
const KernelTable& avx512_table();
namespace avx512 {
void register_kquants(KernelTable& t);  // avx512_kquants_impl.h
void register_block32(KernelTable& t);  // avx512_block32_impl.h
void register_attention(KernelTable& t);  // avx512_attention_impl.h (F16 caches; the rest through AVX2)
}  // namespace avx512
#endif

// Per-thread working memory for the kernels, 64-byte aligned, reused across calls (slots 0..3 are separate
// buffers; the contents do not survive a call that asks the same slot for more). Defined in baseline-compiled
// code, so ISA files need no std::vector of their own (see cpu_unpack.h on shared inline functions).
void* thread_scratch(int slot, size_t bytes);

}  // namespace r1::cpu
