// The Hub's pieces that need no server: cache names, the revision listing,
// which files a model needs, and resolving from a cache the Python tools wrote.
#include <gtest/gtest.h>

#include <cstdlib>

#include "location/hub_download.h"
#include "paramdelta/error.h"
#include "support/test_support.h"

namespace paramdelta::hub {
namespace {

namespace fs = std::filesystem;
using paramdelta::testing::ScratchDir;
using paramdelta::testing::write_file;

TEST(HubCache, ARepoFolderIsNamedAsHuggingfaceHubNamesIt) {
  EXPECT_EQ(repo_folder_name("meta-llama/Llama-3.1-8B"), "models--meta-llama--Llama-3.1-8B");
}

TEST(HubCache, AnEtagLosesItsWeakMarkAndQuotes) {
  EXPECT_EQ(normalize_etag("W/\"abc\""), "abc");
  EXPECT_EQ(normalize_etag("\"abc\""), "abc");
  EXPECT_EQ(normalize_etag("abc"), "abc");
}

TEST(HubCache, OnlyPlainNamesMaySitInTheCache) {
  EXPECT_TRUE(is_safe_cache_name("0123abcdef"));
  EXPECT_TRUE(is_safe_cache_name("model-00001-of-00002.safetensors"));
  for (const char* bad : {"", ".", "..", "../x", "a/b", ".hidden", "a\\b", "a b", "a\nb"}) {
    EXPECT_FALSE(is_safe_cache_name(bad)) << bad;
  }
}

TEST(HubCache, ARevisionStaysInsideRefs) {
  EXPECT_TRUE(is_safe_revision("main"));
  EXPECT_TRUE(is_safe_revision("refs/pr/1"));
  EXPECT_TRUE(is_safe_revision("v1.0"));
  for (const char* bad : {"", "/etc/passwd", "a//b", "a/", "../x", "a/../b", "a/./b", ".hidden"}) {
    EXPECT_FALSE(is_safe_revision(bad)) << bad;
  }
}

TEST(HubListing, TheCommitAndFileNamesAreRead) {
  const auto l = parse_revision_listing(
      R"({"id":"o/n","sha":"0123456789abcdef0123456789abcdef01234567","siblings":[{"rfilename":"config.json"},{"rfilename":"model.safetensors"}]})",
      "listing");
  EXPECT_EQ(l.sha, "0123456789abcdef0123456789abcdef01234567");
  EXPECT_EQ(l.files, (std::vector<std::string>{"config.json", "model.safetensors"}));
}

TEST(HubListing, AListingThatIsNotTheHubsIsRefusedNamingTheField) {
  const auto field_of = [](const std::string& json) {
    try {
      parse_revision_listing(json, "listing");
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
      return e.context().field;
    }
    return std::string("accepted");
  };
  EXPECT_EQ(field_of(R"({"siblings":[]})"), "sha");
  EXPECT_EQ(field_of(R"({"sha":"../../etc","siblings":[]})"), "sha");
  EXPECT_EQ(field_of(R"({"sha":"abcdef0"})"), "siblings");
  EXPECT_EQ(field_of(R"({"sha":"abcdef0","siblings":[{"name":1}]})"), "siblings");
  EXPECT_THROW(parse_revision_listing("[1,", "listing"), Error);
}

TEST(HubFiles, SupportFilesAreConfigTokenizerChatAndIndexFilesAtTheTop) {
  const std::vector<std::string> listing = {
      "README.md",     "config.json",         "model.safetensors.index.json", "tokenizer.json",
      "original/x.pt", "chat_template.jinja", "model-1.safetensors",          "sub/config.json"};
  EXPECT_EQ(support_files(listing),
            (std::vector<std::string>{"chat_template.jinja", "config.json", "model.safetensors.index.json",
                                      "tokenizer.json"}));
}

TEST(HubFiles, WeightsAreTheShardsTheIndexNamesNotEveryCheckpointInTheRepo) {
  const std::vector<std::string> listing = {"consolidated.safetensors", "model-1.safetensors",
                                            "model-2.safetensors", "model.safetensors.index.json"};
  const std::vector<std::pair<std::string, std::string>> index = {
      {"model.safetensors.index.json",
       R"({"weight_map":{"a":"model-1.safetensors","b":"model-2.safetensors"}})"}};
  EXPECT_EQ(weight_files(listing, index, "hf://o/n@c/"),
            (std::vector<std::string>{"model-1.safetensors", "model-2.safetensors"}));
}

TEST(HubFiles, AnIndexNamingAShardTheRepoLacksIsRefusedNamingIt) {
  const std::vector<std::pair<std::string, std::string>> index = {
      {"model.safetensors.index.json", R"({"weight_map":{"a":"model-9.safetensors"}})"}};
  try {
    weight_files({"model.safetensors.index.json"}, index, "hf://o/n@c/");
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.context().file, "hf://o/n@c/model.safetensors.index.json");
    EXPECT_EQ(e.context().tensor, "a");
    EXPECT_NE(e.message().find("model-9.safetensors"), std::string::npos);
  }
}

TEST(HubFiles, AShardNameThatLeavesTheSnapshotIsRefused) {
  const std::vector<std::pair<std::string, std::string>> index = {
      {"model.safetensors.index.json", R"({"weight_map":{"a":"../../blobs/x.safetensors"}})"}};
  EXPECT_THROW(weight_files({"model.safetensors.index.json"}, index, "l/"), Error);
}

TEST(HubFiles, ARepoWithOnlyPickleWeightsSaysSo) {
  try {
    weight_files({"config.json", "pytorch_model.bin"}, {}, "hf://o/n@c/");
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(e.hint().find("pickle"), std::string::npos);
  }
}

TEST(HubFiles, ADeltaRepoNeedsAllItsSafetensorsFiles) {
  EXPECT_EQ(weight_files({"paramdelta.json", "delta.safetensors", "exceptions.safetensors"}, {}, "l/"),
            (std::vector<std::string>{"delta.safetensors", "exceptions.safetensors"}));
}

// A cache as huggingface_hub leaves it: resolved with no network at all.
class HubCacheResolve : public ::testing::Test {
 protected:
  void SetUp() override {
    settings.cache = dir.path() / "hub";
    settings.endpoint = "http://127.0.0.1:9";  // nothing listens there
    settings.offline = true;
    repo = settings.cache / "models--org--name";
    for (const char* sub : {"blobs", "refs"}) fs::create_directories(repo / sub);
    write_file(repo / "blobs" / "b1", "{}");
    fs::create_directories(repo / "snapshots" / commit);
    fs::create_symlink("../../blobs/b1", repo / "snapshots" / commit / "model.safetensors");
    write_file(repo / "refs" / "main", commit);
  }
  ScratchDir dir;
  Settings settings;
  fs::path repo;
  std::string commit = "0123456789abcdef0123456789abcdef01234567";
};

TEST_F(HubCacheResolve, ABranchIsFollowedThroughItsRef) {
  const Snapshot s = resolve_snapshot({"org/name", "main"}, "hf://org/name", settings);
  EXPECT_EQ(s.commit, commit);
  EXPECT_EQ(s.path, repo / "snapshots" / commit);
}

TEST_F(HubCacheResolve, ACommitHashNamesItsSnapshotDirectly) {
  EXPECT_EQ(resolve_snapshot({"org/name", commit}, "x", settings).commit, commit);
}

TEST_F(HubCacheResolve, ARefThatLeavesTheCacheIsRefused) {
  write_file(repo / "refs" / "main", "../../../etc");
  EXPECT_THROW(resolve_snapshot({"org/name", "main"}, "x", settings), Error);
}

TEST_F(HubCacheResolve, AShardTheIndexNamesButTheCacheLacksIsNamedOffline) {
  write_file(repo / "blobs" / "b2", R"({"weight_map":{"a":"model-1.safetensors"}})");
  fs::create_symlink("../../blobs/b2", repo / "snapshots" / commit / "model.safetensors.index.json");
  try {
    resolve_snapshot({"org/name", "main"}, "hf://org/name", settings);
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("'model-1.safetensors'"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("HF_HUB_OFFLINE"), std::string::npos) << e.message();
  }
}

TEST(HubSettings, TheTokenComesFromHfTokenElseTheTokenFile) {
  ScratchDir dir;
  write_file(dir.path() / "token", "hf_from_file\n");
  ::setenv("HF_TOKEN_PATH", (dir.path() / "token").c_str(), 1);
  ::unsetenv("HF_TOKEN");
  ::unsetenv("HUGGING_FACE_HUB_TOKEN");
  EXPECT_EQ(Settings::from_environment().token, "hf_from_file");
  ::setenv("HF_TOKEN", "hf_from_env", 1);
  EXPECT_EQ(Settings::from_environment().token, "hf_from_env");
  ::unsetenv("HF_TOKEN");
  ::unsetenv("HF_TOKEN_PATH");
}

TEST(HubSettings, TheCacheAndEndpointFollowTheHuggingfaceHubVariables) {
  ::setenv("HF_HOME", "/tmp/hfhome", 1);
  ::unsetenv("HF_HUB_CACHE");
  ::setenv("HF_ENDPOINT", "http://127.0.0.1:5000/", 1);
  ::setenv("HF_HUB_OFFLINE", "true", 1);
  const Settings s = Settings::from_environment();
  EXPECT_EQ(s.cache, fs::path("/tmp/hfhome/hub"));
  EXPECT_EQ(s.endpoint, "http://127.0.0.1:5000");
  EXPECT_TRUE(s.offline);
  ::setenv("HF_HUB_CACHE", "/tmp/elsewhere", 1);
  EXPECT_EQ(Settings::from_environment().cache, fs::path("/tmp/elsewhere"));
  for (const char* v : {"HF_HOME", "HF_HUB_CACHE", "HF_ENDPOINT", "HF_HUB_OFFLINE"}) ::unsetenv(v);
}

}  // namespace
}  // namespace paramdelta::hub
