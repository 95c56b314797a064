// A caller's cancel flag stops compute, apply, combine, verify and analyze
// with a kCancelled error, and leaves nothing behind: no output, no staging.
#include <gtest/gtest.h>

#include <atomic>

#include "delta/delta_test_support.h"

namespace paramdelta {
namespace {

namespace fs = std::filesystem;
using namespace testing;

// Sets the flag at the first sign of work, as a caller reacting to Ctrl-C would.
struct CancelOnFirstAdvance : ProgressSink {
  std::atomic<bool> cancel{false};
  void begin(const std::string&, std::uint64_t) override {}
  void advance(std::uint64_t) override { cancel = true; }
  void end() override {}
};

std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

template <class Run>
void expect_cancelled_leaving(const fs::path& dir, const std::vector<std::string>& before, Run run) {
  try {
    run();
    FAIL() << "the operation ran to its end despite the cancel flag";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCancelled) << e.what();
  }
  EXPECT_EQ(entries(dir), before);
}

class Cancellation : public ::testing::Test {
 protected:
  void SetUp() override {
    // Enough elements for many chunks: the flag is seen between them.
    const TensorMap base = llama_tensors(DType::kBF16, 2, 256, 512, 1);
    const TensorMap post = llama_tensors(DType::kBF16, 2, 256, 512, 1, false, 0.01, 3);
    write_model(dir / "base", base, llama_config(2, 256, 512, false));
    write_model(dir / "post", post, llama_config(2, 256, 512, false));
    compute_delta(compute_options(dir / "base", dir / "post", dir / "delta"));
    before = entries(dir.path());
  }
  ScratchDir dir;
  std::vector<std::string> before;
  CancelOnFirstAdvance sink;
};

TEST_F(Cancellation, ComputeStopsAndLeavesNoOutputDirectory) {
  auto o = compute_options(dir / "base", dir / "post", dir / "out");
  o.run.progress = &sink;
  o.run.cancel = &sink.cancel;
  expect_cancelled_leaving(dir.path(), before, [&] { compute_delta(o); });
}

TEST_F(Cancellation, ComputeStopsAndLeavesNoSingleFile) {
  auto o = compute_options(dir / "base", dir / "post", dir / "out.safetensors");
  o.run.progress = &sink;
  o.run.cancel = &sink.cancel;
  expect_cancelled_leaving(dir.path(), before, [&] { compute_delta(o); });
}

TEST_F(Cancellation, ApplyStopsAndLeavesNoOutput) {
  auto o = apply_options(dir / "base", dir / "delta", dir / "out");
  o.run.progress = &sink;
  o.run.cancel = &sink.cancel;
  expect_cancelled_leaving(dir.path(), before, [&] { apply_delta(o); });
}

TEST_F(Cancellation, ApplyWithForceKeepsTheExistingOutput) {
  auto o = apply_options(dir / "base", dir / "delta", dir / "post");
  o.run.force = true;
  o.run.progress = &sink;
  o.run.cancel = &sink.cancel;
  const auto old = read_all_bytes(dir / "post");
  expect_cancelled_leaving(dir.path(), before, [&] { apply_delta(o); });
  EXPECT_EQ(read_all_bytes(dir / "post"), old);
}

TEST_F(Cancellation, CombineStopsAndLeavesNoOutput) {
  CombineOptions o;
  o.deltas = {(dir / "delta").string(), (dir / "delta").string()};
  o.output = dir / "out";
  o.run.threads = 2;
  o.run.progress = &sink;
  o.run.cancel = &sink.cancel;
  expect_cancelled_leaving(dir.path(), before, [&] { combine_deltas(o); });
}

TEST_F(Cancellation, VerifyStops) {
  auto o = verify_options(dir / "base", dir / "delta", dir / "post");
  o.run.progress = &sink;
  o.run.cancel = &sink.cancel;
  expect_cancelled_leaving(dir.path(), before, [&] { verify_delta(o); });
}

TEST_F(Cancellation, AnalyzeStopsAndLeavesNoPage) {
  AnalyzeOptions o;
  o.delta = (dir / "delta").string();
  o.base = (dir / "base").string();
  o.html = dir / "page.html";
  o.run.threads = 2;
  o.run.progress = &sink;
  o.run.cancel = &sink.cancel;
  expect_cancelled_leaving(dir.path(), before, [&] { analyze_delta(o); });
}

TEST_F(Cancellation, AFlagSetBeforeTheStartStopsBeforeAnyWork) {
  std::atomic<bool> cancel{true};
  auto o = compute_options(dir / "base", dir / "post", dir / "out");
  o.run.cancel = &cancel;
  expect_cancelled_leaving(dir.path(), before, [&] { compute_delta(o); });
}

}  // namespace
}  // namespace paramdelta
