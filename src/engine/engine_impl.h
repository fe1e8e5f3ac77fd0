// EngineImpl: the pieces behind r1::Engine (mapped file, thread pool, backend, model, tokenizer) and the
// slot bookkeeping sessions share. Internal to the engine layer.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backend.h"
#include "bpe_tokenizer.h"
#include "gguf_set.h"
#include "log.h"
#include "model.h"
#include "r1/r1.h"
#include "thread_pool.h"

namespace r1 {

class EngineImpl final : public Engine {
 public:
  explicit EngineImpl(const EngineOptions& options);

  const ModelDescription& model() const override { return description_; }
  std::unique_ptr<Session> new_session() override;
  std::vector<int32_t> tokenize(std::string_view text, bool parse_special, bool add_bos) const override;
  std::string detokenize(const std::vector<int32_t>& tokens) const override;
  std::vector<float> logits(const std::vector<int32_t>& tokens) override;

  // For sessions.
  Model& model_impl() { return *model_; }
  const BpeTokenizer& tokenizer() const { return *tokenizer_; }
  const Logger& log() const { return log_; }
  std::mutex& compute_mutex() { return compute_mutex_; }  // one forward pass at a time
  void release_slot(int slot);

 private:
  int acquire_slot();
  std::vector<int> numa_cpus(const std::string& mode_name, int threads);

  EngineOptions options_;
  Logger log_;
  std::unique_ptr<GgufSet> file_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<CpuKernels> kernels_;
  std::unique_ptr<CpuBackend> backend_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<BpeTokenizer> tokenizer_;
  ModelDescription description_;
  std::mutex slots_mutex_;
  std::vector<bool> slot_used_;
  std::mutex compute_mutex_;
};

}  // namespace r1
