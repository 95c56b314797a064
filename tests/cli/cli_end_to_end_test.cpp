// The real program, end to end, on a small generated Llama-shaped model.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/cli_test_support.h"

namespace paramdelta {
namespace {

namespace fs = std::filesystem;
using namespace testing;

TEST(CliEndToEnd, ComputeApplyVerifyOnASmallLlama) {
  ScratchDir dir;
  write_llama_pair(dir.path());
  const auto base = (dir / "base").string(), post = (dir / "post").string();
  const auto delta = (dir / "delta").string(), out = (dir / "out").string();

  const CommandResult c = run_cli({"compute", "--base", base, "--post", post, "-o", delta, "--threads", "2"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(c.out.find("lossless"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("the post model's size"), std::string::npos)
      << "the summary compares the delta's size: " << c.out;

  const CommandResult a = run_cli({"apply", "--base", base, "--delta", delta, "-o", out});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_TRUE(read_all_bytes(dir / "out") == read_all_bytes(dir / "post"));
  EXPECT_EQ(read_file(dir / "out" / "tokenizer.json"), read_file(dir / "post" / "tokenizer.json"));
  EXPECT_TRUE(fs::exists(dir / "out" / "config.json"));

  const CommandResult v = run_cli({"verify", "--base", base, "--delta", delta, "--expect", post});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_NE(v.out.find("EXACT"), std::string::npos) << v.out;

  const CommandResult i = run_cli({"inspect", delta});
  EXPECT_EQ(i.exit_code, 0) << i.err;
  EXPECT_NE(i.out.find("model.layers.1.mlp.down_proj.weight"), std::string::npos);
  EXPECT_NE(i.out.find("delta"), std::string::npos);
}

TEST(CliEndToEnd, VerifyExitsOneAndListsTheTensorsWhenTheBaseIsWrong) {
  ScratchDir dir;
  write_llama_pair(dir.path());
  write_model(dir / "other", llama_tensors(DType::kBF16, 2, 32, 64, 5), llama_config(2, 32, 64, false));
  ASSERT_EQ(run_cli({"compute", "--base", (dir / "base").string(), "--post", (dir / "post").string(), "-o",
                     (dir / "delta").string(), "-q"})
                .exit_code,
            0);
  const CommandResult v = run_cli({"verify", "--base", (dir / "other").string(), "--delta",
                                   (dir / "delta").string(), "--expect", (dir / "post").string()});
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_NE(v.out.find("DIFFERENT"), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("model.norm.weight"), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("not the one the delta was computed from"), std::string::npos) << v.out;
}

TEST(CliEndToEnd, JsonSummariesParseAndCarryTheirFields) {
  ScratchDir dir;
  write_llama_pair(dir.path());
  const auto base = (dir / "base").string(), post = (dir / "post").string();
  const auto delta = (dir / "delta").string();

  const CommandResult c = run_cli({"compute", "--base", base, "--post", post, "-o", delta, "--json"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  const auto cj = nlohmann::json::parse(c.out);
  for (const char* f : {"operation", "output", "tensors", "elements", "bytes_read", "bytes_written",
                        "seconds", "throughput_gb_per_s", "threads", "encoding", "lossless",
                        "exception_elements", "post_bytes", "delta_to_post_size", "notes"}) {
    EXPECT_TRUE(cj.contains(f)) << f;
  }
  EXPECT_EQ(cj["operation"], "compute");
  EXPECT_EQ(cj["lossless"], true);
  EXPECT_EQ(cj["tensors"], read_all_bytes(dir / "post").size());
  std::uint64_t post_bytes = 0;
  for (const auto& [name, bytes] : read_all_bytes(dir / "post")) post_bytes += bytes.size();
  EXPECT_EQ(cj["post_bytes"], post_bytes);
  EXPECT_DOUBLE_EQ(cj["delta_to_post_size"].get<double>(),
                   cj["bytes_written"].get<double>() / static_cast<double>(post_bytes));

  const CommandResult a = run_cli({"apply", "--base", base, "--delta", delta, "-o", (dir / "out").string(),
                                   "--json", "--scale", "0.5", "--dtype", "f32"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  const auto aj = nlohmann::json::parse(a.out);
  EXPECT_EQ(aj["operation"], "apply");
  EXPECT_EQ(aj["tensors"], cj["tensors"]);
  EXPECT_GT(aj["bytes_written"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(read_tensor(dir / "out", "model.norm.weight").dtype, DType::kF32);

  const CommandResult v = run_cli({"verify", "--base", base, "--delta", delta, "--expect", post, "--json"});
  ASSERT_EQ(v.exit_code, 0) << v.err;
  const auto vj = nlohmann::json::parse(v.out);
  EXPECT_EQ(vj["exact"], true);
  EXPECT_EQ(vj["differing_elements"], 0);
  EXPECT_GT(vj["total_elements"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(vj["base_matches_manifest"], true);
  EXPECT_EQ(vj["tensors"].size(), cj["tensors"].get<std::size_t>());

  const CommandResult i = run_cli({"inspect", post, "--json"});
  ASSERT_EQ(i.exit_code, 0) << i.err;
  const auto ij = nlohmann::json::parse(i.out);
  EXPECT_EQ(ij["kind"], "model");
  EXPECT_EQ(ij["tensor_count"], cj["tensors"]);
  EXPECT_GT(ij["parameters"].get<std::uint64_t>(), 0u);

  ASSERT_EQ(
      run_cli({"compute", "--base", post, "--post", base, "-o", (dir / "back").string(), "-q"}).exit_code, 0);
  const CommandResult m = run_cli({"combine", "--delta", delta, "--delta", (dir / "back").string(), "-o",
                                   (dir / "zero").string(), "--json"});
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_EQ(nlohmann::json::parse(m.out)["operation"], "combine");

  // A TIES merge of a delta and its inverse: every sign is contested.
  const CommandResult t =
      run_cli({"combine", "--delta", delta, "--delta", (dir / "back").string(), "--method", "ties",
               "--density", "0.5", "-o", (dir / "ties").string(), "--json"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_NE(t.out.find("ties: each delta kept its 50% largest"), std::string::npos) << t.out;
  const CommandResult ti = run_cli({"inspect", (dir / "ties").string(), "--json"});
  ASSERT_EQ(ti.exit_code, 0) << ti.err;
  const auto manifest = nlohmann::json::parse(ti.out)["manifest"];
  EXPECT_EQ(manifest["combine_method"], "ties");
  EXPECT_EQ(manifest["combine_density"], 0.5);
}

TEST(CliEndToEnd, SeedCompatibleAliasesRunTheSameOperations) {
  ScratchDir dir;
  write_llama_pair(dir.path());
  const CommandResult c = run_cli({"compute-delta", "--base-model", (dir / "base").string(), "--post-model",
                                   (dir / "post").string(), "--output", (dir / "delta").string()});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  const CommandResult a =
      run_cli({"apply-delta", "--base-model", (dir / "base").string(), "--delta-path",
               (dir / "delta").string(), "--output", (dir / "out").string(), "--scale", "1"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_TRUE(read_all_bytes(dir / "out") == read_all_bytes(dir / "post"));
}

TEST(CliEndToEnd, ShardedModelsAndSingleFileDeltas) {
  ScratchDir dir;
  write_llama_pair(dir.path(), DType::kF16, 20000);
  ASSERT_TRUE(fs::exists(dir / "base" / "model.safetensors.index.json"));
  const auto base = (dir / "base").string(), post = (dir / "post").string();
  const auto delta = (dir / "d.safetensors").string();
  ASSERT_EQ(run_cli({"compute", "--base", base, "--post", post, "-o", delta, "-q"}).exit_code, 0);
  const CommandResult a = run_cli({"apply", "--base", base, "--delta", delta, "-o", (dir / "out").string(),
                                   "--max-shard-size", "20kB", "-q"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_TRUE(a.out.empty()) << "--quiet prints nothing: " << a.out;
  EXPECT_TRUE(fs::exists(dir / "out" / "model.safetensors.index.json"));
  EXPECT_TRUE(read_all_bytes(dir / "out") == read_all_bytes(dir / "post"));
  EXPECT_EQ(run_cli({"verify", "--base", base, "--delta", delta, "--expect", post, "-q"}).exit_code, 0);
}

TEST(CliEndToEnd, ForceReplacesAnExistingOutput) {
  ScratchDir dir;
  write_llama_pair(dir.path());
  fs::create_directory(dir / "delta");
  const std::vector<std::string> args = {"compute",
                                         "--base",
                                         (dir / "base").string(),
                                         "--post",
                                         (dir / "post").string(),
                                         "-o",
                                         (dir / "delta").string(),
                                         "-q"};
  expect_one_line_error(run_cli(args), (dir / "delta").string());
  auto forced = args;
  forced.push_back("--force");
  EXPECT_EQ(run_cli(forced).exit_code, 0);
  EXPECT_TRUE(fs::exists(dir / "delta" / "paramdelta.json"));
}

TEST(CliEndToEnd, AnalyzeReportsTheDriftOfANewBaseAgainstTheDelta) {
  ScratchDir dir;
  write_llama_pair(dir.path());
  write_model(dir / "new-base", llama_tensors(DType::kBF16, 2, 32, 64, 1, false, 0.002, 9),
              llama_config(2, 32, 64, false));
  const auto base = (dir / "base").string(), delta = (dir / "delta").string();
  ASSERT_EQ(
      run_cli({"compute", "--base", base, "--post", (dir / "post").string(), "-o", delta, "-q"}).exit_code,
      0);

  const CommandResult r = run_cli(
      {"analyze", "--delta", delta, "--base", base, "--new-base", (dir / "new-base").string(), "--top", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("the 3 tensors with the largest drift ratio"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("drift:       norm(new base - base) = "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("relative change norm(delta)/norm(base) = "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("not the delta's own base"), std::string::npos) << r.out;

  const CommandResult j = run_cli(
      {"analyze", "--delta", delta, "--base", base, "--new-base", (dir / "new-base").string(), "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  const auto report = nlohmann::json::parse(j.out);
  const double ratio = report["total"]["drift"]["ratio"].get<double>();
  EXPECT_GT(ratio, 0.3);  // noise 0.002 against 0.003: about 2/3
  EXPECT_LT(ratio, 1.0);
  EXPECT_NE(r.out.find(std::to_string(ratio).substr(0, 4)), std::string::npos)
      << "text and JSON agree: " << r.out;

  const CommandResult all = run_cli({"analyze", "--delta", delta, "--all"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  for (const auto& t : report["tensors"])
    EXPECT_NE(all.out.find(t["name"].get<std::string>()), std::string::npos) << t["name"];

  // The wrong base: said in the totals.
  const CommandResult wrong =
      run_cli({"analyze", "--delta", delta, "--base", (dir / "new-base").string(), "-q"});
  ASSERT_EQ(wrong.exit_code, 0) << wrong.err;
  EXPECT_NE(wrong.out.find("(not the delta's own base)"), std::string::npos) << wrong.out;

  expect_one_line_error(run_cli({"analyze", "--delta", (dir / "nowhere").string()}),
                        (dir / "nowhere").string());
}

}  // namespace
}  // namespace paramdelta
