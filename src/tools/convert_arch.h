// The per-architecture half of `r1 convert`: Hugging Face config.json -> GGUF hyperparameter keys, and HF
// tensor names -> GGUF tensors (names, dims, and how each one's float values are assembled: copied, q/k rows
// permuted (llama), experts stacked, kv_b split per head (deepseek2)). Reading, type choice and writing are
// convert_hf.cpp's; this file only plans.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "convert_hf.h"
#include "gguf_value.h"
#include "safetensors_file.h"

namespace r1 {

// config.json with typed, error-reporting accessors (r1::Error naming the file and the key).
class HfConfig {
 public:
  HfConfig(nlohmann::json json, std::string path) : json_(std::move(json)), path_(std::move(path)) {}

  bool has(const std::string& key) const;  // present and not null
  int64_t get_int(const std::string& key) const;
  int64_t get_int(const std::string& key, int64_t fallback) const;
  double get_float(const std::string& key) const;
  double get_float(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  const nlohmann::json& json() const { return json_; }
  const std::string& path() const { return path_; }

 private:
  const nlohmann::json* find(const std::string& key) const;
  nlohmann::json json_;
  std::string path_;
};

// Reads HF tensors as float32 with their shape checked; marks each one used.
class TensorSource {
 public:
  explicit TensorSource(const SafetensorsSet* set) : set_(set) {}

  bool contains(const std::string& name) const { return set_->contains(name); }
  // Throws r1::Error naming the tensor when it is missing or its shape differs from `shape` (outermost first).
  void require(const std::string& name, const std::vector<uint64_t>& shape);
  // Decodes the whole tensor (rows, cols flattened row-major) into out (n_elements floats). FP8 weights with
  // a `<name>_scale_inv` companion (DeepSeek's 128x128 block scales) are multiplied by their scales.
  void read(const std::string& name, float* out) const;
  // Rows [row0, row0 + n_rows) of the tensor viewed as [shape[0], rest] (FP8 scales applied likewise).
  void read_rows(const std::string& name, uint64_t row0, uint64_t n_rows, float* out) const;
  // Every HF tensor that no planned GGUF tensor reads.
  std::vector<std::string> unused() const;

 private:
  const SafetensorsSet* set_;
  std::set<std::string> used_;
};

// One GGUF tensor to write. fill(slice, out) writes the slice-th 2-D (or 1-D) plane, dims[0] * dims[1]
// floats row-major, of a tensor with dims (fastest first); 3-D tensors have dims[2] slices, others one.
struct ConvertTensor {
  std::string name;
  std::vector<uint64_t> dims;
  std::function<void(uint64_t slice, float* out)> fill;
};

struct ArchPlan {
  std::string arch;                                       // general.architecture
  std::vector<std::pair<std::string, GgufValue>> keys;    // "<arch>.*" keys, in write order
  std::vector<ConvertTensor> tensors;                     // in write order
  int64_t vocab_size = 0;                                 // config vocab_size (token list padded to it)
};

// Picks the architecture from config.json's "architectures" and plans it. src outlives the plan.
ArchPlan plan_architecture(const HfConfig& config, TensorSource* src, const ConvertOptions& options, const Logger& log);

}  // namespace r1
