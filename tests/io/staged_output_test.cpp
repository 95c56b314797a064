// Outputs are assembled beside their destination and renamed into place: an
// existing output is never touched without --force, and a failed run leaves
// nothing behind.
#include <gtest/gtest.h>

#include "io/file_ops.h"
#include "paramdelta/error.h"
#include "support/test_support.h"

namespace paramdelta {
namespace {

namespace fs = std::filesystem;
using testing::ScratchDir;
using testing::write_file;

std::size_t count_entries(const fs::path& dir) {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

TEST(StagedOutput, ADirectoryAppearsOnlyAtCommit) {
  ScratchDir dir;
  const fs::path out = dir / "out";
  StagedOutput staged(out, StagedOutput::Kind::kDirectory, false);
  write_file(staged.staging_path() / "file.txt", "x");
  EXPECT_FALSE(fs::exists(out));
  staged.commit();
  EXPECT_EQ(testing::read_file(out / "file.txt"), "x");
  EXPECT_EQ(count_entries(dir.path()), 1u);
}

TEST(StagedOutput, AnUncommittedOutputIsRemoved) {
  ScratchDir dir;
  {
    StagedOutput staged(dir / "out", StagedOutput::Kind::kDirectory, false);
    write_file(staged.staging_path() / "file.txt", "x");
  }
  {
    StagedOutput staged(dir / "out.safetensors", StagedOutput::Kind::kFile, false);
    write_file(staged.staging_path(), "x");
  }
  EXPECT_EQ(count_entries(dir.path()), 0u);
}

TEST(StagedOutput, AnExistingOutputWithoutForceIsAnExistsError) {
  ScratchDir dir;
  fs::create_directory(dir / "out");
  try {
    StagedOutput staged(dir / "out", StagedOutput::Kind::kDirectory, false);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kExists);
    EXPECT_EQ(e.context().file, (dir / "out").string());
    EXPECT_EQ(e.options(), std::vector<std::string>{"force"});
  }
}

TEST(StagedOutput, ForceReplacesAnExistingDirectoryAtCommitOnly) {
  ScratchDir dir;
  fs::create_directory(dir / "out");
  write_file(dir / "out" / "paramdelta.json", "old");  // an earlier delta
  StagedOutput staged(dir / "out", StagedOutput::Kind::kDirectory, true);
  write_file(staged.staging_path() / "new.txt", "new");
  EXPECT_TRUE(fs::exists(dir / "out" / "paramdelta.json"));
  staged.commit();
  EXPECT_FALSE(fs::exists(dir / "out" / "paramdelta.json"));
  EXPECT_EQ(testing::read_file(dir / "out" / "new.txt"), "new");
  EXPECT_EQ(count_entries(dir.path()), 1u) << "the old output must not be left aside";
}

TEST(StagedOutput, ForceReplacesAnExistingFile) {
  ScratchDir dir;
  write_file(dir / "out.safetensors", "old");
  StagedOutput staged(dir / "out.safetensors", StagedOutput::Kind::kFile, true);
  write_file(staged.staging_path(), "new");
  staged.commit();
  EXPECT_EQ(testing::read_file(dir / "out.safetensors"), "new");
}

TEST(StagedOutput, AnOutputThatAppearsDuringTheRunIsNotOverwritten) {
  ScratchDir dir;
  StagedOutput staged(dir / "out", StagedOutput::Kind::kDirectory, false);
  fs::create_directory(dir / "out");
  write_file(dir / "out" / "theirs.txt", "theirs");
  EXPECT_THROW(staged.commit(), Error);
  EXPECT_EQ(testing::read_file(dir / "out" / "theirs.txt"), "theirs");
}

TEST(StagedOutput, AMissingParentDirectoryIsAUsageError) {
  ScratchDir dir;
  try {
    StagedOutput staged(dir / "missing" / "out", StagedOutput::Kind::kDirectory, false);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUsage);
  }
}

TEST(WriteFileAtomically, WritesTheWholeContentAndLeavesNoTemporaryFile) {
  ScratchDir dir;
  write_file_atomically(dir / "a.json", "{\"k\": 1}\n");
  write_file_atomically(dir / "a.json", "second");
  EXPECT_EQ(testing::read_file(dir / "a.json"), "second");
  EXPECT_EQ(count_entries(dir.path()), 1u);
}

TEST(CopyFileAtomically, CopiesBytesExactly) {
  ScratchDir dir;
  std::string content;
  for (int i = 0; i < 3'000'000; ++i) content += static_cast<char>(i * 7);
  write_file(dir / "src.bin", content);
  copy_file_atomically(dir / "src.bin", dir / "dst.bin");
  EXPECT_EQ(testing::read_file(dir / "dst.bin"), content);
  EXPECT_EQ(count_entries(dir.path()), 2u);
}

}  // namespace
}  // namespace paramdelta
