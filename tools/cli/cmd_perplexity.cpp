// `r1 perplexity -m MODEL -f TEXT [-c 512] [--chunks N] [--save-logits FILE | --kld-base FILE] [--json]`:
// perplexity over chunks of the text as llama.cpp's perplexity tool computes it, and against a saved reference
// run (of the same text with another model, typically the F16 or BF16 file) the KL divergence, top-1 agreement
// and Δp statistics llama.cpp reports. The arithmetic is in src/tools/perplexity.h.
#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "error.h"
#include "perplexity.h"
#include "r1/r1.h"
#include "text_file.h"

namespace r1::cli {
namespace {

struct PerplexityArgs {
  std::string model;
  std::string text_file;
  int n_ctx = 512;
  int chunks = -1;
  std::string save_logits;
  std::string kld_base;
  int threads = 0;
  bool json = false;
};

nlohmann::json percentiles_json(const Percentiles& p) {
  return {{"max", p.max}, {"99.9%", p.p99_9}, {"99%", p.p99}, {"95%", p.p95}, {"90%", p.p90}, {"75%", p.p75},
          {"median", p.median}, {"25%", p.p25}, {"10%", p.p10}, {"5%", p.p5}, {"1%", p.p1}, {"0.1%", p.p0_1},
          {"min", p.min}};
}

void print_summary(const QualitySummary& s) {
  std::printf("\nFinal estimate: PPL = %.4f +/- %.5f over %zu positions\n", s.ppl, s.ppl_err, s.positions);
  if (!s.has_base) return;
  std::printf("PPL(base)            %10.4f\n", s.ppl_base);
  std::printf("ln(PPL/PPL(base))    %10.6f +/- %.6f\n", s.ln_ppl_ratio, s.ln_ppl_ratio_err);
  std::printf("Mean KLD             %10.6f +/- %.6f\n", s.kld, s.kld_err);
  const Percentiles& k = s.kld_pct;
  std::printf("KLD max %.6f, 99.9%% %.6f, 99%% %.6f, 95%% %.6f, 90%% %.6f, median %.6f, 10%% %.6f, 1%% %.6f, min %.6f\n",
              k.max, k.p99_9, k.p99, k.p95, k.p90, k.median, k.p10, k.p1, k.min);
  std::printf("Mean dp              %9.4f%% +/- %.4f%%\n", 100 * s.dp, 100 * s.dp_err);
  std::printf("RMS dp               %9.4f%%\n", 100 * s.dp_rms);
  const Percentiles& d = s.dp_pct;
  std::printf("dp max %.3f%%, 99%% %.3f%%, 95%% %.3f%%, 75%% %.3f%%, median %.3f%%, 25%% %.3f%%, 5%% %.3f%%, 1%% %.3f%%, "
              "min %.3f%%\n",
              100 * d.max, 100 * d.p99, 100 * d.p95, 100 * d.p75, 100 * d.median, 100 * d.p25, 100 * d.p5,
              100 * d.p1, 100 * d.min);
  std::printf("Same top p           %9.3f%% +/- %.3f%%\n", 100 * s.same_top, 100 * s.same_top_err);
}

nlohmann::json summary_json(const QualitySummary& s, int n_ctx, int chunks) {
  nlohmann::json j = {{"n_ctx", n_ctx}, {"chunks", chunks}, {"positions", s.positions}, {"ppl", s.ppl},
                      {"ppl_err", s.ppl_err}};
  if (s.has_base) {
    j["ppl_base"] = s.ppl_base;
    j["ln_ppl_ratio"] = s.ln_ppl_ratio;
    j["ln_ppl_ratio_err"] = s.ln_ppl_ratio_err;
    j["kld"] = s.kld;
    j["kld_err"] = s.kld_err;
    j["kld_percentiles"] = percentiles_json(s.kld_pct);
    j["dp"] = s.dp;
    j["dp_err"] = s.dp_err;
    j["dp_rms"] = s.dp_rms;
    j["dp_percentiles"] = percentiles_json(s.dp_pct);
    j["same_top"] = s.same_top;
    j["same_top_err"] = s.same_top_err;
  }
  return j;
}

int run_perplexity(const PerplexityArgs& args, CliContext& ctx) {
  if (args.n_ctx < 4) throw Error(fmt::format("-c {} is too small (at least 4)", args.n_ctx));
  std::unique_ptr<ReferenceLogitsReader> base;
  if (!args.kld_base.empty()) base = std::make_unique<ReferenceLogitsReader>(args.kld_base);
  EngineOptions o;
  o.model = args.model;
  o.threads = args.threads;
  o.context = args.n_ctx;
  o.verbosity = ctx.verbosity;
  auto engine = Engine::load(o);
  const int64_t n_vocab = engine->model().n_vocab;
  // As llama.cpp: the whole text tokenized once (BOS as the model says, special tokens not parsed), then each
  // chunk's first token replaced by BOS when the model adds one.
  const std::vector<int32_t> tokens = engine->tokenize(read_text_file(args.text_file), false, true);
  const std::vector<int32_t> bos = engine->tokenize("", false, true);
  const size_t n_ctx = static_cast<size_t>(args.n_ctx);
  int n_chunks = perplexity_chunk_count(tokens.size(), args.n_ctx, args.chunks, args.text_file);
  if (base) {
    if (base->n_ctx() != args.n_ctx || base->n_vocab() != n_vocab) {
      throw Error(fmt::format("the reference run has context {} and vocabulary {}; this run has {} and {}",
                              base->n_ctx(), base->n_vocab(), args.n_ctx, n_vocab))
          .file(args.kld_base);
    }
    n_chunks = std::min(n_chunks, base->n_chunks());
    for (size_t i = 0; i < static_cast<size_t>(n_chunks) * n_ctx; ++i) {
      if (base->tokens()[i] != tokens[i]) {
        throw Error(fmt::format("the reference run saw different tokens (position {}): another text or tokenizer",
                                i))
            .file(args.kld_base);
      }
    }
  }
  std::unique_ptr<ReferenceLogitsWriter> writer;
  if (!args.save_logits.empty()) {
    writer = std::make_unique<ReferenceLogitsWriter>(
        args.save_logits, args.n_ctx, n_vocab,
        std::vector<int32_t>(tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(n_chunks * n_ctx)));
  }
  if (!args.json) {
    std::printf("perplexity: %d chunks of %d tokens, %zu tokens in the text\n", n_chunks, args.n_ctx, tokens.size());
  }

  QualityAccumulator acc;
  const int first = perplexity_first_scored(args.n_ctx);
  std::vector<float> logprobs, base_row;
  uint64_t row = 0;
  for (int c = 0; c < n_chunks; ++c) {
    const std::vector<int32_t> chunk =
        perplexity_chunk(tokens, args.n_ctx, c, bos.empty() ? std::nullopt : std::optional<int32_t>(bos[0]));
    const std::vector<float> logits = engine->logits(chunk);
    for (int i = first; i < args.n_ctx - 1; ++i) {
      log_softmax(logits.data() + static_cast<size_t>(i) * static_cast<size_t>(n_vocab), n_vocab, logprobs);
      if (base) base->row(row, base_row);
      acc.add(logprobs.data(), n_vocab, chunk[static_cast<size_t>(i) + 1], base ? base_row.data() : nullptr);
      if (writer) writer->add_row(logprobs.data());
      ++row;
    }
    if (!args.json) {
      std::printf("[%d]%.4f,", c + 1, acc.running_ppl());
      std::fflush(stdout);
    }
  }
  if (writer) writer->commit();
  const QualitySummary s = acc.summary();
  if (args.json) {
    std::printf("%s\n", summary_json(s, args.n_ctx, n_chunks).dump(2).c_str());
  } else {
    print_summary(s);
    if (writer) std::printf("reference logits saved to %s\n", args.save_logits.c_str());
  }
  return 0;
}

}  // namespace

void add_perplexity_command(CLI::App& app, Action* action) {
  auto args = std::make_shared<PerplexityArgs>();
  CLI::App* cmd = app.add_subcommand(
      "perplexity", "Perplexity of a text, and KL divergence / top-1 agreement against a saved reference run");
  cmd->add_option("-m,--model", args->model, "GGUF model file")->required();
  cmd->add_option("-f,--file", args->text_file, "Text file")->required();
  cmd->add_option("-c,--ctx-size", args->n_ctx, "Tokens per chunk (llama.cpp's -c; default 512)");
  cmd->add_option("--chunks", args->chunks, "Use at most this many chunks");
  auto* save = cmd->add_option("--save-logits", args->save_logits,
                               "Save this run's log-probabilities as the reference for --kld-base");
  auto* kld = cmd->add_option("--kld-base", args->kld_base, "Compare against a reference run saved by --save-logits");
  save->excludes(kld);
  cmd->add_option("-t,--threads", args->threads, "CPU threads");
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->callback([args, action] { *action = [args](CliContext& ctx) { return run_perplexity(*args, ctx); }; });
}

}  // namespace r1::cli
