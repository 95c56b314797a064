// Files that are not safetensors at all: PyTorch checkpoints, GGUF, a Git LFS
// pointer, a saved HTML page, an empty file. Each is named for what it is,
// with what to do, wherever it is given: as a file, or as the weights of a
// model directory. A directory of PyTorch weights is an error naming them.
#include <gtest/gtest.h>

#include "hostile/hostile_support.h"

namespace paramdelta::testing {
namespace {

namespace fs = std::filesystem;

struct ForeignFile {
  const char* name;
  std::string bytes;
  std::vector<std::string> mentions;  // what the file is, and what to do
};

std::vector<ForeignFile> foreign_files() {
  const std::vector<std::string> convert = {"safetensors", "save_pretrained", "safe_serialization=True"};
  auto with = [](std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  // torch.save writes a ZIP archive ("PK\3\4"); before PyTorch 1.6 it wrote a raw pickle (0x80, protocol).
  return {
      {"model.pt", std::string("PK\x03\x04\x14\x00\x00\x00\x08\x00", 10) + "archive/data.pkl",
       with({"ZIP archive", "PyTorch"}, convert)},
      {"pytorch_model.bin", std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15),
       with({"pickle", "PyTorch"}, convert)},
      {"model.gguf", std::string("GGUF\x03\x00\x00\x00", 8) + std::string(16, '\0'), {"GGUF", "safetensors"}},
      {"model.safetensors",
       "version https://git-lfs.github.com/spec/v1\n"
       "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 4970\n",
       {"Git LFS pointer", "git lfs pull"}},
      {"model.safetensors",
       "<!DOCTYPE html>\n<html><head><title>Sign in</title></head></html>\n",
       {"HTML page", "download it again"}},
      {"model.safetensors", "", {"empty file"}},
  };
}

TEST(ForeignFiles, AFileGivenDirectlyIsNamedForWhatItIs) {
  ScratchDir s;
  write_small_model(s / "base", 0);
  for (const auto& f : foreign_files()) {
    SCOPED_TRACE(f.mentions.front());
    const fs::path file = s / "in" / f.name;
    fs::create_directories(file.parent_path());
    write_file(file, f.bytes);
    std::vector<std::string> mentions = f.mentions;
    mentions.push_back(file.string() + ": ");
    expect_rejected(run_cli({"inspect", file.string()}), mentions);
    expect_rejected(run_cli({"compute", "--base", (s / "base").string(), "--post", file.string(), "-o",
                             (s / "out").string(), "--quiet"}),
                    mentions);
    expect_no_output(s / "out");
    fs::remove_all(s / "in");
  }
}

TEST(ForeignFiles, TheWeightsOfAModelDirectoryAreNamedForWhatTheyAre) {
  ScratchDir s;
  write_small_model(s / "base", 0);
  for (const auto& f : foreign_files()) {
    SCOPED_TRACE(f.mentions.front());
    write_model_with_weights(s / "post", f.bytes);
    std::vector<std::string> mentions = f.mentions;
    mentions.push_back((s / "post" / "model.safetensors").string() + ": ");
    expect_rejected(run_cli({"compute", "--base", (s / "base").string(), "--post", (s / "post").string(),
                             "-o", (s / "out").string(), "--quiet"}),
                    mentions);
    expect_no_output(s / "out");
  }
}

TEST(ForeignFiles, TheContentDecidesNotTheName) {
  // Valid safetensors under a PyTorch name is read; the sniffing never overrides a valid file.
  ScratchDir s;
  write_file(s / "weights.bin", valid_parts().bytes());
  const CommandResult r = run_cli({"inspect", (s / "weights.bin").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(ForeignFiles, ADirectoryOfPyTorchWeightsIsAnErrorNamingThem) {
  ScratchDir s;
  write_small_model(s / "base", 0);
  const std::string pickle("\x80\x02\x8a\x0a", 4);
  const std::vector<std::vector<std::string>> layouts = {
      {"pytorch_model.bin"},
      {"pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin",
       "pytorch_model.bin.index.json"},
      {"model.pt"},
      {"consolidated.00.pth"},
  };
  for (const auto& files : layouts) {
    SCOPED_TRACE(files.front());
    const fs::path dir = s / "post";
    fs::remove_all(dir);
    fs::create_directories(dir);
    write_file(dir / "config.json", R"({"model_type": "llama"})");
    for (const auto& f : files) write_file(dir / f, pickle);
    const std::vector<std::string> mentions = {dir.string() + ": ", "PyTorch", "'" + files.front() + "'",
                                               "save_pretrained"};
    expect_rejected(run_cli({"compute", "--base", (s / "base").string(), "--post", dir.string(), "-o",
                             (s / "out").string(), "--quiet"}),
                    mentions);
    expect_rejected(run_cli({"inspect", dir.string()}), mentions);
    expect_no_output(s / "out");
  }
}

}  // namespace
}  // namespace paramdelta::testing
