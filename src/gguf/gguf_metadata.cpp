// GgufMetadata: lookups and typed accessors with errors that name the file, the key and both types.
#include <cstring>
#include <limits>

#include "error.h"
#include "gguf_file.h"

namespace r1 {

bool GgufMetadata::add(std::string key, GgufValue value) {
  if (index_.count(key) != 0) return false;
  index_.emplace(key, entries_.size());
  entries_.emplace_back(std::move(key), std::move(value));
  return true;
}

void GgufMetadata::set(const std::string& key, GgufValue value) {
  const auto it = index_.find(key);
  if (it != index_.end()) {
    entries_[it->second].second = std::move(value);
    return;
  }
  add(key, std::move(value));
}

const GgufValue* GgufMetadata::find(std::string_view key) const {
  const auto it = index_.find(std::string(key));
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

const GgufValue& GgufMetadata::require(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) throw Error("required metadata key is missing").file(source_).key(std::string(key));
  return *v;
}

namespace {

[[noreturn]] void wrong_type(const std::string& source, std::string_view key, const GgufValue& v,
                             std::string_view expected) {
  throw Error(fmt::format("has type {}, expected {}", gguf_type_name(v.type()), expected))
      .file(source).key(std::string(key));
}

template <typename T>
T packed_at(const GgufArray& a, size_t i) {
  T v;
  std::memcpy(&v, a.packed.data() + i * sizeof(T), sizeof(T));
  return v;
}

// Element i of an integer array as int64; false when the array is not of an integer type or a u64 overflows.
bool int_element(const GgufArray& a, size_t i, int64_t* out) {
  switch (a.element_type) {
    case GgufType::kU8: *out = packed_at<uint8_t>(a, i); return true;
    case GgufType::kI8: *out = packed_at<int8_t>(a, i); return true;
    case GgufType::kU16: *out = packed_at<uint16_t>(a, i); return true;
    case GgufType::kI16: *out = packed_at<int16_t>(a, i); return true;
    case GgufType::kU32: *out = packed_at<uint32_t>(a, i); return true;
    case GgufType::kI32: *out = packed_at<int32_t>(a, i); return true;
    case GgufType::kI64: *out = packed_at<int64_t>(a, i); return true;
    case GgufType::kU64: {
      const uint64_t u = packed_at<uint64_t>(a, i);
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
      *out = static_cast<int64_t>(u);
      return true;
    }
    default: return false;
  }
}

}  // namespace

int64_t GgufMetadata::get_int(std::string_view key) const {
  const GgufValue& v = require(key);
  int64_t out = 0;
  if (!v.is_integer()) wrong_type(source_, key, v, "an integer");
  if (!v.to_int64(&out)) {
    throw Error(fmt::format("value {} does not fit a signed 64-bit integer", v.as_unsigned()))
        .file(source_).key(std::string(key));
  }
  return out;
}

uint64_t GgufMetadata::get_uint(std::string_view key) const {
  const GgufValue& v = require(key);
  if (!v.is_integer()) wrong_type(source_, key, v, "an unsigned integer");
  if (v.type() == GgufType::kU8 || v.type() == GgufType::kU16 || v.type() == GgufType::kU32 ||
      v.type() == GgufType::kU64) {
    return v.as_unsigned();
  }
  const int64_t s = v.as_signed();
  if (s < 0) throw Error(fmt::format("value {} is negative", s)).file(source_).key(std::string(key));
  return static_cast<uint64_t>(s);
}

uint32_t GgufMetadata::get_u32(std::string_view key) const {
  const uint64_t u = get_uint(key);
  if (u > std::numeric_limits<uint32_t>::max()) {
    throw Error(fmt::format("value {} does not fit 32 bits", u)).file(source_).key(std::string(key));
  }
  return static_cast<uint32_t>(u);
}

double GgufMetadata::get_float(std::string_view key) const {
  const GgufValue& v = require(key);
  if (!v.is_float()) wrong_type(source_, key, v, "f32 or f64");
  return v.as_double();
}

bool GgufMetadata::get_bool(std::string_view key) const {
  const GgufValue& v = require(key);
  if (v.type() != GgufType::kBool) wrong_type(source_, key, v, "bool");
  return v.as_bool();
}

const std::string& GgufMetadata::get_string(std::string_view key) const {
  const GgufValue& v = require(key);
  if (v.type() != GgufType::kString) wrong_type(source_, key, v, "string");
  return v.as_string();
}

const GgufArray& GgufMetadata::get_array(std::string_view key) const {
  const GgufValue& v = require(key);
  if (v.type() != GgufType::kArray) wrong_type(source_, key, v, "array");
  return v.as_array();
}

std::vector<std::string> GgufMetadata::get_string_array(std::string_view key) const {
  const GgufArray& a = get_array(key);
  if (a.element_type != GgufType::kString) {
    throw Error(fmt::format("is an array of {}, expected an array of strings", gguf_type_name(a.element_type)))
        .file(source_).key(std::string(key));
  }
  return a.strings;
}

std::vector<int64_t> GgufMetadata::get_int_array(std::string_view key) const {
  const GgufArray& a = get_array(key);
  std::vector<int64_t> out(a.size());
  for (size_t i = 0; i < out.size(); ++i) {
    if (!int_element(a, i, &out[i])) {
      throw Error(fmt::format("is an array of {}, expected an array of integers", gguf_type_name(a.element_type)))
          .file(source_).key(std::string(key));
    }
  }
  return out;
}

std::vector<float> GgufMetadata::get_float_array(std::string_view key) const {
  const GgufArray& a = get_array(key);
  std::vector<float> out(a.size());
  if (a.element_type == GgufType::kF32) {
    for (size_t i = 0; i < out.size(); ++i) out[i] = packed_at<float>(a, i);
  } else if (a.element_type == GgufType::kF64) {
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(packed_at<double>(a, i));
  } else {
    throw Error(fmt::format("is an array of {}, expected an array of f32 or f64", gguf_type_name(a.element_type)))
        .file(source_).key(std::string(key));
  }
  return out;
}

std::optional<int64_t> GgufMetadata::find_int(std::string_view key) const {
  if (!contains(key)) return std::nullopt;
  return get_int(key);
}

std::optional<uint64_t> GgufMetadata::find_uint(std::string_view key) const {
  if (!contains(key)) return std::nullopt;
  return get_uint(key);
}

std::optional<double> GgufMetadata::find_float(std::string_view key) const {
  if (!contains(key)) return std::nullopt;
  return get_float(key);
}

std::optional<bool> GgufMetadata::find_bool(std::string_view key) const {
  if (!contains(key)) return std::nullopt;
  return get_bool(key);
}

std::optional<std::string> GgufMetadata::find_string(std::string_view key) const {
  if (!contains(key)) return std::nullopt;
  return get_string(key);
}

}  // namespace r1
