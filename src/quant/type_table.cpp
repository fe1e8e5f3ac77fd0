// The rows of the ggml type table (facts from ggml.h / ggml-common.h) and the names of ids r1 refuses.
#include "type_table.h"

#include <array>
#include <cctype>

#include <fmt/format.h>

#include "check.h"

namespace r1 {
namespace {

using T = GgmlType;
constexpr std::array kTypes = {
    TypeInfo{T::kF32, "F32", 1, 4, false},
    TypeInfo{T::kF16, "F16", 1, 2, false},
    TypeInfo{T::kQ4_0, "Q4_0", 32, 18, true},
    TypeInfo{T::kQ4_1, "Q4_1", 32, 20, true},
    TypeInfo{T::kQ5_0, "Q5_0", 32, 22, true},
    TypeInfo{T::kQ5_1, "Q5_1", 32, 24, true},
    TypeInfo{T::kQ8_0, "Q8_0", 32, 34, true},
    TypeInfo{T::kQ8_1, "Q8_1", 32, 36, true},
    TypeInfo{T::kQ2_K, "Q2_K", 256, 84, true},
    TypeInfo{T::kQ3_K, "Q3_K", 256, 110, true},
    TypeInfo{T::kQ4_K, "Q4_K", 256, 144, true},
    TypeInfo{T::kQ5_K, "Q5_K", 256, 176, true},
    TypeInfo{T::kQ6_K, "Q6_K", 256, 210, true},
    TypeInfo{T::kQ8_K, "Q8_K", 256, 292, true},
    TypeInfo{T::kIQ2_XXS, "IQ2_XXS", 256, 66, true},
    TypeInfo{T::kIQ2_XS, "IQ2_XS", 256, 74, true},
    TypeInfo{T::kIQ3_XXS, "IQ3_XXS", 256, 98, true},
    TypeInfo{T::kIQ1_S, "IQ1_S", 256, 50, true},
    TypeInfo{T::kIQ4_NL, "IQ4_NL", 32, 18, true},
    TypeInfo{T::kIQ3_S, "IQ3_S", 256, 110, true},
    TypeInfo{T::kIQ2_S, "IQ2_S", 256, 82, true},
    TypeInfo{T::kIQ4_XS, "IQ4_XS", 256, 136, true},
    TypeInfo{T::kI8, "I8", 1, 1, false},
    TypeInfo{T::kI16, "I16", 1, 2, false},
    TypeInfo{T::kI32, "I32", 1, 4, false},
    TypeInfo{T::kI64, "I64", 1, 8, false},
    TypeInfo{T::kF64, "F64", 1, 8, false},
    TypeInfo{T::kIQ1_M, "IQ1_M", 256, 56, true},
    TypeInfo{T::kBF16, "BF16", 1, 2, false},
    TypeInfo{T::kTQ1_0, "TQ1_0", 256, 54, true},
    TypeInfo{T::kTQ2_0, "TQ2_0", 256, 66, true},
    TypeInfo{T::kMXFP4, "MXFP4", 32, 17, true},
    TypeInfo{T::kNVFP4, "NVFP4", 64, 36, true},
    TypeInfo{T::kQ1_0, "Q1_0", 128, 34, true},
    TypeInfo{T::kQ2_0, "Q2_0", 64, 18, true},
};

// Direct index by id for the ids below 64 (all of llama.cpp's); -1 where the id is not defined.
constexpr auto kIndexById = [] {
  std::array<int, 64> index{};
  for (auto& i : index) i = -1;
  for (size_t i = 0; i < kTypes.size(); ++i) index[static_cast<uint32_t>(kTypes[i].type)] = static_cast<int>(i);
  return index;
}();

struct RetiredType {
  uint32_t id;
  std::string_view why;
};

// Ids llama.cpp removed, and ids that only the ik_llama.cpp fork writes (ggml.h of both, 2026-08).
constexpr std::array kRetired = {
    RetiredType{4, "type id 4 (Q4_2) was removed from llama.cpp; requantize the model from F16/BF16 (e.g. to Q4_0 or Q4_K)"},
    RetiredType{5, "type id 5 (Q4_3) was removed from llama.cpp; requantize the model from F16/BF16 (e.g. to Q4_1 or Q4_K)"},
    RetiredType{31, "type id 31 (Q4_0_4_4) was removed from GGUF files; requantize to Q4_0 (repacking now happens at load time)"},
    RetiredType{32, "type id 32 (Q4_0_4_8) was removed from GGUF files; requantize to Q4_0 (repacking now happens at load time)"},
    RetiredType{33, "type id 33 (Q4_0_8_8) was removed from GGUF files; requantize to Q4_0 (repacking now happens at load time)"},
    RetiredType{36, "type id 36 (IQ4_NL_4_4) was removed from GGUF files (ik_llama.cpp uses 36 for I2_S); requantize to IQ4_NL"},
    RetiredType{37, "type id 37 (IQ4_NL_4_8) was removed from GGUF files; requantize to IQ4_NL"},
    RetiredType{38, "type id 38 (IQ4_NL_8_8) was removed from GGUF files; requantize to IQ4_NL"},
};

struct ForkType {
  uint32_t id;
  std::string_view name;
};

constexpr std::array kIkLlamaTypes = {
    ForkType{97, "Q8_0_X4"},     ForkType{98, "Q8_1_X4"},     ForkType{99, "Q8_2_X4"},
    ForkType{133, "Q6_0"},       ForkType{134, "IQ1_BN"},     ForkType{135, "IQ2_BN"},
    ForkType{136, "Q8_K64"},     ForkType{137, "IQ2_K"},      ForkType{138, "IQ3_K"},
    ForkType{139, "IQ4_K"},      ForkType{140, "IQ5_K"},      ForkType{141, "IQ6_K"},
    ForkType{142, "IQ2_TN"},     ForkType{143, "IQ1_TN"},     ForkType{144, "IQ4_KS"},
    ForkType{145, "IQ2_KS"},     ForkType{146, "IQ4_KSS"},    ForkType{147, "Q8_K16"},
    ForkType{148, "Q8_K32"},     ForkType{149, "Q8_KR8"},     ForkType{150, "Q8_K128"},
    ForkType{151, "Q8_KV"},      ForkType{152, "IQ5_KS"},     ForkType{153, "IQ2_KT"},
    ForkType{154, "IQ3_KT"},     ForkType{155, "IQ4_KT"},     ForkType{156, "IQ3_KS"},
    ForkType{157, "IQ2_KL"},     ForkType{158, "IQ1_KT"},     ForkType{202, "Q4_0_R8"},
    ForkType{206, "Q5_0_R4"},    ForkType{208, "Q8_0_R8"},    ForkType{210, "Q2_K_R4"},
    ForkType{211, "Q3_K_R4"},    ForkType{212, "Q4_K_R4"},    ForkType{213, "Q5_K_R4"},
    ForkType{214, "Q6_K_R4"},    ForkType{216, "IQ2_XXS_R4"}, ForkType{217, "IQ2_XS_R4"},
    ForkType{218, "IQ3_XXS_R4"}, ForkType{219, "IQ1_S_R4"},   ForkType{220, "IQ4_NL_R4"},
    ForkType{221, "IQ3_S_R4"},   ForkType{222, "IQ2_S_R4"},   ForkType{223, "IQ4_XS_R8"},
    ForkType{229, "IQ1_M_R4"},   ForkType{230, "BF16_R16"},   ForkType{233, "Q6_0_R4"},
    ForkType{335, "IQ2_BN_R4"},  ForkType{337, "IQ2_K_R4"},   ForkType{338, "IQ3_K_R4"},
    ForkType{339, "IQ4_K_R4"},   ForkType{340, "IQ5_K_R4"},   ForkType{344, "IQ4_KS_R4"},
    ForkType{352, "IQ5_KS_R4"},  ForkType{353, "MXFP4_R8"},   ForkType{397, "Q8_K_R16"},
    ForkType{398, "Q8_KV_R8"},   ForkType{399, "Q8_K_R8"},
};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) != std::toupper(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

}  // namespace

std::span<const TypeInfo> all_types() { return kTypes; }

const TypeInfo* find_type(uint32_t id) {
  if (id >= kIndexById.size() || kIndexById[id] < 0) return nullptr;
  return &kTypes[static_cast<size_t>(kIndexById[id])];
}

const TypeInfo& type_info(GgmlType type) {
  const TypeInfo* info = find_type(static_cast<uint32_t>(type));
  R1_CHECK(info != nullptr, "GgmlType value without a table row");
  return *info;
}

const TypeInfo* find_type_by_name(std::string_view name) {
  for (const auto& t : kTypes) {
    if (iequals(t.name, name)) return &t;
  }
  return nullptr;
}

std::string describe_unknown_type(uint32_t id) {
  for (const auto& r : kRetired) {
    if (r.id == id) return std::string(r.why);
  }
  for (const auto& f : kIkLlamaTypes) {
    if (f.id == id) {
      return fmt::format(
          "type id {} is {}, a type only the ik_llama.cpp fork defines; r1 reads llama.cpp's types: use a file "
          "quantized with llama.cpp (e.g. Q4_K_M, IQ4_XS, or the IQ1_S/IQ2_XXS dynamic mixes)",
          id, f.name);
    }
  }
  return fmt::format("unknown tensor type id {} (llama.cpp defines 0-42; is the file from a newer llama.cpp?)", id);
}

std::optional<uint64_t> row_bytes(const TypeInfo& info, uint64_t n_elements) {
  if (n_elements % info.block_size != 0) return std::nullopt;
  return n_elements / info.block_size * info.type_size;
}

}  // namespace r1
