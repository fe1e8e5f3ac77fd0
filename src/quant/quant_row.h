// The quant layer's public face: decode rows of any GGUF block format to float32, and encode float32 rows
// into any format r1 can write (optionally guided by per-column importance weights), one row or many rows
// over a thread pool. Formats are described by type_table.h; the per-format code lives in quant_*.cpp.
#pragma once

#include <cstddef>
#include <cstdint>

#include "type_table.h"

namespace r1 {

class ThreadPool;

// True when r1 can decode / encode this type (F32, F16 and BF16 included).
bool can_dequantize(GgmlType type);
bool can_quantize(GgmlType type);
// True for the types whose encoder is only meaningful with importance weights (llama.cpp refuses to write
// them without an importance matrix): IQ2_XXS, IQ2_XS, IQ1_S. quantize_row accepts null for them anyway
// and then weights every column equally, which is far worse than a real importance matrix.
bool quantize_wants_importance(GgmlType type);

// Decodes n elements (a whole number of blocks) from src into dst, bit-exactly as llama.cpp does.
// Throws r1::Error for a type with no decoder or when n is not a multiple of the block size.
void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n);

// Encodes one row of n elements (a multiple of the block size) into dst, which receives
// row_bytes(type_info(type), n) bytes. importance is null or n per-column weights (an importance matrix row).
// Q8_K is refused (it is an activation format: see quantize_row_q8_k_activations). Returns the bytes written.
size_t quantize_row(GgmlType type, const float* src, void* dst, int64_t n, const float* importance);

struct QuantizeRowsOptions {
  int64_t n_rows = 0;
  int64_t n_per_row = 0;
  const float* importance = nullptr;  // null, or n_per_row weights shared by every row
  ThreadPool* pool = nullptr;         // null: run on the calling thread
};
// Encodes n_rows × n_per_row values (row-major) into consecutive rows of dst, rows spread over the pool.
// Returns the bytes written. Throws r1::Error as quantize_row does (before any work starts).
size_t quantize_rows(GgmlType type, const float* src, void* dst, const QuantizeRowsOptions& options);

// Activation quantization, bit-identical to what llama.cpp's CPU backend (x86 build with AVX/AVX2) feeds its
// dot products, so kernels can reproduce its results exactly:
//   Q8_0: d = amax/127 stored as fp16, codes round-half-even(x * (127/amax)).
//   Q8_K: d = max/-127 kept as fp32 (max: the signed extreme), codes nearest_int(x / d) capped at 127, bsums.
// n must be a multiple of 32 (Q8_0) / 256 (Q8_K); checked with R1_CHECK (callers size activations).
void quantize_row_q8_0_activations(const float* src, void* dst, int64_t n);
//   Q8_1 (for Q4_1/Q5_1 weights): as Q8_0, plus s = fp16(d * sum of codes) per block (36-byte blocks).
void quantize_row_q8_1_activations(const float* src, void* dst, int64_t n);
void quantize_row_q8_k_activations(const float* src, void* dst, int64_t n);

// One Q4_K super-block (144 bytes) as integers: w[i] = d * sc[i/32] * q[i] - dmin * mn[i/32], for dot
// products that must sum in a given order (the reference's llama.cpp-order Q4_K product).
struct Q4KCodes {
  uint8_t q[256];
  uint8_t sc[8];
  uint8_t mn[8];
  float d = 0.0f;
  float dmin = 0.0f;
};
void unpack_q4_k_block(const void* block, Q4KCodes& out);

}  // namespace r1
