// The Jinja subset: real chat templates of common model families, Hugging
// Face's whitespace settings, expression semantics, and an error naming the
// construct and line for everything outside the subset.
#include <gtest/gtest.h>

#include "paramdelta/error.h"
#include "paramdelta/evaluate.h"

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
  EXPECT_EQ(render(tmpl, conversation({{"user", "Hi"}, {"assistant", "x"}, {"user", "Yo"}})), "U: Hi\nU: Yo\ndone");
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
  EXPECT_EQ(render("{% for m in messages %}{% if loop.previtem is defined %}{{ loop.previtem.content }}{% endif %}>"
                   "{{ m.content }}>{% if loop.nextitem is defined %}{{ loop.nextitem.content }}{% endif %};{% endfor %}",
                   three),
            ">a>b;a>b>c;b>c>;");
  // A variable set inside a loop does not leak out of it (Jinja scoping); one set at top level does.
  EXPECT_EQ(render("{% set x = 1 %}{% for m in messages %}{% set x = 5 %}{{ x }}{% endfor %}{{ x }}", three), "5551");
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
  EXPECT_EQ(render("{{ none }}|{{ undefined_thing }}|{{ true }}|{{ (1 + 2) * 3 }}|{{ -7 % 3 }}|{{ 'a' ~ 1 }}"),
            "None||True|9|2|a1");
  EXPECT_EQ(render("{{ '' or 'fallback' }} {{ 'a' and 'b' }} {{ not messages }}"), "fallback b False");
  EXPECT_EQ(render("{{ '  pad\t'.strip() }}|{{ '  pad '.lstrip() }}|{{ ' pad  '.rstrip() }}|{{ ' t ' | trim }}"),
            "pad|pad | pad|t");
  EXPECT_EQ(render("{{ \"it's\" }} {{ 'say \"hi\"\\n' }}"), "it's say \"hi\"\n");
  EXPECT_EQ(render("{{ 'abc'[1:] }}{{ ([1, 2] + [3]) | length }}"), "bc3");
  EXPECT_EQ(render("{% if 2 > 1 and 'b' >= 'a' and 1 != 2 %}ok{% elif true %}no{% else %}no{% endif %}"), "ok");
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

}  // namespace
}  // namespace paramdelta
