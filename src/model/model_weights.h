// Binding GGUF tensors to a model's weights by name, with shape checks that name the tensor and both shapes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gguf_set.h"
#include "ref_matmul.h"

namespace r1 {

// Every matrix of file a prompt multiplies, for `--repack` (CpuBackend::repack): each tensor of two dimensions, or
// of three (a stack of matrices, MoE experts) as one matrix of all its rows, in a type matmul takes. The token
// embedding is left out when the file has a separate output matrix: prompts then only look up its rows.
std::vector<WeightView> file_matrices(const GgufSet& file);

class WeightBinder {
 public:
  explicit WeightBinder(const GgufSet& file) : file_(file) {}

  bool has(const std::string& name) const { return file_.find_tensor(name) != nullptr; }
  // A matrix with GGUF dims (cols, rows): rows output features of cols inputs. Missing → r1::Error.
  WeightView matrix(const std::string& name, int64_t cols, int64_t rows) const;
  // A vector of n F32 values (norms, biases, rope_freqs). Missing or not F32 → r1::Error.
  const float* vector(const std::string& name, int64_t n) const;
  const float* optional_vector(const std::string& name, int64_t n) const;

 private:
  const GgufSet::Tensor& require(const std::string& name) const;
  [[noreturn]] void shape_error(const GgufSet::Tensor& t, const std::vector<uint64_t>& expected) const;

  const GgufSet& file_;
};

}  // namespace r1
