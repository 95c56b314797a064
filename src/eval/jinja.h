// A deliberately small Jinja subset, enough for the chat templates of common
// Llama-family models. The supported features are listed in evaluate.h
// (render_chat_template); everything else is refused with an error naming the
// construct and its line, never rendered approximately.
//
// Three stages: lex (template text -> tokens, applying whitespace control as
// Hugging Face configures Jinja: trim_blocks and lstrip_blocks on), parse
// (tokens -> syntax tree), render (tree + variables -> text).
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace paramdelta::eval::jinja {

struct Token {
  enum class Kind {
    kText,         // literal template text, whitespace control already applied
    kOutputBegin,  // {{
    kOutputEnd,    // }}
    kBlockBegin,   // {%
    kBlockEnd,     // %}
    kName,         // identifier or keyword
    kString,       // string literal, escapes resolved
    kInteger,
    kOperator,  // == != <= >= < > + - * / % ~ ( ) [ ] . , : | =
    kEnd,
  };
  Kind kind = Kind::kEnd;
  std::string text;
  std::int64_t integer = 0;
  int line = 1;
};

std::vector<Token> lex(std::string_view source, const std::string& label);

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    kLiteral,      // value: string, integer, true/false/none
    kList,         // [a, b]
    kName,         // variable
    kAttribute,    // operands[0].name
    kIndex,        // operands[0][operands[1]]
    kSlice,        // operands[0][operands[1]:operands[2]] (null operands = open ends)
    kCall,         // operands[0](operands[1..]) : raise_exception(...) or a string method
    kFilter,       // operands[0] | name(operands[1..])
    kNot,          // not operands[0]
    kNegate,       // -operands[0]
    kBinary,       // operands[0] op operands[1]; op in + - * % ~ == != < > <= >= in "not in" and or
    kTest,         // operands[0] is [not] name(operands[1..])
    kConditional,  // operands[0] if operands[1] else operands[2] (else part optional)
  };
  Kind kind = Kind::kLiteral;
  std::string name;                // variable, attribute, filter, test name, or binary operator
  bool negated = false;            // "is not"
  bool keyword_arguments = false;  // a call, filter or test was given name=value arguments
  int line = 1;
  int depth = 1;                  // height of this subtree (bounded by the parser)
  std::vector<ExprPtr> operands;  // null entries allowed for open slice ends / missing else
  // Literal payload.
  enum class LiteralKind { kNone, kBool, kInteger, kString } literal_kind = LiteralKind::kNone;
  bool boolean = false;
  std::int64_t integer = 0;
  std::string string;
};

struct Node;
using Body = std::vector<Node>;

struct Node {
  enum class Kind { kText, kOutput, kIf, kFor, kSet };
  Kind kind = Kind::kText;
  int line = 1;
  std::string text;                                // kText; kFor/kSet: the variable name
  ExprPtr expr;                                    // kOutput, kFor (iterable), kSet (value)
  std::vector<std::pair<ExprPtr, Body>> branches;  // kIf: condition/body pairs; else has a null condition
  Body body;                                       // kFor
};

Body parse(const std::vector<Token>& tokens, const std::string& label);

// Values the renderer works with.
struct Value;
using List = std::vector<Value>;
using Dict = std::map<std::string, Value, std::less<>>;

struct Value {
  enum class Kind { kUndefined, kNone, kBool, kInteger, kString, kList, kDict };
  Kind kind = Kind::kUndefined;
  bool boolean = false;
  std::int64_t integer = 0;
  std::string string;  // kString; kUndefined: the name that was looked up (for errors)
  std::shared_ptr<const List> list;
  std::shared_ptr<const Dict> dict;
  // Height of nested lists and mappings (0 for scalars), kept so that the
  // renderer can refuse values too deep to compare or free without
  // recursing off the stack.
  int depth = 0;

  static Value undefined(std::string name) {
    Value v;
    v.string = std::move(name);
    return v;
  }
  static Value none() { return make(Kind::kNone); }
  static Value from(bool b) {
    Value v = make(Kind::kBool);
    v.boolean = b;
    return v;
  }
  static Value from(std::int64_t i) {
    Value v = make(Kind::kInteger);
    v.integer = i;
    return v;
  }
  static Value from(std::string s) {
    Value v = make(Kind::kString);
    v.string = std::move(s);
    return v;
  }
  static Value from(List l) {
    Value v = make(Kind::kList);
    v.depth = 1 + deepest(l);
    v.list = std::make_shared<const List>(std::move(l));
    return v;
  }
  static Value from(Dict d) {
    Value v = make(Kind::kDict);
    for (const auto& entry : d) v.depth = std::max(v.depth, entry.second.depth + 1);
    if (v.depth == 0) v.depth = 1;
    v.dict = std::make_shared<const Dict>(std::move(d));
    return v;
  }

 private:
  static int deepest(const List& l) {
    int d = 0;
    for (const Value& item : l) d = std::max(d, item.depth);
    return d;
  }
  static Value make(Kind kind) {
    Value v;
    v.kind = kind;
    return v;
  }
};

// A template is code from an untrusted file: rendering is bounded in work and
// in size, and fails with an error naming the limit rather than running for
// minutes or exhausting memory. The limits are far above what a real chat
// template needs for any conversation that fits a model's context.
struct RenderLimits {
  // Work: one step per tag, expression, loop iteration or compared element,
  // plus one per `bytes_per_step` bytes copied into a value, so that copying
  // long strings over and over counts too.
  std::uint64_t max_steps = 4'000'000;
  std::uint64_t bytes_per_step = 256;
  // Size: the rendered text and every string built along the way.
  std::size_t max_output_bytes = 16u << 20;
  std::size_t max_list_items = 1u << 20;
  int max_value_depth = 100;  // lists of lists of ...
};

// Renders `body` with `globals` as the outermost scope. raise_exception(msg)
// is built in and throws paramdelta::Error with the template's message.
std::string render(const Body& body, const Dict& globals, const std::string& label,
                   const RenderLimits& limits = {});

}  // namespace paramdelta::eval::jinja
