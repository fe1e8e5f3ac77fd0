// The library behind `r1 bench`: loads a model straight onto the CPU backend (timing the load), runs
// llama-bench's two tests — prompt processing (pp: n_prompt random tokens in one batch) and text generation
// (tg: n_gen tokens one at a time) — at a context depth, a warm-up and then `repetitions` timed runs, and
// accounts for the bytes one generated token reads so generation speed can be set against the machine's read
// bandwidth (bench_bandwidth.h). Reports as llama-bench's JSON fields and as a markdown table. Kernels and the
// model are not this file's business: it only drives Model::forward.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_bandwidth.h"
#include "gguf_set.h"
#include "log.h"

namespace r1::bench {

struct BenchOptions {
  std::string model;            // a .gguf file (any part of a split set)
  int n_prompt = 512;           // pp test size; 0: no pp test
  int n_gen = 128;              // tg test size; 0: no tg test
  int threads = 0;              // 0: one per physical core
  int repetitions = 5;          // timed runs per test, after one warm-up
  int depth = 0;                // tokens already in the KV cache when each timed run starts
  std::string kernels = "auto"; // auto, avx512, avx2, scalar, or reference (the scalar oracle)
  std::string repack = "auto";  // prompt weight rows packed at load: auto (where it pays and fits), on, off
  std::string weights = "auto"; // auto, map or copy: where the weights live (EngineOptions::weights)
  std::string mla = "auto";     // deepseek2 attention form: auto, absorbed or expanded (layers/mla_attention.h)
  std::string cache_type_k = "f16";  // KV cache types, as llama-bench's -ctk/-ctv: f32, f16 or q8_0
  std::string cache_type_v = "f16";
  bool measure_bandwidth = true;  // also measure the machine's read bandwidth (2 GiB, best of 5)
  uint64_t seed = 42;           // for the random token ids
};

// Throws r1::Error naming the first option out of range.
void validate_options(const BenchOptions& options);

// The weight bytes one generated token reads (KV cache apart): every weight tensor once, except that the
// token embedding contributes one row (or all of it when it doubles as the output projection, i.e. the
// file has no output.weight), routed MoE experts (`*_exps` tensors) contribute expert_used_count ÷
// expert_count of their bytes, and multi-token-prediction blocks (deepseek2 nextn) are not read at all.
struct TokenReadBytes {
  uint64_t weights = 0;                // the total: what one decode step streams from memory
  uint64_t embedding_row = 0;          // part of weights
  uint64_t routed_experts_active = 0;  // part of weights
  uint64_t routed_experts_total = 0;   // all routed experts in the file (for reference)
  uint64_t not_read = 0;               // token embedding rows not looked up, nextn blocks, idle experts
};
TokenReadBytes weight_bytes_per_token(const GgufSet& set);

// KV-cache bytes one generated token reads on average over a tg run of n_gen tokens after depth tokens: token i
// (0-based) attends to depth + i + 1 positions, so the mean is kv_bytes_per_position × (depth + (n_gen + 1) / 2).
double kv_bytes_per_generated_token(uint64_t kv_bytes_per_position, int depth, int n_gen);

struct BenchTest {
  std::string name;             // "pp512", "tg128", "tg128 @ d4096"
  int n_prompt = 0;
  int n_gen = 0;
  int n_depth = 0;
  std::vector<double> samples_s;  // one per repetition
  double bytes_per_token = 0;     // tg: weights + mean KV read per generated token; pp: 0

  int n_tokens() const { return n_prompt + n_gen; }
  double avg_ts() const;        // mean over repetitions of tokens ÷ seconds (llama-bench's avg_ts)
  double stddev_ts() const;     // sample standard deviation of the same (0 for one repetition)
  double avg_s() const;
  double stddev_s() const;
};

struct BenchReport {
  std::string model_filename;
  std::string model_type;       // "qwen2 1.78B Q4_K_M": architecture, parameters, file type
  std::string architecture;
  uint64_t model_size = 0;      // bytes of all tensors (llama-bench's model_size)
  uint64_t model_n_params = 0;
  std::string kernel_isa;       // "avx2", "scalar", "reference"
  std::string cpu_info;
  int n_threads = 0;
  double load_seconds = 0;      // open + map or copy + validate + build the model (mapped weights page in lazily)
                                // + the --repack copy
  double repack_seconds = 0;    // the --repack copy's part of load_seconds
  uint64_t repack_bytes = 0;    // its size (0: no copy)
  std::string repack;           // RepackReport::summary()
  std::string weights;          // "mapped", "copied" or "mixed" (GgufSet::residency)
  uint64_t kv_bytes_per_position = 0;  // KV cache bytes per token of context, all layers, K and V
  std::string cache_type_k = "f16", cache_type_v = "f16";
  TokenReadBytes read;
  std::string test_time;        // UTC, ISO 8601, when the tests started
  std::vector<BenchTest> tests;
  std::optional<MachineBandwidth> machine;
};

// Loads, warms up and times. Progress goes to log at info level. Throws r1::Error for bad options or files.
BenchReport run_bench(const BenchOptions& options, const Logger& log);

// One object per test with llama-bench's field names (n_prompt, n_gen, n_depth, n_threads, avg_ts, stddev_ts,
// model_type, model_size, ...) plus r1's (kernel_isa, load_ms, bytes_per_token, achieved_bw_gbs, ...).
nlohmann::ordered_json bench_json(const BenchReport& report);
// A markdown table in llama-bench's layout plus lines on load time, bytes per token and bandwidth.
std::string bench_markdown(const BenchReport& report);

}  // namespace r1::bench
