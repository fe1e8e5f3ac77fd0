// Golden loading (JSON metadata + raw float32 logits) and the logit comparison metric.
#include "golden.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "cpu_features.h"
#include "cpu_kernels.h"
#include "fixtures.h"
#include "model.h"
#include "model_weights.h"

namespace r1::testlib {

namespace {
std::vector<float> read_floats(const std::filesystem::path& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  std::vector<float> out(bytes.size() / sizeof(float));
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(float));
  return out;
}
}  // namespace

Golden load_golden(const std::filesystem::path& dir, const std::string& prompt) {
  std::ifstream in(dir / (prompt + ".json"));
  if (!in) throw std::runtime_error("missing golden " + (dir / (prompt + ".json")).string());
  const nlohmann::json j = nlohmann::json::parse(in);
  Golden g;
  g.ids = j[j["evaluated_ids"].get<std::string>()].get<std::vector<int32_t>>();
  g.n_vocab = j["n_vocab"].get<int64_t>();
  g.margins = j["logits_top1_margin"].get<std::vector<float>>();
  g.greedy_ids = j["greedy_ids"].get<std::vector<int32_t>>();
  g.gen_margins = j["greedy_step_top1_margin"].get<std::vector<float>>();
  g.logits = read_floats(dir / j["logits_file"].get<std::string>());
  g.gen_logits = read_floats(dir / j["greedy_step_logits_file"].get<std::string>());
  if (g.logits.size() != g.ids.size() * static_cast<size_t>(g.n_vocab)) throw std::runtime_error("golden logits size");
  return g;
}

std::filesystem::path model_path(const std::filesystem::path& fixtures, const std::string& stem) {
  const auto plain = fixtures / "models" / (stem + ".gguf");
  if (std::filesystem::exists(plain)) return plain;
  return gunzip_to_temp(fixtures / "models" / (stem + ".gguf.gz"));
}

std::vector<std::unique_ptr<CpuKernels>> kernel_sets_to_test() {
  std::vector<std::unique_ptr<CpuKernels>> sets;
  sets.push_back(nullptr);
  for (CpuIsa isa : CpuKernels::available(detect_cpu_features())) {
    sets.push_back(std::make_unique<CpuKernels>(CpuKernels::for_isa(isa)));
  }
  return sets;
}

std::vector<BackendUnderTest> backends_to_test(const GgufSet& file, ThreadPool& pool) {
  std::vector<BackendUnderTest> out;
  for (auto& kernels : kernel_sets_to_test()) {
    const bool isa = kernels != nullptr;
    BackendUnderTest plain;
    plain.label = isa ? std::string(kernels->isa_name()) : "reference";
    plain.backend = std::make_unique<CpuBackend>(&pool, kernels.get());
    plain.kernels = std::move(kernels);
    out.push_back(std::move(plain));
    if (!isa) continue;
    BackendUnderTest repacked;
    repacked.label = out.back().label + " repacked";
    repacked.kernels = std::make_unique<CpuKernels>(*out.back().kernels);
    repacked.backend = std::make_unique<CpuBackend>(&pool, repacked.kernels.get());
    if (!repacked.backend->repack(file_matrices(file), RepackMode::kOn, RepackBudget{}).packed) continue;
    out.push_back(std::move(repacked));
  }
  return out;
}

std::vector<float> run_stepwise(Model& model, const std::vector<int32_t>& ids, int seq, int32_t first_pos) {
  std::vector<float> logits;
  for (size_t i = 0; i < ids.size(); ++i) {
    Batch one;
    one.add(ids[i], first_pos + static_cast<int32_t>(i), seq, true);
    std::vector<float> step(static_cast<size_t>(model.info().n_vocab));
    model.forward(one, step);
    logits.insert(logits.end(), step.begin(), step.end());
  }
  return logits;
}

std::vector<float> run_prompt(Model& model, const std::vector<int32_t>& ids, int seq) {
  Batch b;
  for (size_t i = 0; i < ids.size(); ++i) b.add(ids[i], static_cast<int32_t>(i), seq, true);
  std::vector<float> logits(ids.size() * static_cast<size_t>(model.info().n_vocab));
  model.forward(b, logits);
  return logits;
}

double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0.0, ref = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, static_cast<double>(std::fabs(a[i] - b[i])));
    ref = std::max(ref, static_cast<double>(std::fabs(b[i])));
  }
  return diff / ref;
}

LogitComparison compare_logits(const std::vector<float>& got, const std::vector<float>& want,
                               const std::vector<float>& margins, int64_t n_vocab, float min_margin) {
  LogitComparison c;
  const size_t n = want.size() / static_cast<size_t>(n_vocab);
  double sum_sq = 0.0;
  for (size_t p = 0; p < n; ++p) {
    const float* a = got.data() + p * n_vocab;
    const float* b = want.data() + p * n_vocab;
    double diff = 0.0, ref = 0.0;
    for (int64_t i = 0; i < n_vocab; ++i) {
      diff += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
      ref += static_cast<double>(b[i]) * b[i];
    }
    const double rel = std::sqrt(diff / std::max(ref, 1e-30));
    sum_sq += rel * rel;
    c.worst = std::max(c.worst, rel);
    if (p < margins.size() && margins[p] > min_margin) {
      const auto amax_a = std::max_element(a, a + n_vocab) - a;
      const auto amax_b = std::max_element(b, b + n_vocab) - b;
      if (amax_a != amax_b) ++c.argmax_mismatches;
    }
  }
  c.combined = std::sqrt(sum_sq / static_cast<double>(std::max<size_t>(n, 1)));
  return c;
}

}  // namespace r1::testlib
