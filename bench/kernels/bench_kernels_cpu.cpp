// Microbenchmarks of the CPU matmul kernels (src/kernels/cpu) per weight format and ISA:
//   Decode/<type>/<isa>/threads:T   one token through a 4096×4096 matrix; GB/s of weight bytes streamed.
//                                   Several copies of the matrix (≥ 256 MiB in all) are cycled so that the
//                                   weights come from DRAM, not the 32 MiB L3, as in a real model.
//   DecodeHot/<type>/<isa>           the same with one matrix only (≤ 16 MiB except F32: it stays in L3), to
//                                   show the kernel's own speed apart from DRAM.
//   Prefill/<type>/<isa>/<tokens>   64 or 512 tokens through one 4096×4096 matrix; GFLOP/s (2·rows·cols·tokens).
//   PrefillRepacked/...             the same on rows packed once (`--repack`, PackedWeights), where the ISA
//                                   has a packed layout for the type.
//   MemRead/threads:T               a plain sum over a 1 GiB buffer: the machine's read bandwidth, for the ratio.
//   Attention/<shape>/<isa>/<n_kv>   one query token over n_kv (256, 1024) cached F16 positions, all heads, one
//                                   thread, flash numerics; GFLOP/s (2·heads·n_kv·(dk + dv)).
//                                   Shapes: mla (DeepSeek-R1's absorbed form: 128 heads over one 576-value
//                                   latent row, 512 of it the value) and gqa (R1-Distill-Qwen-7B: 28 heads
//                                   over 4 KV heads of 128).
// Usage: bench_kernels_cpu [--benchmark_filter=REGEX] (see docs/PERFORMANCE.md for the recorded runs).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cpu_features.h"
#include "cpu_kernels.h"
#include "half.h"
#include "packed_weights.h"
#include "quant_row.h"
#include "thread_pool.h"
#include "type_table.h"

namespace r1 {
namespace {

constexpr int64_t kRows = 4096, kCols = 4096;
constexpr uint64_t kDecodeWorkingSet = 256ull << 20;

// `copies` matrices of kRows × cols: 32 distinct quantized rows tiled over every row (the speed does not
// depend on the values; quantizing 4096 rows with the i-quant searches would take minutes).
struct Weights {
  GgmlType type;
  uint64_t row_bytes = 0;
  uint64_t matrix_bytes = 0;
  int copies = 0;
  std::vector<uint8_t> bytes;
  WeightView view(int copy) const {
    return WeightView{.type = type, .data = bytes.data() + copy * matrix_bytes, .rows = kRows, .cols = kCols,
                      .row_bytes = row_bytes};
  }
};

Weights make_weights(GgmlType type, uint64_t min_total_bytes) {
  Weights w;
  w.type = type;
  w.row_bytes = *row_bytes(type_info(type), kCols);
  w.matrix_bytes = w.row_bytes * kRows;
  w.copies = static_cast<int>(std::max<uint64_t>(1, (min_total_bytes + w.matrix_bytes - 1) / w.matrix_bytes));
  constexpr int kDistinct = 32;
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> src(kCols);
  std::vector<uint8_t> distinct(w.row_bytes * kDistinct);
  for (int r = 0; r < kDistinct; ++r) {
    for (auto& v : src) v = normal(rng);
    if (type == GgmlType::kF32) std::memcpy(distinct.data() + r * w.row_bytes, src.data(), w.row_bytes);
    else quantize_row(type, src.data(), distinct.data() + r * w.row_bytes, kCols, nullptr);
  }
  w.bytes.resize(w.matrix_bytes * w.copies);
  for (uint64_t r = 0; r < kRows * static_cast<uint64_t>(w.copies); ++r) {
    std::memcpy(w.bytes.data() + r * w.row_bytes, distinct.data() + (r % kDistinct) * w.row_bytes, w.row_bytes);
  }
  return w;
}

std::vector<float> make_activations(int64_t n_tokens) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n_tokens * kCols));
  for (auto& v : x) v = normal(rng);
  return x;
}

void bm_decode(benchmark::State& state, GgmlType type, CpuIsa isa, int n_threads, bool hot) {
  const CpuKernels kernels = CpuKernels::for_isa(isa);
  const Weights w = make_weights(type, hot ? 0 : kDecodeWorkingSet);
  const std::vector<float> x = make_activations(1);
  std::vector<float> y(kRows);
  ThreadPool pool(n_threads);
  CpuActivations act;
  int copy = 0;
  for (auto _ : state) {
    const WeightView view = w.view(copy);
    copy = (copy + 1) % w.copies;
    kernels.quantize_activations(type, x.data(), 1, kCols, act);
    if (n_threads == 1) {
      kernels.matmul(view, act, y.data(), 0, kRows);
    } else {
      pool.parallel_for(static_cast<size_t>(n_threads), [&](size_t task, int) {
        const int64_t per = kRows / n_threads;
        const int64_t r0 = static_cast<int64_t>(task) * per;
        kernels.matmul(view, act, y.data(), r0, static_cast<int>(task) == n_threads - 1 ? kRows : r0 + per);
      });
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(w.matrix_bytes) * 1e-9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

void bm_prefill(benchmark::State& state, GgmlType type, CpuIsa isa, int64_t n_tokens, bool repacked) {
  const CpuKernels kernels = CpuKernels::for_isa(isa);
  const Weights w = make_weights(type, 0);
  const std::vector<float> x = make_activations(n_tokens);
  std::vector<float> y(static_cast<size_t>(n_tokens * kRows));
  PackedWeights packed(kernels);
  if (repacked) packed.add(w.view(0), nullptr);
  CpuActivations act;
  for (auto _ : state) {
    kernels.quantize_activations(type, x.data(), n_tokens, kCols, act);
    kernels.matmul(w.view(0), act, y.data(), 0, kRows, packed.find(w.view(0)));
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * kRows * kCols * static_cast<double>(n_tokens) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

struct AttentionShape {
  const char* name;
  int n_head, n_head_kv, dk, dv;
};
constexpr AttentionShape kAttentionShapes[] = {{"mla", 128, 1, 576, 512}, {"gqa", 28, 4, 128, 128}};

void bm_attention(benchmark::State& state, AttentionShape sh, CpuIsa isa, int64_t n_kv) {
  const CpuKernels kernels = CpuKernels::for_isa(isa);
  const AttentionParams p{sh.n_head, sh.n_head_kv, sh.dk, sh.dv, 0.05f, GgmlType::kF16, GgmlType::kF16, true};
  const uint64_t k_row = static_cast<uint64_t>(sh.n_head_kv) * sh.dk * 2, v_row = static_cast<uint64_t>(sh.n_head_kv) * sh.dv * 2;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<uint8_t> k(k_row * static_cast<uint64_t>(n_kv)), v(v_row * static_cast<uint64_t>(n_kv));
  for (auto* buf : {&k, &v}) {
    for (size_t i = 0; i + 1 < buf->size(); i += 2) {
      const uint16_t h = fp32_to_fp16(normal(rng));
      std::memcpy(buf->data() + i, &h, 2);
    }
  }
  std::vector<float> q(static_cast<size_t>(sh.n_head * sh.dk)), out(static_cast<size_t>(sh.n_head * sh.dv));
  for (auto& x : q) x = normal(rng);
  for (auto _ : state) {
    kernels.attention(p, q.data(), k.data(), k_row, v.data(), v_row, n_kv, out.data(), 0, sh.n_head);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * sh.n_head * static_cast<double>(n_kv) * (sh.dk + sh.dv) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

void bm_mem_read(benchmark::State& state, int n_threads) {
  const size_t n = (1ull << 30) / sizeof(uint64_t);
  std::vector<uint64_t> buf(n);
  for (size_t i = 0; i < n; ++i) buf[i] = i;
  ThreadPool pool(n_threads);
  std::vector<uint64_t> sums(static_cast<size_t>(n_threads));
  for (auto _ : state) {
    pool.parallel_for(static_cast<size_t>(n_threads), [&](size_t task, int) {
      const size_t per = n / static_cast<size_t>(n_threads);
      const uint64_t* p = buf.data() + task * per;
      uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (size_t i = 0; i + 4 <= per; i += 4) {
        s0 += p[i];
        s1 += p[i + 1];
        s2 += p[i + 2];
        s3 += p[i + 3];
      }
      sums[task] = s0 + s1 + s2 + s3;
    });
    benchmark::DoNotOptimize(sums.data());
  }
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(n * sizeof(uint64_t)) * 1e-9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

const GgmlType kTypes[] = {GgmlType::kQ4_K,   GgmlType::kQ5_K,  GgmlType::kQ6_K,  GgmlType::kQ8_0,   GgmlType::kQ4_0,
                           GgmlType::kQ2_K,   GgmlType::kQ3_K,  GgmlType::kIQ4_XS, GgmlType::kIQ2_XXS, GgmlType::kIQ1_S,
                           GgmlType::kIQ1_M,  GgmlType::kF16,   GgmlType::kBF16,  GgmlType::kF32,    GgmlType::kQ5_0,
                           GgmlType::kQ4_1,   GgmlType::kQ5_1,  GgmlType::kIQ4_NL, GgmlType::kIQ2_XS, GgmlType::kIQ2_S,
                           GgmlType::kIQ3_XXS, GgmlType::kIQ3_S};

void register_all() {
  const CpuFeatures features = detect_cpu_features();
  for (int threads : {1, 2}) {
    benchmark::RegisterBenchmark(("MemRead/threads:" + std::to_string(threads)).c_str(), bm_mem_read, threads)
        ->UseRealTime()->Unit(benchmark::kMillisecond);
  }
  for (CpuIsa isa : CpuKernels::available(features)) {
    const std::string isa_name(cpu_isa_name(isa));
    for (const AttentionShape& sh : kAttentionShapes) {
      // 256 cached positions: the fp16 running output of short contexts; 1024: the float one, in score blocks.
      for (int64_t n_kv : {256, 1024}) {
        const std::string name = std::string("Attention/") + sh.name + "/" + isa_name + "/" + std::to_string(n_kv);
        benchmark::RegisterBenchmark(name.c_str(), bm_attention, sh, isa, n_kv)
            ->UseRealTime()->Unit(benchmark::kMillisecond);
      }
    }
    for (GgmlType t : kTypes) {
      const std::string type_name(type_info(t).name);
      for (int threads : {1, 2}) {
        benchmark::RegisterBenchmark(("Decode/" + type_name + "/" + isa_name + "/threads:" + std::to_string(threads)).c_str(),
                                     bm_decode, t, isa, threads, false)
            ->UseRealTime()->Unit(benchmark::kMicrosecond);
      }
      benchmark::RegisterBenchmark(("DecodeHot/" + type_name + "/" + isa_name).c_str(), bm_decode, t, isa, 1, true)
          ->UseRealTime()->Unit(benchmark::kMicrosecond);
      for (int64_t tokens : {8, 64, 512}) {
        benchmark::RegisterBenchmark(("Prefill/" + type_name + "/" + isa_name + "/" + std::to_string(tokens)).c_str(),
                                     bm_prefill, t, isa, tokens, false)
            ->UseRealTime()->Unit(benchmark::kMillisecond);
        // The rows packed once (--repack), where this ISA has a packed layout for the type.
        const WeightView probe{.type = t, .data = nullptr, .rows = kRows, .cols = kCols, .row_bytes = 0};
        if (CpuKernels::for_isa(isa).packed_bytes(probe) == 0) continue;
        benchmark::RegisterBenchmark(
            ("PrefillRepacked/" + type_name + "/" + isa_name + "/" + std::to_string(tokens)).c_str(), bm_prefill, t,
            isa, tokens, true)
            ->UseRealTime()->Unit(benchmark::kMillisecond);
      }
    }
  }
}

}  // namespace
}  // namespace r1

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  r1::register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
