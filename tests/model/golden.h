// Loading llama.cpp goldens (../shared/fixtures/goldens) and comparing logits against them as the issues
// define it: per position RMS(logits - golden) / RMS(golden), combined over positions as a root mean square.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "backend.h"
#include "gguf_set.h"

namespace r1 {
class Model;
class ThreadPool;
}

namespace r1::testlib {

struct Golden {
  std::vector<int32_t> ids;              // evaluated prompt ids
  std::vector<float> logits;             // [n_tokens, n_vocab]
  std::vector<float> margins;            // top-1 margin per prompt position
  std::vector<int32_t> greedy_ids;       // 16 greedy continuation tokens
  std::vector<float> gen_logits;         // [16, n_vocab], after feeding greedy_ids[k]
  std::vector<float> gen_margins;
  int64_t n_vocab = 0;
};

Golden load_golden(const std::filesystem::path& dir, const std::string& prompt);

struct LogitComparison {
  double combined = 0.0;      // RMS over positions of the per-position relative RMS difference
  double worst = 0.0;         // largest per-position relative difference
  int argmax_mismatches = 0;  // positions whose argmax differs where the golden margin exceeds min_margin
};

// A fixture model by file stem: models/STEM.gguf, or models/STEM.gguf.gz decompressed once into temp_dir().
std::filesystem::path model_path(const std::filesystem::path& fixtures, const std::string& stem);
// Logits of every position of ids run as one batch on sequence seq: [ids.size(), n_vocab].
std::vector<float> run_prompt(Model& model, const std::vector<int32_t>& ids, int seq = 0);
// The kernels every golden runs under: null first (the reference kernels), then each kernel ISA this CPU runs
// (scalar included).
std::vector<std::unique_ptr<CpuKernels>> kernel_sets_to_test();

// A CPU backend over one of kernel_sets_to_test(), on the file's weights as they are or packed at load.
struct BackendUnderTest {
  std::string label;  // "reference", "avx2", "avx512 repacked", ...
  std::unique_ptr<CpuKernels> kernels;
  std::unique_ptr<CpuBackend> backend;
};
// Every kernel set of kernel_sets_to_test(), then again each whose ISA packs some of file's matrices, with those
// packed at load (--repack on).
std::vector<BackendUnderTest> backends_to_test(const GgufSet& file, ThreadPool& pool);

// The same tokens one forward call each (decoding through the cache), from position first_pos: the logits of
// every step, [ids.size(), n_vocab].
std::vector<float> run_stepwise(Model& model, const std::vector<int32_t>& ids, int seq = 0, int32_t first_pos = 0);
// max |a - b| / max |b|: for comparisons that must agree to rounding.
double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b);

LogitComparison compare_logits(const std::vector<float>& got, const std::vector<float>& want,
                               const std::vector<float>& margins, int64_t n_vocab, float min_margin = 0.05f);

}  // namespace r1::testlib
