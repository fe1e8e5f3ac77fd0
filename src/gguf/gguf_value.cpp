// GgufValue helpers: type names and sizes, array construction, equality.
#include "gguf_value.h"

#include <cstring>
#include <limits>

namespace r1 {

std::string_view gguf_type_name(GgufType type) {
  switch (type) {
    case GgufType::kU8: return "u8";
    case GgufType::kI8: return "i8";
    case GgufType::kU16: return "u16";
    case GgufType::kI16: return "i16";
    case GgufType::kU32: return "u32";
    case GgufType::kI32: return "i32";
    case GgufType::kF32: return "f32";
    case GgufType::kBool: return "bool";
    case GgufType::kString: return "string";
    case GgufType::kArray: return "array";
    case GgufType::kU64: return "u64";
    case GgufType::kI64: return "i64";
    case GgufType::kF64: return "f64";
  }
  return "?";
}

bool gguf_type_valid(uint32_t id) { return id <= static_cast<uint32_t>(GgufType::kF64); }

uint32_t gguf_type_size(GgufType type) {
  switch (type) {
    case GgufType::kU8:
    case GgufType::kI8:
    case GgufType::kBool: return 1;
    case GgufType::kU16:
    case GgufType::kI16: return 2;
    case GgufType::kU32:
    case GgufType::kI32:
    case GgufType::kF32: return 4;
    case GgufType::kU64:
    case GgufType::kI64:
    case GgufType::kF64: return 8;
    case GgufType::kString:
    case GgufType::kArray: return 0;
  }
  return 0;
}

size_t GgufArray::size() const {
  if (element_type == GgufType::kString) return strings.size();
  if (element_type == GgufType::kArray) return arrays.size();
  return packed.size() / gguf_type_size(element_type);
}

GgufValue GgufValue::string_array(std::vector<std::string> items) {
  GgufArray a;
  a.element_type = GgufType::kString;
  a.strings = std::move(items);
  return array(std::move(a));
}

GgufValue GgufValue::i32_array(const std::vector<int32_t>& items) {
  GgufArray a;
  a.element_type = GgufType::kI32;
  a.packed.resize(items.size() * 4);
  if (!items.empty()) std::memcpy(a.packed.data(), items.data(), a.packed.size());  // little-endian host
  return array(std::move(a));
}

GgufValue GgufValue::f32_array(const std::vector<float>& items) {
  GgufArray a;
  a.element_type = GgufType::kF32;
  a.packed.resize(items.size() * 4);
  if (!items.empty()) std::memcpy(a.packed.data(), items.data(), a.packed.size());
  return array(std::move(a));
}

bool GgufValue::is_integer() const {
  switch (type_) {
    case GgufType::kU8:
    case GgufType::kI8:
    case GgufType::kU16:
    case GgufType::kI16:
    case GgufType::kU32:
    case GgufType::kI32:
    case GgufType::kU64:
    case GgufType::kI64: return true;
    default: return false;
  }
}

bool GgufValue::to_int64(int64_t* out) const {
  if (std::holds_alternative<int64_t>(data_)) {
    *out = std::get<int64_t>(data_);
    return true;
  }
  if (std::holds_alternative<uint64_t>(data_) && is_integer()) {
    const uint64_t u = std::get<uint64_t>(data_);
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    *out = static_cast<int64_t>(u);
    return true;
  }
  return false;
}

bool operator==(const GgufArray& a, const GgufArray& b) {
  return a.element_type == b.element_type && a.packed == b.packed && a.strings == b.strings && a.arrays == b.arrays;
}

bool GgufValue::operator==(const GgufValue& other) const {
  if (type_ != other.type_) return false;
  if (is_float()) {
    // Compare bit patterns so NaN == NaN for round-trip tests.
    const double a = as_double(), b = other.as_double();
    return std::memcmp(&a, &b, sizeof a) == 0;
  }
  return data_ == other.data_;
}

}  // namespace r1
