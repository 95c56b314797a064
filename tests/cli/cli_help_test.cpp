// Every command's --help works and documents every flag.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>

#include "cli/cli_test_support.h"

namespace paramdelta {
namespace {

using namespace testing;

struct CommandFlags {
  std::string command;
  std::vector<std::string> flags;
};

const std::vector<std::string> kShared = {"--threads", "--quiet", "--json"};
const std::vector<std::string> kWriting = {"--force", "--max-shard-size"};

const std::vector<CommandFlags> kCommands = {
    {"compute", {"--base", "--post", "--output", "--delta-dtype", "--vocab-mismatch", "--allow-non-finite"}},
    {"apply",
     {"--base", "--delta", "--output", "--scale", "--dtype", "--vocab-mismatch", "--allow-non-finite"}},
    {"combine", {"--delta", "--weight", "--method", "--density", "--seed", "--output", "--delta-dtype"}},
    {"verify", {"--base", "--delta", "--expect", "--scale", "--all"}},
    {"analyze", {"--delta", "--base", "--new-base", "--other-delta", "--top", "--all", "--html", "--force"}},
    {"inspect", {"--json", "path"}},
};

// The help entry that introduces `flag`: its line, and the continuation line
// where CLI11 wraps a long flag specification.
std::string help_entry(const std::string& help, const std::string& flag) {
  const auto lines = lines_of(help);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    const auto first = line.find_first_not_of(' ');
    if (first == std::string::npos) continue;
    // The flag must be in the entry's specification (before the description column).
    const auto pos = line.find(flag);
    if (pos == std::string::npos || pos > 30) continue;
    if (pos > 0 && line[pos - 1] != ' ' && line[pos - 1] != ',') continue;
    const char after = line.size() > pos + flag.size() ? line[pos + flag.size()] : ' ';
    if (after != ' ' && after != ',') continue;
    std::string entry = line;
    if (i + 1 < lines.size() && lines[i + 1].find_first_not_of(' ') >= 20 &&
        lines[i + 1].find_first_not_of(' ') != std::string::npos) {
      entry += " " + lines[i + 1];
    }
    return entry;
  }
  return {};
}

// Words of a help entry that describe: not flag names, not CLI11's type and
// requirement markers (TEXT, INT, REQUIRED, ...).
int description_words(const std::string& entry) {
  std::istringstream words(entry);
  int count = 0;
  for (std::string w; words >> w;) {
    const bool flag_name = w[0] == '-';
    const bool marker = std::all_of(w.begin(), w.end(), [](char c) {
      return std::isupper(static_cast<unsigned char>(c)) || c == ':' || c == '[' || c == ']';
    });
    count += !flag_name && !marker;
  }
  return count;
}

TEST(CliHelp, EveryCommandDocumentsEveryFlag) {
  for (const auto& c : kCommands) {
    const CommandResult r = run_cli({c.command, "--help"});
    EXPECT_EQ(r.exit_code, 0) << c.command << ": " << r.err;
    std::vector<std::string> flags = c.flags;
    if (c.command != "inspect") flags.insert(flags.end(), kShared.begin(), kShared.end());
    if (c.command == "compute" || c.command == "apply" || c.command == "combine") {
      flags.insert(flags.end(), kWriting.begin(), kWriting.end());
    }
    for (const auto& flag : flags) {
      const std::string entry = help_entry(r.out, flag);
      ASSERT_FALSE(entry.empty()) << c.command << " --help does not list " << flag << "\n" << r.out;
      EXPECT_GE(description_words(entry), 2) << c.command << " " << flag << " has no description: " << entry;
    }
  }
}

TEST(CliHelp, TopLevelHelpListsEveryCommand) {
  const CommandResult r = run_cli({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* c : {"compute", "apply", "combine", "verify", "analyze", "inspect"}) {
    EXPECT_NE(r.out.find(c), std::string::npos) << c;
  }
}

TEST(CliHelp, SeedCompatibleAliasesAreAccepted) {
  const CommandResult compute = run_cli({"compute-delta", "--help"});
  EXPECT_EQ(compute.exit_code, 0);
  EXPECT_NE(compute.out.find("--base-model"), std::string::npos);
  EXPECT_NE(compute.out.find("--post-model"), std::string::npos);
  const CommandResult apply = run_cli({"apply-delta", "--help"});
  EXPECT_EQ(apply.exit_code, 0);
  EXPECT_NE(apply.out.find("--delta-path"), std::string::npos);
  EXPECT_NE(apply.out.find("--base-model"), std::string::npos);
}

TEST(CliHelp, VersionIsPrinted) {
  const CommandResult r = run_cli({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("paramdelta"), std::string::npos);
}

}  // namespace
}  // namespace paramdelta
