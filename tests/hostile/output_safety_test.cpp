// Outputs are never damaged: an existing output is kept unless --force, a
// forced run that fails keeps the old output, a full disk (the file size limit
// of RLIMIT_FSIZE) gives one clear line and no temporary files, and hostile
// inputs stay inside a small memory limit. (kill -9 at random moments is
// tested in tests/interop/test_crash_safety.py.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "hostile/hostile_support.h"

namespace paramdelta::testing {
namespace {

namespace fs = std::filesystem;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

std::string quoted(const fs::path& p) {
  std::string out = "'";
  for (char c : p.string()) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string cli() { return quoted(cli_path()); }

// A model whose delta is a few hundred KiB: large enough to pass a small file size limit.
void write_wide_model(const fs::path& dir, int variant) {
  fs::create_directories(dir);
  const std::size_t n = 128 * 1024;
  SafetensorsParts p;
  p.header["__metadata__"] = {{"format", "pt"}};
  p.header["w"] = {{"dtype", "F32"}, {"shape", {n}}, {"data_offsets", {0, 4 * n}}};
  p.data.resize(4 * n);
  for (std::size_t i = 0; i < n; ++i) {
    const float v = static_cast<float>(i % 1000) * 0.001f + static_cast<float>(variant) * 0.37f;
    std::memcpy(p.data.data() + 4 * i, &v, 4);
  }
  write_file(dir / "model.safetensors", p.bytes());
  write_file(dir / "config.json", R"({"model_type": "llama"})");
}

class OutputSafety : public ::testing::Test {
 protected:
  void SetUp() override {
    write_small_model(s_ / "base", 0);
    write_small_model(s_ / "post", 1);
  }
  CommandResult compute(const fs::path& out, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "compute",    "--base", (s_ / "base").string(), "--post", (s_ / "post").string(), "-o",
        out.string(), "--quiet"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_cli(args);
  }
  ScratchDir s_;
};

TEST_F(OutputSafety, ExistingDirectoryIsKeptWithoutForce) {
  const fs::path out = s_ / "delta";
  fs::create_directories(out);
  write_file(out / "precious.txt", "keep me");
  expect_rejected(compute(out), {out.string() + ": ", "already exists", "--force"});
  EXPECT_EQ(read_file(out / "precious.txt"), "keep me");
  EXPECT_EQ(fs::directory_iterator(out)->path().filename(), "precious.txt");
  EXPECT_TRUE(staging_leftovers(s_.path()).empty());
}

TEST_F(OutputSafety, ExistingFileIsKeptWithoutForce) {
  for (const char* name : {"delta.safetensors", "delta"}) {
    const fs::path out = s_ / name;
    write_file(out, "keep me");
    expect_rejected(compute(out), {out.string() + ": ", "already exists"});
    EXPECT_EQ(read_file(out), "keep me");
  }
  // apply as well.
  ASSERT_EQ(compute(s_ / "d").exit_code, 0);
  write_file(s_ / "model", "keep me");
  expect_rejected(run_cli({"apply", "--base", (s_ / "base").string(), "--delta", (s_ / "d").string(), "-o",
                           (s_ / "model").string()}),
                  {"already exists"});
  EXPECT_EQ(read_file(s_ / "model"), "keep me");
  EXPECT_TRUE(staging_leftovers(s_.path()).empty());
}

TEST_F(OutputSafety, DanglingSymlinkCountsAsExisting) {
  const fs::path out = s_ / "delta";
  fs::create_symlink(s_ / "nowhere", out);
  expect_rejected(compute(out), {"already exists"});
  EXPECT_FALSE(fs::exists(s_ / "nowhere"));
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(out)));
}

TEST_F(OutputSafety, ForceReplacesAPreviousOutputWithACompleteOne) {
  for (const char* name : {"delta", "delta.safetensors"}) {
    const fs::path out = s_ / name;
    ASSERT_EQ(compute(out, {"--delta-dtype", "f32"}).exit_code, 0);
    auto r = compute(out, {"--force"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto v = run_cli({"verify", "--base", (s_ / "base").string(), "--delta", out.string(), "--expect",
                      (s_ / "post").string()});
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
    const std::string manifest = read_file(fs::is_directory(out) ? out / "paramdelta.json" : out);
    EXPECT_EQ(manifest.find("plain"), std::string::npos) << "the lossless delta took the compact one's place";
    EXPECT_TRUE(staging_leftovers(s_.path()).empty());
  }
}

// --force replaces only what paramdelta could have written in that place.
// Each kind of existing destination, and what becomes of it:

TEST_F(OutputSafety, ForceReplacesAFileWithAFile) {
  ASSERT_EQ(compute(s_ / "d").exit_code, 0);
  write_file(s_ / "page.html", "old page");
  auto r = run_cli({"analyze", "--delta", (s_ / "d").string(), "--html", (s_ / "page.html").string(),
                    "--force", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(read_file(s_ / "page.html").find("<html"), std::string::npos);
  write_file(s_ / "old.safetensors", "old weights");
  ASSERT_EQ(compute(s_ / "old.safetensors", {"--force"}).exit_code, 0);
  EXPECT_EQ(run_cli({"inspect", (s_ / "old.safetensors").string()}).exit_code, 0);
}

TEST_F(OutputSafety, ForceReplacesAModelDirectory) {
  // A model: config.json and safetensors weights, with the files a model
  // directory carries beside them (generation config, tokenizer files).
  ASSERT_EQ(compute(s_ / "d").exit_code, 0);
  auto apply = [&](const fs::path& out, std::vector<std::string> extra) {
    std::vector<std::string> args = {
        "apply",      "--base", (s_ / "base").string(), "--delta", (s_ / "d").string(), "-o",
        out.string(), "--quiet"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_cli(args);
  };
  ASSERT_EQ(apply(s_ / "expected", {}).exit_code, 0);
  ASSERT_EQ(apply(s_ / "expected-base", {"--scale", "0"}).exit_code, 0);
  const fs::path model = s_ / "model";
  write_small_model(model, 0);
  write_file(model / "tokenizer.json", "{}");
  write_file(model / "generation_config.json", "{}");
  auto r = apply(model, {"--force"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(model / "tokenizer.json"));
  EXPECT_EQ(read_file(model / "model.safetensors"), read_file(s_ / "expected" / "model.safetensors"));
  // An earlier apply's output (a model without a manifest) is replaced the same way.
  r = apply(model, {"--force", "--scale", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_file(model / "model.safetensors"), read_file(s_ / "expected-base" / "model.safetensors"));
  EXPECT_TRUE(staging_leftovers(s_.path()).empty());
}

TEST_F(OutputSafety, ForceReplacesAnEmptyDirectory) {
  fs::create_directories(s_ / "delta");
  auto r = compute(s_ / "delta", {"--force"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(s_ / "delta" / "paramdelta.json"));
}

TEST_F(OutputSafety, ForceRefusesADirectoryHoldingAnythingElse) {
  const fs::path out = s_ / "delta";
  fs::create_directories(out);
  write_file(out / "precious.txt", "keep me");
  expect_rejected(compute(out, {"--force"}), {out.string() + ": ", "'precious.txt'", "paramdelta"});
  EXPECT_EQ(read_file(out / "precious.txt"), "keep me");
  EXPECT_TRUE(staging_leftovers(s_.path()).empty());
}

TEST_F(OutputSafety, ForceRefusesAModelDirectoryWithAFileOfTheUser) {
  const fs::path model = s_ / "model";
  write_small_model(model, 0);
  write_file(model / "README.md", "my notes");
  ASSERT_EQ(compute(s_ / "d").exit_code, 0);
  expect_rejected(run_cli({"apply", "--base", (s_ / "base").string(), "--delta", (s_ / "d").string(), "-o",
                           model.string(), "--force"}),
                  {model.string() + ": ", "'README.md'"});
  EXPECT_EQ(read_file(model / "README.md"), "my notes");
  EXPECT_TRUE(fs::exists(model / "model.safetensors"));
}

TEST_F(OutputSafety, ForceRefusesAPreviousDeltaWithAFileOfTheUser) {
  const fs::path out = s_ / "delta";
  ASSERT_EQ(compute(out).exit_code, 0);
  write_file(out / "notes.txt", "how I made it");
  expect_rejected(compute(out, {"--force"}), {"'notes.txt'"});
  EXPECT_EQ(read_file(out / "notes.txt"), "how I made it");
  EXPECT_TRUE(fs::exists(out / "paramdelta.json"));
}

TEST_F(OutputSafety, ForceRefusesADirectoryHoldingADirectory) {
  const fs::path model = s_ / "model";
  write_small_model(model, 0);
  fs::create_directories(model / "checkpoints");
  write_file(model / "checkpoints" / "step-100.safetensors", "mine");
  ASSERT_EQ(compute(s_ / "d").exit_code, 0);
  expect_rejected(run_cli({"apply", "--base", (s_ / "base").string(), "--delta", (s_ / "d").string(), "-o",
                           model.string(), "--force"}),
                  {"'checkpoints'", "directory"});
  EXPECT_EQ(read_file(model / "checkpoints" / "step-100.safetensors"), "mine");
}

TEST_F(OutputSafety, ForceRefusesADirectoryWhereAFileGoes) {
  // Even a previous delta directory: a single-file output does not replace a directory.
  const fs::path out = s_ / "delta.safetensors";
  ASSERT_EQ(compute(out.string() + "-dir").exit_code, 0);
  fs::rename(out.string() + "-dir", out);
  expect_rejected(compute(out, {"--force"}), {out.string() + ": ", "is a directory"});
  EXPECT_TRUE(fs::exists(out / "paramdelta.json"));
}

TEST_F(OutputSafety, ForceRefusesAFileWhereADirectoryGoes) {
  const fs::path out = s_ / "delta";
  write_file(out, "keep me");
  expect_rejected(compute(out, {"--force"}), {out.string() + ": ", "is a file"});
  EXPECT_EQ(read_file(out), "keep me");
}

TEST_F(OutputSafety, ForceRefusesASymbolicLink) {
  ASSERT_EQ(compute(s_ / "real").exit_code, 0);
  const std::string manifest = read_file(s_ / "real" / "paramdelta.json");
  fs::create_directory_symlink(s_ / "real", s_ / "link");
  expect_rejected(compute(s_ / "link", {"--force", "--delta-dtype", "f32"}), {"symbolic link"});
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(s_ / "link")));
  EXPECT_EQ(read_file(s_ / "real" / "paramdelta.json"), manifest);
}

TEST_F(OutputSafety, HtmlIntoADirectoryWritesAPageInsideIt) {
  // Once: 'analyze --html scratchdir --force' deleted the directory and the user's file in it.
  ASSERT_EQ(compute(s_ / "d").exit_code, 0);
  const fs::path dir = s_ / "scratchdir";
  fs::create_directories(dir);
  write_file(dir / "mine.txt", "keep me");
  auto r = run_cli({"analyze", "--delta", (s_ / "d").string(), "--html", dir.string(), "--force"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_file(dir / "mine.txt"), "keep me");
  EXPECT_NE(read_file(dir / "analysis.html").find("<html"), std::string::npos);
  EXPECT_NE(r.out.find((dir / "analysis.html").string()), std::string::npos) << r.out;
}

// The current directory, the root and the home directory are never outputs,
// whatever they hold and however they are spelled.
class ProtectedDestinations : public OutputSafety {
 protected:
  // Runs compute from `cwd` with HOME set to `home`, writing to `out`.
  CommandResult compute_from(const fs::path& cwd, const fs::path& home, const std::string& out) {
    return run_shell("cd " + quoted(cwd) + " && HOME=" + quoted(home) + " exec " + cli() +
                     " compute --base " + quoted(s_ / "base") + " --post " + quoted(s_ / "post") + " -o " +
                     quoted(fs::path(out)) + " --force --quiet");
  }
  // A directory that --force would otherwise replace: a model.
  fs::path model_dir(const std::string& name) {
    write_small_model(s_ / name, 0);
    return s_ / name;
  }
};

TEST_F(ProtectedDestinations, TheCurrentDirectoryIsNeverReplaced) {
  const fs::path cwd = model_dir("work");
  const fs::path home = s_ / "home";
  fs::create_directories(home);
  const std::string manifestless = read_file(cwd / "model.safetensors");
  for (const std::string& spelling :
       {std::string("."), std::string("./"), cwd.string(), std::string("../work"), std::string("../work/")}) {
    SCOPED_TRACE(spelling);
    expect_rejected(compute_from(cwd, home, spelling), {"current directory"});
    EXPECT_EQ(read_file(cwd / "model.safetensors"), manifestless);
    EXPECT_TRUE(staging_leftovers(s_.path()).empty());
    EXPECT_TRUE(staging_leftovers(cwd).empty());
  }
}

TEST_F(ProtectedDestinations, ADirectoryHoldingTheCurrentDirectoryIsNeverReplaced) {
  const fs::path cwd = s_ / "outer" / "inner";
  fs::create_directories(cwd);
  expect_rejected(compute_from(cwd, s_.path(), ".."), {"current directory"});
  EXPECT_TRUE(fs::is_directory(cwd));
}

TEST_F(ProtectedDestinations, TheRootDirectoryIsNeverReplaced) {
  expect_rejected(compute_from(s_.path(), s_.path(), "/"), {"root directory"});
}

TEST_F(ProtectedDestinations, TheHomeDirectoryIsNeverReplaced) {
  const fs::path home = model_dir("home");
  const fs::path cwd = s_ / "elsewhere";
  fs::create_directories(cwd);
  for (const std::string& spelling : {home.string(), home.string() + "/", std::string("../home")}) {
    SCOPED_TRACE(spelling);
    expect_rejected(compute_from(cwd, home, spelling), {"home directory"});
    EXPECT_TRUE(fs::exists(home / "model.safetensors"));
    EXPECT_TRUE(fs::exists(home / "config.json"));
  }
}

TEST_F(OutputSafety, FailedForcedRunKeepsTheOldOutput) {
  const fs::path out = s_ / "delta";
  ASSERT_EQ(compute(out).exit_code, 0);
  const std::string manifest = read_file(out / "paramdelta.json");
  // A post model that fails validation half-way through the inputs.
  SafetensorsParts bad = valid_parts();
  bad.data.resize(bad.data.size() - 2);
  write_model_with_weights(s_ / "badpost", bad.bytes());
  expect_rejected(run_cli({"compute", "--base", (s_ / "base").string(), "--post", (s_ / "badpost").string(),
                           "-o", out.string(), "--force", "--quiet"}),
                  {"truncated"});
  EXPECT_EQ(read_file(out / "paramdelta.json"), manifest);
  EXPECT_TRUE(staging_leftovers(s_.path()).empty());
  auto v = run_cli({"verify", "--base", (s_ / "base").string(), "--delta", out.string(), "--expect",
                    (s_ / "post").string()});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

TEST_F(OutputSafety, MissingParentDirectoryIsAUsageError) {
  const fs::path out = s_ / "no" / "such" / "delta";
  auto r = compute(out);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_FALSE(fs::exists(s_ / "no"));
}

// RLIMIT_FSIZE stands in for a full disk: writes past the limit fail with
// EFBIG (the program must not die of SIGXFSZ), and the run must say so in one
// line and remove every temporary file.
TEST(OutputSafetyDiskFull, FileSizeLimitGivesOneLineAndNoLeftovers) {
  ScratchDir s;
  write_wide_model(s / "base", 0);
  write_wide_model(s / "post", 1);
  for (const char* name : {"delta", "delta.safetensors"}) {
    const fs::path out = s / name;
    // 64 blocks: 32 KiB with a 512-byte block (dash), 64 KiB with 1 KiB (bash); the delta is ~512 KiB.
    auto r = run_shell("ulimit -f 64 && exec " + cli() + " compute --base " + quoted(s / "base") +
                       " --post " + quoted(s / "post") + " -o " + quoted(out) + " --quiet --threads 2");
    expect_rejected(r, {"File too large"});
    expect_no_output(out);
  }
  // The same run without the limit succeeds: the limit was the only problem.
  auto ok = run_cli({"compute", "--base", (s / "base").string(), "--post", (s / "post").string(), "-o",
                     (s / "delta").string(), "--quiet"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  // apply, into an existing output with --force: the old output survives the failure.
  const std::string before = read_file(s / "delta" / "paramdelta.json");
  ASSERT_EQ(run_cli({"apply", "--base", (s / "base").string(), "--delta", (s / "delta").string(), "-o",
                     (s / "model").string(), "--quiet"})
                .exit_code,
            0);
  const std::string model_before = read_file(s / "model" / "model.safetensors");
  auto r = run_shell("ulimit -f 64 && exec " + cli() + " apply --base " + quoted(s / "base") + " --delta " +
                     quoted(s / "delta") + " -o " + quoted(s / "model") + " --force --scale 0.5 --quiet");
  expect_rejected(r, {"File too large"});
  EXPECT_EQ(read_file(s / "model" / "model.safetensors"), model_before);
  EXPECT_EQ(read_file(s / "delta" / "paramdelta.json"), before);
  EXPECT_TRUE(staging_leftovers(s.path()).empty());
}

// Sizes claimed by a file are checked against the file before anything is
// allocated or mapped: under a 1 GiB address-space limit, a header claiming
// 8 GiB (or 2^60 bytes) gives the format error, not an out-of-memory failure.
TEST(ResourceBounds, ClaimedSizesAreNotAllocated) {
  if (kAddressSanitizer) GTEST_SKIP() << "AddressSanitizer reserves more address space than the limit allows";
  ScratchDir s;
  write_small_model(s / "base", 0);
  for (std::uint64_t claimed : {1ull << 33, 1ull << 60}) {
    SafetensorsParts p;
    p.header["w"] = {{"dtype", "F32"}, {"shape", {claimed / 4}}, {"data_offsets", {0ull, claimed}}};
    p.data = std::string(64, '\0');
    write_file(s / "big.safetensors", p.bytes());
    const std::string limit = "ulimit -v 1048576 && OPENBLAS_NUM_THREADS=1 exec ";
    expect_rejected(run_shell(limit + cli() + " inspect " + quoted(s / "big.safetensors")), {"truncated"});
    expect_rejected(run_shell(limit + cli() + " compute --base " + quoted(s / "base") + " --post " +
                              quoted(s / "big.safetensors") + " -o " + quoted(s / "out") + " --threads 1"),
                    {"truncated"});
    expect_no_output(s / "out");
  }
}

// A JSON bomb (deep nesting, and a header at the size limit full of nesting)
// is refused in bounded memory.
TEST(ResourceBounds, JsonBombsStayBounded) {
  if (kAddressSanitizer) GTEST_SKIP() << "AddressSanitizer reserves more address space than the limit allows";
  ScratchDir s;
  const std::string bomb = "{\"__metadata__\": {\"k\": " + nested_arrays(4'000'000) + "}}";
  write_file(s / "bomb.safetensors", safetensors_image(bomb, ""));
  auto r = run_shell("ulimit -v 1048576 && OPENBLAS_NUM_THREADS=1 exec " + cli() + " inspect " +
                     quoted(s / "bomb.safetensors"));
  expect_rejected(r, {"nested deeper than"});
  // Many small values instead of depth: a wide array in the metadata.
  std::string wide = "{\"__metadata__\": {\"k\": [";
  for (int i = 0; i < 2'000'000; ++i) wide += i ? ",0" : "0";
  wide += "]}}";
  write_file(s / "wide.safetensors", safetensors_image(wide, ""));
  r = run_shell("ulimit -v 1048576 && OPENBLAS_NUM_THREADS=1 exec " + cli() + " inspect " +
                quoted(s / "wide.safetensors"));
  expect_rejected(r, {"__metadata__.k", "must be strings"});
}

}  // namespace
}  // namespace paramdelta::testing
