// BPE model: merge order, byte fallback, unknown characters, ignore_merges,
// subword prefix/suffix, long words.
#include <gtest/gtest.h>

#include <thread>

#include "eval/tokenizer_test_support.h"

namespace paramdelta::testing {
namespace {

using Ids = std::vector<std::int32_t>;

TEST(TokenizerBpe, AppliesMergesByRankNotByPosition) {
  ScratchDir dir;
  // Tokens: a=0 b=1 c=2 ab=3 bc=4 abc=5.
  const std::vector<std::string> tokens = {"a", "b", "c", "ab", "bc", "abc"};
  // "b c" outranks "a b": abc = a + bc.
  Tokenizer first_bc = load_tokenizer(dir, tokenizer_doc(bpe_model(tokens, {"b c", "a bc"})));
  EXPECT_EQ(first_bc.encode("abc"), (Ids{5}));
  EXPECT_EQ(first_bc.encode("ab"), (Ids{0, 1}));  // no "a b" merge
  // "a b" outranks "b c": ab + c, and without "ab c" nothing more.
  Tokenizer first_ab = load_tokenizer(dir, tokenizer_doc(bpe_model(tokens, {"a b", "b c"})));
  EXPECT_EQ(first_ab.encode("abc"), (Ids{3, 2}));
  EXPECT_EQ(first_ab.encode("bca"), (Ids{4, 0}));
}

TEST(TokenizerBpe, EqualRanksMergeLeftmostFirst) {
  ScratchDir dir;
  Tokenizer t = load_tokenizer(dir, tokenizer_doc(bpe_model({"a", "aa"}, {"a a"})));
  EXPECT_EQ(t.encode("aaa"), (Ids{1, 0}));
  EXPECT_EQ(t.encode("aaaaa"), (Ids{1, 1, 0}));
}

TEST(TokenizerBpe, MergesAcceptBothFileForms) {
  ScratchDir dir;
  json model = bpe_model({"a", "b", "ab"}, {});
  model["merges"] = json::array({json::array({"a", "b"})});
  Tokenizer from_pairs = load_tokenizer(dir, tokenizer_doc(model));
  Tokenizer from_strings = load_tokenizer(dir, tokenizer_doc(bpe_model({"a", "b", "ab"}, {"a b"})));
  EXPECT_EQ(from_pairs.encode("abab"), (Ids{2, 2}));
  EXPECT_EQ(from_strings.encode("abab"), (Ids{2, 2}));
}

TEST(TokenizerBpe, LongWordUsesAllMerges) {
  ScratchDir dir;
  Tokenizer t = load_tokenizer(dir, tokenizer_doc(bpe_model({"a", "aa", "aaaa"}, {"a a", "aa aa"})));
  const std::string word(200001, 'a');
  const Ids ids = t.encode(word);
  // 200001 = 4 * 50000 + 1: fifty thousand "aaaa" and the odd "a" at the end.
  ASSERT_EQ(ids.size(), 50001u);
  for (std::size_t i = 0; i + 1 < ids.size(); ++i) ASSERT_EQ(ids[i], 2);
  EXPECT_EQ(ids.back(), 0);
}

TEST(TokenizerBpe, ByteFallbackSpellsUnknownCharactersAsBytes) {
  ScratchDir dir;
  std::vector<std::string> tokens = {"<unk>"};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    tokens.push_back(name);
  }
  tokens.push_back("x");  // id 257
  json model = bpe_model(tokens, {});
  model["byte_fallback"] = true;
  model["unk_token"] = "<unk>";
  json doc = tokenizer_doc(model);
  doc["decoder"] = json{{"type", "Sequence"},
                        {"decoders", json::array({json{{"type", "ByteFallback"}}, json{{"type", "Fuse"}}})}};
  Tokenizer t = load_tokenizer(dir, doc);
  // é is C3 A9 in UTF-8: <0xC3> has id 1 + 0xC3.
  EXPECT_EQ(t.encode("x\xC3\xA9x"), (Ids{257, 1 + 0xC3, 1 + 0xA9, 257}));
  EXPECT_EQ(t.decode(t.encode("x\xC3\xA9x")), "x\xC3\xA9x");
  // A byte run that is not UTF-8 decodes to one U+FFFD per byte.
  EXPECT_EQ(t.decode(Ids{257, 1 + 0xC3, 257}), "x\xEF\xBF\xBDx");
  EXPECT_EQ(t.decode(Ids{1 + 0xE2, 1 + 0x82}), "\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(TokenizerBpe, UnknownCharactersFuseOnlyWhenAsked) {
  ScratchDir dir;
  json model = bpe_model({"<unk>", "a"}, {});
  model["unk_token"] = "<unk>";
  model["fuse_unk"] = true;
  Tokenizer fused = load_tokenizer(dir, tokenizer_doc(model));
  EXPECT_EQ(fused.encode("a\xE4\xB8\xAD\xE6\x96\x87"
                         "a"),
            (Ids{1, 0, 1}));
  model["fuse_unk"] = false;
  Tokenizer separate = load_tokenizer(dir, tokenizer_doc(model));
  EXPECT_EQ(separate.encode("a\xE4\xB8\xAD\xE6\x96\x87"
                            "a"),
            (Ids{1, 0, 0, 1}));
  // Without unk_token, unknown characters are dropped (as Hugging Face does).
  model["unk_token"] = nullptr;
  Tokenizer dropping = load_tokenizer(dir, tokenizer_doc(model));
  EXPECT_EQ(dropping.encode("a\xE4\xB8\xAD"
                            "a"),
            (Ids{1, 1}));
}

TEST(TokenizerBpe, IgnoreMergesTakesWholeWordsFromTheVocabulary) {
  ScratchDir dir;
  // "abc" is in the vocabulary but no merge builds it.
  json model = bpe_model({"a", "b", "c", "ab", "abc"}, {"a b"});
  Tokenizer merging = load_tokenizer(dir, tokenizer_doc(model));
  EXPECT_EQ(merging.encode("abc"), (Ids{3, 2}));
  model["ignore_merges"] = true;
  Tokenizer whole = load_tokenizer(dir, tokenizer_doc(model));
  EXPECT_EQ(whole.encode("abc"), (Ids{4}));
  EXPECT_EQ(whole.encode("abcab"), (Ids{3, 2, 3}));  // not a vocabulary word: merges as usual
}

TEST(TokenizerBpe, ContinuingSubwordPrefixAndEndOfWordSuffix) {
  ScratchDir dir;
  json model = bpe_model({"a", "##b", "ab", "c</w>", "##c</w>"}, {"a ##b"});
  model["continuing_subword_prefix"] = "##";
  model["end_of_word_suffix"] = "</w>";
  Tokenizer t = load_tokenizer(dir, tokenizer_doc(model));
  EXPECT_EQ(t.encode("abc"), (Ids{2, 4}));
  EXPECT_EQ(t.encode("c"), (Ids{3}));
}

TEST(TokenizerBpe, EncodesConsistentlyFromManyThreads) {
  ScratchDir dir;
  json doc = tokenizer_doc(bpe_model({"a", "b", "ab", "abab"}, {"a b", "ab ab"}));
  doc["pre_tokenizer"] = json{{"type", "WhitespaceSplit"}};
  Tokenizer t = load_tokenizer(dir, doc);
  std::string text;
  for (int i = 0; i < 2000; ++i) text += (i % 3 ? "abab ab " : "ba ");
  const Ids expected = t.encode(text);
  std::vector<Ids> results(4);
  std::vector<std::thread> threads;
  for (auto& r : results) threads.emplace_back([&t, &text, &r] { r = t.encode(text); });
  for (auto& th : threads) th.join();
  for (const auto& r : results) EXPECT_EQ(r, expected);
}

}  // namespace
}  // namespace paramdelta::testing
