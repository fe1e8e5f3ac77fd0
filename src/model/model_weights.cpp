// WeightBinder: name lookup, shape and type checks, views into the mapped file.
#include "model_weights.h"

#include "error.h"

namespace r1 {

namespace {
std::string shape_text(const std::vector<uint64_t>& dims) {
  std::string s = "(";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + ")";
}
}  // namespace

std::vector<WeightView> file_matrices(const GgufSet& file) {
  const bool separate_output = file.find_tensor("output.weight") != nullptr;
  std::vector<WeightView> out;
  for (const GgufSet::Tensor& t : file.tensors()) {
    const GgufTensorInfo& info = *t.info;
    if (info.n_dims < 2 || info.n_dims > 3 || !info.type->quantized) continue;
    if (separate_output && info.name == "token_embd.weight") continue;
    const std::optional<uint64_t> rb = row_bytes(*info.type, info.dims[0]);
    if (!rb || *rb == 0) continue;
    out.push_back(WeightView{.type = info.type->type, .data = file.tensor_data(t).data(),
                             .rows = static_cast<int64_t>(info.dims[1] * info.dims[2]),
                             .cols = static_cast<int64_t>(info.dims[0]), .row_bytes = *rb});
  }
  return out;
}

const GgufSet::Tensor& WeightBinder::require(const std::string& name) const {
  const GgufSet::Tensor* t = file_.find_tensor(name);
  if (t == nullptr) throw Error("required tensor is missing").file(file_.parts().front().path()).tensor(name);
  return *t;
}

void WeightBinder::shape_error(const GgufSet::Tensor& t, const std::vector<uint64_t>& expected) const {
  throw Error(fmt::format("has shape {} but the model's configuration needs {}", shape_text(t.info->shape()),
                          shape_text(expected)))
      .file(file_.parts()[t.part].path())
      .tensor(t.info->name);
}

WeightView WeightBinder::matrix(const std::string& name, int64_t cols, int64_t rows) const {
  const GgufSet::Tensor& t = require(name);
  const std::vector<uint64_t> expected = {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)};
  if (t.info->shape() != expected) shape_error(t, expected);
  const GgmlType type = t.info->type->type;
  const bool plain_float = type == GgmlType::kF32 || type == GgmlType::kF16 || type == GgmlType::kBF16;
  if (type == GgmlType::kQ8_K || type == GgmlType::kQ8_1 || (!t.info->type->quantized && !plain_float)) {
    throw Error(fmt::format("weights of type {} cannot be computed with", t.info->type->name))
        .file(file_.parts()[t.part].path())
        .tensor(name);
  }
  WeightView w;
  w.type = type;
  w.data = file_.tensor_data(t).data();
  w.rows = rows;
  w.cols = cols;
  w.row_bytes = *row_bytes(*t.info->type, static_cast<uint64_t>(cols));
  return w;
}

const float* WeightBinder::vector(const std::string& name, int64_t n) const {
  const GgufSet::Tensor& t = require(name);
  const std::vector<uint64_t> expected = {static_cast<uint64_t>(n)};
  if (t.info->shape() != expected) shape_error(t, expected);
  if (t.info->type->type != GgmlType::kF32) {
    throw Error(fmt::format("must be F32, found {}", t.info->type->name)).file(file_.parts()[t.part].path()).tensor(name);
  }
  const auto bytes = file_.tensor_data(t);
  if (reinterpret_cast<uintptr_t>(bytes.data()) % alignof(float) != 0) {
    throw Error("F32 data is not 4-byte aligned").file(file_.parts()[t.part].path()).tensor(name);
  }
  return reinterpret_cast<const float*>(bytes.data());
}

const float* WeightBinder::optional_vector(const std::string& name, int64_t n) const {
  return has(name) ? vector(name, n) : nullptr;
}

}  // namespace r1
