#include "paramdelta/spelling.h"

#include <gtest/gtest.h>

namespace paramdelta {
namespace {

using Names = std::vector<std::string>;

TEST(ClosestNames, CaseDashesAndUnderscoresDoNotCount) {
  const Names flags = {"--base", "--base-model", "--post"};
  EXPECT_EQ(closest_names("--base_model", flags), Names{"--base-model"});
  EXPECT_EQ(closest_names("--BASE-MODEL", flags), Names{"--base-model"});
  EXPECT_EQ(closest_names("compute_delta", Names{"compute", "compute-delta", "apply"}),
            Names{"compute-delta"});
}

TEST(ClosestNames, OneTypoIsClose) {
  const Names commands = {"compute", "apply", "combine", "verify", "analyze", "inspect"};
  EXPECT_EQ(closest_names("aply", commands), Names{"apply"});       // a letter missing
  EXPECT_EQ(closest_names("analyse", commands), Names{"analyze"});  // a letter changed
  EXPECT_EQ(closest_names("comptue", commands), Names{"compute"});  // two letters swapped
  EXPECT_EQ(closest_names("verifyy", commands), Names{"verify"});   // a letter added
  EXPECT_EQ(closest_names("inpsect", commands), Names{"inspect"});
}

TEST(ClosestNames, AnAbbreviationOrAnExtensionOfANameIsClose) {
  const Names flags = {"-o", "--output", "--post", "--delta", "--delta-dtype", "--scale"};
  EXPECT_EQ(closest_names("--out", flags), Names{"--output"});
  EXPECT_EQ(closest_names("--delta-file", flags), Names{"--delta"});
  EXPECT_EQ(closest_names("--output_dir", flags), Names{"--output"});
}

TEST(ClosestNames, ShortNamesAreNotTakenAsAbbreviations) {
  EXPECT_TRUE(closest_names("--objective", Names{"-o", "--quiet"}).empty());
  EXPECT_TRUE(closest_names("--js", Names{"--json-output"}).empty());
}

TEST(ClosestNames, OneOrTwoLettersMatchOnlyThemselves) {
  EXPECT_TRUE(closest_names("-x", Names{"-h", "-o", "-q"}).empty());
  EXPECT_EQ(closest_names("-O", Names{"-h", "-o", "-q"}), Names{"-o"});
}

TEST(ClosestNames, AnUnrelatedWordHasNoSuggestion) {
  const Names commands = {"compute", "apply", "combine", "verify", "analyze", "inspect", "eval"};
  EXPECT_TRUE(closest_names("batch", commands).empty());
  EXPECT_TRUE(closest_names("frobnicate", commands).empty());
  EXPECT_TRUE(closest_names("", commands).empty());
  EXPECT_TRUE(closest_names("--", Names{"--help"}).empty());
}

TEST(ClosestNames, OnlyTheBestMatchesAreGivenInCandidateOrder) {
  EXPECT_EQ(closest_names("--scal", Names{"--scale", "--sale", "--scala"}), (Names{"--scale", "--scala"}));
  EXPECT_EQ(closest_names("bat", Names{"cat", "hat", "bad", "rat"}, 2), (Names{"cat", "hat"}));
}

}  // namespace
}  // namespace paramdelta
