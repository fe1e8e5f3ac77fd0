// The public API used as another program would: only r1/r1.h (and r1::Error for failures).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <string>
#include <thread>

#include "error.h"
#include "fixtures.h"
#include "process_memory.h"
#include "r1/r1.h"

namespace r1 {
namespace {

std::unique_ptr<Engine> load(const std::filesystem::path& fixtures, const std::string& file, int sessions = 1,
                             int context = 256) {
  EngineOptions o;
  o.model = (fixtures / "models" / file).string();
  o.threads = 2;
  o.context = context;
  o.max_sessions = sessions;
  return Engine::load(o);
}

GenerateOptions greedy(int max_tokens) {
  GenerateOptions g;
  g.max_tokens = max_tokens;
  g.sampling.temperature = 0.0f;
  return g;
}

TEST(EngineApi, ChatStreamsReasoningAndCountsTokens) {
  R1_REQUIRE_FIXTURES(fixtures);
  auto engine = load(fixtures, "tiny-qwen2-a-s1.Q8_0.gguf");
  EXPECT_EQ(engine->model().architecture, "qwen2");
  EXPECT_EQ(engine->model().context, 256);
  auto session = engine->new_session();
  std::string streamed_reasoning, streamed_content;
  const Reply r = session->chat("What is the capital of France?", greedy(12), [&](const TextEvent& e) {
    (e.kind == TextKind::kReasoning ? streamed_reasoning : streamed_content) += e.text;
  });
  EXPECT_EQ(r.stats.generated_tokens, 12);
  EXPECT_EQ(r.stats.stop_reason, "length");
  EXPECT_EQ(streamed_reasoning, r.reasoning);
  EXPECT_EQ(streamed_content, r.content);
  // The R1 template pre-fills "<think>\n": a random model's output is all reasoning until it writes </think>.
  EXPECT_FALSE(r.reasoning.empty());
  EXPECT_GT(r.stats.prompt_tokens, 5);
  ASSERT_EQ(session->messages().size(), 2u);
  EXPECT_EQ(session->messages()[1].role, "assistant");

  // The second turn reuses the cached prefix of the conversation.
  const Reply r2 = session->chat("And of Spain?", greedy(4));
  EXPECT_GT(r2.stats.cached_tokens, 5);
}

TEST(EngineApi, GreedyIsReproducibleAndMatchesRawLogits) {
  R1_REQUIRE_FIXTURES(fixtures);
  auto engine = load(fixtures, "tiny-llama-a-s1.Q4_K_M.gguf");
  auto a = engine->new_session();
  const Reply ra = a->complete("The quick brown fox", greedy(6));
  a->clear();
  const Reply rb = a->complete("The quick brown fox", greedy(6));
  EXPECT_EQ(ra.reasoning + ra.content, rb.reasoning + rb.content);

  a.reset();  // logits() needs a free slot

  // Raw logits: causal (a prefix's rows equal the full sequence's first rows) and deterministic.
  const std::vector<int32_t> ids = engine->tokenize("The quick brown fox", true, true);
  ASSERT_GE(ids.size(), 3u);
  const std::vector<float> full = engine->logits(ids);
  const int64_t nv = engine->model().n_vocab;
  ASSERT_EQ(full.size(), ids.size() * static_cast<size_t>(nv));
  const std::vector<int32_t> prefix(ids.begin(), ids.begin() + 2);
  const std::vector<float> part = engine->logits(prefix);
  for (size_t i = 0; i < part.size(); ++i) ASSERT_NEAR(part[i], full[i], 1e-5f * (1.0f + std::fabs(full[i])));
  EXPECT_EQ(engine->logits(ids), full);
}

TEST(EngineApi, SameSeedSameTextWithSampling) {
  R1_REQUIRE_FIXTURES(fixtures);
  auto engine = load(fixtures, "tiny-qwen2-a-s1.Q4_K_M.gguf");
  auto s = engine->new_session();
  GenerateOptions g;
  g.max_tokens = 16;
  g.sampling.seed = 42;
  const Reply a = s->complete("Hello", g);
  s->clear();
  const Reply b = s->complete("Hello", g);
  EXPECT_EQ(a.reasoning + a.content, b.reasoning + b.content);
}

TEST(EngineApi, CancelFromAnotherThreadStopsGeneration) {
  R1_REQUIRE_FIXTURES(fixtures);
  auto engine = load(fixtures, "tiny-qwen2-a-s1.Q8_0.gguf", 1, 4096);
  auto s = engine->new_session();
  std::atomic<int> pieces{0};
  std::thread canceller([&] {
    while (pieces.load() < 3) std::this_thread::yield();
    s->cancel();
  });
  GenerateOptions g = greedy(-1);
  const Reply r = s->complete("Hello", g, [&](const TextEvent&) { pieces++; });
  canceller.join();
  EXPECT_EQ(r.stats.stop_reason, "cancelled");
  EXPECT_LT(r.stats.generated_tokens, 4000);
}

TEST(EngineApi, FullContextIsReportedNotTruncated) {
  R1_REQUIRE_FIXTURES(fixtures);
  auto engine = load(fixtures, "tiny-llama-a-s1.Q8_0.gguf", 1, 32);
  auto s = engine->new_session();
  const Reply r = s->complete("Hi", greedy(-1));
  EXPECT_EQ(r.stats.stop_reason, "context");
  std::string long_prompt;
  for (int i = 0; i < 100; ++i) long_prompt += " word";
  try {
    s->complete(long_prompt, greedy(4));
    FAIL() << "a prompt longer than the context must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("context"), std::string::npos) << e.what();
  }
}

TEST(EngineApi, StopStringsEndTheReplyAndAreNotIncluded) {
  R1_REQUIRE_FIXTURES(fixtures);
  auto engine = load(fixtures, "tiny-qwen2-a-s1.Q8_0.gguf");
  auto s = engine->new_session();
  const Reply free_run = s->complete("The", greedy(20));
  const std::string text = free_run.reasoning + free_run.content;
  ASSERT_GT(text.size(), 6u);
  // Use a piece of the free run as a stop string: the reply must end right before it.
  const std::string stop = text.substr(3, 3);
  s->clear();
  GenerateOptions g = greedy(20);
  g.stop = {stop};
  const Reply stopped = s->complete("The", g);
  EXPECT_EQ(stopped.stats.stop_reason, "stop");
  EXPECT_EQ((stopped.reasoning + stopped.content).find(stop), std::string::npos);
}

TEST(EngineApi, SessionsOwnSlots) {
  R1_REQUIRE_FIXTURES(fixtures);
  auto engine = load(fixtures, "tiny-qwen2-a-s1.Q8_0.gguf", 2);
  auto a = engine->new_session();
  auto b = engine->new_session();
  EXPECT_THROW(engine->new_session(), Error);
  const Reply ra = a->complete("One", greedy(5));
  const Reply rb = b->complete("One", greedy(5));
  EXPECT_EQ(ra.reasoning + ra.content, rb.reasoning + rb.content);  // independent slots, same result
  b.reset();
  EXPECT_NO_THROW(engine->new_session());  // the slot came back
}

// A chat that outgrows the context: without context_shift the turn is refused (and not recorded); with it the
// oldest turns are dropped until the conversation takes at most half the context, and the chat goes on.
TEST(EngineApi, ContextShiftDropsOldestChatTurns) {
  R1_REQUIRE_FIXTURES(fixtures);
  auto engine = load(fixtures, "tiny-qwen2-a-s1.Q8_0.gguf", 1, 96);
  const std::string long_message = "Tell me about the quick brown fox that jumps over the lazy dog again and again.";
  auto strict = engine->new_session();
  GenerateOptions four = greedy(4);
  size_t turns = 0;
  EXPECT_THROW(
      {
        for (; turns < 10; ++turns) strict->chat(long_message, four);
      },
      Error);
  EXPECT_GE(turns, 1u);
  EXPECT_EQ(strict->messages().size(), 2 * turns);  // the refused turn left no trace
  strict.reset();

  auto shifting = engine->new_session();
  four.context_shift = true;
  for (int i = 0; i < 10; ++i) {
    const Reply r = shifting->chat(long_message + " Turn " + std::to_string(i), four);
    EXPECT_LE(r.stats.prompt_tokens, 96) << i;
  }
  const auto& m = shifting->messages();
  ASSERT_GE(m.size(), 2u);
  EXPECT_LT(m.size(), 20u);  // older turns were dropped
  EXPECT_EQ(m.front().role, "user");
  EXPECT_EQ(m[m.size() - 2].content, long_message + " Turn 9");
}

// --numa: both placements load and give the same greedy text as no placement (the pool's static schedule only
// changes which thread runs which rows); an unknown mode is an error naming it.
TEST(EngineApi, NumaPlacementsGiveTheSameText) {
  R1_REQUIRE_FIXTURES(fixtures);
  std::string texts[3];
  const char* modes[3] = {"off", "distribute", "isolate"};
  for (int i = 0; i < 3; ++i) {
    EngineOptions o;
    o.model = (fixtures / "models" / "tiny-qwen2-a-s1.Q4_K_M.gguf").string();
    o.threads = 2;
    o.context = 128;
    o.numa = modes[i];
    const Reply r = Engine::load(o)->new_session()->complete("Hello there", greedy(10));
    texts[i] = r.reasoning + r.content;
  }
  EXPECT_EQ(texts[1], texts[0]);
  EXPECT_EQ(texts[2], texts[0]);
  EngineOptions bad;
  bad.model = (fixtures / "models" / "tiny-qwen2-a-s1.Q4_K_M.gguf").string();
  bad.numa = "interleave";
  try {
    Engine::load(bad);
    ADD_FAILURE() << "an unknown NUMA mode loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("interleave"), std::string::npos) << e.what();
  }
}

// Weights stay in their blocks in the mapped file: loading and generating adds at most the file, the KV cache
// and 64 MB of working memory to the process (no dequantized copies of the weights).
TEST(EngineApi, ResidentMemoryIsFilePlusCachePlusLittle) {
  R1_REQUIRE_FIXTURES(fixtures);
  for (const char* file : {"tiny-qwen2-a-s1.Q4_K_M.gguf", "tiny-deepseek2-legacy-a-s1.Q8_0.gguf"}) {
    const uint64_t before = resident_bytes();
    auto engine = load(fixtures, file, 1, 512);
    auto s = engine->new_session();
    s->complete("Hello there", greedy(8));
    const uint64_t after = resident_bytes();
    const ModelDescription& d = engine->model();
    const uint64_t bound = d.file_bytes + d.kv_bytes_per_token * static_cast<uint64_t>(d.context) + (64ull << 20);
    EXPECT_LE(after - std::min(after, before), bound) << file;
    RecordProperty(std::string("rss_delta_") + file, std::to_string(after - std::min(after, before)));
  }
}

// KV-cache bytes per token as the engine reports them (r1 run -v prints them): K and V per KV head for
// qwen2 (2 layers x (2 heads x 64) x 2 (K and V) x 2 bytes), the latent cache for deepseek2 (3 layers x
// (128 + 16) x 2 bytes) rather than 4 heads x (48 + 32) per layer.
TEST(EngineApi, ReportsKvBytesPerToken) {
  R1_REQUIRE_FIXTURES(fixtures);
  const auto qwen = load(fixtures, "tiny-qwen2-a-s1.Q8_0.gguf");
  EXPECT_EQ(qwen->model().kv_bytes_per_token, 2u * 128 * 2 * 2);
  EXPECT_EQ(qwen->model().kv_cache_layout, "K 128 (F16) + V 128 (F16) values x 2 layers");
  const auto ds = load(fixtures, "tiny-deepseek2-legacy-a-s1.Q8_0.gguf");
  EXPECT_EQ(ds->model().kv_bytes_per_token, 3u * (128 + 16) * 2);
  EXPECT_EQ(ds->model().kv_cache_layout, "MLA latent 128 + rope 16 values (F16) x 3 layers");
}

// A full context stops by default; with context_shift the older half is dropped (BOS and n_keep tokens kept)
// and generation goes on to max_tokens. After a shift the cache holds exactly what evaluating the kept tokens
// afresh gives (they are re-evaluated), so greedy decoding continues as it would from that shorter prompt.
TEST(EngineApi, ContextShiftKeepsGeneratingPastAFullContext) {
  R1_REQUIRE_FIXTURES(fixtures);
  for (const char* file : {"tiny-qwen2-a-s1.Q8_0.gguf", "tiny-deepseek2-legacy-a-s1.Q8_0.gguf"}) {
    auto engine = load(fixtures, file, 1, 48);
    const Reply stopped = engine->new_session()->complete("Count with me: one two three", greedy(100));
    EXPECT_EQ(stopped.stats.stop_reason, "context") << file;
    EXPECT_LT(stopped.stats.generated_tokens, 48) << file;

    GenerateOptions shift = greedy(100);
    shift.context_shift = true;
    shift.n_keep = 4;
    const Reply r = engine->new_session()->complete("Count with me: one two three", shift);
    EXPECT_EQ(r.stats.stop_reason, "length") << file;
    EXPECT_EQ(r.stats.generated_tokens, 100) << file;
    EXPECT_GE(r.stats.context_shifts, 3) << file;
    // Until the first shift the text is the same as without shifting.
    const std::string before = stopped.reasoning + stopped.content;
    EXPECT_EQ((r.reasoning + r.content).substr(0, before.size() / 2), before.substr(0, before.size() / 2)) << file;
  }
}

TEST(EngineApi, BadOptionsAreClearErrors) {
  EngineOptions o;
  o.model = "/nonexistent/model.gguf";
  EXPECT_THROW(Engine::load(o), Error);
  R1_REQUIRE_FIXTURES(fixtures);
  o.model = (fixtures / "models" / "tiny-qwen2-a-s1.Q8_0.gguf").string();
  o.cache_type_k = "q4_0";
  EXPECT_THROW(Engine::load(o), Error);
}

}  // namespace
}  // namespace r1
