// `r1 bench`'s runner: load timing, llama-bench's pp/tg procedure over Model::forward, bytes-per-token
// accounting and the JSON/markdown reports. The bandwidth measurement is bench_bandwidth.cpp's.
#include "bench_runner.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <memory>
#include <random>
#include <set>
#include <string_view>
#include <thread>

#include <fmt/format.h>

#include "backend.h"
#include "cpu_features.h"
#include "cpu_kernels.h"
#include "error.h"
#include "file_types.h"
#include "kv_cache.h"
#include "model.h"
#include "model_weights.h"
#include "process_memory.h"
#include "thread_pool.h"

namespace r1::bench {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }


// "blk.12.attn_q.weight" → 12; -1 for tensors outside the blocks.
int block_index(std::string_view name) {
  if (!name.starts_with("blk.")) return -1;
  int n = 0;
  size_t i = 4;
  if (i >= name.size() || name[i] < '0' || name[i] > '9') return -1;
  for (; i < name.size() && name[i] >= '0' && name[i] <= '9'; ++i) n = n * 10 + (name[i] - '0');
  return n;
}

std::string params_label(uint64_t n) {
  const double v = static_cast<double>(n);
  if (v >= 1e9) return fmt::format("{:.2f}B", v / 1e9);
  if (v >= 1e6) return fmt::format("{:.2f}M", v / 1e6);
  return fmt::format("{:.2f}K", v / 1e3);
}

std::string bytes_label(double bytes) {
  if (bytes >= 1024.0 * 1024 * 1024) return fmt::format("{:.2f} GiB", bytes / (1024.0 * 1024 * 1024));
  if (bytes >= 1024.0 * 1024) return fmt::format("{:.2f} MiB", bytes / (1024.0 * 1024));
  return fmt::format("{:.2f} KiB", bytes / 1024.0);
}

std::string utc_now_iso8601() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

double mean(const std::vector<double>& v) {
  if (v.empty()) return 0;
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

// Sample standard deviation (n - 1), as llama-bench computes it.
double stddev(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double m = mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size() - 1));
}

std::vector<double> rates(const BenchTest& t) {
  std::vector<double> r;
  for (double s : t.samples_s) r.push_back(s > 0 ? t.n_tokens() / s : 0.0);
  return r;
}

// Everything one benchmark run holds: the file, the pool, the kernels, the backend and the model.
struct LoadedModel {
  std::unique_ptr<GgufSet> file;
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<CpuKernels> kernels;
  std::unique_ptr<CpuBackend> backend;
  std::unique_ptr<Model> model;
};

// Runs n tokens of sequence 0 from position pos: one batch (prefill) or one token per call (generation).
// Only the last token of a batch asks for logits, as llama-bench's batches do; every generated token does.
class Driver {
 public:
  Driver(Model& model, uint64_t seed) : model_(model), rng_(seed), logits_(static_cast<size_t>(model.info().n_vocab)) {}

  void prefill(int pos, int n) {
    if (n <= 0) return;
    Batch b;
    for (int i = 0; i < n; ++i) b.add(random_token(), pos + i, 0, i == n - 1);
    model_.forward(b, logits_);
  }
  void generate(int pos, int n) {
    for (int i = 0; i < n; ++i) {
      Batch b;
      b.add(random_token(), pos + i, 0, true);
      model_.forward(b, logits_);
    }
  }
  void clear() { model_.truncate_sequence(0, 0); }

 private:
  int32_t random_token() {
    return static_cast<int32_t>(std::uniform_int_distribution<int64_t>(0, model_.info().n_vocab - 1)(rng_));
  }
  Model& model_;
  std::mt19937_64 rng_;
  std::vector<float> logits_;
};

BenchTest run_test(Driver& d, int n_prompt, int n_gen, int depth, int repetitions, const Logger& log) {
  BenchTest t;
  t.n_prompt = n_prompt;
  t.n_gen = n_gen;
  t.n_depth = depth;
  t.name = n_prompt > 0 ? fmt::format("pp{}", n_prompt) : fmt::format("tg{}", n_gen);
  if (depth > 0) t.name += fmt::format(" @ d{}", depth);
  // Warm-up (llama-bench's): one full prompt, or one generated token, untimed; it also pages the weights in.
  d.clear();
  if (n_prompt > 0) d.prefill(0, n_prompt);
  if (n_gen > 0) d.generate(0, 1);
  for (int r = 0; r < repetitions; ++r) {
    d.clear();
    d.prefill(0, depth);
    const auto t0 = Clock::now();
    d.prefill(depth, n_prompt);
    d.generate(depth, n_gen);
    t.samples_s.push_back(seconds_since(t0));
    log.info("{}: run {} of {}: {:.2f} t/s", t.name, r + 1, repetitions, t.n_tokens() / t.samples_s.back());
  }
  d.clear();
  return t;
}

}  // namespace

void validate_options(const BenchOptions& o) {
  if (o.model.empty()) throw Error("no model given (-m MODEL)");
  if (o.n_prompt < 0 || o.n_prompt > (1 << 20)) throw Error(fmt::format("-p {} is out of range (0 to 1048576)", o.n_prompt));
  if (o.n_gen < 0 || o.n_gen > (1 << 20)) throw Error(fmt::format("-n {} is out of range (0 to 1048576)", o.n_gen));
  if (o.n_prompt == 0 && o.n_gen == 0) throw Error("nothing to measure: -p and -n are both 0");
  if (o.repetitions < 1 || o.repetitions > 1000) {
    throw Error(fmt::format("-r {} is out of range (1 to 1000)", o.repetitions));
  }
  if (o.depth < 0 || o.depth > (1 << 22)) throw Error(fmt::format("--depth {} is out of range (0 to 4194304)", o.depth));
  if (o.threads < 0 || o.threads > 1024) throw Error(fmt::format("-t {} is out of range (0 to 1024)", o.threads));
  static constexpr std::string_view kKernels[] = {"auto", "avx512", "avx2", "scalar", "reference"};
  if (std::find(std::begin(kKernels), std::end(kKernels), o.kernels) == std::end(kKernels)) {
    throw Error(fmt::format("--kernels '{}' is unknown (auto, avx512, avx2, scalar or reference)", o.kernels));
  }
  CpuKernels::repack_from_name(o.repack);
  kv_cache_type_from_name(o.cache_type_k);
  kv_cache_type_from_name(o.cache_type_v);
  if (o.mla != "auto" && o.mla != "absorbed" && o.mla != "expanded") {
    throw Error(fmt::format("--mla '{}' is unknown (auto, absorbed or expanded)", o.mla));
  }
}

TokenReadBytes weight_bytes_per_token(const GgufSet& set) {
  const GgufMetadata& m = set.metadata();
  const std::string arch = m.find_string("general.architecture").value_or("");
  const uint64_t block_count = m.find_uint(arch + ".block_count").value_or(0);
  const uint64_t nextn = m.find_uint(arch + ".nextn_predict_layers").value_or(0);
  const int64_t blocks_run = static_cast<int64_t>(block_count) - static_cast<int64_t>(nextn);
  const uint64_t n_used = m.find_uint(arch + ".expert_used_count").value_or(0);
  const bool tied_output = set.find_tensor("output.weight") == nullptr;

  TokenReadBytes r;
  for (const GgufSet::Tensor& t : set.tensors()) {
    const GgufTensorInfo& info = *t.info;
    const std::string_view name = info.name;
    const int block = block_index(name);
    uint64_t read = info.n_bytes;
    if (block >= 0 && nextn > 0 && block >= blocks_run) {
      read = 0;  // multi-token-prediction block: loaded, never run
    } else if (name == "token_embd.weight" && !tied_output) {
      const uint64_t rows = info.n_dims >= 2 ? info.n_elements / info.dims[0] : 1;
      read = rows > 0 ? info.n_bytes / rows : info.n_bytes;
      r.embedding_row = read;
    } else if (name.find("_exps.") != std::string_view::npos && info.n_dims == 3 && n_used > 0) {
      // [n_in, n_out, n_expert]: each expert is a whole slice of n_bytes / n_expert.
      const uint64_t n_expert = info.dims[2];
      read = info.n_bytes / n_expert * std::min(n_used, n_expert);
      r.routed_experts_total += info.n_bytes;
      r.routed_experts_active += read;
    }
    r.weights += read;
    r.not_read += info.n_bytes - read;
  }
  return r;
}

double kv_bytes_per_generated_token(uint64_t kv_bytes_per_position, int depth, int n_gen) {
  if (n_gen <= 0) return 0;
  return static_cast<double>(kv_bytes_per_position) * (depth + (n_gen + 1) / 2.0);
}

double BenchTest::avg_ts() const { return mean(rates(*this)); }
double BenchTest::stddev_ts() const { return stddev(rates(*this)); }
double BenchTest::avg_s() const { return mean(samples_s); }
double BenchTest::stddev_s() const { return stddev(samples_s); }

BenchReport run_bench(const BenchOptions& options, const Logger& log) {
  validate_options(options);
  BenchReport report;
  report.model_filename = options.model;
  const CpuFeatures features = detect_cpu_features();
  report.cpu_info = features.brand;
  while (!report.cpu_info.empty() && report.cpu_info.back() == ' ') report.cpu_info.pop_back();
  report.n_threads = options.threads > 0 ? options.threads : physical_core_count();

  // Load: what `r1 run` does before its first token (file mapped and validated, model built over it).
  const RepackMode repack_mode = CpuKernels::repack_from_name(options.repack);
  LoadedModel lm;
  const auto t_load = Clock::now();
  lm.file = std::make_unique<GgufSet>(GgufSet::open(options.model, options.weights));
  report.weights = lm.file->residency();
  lm.pool = std::make_unique<ThreadPool>(report.n_threads);
  if (options.kernels != "reference") {
    lm.kernels = std::make_unique<CpuKernels>(options.kernels == "auto" ? CpuKernels::select(features)
                                                                        : CpuKernels::select(features, options.kernels));
    lm.kernels->set_repack(repack_mode);
  }
  lm.backend = std::make_unique<CpuBackend>(lm.pool.get(), lm.kernels.get());
  const int64_t n_ctx = static_cast<int64_t>(options.depth) + std::max(options.n_prompt, options.n_gen);
  if (n_ctx > (1 << 22)) throw Error(fmt::format("depth + tokens = {} is too long a context", n_ctx));
  const MlaForm mla = options.mla == "absorbed" ? MlaForm::kAbsorbed
                      : options.mla == "expanded" ? MlaForm::kExpanded
                                                  : MlaForm::kAuto;
  lm.model = load_model(*lm.file, ModelOptions{.n_ctx = static_cast<int>(n_ctx), .n_seq = 1,
                                                   .cache_type_k = kv_cache_type_from_name(options.cache_type_k),
                                                   .cache_type_v = kv_cache_type_from_name(options.cache_type_v),
                                                   .mla_form = mla, .trace = {}},
                        Placement{.layers = {}, .head = lm.backend.get()});
  const RepackReport repack = lm.backend->repack(
      file_matrices(*lm.file), repack_mode,
      RepackBudget{.kv_cache_bytes = lm.model->info().kv_bytes_per_token * static_cast<uint64_t>(n_ctx),
                   .mapped_weight_bytes = lm.file->mapped_file_bytes(),
                   .available_bytes = available_memory_bytes()});
  report.repack_seconds = repack.seconds;
  report.repack_bytes = repack.packed ? repack.copy_bytes : 0;
  report.repack = repack.summary();
  report.load_seconds = seconds_since(t_load);

  const GgufMetadata& meta = lm.file->metadata();
  report.architecture = lm.model->info().architecture;
  for (const GgufSet::Tensor& t : lm.file->tensors()) {
    report.model_size += t.info->n_bytes;
    report.model_n_params += t.info->n_elements;
  }
  std::string ftype = "?";
  if (auto ft = meta.find_int("general.file_type"); ft && !file_type_name(*ft).empty()) ftype = file_type_name(*ft);
  report.model_type = fmt::format("{} {} {}", report.architecture, params_label(report.model_n_params), ftype);
  report.kernel_isa = lm.kernels ? std::string(lm.kernels->isa_name()) : "reference";
  report.kv_bytes_per_position = lm.model->info().kv_bytes_per_token;
  report.cache_type_k = options.cache_type_k;
  report.cache_type_v = options.cache_type_v;
  report.read = weight_bytes_per_token(*lm.file);
  log.info("loaded {} ({}) in {:.1f} ms, weights {}; {} threads, {} kernels", options.model, report.model_type,
           report.load_seconds * 1e3, report.weights, report.n_threads, report.kernel_isa);

  report.test_time = utc_now_iso8601();
  Driver driver(*lm.model, options.seed);
  if (options.n_prompt > 0) {
    report.tests.push_back(run_test(driver, options.n_prompt, 0, options.depth, options.repetitions, log));
  }
  if (options.n_gen > 0) {
    BenchTest t = run_test(driver, 0, options.n_gen, options.depth, options.repetitions, log);
    t.bytes_per_token = static_cast<double>(report.read.weights) +
                        kv_bytes_per_generated_token(report.kv_bytes_per_position, options.depth, options.n_gen);
    report.tests.push_back(std::move(t));
  }
  lm = LoadedModel{};  // free the model before the 2 GiB bandwidth buffer
  if (options.measure_bandwidth) {
    log.info("measuring the machine's read bandwidth (2 GiB, best of 5)");
    report.machine = measure_machine_bandwidth();
  }
  return report;
}

nlohmann::ordered_json bench_json(const BenchReport& report) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const BenchTest& t : report.tests) {
    nlohmann::ordered_json j;
    j["cpu_info"] = report.cpu_info;
    j["backends"] = "CPU";
    j["kernel_isa"] = report.kernel_isa;
    j["model_filename"] = report.model_filename;
    j["model_type"] = report.model_type;
    j["model_size"] = report.model_size;
    j["model_n_params"] = report.model_n_params;
    j["n_ubatch"] = 512;
    j["n_threads"] = report.n_threads;
    j["type_k"] = report.cache_type_k;
    j["type_v"] = report.cache_type_v;
    j["flash_attn"] = true;
    j["n_prompt"] = t.n_prompt;
    j["n_gen"] = t.n_gen;
    j["n_depth"] = t.n_depth;
    j["test_time"] = report.test_time;
    j["load_ms"] = report.load_seconds * 1e3;
    j["repack_ms"] = report.repack_seconds * 1e3;
    j["repack_bytes"] = report.repack_bytes;
    j["weights"] = report.weights;
    j["avg_ns"] = static_cast<uint64_t>(std::llround(t.avg_s() * 1e9));
    j["stddev_ns"] = static_cast<uint64_t>(std::llround(t.stddev_s() * 1e9));
    j["avg_ts"] = t.avg_ts();
    j["stddev_ts"] = t.stddev_ts();
    nlohmann::ordered_json ns = nlohmann::ordered_json::array(), ts = nlohmann::ordered_json::array();
    for (double s : t.samples_s) ns.push_back(static_cast<uint64_t>(std::llround(s * 1e9)));
    for (double r : rates(t)) ts.push_back(r);
    j["samples_ns"] = ns;
    j["samples_ts"] = ts;
    if (t.n_gen > 0 && t.n_prompt == 0) {
      j["weight_bytes_per_token"] = report.read.weights;
      j["kv_read_bytes_per_token"] = t.bytes_per_token - static_cast<double>(report.read.weights);
      j["bytes_per_token"] = t.bytes_per_token;
      j["achieved_bw_gbs"] = t.bytes_per_token * t.avg_ts() / 1e9;
      if (report.machine) {
        j["machine_bw_gbs"] = report.machine->bytes_per_second / 1e9;
        j["bw_fraction"] = report.machine->bytes_per_second > 0
                               ? t.bytes_per_token * t.avg_ts() / report.machine->bytes_per_second
                               : 0.0;
      }
    }
    out.push_back(std::move(j));
  }
  return out;
}

std::string bench_markdown(const BenchReport& report) {
  const bool bw = report.machine.has_value() && report.machine->bytes_per_second > 0;
  std::string out = fmt::format("| {:<30} | {:>10} | {:>9} | {:<9} | {:>7} | {:>15} | {:>20} | {:>10} |{}\n", "model",
                                "size", "params", "isa", "threads", "test", "t/s", "read GB/s",
                                bw ? " % of bw |" : "");
  out += fmt::format("| {:-<30} | {:->9}: | {:->8}: | {:-<9} | {:->6}: | {:->14}: | {:->19}: | {:->9}: |{}\n", "", "",
                     "", "", "", "", "", "", bw ? " ------: |" : "");
  for (const BenchTest& t : report.tests) {
    const bool tg = t.n_gen > 0 && t.n_prompt == 0;
    const double achieved = tg ? t.bytes_per_token * t.avg_ts() : 0.0;
    out += fmt::format("| {:<30} | {:>10} | {:>9} | {:<9} | {:>7} | {:>15} | {:>20} | {:>10} |", report.model_type,
                       bytes_label(static_cast<double>(report.model_size)), params_label(report.model_n_params),
                       report.kernel_isa, report.n_threads, t.name,
                       fmt::format("{:.2f} ± {:.2f}", t.avg_ts(), t.stddev_ts()),
                       tg ? fmt::format("{:.2f}", achieved / 1e9) : "");
    if (bw) out += tg ? fmt::format(" {:>6.1f}% |", 100.0 * achieved / report.machine->bytes_per_second) : "         |";
    out += "\n";
  }
  out += fmt::format("\nload time {:.1f} ms (weights {}; {}); {} reps after a warm-up; KV cache {}/{}; CPU: {}\n",
                     report.load_seconds * 1e3, report.weights, report.repack.empty() ? "no repack" : report.repack,
                     report.tests.empty() ? 0 : report.tests.front().samples_s.size(),
                     report.cache_type_k, report.cache_type_v, report.cpu_info.empty() ? "unknown" : report.cpu_info);
  for (const BenchTest& t : report.tests) {
    if (!(t.n_gen > 0 && t.n_prompt == 0)) continue;
    const std::string experts =
        report.read.routed_experts_total == 0
            ? ""
            : fmt::format(", active routed experts {} of {}",
                          bytes_label(static_cast<double>(report.read.routed_experts_active)),
                          bytes_label(static_cast<double>(report.read.routed_experts_total)));
    out += fmt::format("bytes read per generated token: {} = weights {} (embedding row {}{}) + KV cache {} (mean over {})\n",
                       bytes_label(t.bytes_per_token), bytes_label(static_cast<double>(report.read.weights)),
                       bytes_label(static_cast<double>(report.read.embedding_row)), experts,
                       bytes_label(t.bytes_per_token - static_cast<double>(report.read.weights)), t.name);
  }
  if (report.machine) out += "machine read bandwidth: " + bandwidth_text(*report.machine) + "\n";
  return out;
}

}  // namespace r1::bench
