// `r1 eval -m MODEL --dataset FILE.jsonl [--samples K] [--temp T] [--json]`: answer accuracy on a problem set.
// Each problem goes through the chat template in a fresh conversation, is sampled K times with R1's settings
// (temperature 0.6, top-p 0.95 unless told otherwise), and is scored by its final answer (the last \boxed{},
// else the last number) after normalization. Pass@1 is the mean over all samples.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "error.h"
#include "eval_answers.h"
#include "model_fit.h"
#include "quantize_progress.h"
#include "r1/r1.h"
#include "run_flags.h"

namespace r1::cli {
namespace {

struct EvalArgs {
  std::string model;
  std::string dataset;
  int samples = 1;
  int limit = 0;
  bool json = false;
  bool show = false;
  ModelFlags flags;
};

struct ItemResult {
  std::vector<std::string> predictions;  // "" where no answer was found
  int correct = 0;
  int stopped_early = 0;  // samples cut by the token limit or the context
};

int run_eval(const EvalArgs& args, CliContext& ctx) {
  std::vector<EvalItem> items = read_eval_dataset(args.dataset);
  if (args.limit > 0 && static_cast<size_t>(args.limit) < items.size()) items.resize(args.limit);
  if (args.samples < 1) throw Error("--samples must be at least 1");
  report_fit(args.flags, args.model, ctx);
  std::unique_ptr<Engine> engine = Engine::load(args.flags.engine_options(args.model, ctx.verbosity));
  std::unique_ptr<Session> session = engine->new_session();
  if (!args.flags.system_prompt.empty()) session->set_system_prompt(args.flags.system_prompt);

  const uint64_t total = items.size() * static_cast<uint64_t>(args.samples);
  ProgressBar bar("eval", total, stderr, !args.show);
  std::vector<ItemResult> results(items.size());
  uint64_t done = 0;
  int correct = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    for (int k = 0; k < args.samples; ++k) {
      GenerateOptions options = args.flags.generate_options(true);
      options.sampling.seed = args.flags.seed + 1000003ull * k + i;  // each sample its own stream
      session->clear();
      const Reply reply = session->chat(items[i].problem, options);
      std::optional<std::string> got = extract_final_answer(reply.content);
      if (!got) got = extract_final_answer(reply.reasoning + "\n" + reply.content);
      const bool ok = got && answers_match(*got, items[i].answer);
      results[i].predictions.push_back(got.value_or(""));
      results[i].correct += ok;
      results[i].stopped_early += reply.stats.stop_reason == "length" || reply.stats.stop_reason == "context";
      correct += ok;
      ++done;
      if (args.show) {
        std::fprintf(stderr, "[%zu/%zu] %s expected %s got %s\n", i + 1, items.size(), ok ? "ok  " : "FAIL",
                     items[i].answer.c_str(), got ? got->c_str() : "(none)");
      }
      bar.update(done, fmt::format("{}/{} right", correct, done));
    }
  }
  bar.finish();

  const double pass1 = static_cast<double>(correct) / static_cast<double>(total);
  if (args.json) {
    nlohmann::json out = {{"model", args.model}, {"dataset", args.dataset}, {"pass@1", pass1},
                          {"n", items.size()}, {"samples", args.samples}, {"correct", correct}};
    nlohmann::json per_item = nlohmann::json::array();
    for (size_t i = 0; i < items.size(); ++i) {
      per_item.push_back({{"index", i}, {"answer", items[i].answer}, {"predictions", results[i].predictions},
                          {"correct", results[i].correct}, {"stopped_early", results[i].stopped_early}});
    }
    out["items"] = std::move(per_item);
    std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    int cut = 0;
    for (const ItemResult& r : results) cut += r.stopped_early;
    std::printf("pass@1 %.2f%% (%d of %llu samples right; %zu problems x %d samples)%s\n", 100.0 * pass1, correct,
                static_cast<unsigned long long>(total), items.size(), args.samples,
                cut > 0 ? fmt::format("; {} samples hit the token limit or the context", cut).c_str() : "");
  }
  return 0;
}

}  // namespace

void add_eval_command(CLI::App& app, Action* action) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand("eval", "Answer accuracy (Pass@1) on a JSONL problem set");
  cmd->add_option("-m,--model", args->model, "GGUF model file")->required();
  cmd->add_option("--dataset", args->dataset, "JSONL file: one {\"problem\": ..., \"answer\": ...} per line")->required();
  cmd->add_option("--samples", args->samples, "Samples per problem; Pass@1 is their mean (default 1)");
  cmd->add_option("--limit", args->limit, "Only the first N problems");
  cmd->add_flag("--json", args->json, "One JSON object: pass@1, n, samples and per-item predictions");
  cmd->add_flag("--show", args->show, "Print each problem's result as it is scored");
  args->flags.add_to(cmd);
  cmd->callback([args, action] { *action = [args](CliContext& ctx) { return run_eval(*args, ctx); }; });
}

}  // namespace r1::cli
