// r1's public C++ API: load a model once (Engine), talk to it through Sessions that each own a sequence
// slot of the KV cache, stream generated text as reasoning or content, cancel from another thread.
// Everything a file, an option or a request can get wrong is reported as r1::Error (see error.h in src/core;
// its what() is one line naming the file, tensor or key). The command line and the server use only this.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace r1 {

struct EngineOptions {
  std::string model;                 // path to a .gguf file (any part of a split set)
  int threads = 0;                   // 0: one per physical core
  int context = 0;                   // positions per session; 0: the training context capped by free memory
  int max_sessions = 1;              // sequence slots in the KV cache
  std::string cache_type_k = "f16";  // f32, f16 or q8_0
  std::string cache_type_v = "f16";
  bool flash_attention = true;
  std::string kernels = "auto";      // CPU kernel ISA: auto, avx512, avx2, scalar, or reference (the oracle)
  std::string repack = "auto";       // prompt weight rows packed at load: auto (where it pays and fits), on, off
  std::string weights = "auto";      // where the weights live: auto, map (the page cache) or copy (anonymous
                                     // memory, huge pages); see Residency in src/core/mapped_file.h
  bool mlock = false;                // lock the weights in RAM
  std::string numa = "off";          // off, distribute (threads spread over the NUMA nodes) or isolate (one node)
  std::vector<std::string> override_kv;  // metadata overrides, llama.cpp syntax: KEY=TYPE:VALUE
  int verbosity = 0;                 // log level: 0 warnings, 1 info, 2 debug
};

struct SamplingOptions {
  float temperature = 0.6f;  // DeepSeek's recommended setting for R1 models
  int top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  int repeat_last_n = 64;
  float frequency_penalty = 0.0f;
  float presence_penalty = 0.0f;
  uint64_t seed = 0xD5EE'D5EEull;
};

struct GenerateOptions {
  int max_tokens = -1;              // -1: until end of sequence or a full context
  std::vector<std::string> stop;    // stop strings (not included in the reply)
  SamplingOptions sampling;
  bool thinking = true;             // chat templates that can switch reasoning off get enable_thinking=false
  // When the context is full: false stops with stop_reason "context"; true shifts it as llama.cpp's
  // --context-shift does: keep the first n_keep tokens (at least the BOS token, at most half the context), drop
  // the older half of the rest, and re-evaluate what follows the kept prefix at its new positions, then go on.
  bool context_shift = false;
  int n_keep = 0;
};

enum class TextKind { kReasoning, kContent };

struct TextEvent {
  std::string_view text;  // a complete UTF-8 piece
  TextKind kind;
};
using StreamCallback = std::function<void(const TextEvent&)>;

struct Message {
  std::string role;       // "system", "user" or "assistant"
  std::string content;
  std::string reasoning;  // assistant turns: the <think> part (templates drop it from past turns)
};

struct GenerationStats {
  int prompt_tokens = 0;      // tokens evaluated for this turn (after reusing the cached prefix)
  int cached_tokens = 0;      // prompt tokens reused from the cache
  int generated_tokens = 0;
  double prompt_seconds = 0.0;
  double generation_seconds = 0.0;
  std::string stop_reason;    // "eos", "stop", "length", "cancelled", "context"
  int context_shifts = 0;     // times the full context was shifted (GenerateOptions::context_shift)
};

struct Reply {
  std::string reasoning;
  std::string content;
  GenerationStats stats;
};

struct ModelDescription {
  std::string path;
  std::string architecture;
  std::string name;
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;
  int context = 0;               // the context this engine runs with
  uint64_t file_bytes = 0;
  uint64_t kv_bytes_per_token = 0;  // KV-cache bytes per token of context, all layers (MLA: the latent cache)
  std::string kv_cache_layout;     // how: "MLA latent 512 + rope 64 values (F16) x 61 layers", "K 256 (F16) + ..."
  std::string kernel_isa;        // "avx2", "scalar", ...
  int threads = 0;
  std::string repack;            // what --repack did: "repacked 197 matrices (1.95 GiB) for prompts in 412 ms", ...
};

class Session {
 public:
  virtual ~Session() = default;
  virtual void set_system_prompt(std::string text) = 0;
  // Adds a user turn, renders the model's chat template (thinking on), reuses the cached prefix of the
  // conversation, and generates the assistant turn.
  virtual Reply chat(const std::string& user_message, const GenerateOptions& options,
                     const StreamCallback& on_text = {}) = 0;
  // Continues raw text with no template (special tokens in prompt are parsed).
  virtual Reply complete(const std::string& prompt, const GenerateOptions& options,
                         const StreamCallback& on_text = {}) = 0;
  // Safe to call from any thread (e.g. a signal handler's watcher): the current generation stops soon.
  virtual void cancel() = 0;
  virtual void clear() = 0;  // forgets the conversation and its cache
  virtual const std::vector<Message>& messages() const = 0;
};

class Engine {
 public:
  virtual ~Engine() = default;
  static std::unique_ptr<Engine> load(const EngineOptions& options);

  virtual const ModelDescription& model() const = 0;
  // Each session owns one of the max_sessions cache slots; an error when all are taken.
  virtual std::unique_ptr<Session> new_session() = 0;
  virtual std::vector<int32_t> tokenize(std::string_view text, bool parse_special, bool add_bos) const = 0;
  virtual std::string detokenize(const std::vector<int32_t>& tokens) const = 0;
  // Logits of every position of a token sequence, [tokens.size(), n_vocab] row-major (uses a free slot).
  virtual std::vector<float> logits(const std::vector<int32_t>& tokens) = 0;
};

}  // namespace r1
