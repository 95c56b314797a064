#include "unknown_arguments.h"

#include <algorithm>
#include <vector>

#include "paramdelta/spelling.h"

namespace paramdelta::cli {
namespace {

bool looks_like_flag(const std::string& argument) { return argument.size() > 1 && argument[0] == '-'; }

// "--out=c" -> "--out"
std::string flag_name(const std::string& argument) { return argument.substr(0, argument.find('=')); }

std::string quoted(const std::string& text) { return "'" + text + "'"; }

std::vector<const CLI::App*> all_commands(const CLI::App& app) {
  return app.get_subcommands([](const CLI::App*) { return true; });
}

const CLI::App* parsed_command(const CLI::App& app) {
  for (const CLI::App* command : all_commands(app)) {
    if (command->parsed()) return command;
  }
  return nullptr;
}

std::string command_list(const CLI::App& app) {
  std::string out;
  for (const CLI::App* command : all_commands(app)) out += (out.empty() ? "" : ", ") + command->get_name();
  return out;
}

// Every spelling of one thing (a command and its aliases, a flag's long and
// short names), so that a suggestion can show the one that matched first.
struct Spellings {
  std::vector<std::string> names;
};

std::vector<Spellings> flag_spellings(const CLI::App& app) {
  std::vector<Spellings> out;
  for (const CLI::Option* option : app.get_options()) {
    if (!option->nonpositional()) continue;
    Spellings spellings;
    for (const std::string& name : option->get_lnames()) spellings.names.push_back("--" + name);
    for (const std::string& name : option->get_snames()) spellings.names.push_back("-" + name);
    if (!spellings.names.empty()) out.push_back(std::move(spellings));
  }
  return out;
}

std::vector<Spellings> command_spellings(const CLI::App& app) {
  std::vector<Spellings> out;
  for (const CLI::App* command : all_commands(app)) {
    Spellings spellings{{command->get_name()}};
    for (const std::string& alias : command->get_aliases()) spellings.names.push_back(alias);
    out.push_back(std::move(spellings));
  }
  return out;
}

// "; did you mean '--base-model' (same as '--base')?", or "" when nothing is close.
std::string suggestion(const std::string& word, const std::vector<Spellings>& known) {
  std::vector<std::string> names;
  for (const Spellings& s : known) names.insert(names.end(), s.names.begin(), s.names.end());
  const std::vector<std::string> matches = closest_names(word, names, names.size());
  std::vector<std::string> alternatives;
  for (const Spellings& s : known) {
    const auto match = std::find_first_of(s.names.begin(), s.names.end(), matches.begin(), matches.end());
    if (match == s.names.end() || alternatives.size() == 3) continue;
    std::string same;
    for (const std::string& name : s.names) {
      if (name != *match) same += (same.empty() ? "" : ", ") + quoted(name);
    }
    alternatives.push_back(quoted(*match) + (same.empty() ? "" : " (same as " + same + ")"));
  }
  if (alternatives.empty()) return {};
  std::string out = "; did you mean ";
  for (std::size_t i = 0; i < alternatives.size(); ++i) {
    out += (i == 0 ? "" : i + 1 == alternatives.size() ? " or " : ", ") + alternatives[i];
  }
  return out + "?";
}

bool has_flag(const CLI::App& command, const std::string& name) {
  for (const Spellings& s : flag_spellings(command)) {
    if (std::find(s.names.begin(), s.names.end(), name) != s.names.end()) return true;
  }
  return false;
}

std::string help_pointer(const CLI::App* command) {
  return std::string(" (see 'paramdelta ") + (command ? command->get_name() + " " : "") + "--help')";
}

std::string describe_in_command(const CLI::App& command, const std::vector<std::string>& rest) {
  const auto flag = std::find_if(rest.begin(), rest.end(), looks_like_flag);
  const std::string name = command.get_name();
  // A flag first: an argument after an unknown flag is most likely its value.
  if (flag != rest.end()) {
    const std::string typed = flag_name(*flag);
    return "unknown flag " + quoted(typed) + " for " + quoted(name) +
           suggestion(typed, flag_spellings(command)) + help_pointer(&command);
  }
  std::size_t positionals = 0;
  for (const CLI::Option* option : command.get_options()) positionals += !option->nonpositional();
  return "unexpected argument " + quoted(rest.front()) + ": " + quoted(name) + " takes " +
         (positionals == 0   ? std::string("no positional arguments")
          : positionals == 1 ? std::string("one positional argument")
                             : std::to_string(positionals) + " positional arguments") +
         help_pointer(&command);
}

std::string describe_before_command(const CLI::App& app, const CLI::App* command, const std::string& first) {
  if (looks_like_flag(first)) {
    const std::string typed = flag_name(first);
    for (const CLI::App* c : all_commands(app)) {
      if (has_flag(*c, typed) && (command == nullptr || command == c)) {
        return "flag " + quoted(typed) + " goes after the command: 'paramdelta " +
               (command ? command->get_name() : std::string("COMMAND")) + " " + typed + " ...'" +
               help_pointer(command);
      }
    }
    return "unknown flag " + quoted(typed) + suggestion(typed, flag_spellings(app)) + help_pointer(nullptr);
  }
  if (command != nullptr) {
    return "unexpected argument " + quoted(first) + " before the command " + quoted(command->get_name()) +
           help_pointer(nullptr);
  }
  const std::string close = suggestion(first, command_spellings(app));
  if (!close.empty()) return "unknown command " + quoted(first) + close + help_pointer(nullptr);
  return quoted(first) + " is not a paramdelta command; the commands are " + command_list(app) +
         help_pointer(nullptr);
}

}  // namespace

std::optional<std::string> describe_unrecognized_argument(const CLI::App& app) {
  const CLI::App* command = parsed_command(app);
  const std::vector<std::string> before = app.remaining();
  if (!before.empty()) return describe_before_command(app, command, before.front());
  if (command != nullptr) {
    const std::vector<std::string> rest = command->remaining();
    if (!rest.empty()) return describe_in_command(*command, rest);
  }
  return std::nullopt;
}

std::optional<std::string> describe_missing_command(const CLI::App& app) {
  if (parsed_command(app) != nullptr) return std::nullopt;
  return "no command given; the commands are " + command_list(app) + help_pointer(nullptr);
}

}  // namespace paramdelta::cli
