// How paths are spelled: a trailing slash changes nothing, a directory given
// to --html receives analysis.html, and URLs of remote storage are refused as
// not supported yet (rather than "no such file or directory").
#include <gtest/gtest.h>

#include <algorithm>

#include "cli/cli_test_support.h"

namespace paramdelta {
namespace {

namespace fs = std::filesystem;
using namespace testing;

class CliPaths : public ::testing::Test {
 protected:
  void SetUp() override { write_llama_pair(s_.path()); }
  std::string p(const std::string& name) const { return (s_ / name).string(); }
  CommandResult compute(const std::string& base, const std::string& post, const std::string& out) {
    return run_cli({"compute", "--base", base, "--post", post, "-o", out, "--quiet"});
  }
  ScratchDir s_;
};

TEST_F(CliPaths, ATrailingSlashOnADirectoryOutputWritesThatDirectory) {
  const CommandResult c = compute(p("base"), p("post"), p("delta") + "/");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_TRUE(fs::is_regular_file(s_ / "delta" / "paramdelta.json"));
  const CommandResult a = run_cli(
      {"apply", "--base", p("base"), "--delta", p("delta") + "/", "-o", p("model") + "//", "--quiet"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_TRUE(fs::is_regular_file(s_ / "model" / "config.json"));
  const CommandResult v =
      run_cli({"verify", "--base", p("base"), "--delta", p("delta"), "--expect", p("model")});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

TEST_F(CliPaths, ATrailingSlashOnASingleFileOutputWritesThatFile) {
  const CommandResult c = compute(p("base"), p("post"), p("delta.safetensors") + "/");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_TRUE(fs::is_regular_file(s_ / "delta.safetensors"));
}

TEST_F(CliPaths, ATrailingSlashOnAnInputFileReadsThatFile) {
  ASSERT_TRUE(fs::is_regular_file(s_ / "post" / "model.safetensors"));
  const CommandResult c = compute(p("base") + "/", p("post") + "/model.safetensors/", p("delta.safetensors"));
  ASSERT_EQ(c.exit_code, 0) << c.err;
  const CommandResult i = run_cli({"inspect", p("delta.safetensors") + "/"});
  EXPECT_EQ(i.exit_code, 0) << i.err;
}

TEST_F(CliPaths, HtmlIntoAnExistingDirectoryWritesAnalysisHtmlThere) {
  ASSERT_EQ(compute(p("base"), p("post"), p("delta")).exit_code, 0);
  fs::create_directories(s_ / "reports");
  for (const std::string& spelling : {p("reports"), p("reports") + "/"}) {
    SCOPED_TRACE(spelling);
    fs::remove(s_ / "reports" / "analysis.html");
    const CommandResult r = run_cli({"analyze", "--delta", p("delta"), "--html", spelling});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(read_file(s_ / "reports" / "analysis.html").find("<html"), std::string::npos);
    EXPECT_NE(r.out.find((s_ / "reports" / "analysis.html").string()), std::string::npos) << r.out;
  }
}

TEST_F(CliPaths, HtmlIntoAMissingDirectorySaysItDoesNotExist) {
  ASSERT_EQ(compute(p("base"), p("post"), p("delta")).exit_code, 0);
  const CommandResult r = run_cli({"analyze", "--delta", p("delta"), "--html", p("reports") + "/"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  ASSERT_EQ(lines_of(r.err).size(), 1u) << r.err;
  EXPECT_NE(r.err.find(p("reports")), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(s_ / "reports"));
}

const std::vector<std::string>& remote_urls() {
  // Object stores (az://, s3://) are locations: see AzureWithoutAnAccount and tests/interop.
  static const std::vector<std::string> urls = {
      "gs://bucket/models/llama",
      "https://example.com/models/llama/model.safetensors",
      "http://example.com/models/llama",
  };
  return urls;
}

TEST_F(CliPaths, RemoteInputsSayTheirSchemeIsNotSupportedYet) {
  ASSERT_EQ(compute(p("base"), p("post"), p("delta")).exit_code, 0);
  write_file(s_ / "text.txt", "Some text to score.\n");
  for (const std::string& url : remote_urls()) {
    SCOPED_TRACE(url);
    const std::string scheme = url.substr(0, url.find("://") + 3);
    const std::string said = url + ": " + scheme + " locations are not supported yet";
    expect_one_line_error(compute(url, p("post"), p("out")), said);
    expect_one_line_error(compute(p("base"), url, p("out")), said);
    expect_one_line_error(run_cli({"apply", "--base", p("base"), "--delta", url, "-o", p("out")}), said);
    expect_one_line_error(run_cli({"combine", "--delta", p("delta"), "--delta", url, "-o", p("out")}), said);
    expect_one_line_error(run_cli({"inspect", url}), said);
    expect_one_line_error(run_cli({"analyze", "--delta", url}), said);
    expect_one_line_error(run_cli({"eval", "--model", url, "--model", p("base"), "--data", p("text.txt"),
                                   "--metric", "perplexity"}),
                          said);
    expect_one_line_error(run_cli({"logits", "--model", url, "--ids", "1,2"}), said);
    expect_one_line_error(run_cli({"tokenize", "--tokenizer", url, "--text", "hi"}), said);
    EXPECT_FALSE(fs::exists(s_ / "out"));
  }
}

TEST_F(CliPaths, RemoteOutputsSayTheirSchemeIsNotSupportedYet) {
  ASSERT_EQ(compute(p("base"), p("post"), p("delta")).exit_code, 0);
  for (const std::string& url : remote_urls()) {
    SCOPED_TRACE(url);
    const std::string scheme = url.substr(0, url.find("://") + 3);
    const std::string said = url + ": " + scheme + " locations are not supported yet";
    // Run from the scratch directory: nothing named like the URL may appear there.
    auto in_scratch = [&](const std::string& args) {
      return run_shell("cd '" + s_.path().string() + "' && exec '" + cli_path().string() + "' " + args);
    };
    expect_one_line_error(in_scratch("compute --base base --post post -o '" + url + "' --quiet"), said);
    expect_one_line_error(in_scratch("apply --base base --delta delta -o '" + url + "' --quiet"), said);
    expect_one_line_error(in_scratch("combine --delta delta --delta delta -o '" + url + "' --quiet"), said);
    expect_one_line_error(in_scratch("analyze --delta delta --html '" + url + "'"), said);
    const std::string first = url.substr(0, url.find(':'));
    EXPECT_FALSE(fs::exists(s_ / (first + ":")));
  }
}

TEST_F(CliPaths, AzureWithoutAnAccountIsOneLineNamingTheSettings) {
  ASSERT_EQ(compute(p("base"), p("post"), p("delta")).exit_code, 0);
  const std::string url = "az://container/models/llama";
  // Run from the scratch directory (no .env) with no Azure settings.
  auto in_scratch = [&](const std::string& args) {
    return run_shell("cd '" + s_.path().string() +
                     "' && env -u AZURE_STORAGE_CONNECTION_STRING -u AZURE_STORAGE_ACCOUNT_NAME "
                     "-u AZURE_STORAGE_ACCOUNT_KEY -u AZURE_STORAGE_SAS_TOKEN '" +
                     cli_path().string() + "' " + args);
  };
  for (const std::string& args : {"inspect '" + url + "'", "compute --base '" + url + "' --post post -o out",
                                  "compute --base base --post post -o '" + url + "' --quiet",
                                  "logits --model '" + url + "' --ids 1,2"}) {
    SCOPED_TRACE(args);
    const CommandResult r = in_scratch(args);
    EXPECT_EQ(r.exit_code, 2) << r.err;  // a setting to make: a usage error
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find("AZURE_STORAGE_CONNECTION_STRING"), std::string::npos) << r.err;
  }
  const CommandResult r = in_scratch("tokenize --tokenizer '" + url + "' --text hi");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("other inputs are local paths"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(s_ / "out"));
  EXPECT_FALSE(fs::exists(s_ / "az:"));
}

}  // namespace
}  // namespace paramdelta
