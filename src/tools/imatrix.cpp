// The importance-matrix collector backend and the run over a text (see imatrix.h).
#include "imatrix.h"

#include <chrono>
#include <cmath>
#include <memory>
#include <optional>

#include "cpu_features.h"
#include "cpu_kernels.h"
#include "error.h"
#include "log.h"
#include "model.h"
#include "perplexity.h"
#include "text_file.h"
#include "thread_pool.h"
#include "tokenizer_load.h"

namespace r1 {
namespace {

// llama.cpp's imatrix ignores plain matmuls over fewer token rows than this (see imatrix.h).
constexpr int64_t kMinDenseRows = 16;

bool starts_with(const std::string& s, std::string_view prefix) { return s.compare(0, prefix.size(), prefix) == 0; }
bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

}  // namespace

ImatrixCollector::ImatrixCollector(Backend& inner, const GgufSet& file, const ImatrixCollectOptions& options)
    : inner_(inner) {
  for (const GgufSet::Tensor& t : file.tensors()) {
    const GgufTensorInfo& info = *t.info;
    const bool wanted = starts_with(info.name, "blk.") || (options.process_output && info.name == "output.weight");
    if (!wanted || info.n_dims < 2 || info.n_dims > 3) continue;
    const auto rb = row_bytes(*info.type, info.dims[0]);
    if (!rb) continue;  // not a matrix the model can multiply with
    const int64_t rows = static_cast<int64_t>(info.dims[1]);
    const int64_t n_mat = info.n_dims == 3 ? static_cast<int64_t>(info.dims[2]) : 1;
    const int64_t n_cols = static_cast<int64_t>(info.dims[0]);
    const uint8_t* base = file.tensor_data(t).data();
    // The entry is made when the tensor is first multiplied (see matmul), so unused tensors leave no trace.
    tensors_.push_back(Tensor{.name = info.name, .n_cols = n_cols, .n_mat = n_mat, .entry = nullptr});
    for (int64_t e = 0; e < n_mat; ++e) {
      targets_.emplace(base + static_cast<uint64_t>(e * rows) * *rb,
                       Target{.tensor = tensors_.size() - 1, .mat = e, .rows = rows, .expert = info.n_dims == 3,
                              .fused_gate_up = contains(info.name, "ffn_gate_up_exps")});
    }
  }
}

void ImatrixCollector::matmul(const WeightView& w, const float* x, int64_t n_tokens, float* y) {
  inner_.matmul(w, x, n_tokens, y);
  const auto it = targets_.find(w.data);
  if (it == targets_.end()) return;
  const Target& t = it->second;
  Tensor& tensor = tensors_[t.tensor];
  if (w.rows != t.rows && !(t.fused_gate_up && 2 * w.rows == t.rows)) return;  // a row slice, not the matrix
  if (w.cols != tensor.n_cols) return;
  if (!t.expert && n_tokens < kMinDenseRows) return;
  if (tensor.entry == nullptr) {
    ImatrixEntry& e = data_.entries[tensor.name];
    e.n_cols = tensor.n_cols;
    e.sum2.assign(static_cast<size_t>(tensor.n_cols * tensor.n_mat), 0.0);
    e.counts.assign(static_cast<size_t>(tensor.n_mat), 0);
    tensor.entry = &e;
  }
  // Summed in double: a long text adds up millions of squares per column.
  double* sums = tensor.entry->sum2.data() + t.mat * tensor.n_cols;
  for (int64_t r = 0; r < n_tokens; ++r) {
    const float* row = x + r * w.cols;
    for (int64_t j = 0; j < w.cols; ++j) sums[j] += static_cast<double>(row[j]) * row[j];
  }
  tensor.entry->counts[static_cast<size_t>(t.mat)] += n_tokens;
}

Imatrix compute_imatrix(const ImatrixRunOptions& options, const std::function<void(const ImatrixProgress&)>& on_chunk) {
  const Logger default_log;
  const Logger& log = options.log ? *options.log : default_log;
  const GgufSet file = GgufSet::open(options.model);
  const BpeTokenizer tokenizer = load_tokenizer_gguf(file.metadata(), log);
  const std::vector<int32_t> tokens =
      tokenizer.encode(read_text_file(options.text_file), EncodeOptions{.parse_special = false, .add_special = true});
  const int n_chunks = perplexity_chunk_count(tokens.size(), options.n_ctx, options.max_chunks, options.text_file);
  const std::vector<int32_t> bos_tokens = tokenizer.encode("", EncodeOptions{.parse_special = false, .add_special = true});
  const std::optional<int32_t> bos = bos_tokens.empty() ? std::nullopt : std::optional<int32_t>(bos_tokens[0]);

  ThreadPool pool(options.threads > 0 ? options.threads : physical_core_count());
  std::unique_ptr<CpuKernels> kernels;
  if (options.kernels != "reference") {
    const CpuFeatures features = detect_cpu_features();
    kernels = std::make_unique<CpuKernels>(options.kernels == "auto" ? CpuKernels::select(features)
                                                                     : CpuKernels::select(features, options.kernels));
  }
  CpuBackend cpu(&pool, kernels.get());
  ImatrixCollector collector(cpu, file, ImatrixCollectOptions{.process_output = options.process_output});
  // One micro-batch per chunk, so each matmul sees the chunk's rows once (the expanded MLA form multiplies
  // attn_kv_b over the micro-batch's context).
  auto model = load_model(file,
                          ModelOptions{.n_ctx = options.n_ctx, .n_seq = 1, .ubatch = options.n_ctx,
                                       .mla_form = MlaForm::kExpanded, .trace = {}},
                          Placement{.layers = {}, .head = &collector});
  const int64_t n_vocab = model->info().n_vocab;

  QualityAccumulator total;
  std::vector<float> logits(static_cast<size_t>(options.n_ctx) * static_cast<size_t>(n_vocab)), logprobs;
  const auto start = std::chrono::steady_clock::now();
  for (int c = 0; c < n_chunks; ++c) {
    const std::vector<int32_t> chunk = perplexity_chunk(tokens, options.n_ctx, c, bos);
    Batch b;
    for (size_t i = 0; i < chunk.size(); ++i) b.add(chunk[i], static_cast<int32_t>(i), 0, true);
    model->truncate_sequence(0, 0);
    model->forward(b, logits);
    QualityAccumulator this_chunk;
    for (int i = perplexity_first_scored(options.n_ctx); i < options.n_ctx - 1; ++i) {
      log_softmax(logits.data() + static_cast<size_t>(i) * static_cast<size_t>(n_vocab), n_vocab, logprobs);
      this_chunk.add(logprobs.data(), n_vocab, chunk[static_cast<size_t>(i) + 1]);
      total.add(logprobs.data(), n_vocab, chunk[static_cast<size_t>(i) + 1]);
    }
    if (on_chunk) {
      on_chunk(ImatrixProgress{
          .chunk = c + 1, .n_chunks = n_chunks, .n_tokens = tokens.size(), .chunk_ppl = this_chunk.running_ppl(),
          .running_ppl = total.running_ppl(),
          .seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()});
    }
  }
  Imatrix out = std::move(collector.data());
  out.datasets = {options.text_file};
  out.chunk_count = static_cast<uint32_t>(n_chunks);
  out.chunk_size = static_cast<uint32_t>(options.n_ctx);
  return out;
}

}  // namespace r1
