// `r1 bench`'s library: bytes-per-token accounting against hand-computed values on the fixture models, the
// JSON report of a tiny run, option validation, and the bandwidth probe's report. No timing assertions:
// speed is for benchmarks, not tests.
#include <gtest/gtest.h>

#include "bench_bandwidth.h"
#include "bench_runner.h"
#include "error.h"
#include "fixtures.h"
#include "gguf_set.h"

namespace r1::bench {
namespace {

std::string fixture(const std::filesystem::path& dir, const char* name) { return (dir / "models" / name).string(); }

Logger quiet() { return Logger(LogLevel::kError, [](LogLevel, std::string_view) {}); }

// tiny-llama Q8_0: 22 tensors, 2,833,984 bytes in all; output.weight is present, so token_embd
// ([256, 2256] Q8_0, 613,632 bytes) counts one row: 256 / 32 blocks × 34 bytes = 272.
// Per token: 2,833,984 − 613,632 + 272 = 2,220,624. No experts.
TEST(BenchBytes, DenseModelReadsEveryWeightAndOneEmbeddingRow) {
  R1_REQUIRE_FIXTURES(dir);
  const GgufSet set = GgufSet::open(fixture(dir, "tiny-llama-a-s1.Q8_0.gguf"));
  const TokenReadBytes r = weight_bytes_per_token(set);
  EXPECT_EQ(r.embedding_row, 272u);
  EXPECT_EQ(r.routed_experts_total, 0u);
  EXPECT_EQ(r.routed_experts_active, 0u);
  EXPECT_EQ(r.weights, 2'220'624u);
  EXPECT_EQ(r.weights + r.not_read, 2'833'984u);
}

// tiny-qwen2 Q4_K_M: 27 tensors, 1,440,000 bytes; token_embd [256, 2048] Q4_K (294,912 bytes) → one row of
// 256 / 256 super-blocks × 144 bytes = 144. Per token: 1,440,000 − 294,912 + 144 = 1,145,232.
TEST(BenchBytes, QuantizedDenseModel) {
  R1_REQUIRE_FIXTURES(dir);
  const GgufSet set = GgufSet::open(fixture(dir, "tiny-qwen2-a-s1.Q4_K_M.gguf"));
  const TokenReadBytes r = weight_bytes_per_token(set);
  EXPECT_EQ(r.embedding_row, 144u);
  EXPECT_EQ(r.weights, 1'145'232u);
}

// tiny-deepseek2 Q4_K_M: 49 tensors, 3,810,240 bytes; 8 routed experts, 2 used; 1 leading dense block.
// Routed expert tensors [256, 256, 8], one expert = 256 rows:
//   blk.1 gate/up/down Q4_K: 3 × 294,912 (one expert 256 × 144 = 36,864)
//   blk.2 gate/up Q4_K: 2 × 294,912; down Q6_K: 430,080 (one expert 256 × 210 = 53,760)
//   all: 1,904,640; active (2 of 8): blk.1 3 × 2 × 36,864 = 221,184, blk.2 2 × (2 × 36,864 + 53,760) = 254,976
//   → 476,160. Shared experts and the router count in full.
// token_embd [256, 2880] Q4_K (414,720 bytes) → one row of 144.
// Per token: 3,810,240 − 1,904,640 + 476,160 − 414,720 + 144 = 1,967,184.
TEST(BenchBytes, MoeCountsOnlyActiveExperts) {
  R1_REQUIRE_FIXTURES(dir);
  const GgufSet set = GgufSet::open(fixture(dir, "tiny-deepseek2-legacy-a-s1.Q4_K_M.gguf"));
  const TokenReadBytes r = weight_bytes_per_token(set);
  EXPECT_EQ(r.routed_experts_total, 1'904'640u);
  EXPECT_EQ(r.routed_experts_active, 476'160u);
  EXPECT_EQ(r.embedding_row, 144u);
  EXPECT_EQ(r.weights, 1'967'184u);
  EXPECT_EQ(r.weights + r.not_read, 3'810'240u);
}

TEST(BenchBytes, KvReadIsTheMeanContextOfTheRun) {
  // Tokens at depth 100 attend to 101, 102, 103, 104 positions: mean 102.5.
  EXPECT_DOUBLE_EQ(kv_bytes_per_generated_token(1000, 100, 4), 102'500.0);
  EXPECT_DOUBLE_EQ(kv_bytes_per_generated_token(1000, 0, 1), 1000.0);
  EXPECT_DOUBLE_EQ(kv_bytes_per_generated_token(1000, 5, 0), 0.0);
}

TEST(BenchRun, JsonFieldsOfATinyRun) {
  R1_REQUIRE_FIXTURES(dir);
  for (const char* name : {"tiny-llama-a-s1.Q8_0.gguf", "tiny-deepseek2-legacy-a-s1.Q4_K_M.gguf"}) {
    SCOPED_TRACE(name);
    const BenchOptions o{.model = fixture(dir, name), .n_prompt = 8, .n_gen = 4, .threads = 1, .repetitions = 2,
                         .depth = 3, .measure_bandwidth = false};
    const BenchReport report = run_bench(o, quiet());
    const nlohmann::ordered_json j = bench_json(report);
    ASSERT_TRUE(j.is_array());
    ASSERT_EQ(j.size(), 2u);
    const auto& pp = j[0];
    const auto& tg = j[1];
    EXPECT_EQ(pp["n_prompt"], 8);
    EXPECT_EQ(pp["n_gen"], 0);
    EXPECT_EQ(tg["n_prompt"], 0);
    EXPECT_EQ(tg["n_gen"], 4);
    for (const auto* t : {&pp, &tg}) {
      for (const char* field : {"n_prompt", "n_gen", "n_depth", "n_threads", "avg_ts", "stddev_ts", "model_type",
                                "model_size", "model_n_params", "kernel_isa", "load_ms", "repack_ms", "repack_bytes",
                                "samples_ts", "avg_ns"}) {
        EXPECT_TRUE(t->contains(field)) << field;
      }
      EXPECT_EQ((*t)["n_depth"], 3);
      EXPECT_EQ((*t)["n_threads"], 1);
      EXPECT_GT((*t)["avg_ts"].get<double>(), 0.0);
      EXPECT_GE((*t)["stddev_ts"].get<double>(), 0.0);
      EXPECT_EQ((*t)["samples_ts"].size(), 2u);
      EXPECT_GT((*t)["model_size"].get<uint64_t>(), 1'000'000u);
      EXPECT_GT((*t)["load_ms"].get<double>(), 0.0);
      EXPECT_FALSE((*t)["kernel_isa"].get<std::string>().empty());
      EXPECT_FALSE(t->contains("machine_bw_gbs"));
    }
    EXPECT_EQ(pp["model_type"].get<std::string>().rfind(report.architecture + " ", 0), 0u);
    // tg: bytes per token = weights + KV at mean context 3 + (4 + 1) / 2 = 5.5 positions.
    ASSERT_TRUE(tg.contains("bytes_per_token"));
    EXPECT_DOUBLE_EQ(tg["bytes_per_token"].get<double>(),
                     static_cast<double>(report.read.weights) + 5.5 * static_cast<double>(report.kv_bytes_per_position));
    EXPECT_DOUBLE_EQ(tg["kv_read_bytes_per_token"].get<double>(),
                     5.5 * static_cast<double>(report.kv_bytes_per_position));
    EXPECT_EQ(tg["weight_bytes_per_token"], report.read.weights);
    EXPECT_GT(report.kv_bytes_per_position, 0u);
    EXPECT_GT(tg["achieved_bw_gbs"].get<double>(), 0.0);
    EXPECT_FALSE(pp.contains("bytes_per_token"));
    const std::string md = bench_markdown(report);
    EXPECT_NE(md.find("pp8 @ d3"), std::string::npos) << md;
    EXPECT_NE(md.find("tg4 @ d3"), std::string::npos) << md;
    EXPECT_NE(md.find("load time"), std::string::npos) << md;
    EXPECT_NE(md.find(report.repack), std::string::npos) << md;
  }
}

// --repack on: the copy's time and size in the report (where these kernels have a packed layout for the file).
TEST(BenchRun, RepackOnReportsTheCopy) {
  R1_REQUIRE_FIXTURES(dir);
  const BenchOptions o{.model = fixture(dir, "tiny-llama-a-s1.Q8_0.gguf"), .n_prompt = 8, .n_gen = 0, .threads = 2,
                       .repetitions = 1, .repack = "on", .measure_bandwidth = false};
  const BenchReport report = run_bench(o, quiet());
  if (report.repack.find("no matrix") != std::string::npos) GTEST_SKIP() << report.repack;
  EXPECT_GT(report.repack_bytes, 0u);
  EXPECT_GT(report.repack_seconds, 0.0);
  EXPECT_LE(report.repack_seconds, report.load_seconds);
  EXPECT_EQ(report.repack.rfind("repacked ", 0), 0u) << report.repack;
  const nlohmann::ordered_json j = bench_json(report);
  EXPECT_EQ(j[0]["repack_bytes"], report.repack_bytes);
  const BenchOptions off{.model = o.model, .n_prompt = 8, .n_gen = 0, .threads = 2, .repetitions = 1,
                         .repack = "off", .measure_bandwidth = false};
  const BenchReport plain = run_bench(off, quiet());
  EXPECT_EQ(plain.repack_bytes, 0u);
  EXPECT_EQ(plain.tests.size(), 1u);
}

TEST(BenchRun, ReferenceKernelsAndGenerationOnly) {
  R1_REQUIRE_FIXTURES(dir);
  const BenchOptions o{.model = fixture(dir, "tiny-qwen2-a-s1.Q4_K_M.gguf"), .n_prompt = 0, .n_gen = 2, .threads = 2,
                       .repetitions = 1, .kernels = "reference", .measure_bandwidth = false};
  const BenchReport report = run_bench(o, quiet());
  ASSERT_EQ(report.tests.size(), 1u);
  EXPECT_EQ(report.tests[0].name, "tg2");
  EXPECT_EQ(report.kernel_isa, "reference");
  EXPECT_EQ(report.tests[0].stddev_ts(), 0.0);
}

TEST(BenchOptionsCheck, BadValuesAreErrors) {
  const BenchOptions good{.model = "m.gguf"};
  EXPECT_NO_THROW(validate_options(good));
  const auto bad = [&](auto change) {
    BenchOptions o = good;
    change(o);
    return o;
  };
  EXPECT_THROW(validate_options(bad([](BenchOptions& o) { o.model.clear(); })), Error);
  EXPECT_THROW(validate_options(bad([](BenchOptions& o) { o.n_prompt = -1; })), Error);
  EXPECT_THROW(validate_options(bad([](BenchOptions& o) { o.n_gen = -5; })), Error);
  EXPECT_THROW(validate_options(bad([](BenchOptions& o) { o.n_prompt = 0, o.n_gen = 0; })), Error);
  EXPECT_THROW(validate_options(bad([](BenchOptions& o) { o.repetitions = 0; })), Error);
  EXPECT_THROW(validate_options(bad([](BenchOptions& o) { o.depth = -1; })), Error);
  EXPECT_THROW(validate_options(bad([](BenchOptions& o) { o.threads = -2; })), Error);
  EXPECT_THROW(validate_options(bad([](BenchOptions& o) { o.kernels = "avx9"; })), Error);
  EXPECT_THROW(validate_options(bad([](BenchOptions& o) { o.repack = "sometimes"; })), Error);
  EXPECT_NO_THROW(validate_options(bad([](BenchOptions& o) { o.repack = "off"; })));
  // run_bench validates before touching the file.
  EXPECT_THROW(run_bench(bad([](BenchOptions& o) { o.repetitions = -1; }), quiet()), Error);
  // A missing file is an r1::Error too.
  EXPECT_THROW(run_bench(BenchOptions{.model = "/nonexistent/model.gguf", .measure_bandwidth = false}, quiet()), Error);
}

TEST(BenchBandwidth, SmallBufferReport) {
  // The fixed method uses 2 GiB; a small buffer here only checks the plumbing and the report.
  const MachineBandwidth bw = measure_machine_bandwidth(64ull << 20);
  EXPECT_GT(bw.bytes_per_second, 0.0);
  EXPECT_GE(bw.threads, 1);
  EXPECT_EQ(bw.passes, 5);
  EXPECT_NE(bandwidth_text(bw).find("64 MiB buffer, best of 5"), std::string::npos) << bandwidth_text(bw);
  const auto j = bandwidth_json(bw);
  EXPECT_GT(j["read_bandwidth_gbs"].get<double>(), 0.0);
  EXPECT_EQ(j["buffer_bytes"], 64ull << 20);
}

}  // namespace
}  // namespace r1::bench
