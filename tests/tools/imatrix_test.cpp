// Importance matrices: the collector's sums against the squares of the model's own traced activations (bundled
// qwen2 model), per-expert counts on the tiny deepseek2 fixture, GGUF and legacy .dat round trips, damaged
// files refused with r1::Error, and quantize_model's checks of importance sizes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <random>

#include "backend.h"
#include "error.h"
#include "fixtures.h"
#include "gguf_writer.h"
#include "imatrix.h"
#include "imatrix_file.h"
#include "model.h"
#include "quantize_model.h"
#include "thread_pool.h"

namespace r1 {
namespace {

namespace fs = std::filesystem;

fs::path bundled_model() { return testlib::test_data_dir().parent_path().parent_path() / "models" / "r1-mini-qwen2-F16.gguf"; }

// Runs n_tokens pseudo-random tokens through the model with the collector in front of a reference CPU backend;
// traced intermediates land in *trace (by name) when given.
Imatrix collect(const GgufSet& file, int n_tokens, std::map<std::string, std::vector<float>>* trace = nullptr) {
  CpuBackend cpu(nullptr);
  ImatrixCollector collector(cpu, file);
  ModelOptions mo{.n_ctx = 64, .n_seq = 1, .ubatch = 64, .mla_form = MlaForm::kExpanded, .trace = {}};
  if (trace != nullptr) {
    mo.trace = [trace](const std::string& name, const float* data, size_t n) {
      (*trace)[name].assign(data, data + n);
    };
  }
  auto model = load_model(file, mo, Placement{.layers = {}, .head = &collector});
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> tok(1, static_cast<int32_t>(model->info().n_vocab) - 1);
  Batch b;
  for (int i = 0; i < n_tokens; ++i) b.add(tok(rng), i, 0, i == n_tokens - 1);
  std::vector<float> logits(static_cast<size_t>(model->info().n_vocab));
  model->forward(b, logits);
  return collector.data();
}

// sum over rows of x[j]^2 for a traced [n_rows, n_cols] activation, in double as an independent oracle.
std::vector<double> column_squares(const std::vector<float>& x, int64_t n_cols) {
  std::vector<double> s(static_cast<size_t>(n_cols), 0.0);
  for (size_t i = 0; i < x.size(); ++i) s[i % static_cast<size_t>(n_cols)] += static_cast<double>(x[i]) * x[i];
  return s;
}

TEST(ImatrixCollector, SumsAreTheSquaresOfTheTracedInputs) {
  const GgufSet file = GgufSet::open(bundled_model().string());
  std::map<std::string, std::vector<float>> trace;
  const int n = 20;
  const Imatrix m = collect(file, n, &trace);
  // attn_norm-0 is what blk.0.attn_q/k/v multiply; ffn_swiglu-1 what blk.1.ffn_down multiplies.
  const std::vector<std::pair<std::string, std::string>> cases = {{"blk.0.attn_q.weight", "attn_norm-0"},
                                                                   {"blk.0.attn_v.weight", "attn_norm-0"},
                                                                   {"blk.1.ffn_down.weight", "ffn_swiglu-1"}};
  for (const auto& [tensor, traced] : cases) {
    SCOPED_TRACE(tensor);
    ASSERT_TRUE(m.entries.contains(tensor));
    ASSERT_TRUE(trace.contains(traced));
    const ImatrixEntry& e = m.entries.at(tensor);
    ASSERT_EQ(e.counts, std::vector<int64_t>{n});
    const std::vector<double> want = column_squares(trace.at(traced), e.n_cols);
    ASSERT_EQ(e.sum2.size(), want.size());
    ASSERT_EQ(trace.at(traced).size(), static_cast<size_t>(n * e.n_cols));
    for (size_t j = 0; j < want.size(); ++j) ASSERT_NEAR(e.sum2[j], want[j], 1e-9 * (1 + want[j])) << "column " << j;
  }
  EXPECT_FALSE(m.entries.contains("output.weight"));  // llama.cpp's default
  EXPECT_FALSE(m.entries.contains("token_embd.weight"));
}

TEST(ImatrixCollector, SkipsDenseMatmulsOfFewerThan16Rows) {
  const GgufSet file = GgufSet::open(bundled_model().string());
  EXPECT_TRUE(collect(file, 15).entries.empty());
  EXPECT_FALSE(collect(file, 16).entries.empty());
}

TEST(ImatrixCollector, ExpertCountsSumToTokensTimesExpertsUsed) {
  R1_REQUIRE_FIXTURES(fixtures);
  const GgufSet file = GgufSet::open((fixtures / "models" / "tiny-deepseek2-legacy-a-s1.Q8_0.gguf").string());
  const int64_t n_used = file.metadata().get_int("deepseek2.expert_used_count");
  const int64_t n_expert = file.metadata().get_int("deepseek2.expert_count");
  const int64_t n_layer = file.metadata().get_int("deepseek2.block_count");
  const int64_t n_dense = file.metadata().get_int("deepseek2.leading_dense_block_count");
  const int n = 24;
  const Imatrix m = collect(file, n);
  int moe_layers = 0;
  for (int64_t il = n_dense; il < n_layer; ++il, ++moe_layers) {
    for (const char* kind : {"gate", "up", "down"}) {
      const std::string name = fmt::format("blk.{}.ffn_{}_exps.weight", il, kind);
      SCOPED_TRACE(name);
      ASSERT_TRUE(m.entries.contains(name));
      const ImatrixEntry& e = m.entries.at(name);
      ASSERT_EQ(static_cast<int64_t>(e.n_mat()), n_expert);
      int64_t total = 0;
      for (int64_t c : e.counts) total += c;
      EXPECT_EQ(total, n * n_used);
      // Each expert's sums come only from its own tokens: a matrix with no tokens has zero sums.
      for (size_t x = 0; x < e.n_mat(); ++x) {
        double s = 0;
        for (int64_t j = 0; j < e.n_cols; ++j) s += e.sum2[x * static_cast<size_t>(e.n_cols) + static_cast<size_t>(j)];
        EXPECT_EQ(e.counts[x] == 0, s == 0.0) << "expert " << x;
      }
    }
    EXPECT_EQ(m.entries.at(fmt::format("blk.{}.ffn_gate_inp.weight", il)).counts, std::vector<int64_t>{n});
  }
  EXPECT_GT(moe_layers, 0);
  // The expanded MLA form multiplies attn_kv_b whole, as llama.cpp does for legacy files.
  EXPECT_EQ(m.entries.at("blk.0.attn_kv_b.weight").counts, std::vector<int64_t>{n});
}

Imatrix sample_imatrix() {
  Imatrix m;
  m.datasets = {"calibration.txt"};
  m.chunk_count = 3;
  m.chunk_size = 128;
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> u(0.0, 50.0);
  ImatrixEntry dense{.n_cols = 5, .sum2 = {}, .counts = {384}};
  for (int j = 0; j < 5; ++j) dense.sum2.push_back(u(rng));
  ImatrixEntry experts{.n_cols = 4, .sum2 = {}, .counts = {100, 0, 284}};  // expert 1 never routed
  for (int j = 0; j < 12; ++j) experts.sum2.push_back(j >= 4 && j < 8 ? 0.0 : u(rng));
  m.entries.emplace("blk.0.attn_q.weight", dense);
  m.entries.emplace("blk.1.ffn_up_exps.weight", experts);
  return m;
}

TEST(ImatrixFile, GgufRoundTrip) {
  const Imatrix m = sample_imatrix();
  const fs::path path = testlib::temp_dir() / "rt.gguf";
  write_imatrix_gguf(m, path.string());
  const Imatrix r = read_imatrix(path.string());
  EXPECT_FALSE(r.legacy);
  EXPECT_EQ(r.datasets, m.datasets);
  EXPECT_EQ(r.chunk_count, 3u);
  EXPECT_EQ(r.chunk_size, 128u);
  ASSERT_EQ(r.entries.size(), m.entries.size());
  for (const auto& [name, e] : m.entries) {
    const ImatrixEntry& g = r.entries.at(name);
    EXPECT_EQ(g.n_cols, e.n_cols);
    EXPECT_EQ(g.counts, e.counts);
    ASSERT_EQ(g.sum2.size(), e.sum2.size());
    for (size_t i = 0; i < e.sum2.size(); ++i) EXPECT_EQ(g.sum2[i], static_cast<double>(static_cast<float>(e.sum2[i])));
  }
  // The file is llama.cpp's layout: general.type and the tensor pair with [n_cols, n_mat] / [1, n_mat] dims.
  const GgufFile f = GgufFile::open(path.string());
  EXPECT_EQ(f.metadata().get_string("general.type"), "imatrix");
  EXPECT_EQ(f.find_tensor("blk.1.ffn_up_exps.weight.in_sum2")->shape(), (std::vector<uint64_t>{4, 3}));
  EXPECT_EQ(f.find_tensor("blk.1.ffn_up_exps.weight.counts")->shape(), (std::vector<uint64_t>{1, 3}));
}

TEST(ImatrixFile, DatRoundTripGivesTheSameImportance) {
  const Imatrix m = sample_imatrix();
  const fs::path path = testlib::temp_dir() / "rt.dat";
  write_imatrix_dat(m, path.string());
  const Imatrix r = read_imatrix(path.string());
  EXPECT_TRUE(r.legacy);
  EXPECT_EQ(r.datasets, m.datasets);
  EXPECT_EQ(r.chunk_count, 3u);
  ASSERT_EQ(r.entries.size(), 2u);
  // ncall = ceil(max count / chunk size): 384/128 = 3 and 284/128 -> 3.
  EXPECT_EQ(r.entries.at("blk.0.attn_q.weight").counts, std::vector<int64_t>{3});
  for (const auto& [name, e] : m.entries) {
    const std::vector<float> want = imatrix_importance(m, e);
    const std::vector<float> got = imatrix_importance(r, r.entries.at(name));
    ASSERT_EQ(got.size(), want.size()) << name;
    for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5 * (1 + want[i])) << name << " " << i;
  }
  // The unrouted expert reads back as weight 1, as llama.cpp treats it.
  EXPECT_EQ(imatrix_importance(r, r.entries.at("blk.1.ffn_up_exps.weight"))[5], 1.0f);
}

TEST(ImatrixFile, FormatChoiceFollowsLlamaCpp) {
  std::string w;
  EXPECT_EQ(choose_imatrix_format("a.gguf", std::nullopt, &w), ImatrixFormat::kGguf);
  EXPECT_TRUE(w.empty());
  EXPECT_EQ(choose_imatrix_format("a.dat", std::nullopt, &w), ImatrixFormat::kGguf);
  EXPECT_FALSE(w.empty());
  EXPECT_EQ(choose_imatrix_format("a.gguf", ImatrixFormat::kDat, &w), ImatrixFormat::kDat);
  EXPECT_FALSE(w.empty());
  EXPECT_EQ(choose_imatrix_format("a.dat", ImatrixFormat::kDat, &w), ImatrixFormat::kDat);
  EXPECT_TRUE(w.empty());
}

void expect_refused(const std::vector<uint8_t>& bytes, const std::string& what) {
  const fs::path path = testlib::temp_dir() / "bad.imatrix";
  testlib::write_file_bytes(path, bytes);
  EXPECT_THROW(read_imatrix(path.string()), Error) << what;
}

void put_i32(std::vector<uint8_t>& b, size_t at, int32_t v) { std::memcpy(b.data() + at, &v, 4); }

TEST(ImatrixFile, DamagedDatFilesAreRefused) {
  const fs::path path = testlib::temp_dir() / "good.dat";
  write_imatrix_dat(sample_imatrix(), path.string());
  const std::vector<uint8_t> good = testlib::read_file_bytes(path);
  ASSERT_NO_THROW(read_imatrix(path.string()));
  // Cut anywhere inside the entries or the trailer (the trailer as a whole may be missing: older files).
  const size_t entries_end = good.size() - 8 - std::string("calibration.txt").size();
  for (size_t cut : {size_t{0}, size_t{2}, size_t{5}, size_t{30}, entries_end - 1, entries_end + 3, good.size() - 1}) {
    expect_refused(std::vector<uint8_t>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut)),
                   fmt::format("cut at {}", cut));
  }
  std::vector<uint8_t> b = good;
  put_i32(b, 0, 1000000);  // more entries than the file holds
  expect_refused(b, "entry count");
  b = good;
  put_i32(b, 0, -1);
  expect_refused(b, "negative entry count");
  b = good;
  put_i32(b, 4, 0x7fffffff);  // first name length
  expect_refused(b, "name length");
  const size_t name_len = std::string("blk.0.attn_q.weight").size();
  b = good;
  put_i32(b, 8 + name_len + 4, 1 << 30);  // nval
  expect_refused(b, "value count");
  b = good;
  const float nan = std::nanf("");
  std::memcpy(b.data() + 8 + name_len + 8, &nan, 4);
  expect_refused(b, "NaN value");
  b = good;
  b.push_back(0);
  expect_refused(b, "trailing byte");
}

TEST(ImatrixFile, DamagedGgufFilesAreRefused) {
  const Imatrix m = sample_imatrix();
  const fs::path path = testlib::temp_dir() / "good.gguf";
  write_imatrix_gguf(m, path.string());
  const std::vector<uint8_t> good = testlib::read_file_bytes(path);
  // (the writer may pad the end to the alignment, so the last cut is a whole alignment into the data)
  for (size_t cut : {size_t{4}, size_t{40}, good.size() / 2, good.size() - 40}) {
    expect_refused(std::vector<uint8_t>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut)),
                   fmt::format("cut at {}", cut));
  }
  // Structurally valid GGUF files with the wrong content.
  auto write_with = [&](const std::function<void(GgufWriter&, std::vector<float>&)>& fill) {
    GgufWriter w;
    w.set("general.type", GgufValue::string("imatrix"));
    std::vector<float> data(16, 1.0f);
    fill(w, data);
    w.write(path.string());
    return testlib::read_file_bytes(path);
  };
  auto span = [](const std::vector<float>& v, size_t n) {
    return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(v.data()), n * sizeof(float));
  };
  expect_refused(write_with([&](GgufWriter& w, std::vector<float>& d) {
                   w.add_tensor("a.in_sum2", GgmlType::kF32, {4, 2}, span(d, 8));
                 }),
                 "sums without counts");
  expect_refused(write_with([&](GgufWriter& w, std::vector<float>& d) {
                   w.add_tensor("a.in_sum2", GgmlType::kF32, {4, 2}, span(d, 8));
                   w.add_tensor("a.counts", GgmlType::kF32, {1, 3}, span(d, 3));
                 }),
                 "counts of another matrix count");
  expect_refused(write_with([&](GgufWriter& w, std::vector<float>& d) {
                   d[2] = -1.0f;
                   w.add_tensor("a.in_sum2", GgmlType::kF32, {4, 1}, span(d, 4));
                   w.add_tensor("a.counts", GgmlType::kF32, {1, 1}, span(d, 1));
                 }),
                 "negative sum");
  expect_refused(write_with([&](GgufWriter& w, std::vector<float>& d) {
                   w.add_tensor("a.weight", GgmlType::kF32, {4, 1}, span(d, 4));
                 }),
                 "a tensor that is not imatrix data");
  expect_refused(write_with([&](GgufWriter& w, std::vector<float>&) {
                   w.set("general.type", GgufValue::string("model"));
                 }),
                 "general.type of a model");
}

TEST(QuantizeWithImatrix, WrongImportanceSizeNamesTheTensor) {
  const GgufSet file = GgufSet::open(bundled_model().string());
  const QuantizePlan plan = quantize_plan(quantize_plan_inputs(file), QuantModelInfo::from_metadata(file.metadata()),
                                          QuantizePlanOptions{.mix = find_quant_mix("Q4_K_M")});
  ImportanceMap importance{{"blk.0.attn_q.weight", std::vector<float>(7, 1.0f)}};
  try {
    check_quantize_plan(plan, QuantizeModelOptions{.importance = &importance});
    FAIL() << "a wrong size was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.tensor_context().value_or(""), "blk.0.attn_q.weight");
  }
  const std::vector<std::string> missing = tensors_without_importance(plan, importance);
  EXPECT_FALSE(missing.empty());
  EXPECT_EQ(std::count(missing.begin(), missing.end(), "blk.0.attn_q.weight"), 0);
}

}  // namespace
}  // namespace r1
