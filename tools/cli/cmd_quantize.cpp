// `r1 quantize IN.gguf OUT.gguf TYPE [--recipe NAME] [--tensor-type REGEX=TYPE ...] [--imatrix FILE] [--threads N] [--dry-run]`
// and `r1 quantize --dry-run --like deepseek-r1 --recipe NAME`: parse flags, plan, print or write.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "error.h"
#include "gguf_set.h"
#include "imatrix_file.h"
#include "quant_row.h"
#include "quantize_model.h"
#include "quantize_plan.h"
#include "quantize_progress.h"
#include "quantize_recipes.h"
#include "thread_pool.h"

namespace r1::cli {

namespace {

struct QuantizeArgs {
  std::vector<std::string> positional;  // IN [OUT] [TYPE]
  std::string recipe;
  std::vector<std::string> tensor_types;
  std::string output_tensor_type;
  std::string token_embedding_type;
  std::string like;
  std::string imatrix;
  int threads = 0;
  bool dry_run = false;
  bool summary = false;
  bool pure = false;
  bool leave_output = false;
  bool allow_requantize = false;
};

GgmlType parse_type_flag(const std::string& flag, const std::string& name) {
  const TypeInfo* info = find_type_by_name(name);
  if (info == nullptr) {
    throw Error(fmt::format("{} '{}': unknown tensor type (types are named as llama.cpp names them: Q4_K, Q6_K, "
                            "Q8_0, IQ2_XXS, F16, ...)", flag, name));
  }
  return info->type;
}

std::string unknown_mix_message(const std::string& name) {
  return fmt::format("unknown quantization type '{}'; known types: {}", name, quant_mix_names());
}

int run_quantize(const QuantizeArgs& a, CliContext& ctx) {
  if (!a.like.empty() && !a.dry_run) throw Error("--like plans a model from its shapes only: add --dry-run");

  // Positional arguments: IN [OUT] [TYPE]; with --like only [TYPE]. TYPE may be left out when --recipe is given.
  std::vector<std::string> pos = a.positional;
  std::string type_name;
  if (!a.like.empty()) {
    if (pos.size() > 1) throw Error("with --like give at most a TYPE (no input or output files)");
    if (pos.size() == 1) type_name = pos[0];
    pos.clear();
  } else if (pos.size() == 3 || (pos.size() == 2 && (a.recipe.empty() || find_quant_mix(pos.back()) != nullptr))) {
    type_name = pos.back();
    pos.pop_back();
  }
  const QuantMix* mix = nullptr;
  if (!type_name.empty()) {
    mix = find_quant_mix(type_name);
    if (mix == nullptr) throw Error(unknown_mix_message(type_name));
  }
  const QuantRecipe* recipe = nullptr;
  if (!a.recipe.empty()) {
    recipe = find_quant_recipe(a.recipe);
    if (recipe == nullptr) {
      throw Error(fmt::format("unknown recipe '{}'; known recipes: {}", a.recipe, quant_recipe_names()));
    }
    if (mix == nullptr) mix = find_quant_mix(recipe->mix);
  }
  if (mix == nullptr) {
    throw Error(fmt::format("give a quantization TYPE (one of {}) or --recipe ({})", quant_mix_names(),
                            quant_recipe_names()));
  }

  // The importance matrix first: a bad file is refused before any planning output.
  std::optional<Imatrix> imatrix;
  if (!a.imatrix.empty()) {
    imatrix = read_imatrix(a.imatrix);
    ctx.log.info("importance matrix {}: {} entries over {} chunks", a.imatrix, imatrix->entries.size(),
                 imatrix->chunk_count);
  }

  QuantizePlanOptions options{.mix = mix, .recipe = recipe, .pure = a.pure, .quantize_output = !a.leave_output,
                              .has_imatrix = imatrix.has_value()};
  for (const std::string& tt : a.tensor_types) options.overrides.push_back(parse_tensor_type_override(tt));
  if (!a.output_tensor_type.empty()) options.output_type = parse_type_flag("--output-tensor-type", a.output_tensor_type);
  if (!a.token_embedding_type.empty()) {
    options.token_embd_type = parse_type_flag("--token-embedding-type", a.token_embedding_type);
  }

  // The model: a catalog entry (shapes only) or a file.
  std::optional<GgufSet> input;
  std::vector<PlanInput> tensors;
  QuantModelInfo info;
  std::string input_name;
  if (!a.like.empty()) {
    std::optional<CatalogModel> model = catalog_model(a.like);
    if (!model) throw Error(fmt::format("unknown model '{}' for --like; known: {}", a.like, catalog_model_names()));
    tensors = std::move(model->tensors);
    info = model->info;
    input_name = model->description;
  } else {
    if (pos.empty()) throw Error("missing the input GGUF file");
    input_name = pos[0];
    input.emplace(GgufSet::open(pos[0]));
    tensors = quantize_plan_inputs(*input);
    info = QuantModelInfo::from_metadata(input->metadata());
  }
  const QuantizePlan plan = quantize_plan(tensors, info, options);

  std::string head = fmt::format("{} → {}{}\n", input_name, mix->name,
                                 recipe ? fmt::format(" (recipe {}: {})", recipe->name, recipe->summary) : "");
  if (plan.n_requires_imatrix > 0 && !imatrix) {
    ctx.log.warn("{} tensors get types that llama.cpp only writes with an importance matrix (IQ1/IQ2/IQ3_XXS); "
                 "without --imatrix they are encoded with uniform weights and lose more quality",
                 plan.n_requires_imatrix);
  }
  if (plan.n_fallback > 0) {
    ctx.log.info("{} tensors fell back to another type (row length not a multiple of the block)", plan.n_fallback);
  }

  if (a.dry_run) {
    std::string out = head + format_quantize_plan(plan, !a.summary);
    if (recipe != nullptr && !a.like.empty()) {
      const double gib = static_cast<double>(plan.dst_bytes) / (1ull << 30);
      out += fmt::format("published size of this tier: {:.0f} GB (read as GiB: {:+.1f}%; as 1e9 bytes: {:+.1f}%)\n",
                         recipe->published_size_gb, 100.0 * (gib / recipe->published_size_gb - 1.0),
                         100.0 * (static_cast<double>(plan.dst_bytes) / 1e9 / recipe->published_size_gb - 1.0));
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  }

  if (pos.size() < 2) throw Error("missing the output file: r1 quantize IN.gguf OUT.gguf TYPE");
  const std::string& out_path = pos[1];
  if (std::filesystem::exists(out_path) && std::filesystem::equivalent(out_path, pos[0])) {
    throw Error("the output would overwrite the input").file(out_path);
  }
  QuantizeModelOptions qopt{.allow_requantize = a.allow_requantize};
  ImportanceMap importance;
  if (imatrix) {
    importance = imatrix_importance_map(*imatrix);
    qopt.importance = &importance;
    qopt.extra_metadata = imatrix_quantize_metadata(*imatrix, a.imatrix);
  }
  check_quantize_plan(plan, qopt);  // before starting threads or printing a bar
  if (imatrix) {
    // As llama-quantize: a tensor the matrix does not cover is quantized without it (token_embd never is).
    const std::vector<std::string> missing = tensors_without_importance(plan, importance);
    if (!missing.empty()) {
      ctx.log.warn("{} quantized tensors have no importance data in {} (first: {}); they are quantized without",
                   missing.size(), a.imatrix, missing.front());
    }
  }
  ThreadPool pool(a.threads);
  qopt.pool = &pool;
  ProgressBar bar("quantize", plan.dst_bytes);
  qopt.on_progress = [&bar](const QuantizeProgress& p) {
    bar.update(p.bytes_done, fmt::format("[{}/{}] {}", p.tensor_index + 1, p.n_tensors, *p.tensor_name));
  };
  ctx.log.info("quantizing {} tensors with {} threads", plan.tensors.size(), pool.size());
  const auto start = std::chrono::steady_clock::now();
  quantize_model(*input, plan, out_path, qopt);
  bar.finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fputs(head.c_str(), stdout);
  std::fputs(format_quantize_plan(plan, false).c_str(), stdout);
  std::printf("wrote %s in %.1f s\n", out_path.c_str(), seconds);
  return 0;
}

}  // namespace

void add_quantize_command(CLI::App& app, Action* action) {
  auto args = std::make_shared<QuantizeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "quantize", "Convert a GGUF model to another type or mix (llama.cpp's mixes and rules, R1 dynamic recipes)");
  cmd->add_option("args", args->positional, "IN.gguf OUT.gguf TYPE (TYPE: Q4_K_M, Q8_0, IQ2_XXS, ...; optional with --recipe)")
      ->expected(0, 3);
  cmd->add_option("--recipe", args->recipe, "Dynamic MoE recipe: r1-1.58bit, r1-1.73bit, r1-2.22bit, r1-2.51bit");
  cmd->add_option("--tensor-type", args->tensor_types,
                  "REGEX=TYPE: tensors whose name matches REGEX get TYPE (first match wins; repeatable)")
      ->take_all();
  cmd->add_option("--output-tensor-type", args->output_tensor_type, "Type of output.weight");
  cmd->add_option("--token-embedding-type", args->token_embedding_type, "Type of token_embd.weight");
  cmd->add_option("-t,--threads", args->threads, "Threads (default: all hardware threads)");
  cmd->add_flag("--dry-run", args->dry_run, "Print the plan (type and size per tensor, totals, bits per weight); write nothing");
  cmd->add_flag("--summary", args->summary, "With --dry-run: totals only, no per-tensor lines");
  cmd->add_option("--like", args->like, "With --dry-run: plan a known model from its shapes (deepseek-r1)");
  cmd->add_flag("--pure", args->pure, "Default type for every tensor (no per-tensor mix rules)");
  cmd->add_flag("--leave-output-tensor", args->leave_output, "Keep output.weight as it is");
  cmd->add_flag("--allow-requantize", args->allow_requantize, "Allow converting tensors that are already quantized");
  cmd->add_option("--imatrix", args->imatrix, "Importance matrix from r1 imatrix or llama-imatrix (GGUF or legacy .dat)");
  cmd->callback([args, action] {
    *action = [args](CliContext& ctx) { return run_quantize(*args, ctx); };
  });
}

}  // namespace r1::cli
