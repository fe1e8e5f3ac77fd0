// Chat templates: interpreter unit cases, and the R1, Qwen, Llama 3 and DeepSeek-V3 templates rendered
// identically to Python's jinja2 (scripts/text_jinja_oracle.py) over several conversations.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "chat_template.h"
#include "error.h"
#include "fixtures.h"
#include "jinja_eval.h"
#include "text_test_util.h"

namespace r1 {
namespace {

using nlohmann::ordered_json;

std::string render_text(const std::string& source, const ordered_json& vars) {
  return jinja::render(jinja::parse_template(source), jinja::from_json(vars.is_null() ? ordered_json::object() : vars));
}

TEST(Jinja, ExpressionsAndFilters) {
  EXPECT_EQ(render_text("{{ 1 + 2 * 3 }} {{ 7 // 2 }} {{ 7 / 2 }} {{ -3 % 5 }} {{ 'a' ~ 1 }}", {}), "7 3 3.5 2 a1");
  EXPECT_EQ(render_text("{{ x | tojson }}", {{"x", {{"b", 1}, {"a", "é\n"}}}}), "{\"b\": 1, \"a\": \"é\\n\"}");
  EXPECT_EQ(render_text("{{ none }} {{ true }} {{ [1, 'a'] }} {{ 2.0 }}", {}), "None True [1, 'a'] 2.0");
  EXPECT_EQ(render_text("{{ 'a,b,,c'.split(',') | length }} {{ '  x '.strip() }}|{{ 'abc'[::-1] }}", {}), "4 x|cba");
  EXPECT_EQ(render_text("{{ xs | map(attribute='n') | join('-') }}", {{"xs", {{{"n", 1}}, {{"n", 2}}}}}), "1-2");
  EXPECT_EQ(render_text("{{ undefined_thing is defined }} {{ 3 is odd }} {{ 'x' if false else 'y' }}", {}), "False True y");
  EXPECT_EQ(render_text("{{ s.startswith('ab') and s.endswith(('z', 'c')) }}", {{"s", "abc"}}), "True");
}

TEST(Jinja, StatementsAndWhitespace) {
  EXPECT_EQ(render_text("{% for x in xs %}{{ loop.index }}{{ x }}{% if not loop.last %},{% endif %}{% endfor %}",
                        {{"xs", {"a", "b"}}}),
            "1a,2b");
  EXPECT_EQ(render_text("{%- set ns = namespace(n=0) -%}{% for i in range(3) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}", {}), "3");
  EXPECT_EQ(render_text("{% macro m(a, b='!') %}{{ a }}{{ b }}{% endmacro %}{{ m('hi') }}{{ m('x', b='?') }}", {}), "hi!x?");
  EXPECT_EQ(render_text("  {% if true %}\n  yes\n  {% endif %}\nend", {}), "  yes\nend");  // lstrip/trim_blocks
  EXPECT_EQ(render_text("a  {{- 'b' -}}  c", {}), "abc");
  EXPECT_EQ(render_text("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", {{"d", {{"x", 1}, {"y", 2}}}}), "x=1;y=2;");
  EXPECT_EQ(render_text("{% for x in [1,2,3,4] %}{% if x == 3 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}), "12");
}

TEST(Jinja, ErrorsNameTheLine) {
  try {
    render_text("line one\n{% include 'x' %}", {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("include"), std::string::npos) << e.what();
  }
  EXPECT_THROW(render_text("{{ raise_exception('nope') }}", {}), Error);
  EXPECT_THROW(render_text("{% for i in range(100000000) %}{% endfor %}", {}), Error);  // bounded
  EXPECT_THROW(render_text("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", {}), Error);  // bounded recursion
}

// Found by fuzz_template: filters that loop over a list made on the fly (from undefined, a string or a dict)
// walked it after it was freed.
TEST(Jinja, FiltersOverTemporaryLists) {
  EXPECT_EQ(render_text("{{ nothing|selectattr('role', 'equalto', 'user')|list }}", {}), "[]");
  EXPECT_EQ(render_text("{{ 'abca'|unique|join }}{{ 'ab'|map('upper')|join }}{{ 'ab'|select|join }}", {}), "abcAB" "ab");
  EXPECT_EQ(render_text("{{ {'x': 1, 'y': 2}|reject('equalto', 'x')|list }}", {}), "['y']");
}

// Parsing, evaluation and destruction recurse over the syntax tree: nesting is bounded before the stack is.
TEST(Jinja, DeepNestingIsAnError) {
  const auto repeat = [](std::string_view s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
  };
  const auto expect_nesting_error = [](const std::string& source) {
    try {
      render_text(source, {});
      ADD_FAILURE() << source.substr(0, 40);
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("nested deeper"), std::string::npos) << e.what();
    }
  };
  expect_nesting_error("{{ " + repeat("(", 5000) + "1" + repeat(")", 5000) + " }}");
  expect_nesting_error("{{ " + repeat("not ", 5000) + "1 }}");
  expect_nesting_error("{{ " + repeat("-", 5000) + "1 }}");
  expect_nesting_error("{{ 1" + repeat(" + 1", 5000) + " }}");
  expect_nesting_error("{{ x" + repeat(".a", 5000) + " }}");
  expect_nesting_error("{{ f(" + repeat("f(", 5000) + " }}");
  expect_nesting_error(repeat("{% if true %}", 5000) + repeat("{% endif %}", 5000));
  expect_nesting_error(repeat("{% for x in [1] %}", 5000));
  // What real templates do stays well inside the bounds.
  EXPECT_EQ(render_text("{{ " + repeat("(", 40) + "1" + repeat(" + 1)", 40) + " }}", {}), "41");
  EXPECT_EQ(render_text(repeat("{% if true %}", 40) + "x" + repeat("{% endif %}", 40), {}), "x");
}

// ---- differential tests against Python's jinja2 ----

bool have_oracle() {
  static const bool ok = std::system("python3 -c 'import jinja2' >/dev/null 2>&1") == 0;
  return ok;
}

std::string oracle_render(const std::string& source, const ordered_json& context) {
  const auto dir = testlib::temp_dir();
  static int counter = 0;
  const auto tpl = dir / ("t" + std::to_string(counter) + ".jinja");
  const auto ctx = dir / ("c" + std::to_string(counter++) + ".json");
  std::ofstream(tpl, std::ios::binary) << source;
  std::ofstream(ctx, std::ios::binary) << context.dump();
  const std::string command = "python3 '" + std::string(R1_SOURCE_DIR) + "/scripts/text_jinja_oracle.py' '" +
                              tpl.string() + "' '" + ctx.string() + "' 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  std::string out;
  char buffer[4096];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
  ::pclose(pipe);
  return out;
}

std::vector<ordered_json> conversations() {
  const ordered_json user = {{"role", "user"}, {"content", "What is 2+2?"}};
  const ordered_json system = {{"role", "system"}, {"content", "You are terse."}};
  const ordered_json answer = {{"role", "assistant"}, {"content", "<think>\nAdd them.\n</think>\n\n4"}};
  const ordered_json follow = {{"role", "user"}, {"content", "And 3+3? 日本語 too."}};
  return {ordered_json::array({user}), ordered_json::array({system, user}),
          ordered_json::array({system, user, answer, follow}), ordered_json::array({user, answer})};
}

void expect_matches_oracle(const std::string& source, const std::string& what) {
  const ChatTemplate tmpl = ChatTemplate::parse(source);
  for (const auto& messages : conversations()) {
    for (const bool agp : {true, false}) {
      for (const bool thinking : {true, false}) {
        ChatTemplateOptions options{.add_generation_prompt = agp, .enable_thinking = thinking,
                                    .bos_token = "<｜begin▁of▁sentence｜>", .eos_token = "<｜end▁of▁sentence｜>"};
        const ordered_json context = {{"messages", messages}, {"add_generation_prompt", agp},
                                      {"bos_token", options.bos_token}, {"eos_token", options.eos_token},
                                      {"enable_thinking", thinking}};
        EXPECT_EQ(tmpl.render(messages, options), oracle_render(source, context))
            << what << " messages " << messages.dump() << " agp " << agp << " thinking " << thinking;
      }
    }
  }
}

TEST(ChatTemplate, R1TemplatesMatchJinja2) {
  R1_REQUIRE_FIXTURES(fixtures);
  if (!have_oracle()) GTEST_SKIP() << "python3-jinja2 not installed";
  for (const char* name : {"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", "deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja"}) {
    expect_matches_oracle(text_test::read_text(fixtures / "chat_templates" / name), name);
  }
}

TEST(ChatTemplate, FamilyTemplatesMatchJinja2) {
  R1_REQUIRE_FIXTURES(fixtures);
  if (!have_oracle()) GTEST_SKIP() << "python3-jinja2 not installed";
  for (const char* family : {"qwen3", "llama3", "deepseek_v3"}) {
    const auto config = ordered_json::parse(text_test::read_text(fixtures / "tokenizers" / family / "tokenizer_config.json"));
    if (!config.contains("chat_template") || !config["chat_template"].is_string()) continue;
    expect_matches_oracle(config["chat_template"].get<std::string>(), family);
  }
}

TEST(ChatTemplate, TinyModelsRenderAndTokenizeWithOneBos) {
  R1_REQUIRE_FIXTURES(fixtures);
  const BpeTokenizer& tok = text_test::tiny_gguf_tokenizer(fixtures, "tiny-deepseek2-legacy-a-s1");
  const ordered_json messages = ordered_json::array({{{"role", "user"}, {"content", "What is the capital of France?"}}});
  const std::string prompt = render_chat(tok, messages, {}, text_test::quiet_logger());
  EXPECT_EQ(prompt, "<｜begin▁of▁sentence｜><｜User｜>What is the capital of France?<｜Assistant｜><think>\n");
  EXPECT_EQ(prompt, render_r1_builtin(messages, {.bos_token = "<｜begin▁of▁sentence｜>"}));
  const auto ids = tokenize_prompt(tok, prompt);
  ASSERT_GE(ids.size(), 2u);
  EXPECT_EQ(ids[0], tok.bos());
  EXPECT_NE(ids[1], tok.bos());
}

}  // namespace
}  // namespace r1
