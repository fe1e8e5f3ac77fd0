// SafetensorsFile: one Hugging Face .safetensors file, validated completely at open (header length, JSON
// shape, dtypes, shapes, offsets: every number checked against the file size, overflow-safe, offsets sorted,
// contiguous and covering the data section as the reference implementation requires), read zero-copy over
// a read-only map. SafetensorsSet: the files of a checkpoint folder (single file or sharded with
// model.safetensors.index.json). Decoding to float32 (F32/F16/BF16/F64/FP8) is here too; what the tensors
// mean is the converter's business (convert_hf.h).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mapped_file.h"

namespace r1 {

enum class SafetensorsDtype : uint8_t {
  kBool, kU8, kI8, kF8_E4M3, kF8_E5M2, kI16, kU16, kF16, kBF16, kI32, kU32, kF32, kF64, kI64, kU64,
};

std::string_view safetensors_dtype_name(SafetensorsDtype dtype);  // "BF16", "F8_E4M3", ...
uint32_t safetensors_dtype_size(SafetensorsDtype dtype);          // bytes per element
// True for the dtypes safetensors_to_f32 decodes (floating point ones).
bool safetensors_dtype_is_float(SafetensorsDtype dtype);

struct SafetensorsTensor {
  std::string name;
  SafetensorsDtype dtype = SafetensorsDtype::kF32;
  std::vector<uint64_t> shape;  // outermost first, as PyTorch and the file write it
  uint64_t offset = 0;          // absolute byte offset in the file
  uint64_t n_bytes = 0;
  uint64_t n_elements = 0;
};

inline constexpr uint64_t kSafetensorsMaxHeader = 100'000'000;  // the reference implementation's limit
inline constexpr size_t kSafetensorsMaxRank = 8;

class SafetensorsFile {
 public:
  // Maps and validates the file at path; r1::Error naming the file (and tensor/offset) on any problem.
  static SafetensorsFile open(const std::string& path);
  // Validates bytes the caller keeps alive (fuzzing, tests); name appears in error messages.
  static SafetensorsFile parse(std::span<const uint8_t> bytes, std::string name);

  SafetensorsFile(SafetensorsFile&&) noexcept = default;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept = default;

  const std::string& path() const { return path_; }
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }  // in header order
  const SafetensorsTensor* find(std::string_view name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }  // "__metadata__"
  std::span<const uint8_t> data(const SafetensorsTensor& tensor) const {
    return bytes_.subspan(tensor.offset, tensor.n_bytes);
  }

 private:
  SafetensorsFile() = default;
  void parse_header();

  std::string path_;
  std::unique_ptr<MappedFile> map_;
  std::span<const uint8_t> bytes_;
  std::vector<SafetensorsTensor> tensors_;
  std::unordered_map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// Decodes n elements of a float dtype to float32 (exact for F32/F16/BF16/FP8; F64 rounds to nearest).
// Throws r1::Error for a non-float dtype.
void safetensors_to_f32(SafetensorsDtype dtype, const uint8_t* src, float* dst, size_t n);

// The weights of a checkpoint folder: model.safetensors.index.json (its weight_map names the shards, which
// must be plain file names inside the folder), else model.safetensors, else every *.safetensors file in name
// order. A tensor name may appear in one file only.
class SafetensorsSet {
 public:
  static SafetensorsSet open_dir(const std::string& dir);

  struct Entry {
    const SafetensorsFile* file;
    const SafetensorsTensor* tensor;
  };
  // nullptr-file entry when absent.
  Entry find(std::string_view name) const;
  bool contains(std::string_view name) const { return find(name).file != nullptr; }
  // Every tensor name, sorted.
  std::vector<std::string> names() const;
  const std::vector<std::unique_ptr<SafetensorsFile>>& files() const { return files_; }

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, Entry, std::less<>> by_name_;
};

}  // namespace r1
