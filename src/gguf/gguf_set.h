// GgufSet: a model stored as one GGUF file or as a split set (NAME-00001-of-00003.gguf ...). Given any part,
// opens every part and presents their tensors as one list; metadata comes from the first part.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gguf_file.h"

namespace r1 {

class GgufSet {
 public:
  struct Tensor {
    const GgufTensorInfo* info;
    uint32_t part;  // index into parts()
  };

  // A missing or inconsistent part is an r1::Error naming the part's path. residency: "map" (every part
  // mapped), "copy" or "auto" (choose_residency, mapped_file.h, part by part as each is opened).
  static GgufSet open(const std::string& path, std::string_view residency = "map");

  const GgufMetadata& metadata() const { return parts_.front().metadata(); }
  // Overrides one metadata value, llama.cpp's --override-kv syntax: KEY=TYPE:VALUE with TYPE int, float, bool
  // or str (e.g. "qwen2.context_length=int:8192"). A malformed spec is an r1::Error.
  void apply_override(const std::string& spec);
  const std::vector<GgufFile>& parts() const { return parts_; }
  const std::vector<Tensor>& tensors() const { return tensors_; }
  const Tensor* find_tensor(std::string_view name) const;
  std::span<const uint8_t> tensor_data(const Tensor& tensor) const;
  uint64_t total_file_bytes() const;
  // Bytes of the parts held mapped from the page cache (not copied into the process).
  uint64_t mapped_file_bytes() const;
  // "mapped", "copied", or "mixed" (auto copied some parts before memory ran short).
  std::string residency() const;

  // "m-00002-of-00003.gguf" → {"m", 2, 3}; nullopt when the name does not follow the split pattern.
  struct SplitName {
    std::string prefix;
    uint32_t number;
    uint32_t count;
  };
  static std::optional<SplitName> parse_split_name(const std::string& path);
  static std::string split_path(const std::string& prefix, uint32_t number, uint32_t count);

 private:
  std::vector<GgufFile> parts_;
  std::vector<Tensor> tensors_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace r1
