// JSONL task files: both task shapes, and errors that name file, line and field.
#include <gtest/gtest.h>

#include "paramdelta/error.h"
#include "paramdelta/evaluate.h"
#include "support/test_support.h"

namespace paramdelta {
namespace {

std::string error_of(std::string_view text) {
  try {
    parse_tasks_jsonl(text, "tasks.jsonl");
  } catch (const Error& e) {
    return format_error_line(e);
  }
  return "(no error)";
}

TEST(Tasks, ParsesBothShapesSkippingBlankLines) {
  const char* text =
      "\xEF\xBB\xBF{\"prompt\": \"2+2=\", \"answer\": \" 4\", \"stop\": [\"\\n\", \".\"]}\r\n"
      "\n"
      "   \n"
      "{\"prompt\": \"Sky is\", \"choices\": [\" blue\", \" green\"], \"label\": 0, \"system\": \"Be "
      "brief.\"}\n"
      "{\"prompt\": \"x\", \"answer\": \"y\", \"stop\": \"!\"}";
  std::vector<Task> tasks = parse_tasks_jsonl(text, "tasks.jsonl");
  ASSERT_EQ(tasks.size(), 3u);
  EXPECT_EQ(tasks[0].kind, TaskKind::kGeneration);
  EXPECT_EQ(tasks[0].line, 1u);
  EXPECT_EQ(tasks[0].prompt, "2+2=");
  EXPECT_EQ(tasks[0].answer, " 4");
  EXPECT_EQ(*tasks[0].stop, (std::vector<std::string>{"\n", "."}));
  EXPECT_EQ(tasks[1].kind, TaskKind::kChoice);
  EXPECT_EQ(tasks[1].line, 4u);
  EXPECT_EQ(tasks[1].location, "tasks.jsonl:4");
  EXPECT_EQ(tasks[1].choices, (std::vector<std::string>{" blue", " green"}));
  EXPECT_EQ(tasks[1].label, 0u);
  EXPECT_EQ(*tasks[1].system, "Be brief.");
  EXPECT_EQ(*tasks[2].stop, std::vector<std::string>{"!"});
  EXPECT_FALSE(tasks[1].stop.has_value());

  EXPECT_EQ(parse_tasks_jsonl(text, "tasks.jsonl", 2).size(), 2u);
}

TEST(Tasks, ErrorsNameFileLineAndField) {
  struct Case {
    std::string text;
    std::string expected;
  };
  const std::string ok = R"({"prompt": "a", "answer": "b"})";
  const Case cases[] = {
      {ok + "\n\n{\"prompt\": \"a\", \"answer\": }\n", "tasks.jsonl:3: invalid JSON"},
      {ok + "\n[1, 2]\n", "tasks.jsonl:2: expected a JSON object"},
      {R"({"answer": "b"})", "tasks.jsonl:1: field 'prompt': missing"},
      {R"({"prompt": 3, "answer": "b"})", "field 'prompt': expected a string"},
      {R"({"prompt": "a", "anwser": "c"})", "has neither 'answer' nor 'choices'"},
      {R"({"prompt": "a"})", "has neither 'answer' nor 'choices'"},
      {R"({"prompt": "a", "answer": "b", "choices": ["x", "y"], "label": 0})", "has both"},
      {R"({"prompt": "a", "choices": ["x", "y"], "label": 2})", "field 'label': expected an integer index"},
      {R"({"prompt": "a", "choices": ["x", "y"], "label": "A"})", "field 'label'"},
      {R"({"prompt": "a", "choices": ["x", "y"], "label": -1})", "field 'label'"},
      {R"({"prompt": "a", "choices": ["x"], "label": 0})", "at least two"},
      {R"({"prompt": "a", "choices": ["x", 2], "label": 0})", "field 'choices': expected a list of strings"},
      {R"({"prompt": "a", "choices": ["x", "y"]})", "field 'label': missing"},
      {R"({"prompt": "a", "label": 0})", "field 'choices': missing"},
      {R"({"prompt": "a", "answer": "b", "stop": ""})", "field 'stop': stop strings must not be empty"},
      {R"({"prompt": "a", "answer": "b", "stop": 5})", "field 'stop': expected a string or a list"},
      {R"({"prompt": "a", "choices": ["x", "y"], "label": 0, "stop": "."})", "only generation tasks"},
      {R"({"prompt": "a", "answer": "b", "answer": "c"})", "duplicate JSON key"},
      {"\n\n", "no tasks"},
  };
  for (const Case& c : cases) {
    std::string e = error_of(c.text);
    EXPECT_NE(e.find(c.expected), std::string::npos) << c.text << "\n  -> " << e;
    EXPECT_EQ(e.find('\n'), std::string::npos);
  }
}

TEST(Tasks, OtherFieldsAreIgnoredAndReported) {
  std::vector<std::string> ignored;
  auto tasks = parse_tasks_jsonl(
      "{\"prompt\": \"a\", \"answer\": \"b\", \"task\": \"city\", \"id\": 7}\n"
      "{\"prompt\": \"a\", \"answer\": \"b\", \"stops\": [\".\"]}\n",
      "tasks.jsonl", 0, &ignored);
  EXPECT_EQ(tasks.size(), 2u);
  EXPECT_EQ(ignored, (std::vector<std::string>{"id", "stops", "task"}));
  EXPECT_FALSE(tasks[1].stop.has_value());
}

TEST(Tasks, ReadsAFileAndNamesIt) {
  testing::ScratchDir dir;
  testing::write_file(dir / "t.jsonl", "{\"prompt\": \"a\", \"answer\": \"b\"}\n{oops}\n");
  try {
    read_tasks_jsonl(dir / "t.jsonl");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(format_error_line(e).find((dir / "t.jsonl").string() + ":2"), std::string::npos)
        << format_error_line(e);
  }
  EXPECT_THROW(read_tasks_jsonl(dir / "missing.jsonl"), Error);
}

TEST(Tasks, TrimAsciiWhitespaceIsTheOnlyNormalisation) {
  EXPECT_EQ(trim_ascii_whitespace(" \t\n Paris \r\n"), "Paris");
  EXPECT_EQ(trim_ascii_whitespace("  New  York "), "New  York");
  EXPECT_EQ(trim_ascii_whitespace("\xC2\xA0x"), "\xC2\xA0x");  // a no-break space is not ASCII whitespace
  EXPECT_EQ(trim_ascii_whitespace(" \n "), "");
}

}  // namespace
}  // namespace paramdelta
