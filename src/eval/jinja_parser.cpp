// Tokens -> syntax tree, by recursive descent with Jinja's operator precedence
// (lowest first): conditional "a if b else c", or, and, not, comparisons
// (== != < > <= >= in, not in), + -, ~, * / %, unary minus, then postfix
// (.attr, [index], [a:b], (call), | filter, is test).
#include <algorithm>

#include "eval/jinja.h"
#include "paramdelta/error.h"

namespace paramdelta::eval::jinja {

namespace {

constexpr int kMaxDepth =
    100;  // nesting of blocks and expressions: hostile templates must not overflow the stack

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, const std::string& label) : tokens_(tokens), label_(label) {}

  Body parse_template() {
    std::string terminator;
    Body body = parse_body({}, terminator);
    if (peek().kind != Token::Kind::kEnd) fail(peek().line, "unexpected tokens after the template");
    return body;
  }

 private:
  using Kind = Token::Kind;

  [[noreturn]] void fail(int line, const std::string& message) const {
    throw Error(ErrorKind::kInvalidInput, "chat template line " + std::to_string(line) + ": " + message,
                ErrorContext{label_, {}, "chat_template"});
  }
  [[noreturn]] void unsupported(int line, const std::string& construct) const {
    fail(line, "unsupported construct: " + construct);
  }

  const Token& peek(std::size_t ahead = 0) const {
    std::size_t i = std::min(pos_ + ahead, tokens_.size() - 1);
    return tokens_[i];
  }
  const Token& next() {
    const Token& t = peek();
    if (pos_ < tokens_.size() - 1) ++pos_;
    return t;
  }
  bool at_operator(std::string_view op) const { return peek().kind == Kind::kOperator && peek().text == op; }
  bool at_name(std::string_view name) const { return peek().kind == Kind::kName && peek().text == name; }
  void expect_operator(std::string_view op) {
    if (!at_operator(op)) fail(peek().line, "expected '" + std::string(op) + "', found " + describe(peek()));
    next();
  }
  void expect_kind(Kind kind, const std::string& what) {
    if (peek().kind != kind) fail(peek().line, "expected " + what + ", found " + describe(peek()));
    next();
  }
  std::string expect_name(const std::string& what) {
    if (peek().kind != Kind::kName) fail(peek().line, "expected " + what + ", found " + describe(peek()));
    return next().text;
  }
  static std::string describe(const Token& t) {
    switch (t.kind) {
      case Kind::kText:
        return "template text";
      case Kind::kOutputBegin:
        return "'{{'";
      case Kind::kOutputEnd:
        return "'}}'";
      case Kind::kBlockBegin:
        return "'{%'";
      case Kind::kBlockEnd:
        return "'%}'";
      case Kind::kName:
        return "'" + t.text + "'";
      case Kind::kString:
        return "a string";
      case Kind::kInteger:
        return "'" + t.text + "'";
      case Kind::kOperator:
        return "'" + t.text + "'";
      case Kind::kEnd:
        return "the end of the template";
    }
    return "?";
  }

  struct DepthGuard {
    Parser& parser;
    DepthGuard(Parser& p, int line) : parser(p) {
      if (++parser.depth_ > kMaxDepth)
        parser.fail(line, "nested more than " + std::to_string(kMaxDepth) + " levels deep");
    }
    ~DepthGuard() { --parser.depth_; }
  };

  // Parses nodes until a block tag whose keyword is in `terminators` (which is
  // consumed up to its keyword and reported in `terminator`) or the end.
  Body parse_body(const std::vector<std::string_view>& terminators, std::string& terminator) {
    Body body;
    while (true) {
      const Token& t = peek();
      if (t.kind == Kind::kEnd) {
        terminator.clear();
        if (!terminators.empty()) {
          std::string list;
          for (auto term : terminators) list += (list.empty() ? "" : " or ") + std::string(term);
          fail(t.line, "missing {% " + list + " %}");
        }
        return body;
      }
      if (t.kind == Kind::kText) {
        Node node;
        node.kind = Node::Kind::kText;
        node.line = t.line;
        node.text = next().text;
        body.push_back(std::move(node));
        continue;
      }
      if (t.kind == Kind::kOutputBegin) {
        next();
        Node node;
        node.kind = Node::Kind::kOutput;
        node.line = t.line;
        node.expr = parse_expression();
        expect_kind(Kind::kOutputEnd, "'}}'");
        body.push_back(std::move(node));
        continue;
      }
      if (t.kind != Kind::kBlockBegin) fail(t.line, "unexpected " + describe(t));
      const Token& keyword = peek(1);
      if (keyword.kind != Kind::kName)
        fail(keyword.line, "expected a statement after '{%', found " + describe(keyword));
      for (auto term : terminators) {
        if (keyword.text == term) {
          next();
          next();
          terminator = keyword.text;
          return body;
        }
      }
      next();
      body.push_back(parse_statement());
    }
  }

  Node parse_statement() {
    const Token& keyword = next();
    DepthGuard guard(*this, keyword.line);
    Node node;
    node.line = keyword.line;
    if (keyword.text == "if") {
      node.kind = Node::Kind::kIf;
      ExprPtr condition = parse_expression();
      expect_kind(Kind::kBlockEnd, "'%}'");
      while (true) {
        std::string terminator;
        Body branch = parse_body({"elif", "else", "endif"}, terminator);
        node.branches.emplace_back(std::move(condition), std::move(branch));
        if (terminator == "endif") break;
        if (terminator == "elif") {
          condition = parse_expression();
          expect_kind(Kind::kBlockEnd, "'%}'");
          continue;
        }
        // else: the last branch, with no condition.
        expect_kind(Kind::kBlockEnd, "'%}'");
        std::string end;
        Body last = parse_body({"endif"}, end);
        node.branches.emplace_back(nullptr, std::move(last));
        break;
      }
      expect_kind(Kind::kBlockEnd, "'%}'");
      return node;
    }
    if (keyword.text == "for") {
      node.kind = Node::Kind::kFor;
      node.text = expect_name("a loop variable");
      if (at_operator(",")) unsupported(peek().line, "tuple unpacking in a for loop");
      if (!at_name("in")) fail(peek().line, "expected 'in', found " + describe(peek()));
      next();
      node.expr = parse_or();
      if (at_name("if")) unsupported(peek().line, "loop filter 'for ... if ...'");
      if (at_name("recursive")) unsupported(peek().line, "recursive loop");
      expect_kind(Kind::kBlockEnd, "'%}'");
      std::string terminator;
      node.body = parse_body({"endfor", "else"}, terminator);
      if (terminator == "else") unsupported(keyword.line, "'{% else %}' in a for loop");
      expect_kind(Kind::kBlockEnd, "'%}'");
      return node;
    }
    if (keyword.text == "set") {
      node.kind = Node::Kind::kSet;
      node.text = expect_name("a variable name");
      if (at_operator(".") || at_operator("["))
        unsupported(peek().line, "assignment to an attribute or item");
      if (at_operator(",")) unsupported(peek().line, "tuple assignment");
      if (peek().kind == Kind::kBlockEnd)
        unsupported(peek().line, "block assignment '{% set x %}...{% endset %}'");
      expect_operator("=");
      node.expr = parse_expression();
      expect_kind(Kind::kBlockEnd, "'%}'");
      return node;
    }
    if (keyword.text == "elif" || keyword.text == "else" || keyword.text == "endif" ||
        keyword.text == "endfor") {
      fail(keyword.line, "'{% " + keyword.text + " %}' without a matching opening tag");
    }
    unsupported(keyword.line, "'{% " + keyword.text + " %}'");
  }

  ExprPtr make(Expr::Kind kind, int line, std::string name = {}) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = line;
    e->name = std::move(name);
    return e;
  }
  ExprPtr binary(const std::string& op, ExprPtr left, ExprPtr right, int line) {
    ExprPtr e = make(Expr::Kind::kBinary, line, op);
    e->operands.push_back(std::move(left));
    e->operands.push_back(std::move(right));
    return bounded(std::move(e));
  }
  // Long operator or postfix chains build deep trees without deep parser
  // recursion; their height is checked here so that evaluation stays shallow too.
  ExprPtr bounded(ExprPtr e) {
    for (const ExprPtr& operand : e->operands) {
      if (operand) e->depth = std::max(e->depth, operand->depth + 1);
    }
    if (e->depth > kMaxDepth)
      fail(e->line, "expression nested more than " + std::to_string(kMaxDepth) + " levels deep");
    return e;
  }

  ExprPtr parse_expression() {
    DepthGuard guard(*this, peek().line);
    ExprPtr value = parse_or();
    if (at_name("if")) {
      const int line = next().line;
      ExprPtr e = make(Expr::Kind::kConditional, line);
      e->operands.push_back(std::move(value));
      e->operands.push_back(parse_or());
      if (at_name("else")) {
        next();
        e->operands.push_back(parse_expression());
      } else {
        e->operands.push_back(nullptr);
      }
      return e;
    }
    return value;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (at_name("or")) {
      const int line = next().line;
      left = binary("or", std::move(left), parse_and(), line);
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (at_name("and")) {
      const int line = next().line;
      left = binary("and", std::move(left), parse_not(), line);
    }
    return left;
  }

  ExprPtr parse_not() {
    if (at_name("not")) {
      const int line = next().line;
      DepthGuard guard(*this, line);
      ExprPtr e = make(Expr::Kind::kNot, line);
      e->operands.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    ExprPtr left = parse_additive();
    while (true) {
      const int line = peek().line;
      std::string op;
      if (peek().kind == Kind::kOperator &&
          (peek().text == "==" || peek().text == "!=" || peek().text == "<" || peek().text == ">" ||
           peek().text == "<=" || peek().text == ">=")) {
        op = next().text;
      } else if (at_name("in")) {
        next();
        op = "in";
      } else if (at_name("not") && peek(1).kind == Kind::kName && peek(1).text == "in") {
        next();
        next();
        op = "not in";
      } else {
        return left;
      }
      left = binary(op, std::move(left), parse_additive(), line);
    }
  }

  ExprPtr parse_additive() {
    ExprPtr left = parse_concat();
    while (at_operator("+") || at_operator("-")) {
      const Token& op = next();
      left = binary(op.text, std::move(left), parse_concat(), op.line);
    }
    return left;
  }

  ExprPtr parse_concat() {
    ExprPtr left = parse_multiplicative();
    while (at_operator("~")) {
      const int line = next().line;
      left = binary("~", std::move(left), parse_multiplicative(), line);
    }
    return left;
  }

  ExprPtr parse_multiplicative() {
    ExprPtr left = parse_unary();
    while (at_operator("*") || at_operator("/") || at_operator("%")) {
      const Token& op = next();
      if (op.text == "/") {
        if (at_operator("/")) unsupported(op.line, "operator '//'");
        unsupported(op.line, "operator '/' (it yields a float)");
      }
      if (op.text == "*" && at_operator("*")) unsupported(op.line, "operator '**'");
      left = binary(op.text, std::move(left), parse_unary(), op.line);
    }
    return left;
  }

  ExprPtr parse_unary() {
    DepthGuard guard(*this, peek().line);
    if (at_operator("-")) {
      const int line = next().line;
      ExprPtr e = make(Expr::Kind::kNegate, line);
      e->operands.push_back(parse_unary());
      return e;
    }
    return parse_postfix(parse_primary());
  }

  ExprPtr parse_primary() {
    const Token& t = next();
    switch (t.kind) {
      case Kind::kName: {
        if (t.text == "true" || t.text == "True" || t.text == "false" || t.text == "False") {
          ExprPtr e = make(Expr::Kind::kLiteral, t.line);
          e->literal_kind = Expr::LiteralKind::kBool;
          e->boolean = t.text == "true" || t.text == "True";
          return e;
        }
        if (t.text == "none" || t.text == "None") {
          ExprPtr e = make(Expr::Kind::kLiteral, t.line);
          e->literal_kind = Expr::LiteralKind::kNone;
          return e;
        }
        return make(Expr::Kind::kName, t.line, t.text);
      }
      case Kind::kString: {
        ExprPtr e = make(Expr::Kind::kLiteral, t.line);
        e->literal_kind = Expr::LiteralKind::kString;
        e->string = t.text;
        while (peek().kind == Kind::kString) e->string += next().text;  // "a" "b" is "ab" in Jinja
        return e;
      }
      case Kind::kInteger: {
        ExprPtr e = make(Expr::Kind::kLiteral, t.line);
        e->literal_kind = Expr::LiteralKind::kInteger;
        e->integer = t.integer;
        return e;
      }
      case Kind::kOperator:
        if (t.text == "(") {
          ExprPtr inner = parse_expression();
          if (at_operator(",")) unsupported(peek().line, "tuple literal");
          expect_operator(")");
          return inner;
        }
        if (t.text == "[") {
          ExprPtr list = make(Expr::Kind::kList, t.line);
          while (!at_operator("]")) {
            list->operands.push_back(parse_expression());
            if (!at_operator(",")) break;
            next();
          }
          expect_operator("]");
          return list;
        }
        break;
      default:
        break;
    }
    fail(t.line, "expected a value, found " + describe(t));
  }

  ExprPtr parse_postfix(ExprPtr value) {
    while (true) {
      value = bounded(std::move(value));
      const int line = peek().line;
      if (at_operator(".")) {
        next();
        ExprPtr e = make(Expr::Kind::kAttribute, line, expect_name("an attribute name"));
        e->operands.push_back(std::move(value));
        value = std::move(e);
      } else if (at_operator("[")) {
        next();
        value = parse_subscript(std::move(value), line);
      } else if (at_operator("(")) {
        next();
        ExprPtr call = make(Expr::Kind::kCall, line);
        call->operands.push_back(std::move(value));
        parse_arguments(*call);
        value = std::move(call);
      } else if (at_operator("|")) {
        next();
        ExprPtr e = make(Expr::Kind::kFilter, line, expect_name("a filter name"));
        e->operands.push_back(std::move(value));
        // Arguments are parsed so that a template whose unsupported filters sit in
        // branches never taken (tool use, say) still renders; using one is an error.
        if (at_operator("(")) {
          next();
          parse_arguments(*e);
        }
        value = std::move(e);
      } else if (at_name("is")) {
        next();
        bool negated = false;
        if (at_name("not")) {
          next();
          negated = true;
        }
        ExprPtr e = make(Expr::Kind::kTest, line, expect_name("a test name"));
        e->negated = negated;
        e->operands.push_back(std::move(value));
        if (at_operator("(")) {
          next();
          parse_arguments(*e);
        }
        value = std::move(e);
      } else {
        return value;
      }
    }
  }

  // Arguments after "(" up to and including ")": positional ones become
  // operands; keyword arguments are only recorded (nothing supported takes them).
  void parse_arguments(Expr& call) {
    while (!at_operator(")")) {
      if (peek().kind == Kind::kName && peek(1).kind == Kind::kOperator && peek(1).text == "=") {
        next();
        next();
        call.keyword_arguments = true;
        parse_expression();
      } else {
        call.operands.push_back(parse_expression());
      }
      if (!at_operator(",")) break;
      next();
    }
    expect_operator(")");
  }

  ExprPtr parse_subscript(ExprPtr value, int line) {
    ExprPtr start;
    if (!at_operator(":")) start = parse_expression();
    if (at_operator(":")) {
      next();
      ExprPtr stop;
      if (!at_operator("]") && !at_operator(":")) stop = parse_expression();
      if (at_operator(":")) unsupported(line, "slice step");
      expect_operator("]");
      ExprPtr e = make(Expr::Kind::kSlice, line);
      e->operands.push_back(std::move(value));
      e->operands.push_back(std::move(start));
      e->operands.push_back(std::move(stop));
      return e;
    }
    expect_operator("]");
    ExprPtr e = make(Expr::Kind::kIndex, line);
    e->operands.push_back(std::move(value));
    e->operands.push_back(std::move(start));
    return e;
  }

  const std::vector<Token>& tokens_;
  const std::string& label_;
  std::size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

Body parse(const std::vector<Token>& tokens, const std::string& label) {
  return Parser(tokens, label).parse_template();
}

}  // namespace paramdelta::eval::jinja
