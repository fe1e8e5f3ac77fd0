// Validating safetensors reader: header checks, float decoding and the folder loader (see safetensors_file.h).
#include "safetensors_file.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "error.h"
#include "text_file.h"
#include "half.h"

namespace r1 {
namespace {

using Json = nlohmann::json;

// The header is at most: object of tensors -> object of fields -> array of numbers. Anything deeper is
// malformed; the cap also keeps nlohmann's recursive destructor away from hostile nesting.
constexpr int kMaxHeaderDepth = 4;

struct DtypeRow {
  SafetensorsDtype dtype;
  std::string_view name;
  uint32_t size;
  bool is_float;
};

constexpr std::array<DtypeRow, 15> kDtypes = {{
    {SafetensorsDtype::kBool, "BOOL", 1, false},
    {SafetensorsDtype::kU8, "U8", 1, false},
    {SafetensorsDtype::kI8, "I8", 1, false},
    {SafetensorsDtype::kF8_E4M3, "F8_E4M3", 1, true},
    {SafetensorsDtype::kF8_E5M2, "F8_E5M2", 1, true},
    {SafetensorsDtype::kI16, "I16", 2, false},
    {SafetensorsDtype::kU16, "U16", 2, false},
    {SafetensorsDtype::kF16, "F16", 2, true},
    {SafetensorsDtype::kBF16, "BF16", 2, true},
    {SafetensorsDtype::kI32, "I32", 4, false},
    {SafetensorsDtype::kU32, "U32", 4, false},
    {SafetensorsDtype::kF32, "F32", 4, true},
    {SafetensorsDtype::kF64, "F64", 8, true},
    {SafetensorsDtype::kI64, "I64", 8, false},
    {SafetensorsDtype::kU64, "U64", 8, false},
}};

const DtypeRow& row_of(SafetensorsDtype dtype) { return kDtypes[static_cast<size_t>(dtype)]; }

const DtypeRow* find_dtype(std::string_view name) {
  for (const DtypeRow& row : kDtypes) {
    if (row.name == name) return &row;
  }
  return nullptr;
}

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Parses untrusted JSON with a nesting cap and duplicate-key detection at the top level.
Json parse_capped(std::string_view text, int max_depth, const std::string& source, bool reject_duplicates) {
  std::set<std::string> top_keys;
  try {
    return Json::parse(text.begin(), text.end(), [&](int depth, Json::parse_event_t event, Json& parsed) {
      if (depth > max_depth) throw Error(fmt::format("JSON nested deeper than {}", max_depth)).file(source);
      if (reject_duplicates && event == Json::parse_event_t::key && depth == 1) {
        const std::string key = parsed.get<std::string>();
        if (!top_keys.insert(key).second) throw Error(fmt::format("duplicate entry '{}' in the header", key)).file(source);
      }
      return true;
    });
  } catch (const Json::exception& e) {
    throw Error(fmt::format("invalid JSON: {}", e.what())).file(source);
  }
}

float e4m3_to_f32(uint8_t b) {
  const float sign = (b & 0x80) ? -1.0f : 1.0f;
  const int e = (b >> 3) & 0xf;
  const int m = b & 0x7;
  if (e == 15 && m == 7) return std::numeric_limits<float>::quiet_NaN();
  if (e == 0) return sign * std::ldexp(static_cast<float>(m), -9);
  return sign * std::ldexp(1.0f + static_cast<float>(m) / 8.0f, e - 7);
}

}  // namespace

std::string_view safetensors_dtype_name(SafetensorsDtype dtype) { return row_of(dtype).name; }
uint32_t safetensors_dtype_size(SafetensorsDtype dtype) { return row_of(dtype).size; }
bool safetensors_dtype_is_float(SafetensorsDtype dtype) { return row_of(dtype).is_float; }

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  SafetensorsFile f;
  f.path_ = path;
  f.map_ = std::make_unique<MappedFile>(path);
  f.bytes_ = f.map_->bytes();
  f.parse_header();
  return f;
}

SafetensorsFile SafetensorsFile::parse(std::span<const uint8_t> bytes, std::string name) {
  SafetensorsFile f;
  f.path_ = std::move(name);
  f.bytes_ = bytes;
  f.parse_header();
  return f;
}

void SafetensorsFile::parse_header() {
  const uint64_t size = bytes_.size();
  if (size < 8) throw Error(fmt::format("file of {} bytes is too short for a safetensors header", size)).file(path_);
  const uint64_t header_len = read_u64_le(bytes_.data());
  if (header_len > kSafetensorsMaxHeader) {
    throw Error(fmt::format("header length {} exceeds the limit of {} bytes", header_len, kSafetensorsMaxHeader))
        .file(path_).offset(0);
  }
  if (header_len > size - 8) {
    throw Error(fmt::format("header length {} runs past the end of the file ({} bytes)", header_len, size))
        .file(path_).offset(0);
  }
  if (header_len < 2 || bytes_[8] != '{') throw Error("header is not a JSON object").file(path_).offset(8);
  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = size - data_start;
  const std::string_view text(reinterpret_cast<const char*>(bytes_.data() + 8), header_len);
  const Json header = parse_capped(text, kMaxHeaderDepth, path_, /*reject_duplicates=*/true);
  if (!header.is_object()) throw Error("header is not a JSON object").file(path_).offset(8);

  struct Range {
    uint64_t begin, end;
    size_t index;
  };
  std::vector<Range> ranges;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) throw Error("__metadata__ is not an object").file(path_);
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string()) throw Error("__metadata__ values must be strings").file(path_).key(key);
        metadata_[key] = value.get<std::string>();
      }
      continue;
    }
    const std::string tensor_name = name;  // lambdas cannot capture a structured binding under clang 14
    const auto bad = [&](const std::string& what) { return Error(what).file(path_).tensor(tensor_name); };
    if (name.empty()) throw bad("empty tensor name");
    if (!entry.is_object()) throw bad("tensor entry is not an object");
    const auto dtype_it = entry.find("dtype");
    const auto shape_it = entry.find("shape");
    const auto offsets_it = entry.find("data_offsets");
    if (dtype_it == entry.end() || !dtype_it->is_string()) throw bad("missing or non-string 'dtype'");
    if (shape_it == entry.end() || !shape_it->is_array()) throw bad("missing or non-array 'shape'");
    if (offsets_it == entry.end() || !offsets_it->is_array() || offsets_it->size() != 2) {
      throw bad("'data_offsets' must be an array of two numbers");
    }
    SafetensorsTensor t;
    t.name = name;
    const DtypeRow* dtype = find_dtype(dtype_it->get_ref<const std::string&>());
    if (dtype == nullptr) throw bad(fmt::format("unsupported dtype '{}'", dtype_it->get_ref<const std::string&>()));
    t.dtype = dtype->dtype;
    if (shape_it->size() > kSafetensorsMaxRank) throw bad(fmt::format("rank {} exceeds {}", shape_it->size(), kSafetensorsMaxRank));
    uint64_t n = 1;
    for (const Json& d : *shape_it) {
      if (!d.is_number_unsigned()) throw bad("shape entries must be non-negative integers");
      const uint64_t dim = d.get<uint64_t>();
      t.shape.push_back(dim);
      if (__builtin_mul_overflow(n, dim, &n)) throw bad("element count overflows");
    }
    t.n_elements = n;
    uint64_t n_bytes = 0;
    if (__builtin_mul_overflow(n, uint64_t{dtype->size}, &n_bytes)) throw bad("byte size overflows");
    const Json& b = (*offsets_it)[0];
    const Json& e = (*offsets_it)[1];
    if (!b.is_number_unsigned() || !e.is_number_unsigned()) throw bad("data_offsets must be non-negative integers");
    const uint64_t begin = b.get<uint64_t>();
    const uint64_t end = e.get<uint64_t>();
    if (begin > end || end > data_size) {
      throw bad(fmt::format("data_offsets [{}, {}] outside the data section of {} bytes", begin, end, data_size))
          .offset(data_start + std::min(begin, data_size));
    }
    if (end - begin != n_bytes) {
      throw bad(fmt::format("data_offsets cover {} bytes but {} {} elements need {}", end - begin,
                            n, dtype->name, n_bytes))
          .offset(data_start + begin);
    }
    t.offset = data_start + begin;
    t.n_bytes = n_bytes;
    ranges.push_back({begin, end, tensors_.size()});
    index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }
  // As the reference implementation: tensors tile the data section exactly (no overlap, no hole, no tail).
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t expected = 0;
  for (const Range& r : ranges) {
    if (r.begin != expected) {
      throw Error(fmt::format("tensor data at [{}, {}) {} the previous tensor's end {}", r.begin, r.end,
                              r.begin < expected ? "overlaps" : "leaves a gap after", expected))
          .file(path_).tensor(tensors_[r.index].name).offset(data_start + r.begin);
    }
    expected = r.end;
  }
  if (expected != data_size) {
    throw Error(fmt::format("tensors cover {} of the {} data bytes", expected, data_size)).file(path_).offset(data_start + expected);
  }
}

const SafetensorsTensor* SafetensorsFile::find(std::string_view name) const {
  const auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

void safetensors_to_f32(SafetensorsDtype dtype, const uint8_t* src, float* dst, size_t n) {
  switch (dtype) {
    case SafetensorsDtype::kF32:
      std::memcpy(dst, src, n * 4);
      return;
    case SafetensorsDtype::kF16:
      for (size_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(static_cast<uint16_t>(src[2 * i] | (src[2 * i + 1] << 8)));
      return;
    case SafetensorsDtype::kBF16:
      for (size_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(static_cast<uint16_t>(src[2 * i] | (src[2 * i + 1] << 8)));
      return;
    case SafetensorsDtype::kF64:
      for (size_t i = 0; i < n; ++i) {
        double d;
        std::memcpy(&d, src + 8 * i, 8);
        dst[i] = static_cast<float>(d);
      }
      return;
    case SafetensorsDtype::kF8_E4M3: {
      static const std::array<float, 256> table = [] {
        std::array<float, 256> t{};
        for (int b = 0; b < 256; ++b) t[b] = e4m3_to_f32(static_cast<uint8_t>(b));
        return t;
      }();
      for (size_t i = 0; i < n; ++i) dst[i] = table[src[i]];
      return;
    }
    case SafetensorsDtype::kF8_E5M2:
      for (size_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(static_cast<uint16_t>(src[i] << 8));
      return;
    default:
      throw Error(fmt::format("dtype {} is not a floating-point type", safetensors_dtype_name(dtype)));
  }
}

SafetensorsSet SafetensorsSet::open_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  SafetensorsSet set;
  const fs::path root(dir);
  std::vector<std::string> file_names;
  std::map<std::string, std::string> weight_map;  // from the index, checked after loading
  const fs::path index_path = root / "model.safetensors.index.json";
  if (fs::exists(index_path)) {
    const std::string source = index_path.string();
    const Json index = parse_capped(read_text_file(source), 8, source, false);
    if (!index.is_object() || !index.contains("weight_map") || !index.at("weight_map").is_object()) {
      throw Error("index has no 'weight_map' object").file(source);
    }
    std::set<std::string> seen;
    for (const auto& [name, file] : index.at("weight_map").items()) {
      if (!file.is_string()) throw Error("weight_map values must be file names").file(source).tensor(name);
      const std::string f = file.get<std::string>();
      // Shards live in the folder itself: no paths, so a hostile index cannot point elsewhere.
      if (f.empty() || f == "." || f == ".." || f.find('/') != std::string::npos || f.find('\\') != std::string::npos) {
        throw Error(fmt::format("shard name '{}' is not a plain file name", f)).file(source).tensor(name);
      }
      weight_map[name] = f;
      if (seen.insert(f).second) file_names.push_back(f);
    }
  } else if (fs::exists(root / "model.safetensors")) {
    file_names.push_back("model.safetensors");
  } else {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(root, ec)) {
      if (entry.path().extension() == ".safetensors") file_names.push_back(entry.path().filename().string());
    }
    if (ec) throw Error(fmt::format("cannot list the folder: {}", ec.message())).file(dir);
    std::sort(file_names.begin(), file_names.end());
  }
  if (file_names.empty()) throw Error("no *.safetensors files (nor model.safetensors.index.json) in the folder").file(dir);

  std::map<std::string, const SafetensorsFile*> by_file;
  for (const std::string& name : file_names) {
    set.files_.push_back(std::make_unique<SafetensorsFile>(SafetensorsFile::open((root / name).string())));
    const SafetensorsFile* f = set.files_.back().get();
    by_file[name] = f;
    for (const SafetensorsTensor& t : f->tensors()) {
      if (!set.by_name_.emplace(t.name, Entry{f, &t}).second) {
        throw Error("tensor appears in more than one shard").file(f->path()).tensor(t.name);
      }
    }
  }
  for (const auto& [name, file] : weight_map) {
    const Entry e = set.find(name);
    if (e.file == nullptr || e.file != by_file[file]) {
      throw Error(fmt::format("the index places this tensor in '{}' but that file does not hold it", file))
          .file(index_path.string()).tensor(name);
    }
  }
  return set;
}

SafetensorsSet::Entry SafetensorsSet::find(std::string_view name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? Entry{nullptr, nullptr} : it->second;
}

std::vector<std::string> SafetensorsSet::names() const {
  std::vector<std::string> out;
  out.reserve(by_name_.size());
  for (const auto& [name, entry] : by_name_) out.push_back(name);
  return out;
}

}  // namespace r1
