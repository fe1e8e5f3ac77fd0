// Streaming GGUF → GGUF conversion over a plan: per tensor a producer that walks row chunks (never crossing an
// expert's slice, so each chunk gets its expert's importance row), decodes them to float32 when the source is
// not float32 already, and encodes them with quantize_rows over the pool.
#include "quantize_model.h"

#include <algorithm>
#include <cstring>

#include "error.h"
#include "gguf_writer.h"
#include "quant_row.h"
#include "thread_pool.h"

namespace r1 {
namespace {

constexpr uint32_t kQuantizationVersion = 2;  // GGML_QNT_VERSION

uint64_t product(const std::vector<uint64_t>& dims, size_t from) {
  uint64_t n = 1;
  for (size_t i = from; i < dims.size(); ++i) n *= dims[i];
  return n;
}

// Decodes rows [0, n_rows) of a row-major source to float32, rows spread over the pool.
void decode_rows(GgmlType type, const uint8_t* src, uint64_t src_row_bytes, float* dst, uint64_t n_rows,
                 uint64_t n_per_row, ThreadPool* pool) {
  auto work = [&](size_t begin, size_t end, int) {
    for (size_t r = begin; r < end; ++r) {
      dequantize_row(type, src + r * src_row_bytes, dst + r * n_per_row, static_cast<int64_t>(n_per_row));
    }
  };
  if (pool == nullptr) work(0, n_rows, 0);
  else pool->parallel_range(n_rows, 1, work);
}

}  // namespace

std::vector<PlanInput> quantize_plan_inputs(const GgufSet& input) {
  std::vector<PlanInput> out;
  out.reserve(input.tensors().size());
  for (const GgufSet::Tensor& t : input.tensors()) {
    out.push_back(PlanInput{t.info->name, t.info->type->type, t.info->shape()});
  }
  return out;
}

void check_quantize_plan(const QuantizePlan& plan, const QuantizeModelOptions& options) {
  for (const PlannedTensor& t : plan.tensors) {
    if (t.src_type == t.dst_type) continue;
    const TypeInfo& src = type_info(t.src_type);
    const TypeInfo& dst = type_info(t.dst_type);
    if (src.quantized && !options.allow_requantize) {
      throw Error(fmt::format("the tensor is already {}: requantizing to {} loses quality twice; pass "
                              "--allow-requantize to do it anyway", src.name, dst.name))
          .tensor(t.name);
    }
    if (t.src_type != GgmlType::kF32 && !can_dequantize(t.src_type)) {
      throw Error(fmt::format("r1 cannot decode {} tensors", src.name)).tensor(t.name);
    }
    if (!can_quantize(t.dst_type)) {
      throw Error(fmt::format("r1 cannot write {} tensors", dst.name)).tensor(t.name);
    }
    if (!row_bytes(dst, t.dims[0])) {
      throw Error(fmt::format("row length {} is not a multiple of the {} block size", t.dims[0], dst.name))
          .tensor(t.name);
    }
    if (options.importance == nullptr) continue;
    const auto it = options.importance->find(t.name);
    const uint64_t want = t.dims[0] * product(t.dims, 2);  // one row per expert slice
    if (it != options.importance->end() && it->second.size() != want) {
      throw Error(fmt::format("the importance matrix has {} values for this tensor; its {} rows of {} need {}",
                              it->second.size(), product(t.dims, 2), t.dims[0], want))
          .tensor(t.name);
    }
  }
}

std::vector<std::string> tensors_without_importance(const QuantizePlan& plan, const ImportanceMap& importance) {
  std::vector<std::string> out;
  for (const PlannedTensor& t : plan.tensors) {
    if (t.src_type == t.dst_type || !type_info(t.dst_type).quantized) continue;
    if (!importance.contains(t.name)) out.push_back(t.name);
  }
  return out;
}

void copy_quantize_metadata(const GgufMetadata& input, int file_type, GgufWriter* writer) {
  writer->remove("general.alignment");  // the input's own entry (if any) is copied in its place below
  for (const auto& [key, value] : input.entries()) {
    if (key == "split.no" || key == "split.count" || key == "split.tensors.count") continue;
    writer->set(key, value);
  }
  writer->remove("general.quantization_version");
  writer->set("general.quantization_version", GgufValue::u32(kQuantizationVersion));
  writer->remove("general.file_type");
  writer->set("general.file_type", GgufValue::u32(static_cast<uint32_t>(file_type)));
}

void quantize_model(const GgufSet& input, const QuantizePlan& plan, const std::string& out_path,
                    const QuantizeModelOptions& options) {
  check_quantize_plan(plan, options);
  const uint32_t alignment =
      static_cast<uint32_t>(input.metadata().find_uint("general.alignment").value_or(kGgufDefaultAlignment));
  GgufWriter writer(alignment);
  copy_quantize_metadata(input.metadata(), plan.file_type, &writer);
  for (const auto& [key, value] : options.extra_metadata) writer.set(key, value);

  ThreadPool* pool = options.pool;
  uint64_t bytes_done = 0;
  const uint64_t chunk_bytes = std::max<uint64_t>(options.chunk_bytes, 1);
  for (size_t i = 0; i < plan.tensors.size(); ++i) {
    const PlannedTensor* tp = &plan.tensors[i];
    const GgufSet::Tensor* sp = &input.tensors().at(tp->input_index);
    // Runs inside writer.write(), while everything captured here (plan, input, bytes_done) is still alive.
    auto report = [&bytes_done, &options, &plan, tp, i](uint64_t produced) {
      bytes_done += produced;
      if (options.on_progress) {
        options.on_progress(QuantizeProgress{.tensor_index = i, .n_tensors = plan.tensors.size(),
                                             .tensor_name = &tp->name, .bytes_done = bytes_done,
                                             .bytes_total = plan.dst_bytes});
      }
    };
    const std::vector<float>* importance = nullptr;
    if (options.importance != nullptr) {
      if (const auto it = options.importance->find(tp->name); it != options.importance->end()) importance = &it->second;
    }
    GgufWriter::Producer producer = [&input, pool, chunk_bytes, tp, sp, report,
                                     importance](const GgufWriter::ByteSink& write) {
      const PlannedTensor& t = *tp;
      const std::span<const uint8_t> data = input.tensor_data(*sp);
      if (t.src_type == t.dst_type) {  // copied as is, in chunks so that progress moves
        for (uint64_t off = 0; off < data.size(); off += chunk_bytes) {
          const uint64_t n = std::min<uint64_t>(chunk_bytes, data.size() - off);
          write(data.subspan(off, n));
          report(n);
        }
        return;
      }
      const uint64_t n_per_row = t.dims[0];
      const uint64_t rows_per_slice = t.dims.size() > 1 ? t.dims[1] : 1;  // one expert's matrix
      const uint64_t n_slices = product(t.dims, 2);
      const uint64_t src_row = *row_bytes(type_info(t.src_type), n_per_row);
      const uint64_t dst_row = *row_bytes(type_info(t.dst_type), n_per_row);
      const uint64_t chunk_rows = std::clamp<uint64_t>(chunk_bytes / (n_per_row * sizeof(float)), 1, rows_per_slice);
      std::vector<float> f32;
      if (t.src_type != GgmlType::kF32) f32.resize(chunk_rows * n_per_row);
      std::vector<uint8_t> out(chunk_rows * dst_row);
      for (uint64_t slice = 0; slice < n_slices; ++slice) {
        for (uint64_t r0 = 0; r0 < rows_per_slice; r0 += chunk_rows) {
          const uint64_t n_rows = std::min(chunk_rows, rows_per_slice - r0);
          const uint64_t first_row = slice * rows_per_slice + r0;
          const uint8_t* src = data.data() + first_row * src_row;
          const float* values;
          if (t.src_type == GgmlType::kF32) {
            values = reinterpret_cast<const float*>(src);  // GGUF data is 32-byte aligned
          } else {
            decode_rows(t.src_type, src, src_row, f32.data(), n_rows, n_per_row, pool);
            values = f32.data();
          }
          const size_t n = quantize_rows(t.dst_type, values, out.data(),
                                         QuantizeRowsOptions{.n_rows = static_cast<int64_t>(n_rows),
                                                             .n_per_row = static_cast<int64_t>(n_per_row),
                                                             .importance = importance ? importance->data() + slice * n_per_row : nullptr,
                                                             .pool = pool});
          if (n != n_rows * dst_row) {
            throw Error(fmt::format("encoder wrote {} bytes, expected {}", n, n_rows * dst_row)).tensor(t.name);
          }
          write(std::span<const uint8_t>(out.data(), n));
          report(n);
        }
      }
    };
    writer.add_tensor(tp->name, tp->dst_type, tp->dims, std::move(producer));
    if (writer.tensor_bytes(writer.n_tensors() - 1) != tp->dst_bytes) {
      throw Error(fmt::format("planned {} bytes but the writer sizes {}", tp->dst_bytes,
                              writer.tensor_bytes(writer.n_tensors() - 1)))
          .tensor(tp->name);
    }
  }
  writer.write(out_path);
}

}  // namespace r1
