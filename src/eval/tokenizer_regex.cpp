#include "eval/tokenizer_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "eval/unicode_utf8.h"
#include "paramdelta/error.h"

namespace paramdelta::tok {

namespace {

// Oniguruma's \s: the Unicode White_Space characters. PCRE2's \s also matches
// U+180E, which Oniguruma does not.
constexpr std::string_view kSpaceItems =
    "\\t-\\r\\x{20}\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}";
// Oniguruma's \w: alphabetic, marks, decimal digits, connector punctuation, and
// (from its Latin-1 table) the superscript digits and vulgar fractions. PCRE2's
// \w is letters, all numbers and underscore only.
constexpr std::string_view kWordItems =
    "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\x{b2}\\x{b3}\\x{b9}\\x{bc}-\\x{be}";
// Oniguruma's \h is a hexadecimal digit (PCRE2's is horizontal space).
constexpr std::string_view kHexItems = "0-9a-fA-F";

// The class items a shorthand stands for, and whether it is the negated form.
bool shorthand_items(char letter, std::string_view* items, bool* negated) {
  switch (letter) {
    case 's':
    case 'S':
      *items = kSpaceItems;
      break;
    case 'w':
    case 'W':
      *items = kWordItems;
      break;
    case 'h':
    case 'H':
      *items = kHexItems;
      break;
    default:
      return false;
  }
  *negated = letter >= 'A' && letter <= 'Z';
  return true;
}

[[noreturn]] void pattern_error(const JsonAt& at, const std::string& message) {
  fail(at, "regular expression: " + message);
}

// Translates a bracket class starting at p[i] == '['; returns the index after it.
std::size_t translate_class(std::string_view p, std::size_t i, const JsonAt& at, std::string& out) {
  std::size_t j = i + 1;
  bool negated_class = false;
  if (j < p.size() && p[j] == '^') {
    negated_class = true;
    ++j;
  }
  std::string items;
  std::vector<std::string_view> required;  // a negated shorthand inside: the char must be outside these
  bool first = true;
  while (true) {
    if (j >= p.size()) pattern_error(at, "unterminated character class");
    const char ch = p[j];
    if (ch == ']' && !first) break;
    first = false;
    if (ch == '[') {
      if (j + 1 < p.size() && p[j + 1] == ':') {  // POSIX class [:alpha:]
        const auto close = p.find(":]", j + 2);
        if (close == std::string_view::npos) pattern_error(at, "unterminated POSIX class");
        items.append(p.substr(j, close + 2 - j));
        j = close + 2;
        continue;
      }
      pattern_error(at, "nested character classes are not supported");
    }
    if (ch == '&' && j + 1 < p.size() && p[j + 1] == '&') {
      pattern_error(at, "class intersection (&&) is not supported");
    }
    if (ch == '\\') {
      if (j + 1 >= p.size()) pattern_error(at, "pattern ends with a backslash");
      std::string_view sh;
      bool neg = false;
      if (shorthand_items(p[j + 1], &sh, &neg)) {
        if (neg) {
          required.push_back(sh);
        } else {
          items.append(sh);
        }
      } else {
        items.append(p.substr(j, 2));
      }
      j += 2;
      continue;
    }
    items.push_back(ch);
    ++j;
  }
  // Written with append() only: GCC 12 misreports string concatenation here (-Wrestrict).
  auto bracket = [&out](std::string_view prefix, std::string_view body, std::string_view suffix) {
    out.append(prefix).append(body).append(suffix);
  };
  if (required.empty()) {
    bracket(negated_class ? "[^" : "[", items, "]");
  } else if (!negated_class) {
    // [A\S] = A or not-space.
    out.append("(?:");
    if (!items.empty()) bracket("[", items, "]|");
    for (std::size_t k = 0; k < required.size(); ++k) bracket(k ? "|[^" : "[^", required[k], "]");
    out.append(")");
  } else {
    // [^A\S] = not A, and a space.
    out.append("(?:");
    if (!items.empty()) bracket("(?![", items, "])");
    for (std::size_t k = 1; k < required.size(); ++k) bracket("(?=[", required[k], "])");
    bracket("[", required[0], "])");
  }
  return j + 1;
}

// One JIT stack per thread, bigger than PCRE2's 32 KiB default so that long
// pieces (runs of spaces, long words) do not exhaust it.
struct ThreadJitStack {
  pcre2_jit_stack* stack = nullptr;
  ~ThreadJitStack() {
    if (stack) pcre2_jit_stack_free(stack);
  }
};

pcre2_jit_stack* jit_stack_for_thread(void*) {
  thread_local ThreadJitStack holder;
  if (!holder.stack) holder.stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
  return holder.stack;
}

struct ThreadMatchData {
  pcre2_match_data* data = nullptr;
  ~ThreadMatchData() {
    if (data) pcre2_match_data_free(data);
  }
};

pcre2_match_data* match_data_for_thread() {
  thread_local ThreadMatchData holder;
  if (!holder.data) holder.data = pcre2_match_data_create(1, nullptr);
  if (!holder.data) throw std::bad_alloc();
  return holder.data;
}

}  // namespace

std::string translate_onig_pattern(std::string_view p, const JsonAt& at) {
  std::string out;
  out.reserve(p.size() + 64);
  std::size_t i = 0;
  while (i < p.size()) {
    const char ch = p[i];
    if (ch == '\\') {
      if (i + 1 >= p.size()) pattern_error(at, "pattern ends with a backslash");
      const char d = p[i + 1];
      std::string_view items;
      bool negated = false;
      if (shorthand_items(d, &items, &negated)) {
        out += negated ? "[^" : "[";
        out.append(items);
        out += "]";
        i += 2;
      } else if (d == 'b' || d == 'B') {
        // Word boundaries by Oniguruma's \w, written with lookarounds.
        // \b: (?<=w)(?!w) or (?<!w)(?=w); \B: (?<=w)(?=w) or (?<!w)(?!w).
        const char* parts[] = {"(?:(?<=", d == 'b' ? ")(?!" : ")(?=", ")|(?<!", d == 'b' ? ")(?=" : ")(?!"};
        for (const char* part : parts) {
          out.append(part);
          out.append("[").append(kWordItems).append("]");
        }
        out.append("))");
        i += 2;
      } else if (d == 'Q') {  // quoted literal text up to \E
        const auto end = p.find("\\E", i + 2);
        const std::size_t stop = end == std::string_view::npos ? p.size() : end + 2;
        out.append(p.substr(i, stop - i));
        i = stop;
      } else {
        out.append(p.substr(i, 2));
        i += 2;
      }
    } else if (ch == '[') {
      i = translate_class(p, i, at, out);
    } else {
      out.push_back(ch);
      ++i;
    }
  }
  return out;
}

struct Regex::Impl {
  pcre2_code* code = nullptr;
  pcre2_match_context* context = nullptr;
  std::string file;
  std::string field;
  bool jit = false;

  ~Impl() {
    if (context) pcre2_match_context_free(context);
    if (code) pcre2_code_free(code);
  }
};

Regex::Regex(std::string_view pattern, const JsonAt& at) : impl_(std::make_unique<Impl>()) {
  if (pattern.size() > kMaxPatternBytes)
    pattern_error(at, "pattern is longer than " + std::to_string(kMaxPatternBytes) + " bytes");
  if (find_invalid_utf8(pattern)) pattern_error(at, "pattern is not valid UTF-8");
  const std::string translated = translate_onig_pattern(pattern, at);
  impl_->file = at.file;
  impl_->field = at.path;

  pcre2_compile_context* cctx = pcre2_compile_context_create(nullptr);
  if (!cctx) throw std::bad_alloc();
  // Oniguruma's Ruby syntax: '.' stops at LF only, ^ and $ are line anchors.
  pcre2_set_newline(cctx, PCRE2_NEWLINE_LF);
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                              PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE | PCRE2_NO_UTF_CHECK, &error_code,
                              &error_offset, cctx);
  pcre2_compile_context_free(cctx);
  if (!impl_->code) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error_code, message, sizeof message);
    pattern_error(at, std::string(reinterpret_cast<const char*>(message)) + " (at offset " +
                          std::to_string(error_offset) + " of the translated pattern)");
  }
  impl_->jit = pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE) == 0;
  impl_->context = pcre2_match_context_create(nullptr);
  if (!impl_->context) throw std::bad_alloc();
  if (impl_->jit) pcre2_jit_stack_assign(impl_->context, jit_stack_for_thread, nullptr);
  // Hostile patterns must not hang the tokenizer: bound the backtracking.
  pcre2_set_match_limit(impl_->context, 50'000'000);
  pcre2_set_depth_limit(impl_->context, 1'000'000);
}

Regex::~Regex() = default;
Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;

void Regex::find_all(std::string_view text, std::vector<Range>& out) const {
  pcre2_match_data* md = match_data_for_thread();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  std::size_t search_from = 0;
  bool have_previous = false;
  std::size_t previous_end = 0;
  while (search_from <= text.size()) {
    const int rc =
        pcre2_match(impl_->code, subject, text.size(), search_from, PCRE2_NO_UTF_CHECK, md, impl_->context);
    if (rc == PCRE2_ERROR_NOMATCH) return;
    if (rc < 0) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(rc, message, sizeof message);
      throw Error(
          ErrorKind::kInvalidInput,
          std::string("regular expression failed on the text: ") + reinterpret_cast<const char*>(message),
          ErrorContext{impl_->file, {}, impl_->field}, "the pattern backtracks too much for this input");
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    const std::size_t begin = ov[0];
    const std::size_t end = ov[1];
    if (begin == end && have_previous && previous_end == end) {
      // Skip an empty match touching the previous match; move one character on.
      if (search_from >= text.size()) return;
      search_from += utf8_length(static_cast<unsigned char>(text[search_from]));
      continue;
    }
    out.push_back(Range{begin, end});
    have_previous = true;
    previous_end = end;
    search_from = end;
  }
}

TextPattern TextPattern::from_json(const Json& value, const JsonAt& at) {
  require_object(value, at);
  if (value.size() != 1) fail(at, "expected exactly one of \"String\" or \"Regex\"");
  TextPattern pattern;
  if (const Json* s = optional_member(value, "String")) {
    pattern.literal_ = as_string(*s, at / "String");
    if (pattern.literal_.empty()) fail(at / "String", "empty pattern");
    if (pattern.literal_.size() > kMaxPatternBytes) fail(at / "String", "pattern too long");
    return pattern;
  }
  if (const Json* r = optional_member(value, "Regex")) {
    pattern.regex_ = std::make_shared<const Regex>(as_string(*r, at / "Regex"), at / "Regex");
    return pattern;
  }
  fail(at, "expected exactly one of \"String\" or \"Regex\"");
}

TextPattern TextPattern::literal(std::string text) {
  TextPattern pattern;
  pattern.literal_ = std::move(text);
  return pattern;
}

void TextPattern::find_all(std::string_view text, std::vector<Range>& out) const {
  if (regex_) {
    regex_->find_all(text, out);
    return;
  }
  std::size_t pos = 0;
  while (true) {
    const auto hit = text.find(literal_, pos);
    if (hit == std::string_view::npos) return;
    out.push_back(Range{hit, hit + literal_.size()});
    pos = hit + literal_.size();
  }
}

}  // namespace paramdelta::tok
