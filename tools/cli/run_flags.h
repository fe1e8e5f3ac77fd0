// The model and sampling flags shared by `r1 run` and later commands (llama.cpp's spellings).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "r1/r1.h"

namespace r1::cli {

// llama.cpp's multi-letter single-dash spellings, which CLI11 cannot declare; main() rewrites them.
inline constexpr std::pair<const char*, const char*> kSingleDashAliases[] = {
    {"-sys", "--system-prompt"}, {"-ctk", "--cache-type-k"}, {"-ctv", "--cache-type-v"}};

struct ModelFlags {
  int threads = 0;
  int ctx_size = 0;
  int n_predict = -1;
  float temp = 0.6f;
  float top_p = 0.95f;
  int top_k = 40;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  uint64_t seed = 0xD5EED5EEull;
  std::string system_prompt;
  std::string cache_type_k = "f16";
  std::string cache_type_v = "f16";
  bool mlock = false;
  bool mmap = false;
  bool no_mmap = false;
  std::string numa = "off";
  std::string repack = "auto";
  std::string kernels = "auto";
  std::string fit = "auto";
  bool context_shift = false;
  int keep = 0;
  std::vector<std::string> stop;
  std::vector<std::string> override_kv;

  void add_to(CLI::App* cmd) {
    cmd->add_option("-t,--threads", threads, "CPU threads (default: physical cores)");
    cmd->add_option("-c,--ctx-size", ctx_size, "Context size (default: training context capped by free memory)");
    cmd->add_option("-n,--n-predict", n_predict, "Maximum tokens to generate (-1: no limit)");
    cmd->add_option("--temp", temp, "Temperature (0: greedy)");
    cmd->add_option("--top-p", top_p, "Top-p (nucleus) sampling");
    cmd->add_option("--top-k", top_k, "Top-k sampling (0: off)");
    cmd->add_option("--min-p", min_p, "Min-p sampling (0: off)");
    cmd->add_option("--repeat-penalty", repeat_penalty, "Repetition penalty (1: off)");
    cmd->add_option("-s,--seed", seed, "Random seed (same seed, same text)");
    cmd->add_option("--system-prompt", system_prompt, "System prompt (R1 recommends none)");
    cmd->add_option("--cache-type-k", cache_type_k, "KV cache type for K: f32, f16, q8_0")
        ->check(CLI::IsMember({"f32", "f16", "q8_0"}));
    cmd->add_option("--cache-type-v", cache_type_v, "KV cache type for V: f32, f16, q8_0")
        ->check(CLI::IsMember({"f32", "f16", "q8_0"}));
    cmd->add_flag("--mlock", mlock, "Lock the model in RAM");
    auto* map = cmd->add_flag("--mmap", mmap,
                              "Map the weights from the page cache (zero-copy; the default copies them into RAM "
                              "when they fit with room to spare, which decodes faster)");
    cmd->add_flag("--no-mmap", no_mmap, "Copy the weights into RAM (huge pages) even when memory is tight")->excludes(map);
    cmd->add_option("--numa", numa,
                    "NUMA placement: distribute (threads spread over the nodes) or isolate (the starting node)")
        ->check(CLI::IsMember({"distribute", "isolate", "off"}));
    cmd->add_option("--repack", repack,
                    "Prompt weight rows packed at load: auto (types measured to gain, when it fits), on, off")
        ->check(CLI::IsMember({"auto", "on", "off"}));
    cmd->add_option("--kernels", kernels, "CPU kernels: auto, avx512, avx2, scalar, or reference (as r1 bench)")
        ->check(CLI::IsMember({"auto", "avx512", "avx2", "scalar", "reference"}));
    cmd->add_option("--fit", fit,
                    "Plan where the model goes and how fast it runs, and print it before loading: on (--fit alone), "
                    "off, auto (on when a GPU is present)")
        ->expected(0, 1)
        ->default_str("on")
        ->check(CLI::IsMember({"on", "off", "auto"}));
    cmd->add_flag("--context-shift", context_shift,
                  "When the context is full, drop the older half of it (after --keep tokens) and go on");
    cmd->add_option("--keep", keep, "With --context-shift: tokens kept from the start (BOS always; at most half)");
    cmd->add_option("--stop", stop, "Stop string (repeatable)");
    cmd->add_option("--override-kv", override_kv, "Override model metadata: KEY=TYPE:VALUE, TYPE int|float|bool|str");
  }

  EngineOptions engine_options(const std::string& model, int verbosity) const {
    EngineOptions o;
    o.model = model;
    o.threads = threads;
    o.context = ctx_size;
    o.cache_type_k = cache_type_k;
    o.cache_type_v = cache_type_v;
    o.weights = mmap ? "map" : no_mmap ? "copy" : "auto";
    o.mlock = mlock;
    o.numa = numa;
    o.repack = repack;
    o.kernels = kernels;
    o.override_kv = override_kv;
    o.verbosity = verbosity;
    return o;
  }

  GenerateOptions generate_options(bool thinking) const {
    GenerateOptions g;
    g.max_tokens = n_predict;
    g.stop = stop;
    g.thinking = thinking;
    g.context_shift = context_shift;
    g.n_keep = keep;
    g.sampling.temperature = temp;
    g.sampling.top_p = top_p;
    g.sampling.top_k = top_k;
    g.sampling.min_p = min_p;
    g.sampling.repeat_penalty = repeat_penalty;
    g.sampling.seed = seed;
    return g;
  }
};

}  // namespace r1::cli
