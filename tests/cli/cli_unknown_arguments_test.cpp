// A mistyped command or flag is named, with the closest real one, in one
// usage line (exit code 2), before any complaint about missing flags.
#include <gtest/gtest.h>

#include "cli/cli_test_support.h"

namespace paramdelta {
namespace {

using namespace testing;

// Exit code 2 and exactly one line on standard error, containing every part.
void expect_one_usage_line(const CommandResult& r, const std::vector<std::string>& parts) {
  EXPECT_EQ(r.exit_code, 2) << r.err;
  const auto lines = lines_of(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_EQ(lines[0].rfind("paramdelta: usage error: ", 0), 0u) << lines[0];
  for (const auto& part : parts) {
    EXPECT_NE(lines[0].find(part), std::string::npos) << "'" << part << "' not in: " << lines[0];
  }
  EXPECT_EQ(lines[0].find("is required"), std::string::npos) << lines[0];
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(CliUnknownArguments, AMisspeltCommandIsNamedWithTheClosestCommand) {
  expect_one_usage_line(run_cli({"compute_delta", "--base", "a", "--post", "b", "-o", "c"}),
                        {"'compute_delta'", "did you mean 'compute-delta'", "'compute'"});
  expect_one_usage_line(run_cli({"aply", "--base", "a"}), {"'aply'", "did you mean 'apply'"});
}

TEST(CliUnknownArguments, AWordThatIsNoCommandListsTheCommands) {
  expect_one_usage_line(run_cli({"batch", "jobs.yaml"}), {"'batch' is not a paramdelta command",
                                                          "analyze, apply, combine, compute, cp, eval"});
}

TEST(CliUnknownArguments, NoCommandListsTheCommands) {
  expect_one_usage_line(run_cli({}), {"no command given", "analyze, apply, combine, compute, cp, eval"});
}

TEST(CliUnknownArguments, AnUnderscoredFlagIsNamedWithItsDashedSpelling) {
  expect_one_usage_line(
      run_cli({"compute", "--base_model", "a", "--post", "b", "-o", "c"}),
      {"unknown flag '--base_model' for 'compute'", "did you mean '--base-model'", "'--base'"});
}

TEST(CliUnknownArguments, AnExtendedFlagIsNamedWithTheFlagItExtends) {
  expect_one_usage_line(run_cli({"apply", "--base", "a", "--delta-file", "d", "-o", "c"}),
                        {"unknown flag '--delta-file' for 'apply'", "did you mean '--delta'"});
}

TEST(CliUnknownArguments, AnAbbreviatedFlagIsNamedWithTheFullFlag) {
  expect_one_usage_line(run_cli({"compute", "--base", "a", "--post", "b", "--out", "c"}),
                        {"unknown flag '--out' for 'compute'", "did you mean '--output'", "'-o'"});
  expect_one_usage_line(run_cli({"compute", "--base", "a", "--post", "b", "--out=c"}),
                        {"unknown flag '--out' for 'compute'", "did you mean '--output'"});
}

TEST(CliUnknownArguments, AFlagWithNothingCloseSaysWhereTheFlagsAreListed) {
  expect_one_usage_line(run_cli({"verify", "--frobnicate", "--base", "a"}),
                        {"unknown flag '--frobnicate' for 'verify'", "paramdelta verify --help"});
}

TEST(CliUnknownArguments, AStrayPositionalArgumentIsNamed) {
  expect_one_usage_line(run_cli({"compute", "--base", "a", "stray"}),
                        {"unexpected argument 'stray'", "'compute' takes no positional arguments"});
}

TEST(CliUnknownArguments, ACommandsFlagBeforeTheCommandIsSaidToGoAfterIt) {
  expect_one_usage_line(run_cli({"--base", "a", "compute", "--post", "b", "-o", "c"}),
                        {"'--base'", "after the command"});
}

}  // namespace
}  // namespace paramdelta
