// `r1 synth --like NAME --type TYPE [--layers N] [--experts E] [--seed S] [--dry-run] [OUT.gguf]`: a random-weight
// GGUF with the real shapes of an R1 family member. Planning and writing are src/tools/synth_model.h's.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "commands.h"
#include "error.h"
#include "quantize_progress.h"
#include "synth_model.h"
#include "thread_pool.h"

namespace r1::cli {
namespace {

struct SynthArgs {
  SynthOptions synth;
  std::string out;
  int threads = 0;
  bool dry_run = false;
  bool summary = false;
};

int run_synth(const SynthArgs& a, CliContext& ctx) {
  const SynthPlan plan = plan_synth(a.synth);
  if (a.dry_run) {
    const std::string text = format_synth_plan(plan, !a.summary);
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  }
  if (a.out.empty()) throw Error("missing the output file: r1 synth --like NAME --type TYPE OUT.gguf (or --dry-run)");
  if (plan.quant.n_requires_imatrix > 0) {
    ctx.log.warn("{} tensors get types llama.cpp writes only with an importance matrix; synth encodes them with "
                 "uniform weights (fine for speed measurements)",
                 plan.quant.n_requires_imatrix);
  }
  ThreadPool pool(a.threads);
  ProgressBar bar("synth", plan.quant.dst_bytes);
  SynthWriteOptions options{.pool = &pool};
  options.on_progress = [&bar](const QuantizeProgress& p) {
    bar.update(p.bytes_done, fmt::format("[{}/{}] {}", p.tensor_index + 1, p.n_tensors, *p.tensor_name));
  };
  ctx.log.info("writing {} tensors with {} threads", plan.quant.tensors.size(), pool.size());
  const auto start = std::chrono::steady_clock::now();
  write_synth(plan, a.out, options);
  bar.finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fputs(format_synth_plan(plan, false).c_str(), stdout);
  std::printf("wrote %s in %.1f s\n", a.out.c_str(), seconds);
  return 0;
}

}  // namespace

void add_synth_command(CLI::App& app, Action* action) {
  auto args = std::make_shared<SynthArgs>();
  CLI::App* cmd = app.add_subcommand(
      "synth", "Write a random-weight GGUF with the real shapes of an R1 model (for speed, memory and plan checks)");
  cmd->add_option("out", args->out, "Output GGUF file (not needed with --dry-run)");
  cmd->add_option("--like", args->synth.like,
                  "Model: r1-distill-qwen-1.5b, -7b, -14b, -32b, r1-distill-llama-8b, -70b, deepseek-r1 (or a "
                  "store name such as deepseek-r1:7b)")
      ->required();
  cmd->add_option("--type", args->synth.type,
                  "A mix (Q4_K_M, Q8_0, ...), an R1 recipe (r1-1.58bit, ...) or one type for every weight (Q4_K, "
                  "IQ4_XS, F16, ...)")
      ->required();
  cmd->add_option("--layers", args->synth.n_layer, "Keep only the first N layers (default: all)")->check(CLI::PositiveNumber);
  cmd->add_option("--experts", args->synth.n_expert, "Keep E routed experts per MoE layer (8 stay used per token when E >= 8)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", args->synth.seed, "Random seed (same seed, same file)");
  cmd->add_option("-t,--threads", args->threads, "Threads (default: all cores)");
  cmd->add_flag("--dry-run", args->dry_run, "Print the tensors and sizes without writing anything");
  cmd->add_flag("--summary", args->summary, "With --dry-run: totals only, no per-tensor lines");
  cmd->callback([args, action] { *action = [args](CliContext& ctx) { return run_synth(*args, ctx); }; });
}

}  // namespace r1::cli
