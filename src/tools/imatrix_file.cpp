// Importance-matrix files (see imatrix_file.h): llama.cpp's GGUF and legacy .dat layouts, written through
// GgufWriter / AtomicFile and read with every size checked.
#include "imatrix_file.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <span>

#include "atomic_file.h"
#include "error.h"
#include "gguf_file.h"
#include "gguf_writer.h"
#include "mapped_file.h"

namespace r1 {
namespace {

constexpr std::string_view kSum2Suffix = ".in_sum2";
constexpr std::string_view kCountsSuffix = ".counts";

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

uint32_t ncall_of(const ImatrixEntry& e, uint32_t chunk_size) {
  const int64_t max_count = e.counts.empty() ? 0 : *std::max_element(e.counts.begin(), e.counts.end());
  const int64_t size = std::max<int64_t>(chunk_size, 1);
  return static_cast<uint32_t>(std::min<int64_t>((max_count + size - 1) / size, std::numeric_limits<int32_t>::max()));
}

void check_entry_shape(const std::string& name, const ImatrixEntry& e) {
  if (e.n_cols <= 0 || e.counts.empty() || e.sum2.size() != static_cast<size_t>(e.n_cols) * e.counts.size()) {
    throw Error(fmt::format("inconsistent importance entry: {} columns, {} matrices, {} sums", e.n_cols,
                            e.counts.size(), e.sum2.size()))
        .tensor(name);
  }
}

// Reads little-endian int32 / float fields of an untrusted buffer; running past the end is an error naming the
// file and the offset.
class ByteCursor {
 public:
  ByteCursor(std::span<const uint8_t> bytes, const std::string& path) : bytes_(bytes), path_(path) {}
  size_t offset() const { return pos_; }
  size_t remaining() const { return bytes_.size() - pos_; }
  void need(size_t n, const char* what) const {
    if (n > remaining()) {
      throw Error(fmt::format("truncated: {} needs {} bytes, {} left", what, n, remaining())).file(path_).offset(pos_);
    }
  }
  int32_t i32(const char* what) {
    need(4, what);
    int32_t v;
    std::memcpy(&v, bytes_.data() + pos_, 4);
    pos_ += 4;
    return v;
  }
  std::string text(size_t n, const char* what) {
    need(n, what);
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  void floats(float* dst, size_t n, const char* what) {
    need(n * sizeof(float), what);
    std::memcpy(dst, bytes_.data() + pos_, n * sizeof(float));
    pos_ += n * sizeof(float);
  }

 private:
  std::span<const uint8_t> bytes_;
  const std::string& path_;
  size_t pos_ = 0;
};

void check_finite_nonnegative(const float* v, size_t n, const std::string& path, const std::string& name) {
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(v[i]) || v[i] < 0.0f) {
      throw Error(fmt::format("value {} at index {} is not a finite non-negative number", v[i], i)).file(path).tensor(name);
    }
  }
}

Imatrix read_dat(std::span<const uint8_t> bytes, const std::string& path) {
  ByteCursor in(bytes, path);
  Imatrix m;
  m.legacy = true;
  const int32_t n_entries = in.i32("the entry count");
  // Each entry takes at least 16 bytes (name length, one name byte, ncall, nval), so a count the file cannot
  // hold is refused before anything is sized by it.
  if (n_entries < 0 || static_cast<size_t>(n_entries) > in.remaining() / 16) {
    throw Error(fmt::format("entry count {} does not fit the file ({} bytes)", n_entries, bytes.size())).file(path).offset(0);
  }
  for (int32_t i = 0; i < n_entries; ++i) {
    const size_t at = in.offset();
    const int32_t len = in.i32("a name length");
    if (len <= 0 || static_cast<size_t>(len) > in.remaining()) {
      throw Error(fmt::format("entry {}: name length {} is out of range", i, len)).file(path).offset(at);
    }
    std::string name = in.text(static_cast<size_t>(len), "a name");
    if (name.find('\0') != std::string::npos) throw Error("a tensor name contains a NUL byte").file(path).offset(at);
    const int32_t ncall = in.i32("a call count");
    const int32_t nval = in.i32("a value count");
    if (ncall < 0 || nval <= 0 || static_cast<size_t>(nval) > in.remaining() / sizeof(float)) {
      throw Error(fmt::format("call count {} or value count {} is out of range ({} bytes left)", ncall, nval,
                              in.remaining()))
          .file(path)
          .tensor(name)
          .offset(at);
    }
    std::vector<float> values(static_cast<size_t>(nval));
    in.floats(values.data(), values.size(), "the values");
    check_finite_nonnegative(values.data(), values.size(), path, name);
    ImatrixEntry e{.n_cols = nval, .sum2 = std::vector<double>(values.begin(), values.end()), .counts = {ncall}};
    if (!m.entries.emplace(name, std::move(e)).second) {
      throw Error("the tensor appears twice").file(path).tensor(name).offset(at);
    }
  }
  // The chunk count and dataset name at the end are optional (llama.cpp's older files stop after the entries).
  if (in.remaining() == 0) return m;
  const int32_t chunks = in.i32("the chunk count");
  const int32_t len = in.i32("the dataset name length");
  if (chunks < 0 || len < 0 || static_cast<size_t>(len) != in.remaining()) {
    throw Error(fmt::format("trailer: chunk count {}, dataset name length {}, {} bytes left", chunks, len,
                            in.remaining()))
        .file(path)
        .offset(in.offset() - 8);
  }
  m.chunk_count = static_cast<uint32_t>(chunks);
  if (len > 0) m.datasets.push_back(in.text(static_cast<size_t>(len), "the dataset name"));
  return m;
}

Imatrix read_gguf(std::span<const uint8_t> bytes, const std::string& path) {
  const GgufFile file = GgufFile::parse(bytes, path);
  const GgufMetadata& meta = file.metadata();
  Imatrix m;
  if (const auto type = meta.find_string("general.type"); type && *type != "imatrix") {
    throw Error(fmt::format("general.type is '{}', not 'imatrix'", *type)).file(path).key("general.type");
  }
  if (meta.contains("imatrix.datasets")) m.datasets = meta.get_string_array("imatrix.datasets");
  if (meta.contains("imatrix.chunk_count")) m.chunk_count = meta.get_u32("imatrix.chunk_count");
  if (meta.contains("imatrix.chunk_size")) m.chunk_size = meta.get_u32("imatrix.chunk_size");

  struct Pair {
    const GgufTensorInfo* sum2 = nullptr;
    const GgufTensorInfo* counts = nullptr;
  };
  std::map<std::string, Pair> pairs;
  for (const GgufTensorInfo& t : file.tensors()) {
    if (t.type->type != GgmlType::kF32) {
      throw Error(fmt::format("has type {}; importance data is F32", t.type->name)).file(path).tensor(t.name);
    }
    if (ends_with(t.name, kSum2Suffix)) {
      pairs[t.name.substr(0, t.name.size() - kSum2Suffix.size())].sum2 = &t;
    } else if (ends_with(t.name, kCountsSuffix)) {
      pairs[t.name.substr(0, t.name.size() - kCountsSuffix.size())].counts = &t;
    } else {
      throw Error("is neither NAME.in_sum2 nor NAME.counts").file(path).tensor(t.name);
    }
  }
  for (const auto& [name, p] : pairs) {
    if (p.sum2 == nullptr || p.counts == nullptr) {
      throw Error(fmt::format("has {} but no {}", p.sum2 ? kSum2Suffix : kCountsSuffix,
                              p.sum2 ? kCountsSuffix : kSum2Suffix))
          .file(path)
          .tensor(name);
    }
    // in_sum2 is [n_cols, n_mat] (llama.cpp writes 2-D; a 1-D tensor is one matrix); counts holds n_mat values.
    const uint64_t n_cols = p.sum2->dims[0];
    const uint64_t n_mat = p.sum2->n_elements / std::max<uint64_t>(n_cols, 1);
    if (p.sum2->n_dims > 2 || n_cols == 0 || n_mat == 0 || p.counts->n_elements != n_mat ||
        n_cols > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
      throw Error(fmt::format("in_sum2 has {} values in rows of {} but counts has {} values", p.sum2->n_elements,
                              n_cols, p.counts->n_elements))
          .file(path)
          .tensor(name);
    }
    const auto* sums = reinterpret_cast<const float*>(file.tensor_data(*p.sum2).data());
    const auto* counts = reinterpret_cast<const float*>(file.tensor_data(*p.counts).data());
    std::vector<float> s(sums, sums + p.sum2->n_elements), c(counts, counts + n_mat);  // copies: alignment-safe
    check_finite_nonnegative(s.data(), s.size(), path, name + std::string(kSum2Suffix));
    check_finite_nonnegative(c.data(), c.size(), path, name + std::string(kCountsSuffix));
    ImatrixEntry e{.n_cols = static_cast<int64_t>(n_cols), .sum2 = std::vector<double>(s.begin(), s.end()), .counts = {}};
    for (float v : c) e.counts.push_back(std::llround(v));
    m.entries.emplace(name, std::move(e));
  }
  return m;
}

}  // namespace

ImatrixFormat choose_imatrix_format(const std::string& path, const std::optional<ImatrixFormat>& asked,
                                    std::string* warning) {
  const bool gguf_name = ends_with(path, ".gguf");
  const ImatrixFormat f = asked.value_or(ImatrixFormat::kGguf);
  if (warning != nullptr) {
    warning->clear();
    if (f == ImatrixFormat::kGguf && !gguf_name) {
      *warning = fmt::format("writing {} in GGUF format although its name does not end in .gguf "
                             "(--output-format dat writes the legacy format)", path);
    } else if (f == ImatrixFormat::kDat && gguf_name) {
      *warning = fmt::format("writing {} in the legacy .dat format although its name ends in .gguf", path);
    }
  }
  return f;
}

void write_imatrix_gguf(const Imatrix& m, const std::string& path) {
  GgufWriter w;
  w.set("general.type", GgufValue::string("imatrix"));
  w.set("imatrix.datasets", GgufValue::string_array(m.datasets));
  w.set("imatrix.chunk_count", GgufValue::u32(m.chunk_count));
  w.set("imatrix.chunk_size", GgufValue::u32(m.chunk_size));
  // The float copies live until write() returns (the writer keeps spans, not copies).
  std::vector<std::vector<float>> buffers;
  buffers.reserve(2 * m.entries.size());
  for (const auto& [name, e] : m.entries) {
    check_entry_shape(name, e);
    std::vector<float>& s = buffers.emplace_back(e.sum2.begin(), e.sum2.end());
    std::vector<float>& c = buffers.emplace_back();
    for (int64_t v : e.counts) c.push_back(static_cast<float>(v));
    // Dims as ggml stores them, trailing 1s dropped: a 2-D weight's pair is [n_cols] and [1].
    const uint64_t n_mat = e.counts.size();
    std::vector<uint64_t> sum2_dims = {static_cast<uint64_t>(e.n_cols)}, counts_dims = {1};
    if (n_mat > 1) {
      sum2_dims.push_back(n_mat);
      counts_dims.push_back(n_mat);
    }
    w.add_tensor(name + std::string(kSum2Suffix), GgmlType::kF32, sum2_dims,
                 std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size() * sizeof(float)));
    w.add_tensor(name + std::string(kCountsSuffix), GgmlType::kF32, counts_dims,
                 std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(c.data()), c.size() * sizeof(float)));
  }
  w.write(path);
}

void write_imatrix_dat(const Imatrix& m, const std::string& path) {
  AtomicFile out(path);
  auto put_i32 = [&out](int64_t v) {
    const int32_t x = static_cast<int32_t>(v);
    out.write(&x, sizeof(x));
  };
  std::vector<const std::pair<const std::string, ImatrixEntry>*> stored;
  for (const auto& kv : m.entries) {
    check_entry_shape(kv.first, kv.second);
    const bool any = std::any_of(kv.second.counts.begin(), kv.second.counts.end(), [](int64_t c) { return c > 0; });
    if (any) stored.push_back(&kv);  // an entry that saw no rows at all carries no information
  }
  put_i32(static_cast<int64_t>(stored.size()));
  std::vector<float> values;
  for (const auto* kv : stored) {  // std::map order: sorted by name, as llama.cpp writes them
    const std::string& name = kv->first;
    const ImatrixEntry& e = kv->second;
    if (e.sum2.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
      throw Error("too many values for the legacy format").tensor(name);
    }
    const uint32_t ncall = ncall_of(e, m.chunk_size);
    put_i32(static_cast<int64_t>(name.size()));
    out.write(name.data(), name.size());
    put_i32(ncall);
    put_i32(static_cast<int64_t>(e.sum2.size()));
    values.resize(e.sum2.size());
    for (size_t i = 0; i < values.size(); ++i) {
      const int64_t count = e.counts[i / static_cast<size_t>(e.n_cols)];
      // A matrix that saw no rows stores 1 × ncall (llama.cpp's "1 for partial data"), read back as 1.
      values[i] = count == 0 ? static_cast<float>(ncall)
                             : static_cast<float>(e.sum2[i] / static_cast<double>(count) * ncall);
    }
    out.write(values.data(), values.size() * sizeof(float));
  }
  put_i32(m.chunk_count);
  const std::string dataset = m.datasets.empty() ? std::string() : m.datasets.back();
  put_i32(static_cast<int64_t>(dataset.size()));
  out.write(dataset.data(), dataset.size());
  out.commit();
}

void write_imatrix(const Imatrix& m, const std::string& path, ImatrixFormat format) {
  if (format == ImatrixFormat::kDat) write_imatrix_dat(m, path);
  else write_imatrix_gguf(m, path);
}

Imatrix read_imatrix(const std::string& path) {
  const MappedFile file(path);
  const std::span<const uint8_t> bytes = file.bytes();
  if (bytes.size() >= 4 && std::memcmp(bytes.data(), "GGUF", 4) == 0) return read_gguf(bytes, path);
  if (bytes.size() < 4) throw Error(fmt::format("truncated: {} bytes", bytes.size())).file(path);
  return read_dat(bytes, path);
}

std::vector<float> imatrix_importance(const Imatrix& m, const ImatrixEntry& e) {
  std::vector<float> out(e.sum2.size(), 1.0f);
  if (e.counts.empty()) return out;
  const size_t n_cols = static_cast<size_t>(std::max<int64_t>(e.n_cols, 1));
  for (size_t i = 0; i < out.size(); ++i) {
    const int64_t count = e.counts[std::min(i / n_cols, e.counts.size() - 1)];
    if (m.legacy) out[i] = static_cast<float>(count > 0 ? e.sum2[i] / static_cast<double>(count) : e.sum2[i]);
    else out[i] = count > 0 ? static_cast<float>(e.sum2[i] / static_cast<double>(count)) : 1.0f;
  }
  return out;
}

std::map<std::string, std::vector<float>> imatrix_importance_map(const Imatrix& m) {
  std::map<std::string, std::vector<float>> out;
  for (const auto& [name, e] : m.entries) out.emplace(name, imatrix_importance(m, e));
  return out;
}

std::vector<std::pair<std::string, GgufValue>> imatrix_quantize_metadata(const Imatrix& m, const std::string& path) {
  std::vector<std::pair<std::string, GgufValue>> kv;
  kv.emplace_back("quantize.imatrix.file", GgufValue::string(path));
  if (!m.datasets.empty()) kv.emplace_back("quantize.imatrix.dataset", GgufValue::string(m.datasets.front()));
  kv.emplace_back("quantize.imatrix.entries_count", GgufValue::u32(static_cast<uint32_t>(m.entries.size())));
  if (m.chunk_count > 0) kv.emplace_back("quantize.imatrix.chunks_count", GgufValue::u32(m.chunk_count));
  return kv;
}

}  // namespace r1
