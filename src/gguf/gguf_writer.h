// GgufWriter: writes a GGUF v3 file (metadata, tensor infos, aligned data) to a temporary file next to the
// destination and renames it over the destination only when everything was written: the user never finds a
// half-written file, and an existing file survives a failure (full disk, bad input).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "gguf_value.h"
#include "type_table.h"

namespace r1 {

class GgufWriter {
 public:
  // Streams a tensor's bytes: call write(bytes) as often as needed; the total must equal the tensor's size.
  using ByteSink = std::function<void(std::span<const uint8_t>)>;
  using Producer = std::function<void(const ByteSink& write)>;

  explicit GgufWriter(uint32_t alignment = 32);

  // Replaces an existing key's value (keeping its position) or appends a new key.
  void set(const std::string& key, GgufValue value);
  void remove(const std::string& key);
  // dims fastest-varying first. Data is copied only when write() runs (the span must stay valid until then).
  void add_tensor(const std::string& name, GgmlType type, std::vector<uint64_t> dims, std::span<const uint8_t> data);
  // Data produced during write(), for streaming large models tensor by tensor.
  void add_tensor(const std::string& name, GgmlType type, std::vector<uint64_t> dims, Producer producer);

  // Writes the file (temporary file + rename). Throws r1::Error naming the path on any failure.
  void write(const std::string& path) const;

  uint64_t tensor_bytes(size_t i) const { return tensors_[i].n_bytes; }
  size_t n_tensors() const { return tensors_.size(); }

 private:
  struct PendingTensor {
    std::string name;
    GgmlType type;
    std::vector<uint64_t> dims;
    uint64_t n_bytes;
    uint64_t offset;
    Producer producer;
  };
  void add(PendingTensor t);

  uint32_t alignment_;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::vector<PendingTensor> tensors_;
  uint64_t data_size_ = 0;
};

}  // namespace r1
