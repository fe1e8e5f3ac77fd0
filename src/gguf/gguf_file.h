// GgufFile: one GGUF file (version 2 or 3), validated completely at open, read zero-copy over a read-only
// memory map. GgufMetadata: the key/value section with typed accessors. Every count, length, dimension,
// offset and size from the file is checked against the file size before use; all failures are r1::Error
// naming the file and the byte offset.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gguf_value.h"
#include "mapped_file.h"
#include "type_table.h"

namespace r1 {

inline constexpr uint32_t kGgufMaxDims = 4;
inline constexpr uint32_t kGgufDefaultAlignment = 32;

// The metadata of a file, in file order, with lookups by key. Accessors throw r1::Error naming the file and
// the key when the key is missing or has another type; find_* return nullopt when the key is missing.
class GgufMetadata {
 public:
  GgufMetadata() = default;
  explicit GgufMetadata(std::string source) : source_(std::move(source)) {}

  // Returns false when the key is already present (the reader turns that into an error).
  bool add(std::string key, GgufValue value);
  // Replaces the value of an existing key or appends a new one (metadata overrides).
  void set(const std::string& key, GgufValue value);

  const std::vector<std::pair<std::string, GgufValue>>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }
  const GgufValue* find(std::string_view key) const;
  bool contains(std::string_view key) const { return find(key) != nullptr; }

  // Integers of any width (range-checked into the result type); floats f32 or f64.
  int64_t get_int(std::string_view key) const;
  uint64_t get_uint(std::string_view key) const;
  uint32_t get_u32(std::string_view key) const;
  double get_float(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  const std::string& get_string(std::string_view key) const;
  const GgufArray& get_array(std::string_view key) const;
  std::vector<std::string> get_string_array(std::string_view key) const;
  std::vector<int64_t> get_int_array(std::string_view key) const;
  std::vector<float> get_float_array(std::string_view key) const;

  std::optional<int64_t> find_int(std::string_view key) const;
  std::optional<uint64_t> find_uint(std::string_view key) const;
  std::optional<double> find_float(std::string_view key) const;
  std::optional<bool> find_bool(std::string_view key) const;
  std::optional<std::string> find_string(std::string_view key) const;

  const std::string& source() const { return source_; }

 private:
  const GgufValue& require(std::string_view key) const;

  std::string source_;  // file path, for error messages
  std::vector<std::pair<std::string, GgufValue>> entries_;
  std::unordered_map<std::string, size_t> index_;
};

struct GgufTensorInfo {
  std::string name;
  const TypeInfo* type = nullptr;
  uint32_t n_dims = 0;
  std::array<uint64_t, kGgufMaxDims> dims{1, 1, 1, 1};  // fastest-varying first, as in the file
  uint64_t offset = 0;      // relative to the data section of its file
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
  uint64_t info_offset = 0;  // where this tensor's info record starts in the file (for error messages)

  std::vector<uint64_t> shape() const { return {dims.begin(), dims.begin() + n_dims}; }
};

class GgufFile {
 public:
  // Maps (or copies, see Residency in mapped_file.h) and validates the file at path.
  static GgufFile open(const std::string& path, Residency residency = Residency::kMapped);
  // Validates bytes that the caller keeps alive (fuzzing, tests). name appears in error messages.
  static GgufFile parse(std::span<const uint8_t> bytes, std::string name);

  GgufFile(GgufFile&&) noexcept = default;
  GgufFile& operator=(GgufFile&&) noexcept = default;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t file_size() const { return bytes_.size(); }
  Residency residency() const { return map_ ? map_->residency() : Residency::kMapped; }
  uint64_t data_offset() const { return data_offset_; }  // absolute offset of the data section
  const GgufMetadata& metadata() const { return metadata_; }
  GgufMetadata& mutable_metadata() { return metadata_; }  // for --override-kv; tensors stay read-only
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;
  // The tensor's bytes inside the mapping (bounds were checked at open).
  std::span<const uint8_t> tensor_data(const GgufTensorInfo& tensor) const;

 private:
  GgufFile() = default;
  void parse_all();

  std::string path_;
  std::unique_ptr<MappedFile> map_;  // null when parsing caller-owned bytes
  std::span<const uint8_t> bytes_;
  uint32_t version_ = 0;
  uint32_t alignment_ = kGgufDefaultAlignment;
  uint64_t data_offset_ = 0;
  GgufMetadata metadata_;
  std::vector<GgufTensorInfo> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
};

}  // namespace r1
