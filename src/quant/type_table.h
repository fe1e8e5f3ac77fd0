// The ggml tensor type table: every type id a GGUF file can carry, with its name, block size and bytes per
// block. One row per type; the format files in this folder add the code (dequantize/quantize) for the types
// r1 computes with. Readers use the table to size and validate tensor data before anything touches it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace r1 {

// Type ids as llama.cpp's ggml.h defines them (the GGUF on-disk value).
enum class GgmlType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kIQ2_XXS = 16,
  kIQ2_XS = 17,
  kIQ3_XXS = 18,
  kIQ1_S = 19,
  kIQ4_NL = 20,
  kIQ3_S = 21,
  kIQ2_S = 22,
  kIQ4_XS = 23,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kIQ1_M = 29,
  kBF16 = 30,
  kTQ1_0 = 34,
  kTQ2_0 = 35,
  kMXFP4 = 39,
  kNVFP4 = 40,
  kQ1_0 = 41,
  kQ2_0 = 42,
};

struct TypeInfo {
  GgmlType type;
  std::string_view name;  // as llama.cpp names it: "Q4_K", "IQ1_S", "F32"
  uint32_t block_size;    // elements per block (1 for plain types)
  uint32_t type_size;     // bytes per block
  bool quantized;

  double bits_per_weight() const { return 8.0 * type_size / block_size; }
};

// Every type llama.cpp currently defines, in id order.
std::span<const TypeInfo> all_types();

// The row for a type id, or nullptr when llama.cpp does not define that id (see describe_unknown_type).
const TypeInfo* find_type(uint32_t id);
const TypeInfo& type_info(GgmlType type);
// Case-insensitive lookup by name ("q4_k", "Q4_K"); nullptr when unknown.
const TypeInfo* find_type_by_name(std::string_view name);

// Why an id is not in the table, as one sentence for an error message: a type llama.cpp removed (and what
// to requantize to), a type only the ik_llama.cpp fork writes, or simply unknown.
std::string describe_unknown_type(uint32_t id);

// Bytes for one row of n elements; nullopt when n is not a multiple of the block size.
std::optional<uint64_t> row_bytes(const TypeInfo& info, uint64_t n_elements);

}  // namespace r1
