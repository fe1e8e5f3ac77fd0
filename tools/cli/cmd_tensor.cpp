// `r1 tensor FILE NAME [--out OUT.f32]`: decode one tensor of a GGUF file (or split set) to float32 and print
// its type, shape and statistics; optionally write the values as raw little-endian float32 in file order.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "commands.h"
#include "error.h"
#include "gguf_set.h"
#include "quant_row.h"

namespace r1::cli {

namespace {

struct TensorArgs {
  std::string file;
  std::string name;
  std::string out;
};

// Decodes row by row (rows are the innermost dimension, the unit a block format is laid out in).
std::vector<float> dequantize_tensor(const GgufTensorInfo& info, std::span<const uint8_t> data, const std::string& file) {
  if (!can_dequantize(info.type->type)) {
    throw Error(fmt::format("r1 cannot decode tensors of type {}", info.type->name)).file(file).tensor(info.name);
  }
  const uint64_t n_per_row = info.dims[0];
  const auto row_size = row_bytes(*info.type, n_per_row);
  if (!row_size || n_per_row == 0) {
    throw Error(fmt::format("rows of {} elements do not fit {} blocks", n_per_row, info.type->name)).file(file).tensor(info.name);
  }
  const uint64_t n_rows = info.n_elements / n_per_row;
  std::vector<float> values(info.n_elements);
  for (uint64_t r = 0; r < n_rows; ++r) {
    dequantize_row(info.type->type, data.data() + r * *row_size, values.data() + r * n_per_row, static_cast<int64_t>(n_per_row));
  }
  return values;
}

}  // namespace

void add_tensor_command(CLI::App& app, Action* action) {
  auto args = std::make_shared<TensorArgs>();
  CLI::App* cmd = app.add_subcommand("tensor", "Decode one tensor to float32: print type, shape and statistics");
  cmd->add_option("file", args->file, "GGUF file, or any part of a split set")->required();
  cmd->add_option("name", args->name, "Tensor name, e.g. blk.0.attn_q.weight")->required();
  cmd->add_option("--out", args->out, "Write the values as raw little-endian float32, in file order");
  cmd->callback([args, action] {
    *action = [args](CliContext&) {
      const GgufSet set = GgufSet::open(args->file);
      const GgufSet::Tensor* tensor = set.find_tensor(args->name);
      if (!tensor) throw Error("no such tensor").file(args->file).tensor(args->name);
      const GgufTensorInfo& info = *tensor->info;
      const std::vector<float> values = dequantize_tensor(info, set.tensor_data(*tensor), args->file);

      // Statistics in double so that large tensors do not lose the mean; non-finite values are counted apart.
      double sum = 0, sum_sq = 0;
      float min = std::numeric_limits<float>::infinity(), max = -min;
      uint64_t non_finite = 0;
      for (float v : values) {
        if (!std::isfinite(v)) {
          ++non_finite;
          continue;
        }
        min = std::min(min, v);
        max = std::max(max, v);
        sum += v;
        sum_sq += static_cast<double>(v) * v;
      }
      const double n = static_cast<double>(values.size() - non_finite);
      std::string shape;
      for (uint32_t d = 0; d < info.n_dims; ++d) shape += fmt::format("{}{}", d ? ", " : "", info.dims[d]);
      std::string out = fmt::format("{}\n  type   {} ({:.4g} bits per weight)\n  shape  [{}] ({} elements)\n", info.name,
                                    info.type->name, info.type->bits_per_weight(), shape, values.size());
      if (n > 0) {
        out += fmt::format("  min    {:.7g}\n  max    {:.7g}\n  mean   {:.7g}\n  rms    {:.7g}\n", min, max, sum / n,
                           std::sqrt(sum_sq / n));
      }
      if (non_finite) out += fmt::format("  non-finite values: {}\n", non_finite);
      std::fwrite(out.data(), 1, out.size(), stdout);

      if (!args->out.empty()) {
        std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(args->out.c_str(), "wb"), &std::fclose);
        if (!f) throw Error("cannot create output file").file(args->out);
        // float32 is little-endian on every machine r1 builds for; values are written as they are in memory.
        if (std::fwrite(values.data(), sizeof(float), values.size(), f.get()) != values.size()) {
          throw Error("cannot write output file").file(args->out);
        }
      }
      return 0;
    };
  });
}

}  // namespace r1::cli
