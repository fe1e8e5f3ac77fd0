// MappedFile: a whole file's bytes, read-only, for the GGUF and safetensors readers: mapped from the page cache
// (zero-copy) or copied into anonymous memory (see Residency). Owns the memory; move-only. An empty file maps
// to an empty span without calling mmap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace r1 {

// How a file's bytes are held in memory.
// - kMapped: the page cache's pages mapped into the process (zero-copy, loads at once, pages can be dropped and
//   read again under memory pressure; a model larger than RAM still runs, at the disk's speed).
// - kCopied: read once into fresh private memory (map_fresh_memory: huge pages, faulted in up front). Costs a
//   read of the file at load; decoding reads the weights markedly faster from it (docs/PERFORMANCE.md: 1.5B Q8_0
//   on Zen 5, 2 threads, +40 % tokens/s), where the mapped pages are 4 KiB and scattered.
enum class Residency { kMapped, kCopied };

// The residency for a weights file of file_bytes under mode "map", "copy" or "auto" (copied when it fits in
// MemAvailable with room to spare: max(2 GiB, MemTotal / 8) left over; mapped otherwise, or when /proc/meminfo
// cannot be read). Another mode is an r1::Error.
Residency choose_residency(std::string_view mode, uint64_t file_bytes);
const char* residency_name(Residency r);  // "mapped" or "copied"

class MappedFile {
 public:
  // Throws r1::Error naming the path when the file cannot be opened, is not a regular file, cannot be mapped,
  // or (kCopied) cannot be allocated or read in full.
  explicit MappedFile(const std::string& path, Residency residency = Residency::kMapped);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  Residency residency() const { return residency_; }

 private:
  void release() noexcept;

  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  Residency residency_ = Residency::kMapped;
};

}  // namespace r1
