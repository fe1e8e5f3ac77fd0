// Model: one loaded architecture over a GGUF file, running batches of (token, position, sequence) and
// producing logits. The architecture registry (load_model) picks the implementation from
// general.architecture. Every check of the file's keys and tensors happens at load; forward() validates the
// batch against the cache before any work and then cannot fail.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "gguf_set.h"
#include "type_table.h"

namespace r1 {

class Backend;

// One forward call's tokens. All vectors have the same length; logits[i] asks for token i's logits.
struct Batch {
  std::vector<int32_t> tokens;
  std::vector<int32_t> positions;
  std::vector<int32_t> seq_ids;
  std::vector<uint8_t> want_logits;

  void add(int32_t token, int32_t pos, int32_t seq, bool logits) {
    tokens.push_back(token);
    positions.push_back(pos);
    seq_ids.push_back(seq);
    want_logits.push_back(logits ? 1 : 0);
  }
  size_t size() const { return tokens.size(); }
  void clear() { *this = Batch{}; }
};

// A trace hook (off when empty): called with each named intermediate of a forward pass, row-major
// [n_tokens, ...]. Names follow llama.cpp's graph ("attn_norm-0", "Qcur-0", "kqv_out-1", "result_output")
// so a layer can be compared with a dump from another engine.
using TraceFn = std::function<void(const std::string& name, const float* data, size_t n)>;

// Multi-head latent attention (deepseek2) per micro-batch: kAuto picks the cheaper of the absorbed form and
// rebuilding per-head K and V (legacy files only); the others force one, for tests and benchmarks.
enum class MlaForm { kAuto, kAbsorbed, kExpanded };

struct ModelOptions {
  int n_ctx = 4096;                      // positions per sequence slot
  int n_seq = 1;                         // sequence slots in the KV cache
  GgmlType cache_type_k = GgmlType::kF16;
  GgmlType cache_type_v = GgmlType::kF16;
  bool flash_attention = true;           // llama.cpp's default on CPU ("auto" resolves to on)
  int ubatch = 512;                      // tokens per micro-batch in prefill
  MlaForm mla_form = MlaForm::kAuto;
  TraceFn trace = nullptr;
};

struct ModelInfo {
  std::string architecture;
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;
  int64_t n_layer = 0;
  int64_t n_embd = 0;
  uint64_t kv_bytes_per_token = 0;  // all layers, K and V
  // How those bytes arise, for logs: "K 256 (F16) + V 256 (F16) values x 28 layers" or, for the MLA latent cache,
  // "MLA latent 512 + rope 64 values (F16) x 61 layers".
  std::string kv_cache_layout;
};

class Model {
 public:
  virtual ~Model() = default;
  virtual const ModelInfo& info() const = 0;
  // Runs the batch; writes n_vocab logits for every token whose want_logits is set, in batch order, into
  // logits (sized count(want_logits) * n_vocab). Throws r1::Error for an invalid batch before any work.
  virtual void forward(const Batch& batch, std::span<float> logits) = 0;
  // Forgets positions >= pos of a sequence (pos 0 clears it).
  virtual void truncate_sequence(int32_t seq, int32_t pos) = 0;
  virtual int32_t sequence_length(int32_t seq) const = 0;
};

// Checks a batch against the cache before any work (token ids, sequence slots, contiguous positions, the
// context, the logits buffer); throws r1::Error naming the problem. seq_lengths[s]: positions cached in slot s.
void validate_batch(const Batch& batch, size_t logits_size, int64_t n_vocab, int n_ctx,
                    std::span<const int32_t> seq_lengths);

// Backends by layer: placement[i] runs layer i (size n_layer), plus `head` for the embedding and output.
struct Placement {
  std::vector<Backend*> layers;
  Backend* head = nullptr;
};

// Builds the model for general.architecture of the file. The set must outlive the model (weights are read
// in place from its mapping). A placement with an empty layer list runs everything on `head`.
std::unique_ptr<Model> load_model(const GgufSet& file, const ModelOptions& options, const Placement& placement);

}  // namespace r1
