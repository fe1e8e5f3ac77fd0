// MappedFile: a whole file mapped read-only (zero-copy access for GGUF and safetensors readers).
// Owns the mapping; move-only. An empty file maps to an empty span without calling mmap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace r1 {

class MappedFile {
 public:
  // Throws r1::Error naming the path when the file cannot be opened, is not a regular file, or cannot be mapped.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }

 private:
  void release() noexcept;

  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace r1
