// Template text -> tokens. Whitespace control follows Jinja as Hugging Face
// configures it for chat templates (trim_blocks and lstrip_blocks on):
//  - "{%-", "{{-", "{#-" remove all whitespace before the tag, "-%}", "-}}", "-#}" all after it;
//  - otherwise the first newline after a block or comment tag is removed (trim_blocks),
//    and spaces/tabs between the start of a line and a block or comment tag are
//    removed (lstrip_blocks; "{%+" keeps them).
#include <algorithm>
#include <cctype>

#include "eval/jinja.h"
#include "paramdelta/error.h"

namespace paramdelta::eval::jinja {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

class Lexer {
 public:
  Lexer(std::string_view src, const std::string& label) : src_(src), label_(label) {
    for (std::size_t i = 0; i < src_.size(); ++i) {
      if (src_[i] == '\n') newlines_.push_back(i);
    }
  }

  std::vector<Token> run() {
    std::size_t pos = 0;
    std::size_t previous_tag_end = 0;
    bool strip_next_text = false;
    while (true) {
      const std::size_t start = find_tag(pos);
      std::string text(src_.substr(pos, (start == std::string_view::npos ? src_.size() : start) - pos));
      if (strip_next_text) text.erase(0, std::find_if_not(text.begin(), text.end(), is_space) - text.begin());
      strip_next_text = false;
      if (start == std::string_view::npos) {
        push_text(text, pos);
        break;
      }
      const char kind = src_[start + 1];
      std::size_t inner = start + 2;
      if (inner < src_.size() && src_[inner] == '-') {
        while (!text.empty() && is_space(text.back())) text.pop_back();
        ++inner;
      } else if (inner < src_.size() && src_[inner] == '+' && kind != '{') {
        ++inner;  // "{%+": keep the indentation
      } else if (kind != '{') {
        lstrip_line(text, start, previous_tag_end);
      }
      push_text(text, pos);

      std::size_t end = 0;
      bool strip_after = false;
      if (kind == '#') {
        const std::size_t close = src_.find("#}", inner);
        if (close == std::string_view::npos) fail(start, "unclosed comment '{#'");
        strip_after = close > inner && src_[close - 1] == '-';
        end = close + 2;
      } else {
        end = lex_tag(start, inner, kind == '{', strip_after);
      }
      if (strip_after) {
        strip_next_text = true;
      } else if (kind != '{') {
        // trim_blocks: a block or comment tag swallows the newline that ends its line.
        if (src_.compare(end, 1, "\n") == 0) {
          end += 1;
        } else if (src_.compare(end, 2, "\r\n") == 0) {
          end += 2;
        }
      }
      pos = end;
      previous_tag_end = end;
    }
    tokens_.push_back(Token{Token::Kind::kEnd, {}, 0, line_of(src_.size())});
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void fail(std::size_t pos, const std::string& message) const {
    throw Error(ErrorKind::kInvalidInput,
                "chat template line " + std::to_string(line_of(pos)) + ": " + message,
                ErrorContext{label_, {}, "chat_template"});
  }

  int line_of(std::size_t pos) const {
    return 1 +
           static_cast<int>(std::lower_bound(newlines_.begin(), newlines_.end(), pos) - newlines_.begin());
  }

  std::size_t find_tag(std::size_t from) const {
    for (std::size_t i = src_.find('{', from); i != std::string_view::npos; i = src_.find('{', i + 1)) {
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    }
    return std::string_view::npos;
  }

  void push_text(const std::string& text, std::size_t pos) {
    if (!text.empty()) tokens_.push_back(Token{Token::Kind::kText, text, 0, line_of(pos)});
  }

  // lstrip_blocks: drop the spaces and tabs that precede a tag at the start of a line.
  void lstrip_line(std::string& text, std::size_t tag_start, std::size_t previous_tag_end) const {
    const std::size_t newline = src_.rfind('\n', tag_start == 0 ? 0 : tag_start - 1);
    const std::size_t line_start =
        (newline == std::string_view::npos || newline >= tag_start) ? 0 : newline + 1;
    if (line_start < previous_tag_end) return;  // another tag sits earlier on this line
    for (std::size_t i = line_start; i < tag_start; ++i) {
      if (src_[i] != ' ' && src_[i] != '\t') return;
    }
    text.resize(text.size() - std::min(text.size(), tag_start - line_start));
  }

  // Lexes the inside of "{{ ... }}" or "{% ... %}" from `inner`; returns the
  // position after the closing delimiter.
  std::size_t lex_tag(std::size_t start, std::size_t inner, bool output, bool& strip_after) {
    const char closer = output ? '}' : '%';
    tokens_.push_back(
        Token{output ? Token::Kind::kOutputBegin : Token::Kind::kBlockBegin, {}, 0, line_of(start)});
    std::size_t i = inner;
    while (true) {
      while (i < src_.size() && is_space(src_[i])) ++i;
      if (i >= src_.size()) fail(start, std::string("unclosed tag '") + (output ? "{{" : "{%") + "'");
      auto closes_at = [&](std::size_t at) {
        return at + 1 < src_.size() && src_[at] == closer && src_[at + 1] == '}';
      };
      if ((src_[i] == '-' || src_[i] == '+') && closes_at(i + 1)) {
        strip_after = src_[i] == '-';
        i += 1;
      }
      if (closes_at(i)) {
        tokens_.push_back(
            Token{output ? Token::Kind::kOutputEnd : Token::Kind::kBlockEnd, {}, 0, line_of(i)});
        return i + 2;
      }
      i = lex_expression_token(i);
    }
  }

  std::size_t lex_expression_token(std::size_t i) {
    const int line = line_of(i);
    const char c = src_[i];
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      std::size_t j = i;
      while (j < src_.size() && (std::isalnum(static_cast<unsigned char>(src_[j])) || src_[j] == '_')) ++j;
      tokens_.push_back(Token{Token::Kind::kName, std::string(src_.substr(i, j - i)), 0, line});
      return j;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      std::size_t j = i;
      std::int64_t value = 0;
      while (j < src_.size() && std::isdigit(static_cast<unsigned char>(src_[j]))) {
        if (value > (INT64_MAX - 9) / 10) fail(i, "integer literal too large");
        value = value * 10 + (src_[j] - '0');
        ++j;
      }
      if (j + 1 < src_.size() && src_[j] == '.' && std::isdigit(static_cast<unsigned char>(src_[j + 1]))) {
        fail(i, "unsupported construct: floating-point literal");
      }
      tokens_.push_back(Token{Token::Kind::kInteger, std::string(src_.substr(i, j - i)), value, line});
      return j;
    }
    if (c == '\'' || c == '"') return lex_string(i);
    static constexpr std::string_view kTwo[] = {"==", "!=", "<=", ">="};
    for (std::string_view op : kTwo) {
      if (src_.compare(i, 2, op) == 0) {
        tokens_.push_back(Token{Token::Kind::kOperator, std::string(op), 0, line});
        return i + 2;
      }
    }
    if (std::string_view("+-*/%~()[].,:|=<>").find(c) != std::string_view::npos) {
      tokens_.push_back(Token{Token::Kind::kOperator, std::string(1, c), 0, line});
      return i + 1;
    }
    if (c == '{') fail(i, "unsupported construct: dict literal");
    fail(i, std::string("unexpected character '") + c + "' in a tag");
  }

  std::size_t lex_string(std::size_t i) {
    const char quote = src_[i];
    std::string value;
    std::size_t j = i + 1;
    while (true) {
      if (j >= src_.size()) fail(i, "unterminated string literal");
      char c = src_[j];
      if (c == quote) break;
      if (c == '\\') {
        if (j + 1 >= src_.size()) fail(i, "unterminated string literal");
        char e = src_[j + 1];
        switch (e) {
          case 'n':
            value += '\n';
            break;
          case 't':
            value += '\t';
            break;
          case 'r':
            value += '\r';
            break;
          case '\\':
            value += '\\';
            break;
          case '\'':
            value += '\'';
            break;
          case '"':
            value += '"';
            break;
          default:
            fail(j, std::string("unsupported escape sequence '\\") + e + "' in a string literal");
        }
        j += 2;
        continue;
      }
      value += c;
      ++j;
    }
    tokens_.push_back(Token{Token::Kind::kString, value, 0, line_of(i)});
    return j + 1;
  }

  std::string_view src_;
  const std::string& label_;
  std::vector<Token> tokens_;
  std::vector<std::size_t> newlines_;  // offsets, for line numbers in messages
};

}  // namespace

std::vector<Token> lex(std::string_view source, const std::string& label) {
  return Lexer(source, label).run();
}

}  // namespace paramdelta::eval::jinja
