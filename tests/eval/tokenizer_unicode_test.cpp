// The Unicode pieces under the tokenizer: UTF-8 checks and lossy decoding,
// Oniguruma-compatible regular expressions on PCRE2, NFC, the byte-level alphabet.
#include <gtest/gtest.h>

#include "eval/tokenizer_byte_level.h"
#include "eval/tokenizer_regex.h"
#include "eval/unicode_nfc.h"
#include "eval/unicode_utf8.h"
#include "paramdelta/error.h"

namespace paramdelta::tok {
namespace {

std::vector<std::string> matches(const std::string& pattern, const std::string& text) {
  Regex re(pattern, JsonAt{"test", "pattern"});
  std::vector<Range> found;
  re.find_all(text, found);
  std::vector<std::string> out;
  for (const Range& r : found) out.push_back(text.substr(r.begin, r.end - r.begin));
  return out;
}

using Strings = std::vector<std::string>;

TEST(TokenizerUnicode, FindsInvalidUtf8) {
  EXPECT_EQ(find_invalid_utf8("plain"), std::nullopt);
  EXPECT_EQ(find_invalid_utf8("caf\xC3\xA9 \xF0\x9F\x98\x80"), std::nullopt);
  EXPECT_EQ(find_invalid_utf8("ab\x80"), 2u);
  EXPECT_EQ(find_invalid_utf8("\xE0\x80\x80"), 0u);      // overlong
  EXPECT_EQ(find_invalid_utf8("x\xED\xA0\x80"), 1u);     // surrogate
  EXPECT_EQ(find_invalid_utf8("\xF4\x90\x80\x80"), 0u);  // above U+10FFFF
  EXPECT_EQ(find_invalid_utf8("ok\xE2\x82"), 2u);        // truncated
}

TEST(TokenizerUnicode, LossyDecodingReplacesMaximalSubparts) {
  // The example of the Unicode standard (chapter 3, "U+FFFD substitution of maximal subparts").
  const std::string input = "\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64";
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(utf8_lossy(input), "a" + fffd + fffd + fffd + "b" + fffd + "c" + fffd + fffd + "d");
  EXPECT_EQ(utf8_lossy("\xE2\x82"), fffd);  // truncated at the end: one replacement
  EXPECT_EQ(utf8_lossy("\xF0\x80\x80"), fffd + fffd + fffd);
  EXPECT_EQ(utf8_lossy("valid \xC3\xA9"), "valid \xC3\xA9");
}

TEST(TokenizerUnicode, WhiteSpaceIsTheUnicodeProperty) {
  for (char32_t c : {0x09, 0x0A, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000, 0x200A, 0x2028, 0x3000}) {
    EXPECT_TRUE(is_white_space(c)) << std::hex << static_cast<unsigned>(c);
  }
  for (char32_t c : {0x08, 0x41, 0x180E, 0x200B, 0xFEFF}) EXPECT_FALSE(is_white_space(c));
}

TEST(TokenizerUnicode, RegexShorthandsMeanWhatOnigurumaMeans) {
  // \s: Unicode white space, but not U+180E (PCRE2 alone would match it).
  EXPECT_EQ(matches(R"(\s+)",
                    "a \xE1\xA0\x8E"
                    "b\xC2\x85"
                    "c"),
            (Strings{" ", "\xC2\x85"}));
  EXPECT_EQ(matches(R"(\S+)",
                    "a \xE1\xA0\x8E"
                    "b"),
            (Strings{"a",
                     "\xE1\xA0\x8E"
                     "b"}));
  // \w: includes marks and superscript two; PCRE2 alone has no marks.
  EXPECT_EQ(matches(R"(\w+)", "e\xCC\x81x\xC2\xB2-y"), (Strings{"e\xCC\x81x\xC2\xB2", "y"}));
  // Word boundaries follow that \w: no boundary between a letter and its combining mark.
  EXPECT_EQ(matches(R"(a\b)", "a\xCC\x81 a b"), (Strings{"a"}));
  EXPECT_EQ(matches(R"(\Bb)", "ab b"), (Strings{"b"}));
  // \h is a hexadecimal digit in Oniguruma.
  EXPECT_EQ(matches(R"(\h+)", "xx1aFg"), (Strings{"1aF"}));
  // Negated shorthands inside classes.
  EXPECT_EQ(matches(R"([^\S\n]+)", "a \t\nb"), (Strings{" \t"}));
  EXPECT_EQ(matches(R"([a\S]+)", "ab c"), (Strings{"ab", "c"}));
  // ^ and $ are line anchors in Ruby syntax; '.' stops at \n only.
  EXPECT_EQ(matches(R"(^a)", "a\na\r\na"), (Strings{"a", "a", "a"}));
  EXPECT_EQ(matches(R"(.+)", "ab\r\ncd"), (Strings{"ab\r", "cd"}));
}

TEST(TokenizerUnicode, EmptyMatchesFollowOnigurumaIteration) {
  // An empty match right after a match is skipped.
  EXPECT_EQ(matches("x*", "xxbxx"), (Strings{"xx", "xx"}));
  EXPECT_EQ(matches("x*", "ab").size(), 3u);  // empty matches at 0, 1 and 2
}

TEST(TokenizerUnicode, UnsupportedPatternsAreRejected) {
  EXPECT_THROW(Regex("[a[b]]", JsonAt{"f", "p"}), Error);
  EXPECT_THROW(Regex("[a&&b]", JsonAt{"f", "p"}), Error);
  EXPECT_THROW(Regex("(", JsonAt{"f", "p"}), Error);
  EXPECT_THROW(Regex("abc\\", JsonAt{"f", "p"}), Error);
}

TEST(TokenizerUnicode, GptPatternSplitsLikeGpt2) {
  const std::string gpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
  EXPECT_EQ(matches(gpt2, "Hello world's 123  x!!"),
            (Strings{"Hello", " world", "'s", " 123", " ", " x", "!!"}));
}

TEST(TokenizerUnicode, LongRunsDoNotHitTheBacktrackingLimit) {
  const std::string gpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
  EXPECT_EQ(matches(gpt2, std::string(1'000'000, 'a')).size(), 1u);
  const auto spaces = matches(gpt2, std::string(1'000'000, ' ') + "x");
  ASSERT_EQ(spaces.size(), 2u);
  EXPECT_EQ(spaces[0].size(), 999'999u);
  EXPECT_EQ(spaces[1], " x");
}

TEST(TokenizerUnicode, NfcComposesReordersAndKeepsComposedText) {
  EXPECT_EQ(nfc("e\xCC\x81"), "\xC3\xA9");                  // e + acute -> é
  EXPECT_EQ(nfc("\xC3\xA9"), "\xC3\xA9");                   // already composed
  EXPECT_EQ(nfc("a\xCC\x81\xCC\x96"), "\xC3\xA1\xCC\x96");  // grave below (220) sorts first, acute composes
  EXPECT_EQ(nfc("\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8"), "\xEA\xB0\x81");  // jamo -> 각
  EXPECT_EQ(nfc("\xE2\x84\xAB"), "\xC3\x85");                              // ANGSTROM SIGN -> Å (singleton)
  EXPECT_EQ(nfc("\xCD\x84"), "\xCC\x88\xCC\x81");  // U+0344 is excluded from composition
  EXPECT_EQ(nfc("plain ascii"), "plain ascii");
  EXPECT_EQ(nfc("\xE4\xB8\xAD\xE6\x96\x87"), "\xE4\xB8\xAD\xE6\x96\x87");
}

TEST(TokenizerUnicode, ByteLevelAlphabetIsABijection) {
  EXPECT_EQ(byte_level_char(' '), "\xC4\xA0");   // Ġ
  EXPECT_EQ(byte_level_char('\n'), "\xC4\x8A");  // Ċ
  EXPECT_EQ(byte_level_char('A'), "A");
  for (int b = 0; b < 256; ++b) {
    const std::string& s = byte_level_char(static_cast<std::uint8_t>(b));
    std::size_t n = 0;
    const char32_t c = decode_utf8(s, 0, &n);
    ASSERT_EQ(n, s.size());
    ASSERT_EQ(byte_level_byte(c), static_cast<std::uint8_t>(b));
  }
  EXPECT_EQ(byte_level_byte(U' '), std::nullopt);
  EXPECT_EQ(byte_level_byte(0x4E2D), std::nullopt);
}

}  // namespace
}  // namespace paramdelta::tok
