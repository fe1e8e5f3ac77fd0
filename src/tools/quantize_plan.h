// The quantization plan: which type every tensor of a model gets under a named mix (llama.cpp's file types
// Q4_K_M, IQ2_XXS, ...), a dynamic recipe and --tensor-type overrides, with llama.cpp's per-tensor rules and
// block-size fallbacks, and the resulting sizes. Pure bookkeeping over names and shapes: no tensor data is
// touched here (quantize_model.h does the work; quantize_recipes.h holds the R1 recipes and shape catalog).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "type_table.h"

namespace r1 {

class GgufMetadata;
struct QuantRecipe;

// One named mix, as llama-quantize lists them: the llama_ftype number written to general.file_type and the
// default type of the tensors the rules do not change.
struct QuantMix {
  std::string_view name;      // "Q4_K_M"
  int file_type;              // llama_ftype: 15
  GgmlType default_type;      // Q4_K
  std::string_view summary;   // one line for --help and errors
};

// Every mix r1 can write, in llama-quantize's listing order.
std::span<const QuantMix> all_quant_mixes();
// Case-insensitive; accepts llama-quantize's aliases (Q3_K → Q3_K_M, Q4_K → Q4_K_M, Q5_K → Q5_K_M).
const QuantMix* find_quant_mix(std::string_view name);
// "Q4_K_M, Q8_0, ..." for error messages.
std::string quant_mix_names();

// What the rules need to know about the model (llama.cpp reads the same from its hparams).
struct QuantModelInfo {
  std::string arch{};           // general.architecture
  int n_layer = 0;              // <arch>.block_count
  int n_head = 0;               // <arch>.attention.head_count (layer 0 when per layer)
  int n_head_kv = 0;            // <arch>.attention.head_count_kv (defaults to n_head)
  int n_expert = 0;             // <arch>.expert_count (0: dense)
  int n_leading_dense = 0;      // <arch>.leading_dense_block_count (DeepSeek: first layers without MoE)

  static QuantModelInfo from_metadata(const GgufMetadata& metadata);
  int n_gqa() const { return n_head_kv > 0 ? n_head / n_head_kv : 0; }
};

// A tensor as the planner sees it: name, current type, shape (fastest-varying first, as in GGUF).
struct PlanInput {
  std::string name;
  GgmlType type;
  std::vector<uint64_t> dims;
};

// --tensor-type REGEX=TYPE: the first pattern found anywhere in the name (std::regex_search, ECMAScript, like
// llama-quantize) picks the type; the block-size fallback still applies.
struct TensorTypeOverride {
  std::string pattern;
  GgmlType type;
};
// Parses "REGEX=TYPE" (type name case-insensitive). Throws r1::Error naming the flag value on a bad type
// name, a missing '=' or an invalid regex.
TensorTypeOverride parse_tensor_type_override(std::string_view text);

struct QuantizePlanOptions {
  const QuantMix* mix = nullptr;             // required
  const QuantRecipe* recipe = nullptr;       // optional: per-tensor types of a dynamic recipe (below overrides)
  std::vector<TensorTypeOverride> overrides{}; // --tensor-type, in command-line order (checked first)
  std::optional<GgmlType> output_type{};     // --output-tensor-type
  std::optional<GgmlType> token_embd_type{}; // --token-embedding-type
  bool pure = false;                         // --pure: default type everywhere (no mix rules)
  bool quantize_output = true;               // false: --leave-output-tensor
  bool has_imatrix = false;                  // some IQ rules differ with an importance matrix
};

struct PlannedTensor {
  std::string name{};
  std::vector<uint64_t> dims{};
  GgmlType src_type = GgmlType::kF32;
  GgmlType dst_type = GgmlType::kF32;
  uint64_t src_bytes = 0;
  uint64_t dst_bytes = 0;
  uint64_t n_elements = 0;
  size_t input_index = 0;         // position in the input list
  bool quantizable = false;       // llama.cpp's rule: a ≥2-D "*weight" that is not a norm, router, ...
  bool requires_imatrix = false;  // a type llama.cpp refuses to write without an importance matrix
  std::string fallback_from{};    // non-empty when the wanted type did not fit the row length
  std::string source{};           // why this type: "mix", "recipe", "override", "kept", "pure"
};

struct QuantizePlan {
  std::vector<PlannedTensor> tensors{};  // in llama.cpp's output order: by layer number, then by name
  int file_type = 0;                   // general.file_type of the output
  uint64_t src_bytes = 0;
  uint64_t dst_bytes = 0;
  uint64_t n_elements = 0;
  int n_fallback = 0;
  int n_requires_imatrix = 0;

  double src_bpw() const { return n_elements ? 8.0 * static_cast<double>(src_bytes) / n_elements : 0.0; }
  double dst_bpw() const { return n_elements ? 8.0 * static_cast<double>(dst_bytes) / n_elements : 0.0; }
};

// Plans every tensor. Throws r1::Error for what llama.cpp refuses: a MoE tensor whose layer cannot be read
// from its name, a type with no fallback for its row length.
QuantizePlan quantize_plan(std::span<const PlanInput> tensors, const QuantModelInfo& model,
                           const QuantizePlanOptions& options);

// The order llama.cpp writes tensors in: tensors outside blocks first, then blk.0, blk.1, ...; by name within.
bool quantize_tensor_order_less(const std::string& a, const std::string& b);

// A human-readable plan: one line per tensor (when per_tensor), then per-type counts and the totals.
std::string format_quantize_plan(const QuantizePlan& plan, bool per_tensor);

}  // namespace r1
