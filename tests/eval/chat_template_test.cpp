// The Jinja subset: real chat templates of common model families, Hugging
// Face's whitespace settings, expression semantics, and an error naming the
// construct and line for everything outside the subset.
#include <gtest/gtest.h>

#include "eval/jinja.h"
#include "paramdelta/error.h"
#include "paramdelta/evaluate.h"
#include "support/test_support.h"

namespace paramdelta {
namespace {

ChatTemplateInput conversation(std::vector<ChatMessage> messages, bool add_generation_prompt = true) {
  ChatTemplateInput input;
  input.messages = std::move(messages);
  input.add_generation_prompt = add_generation_prompt;
  input.bos_token = "<s>";
  input.eos_token = "</s>";
  return input;
}

std::string render(std::string_view tmpl, const ChatTemplateInput& input = conversation({{"user", "Hi"}})) {
  return render_chat_template(tmpl, input, "tokenizer_config.json");
}

std::string error_of(std::string_view tmpl, const ChatTemplateInput& input = conversation({{"user", "Hi"}})) {
  try {
    render(tmpl, input);
  } catch (const Error& e) {
    return format_error_line(e);
  }
  return "(no error)";
}

TEST(ChatTemplate, ChatMl) {
  const char* tmpl =
      R"({% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %})";
  EXPECT_EQ(render(tmpl, conversation({{"system", "S"}, {"user", "Hi"}})),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(render(tmpl, conversation({{"user", "Hi"}}, false)), "<|im_start|>user\nHi<|im_end|>\n");
}

constexpr const char* kLlama2 =
    R"({% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\n' + system_message + '\n<</SYS>>\n\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %})";

TEST(ChatTemplate, Llama2WithSystemMessageAndAlternationCheck) {
  EXPECT_EQ(render(kLlama2, conversation({{"system", "Be nice."}, {"user", " Hi "}})),
            "<s>[INST] <<SYS>>\nBe nice.\n<</SYS>>\n\n Hi [/INST]");
  EXPECT_EQ(render(kLlama2, conversation({{"user", "a"}, {"assistant", "b"}, {"user", "c"}})),
            "<s>[INST] a [/INST] b </s><s>[INST] c [/INST]");
  std::string e = error_of(kLlama2, conversation({{"user", "a"}, {"user", "b"}}));
  EXPECT_NE(e.find("Conversation roles must alternate"), std::string::npos) << e;
  EXPECT_NE(e.find("tokenizer_config.json"), std::string::npos) << e;
}

TEST(ChatTemplate, Llama3) {
  const char* tmpl =
      R"({% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %})";
  EXPECT_EQ(render(tmpl, conversation({{"user", " Hi\n"}})),
            "<s><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplate, TrimBlocksAndLstripBlocksAsHuggingFaceConfiguresJinja) {
  const char* tmpl =
      "{% for m in messages %}\n"
      "  {% if m.role == 'user' %}\n"
      "U: {{ m.content }}\n"
      "  {% endif %}\n"
      "{% endfor %}\n"
      "done";
  EXPECT_EQ(render(tmpl, conversation({{"user", "Hi"}, {"assistant", "x"}, {"user", "Yo"}})),
            "U: Hi\nU: Yo\ndone");
  // lstrip only applies at the start of a line; "{%+" keeps the indentation.
  EXPECT_EQ(render("a {% if true %}b{% endif %}"), "a b");
  EXPECT_EQ(render("  {%+ if true %}x{% endif %}"), "  x");
  // Output tags are not trimmed; comments are.
  EXPECT_EQ(render("{{ 'a' }}\nb"), "a\nb");
  EXPECT_EQ(render("{# note #}\nx"), "x");
}

TEST(ChatTemplate, ExplicitWhitespaceControl) {
  EXPECT_EQ(render("a  \n {{- 'b' -}} \n  c"), "abc");
  EXPECT_EQ(render("a \n{%- if true -%}\n b \n{%- endif -%}\n c"), "abc");
  EXPECT_EQ(render("x {#- gone -#} y"), "xy");
}

TEST(ChatTemplate, LoopVariablesAndScoping) {
  auto three = conversation({{"user", "a"}, {"assistant", "b"}, {"user", "c"}});
  EXPECT_EQ(render("{% for m in messages %}{{ loop.index }}/{{ loop.length }}{% if loop.first %}F{% endif %}"
                   "{% if loop.last %}L{% endif %}{{ loop.revindex0 }},{% endfor %}",
                   three),
            "1/3F2,2/31,3/3L0,");
  EXPECT_EQ(
      render("{% for m in messages %}{% if loop.previtem is defined %}{{ loop.previtem.content }}{% endif %}>"
             "{{ m.content }}>{% if loop.nextitem is defined %}{{ loop.nextitem.content }}{% endif %};{% "
             "endfor %}",
             three),
      ">a>b;a>b>c;b>c>;");
  // A variable set inside a loop does not leak out of it (Jinja scoping); one set at top level does.
  EXPECT_EQ(render("{% set x = 1 %}{% for m in messages %}{% set x = 5 %}{{ x }}{% endfor %}{{ x }}", three),
            "5551");
}

TEST(ChatTemplate, ExpressionSemantics) {
  auto two = conversation({{"system", "S"}, {"user", "Hi"}});
  EXPECT_EQ(render("{{ messages[-1]['content'] }}{{ messages[1:][0].role }}{{ messages[:1] | length }}", two),
            "Hiuser1");
  EXPECT_EQ(render("{{ 'ab' in 'cabd' }} {{ 'z' not in 'abc' }} {{ 'user' in ['system', 'user'] }}"),
            "True True True");
  EXPECT_EQ(render("{{ x is defined }} {{ x is not defined }} {{ none is none }} {{ tools is none }}"),
            "False True True True");
  EXPECT_EQ(render("{{ 'yes' if add_generation_prompt else 'no' }}{{ 'x' if false }}"), "yes");
  EXPECT_EQ(
      render("{{ none }}|{{ undefined_thing }}|{{ true }}|{{ (1 + 2) * 3 }}|{{ -7 % 3 }}|{{ 'a' ~ 1 }}"),
      "None||True|9|2|a1");
  EXPECT_EQ(render("{{ '' or 'fallback' }} {{ 'a' and 'b' }} {{ not messages }}"), "fallback b False");
  EXPECT_EQ(
      render("{{ '  pad\t'.strip() }}|{{ '  pad '.lstrip() }}|{{ ' pad  '.rstrip() }}|{{ ' t ' | trim }}"),
      "pad|pad | pad|t");
  EXPECT_EQ(render("{{ \"it's\" }} {{ 'say \"hi\"\\n' }}"), "it's say \"hi\"\n");
  EXPECT_EQ(render("{{ 'abc'[1:] }}{{ ([1, 2] + [3]) | length }}"), "bc3");
  EXPECT_EQ(render("{% if 2 > 1 and 'b' >= 'a' and 1 != 2 %}ok{% elif true %}no{% else %}no{% endif %}"),
            "ok");
}

TEST(ChatTemplate, UnsupportedConstructsInBranchesNotTakenDoNotMatter) {
  EXPECT_EQ(render("{% if tools %}{{ tools | tojson(indent=4) }}{% endif %}ok"), "ok");
  EXPECT_EQ(render("{% if false %}{{ strftime_now('%d') }}{% endif %}ok"), "ok");
}

TEST(ChatTemplate, ErrorsNameTheConstructAndLine) {
  struct Case {
    const char* tmpl;
    const char* expected;
  };
  const Case cases[] = {
      {"{% macro f() %}{% endmacro %}", "line 1: unsupported construct: '{% macro %}'"},
      {"a\n{{ messages | join(', ') }}", "line 2: unsupported construct: filter 'join' with arguments"},
      {"a\n\n{{ messages | tojson }}", "line 3: unsupported construct: filter 'tojson'"},
      {"{{ {'a': 1} }}", "dict literal"},
      {"{{ 1.5 }}", "floating-point literal"},
      {"{% if true %}x", "missing {% elif or else or endif %}"},
      {"{{ x ", "unclosed tag '{{'"},
      {"{# x ", "unclosed comment"},
      {"{{ 'abc }}", "unterminated string literal"},
      {"{% for a, b in messages %}{% endfor %}", "tuple unpacking"},
      {"{% for m in messages if m %}{% endfor %}", "loop filter"},
      {"{% for m in messages %}{% else %}{% endfor %}", "'{% else %}' in a for loop"},
      {"{{ messages[0].content.upper() }}", "method '.upper()'"},
      {"{{ x.y }}", "'x' is undefined"},
      {"{{ 'a' + 1 }}", "cannot add string and integer"},
      {"{{ x + 'a' }}", "'x' is undefined"},
      {"{% endfor %}", "without a matching opening tag"},
      {"{% for c in 'abc' %}{% endfor %}", "looping over a string"},
      {"{{ messages }}", "printing a list"},
      {"{{ 1 / 2 }}", "operator '/'"},
      {"{{ 3 % 0 }}", "modulo by zero"},
      {"{{ x is odd }}", "test 'odd'"},
      {"{{ range(3) }}", "function 'range()'"},
      {"{% set x.y = 1 %}", "assignment to an attribute"},
      {"{{ 'a' @ 'b' }}", "unexpected character '@'"},
      {"{{ '\\x41' }}", "escape sequence"},
  };
  for (const Case& c : cases) {
    std::string e = error_of(c.tmpl);
    EXPECT_NE(e.find(c.expected), std::string::npos) << c.tmpl << "\n  -> " << e;
    EXPECT_NE(e.find("chat_template"), std::string::npos) << e;
  }
}

TEST(ChatTemplate, HostileNestingFailsCleanly) {
  std::string parens = std::string(5000, '(') + "1" + std::string(5000, ')');
  EXPECT_NE(error_of("{{ " + parens + " }}").find("nested more than"), std::string::npos);
  std::string chain = "{{ 'a'";
  for (int i = 0; i < 5000; ++i) chain += " + 'a'";
  EXPECT_NE(error_of(chain + " }}").find("nested more than"), std::string::npos);
  std::string blocks;
  for (int i = 0; i < 5000; ++i) blocks += "{% if true %}";
  EXPECT_NE(error_of(blocks).find("nested more than"), std::string::npos);
  std::string attributes = "{{ messages";
  for (int i = 0; i < 5000; ++i) attributes += ".x";
  EXPECT_NE(error_of(attributes + " }}").find("nested more than"), std::string::npos);
}

constexpr const char* kChatMl =
    R"({% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %})";
// Qwen2-Instruct's template: ChatML with a default system message.
constexpr const char* kQwen2 =
    R"({% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %})";
// Mistral-7B-Instruct's template.
constexpr const char* kMistral =
    R"({{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %})";

TEST(ChatTemplate, Qwen2AndMistral) {
  EXPECT_EQ(render(kQwen2, conversation({{"user", "Hi"}})),
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(render(kQwen2, conversation({{"system", "S"}, {"user", "Hi"}}, false)),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
  EXPECT_EQ(render(kMistral, conversation({{"user", "a"}, {"assistant", "b"}, {"user", "c"}})),
            "<s>[INST] a [/INST]b</s>[INST] c [/INST]");
  EXPECT_NE(error_of(kMistral, conversation({{"system", "s"}, {"user", "a"}})).find("must alternate"),
            std::string::npos);
}

// Rendering is bounded in work and size (RenderLimits); real templates must
// stay far inside those bounds, even for conversations longer than any
// model's context.
TEST(ChatTemplate, RealTemplatesRenderLongConversationsWithinTheLimits) {
  std::vector<ChatMessage> messages;
  std::size_t content_bytes = 0;
  for (int i = 0; i < 4000; ++i) {
    messages.push_back(
        {i % 2 == 0 ? "user" : "assistant", std::string(500, static_cast<char>('a' + i % 26))});
    content_bytes += 500;
  }
  messages.push_back({"user", std::string(4u << 20, 'x')});  // one 4 MiB message
  content_bytes += 4u << 20;
  for (const char* tmpl : {kChatMl, kQwen2, kMistral, kLlama2}) {
    const std::string out = render(tmpl, conversation(messages));
    EXPECT_GT(out.size(), content_bytes) << tmpl;
    EXPECT_LT(out.size(), content_bytes + 200000) << tmpl;
    EXPECT_NE(out.find(std::string(4u << 20, 'x')), std::string::npos) << tmpl;
  }
}

std::string hostile_file(const std::string& name) {
  return testing::read_file(std::filesystem::path(PARAMDELTA_SOURCE_DIR) / "tests/data/hostile" / name);
}

// Found by fuzzing: eight nested loops over ten items (10^8 iterations).
TEST(ChatTemplate, NestedLoopsStopAtTheWorkLimit) {
  const std::string e = error_of(hostile_file("chat_template_nested_loops.jinja"));
  EXPECT_EQ(
      e.rfind("tokenizer_config.json: field 'chat_template': chat template line 1: rendering exceeds the "
              "work limit of ",
              0),
      0u)
      << e;
  EXPECT_NE(e.find("steps"), std::string::npos) << e;
}

// Found by fuzzing: a string doubled 33 times (16 GiB).
TEST(ChatTemplate, StringDoublingStopsAtTheSizeLimit) {
  const std::string e = error_of(hostile_file("chat_template_doubling.jinja"));
  EXPECT_EQ(e.rfind("tokenizer_config.json: field 'chat_template': chat template line 1: a string of ", 0),
            0u)
      << e;
  EXPECT_NE(e.find("exceeds the size limit of 16 MiB"), std::string::npos) << e;
}

std::string repeated(const std::string& text, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += text;
  return out;
}

TEST(ChatTemplate, EveryWayToMultiplyWorkOrSizeIsBounded) {
  struct Case {
    std::string tmpl;
    const char* expected;
  };
  const Case cases[] = {
      // Comparing a list that shares itself 2^40 times over.
      {"{% set a = [1] %}" + repeated("{% set a = [a, a] %}", 40) + "{{ a == a }}", "work limit"},
      {"{% set a = [1] %}" + repeated("{% set a = [a, a] %}", 40) + "{{ a in [a] }}", "work limit"},
      // Copying a long string again and again (each copy is cheap in steps).
      {"{% set x = 'ab' %}" + repeated("{% set x = x + x %}", 22) + "{% set l = [1,2,3,4,5,6,7,8,9,10] %}" +
           repeated("{% for i in l %}", 5) + "{% set y = x %}" + repeated("{% endfor %}", 5),
       "work limit"},
      // A list doubled past a million items.
      {"{% set l = [1] %}" + repeated("{% set l = l + l %}", 25) + "{{ l | length }}",
       "size limit of 1048576 items"},
      // The rendered text itself.
      {"{% set x = 'ab' %}" + repeated("{% set x = x + x %}", 22) + repeated("{{ x }}", 3),
       "the rendered text exceeds the size limit"},
      {"{% set x = 'ab' %}" + repeated("{% set x = x ~ x %}", 30), "exceeds the size limit of 16 MiB"},
      // Values too deep to compare or free by recursion.
      {"{% set a = [1] %}" + repeated("{% set a = [a] %}", 200), "nested more than 100 levels"},
  };
  for (const Case& c : cases) {
    const std::string e = error_of(c.tmpl);
    EXPECT_NE(e.find(c.expected), std::string::npos) << c.tmpl.substr(0, 120) << "...\n  -> " << e;
    EXPECT_NE(e.find("tokenizer_config.json"), std::string::npos) << e;
  }
}

// "in" on strings is linear: a naive search of "aa...ab" in "aa...a" is
// quadratic (10^12 comparisons here) and would not finish.
TEST(ChatTemplate, SubstringSearchIsLinear) {
  const std::string tmpl = "{% set x = 'a' %}" + repeated("{% set x = x + x %}", 21) + "{% set y = 'a' %}" +
                           repeated("{% set y = y + y %}", 20) + "{{ (y ~ 'b') in x }}{{ y in x }}";
  EXPECT_EQ(render(tmpl), "FalseTrue");
}

TEST(ChatTemplate, LimitsAreParameters) {
  using namespace eval::jinja;
  const std::string label = "t.jinja";
  const Body body = parse(lex("{% for m in messages %}{{ m }}{% endfor %}", label), label);
  Dict globals;
  globals["messages"] = Value::from(List{Value::from(std::string("abc")), Value::from(std::string("de"))});
  EXPECT_EQ(render(body, globals, label), "abcde");
  RenderLimits tight;
  tight.max_output_bytes = 4;
  EXPECT_THROW(render(body, globals, label, tight), Error);
  tight = RenderLimits{};
  tight.max_steps = 5;
  try {
    render(body, globals, label, tight);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(format_error_line(e).find(
                  "t.jinja: field 'chat_template': chat template line 1: rendering exceeds the "
                  "work limit of 5 steps"),
              std::string::npos)
        << format_error_line(e);
  }
}

}  // namespace
}  // namespace paramdelta
