// Session: a conversation on one KV-cache slot. Each turn renders the chat template, reuses the longest
// cached prefix, prefills the rest, then samples token by token, streaming text split into reasoning and
// content, until end of sequence, a stop string, max tokens, cancellation or a full context.
#include <algorithm>
#include <atomic>
#include <chrono>

#include <nlohmann/json.hpp>

#include "chat_template.h"
#include "engine_impl.h"
#include "error.h"
#include "reasoning_split.h"
#include "sampler.h"
#include "text_stream.h"

namespace r1 {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Holds back generated text that could still become a stop string; reports when one appears.
class StopMatcher {
 public:
  explicit StopMatcher(const std::vector<std::string>& stops) : stops_(stops) {}

  // Adds text; returns what is safe to emit. Sets *stopped when a stop string completed (text before it is
  // returned, the stop string and anything after it dropped).
  std::string push(std::string_view text, bool* stopped) {
    held_ += text;
    for (const auto& s : stops_) {
      if (s.empty()) continue;
      const size_t at = held_.find(s);
      if (at != std::string::npos) {
        *stopped = true;
        std::string out = held_.substr(0, at);
        held_.clear();
        return out;
      }
    }
    size_t keep = 0;  // longest suffix of held_ that is a prefix of some stop string
    for (const auto& s : stops_) {
      for (size_t n = std::min(s.size() - (s.empty() ? 0 : 1), held_.size()); n > keep; --n) {
        if (held_.compare(held_.size() - n, n, s, 0, n) == 0) {
          keep = n;
          break;
        }
      }
    }
    std::string out = held_.substr(0, held_.size() - keep);
    held_.erase(0, held_.size() - keep);
    return out;
  }
  std::string finish() { return std::exchange(held_, {}); }

 private:
  const std::vector<std::string>& stops_;
  std::string held_;
};

class SessionImpl final : public Session {
 public:
  SessionImpl(EngineImpl& engine, int slot) : engine_(engine), slot_(slot) {}
  ~SessionImpl() override {
    std::lock_guard lock(engine_.compute_mutex());
    engine_.model_impl().truncate_sequence(slot_, 0);
    engine_.release_slot(slot_);
  }

  void set_system_prompt(std::string text) override { system_prompt_ = std::move(text); }

  Reply chat(const std::string& user_message, const GenerateOptions& options, const StreamCallback& on_text) override {
    messages_.push_back(Message{"user", user_message, ""});
    const BpeTokenizer& tok = engine_.tokenizer();
    std::string prompt = render_conversation(options.thinking);
    std::vector<int32_t> ids = tokenize_prompt(tok, prompt);
    // With context_shift, a conversation that no longer fits loses its oldest turns (the system prompt stays)
    // until it takes at most half the context, leaving the answer room; the newest message is never dropped.
    const size_t n_ctx = static_cast<size_t>(engine_.model().context);
    if (options.context_shift && ids.size() >= n_ctx) {
      size_t dropped = 0;
      while (ids.size() > n_ctx / 2 && messages_.size() > 1) {
        const size_t turn = messages_.size() > 2 && messages_[1].role == "assistant" ? 2 : 1;
        messages_.erase(messages_.begin(), messages_.begin() + static_cast<std::ptrdiff_t>(turn));
        dropped += turn;
        prompt = render_conversation(options.thinking);
        ids = tokenize_prompt(tok, prompt);
      }
      engine_.log().info("context shift: dropped the {} oldest messages; the conversation is now {} tokens", dropped,
                         ids.size());
    }
    Reply reply;
    try {
      reply = generate(std::move(ids), prompt_opens_reasoning(prompt), options, on_text);
    } catch (...) {
      messages_.pop_back();  // the turn did not happen
      throw;
    }
    messages_.push_back(Message{"assistant", reply.content, reply.reasoning});
    return reply;
  }

  Reply complete(const std::string& prompt, const GenerateOptions& options, const StreamCallback& on_text) override {
    const BpeTokenizer& tok = engine_.tokenizer();
    return generate(tokenize_prompt(tok, prompt), prompt_opens_reasoning(prompt), options, on_text);
  }

  void cancel() override { cancelled_.store(true); }

  void clear() override {
    std::lock_guard lock(engine_.compute_mutex());
    engine_.model_impl().truncate_sequence(slot_, 0);
    cached_.clear();
    messages_.clear();
  }

  const std::vector<Message>& messages() const override { return messages_; }

 private:
  // The system prompt and every message through the model's chat template, ready for the assistant's turn.
  std::string render_conversation(bool thinking) const {
    nlohmann::ordered_json messages = nlohmann::ordered_json::array();
    if (!system_prompt_.empty()) messages.push_back({{"role", "system"}, {"content", system_prompt_}});
    for (const auto& m : messages_) {
      nlohmann::ordered_json j = {{"role", m.role}, {"content", m.content}};
      if (!m.reasoning.empty()) j["reasoning_content"] = m.reasoning;
      messages.push_back(std::move(j));
    }
    const BpeTokenizer& tok = engine_.tokenizer();
    ChatTemplateOptions template_options;
    template_options.add_generation_prompt = true;
    template_options.enable_thinking = thinking;
    template_options.bos_token = tok.bos() >= 0 ? tok.token_text(tok.bos()) : "";
    template_options.eos_token = tok.eos() >= 0 ? tok.token_text(tok.eos()) : "";
    return render_chat(tok, messages, template_options, engine_.log());
  }

  Reply generate(std::vector<int32_t> prompt, bool starts_in_reasoning, const GenerateOptions& options,
                 const StreamCallback& on_text) {
    cancelled_.store(false);
    Model& model = engine_.model_impl();
    const int n_ctx = engine_.model().context;
    const int64_t n_vocab = model.info().n_vocab;
    if (prompt.empty()) throw Error("the prompt is empty");
    if (static_cast<int64_t>(prompt.size()) >= n_ctx) {
      throw Error(fmt::format("the prompt has {} tokens but the context holds {}; start a new conversation or "
                              "raise --ctx-size",
                              prompt.size(), n_ctx));
    }
    std::lock_guard lock(engine_.compute_mutex());
    Reply reply;
    // Reuse the longest common prefix of what the cache holds (at least one token is re-evaluated so the
    // last prompt position yields logits).
    size_t common = 0;
    while (common < cached_.size() && common + 1 < prompt.size() && cached_[common] == prompt[common]) ++common;
    model.truncate_sequence(slot_, static_cast<int32_t>(common));
    cached_.resize(common);
    reply.stats.cached_tokens = static_cast<int>(common);

    const auto prompt_start = Clock::now();
    Batch batch;
    for (size_t i = common; i < prompt.size(); ++i) {
      batch.add(prompt[i], static_cast<int32_t>(i), slot_, i + 1 == prompt.size());
    }
    std::vector<float> logits(static_cast<size_t>(n_vocab));
    model.forward(batch, logits);
    cached_ = prompt;
    reply.stats.prompt_tokens = static_cast<int>(prompt.size() - common);
    reply.stats.prompt_seconds = seconds_since(prompt_start);

    Sampler sampler(SamplerOptions{.temperature = options.sampling.temperature,
                                   .top_k = options.sampling.top_k,
                                   .top_p = options.sampling.top_p,
                                   .min_p = options.sampling.min_p,
                                   .repeat_penalty = options.sampling.repeat_penalty,
                                   .repeat_last_n = options.sampling.repeat_last_n,
                                   .frequency_penalty = options.sampling.frequency_penalty,
                                   .presence_penalty = options.sampling.presence_penalty,
                                   .seed = options.sampling.seed});
    const BpeTokenizer& tok = engine_.tokenizer();
    StreamDecoder decoder(tok, /*render_special=*/false);  // control tokens are not text, as in llama.cpp
    ReasoningSplitter splitter(ReasoningSplitOptions{.starts_in_reasoning = starts_in_reasoning});
    StopMatcher stops(options.stop);
    const auto emit = [&](const ReasoningDelta& d) {
      if (!d.reasoning.empty()) {
        reply.reasoning += d.reasoning;
        if (on_text) on_text(TextEvent{d.reasoning, TextKind::kReasoning});
      }
      if (!d.content.empty()) {
        reply.content += d.content;
        if (on_text) on_text(TextEvent{d.content, TextKind::kContent});
      }
    };

    const auto gen_start = Clock::now();
    std::string stop_reason;
    bool stopped = false;
    while (true) {
      if (cancelled_.load()) {
        stop_reason = "cancelled";
        break;
      }
      if (options.max_tokens >= 0 && reply.stats.generated_tokens >= options.max_tokens) {
        stop_reason = "length";
        break;
      }
      const int32_t token = sampler.sample(logits, cached_);
      if (tok.is_end_of_generation(token)) {
        stop_reason = "eos";
        break;
      }
      ++reply.stats.generated_tokens;
      emit(splitter.push(stops.push(decoder.push(token), &stopped)));
      if (stopped) {
        stop_reason = "stop";
        break;
      }
      if (static_cast<int>(cached_.size()) + 1 >= n_ctx) {
        if (!options.context_shift || !shift_context(options.n_keep, n_ctx)) {
          stop_reason = "context";  // the caller tells the user; nothing is silently dropped
          break;
        }
        ++reply.stats.context_shifts;
      }
      Batch next;
      next.add(token, static_cast<int32_t>(cached_.size()), slot_, true);
      model.forward(next, logits);
      cached_.push_back(token);
    }
    if (!stopped) emit(splitter.push(stops.push(decoder.finish(), &stopped)));
    if (!stopped) emit(splitter.push(stops.finish()));
    emit(splitter.finish());
    reply.stats.generation_seconds = seconds_since(gen_start);
    reply.stats.stop_reason = stop_reason;
    return reply;
  }

  // llama.cpp's context shift: keep the first n_keep tokens, discard the older half of the rest. The kept
  // tokens after the prefix are re-evaluated at their new positions rather than re-roped in place: exact for
  // every architecture and cache type (the MLA latent's YaRN-scaled rope part, Q8_0 caches, llama3 frequency
  // factors) and the cache then holds what a fresh prompt of the kept tokens gives (re-roping keeps keys and
  // values that attended to the dropped tokens); it costs one prefill of about half the context per shift.
  // False when nothing can be dropped.
  bool shift_context(int keep, int n_ctx) {
    Model& model = engine_.model_impl();
    const int n_past = static_cast<int>(cached_.size());
    const int min_keep = engine_.tokenizer().bos() >= 0 && !cached_.empty() && cached_[0] == engine_.tokenizer().bos();
    const int n_keep = std::clamp(keep, min_keep, std::max(min_keep, n_ctx / 2));
    const int n_discard = (n_past - n_keep) / 2;
    if (n_discard <= 0) return false;
    cached_.erase(cached_.begin() + n_keep, cached_.begin() + n_keep + n_discard);
    model.truncate_sequence(slot_, n_keep);
    Batch batch;
    for (size_t i = static_cast<size_t>(n_keep); i < cached_.size(); ++i) {
      batch.add(cached_[i], static_cast<int32_t>(i), slot_, false);
    }
    model.forward(batch, {});
    engine_.log().info("context full: kept {} tokens, dropped {}, re-evaluated {}", n_keep, n_discard, batch.size());
    return true;
  }

  EngineImpl& engine_;
  int slot_;
  std::string system_prompt_;
  std::vector<Message> messages_;
  std::vector<int32_t> cached_;  // tokens whose K/V are in this slot, in order
  std::atomic<bool> cancelled_{false};
};

}  // namespace

std::unique_ptr<Session> make_session(EngineImpl& engine, int slot) {
  return std::make_unique<SessionImpl>(engine, slot);
}

}  // namespace r1
