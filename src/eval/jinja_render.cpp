// Syntax tree + variables -> text, with Jinja's semantics for the supported
// subset: undefined values render as "" and are false, none renders "None",
// `and`/`or` return an operand, a for loop's variables (and anything `set`
// inside it) live in the loop's own scope.
#include <algorithm>
#include <string_view>
#include <vector>

#include "eval/jinja.h"
#include "paramdelta/error.h"

namespace paramdelta::eval::jinja {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string strip(std::string_view s, bool left, bool right) {
  std::size_t begin = 0;
  std::size_t end = s.size();
  if (left) {
    while (begin < end && is_space(s[begin])) ++begin;
  }
  if (right) {
    while (end > begin && is_space(s[end - 1])) --end;
  }
  return std::string(s.substr(begin, end - begin));
}

// Knuth-Morris-Pratt: linear in both strings whatever they hold, where a
// naive search (and std::string::find) is quadratic on "aa...ab" in "aa...a".
bool contains_substring(std::string_view text, std::string_view pattern) {
  if (pattern.empty()) return true;
  // border[i]: length of the longest proper prefix of pattern[0..i] that is also its suffix.
  std::vector<std::size_t> border(pattern.size(), 0);
  for (std::size_t i = 1, k = 0; i < pattern.size(); ++i) {
    while (k > 0 && pattern[i] != pattern[k]) k = border[k - 1];
    if (pattern[i] == pattern[k]) ++k;
    border[i] = k;
  }
  for (std::size_t i = 0, k = 0; i < text.size(); ++i) {
    while (k > 0 && text[i] != pattern[k]) k = border[k - 1];
    if (text[i] == pattern[k]) ++k;
    if (k == pattern.size()) return true;
  }
  return false;
}

const char* kind_name(Value::Kind kind) {
  switch (kind) {
    case Value::Kind::kUndefined:
      return "undefined";
    case Value::Kind::kNone:
      return "none";
    case Value::Kind::kBool:
      return "boolean";
    case Value::Kind::kInteger:
      return "integer";
    case Value::Kind::kString:
      return "string";
    case Value::Kind::kList:
      return "list";
    case Value::Kind::kDict:
      return "mapping";
  }
  return "?";
}

bool truthy(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone:
      return false;
    case Value::Kind::kBool:
      return v.boolean;
    case Value::Kind::kInteger:
      return v.integer != 0;
    case Value::Kind::kString:
      return !v.string.empty();
    case Value::Kind::kList:
      return !v.list->empty();
    case Value::Kind::kDict:
      return !v.dict->empty();
  }
  return false;
}

class Renderer {
 public:
  Renderer(const Dict& globals, const std::string& label, const RenderLimits& limits)
      : label_(label), limits_(limits) {
    scopes_.emplace_back(globals.begin(), globals.end());
  }

  std::string run(const Body& body) {
    render_body(body);
    return std::move(out_);
  }

 private:
  [[noreturn]] void fail(int line, const std::string& message) const {
    throw Error(ErrorKind::kInvalidInput, "chat template line " + std::to_string(line) + ": " + message,
                ErrorContext{label_, {}, "chat_template"});
  }
  [[noreturn]] void fail_undefined(int line, const Value& v, const std::string& use) const {
    fail(line, "'" + v.string + "' is undefined (" + use + ")");
  }

  // The work budget: every tag, expression, loop iteration and compared
  // element costs a step, and so does every `bytes_per_step` bytes copied.
  void charge(std::uint64_t steps, int line) {
    steps_ += steps;
    if (steps_ > limits_.max_steps) {
      throw Error(ErrorKind::kInvalidInput,
                  "chat template line " + std::to_string(line) + ": rendering exceeds the work limit of " +
                      std::to_string(limits_.max_steps) + " steps",
                  ErrorContext{label_, {}, "chat_template"},
                  "loops nested too deep or too long for any real conversation");
    }
  }
  void charge_bytes(std::size_t bytes, int line) { charge(bytes / limits_.bytes_per_step, line); }
  // Copying a value costs its own bytes; a list's items were charged when it was built.
  void charge_copy(const Value& v, int line) { charge(1 + v.string.size() / limits_.bytes_per_step, line); }

  [[noreturn]] void fail_size(int line, const std::string& what) const {
    throw Error(ErrorKind::kInvalidInput,
                "chat template line " + std::to_string(line) + ": " + what + " exceeds the size limit of " +
                    std::to_string(limits_.max_output_bytes >> 20) + " MiB",
                ErrorContext{label_, {}, "chat_template"},
                "the template builds text far longer than any prompt");
  }
  // The size budget, checked before anything bigger is allocated.
  void check_string_size(std::size_t size, int line) const {
    if (size > limits_.max_output_bytes) fail_size(line, "a string of " + std::to_string(size) + " bytes");
  }
  Value checked_list(List items, int line) const {
    if (items.size() > limits_.max_list_items) {
      fail(line, "a list of " + std::to_string(items.size()) + " items exceeds the size limit of " +
                     std::to_string(limits_.max_list_items) + " items");
    }
    Value v = Value::from(std::move(items));
    if (v.depth > limits_.max_value_depth) {
      fail(line, "lists nested more than " + std::to_string(limits_.max_value_depth) + " levels deep");
    }
    return v;
  }

  void emit(const std::string& text, int line) {
    if (out_.size() + text.size() > limits_.max_output_bytes) fail_size(line, "the rendered text");
    charge_bytes(text.size(), line);
    out_ += text;
  }

  void render_body(const Body& body) {
    for (const Node& node : body) render_node(node);
  }

  void render_node(const Node& node) {
    charge(1, node.line);
    switch (node.kind) {
      case Node::Kind::kText:
        emit(node.text, node.line);
        return;
      case Node::Kind::kOutput:
        emit(to_output(evaluate(*node.expr), node.line), node.line);
        return;
      case Node::Kind::kSet:
        scopes_.back()[node.text] = evaluate(*node.expr);
        return;
      case Node::Kind::kIf:
        for (const auto& [condition, branch] : node.branches) {
          if (!condition || truthy(evaluate(*condition))) {
            render_body(branch);
            return;
          }
        }
        return;
      case Node::Kind::kFor:
        render_for(node);
        return;
    }
  }

  void render_for(const Node& node) {
    Value iterable = evaluate(*node.expr);
    if (iterable.kind == Value::Kind::kUndefined) return;  // Jinja iterates an undefined value as empty
    if (iterable.kind != Value::Kind::kList) {
      fail(node.line, std::string("unsupported construct: looping over a ") + kind_name(iterable.kind) +
                          " (only lists can be iterated)");
    }
    const List& items = *iterable.list;
    const auto length = static_cast<std::int64_t>(items.size());
    for (std::int64_t i = 0; i < length; ++i) {
      // The loop mapping and the item (and its neighbours) are copied each time.
      charge(10, node.line);
      for (std::int64_t j = std::max<std::int64_t>(i - 1, 0); j <= std::min(i + 1, length - 1); ++j) {
        charge_copy(items[static_cast<std::size_t>(j)], node.line);
      }
      Dict loop;
      loop["index0"] = Value::from(i);
      loop["index"] = Value::from(i + 1);
      loop["revindex0"] = Value::from(length - 1 - i);
      loop["revindex"] = Value::from(length - i);
      loop["first"] = Value::from(i == 0);
      loop["last"] = Value::from(i == length - 1);
      loop["length"] = Value::from(length);
      loop["previtem"] = i > 0 ? items[static_cast<std::size_t>(i - 1)] : Value::undefined("loop.previtem");
      loop["nextitem"] =
          i + 1 < length ? items[static_cast<std::size_t>(i + 1)] : Value::undefined("loop.nextitem");
      Dict scope;
      scope[node.text] = items[static_cast<std::size_t>(i)];
      Value loop_value = Value::from(std::move(loop));
      if (loop_value.depth > limits_.max_value_depth) {
        fail(node.line, "lists nested more than " + std::to_string(limits_.max_value_depth) + " levels deep");
      }
      scope["loop"] = std::move(loop_value);
      scopes_.push_back(std::move(scope));
      render_body(node.body);
      scopes_.pop_back();
    }
  }

  std::string to_output(const Value& v, int line) const {
    switch (v.kind) {
      case Value::Kind::kUndefined:
        return "";
      case Value::Kind::kNone:
        return "None";
      case Value::Kind::kBool:
        return v.boolean ? "True" : "False";
      case Value::Kind::kInteger:
        return std::to_string(v.integer);
      case Value::Kind::kString:
        return v.string;
      default:
        fail(line, std::string("unsupported construct: printing a ") + kind_name(v.kind));
    }
  }

  Value lookup(const std::string& name) const {
    for (auto scope = scopes_.rbegin(); scope != scopes_.rend(); ++scope) {
      auto it = scope->find(name);
      if (it != scope->end()) return it->second;
    }
    return Value::undefined(name);
  }

  std::int64_t integer(const Value& v, int line, const std::string& use) const {
    if (v.kind == Value::Kind::kInteger) return v.integer;
    if (v.kind == Value::Kind::kUndefined) fail_undefined(line, v, use);
    fail(line, std::string("expected an integer for ") + use + ", got a " + kind_name(v.kind));
  }

  // Every expression costs a step, plus the bytes of the value it yields
  // (whether copied out of a variable or built).
  Value evaluate(const Expr& e) {
    Value v = evaluate_uncharged(e);
    charge_copy(v, e.line);
    return v;
  }

  Value evaluate_uncharged(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::kLiteral:
        switch (e.literal_kind) {
          case Expr::LiteralKind::kNone:
            return Value::none();
          case Expr::LiteralKind::kBool:
            return Value::from(e.boolean);
          case Expr::LiteralKind::kInteger:
            return Value::from(e.integer);
          case Expr::LiteralKind::kString:
            return Value::from(e.string);
        }
        break;
      case Expr::Kind::kList: {
        List items;
        for (const ExprPtr& item : e.operands) items.push_back(evaluate(*item));
        return checked_list(std::move(items), e.line);
      }
      case Expr::Kind::kName:
        return lookup(e.name);
      case Expr::Kind::kAttribute:
        return attribute(evaluate(*e.operands[0]), e.name, e.line);
      case Expr::Kind::kIndex:
        return index(evaluate(*e.operands[0]), evaluate(*e.operands[1]), e.line);
      case Expr::Kind::kSlice:
        return slice(e);
      case Expr::Kind::kCall:
        return call(e);
      case Expr::Kind::kFilter:
        return filter(e);
      case Expr::Kind::kTest:
        return test(e);
      case Expr::Kind::kNot:
        return Value::from(!truthy(evaluate(*e.operands[0])));
      case Expr::Kind::kNegate: {
        Value v = evaluate(*e.operands[0]);
        return Value::from(-integer(v, e.line, "unary '-'"));
      }
      case Expr::Kind::kBinary:
        return binary(e);
      case Expr::Kind::kConditional:
        if (truthy(evaluate(*e.operands[1]))) return evaluate(*e.operands[0]);
        return e.operands[2] ? evaluate(*e.operands[2]) : Value::undefined("conditional without else");
    }
    fail(e.line, "internal: unknown expression");
  }

  Value attribute(const Value& base, const std::string& name, int line) const {
    if (base.kind == Value::Kind::kUndefined)
      fail_undefined(line, base, "reading its attribute '" + name + "'");
    if (base.kind == Value::Kind::kDict) {
      auto it = base.dict->find(name);
      return it == base.dict->end() ? Value::undefined(name) : it->second;
    }
    if (base.kind == Value::Kind::kString)
      fail(line, "unsupported construct: string attribute '" + name + "'");
    fail(line, std::string("a ") + kind_name(base.kind) + " has no attribute '" + name + "'");
  }

  Value index(const Value& base, const Value& key, int line) const {
    if (base.kind == Value::Kind::kUndefined) fail_undefined(line, base, "indexing it");
    if (base.kind == Value::Kind::kDict) {
      if (key.kind != Value::Kind::kString) fail(line, "mapping keys must be strings");
      auto it = base.dict->find(key.string);
      return it == base.dict->end() ? Value::undefined(key.string) : it->second;
    }
    if (base.kind == Value::Kind::kList) {
      std::int64_t i = integer(key, line, "a list index");
      const auto size = static_cast<std::int64_t>(base.list->size());
      if (i < 0) i += size;
      if (i < 0 || i >= size) return Value::undefined("index " + std::to_string(i));
      return (*base.list)[static_cast<std::size_t>(i)];
    }
    if (base.kind == Value::Kind::kString) fail(line, "unsupported construct: indexing a string");
    fail(line, std::string("cannot index a ") + kind_name(base.kind));
  }

  Value slice(const Expr& e) {
    Value base = evaluate(*e.operands[0]);
    if (base.kind == Value::Kind::kUndefined) fail_undefined(e.line, base, "slicing it");
    if (base.kind != Value::Kind::kList && base.kind != Value::Kind::kString) {
      fail(e.line, std::string("cannot slice a ") + kind_name(base.kind));
    }
    const auto size =
        static_cast<std::int64_t>(base.kind == Value::Kind::kList ? base.list->size() : base.string.size());
    // Python's rules: negative bounds count from the end, then both are clamped.
    auto bound = [&](const ExprPtr& expr, std::int64_t fallback) {
      if (!expr) return fallback;
      Value v = evaluate(*expr);
      if (v.kind == Value::Kind::kNone) return fallback;
      std::int64_t i = integer(v, e.line, "a slice bound");
      if (i < 0) i += size;
      return std::clamp<std::int64_t>(i, 0, size);
    };
    const std::int64_t begin = bound(e.operands[1], 0);
    const std::int64_t end = std::max(begin, bound(e.operands[2], size));
    if (base.kind == Value::Kind::kString) {
      return Value::from(
          base.string.substr(static_cast<std::size_t>(begin), static_cast<std::size_t>(end - begin)));
    }
    charge_list_copy(*base.list, static_cast<std::size_t>(begin), static_cast<std::size_t>(end), e.line);
    return checked_list(List(base.list->begin() + begin, base.list->begin() + end), e.line);
  }

  Value call(const Expr& e) {
    const Expr& callee = *e.operands[0];
    if (e.keyword_arguments) fail(e.line, "unsupported construct: keyword arguments");
    if (callee.kind == Expr::Kind::kName && callee.name == "raise_exception" &&
        lookup("raise_exception").kind == Value::Kind::kUndefined) {
      std::string message;
      for (std::size_t i = 1; i < e.operands.size(); ++i)
        message += to_output(evaluate(*e.operands[i]), e.line);
      throw Error(ErrorKind::kInvalidInput, "the chat template refused the conversation: " + message,
                  ErrorContext{label_, {}, "chat_template"});
    }
    if (callee.kind == Expr::Kind::kAttribute) {
      const std::string& method = callee.name;
      if (method == "strip" || method == "lstrip" || method == "rstrip") {
        Value base = evaluate(*callee.operands[0]);
        if (base.kind == Value::Kind::kUndefined) fail_undefined(e.line, base, "calling ." + method + "()");
        if (base.kind != Value::Kind::kString) {
          fail(e.line, "." + method + "() needs a string, got a " + std::string(kind_name(base.kind)));
        }
        if (e.operands.size() > 1) fail(e.line, "unsupported construct: ." + method + "() with arguments");
        return Value::from(strip(base.string, method != "rstrip", method != "lstrip"));
      }
      fail(e.line, "unsupported construct: method '." + method + "()'");
    }
    if (callee.kind == Expr::Kind::kName)
      fail(e.line, "unsupported construct: function '" + callee.name + "()'");
    fail(e.line, "unsupported construct: calling an expression");
  }

  Value filter(const Expr& e) {
    if (e.operands.size() > 1 || e.keyword_arguments) {
      fail(e.line, "unsupported construct: filter '" + e.name + "' with arguments");
    }
    Value v = evaluate(*e.operands[0]);
    if (e.name == "trim") {
      if (v.kind == Value::Kind::kUndefined) return Value::from(std::string());
      if (v.kind != Value::Kind::kString)
        fail(e.line, std::string("'trim' needs a string, got a ") + kind_name(v.kind));
      return Value::from(strip(v.string, true, true));
    }
    if (e.name == "length" || e.name == "count") {
      switch (v.kind) {
        case Value::Kind::kString:
          return Value::from(static_cast<std::int64_t>(v.string.size()));
        case Value::Kind::kList:
          return Value::from(static_cast<std::int64_t>(v.list->size()));
        case Value::Kind::kDict:
          return Value::from(static_cast<std::int64_t>(v.dict->size()));
        case Value::Kind::kUndefined:
          return Value::from(std::int64_t{0});
        default:
          fail(e.line, std::string("'") + e.name + "' needs a string or list, got a " + kind_name(v.kind));
      }
    }
    fail(e.line, "unsupported construct: filter '" + e.name + "'");
  }

  Value test(const Expr& e) {
    if (e.operands.size() > 1 || e.keyword_arguments) {
      fail(e.line, "unsupported construct: test '" + e.name + "' with arguments");
    }
    Value v = evaluate(*e.operands[0]);
    bool result = false;
    if (e.name == "defined") {
      result = v.kind != Value::Kind::kUndefined;
    } else if (e.name == "undefined") {
      result = v.kind == Value::Kind::kUndefined;
    } else if (e.name == "none") {
      result = v.kind == Value::Kind::kNone;
    } else if (e.name == "string") {
      result = v.kind == Value::Kind::kString;
    } else {
      fail(e.line, "unsupported construct: test '" + e.name + "'");
    }
    return Value::from(result != e.negated);
  }

  Value binary(const Expr& e) {
    const std::string& op = e.name;
    if (op == "and") {
      Value left = evaluate(*e.operands[0]);
      return truthy(left) ? evaluate(*e.operands[1]) : left;
    }
    if (op == "or") {
      Value left = evaluate(*e.operands[0]);
      return truthy(left) ? left : evaluate(*e.operands[1]);
    }
    Value a = evaluate(*e.operands[0]);
    Value b = evaluate(*e.operands[1]);
    if (op == "==") return Value::from(equal(a, b, e.line));
    if (op == "!=") return Value::from(!equal(a, b, e.line));
    if (op == "~") {
      const std::string left = to_output(a, e.line);
      const std::string right = to_output(b, e.line);
      check_string_size(left.size() + right.size(), e.line);
      return Value::from(left + right);
    }
    for (const Value* v : {&a, &b}) {
      if (v->kind == Value::Kind::kUndefined) fail_undefined(e.line, *v, "operand of '" + op + "'");
    }
    if (op == "in" || op == "not in") return Value::from(contains(b, a, e.line) == (op == "in"));
    if (op == "+") {
      if (a.kind == Value::Kind::kString && b.kind == Value::Kind::kString) {
        check_string_size(a.string.size() + b.string.size(), e.line);
        return Value::from(a.string + b.string);
      }
      if (a.kind == Value::Kind::kList && b.kind == Value::Kind::kList) {
        if (a.list->size() + b.list->size() > limits_.max_list_items) {
          fail(e.line, "a list of " + std::to_string(a.list->size() + b.list->size()) +
                           " items exceeds the size limit of " + std::to_string(limits_.max_list_items) +
                           " items");
        }
        charge_list_copy(*a.list, 0, a.list->size(), e.line);
        charge_list_copy(*b.list, 0, b.list->size(), e.line);
        List joined = *a.list;
        joined.insert(joined.end(), b.list->begin(), b.list->end());
        return checked_list(std::move(joined), e.line);
      }
      if (a.kind == Value::Kind::kInteger && b.kind == Value::Kind::kInteger)
        return Value::from(a.integer + b.integer);
      fail(e.line, std::string("cannot add ") + kind_name(a.kind) + " and " + kind_name(b.kind));
    }
    if (op == "<" || op == ">" || op == "<=" || op == ">=") {
      int order = 0;
      if (a.kind == Value::Kind::kInteger && b.kind == Value::Kind::kInteger) {
        order = a.integer < b.integer ? -1 : a.integer > b.integer ? 1 : 0;
      } else if (a.kind == Value::Kind::kString && b.kind == Value::Kind::kString) {
        order = a.string.compare(b.string);
      } else {
        fail(e.line, std::string("cannot compare ") + kind_name(a.kind) + " and " + kind_name(b.kind));
      }
      if (op == "<") return Value::from(order < 0);
      if (op == ">") return Value::from(order > 0);
      if (op == "<=") return Value::from(order <= 0);
      return Value::from(order >= 0);
    }
    const std::int64_t x = integer(a, e.line, "'" + op + "'");
    const std::int64_t y = integer(b, e.line, "'" + op + "'");
    if (op == "-") return Value::from(x - y);
    if (op == "*") return Value::from(x * y);
    if (op == "%") {
      if (y == 0) fail(e.line, "modulo by zero");
      // Python's modulo takes the divisor's sign.
      std::int64_t r = x % y;
      if (r != 0 && ((r < 0) != (y < 0))) r += y;
      return Value::from(r);
    }
    fail(e.line, "unsupported construct: operator '" + op + "'");
  }

  void charge_list_copy(const List& items, std::size_t begin, std::size_t end, int line) {
    for (std::size_t i = begin; i < end; ++i) charge_copy(items[i], line);
  }

  // Jinja's ==, one step per element compared (nested lists shared many
  // times over would otherwise compare in exponential time).
  bool equal(const Value& a, const Value& b, int line) {
    charge(1, line);
    auto numeric = [](const Value& v) {
      return v.kind == Value::Kind::kBool || v.kind == Value::Kind::kInteger;
    };
    if (numeric(a) && numeric(b)) {
      return (a.kind == Value::Kind::kBool ? a.boolean : a.integer) ==
             (b.kind == Value::Kind::kBool ? b.boolean : b.integer);
    }
    if (a.kind != b.kind) return false;
    switch (a.kind) {
      case Value::Kind::kUndefined:
      case Value::Kind::kNone:
        return true;
      case Value::Kind::kString:
        charge_bytes(std::min(a.string.size(), b.string.size()), line);
        return a.string == b.string;
      case Value::Kind::kList:
        return a.list->size() == b.list->size() &&
               std::equal(a.list->begin(), a.list->end(), b.list->begin(),
                          [&](const Value& x, const Value& y) { return equal(x, y, line); });
      case Value::Kind::kDict:
        return a.dict->size() == b.dict->size() &&
               std::equal(a.dict->begin(), a.dict->end(), b.dict->begin(), [&](const auto& x, const auto& y) {
                 return x.first == y.first && equal(x.second, y.second, line);
               });
      default:
        return false;
    }
  }

  bool contains(const Value& container, const Value& item, int line) {
    if (container.kind == Value::Kind::kString) {
      if (item.kind != Value::Kind::kString) fail(line, "'in' a string needs a string on the left");
      charge_bytes(container.string.size() + item.string.size(), line);
      return contains_substring(container.string, item.string);
    }
    if (container.kind == Value::Kind::kList) {
      return std::any_of(container.list->begin(), container.list->end(),
                         [&](const Value& v) { return equal(v, item, line); });
    }
    if (container.kind == Value::Kind::kDict) {
      return item.kind == Value::Kind::kString && container.dict->count(item.string) > 0;
    }
    fail(line, std::string("'in' needs a string, list or mapping, got a ") + kind_name(container.kind));
  }

  const std::string& label_;
  const RenderLimits& limits_;
  std::uint64_t steps_ = 0;
  std::vector<Dict> scopes_;
  std::string out_;
};

}  // namespace

std::string render(const Body& body, const Dict& globals, const std::string& label,
                   const RenderLimits& limits) {
  return Renderer(globals, label, limits).run(body);
}

}  // namespace paramdelta::eval::jinja
