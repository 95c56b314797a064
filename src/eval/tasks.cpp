// JSONL task files. Every error names the file and line ("tasks.jsonl:7")
// and the field, so that a bad record in a long file is easy to find.
#include <algorithm>
#include <set>

#include "io/json_strict.h"
#include "paramdelta/error.h"
#include "paramdelta/evaluate.h"

namespace paramdelta {

namespace {

using Json = nlohmann::json;

constexpr std::uint64_t kMaxTaskFileBytes = 1ull << 30;
constexpr const char* kShapes =
    R"(expected {"prompt", "answer"[, "stop"]} or {"prompt", "choices", "label"}, each optionally with "system")";

[[noreturn]] void fail(const std::string& where, const std::string& field, const std::string& message,
                       const std::string& hint = {}) {
  throw Error(ErrorKind::kInvalidInput, message, ErrorContext{where, {}, field}, hint);
}

std::string string_field(const Json& record, const char* field, const std::string& where) {
  const Json& value = record.at(field);
  if (!value.is_string()) fail(where, field, "expected a string, got " + value.dump());
  return value.get<std::string>();
}

Task parse_record(const Json& record, const std::string& where, std::size_t line,
                  std::set<std::string>& ignored) {
  if (!record.is_object()) fail(where, {}, "expected a JSON object", kShapes);
  static const char* kKnown[] = {"prompt", "answer", "stop", "choices", "label", "system"};
  for (const auto& item : record.items()) {
    // A named copy, not a structured binding: clang 14 cannot capture those in a lambda.
    const std::string& key = item.key();
    if (std::none_of(std::begin(kKnown), std::end(kKnown), [&](const char* k) { return key == k; })) {
      ignored.insert(key);  // metadata such as "id" or "task"; reported to the caller
    }
  }
  Task task;
  task.line = line;
  task.location = where;
  if (!record.contains("prompt")) fail(where, "prompt", "missing", kShapes);
  task.prompt = string_field(record, "prompt", where);
  if (record.contains("system")) task.system = string_field(record, "system", where);

  const bool generation = record.contains("answer");
  const bool choice = record.contains("choices") || record.contains("label");
  if (generation == choice) {
    fail(where, {},
         generation ? "has both 'answer' and 'choices'/'label'" : "has neither 'answer' nor 'choices'",
         kShapes);
  }
  if (generation) {
    task.kind = TaskKind::kGeneration;
    task.answer = string_field(record, "answer", where);
    if (record.contains("stop")) {
      const Json& stop = record.at("stop");
      std::vector<std::string> strings;
      if (stop.is_string()) {
        strings.push_back(stop.get<std::string>());
      } else if (stop.is_array()) {
        for (const Json& s : stop) {
          if (!s.is_string())
            fail(where, "stop", "expected a string or a list of strings, got " + stop.dump());
          strings.push_back(s.get<std::string>());
        }
      } else {
        fail(where, "stop", "expected a string or a list of strings, got " + stop.dump());
      }
      if (std::any_of(strings.begin(), strings.end(), [](const std::string& s) { return s.empty(); })) {
        fail(where, "stop", "stop strings must not be empty");
      }
      task.stop = std::move(strings);
    }
    return task;
  }
  task.kind = TaskKind::kChoice;
  if (record.contains("stop")) fail(where, "stop", "only generation tasks (with 'answer') take stop strings");
  if (!record.contains("choices")) fail(where, "choices", "missing ('label' needs 'choices')");
  if (!record.contains("label")) fail(where, "label", "missing ('choices' needs 'label')");
  const Json& choices = record.at("choices");
  if (!choices.is_array() || choices.size() < 2)
    fail(where, "choices", "expected a list of at least two strings");
  for (const Json& c : choices) {
    if (!c.is_string()) fail(where, "choices", "expected a list of strings, got " + c.dump());
    task.choices.push_back(c.get<std::string>());
  }
  const Json& label = record.at("label");
  if (!label.is_number_integer() || label.get<std::int64_t>() < 0 ||
      label.get<std::int64_t>() >= static_cast<std::int64_t>(task.choices.size())) {
    fail(where, "label",
         "expected an integer index into 'choices' (0.." + std::to_string(task.choices.size() - 1) +
             "), got " + label.dump());
  }
  task.label = static_cast<std::size_t>(label.get<std::int64_t>());
  return task;
}

}  // namespace

std::vector<Task> parse_tasks_jsonl(std::string_view text, const std::string& label, std::size_t limit,
                                    std::vector<std::string>* ignored_fields) {
  std::set<std::string> ignored;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // a UTF-8 byte-order mark
  std::vector<Task> tasks;
  std::size_t line = 0;
  std::size_t pos = 0;
  while (pos < text.size() && (limit == 0 || tasks.size() < limit)) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view content = text.substr(pos, end - pos);
    pos = end + 1;
    ++line;
    if (!content.empty() && content.back() == '\r') content.remove_suffix(1);
    if (std::all_of(content.begin(), content.end(), [](char c) { return c == ' ' || c == '\t'; })) continue;
    const std::string where = label + ":" + std::to_string(line);
    Json record = parse_json_strict(content, where);
    tasks.push_back(parse_record(record, where, line, ignored));
  }
  if (tasks.empty())
    throw Error(ErrorKind::kInvalidInput, "no tasks in the file", ErrorContext{label, {}, {}});
  if (ignored_fields) ignored_fields->assign(ignored.begin(), ignored.end());
  return tasks;
}

std::vector<Task> read_tasks_jsonl(const std::filesystem::path& path, std::size_t limit,
                                   std::vector<std::string>* ignored_fields) {
  return parse_tasks_jsonl(read_small_file(path.string(), kMaxTaskFileBytes), path.string(), limit,
                           ignored_fields);
}

}  // namespace paramdelta
