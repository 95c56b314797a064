// Added and special tokens: cut out of the text before the model, with
// leftmost-longest matching and the lstrip / rstrip / single_word / normalized
// options; BOS/EOS from the post-processor; decoding with and without them.
#include <gtest/gtest.h>

#include "eval/tokenizer_test_support.h"

namespace paramdelta::testing {
namespace {

using Ids = std::vector<std::int32_t>;

// Characters a..e, space, '<', '>', '|' as single tokens (ids 0..8), no merges,
// and the given added tokens.
json char_tokenizer(const json& added) {
  json doc = tokenizer_doc(bpe_model({"a", "b", "c", "d", "e", " ", "<", ">", "|"}, {}));
  doc["added_tokens"] = added;
  return doc;
}

TEST(TokenizerAddedTokens, SpecialTokensAreCutOutLongestFirst) {
  ScratchDir dir;
  Tokenizer t = load_tokenizer(
      dir, char_tokenizer(json::array({added_token(9, "<|a|>", true), added_token(10, "<|a|><|a|>", true)})));
  EXPECT_EQ(t.encode("b<|a|>c"), (Ids{1, 9, 2}));
  EXPECT_EQ(t.encode("<|a|><|a|><|a|>"), (Ids{10, 9}));
  EXPECT_EQ(t.encode("<|a|"), (Ids{6, 8, 0, 8}));  // incomplete: plain characters
  // add_special_tokens only concerns the post-processor: tokens in the text are always recognised.
  EXPECT_EQ(t.encode("<|a|>", false), (Ids{9}));
}

TEST(TokenizerAddedTokens, LstripAndRstripSwallowSpaces) {
  ScratchDir dir;
  Tokenizer t =
      load_tokenizer(dir, char_tokenizer(json::array({added_token(9, "<L>", false, true, false),
                                                      added_token(10, "<R>", false, false, true)})));
  EXPECT_EQ(t.encode("a  <L>  b"), (Ids{0, 9, 5, 5, 1}));
  EXPECT_EQ(t.encode("a  <R>  b"), (Ids{0, 5, 5, 10, 1}));
  EXPECT_EQ(t.encode("a <R> <L> b"), (Ids{0, 5, 10, 9, 5, 1}));
}

TEST(TokenizerAddedTokens, SingleWordTokensMatchOnlyWholeWords) {
  ScratchDir dir;
  Tokenizer t =
      load_tokenizer(dir, char_tokenizer(json::array({added_token(9, "ab", false, false, false, true)})));
  EXPECT_EQ(t.encode("ab"), (Ids{9}));
  EXPECT_EQ(t.encode("c ab d"), (Ids{2, 5, 9, 5, 3}));
  EXPECT_EQ(t.encode("cab"), (Ids{2, 0, 1}));
  EXPECT_EQ(t.encode("abc"), (Ids{0, 1, 2}));
  EXPECT_EQ(t.encode("<ab>"), (Ids{6, 9, 7}));  // punctuation is not a word character
}

TEST(TokenizerAddedTokens, NormalizedTokensMatchTheNormalizedText) {
  ScratchDir dir;
  json doc =
      char_tokenizer(json::array({added_token(9, "bc", false, false, false, false, /*normalized=*/true),
                                  added_token(10, "dd", false, false, false, false, /*normalized=*/false)}));
  // The normalizer turns 'e' into "bc" and 'a' into "dd".
  doc["normalizer"] =
      json{{"type", "Sequence"},
           {"normalizers",
            json::array({json{{"type", "Replace"}, {"pattern", json{{"String", "e"}}}, {"content", "bc"}},
                         json{{"type", "Replace"}, {"pattern", json{{"String", "a"}}}, {"content", "dd"}}})}};
  Tokenizer t = load_tokenizer(dir, doc);
  EXPECT_EQ(t.encode("e"), (Ids{9}));     // normalized text "bc" matches the normalized token
  EXPECT_EQ(t.encode("a"), (Ids{3, 3}));  // "dd" appears only after normalization: raw token misses it
  EXPECT_EQ(t.encode("dd"), (Ids{10}));   // the raw text does match it
}

TEST(TokenizerAddedTokens, TemplateAddsBosAndEosOnlyWhenAsked) {
  ScratchDir dir;
  json doc = char_tokenizer(json::array({added_token(9, "<s>", true), added_token(10, "</s>", true)}));
  doc["post_processor"] = json::parse(R"({"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": "</s>", "type_id": 0}}],
      "pair": [],
      "special_tokens": {"<s>": {"id": "<s>", "ids": [9], "tokens": ["<s>"]},
                         "</s>": {"id": "</s>", "ids": [10], "tokens": ["</s>"]}}})");
  Tokenizer t = load_tokenizer(dir, doc);
  EXPECT_EQ(t.encode("ab"), (Ids{9, 0, 1, 10}));
  EXPECT_EQ(t.encode("ab", false), (Ids{0, 1}));
  EXPECT_EQ(t.encode(""), (Ids{9, 10}));
  EXPECT_EQ(t.bos_id(), 9);
  EXPECT_EQ(t.eos_id(), 10);
  // No decoder: tokens joined by spaces; special tokens can be skipped.
  EXPECT_EQ(t.decode(Ids{9, 0, 1, 10}), "<s> a b </s>");
  EXPECT_EQ(t.decode(Ids{9, 0, 1, 10}, true), "a b");
  // Unknown ids are skipped, as in Hugging Face.
  EXPECT_EQ(t.decode(Ids{0, 999, -1, 1}), "a b");
}

TEST(TokenizerAddedTokens, IdsAreAssignedAsHuggingFaceDoes) {
  ScratchDir dir;
  // An added token already in the vocabulary keeps its vocabulary id; new ones
  // follow the vocabulary (9 entries).
  Tokenizer t =
      load_tokenizer(dir, char_tokenizer(json::array({added_token(4, "e", true), added_token(9, "<x>", true),
                                                      added_token(10, "<y>", false)})));
  EXPECT_EQ(t.token_to_id("e"), 4);
  EXPECT_EQ(t.token_to_id("<x>"), 9);
  EXPECT_EQ(t.token_to_id("<y>"), 10);
  EXPECT_EQ(t.id_to_token(10), "<y>");
  EXPECT_EQ(t.vocab_size(), 11u);
  EXPECT_EQ(t.encode("a<y>e"), (Ids{0, 10, 4}));
}

}  // namespace
}  // namespace paramdelta::testing
