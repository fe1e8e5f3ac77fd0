// The streaming quantizer: reads a GGUF file (or split set) tensor by tensor, converts each as its plan says
// (dequantize when needed, then quantize rows over the thread pool, a bounded chunk of rows at a time) and
// writes the result through GgufWriter (temporary file, renamed when complete). Memory use is bounded by the
// chunk size, not by the model. Which type each tensor gets is decided by quantize_plan.h, not here.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "gguf_set.h"
#include "quantize_plan.h"

namespace r1 {

class ThreadPool;

// The planner's view of an opened model (names, types, shapes in file order).
std::vector<PlanInput> quantize_plan_inputs(const GgufSet& input);

struct QuantizeProgress {
  size_t tensor_index = 0;          // the tensor being written (0-based, plan order)
  size_t n_tensors = 0;
  const std::string* tensor_name = nullptr;
  uint64_t bytes_done = 0;          // output bytes produced so far, all tensors
  uint64_t bytes_total = 0;         // the plan's output size
};

// Importance weights per tensor name (an importance matrix, imatrix_file.h): n_slices × n_per_row values, one
// row per expert slice of a 3-D tensor, one row for a 2-D tensor.
using ImportanceMap = std::map<std::string, std::vector<float>>;

struct QuantizeModelOptions {
  ThreadPool* pool = nullptr;              // null: single-threaded
  bool allow_requantize = false;           // converting already-quantized tensors (lossy twice) needs consent
  uint64_t chunk_bytes = 64ull << 20;      // float32 working set per chunk (rounded to whole rows)
  // null: no importance matrix. Tensors it does not name are quantized without importance weights.
  const ImportanceMap* importance = nullptr;
  // Keys appended to the output's metadata after general.file_type (llama.cpp's quantize.imatrix.*).
  std::vector<std::pair<std::string, GgufValue>> extra_metadata{};
  // Called on the calling thread after every chunk; keep it cheap (the CLI's progress bar rate-limits itself).
  std::function<void(const QuantizeProgress&)> on_progress{};
};

// Checks that every conversion of the plan can be done (decoders and encoders exist, requantizing allowed)
// before any byte is written. Throws r1::Error naming the first tensor that cannot.
// With an importance map, also that each tensor's importance has n_slices × n_per_row values.
void check_quantize_plan(const QuantizePlan& plan, const QuantizeModelOptions& options);

// The tensors the plan encodes into a block format (src type != dst type, dst quantized) that the importance
// map does not name, in plan order; empty without a map.
std::vector<std::string> tensors_without_importance(const QuantizePlan& plan, const ImportanceMap& importance);

// The output's metadata: the input's keys in order (split.* dropped), then general.quantization_version and
// general.file_type moved to the end, as llama.cpp writes them.
void copy_quantize_metadata(const GgufMetadata& input, int file_type, class GgufWriter* writer);

// Writes out_path. Throws r1::Error (the destination is untouched on failure).
void quantize_model(const GgufSet& input, const QuantizePlan& plan, const std::string& out_path,
                    const QuantizeModelOptions& options);

}  // namespace r1
