// `r1 synth`: random-weight GGUF files with the real shapes of the R1 family (the model catalog's rows), cut to
// fewer layers or experts on request, at any type or mix r1 can quantize to. The plan (tensor list, types,
// metadata, a synthetic byte-level BPE vocabulary of the real size) is built without touching data, so the full
// 671B model can be sized here; writing streams tensor by tensor through GgufWriter (temporary file + rename),
// drawing and quantizing a bounded chunk of rows at a time, so memory does not grow with the model. Shapes come
// from model_catalog.h, per-tensor types from quantize_plan.h, the codecs from the quant layer.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "gguf_value.h"
#include "model_catalog.h"
#include "quantize_model.h"
#include "quantize_plan.h"

namespace r1 {

class ThreadPool;

struct SynthOptions {
  std::string like;       // catalog name: "r1-distill-qwen-1.5b", "deepseek-r1:7b", "deepseek-r1", "671b", ...
  std::string type;       // a mix (Q4_K_M), an R1 recipe (r1-1.58bit) or one tensor type for every weight (Q4_K)
  int n_layer = 0;        // 0: all the model's layers
  int n_expert = 0;       // 0: all routed experts (MoE models only)
  uint64_t seed = 1;
};

// How a tensor's values are drawn.
enum class SynthFill {
  kUniform,     // uniform in [-a, a] with standard deviation `scale` (a = scale * sqrt(3))
  kOnes,        // norm weights
  kZeros,       // biases, the router's selection bias
  kRopeFactors, // llama3 frequency divisors (rope_freqs.weight)
};

struct SynthTensor {
  SynthFill fill = SynthFill::kZeros;
  float scale = 0.0f;            // kUniform
  std::vector<float> values{};   // kRopeFactors: the whole tensor
};

struct SynthPlan {
  plan::CatalogModel model{};          // the catalog row, cut to n_layer / n_expert
  std::string type_label;              // what --type named, resolved: "Q4_K_M (mix)", "Q4_K (every weight)"
  QuantizePlan quant;                  // every tensor: name, dims, type, bytes, in write order
  std::vector<SynthTensor> fills;      // parallel to quant.tensors
  std::vector<std::pair<std::string, GgufValue>> metadata;  // all keys, in write order
  uint64_t seed = 1;
};

// Resolves the model and the type and plans every tensor. Throws r1::Error for an unknown model or type, a cut
// that does not fit the model (more layers or experts than it has), or a type r1 cannot write.
SynthPlan plan_synth(const SynthOptions& options);

// The --dry-run listing: model, cut, one line per tensor (when per_tensor), per-type totals and sizes.
std::string format_synth_plan(const SynthPlan& plan, bool per_tensor);

struct SynthWriteOptions {
  ThreadPool* pool = nullptr;          // null: single-threaded
  uint64_t chunk_bytes = 64ull << 20;  // float32 working set per chunk (rounded to whole rows)
  std::function<void(const QuantizeProgress&)> on_progress{};  // after every chunk, on the calling thread
};

// Writes the file (temporary file renamed into place when complete). Deterministic for a seed, whatever the
// pool size or chunk size. Throws r1::Error (the destination is untouched on failure).
void write_synth(const SynthPlan& plan, const std::string& out_path, const SynthWriteOptions& options);

}  // namespace r1
