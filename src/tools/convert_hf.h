// `r1 convert`: a Hugging Face checkpoint folder (config.json, *.safetensors, tokenizer.json,
// tokenizer_config.json) to one GGUF file, for the qwen2, llama and deepseek2 architectures, with the names,
// layouts and metadata llama.cpp's converter writes. The per-architecture mapping is convert_arch.h; the
// safetensors reader is safetensors_file.h; the file layout is GgufWriter's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "log.h"
#include "type_table.h"

namespace r1 {

class ThreadPool;

struct ConvertOptions {
  std::string hf_dir{};
  std::string out_path{};
  GgmlType outtype = GgmlType::kF16;  // 2-D weights; norms, biases and the router stay F32
  std::string name{};                 // general.name (default: the folder's name)
  std::string description{};          // general.description (written only when set)
  std::string pre{};                  // tokenizer.ggml.pre override (default: recognised from tokenizer.json)
  bool mla_legacy = false;            // deepseek2: one attn_kv_b (old layout) instead of attn_k_b + attn_v_b
  bool keep_mtp = true;               // deepseek2: keep the multi-token-prediction (nextn) layers
  ThreadPool* pool = nullptr;         // quantized outtypes: rows spread over it (null: calling thread)
};

struct ConvertReport {
  std::string architecture;  // general.architecture written
  size_t n_tensors = 0;
  uint64_t n_bytes = 0;      // tensor data bytes written
  std::vector<std::string> fallbacks;  // "name: Q4_K -> Q8_0 (rows of 192)" for tensors that could not take outtype
};

// The ggml types --outtype accepts: F32, F16, BF16 and every type r1 can quantize to without an importance
// matrix. Throws r1::Error for any other.
GgmlType parse_convert_outtype(const std::string& name);

// Converts; the output appears only when complete (GgufWriter's temporary file + rename). Throws r1::Error
// naming the file, tensor or key on any problem in the input.
ConvertReport convert_hf_to_gguf(const ConvertOptions& options, const Logger& log);

}  // namespace r1
