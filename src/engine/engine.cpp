// Engine: loading (file, defaults for threads and context, KV cache types), tokenization, raw logits.
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <thread>

#include <fmt/ranges.h>

#include "cpu_features.h"
#include "engine_impl.h"
#include "error.h"
#include "kv_cache.h"
#include "model_weights.h"
#include "numa.h"
#include "process_memory.h"
#include "tokenizer_load.h"

namespace r1 {

std::unique_ptr<Session> make_session(EngineImpl& engine, int slot);  // session.cpp


// The CPU for each pool thread under --numa (empty when off). isolate also keeps the calling thread, which
// takes part in every loop, on the home node.
std::vector<int> EngineImpl::numa_cpus(const std::string& mode_name, int threads) {
  const std::optional<NumaMode> mode = parse_numa_mode(mode_name);
  if (!mode) throw Error(fmt::format("unknown NUMA mode '{}' (expected distribute, isolate or off)", mode_name));
  if (*mode == NumaMode::kOff) return {};
  const std::vector<NumaNode> nodes = read_numa_nodes();
  const std::vector<int> cpus = numa_thread_cpus(nodes, *mode, threads, current_cpu());
  if (*mode == NumaMode::kIsolate) {
    for (const NumaNode& n : nodes) {
      if (std::find(n.cpus.begin(), n.cpus.end(), cpus.front()) != n.cpus.end()) pin_current_thread(n.cpus);
    }
  }
  log_.info("NUMA {}: {} nodes, threads on CPUs {}", numa_mode_name(*mode), nodes.size(), fmt::join(cpus, ","));
  if (numa_balancing_enabled()) {
    log_.warn("automatic NUMA balancing is on (/proc/sys/kernel/numa_balancing); it moves pages between nodes and "
              "can undo --numa's placement");
  }
  return cpus;
}

EngineImpl::EngineImpl(const EngineOptions& options) : options_(options) {
  log_.set_verbosity(options.verbosity);
  if (options.model.empty()) throw Error("no model given");
  if (options.max_sessions < 1 || options.max_sessions > 256) {
    throw Error(fmt::format("max sessions {} is out of range (1-256)", options.max_sessions));
  }
  // Under --numa the weights stay mapped by default: a mapped page lands on the node of the pinned thread that
  // first reads it (numa.h), where a copy would put every page on the loading threads' nodes.
  const std::string weights = options.weights == "auto" && options.numa != "off" ? "map" : options.weights;
  file_ = std::make_unique<GgufSet>(GgufSet::open(options.model, weights));
  log_.info("weights {} ({} bytes)", file_->residency(), file_->total_file_bytes());
  for (const auto& spec : options.override_kv) file_->apply_override(spec);
  if (const std::string w = larger_than_ram_warning(file_->total_file_bytes(), meminfo_bytes("MemTotal")); !w.empty()) {
    log_.warn("{}", w);
  }
  if (options.mlock) {
    for (const auto& part : file_->parts()) {
      for (const auto& t : part.tensors()) {
        const auto bytes = part.tensor_data(t);
        if (::mlock(bytes.data(), bytes.size()) != 0) {
          log_.warn("mlock failed ({}); continuing without locking the weights in RAM", std::strerror(errno));
          break;
        }
      }
    }
  }
  const int threads = options.threads > 0 ? options.threads : physical_core_count();
  pool_ = std::make_unique<ThreadPool>(threads, numa_cpus(options.numa, threads));
  const RepackMode repack = CpuKernels::repack_from_name(options.repack);  // a bad name is an error with any kernels
  if (options.kernels != "reference") {
    const CpuFeatures features = detect_cpu_features();
    kernels_ = std::make_unique<CpuKernels>(options.kernels == "auto" ? CpuKernels::select(features)
                                                                      : CpuKernels::select(features, options.kernels));
    kernels_->set_repack(repack);
  }
  backend_ = std::make_unique<CpuBackend>(pool_.get(), kernels_.get());
  tokenizer_ = std::make_unique<BpeTokenizer>(load_tokenizer_gguf(file_->metadata(), log_));

  const std::string arch = file_->metadata().get_string("general.architecture");
  const int64_t n_ctx_train =
      static_cast<int64_t>(file_->metadata().find_uint(arch + ".context_length").value_or(4096));
  int context = options.context;
  ModelOptions mo{.n_ctx = 1, .n_seq = options.max_sessions, .cache_type_k = kv_cache_type_from_name(options.cache_type_k),
                  .cache_type_v = kv_cache_type_from_name(options.cache_type_v), .flash_attention = options.flash_attention, .ubatch = 512, .trace = {}};
  if (context <= 0) {
    // The training context, capped by what fits beside the weights in free memory (reasoning traces run
    // long, so at least 8192 whenever that fits). The cache is touched lazily, so a large reservation is free
    // until used; the cap keeps a long conversation from running the machine out of memory.
    auto probe = load_model(*file_, ModelOptions{.n_ctx = 1, .n_seq = 1, .cache_type_k = mo.cache_type_k,
                                                 .cache_type_v = mo.cache_type_v, .trace = {}},
                            Placement{.layers = {}, .head = backend_.get()});
    const uint64_t per_token = std::max<uint64_t>(1, probe->info().kv_bytes_per_token) * options.max_sessions;
    const uint64_t free_bytes = available_memory_bytes();
    const uint64_t budget = free_bytes > file_->total_file_bytes() ? (free_bytes - file_->total_file_bytes()) / 2 : 0;
    const int64_t fits = static_cast<int64_t>(budget / per_token);
    context = static_cast<int>(std::min<int64_t>({n_ctx_train, fits, 1 << 20}));
    if (context < std::min<int64_t>(8192, n_ctx_train)) {
      log_.warn("only {} tokens of context fit in free memory", context);
    }
    if (context < 16) throw Error("not enough free memory for a KV cache").file(options.model);
  }
  mo.n_ctx = context;
  model_ = load_model(*file_, mo, Placement{.layers = {}, .head = backend_.get()});
  const RepackBudget budget{.kv_cache_bytes = model_->info().kv_bytes_per_token * static_cast<uint64_t>(context) *
                                              static_cast<uint64_t>(options.max_sessions),
                            .mapped_weight_bytes = file_->mapped_file_bytes(),
                            .available_bytes = available_memory_bytes()};
  description_.repack = backend_->repack(file_matrices(*file_), repack, budget).summary();
  log_.info("{}", description_.repack);
  if (tokenizer_->n_tokens() > static_cast<size_t>(model_->info().n_vocab)) {
    throw Error(fmt::format("the vocabulary has {} tokens but the model's embedding only {}", tokenizer_->n_tokens(),
                            model_->info().n_vocab))
        .file(options.model);
  }
  slot_used_.assign(static_cast<size_t>(options.max_sessions), false);

  description_.path = options.model;
  description_.architecture = arch;
  description_.name = file_->metadata().find_string("general.name").value_or("");
  description_.n_vocab = model_->info().n_vocab;
  description_.n_ctx_train = n_ctx_train;
  description_.context = context;
  description_.file_bytes = file_->total_file_bytes();
  description_.kv_bytes_per_token = model_->info().kv_bytes_per_token;
  description_.kv_cache_layout = model_->info().kv_cache_layout;
  description_.kernel_isa = kernels_ ? std::string(kernels_->isa_name()) : "reference";
  description_.threads = threads;
  log_.info("loaded {} ({}), context {}, {} threads, KV cache {} bytes per token ({})", options.model, arch, context,
            threads, description_.kv_bytes_per_token, description_.kv_cache_layout);
}

std::unique_ptr<Engine> Engine::load(const EngineOptions& options) { return std::make_unique<EngineImpl>(options); }

int EngineImpl::acquire_slot() {
  std::lock_guard lock(slots_mutex_);
  for (size_t i = 0; i < slot_used_.size(); ++i) {
    if (!slot_used_[i]) {
      slot_used_[i] = true;
      return static_cast<int>(i);
    }
  }
  throw Error(fmt::format("all {} session slots are in use", slot_used_.size()));
}

void EngineImpl::release_slot(int slot) {
  std::lock_guard lock(slots_mutex_);
  slot_used_[static_cast<size_t>(slot)] = false;
}

std::unique_ptr<Session> EngineImpl::new_session() { return make_session(*this, acquire_slot()); }

std::vector<int32_t> EngineImpl::tokenize(std::string_view text, bool parse_special, bool add_bos) const {
  return tokenizer_->encode(text, EncodeOptions{.parse_special = parse_special, .add_special = add_bos});
}

std::string EngineImpl::detokenize(const std::vector<int32_t>& tokens) const { return tokenizer_->decode(tokens); }

std::vector<float> EngineImpl::logits(const std::vector<int32_t>& tokens) {
  const int slot = acquire_slot();
  struct Release {
    EngineImpl* engine;
    int slot;
    ~Release() { engine->release_slot(slot); }
  } release{this, slot};
  if (tokens.size() > static_cast<size_t>(description_.context)) {
    throw Error(fmt::format("{} tokens do not fit the context of {}", tokens.size(), description_.context));
  }
  std::lock_guard lock(compute_mutex_);
  model_->truncate_sequence(slot, 0);
  Batch b;
  for (size_t i = 0; i < tokens.size(); ++i) b.add(tokens[i], static_cast<int32_t>(i), slot, true);
  std::vector<float> out(tokens.size() * static_cast<size_t>(description_.n_vocab));
  model_->forward(b, out);
  model_->truncate_sequence(slot, 0);
  return out;
}

}  // namespace r1
