// GgufFile parsing and validation, and GgufMetadata's typed accessors.
//
// Layout (GGUF v2/v3, little-endian): magic "GGUF", u32 version, u64 n_tensors, u64 n_kv, then n_kv
// key/value records, then n_tensors tensor infos (name, u32 n_dims, u64 dims[n_dims], u32 type, u64 offset),
// padding to general.alignment, then the data section. Every number read is checked against what remains
// of the file before it sizes anything, so a hostile header cannot make us allocate or read out of bounds.
#include "gguf_file.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "error.h"
#include "utf8.h"

namespace r1 {
namespace {

constexpr uint32_t kMaxArrayDepth = 8;  // nested arrays deeper than this are refused (no deep recursion)

// Reads little-endian values from the header, throwing r1::Error with the byte offset on any overrun.
class Cursor {
 public:
  Cursor(std::span<const uint8_t> bytes, const std::string& name) : bytes_(bytes), name_(name) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return bytes_.size() - pos_; }

  [[noreturn]] void fail(uint64_t at, const std::string& what) const { throw Error(what).file(name_).offset(at); }

  void need(uint64_t n, const char* what) const {
    if (n > remaining()) {
      fail(pos_, fmt::format("file truncated: {} needs {} bytes, {} left", what, n, remaining()));
    }
  }

  template <typename T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  const uint8_t* take(uint64_t n, const char* what) {
    need(n, what);
    const uint8_t* p = bytes_.data() + pos_;
    pos_ += n;
    return p;
  }

  std::string read_string(const char* what) {
    const uint64_t at = pos_;
    const uint64_t len = read<uint64_t>(what);
    if (len > remaining()) {
      fail(at, fmt::format("{} has length {} but only {} bytes remain in the file", what, len, remaining()));
    }
    const uint8_t* p = take(len, what);
    return std::string(reinterpret_cast<const char*>(p), len);
  }

 private:
  std::span<const uint8_t> bytes_;
  const std::string& name_;
  uint64_t pos_ = 0;
};

// Checked count: each of n items needs at least min_item_bytes, so n can never exceed what the file holds.
void check_count(const Cursor& c, uint64_t at, uint64_t n, uint64_t min_item_bytes, const char* what) {
  if (min_item_bytes > 0 && n > c.remaining() / min_item_bytes) {
    c.fail(at, fmt::format("{} {} is impossible: the remaining {} bytes hold at most {}", what, n, c.remaining(),
                           c.remaining() / min_item_bytes));
  }
}

GgufValue read_value(Cursor& c, GgufType type, uint32_t depth);

GgufArray read_array(Cursor& c, uint32_t depth) {
  const uint64_t at = c.pos();
  if (depth >= kMaxArrayDepth) c.fail(at, fmt::format("arrays nested deeper than {} levels", kMaxArrayDepth));
  const uint32_t element_id = c.read<uint32_t>("array element type");
  if (!gguf_type_valid(element_id)) c.fail(at, fmt::format("array has unknown element type {}", element_id));
  GgufArray a;
  a.element_type = static_cast<GgufType>(element_id);
  const uint64_t count_at = c.pos();
  const uint64_t n = c.read<uint64_t>("array length");
  switch (a.element_type) {
    case GgufType::kString: {
      check_count(c, count_at, n, 8, "string array length");
      a.strings.reserve(n);
      for (uint64_t i = 0; i < n; ++i) a.strings.push_back(c.read_string("string array element"));
      break;
    }
    case GgufType::kArray: {
      check_count(c, count_at, n, 12, "nested array length");
      a.arrays.reserve(n);
      for (uint64_t i = 0; i < n; ++i) a.arrays.push_back(GgufValue::array(read_array(c, depth + 1)));
      break;
    }
    default: {
      const uint32_t size = gguf_type_size(a.element_type);
      check_count(c, count_at, n, size, "array length");
      const uint8_t* p = c.take(n * size, "array data");
      a.packed.assign(p, p + n * size);
      if (a.element_type == GgufType::kBool) {
        for (uint64_t i = 0; i < n; ++i) {
          if (p[i] > 1) c.fail(count_at + 8 + i, fmt::format("bool array element {} has value {}", i, p[i]));
        }
      }
      break;
    }
  }
  return a;
}

GgufValue read_value(Cursor& c, GgufType type, uint32_t depth) {
  switch (type) {
    case GgufType::kU8: return GgufValue::u8(c.read<uint8_t>("u8 value"));
    case GgufType::kI8: return GgufValue::i8(c.read<int8_t>("i8 value"));
    case GgufType::kU16: return GgufValue::u16(c.read<uint16_t>("u16 value"));
    case GgufType::kI16: return GgufValue::i16(c.read<int16_t>("i16 value"));
    case GgufType::kU32: return GgufValue::u32(c.read<uint32_t>("u32 value"));
    case GgufType::kI32: return GgufValue::i32(c.read<int32_t>("i32 value"));
    case GgufType::kF32: return GgufValue::f32(c.read<float>("f32 value"));
    case GgufType::kU64: return GgufValue::u64(c.read<uint64_t>("u64 value"));
    case GgufType::kI64: return GgufValue::i64(c.read<int64_t>("i64 value"));
    case GgufType::kF64: return GgufValue::f64(c.read<double>("f64 value"));
    case GgufType::kBool: {
      const uint64_t at = c.pos();
      const uint8_t b = c.read<uint8_t>("bool value");
      if (b > 1) c.fail(at, fmt::format("bool value {} is neither 0 nor 1", b));
      return GgufValue::boolean(b != 0);
    }
    case GgufType::kString: return GgufValue::string(c.read_string("string value"));
    case GgufType::kArray: return GgufValue::array(read_array(c, depth));
  }
  return {};
}

bool mul_overflows(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_mul_overflow(a, b, out); }

}  // namespace

GgufFile GgufFile::open(const std::string& path, Residency residency) {
  GgufFile f;
  f.path_ = path;
  f.map_ = std::make_unique<MappedFile>(path, residency);
  f.bytes_ = f.map_->bytes();
  f.parse_all();
  return f;
}

GgufFile GgufFile::parse(std::span<const uint8_t> bytes, std::string name) {
  GgufFile f;
  f.path_ = std::move(name);
  f.bytes_ = bytes;
  f.parse_all();
  return f;
}

void GgufFile::parse_all() {
  static_assert(std::endian::native == std::endian::little, "r1 reads GGUF on little-endian hosts only");
  Cursor c(bytes_, path_);
  metadata_ = GgufMetadata(path_);

  if (bytes_.size() < 4 || std::memcmp(bytes_.data(), "GGUF", 4) != 0) {
    c.fail(0, bytes_.size() < 4 ? "not a GGUF file: shorter than the 4-byte magic"
                                : "not a GGUF file: the first 4 bytes are not \"GGUF\"");
  }
  c.take(4, "magic");
  version_ = c.read<uint32_t>("version");
  if (version_ != 2 && version_ != 3) {
    if ((version_ & 0xffff) == 0 && (__builtin_bswap32(version_) == 2 || __builtin_bswap32(version_) == 3)) {
      c.fail(4, "big-endian GGUF file; r1 reads little-endian GGUF files only (convert it with llama.cpp's "
                "gguf tools)");
    }
    if (version_ == 1) c.fail(4, "GGUF version 1 is no longer supported; re-convert the model (versions 2 and 3 are)");
    c.fail(4, fmt::format("unsupported GGUF version {} (r1 reads versions 2 and 3)", version_));
  }
  const uint64_t n_tensors_at = c.pos();
  const uint64_t n_tensors = c.read<uint64_t>("tensor count");
  const uint64_t n_kv_at = c.pos();
  const uint64_t n_kv = c.read<uint64_t>("metadata count");
  // A key/value record is at least 8 (key length) + 1 (key) + 4 (type) + 1 (value) bytes;
  // a tensor info at least 8 + 1 + 4 + 8 + 4 + 8 = 33.
  check_count(c, n_kv_at, n_kv, 14, "metadata count");

  for (uint64_t i = 0; i < n_kv; ++i) {
    const uint64_t at = c.pos();
    std::string key = c.read_string("metadata key");
    if (key.empty()) c.fail(at, fmt::format("metadata key {} is empty", i));
    if (!is_valid_utf8(key)) c.fail(at, fmt::format("metadata key {} is not valid UTF-8", i));
    const uint64_t type_at = c.pos();
    const uint32_t type_id = c.read<uint32_t>("metadata value type");
    if (!gguf_type_valid(type_id)) {
      throw Error(fmt::format("unknown metadata value type {}", type_id)).file(path_).offset(type_at).key(key);
    }
    GgufValue value = read_value(c, static_cast<GgufType>(type_id), 0);
    if (!metadata_.add(key, std::move(value))) {
      throw Error("duplicate metadata key").file(path_).offset(at).key(key);
    }
  }

  if (const GgufValue* a = metadata_.find("general.alignment")) {
    if (a->type() != GgufType::kU32) {
      throw Error(fmt::format("general.alignment must be u32, found {}", gguf_type_name(a->type())))
          .file(path_).key("general.alignment");
    }
    const uint64_t v = a->as_unsigned();
    if (v == 0 || (v & (v - 1)) != 0) {
      throw Error(fmt::format("general.alignment {} is not a nonzero power of two", v))
          .file(path_).key("general.alignment");
    }
    alignment_ = static_cast<uint32_t>(v);
  }

  check_count(c, n_tensors_at, n_tensors, 33, "tensor count");
  tensors_.reserve(n_tensors);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t;
    t.info_offset = c.pos();
    t.name = c.read_string("tensor name");
    auto fail_tensor = [&](const std::string& what) -> void {
      throw Error(what).file(path_).offset(t.info_offset).tensor(t.name);
    };
    if (t.name.empty()) c.fail(t.info_offset, fmt::format("tensor {} has an empty name", i));
    if (!is_valid_utf8(t.name)) c.fail(t.info_offset, fmt::format("tensor {} has a name that is not valid UTF-8", i));
    t.n_dims = c.read<uint32_t>("tensor dimension count");
    if (t.n_dims == 0) fail_tensor("tensor has zero dimensions");
    if (t.n_dims > kGgufMaxDims) {
      fail_tensor(fmt::format("tensor has {} dimensions; at most {} are allowed", t.n_dims, kGgufMaxDims));
    }
    uint64_t n_elements = 1;
    for (uint32_t d = 0; d < t.n_dims; ++d) {
      t.dims[d] = c.read<uint64_t>("tensor dimension");
      if (t.dims[d] == 0) fail_tensor(fmt::format("dimension {} is zero", d));
      if (mul_overflows(n_elements, t.dims[d], &n_elements) ||
          n_elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        fail_tensor("the product of the dimensions overflows");
      }
    }
    t.n_elements = n_elements;
    const uint32_t type_id = c.read<uint32_t>("tensor type");
    t.type = find_type(type_id);
    if (t.type == nullptr) fail_tensor(describe_unknown_type(type_id));
    if (t.dims[0] % t.type->block_size != 0) {
      fail_tensor(fmt::format("first dimension {} is not a multiple of the {} block size {}", t.dims[0],
                              t.type->name, t.type->block_size));
    }
    // n_bytes = elements / block_size * type_size; the row check above makes the division exact.
    if (mul_overflows(n_elements / t.type->block_size, t.type->type_size, &t.n_bytes)) {
      fail_tensor("the tensor's byte size overflows");
    }
    t.offset = c.read<uint64_t>("tensor data offset");
    if (t.offset % alignment_ != 0) {
      fail_tensor(fmt::format("data offset {} is not a multiple of the alignment {}", t.offset, alignment_));
    }
    if (!tensor_index_.emplace(t.name, tensors_.size()).second) fail_tensor("duplicate tensor name");
    tensors_.push_back(std::move(t));
  }

  // The data section starts at the next multiple of the alignment after the header.
  const uint64_t header_end = c.pos();
  data_offset_ = (header_end + alignment_ - 1) / alignment_ * alignment_;
  if (tensors_.empty()) return;  // vocabulary-only files may end right after the header
  if (data_offset_ > bytes_.size()) {
    c.fail(header_end, fmt::format("file truncated: the data section would start at byte {} but the file has {}",
                                   data_offset_, bytes_.size()));
  }
  const uint64_t data_size = bytes_.size() - data_offset_;
  for (const auto& t : tensors_) {
    if (t.offset > data_size || t.n_bytes > data_size - t.offset) {
      throw Error(fmt::format("tensor data [{}, +{}) lies past the end of the data section ({} bytes); "
                              "the file is truncated or corrupt",
                              t.offset, t.n_bytes, data_size))
          .file(path_).offset(t.info_offset).tensor(t.name);
    }
  }
  // Tensors must not overlap: sort by offset and compare neighbours.
  std::vector<const GgufTensorInfo*> by_offset;
  by_offset.reserve(tensors_.size());
  for (const auto& t : tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const GgufTensorInfo* a, const GgufTensorInfo* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const GgufTensorInfo& prev = *by_offset[i - 1];
    const GgufTensorInfo& cur = *by_offset[i];
    if (cur.offset < prev.offset + prev.n_bytes) {
      throw Error(fmt::format("data overlaps tensor '{}' (bytes [{}, +{}))", prev.name, prev.offset, prev.n_bytes))
          .file(path_).offset(cur.info_offset).tensor(cur.name);
    }
  }
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  const auto it = tensor_index_.find(std::string(name));
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::span<const uint8_t> GgufFile::tensor_data(const GgufTensorInfo& tensor) const {
  return bytes_.subspan(data_offset_ + tensor.offset, tensor.n_bytes);
}

}  // namespace r1
