// Importance matrices as data and as files: the per-tensor sums of squared activations `r1 imatrix` collects,
// written and read in llama.cpp's two formats (GGUF, the default, and the legacy .dat), and the importance rows
// `r1 quantize --imatrix` weights its encoders with. Collecting them is imatrix.h's job.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gguf_value.h"

namespace r1 {

// One weight tensor's statistics: n_mat matrices (1 for a 2-D weight, one per expert for a 3-D `*_exps`
// tensor) of n_cols input columns each. sum2[m * n_cols + j] is the sum over the token rows multiplied by
// matrix m of x[j]^2; counts[m] is how many rows that was.
struct ImatrixEntry {
  int64_t n_cols = 0;
  std::vector<double> sum2;     // [n_mat, n_cols]
  std::vector<int64_t> counts;  // [n_mat]

  size_t n_mat() const { return counts.size(); }
};

struct Imatrix {
  std::map<std::string, ImatrixEntry> entries;  // by weight tensor name ("blk.0.attn_q.weight"), sorted
  std::vector<std::string> datasets;            // the text files it was computed on
  uint32_t chunk_count = 0;                     // chunks processed
  uint32_t chunk_size = 0;                      // tokens per chunk (0: unknown, as in a legacy file)
  // Read from a legacy .dat: there each entry holds one count, ncall, and sum2 the stored values
  // (sum2 / count * ncall), with the matrix count unknown (n_cols = all values).
  bool legacy = false;
};

enum class ImatrixFormat { kGguf, kDat };

// llama.cpp's choice: GGUF unless dat is asked for. Returns the format and, when the file name's suffix
// disagrees with it (".gguf" written as dat, or another suffix written as GGUF), a warning to print.
ImatrixFormat choose_imatrix_format(const std::string& path, const std::optional<ImatrixFormat>& asked,
                                    std::string* warning);

// GGUF: general.type = "imatrix", imatrix.datasets, imatrix.chunk_count, imatrix.chunk_size; per entry the F32
// tensors NAME.in_sum2 (GGUF dims [n_cols, n_mat]) and NAME.counts ([1, n_mat]), trailing 1s dropped as ggml
// writes them ([n_cols] and [1] for a 2-D weight). Temporary file, then rename.
void write_imatrix_gguf(const Imatrix& m, const std::string& path);
// Legacy: int32 n_entries; per entry (sorted by name) int32 name length, name, int32 ncall, int32 nval,
// float values[nval] = sum2 / count * ncall (ncall for a matrix with no rows, read back as 1) with ncall = ceil(max count /
// chunk_size); then int32 chunk count, int32 dataset length, dataset. Entries with no rows at all are left
// out, as llama.cpp does. Temporary file, then rename.
void write_imatrix_dat(const Imatrix& m, const std::string& path);
void write_imatrix(const Imatrix& m, const std::string& path, ImatrixFormat format);

// Reads either format (GGUF when the file starts with the GGUF magic). Every size, count, name and value is
// checked; a damaged or truncated file is an r1::Error naming the file.
Imatrix read_imatrix(const std::string& path);

// The importance row(s) for quantizing one tensor: n_mat × n_cols weights, sum2 / count per matrix (1.0 where a
// matrix saw no rows), or for a legacy entry the stored values divided by ncall (llama.cpp's reading; the
// scale does not move a weighted least-squares optimum anyway).
std::vector<float> imatrix_importance(const Imatrix& m, const ImatrixEntry& e);
// Every entry's importance by tensor name (quantize_model.h's ImportanceMap).
std::map<std::string, std::vector<float>> imatrix_importance_map(const Imatrix& m);

// The keys llama-quantize records in a model quantized with an importance matrix read from path:
// quantize.imatrix.file, .dataset (the first dataset, when any), .entries_count and .chunks_count (when
// known), the counts as u32.
std::vector<std::pair<std::string, GgufValue>> imatrix_quantize_metadata(const Imatrix& m, const std::string& path);

}  // namespace r1
