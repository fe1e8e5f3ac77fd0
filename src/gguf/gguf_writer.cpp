// GgufWriter: serialization in GGUF v3 layout and the temporary-file-then-rename commit.
#include "gguf_writer.h"

#include <algorithm>

#include "atomic_file.h"
#include "error.h"

namespace r1 {
namespace {

// GGUF's primitive encodings over an AtomicFile.
class Output {
 public:
  explicit Output(const std::string& path) : file_(path) {}
  void bytes(const void* p, size_t n) { file_.write(p, n); }
  template <typename T>
  void pod(T v) {
    bytes(&v, sizeof v);
  }
  void string(const std::string& s) {
    pod<uint64_t>(s.size());
    bytes(s.data(), s.size());
  }
  void pad_to(uint64_t alignment) {
    static const uint8_t zeros[256] = {};
    while (file_.written() % alignment != 0) {
      const uint64_t n = std::min<uint64_t>(sizeof zeros, alignment - file_.written() % alignment);
      bytes(zeros, n);
    }
  }
  void commit() { file_.commit(); }

 private:
  AtomicFile file_;
};

void write_value(Output& out, const GgufValue& v);

void write_array(Output& out, const GgufArray& a) {
  out.pod<uint32_t>(static_cast<uint32_t>(a.element_type));
  out.pod<uint64_t>(a.size());
  if (a.element_type == GgufType::kString) {
    for (const auto& s : a.strings) out.string(s);
  } else if (a.element_type == GgufType::kArray) {
    for (const auto& inner : a.arrays) write_array(out, inner.as_array());
  } else {
    out.bytes(a.packed.data(), a.packed.size());
  }
}

void write_value(Output& out, const GgufValue& v) {
  switch (v.type()) {
    case GgufType::kU8: out.pod<uint8_t>(static_cast<uint8_t>(v.as_unsigned())); break;
    case GgufType::kI8: out.pod<int8_t>(static_cast<int8_t>(v.as_signed())); break;
    case GgufType::kU16: out.pod<uint16_t>(static_cast<uint16_t>(v.as_unsigned())); break;
    case GgufType::kI16: out.pod<int16_t>(static_cast<int16_t>(v.as_signed())); break;
    case GgufType::kU32: out.pod<uint32_t>(static_cast<uint32_t>(v.as_unsigned())); break;
    case GgufType::kI32: out.pod<int32_t>(static_cast<int32_t>(v.as_signed())); break;
    case GgufType::kU64: out.pod<uint64_t>(v.as_unsigned()); break;
    case GgufType::kI64: out.pod<int64_t>(v.as_signed()); break;
    case GgufType::kF32: out.pod<float>(static_cast<float>(v.as_double())); break;
    case GgufType::kF64: out.pod<double>(v.as_double()); break;
    case GgufType::kBool: out.pod<uint8_t>(v.as_bool() ? 1 : 0); break;
    case GgufType::kString: out.string(v.as_string()); break;
    case GgufType::kArray: write_array(out, v.as_array()); break;
  }
}

}  // namespace

GgufWriter::GgufWriter(uint32_t alignment) : alignment_(alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
    throw Error(fmt::format("alignment {} is not a nonzero power of two", alignment));
  }
  if (alignment != 32) set("general.alignment", GgufValue::u32(alignment));
}

void GgufWriter::set(const std::string& key, GgufValue value) {
  for (auto& [k, v] : metadata_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  metadata_.emplace_back(key, std::move(value));
}

void GgufWriter::remove(const std::string& key) {
  std::erase_if(metadata_, [&](const auto& kv) { return kv.first == key; });
}

void GgufWriter::add(PendingTensor t) {
  if (t.name.empty()) throw Error("tensor name is empty");
  for (const auto& other : tensors_) {
    if (other.name == t.name) throw Error("duplicate tensor name").tensor(t.name);
  }
  if (t.dims.empty() || t.dims.size() > 4) {
    throw Error(fmt::format("tensor has {} dimensions (1 to 4 allowed)", t.dims.size())).tensor(t.name);
  }
  const TypeInfo& info = type_info(t.type);
  uint64_t n = 1;
  for (uint64_t d : t.dims) {
    if (d == 0 || __builtin_mul_overflow(n, d, &n)) throw Error("invalid tensor dimensions").tensor(t.name);
  }
  if (t.dims[0] % info.block_size != 0) {
    throw Error(fmt::format("first dimension {} is not a multiple of the {} block size {}", t.dims[0], info.name,
                            info.block_size))
        .tensor(t.name);
  }
  t.n_bytes = n / info.block_size * info.type_size;
  t.offset = data_size_;
  data_size_ = (data_size_ + t.n_bytes + alignment_ - 1) / alignment_ * alignment_;
  tensors_.push_back(std::move(t));
}

void GgufWriter::add_tensor(const std::string& name, GgmlType type, std::vector<uint64_t> dims,
                            std::span<const uint8_t> data) {
  const std::string tensor_name = name;
  Producer producer = [data, tensor_name](const ByteSink& write) { write(data); };
  add(PendingTensor{name, type, std::move(dims), 0, 0, std::move(producer)});
  if (data.size() != tensors_.back().n_bytes) {
    const uint64_t expected = tensors_.back().n_bytes;
    tensors_.pop_back();
    throw Error(fmt::format("data has {} bytes, the shape and type need {}", data.size(), expected)).tensor(name);
  }
}

void GgufWriter::add_tensor(const std::string& name, GgmlType type, std::vector<uint64_t> dims, Producer producer) {
  add(PendingTensor{name, type, std::move(dims), 0, 0, std::move(producer)});
}

void GgufWriter::write(const std::string& path) const {
  Output out(path);  // a temporary file beside path, renamed over it only when everything is written
  out.bytes("GGUF", 4);
  out.pod<uint32_t>(3);
  out.pod<uint64_t>(tensors_.size());
  out.pod<uint64_t>(metadata_.size());
  for (const auto& [key, value] : metadata_) {
    out.string(key);
    out.pod<uint32_t>(static_cast<uint32_t>(value.type()));
    write_value(out, value);
  }
  for (const auto& t : tensors_) {
    out.string(t.name);
    out.pod<uint32_t>(static_cast<uint32_t>(t.dims.size()));
    for (uint64_t d : t.dims) out.pod<uint64_t>(d);
    out.pod<uint32_t>(static_cast<uint32_t>(t.type));
    out.pod<uint64_t>(t.offset);
  }
  out.pad_to(alignment_);
  for (const auto& t : tensors_) {
    uint64_t produced = 0;
    t.producer([&](std::span<const uint8_t> bytes) {
      if (produced + bytes.size() > t.n_bytes) {
        throw Error(fmt::format("producer wrote more than the tensor's {} bytes", t.n_bytes)).tensor(t.name);
      }
      out.bytes(bytes.data(), bytes.size());
      produced += bytes.size();
    });
    if (produced != t.n_bytes) {
      throw Error(fmt::format("producer wrote {} of the tensor's {} bytes", produced, t.n_bytes)).tensor(t.name);
    }
    out.pad_to(alignment_);  // like llama.cpp, every tensor (the last too) ends padded
  }
  out.commit();
}

}  // namespace r1
