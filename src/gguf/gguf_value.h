// GgufValue: one metadata value of any GGUF type, including nested arrays, owning its data.
// Scalar arrays keep their elements packed little-endian, as in the file; typed accessors convert.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace r1 {

// Value type ids as the GGUF specification numbers them.
enum class GgufType : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};

std::string_view gguf_type_name(GgufType type);  // "u32", "string", "array", ...
bool gguf_type_valid(uint32_t id);
// Bytes per element for the fixed-size types; 0 for string and array.
uint32_t gguf_type_size(GgufType type);

class GgufValue;

struct GgufArray {
  GgufType element_type = GgufType::kU8;
  std::vector<uint8_t> packed;         // fixed-size elements, little-endian (element_type neither string nor array)
  std::vector<std::string> strings;    // element_type == kString
  std::vector<GgufValue> arrays;       // element_type == kArray (nested)

  size_t size() const;
};

class GgufValue {
 public:
  GgufValue() : type_(GgufType::kU8), data_(uint64_t{0}) {}

  static GgufValue u8(uint8_t v) { return GgufValue(GgufType::kU8, uint64_t{v}); }
  static GgufValue i8(int8_t v) { return GgufValue(GgufType::kI8, int64_t{v}); }
  static GgufValue u16(uint16_t v) { return GgufValue(GgufType::kU16, uint64_t{v}); }
  static GgufValue i16(int16_t v) { return GgufValue(GgufType::kI16, int64_t{v}); }
  static GgufValue u32(uint32_t v) { return GgufValue(GgufType::kU32, uint64_t{v}); }
  static GgufValue i32(int32_t v) { return GgufValue(GgufType::kI32, int64_t{v}); }
  static GgufValue u64(uint64_t v) { return GgufValue(GgufType::kU64, v); }
  static GgufValue i64(int64_t v) { return GgufValue(GgufType::kI64, v); }
  static GgufValue f32(float v) { return GgufValue(GgufType::kF32, double{v}); }
  static GgufValue f64(double v) { return GgufValue(GgufType::kF64, v); }
  static GgufValue boolean(bool v) { return GgufValue(GgufType::kBool, v); }
  static GgufValue string(std::string v) { return GgufValue(GgufType::kString, std::move(v)); }
  static GgufValue array(GgufArray v) { return GgufValue(GgufType::kArray, std::move(v)); }
  static GgufValue string_array(std::vector<std::string> items);
  static GgufValue i32_array(const std::vector<int32_t>& items);
  static GgufValue f32_array(const std::vector<float>& items);

  GgufType type() const { return type_; }
  bool is_integer() const;
  bool is_float() const { return type_ == GgufType::kF32 || type_ == GgufType::kF64; }

  // Raw access; the caller has checked type(). Integers widen losslessly to 64 bits.
  uint64_t as_unsigned() const { return std::get<uint64_t>(data_); }
  int64_t as_signed() const { return std::get<int64_t>(data_); }
  double as_double() const { return std::get<double>(data_); }
  bool as_bool() const { return std::get<bool>(data_); }
  const std::string& as_string() const { return std::get<std::string>(data_); }
  const GgufArray& as_array() const { return std::get<GgufArray>(data_); }

  // Any integer type as int64 (false when a u64 does not fit); for accessors that accept several widths.
  bool to_int64(int64_t* out) const;

  bool operator==(const GgufValue& other) const;

 private:
  using Data = std::variant<uint64_t, int64_t, double, bool, std::string, GgufArray>;
  GgufValue(GgufType type, Data data) : type_(type), data_(std::move(data)) {}

  GgufType type_;
  Data data_;
};

bool operator==(const GgufArray& a, const GgufArray& b);

}  // namespace r1
