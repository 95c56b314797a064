// render_chat_template: the variables Hugging Face's apply_chat_template
// passes to a template, over the Jinja subset in jinja_*.cpp.
#include "eval/jinja.h"
#include "paramdelta/evaluate.h"

namespace paramdelta {

std::string render_chat_template(std::string_view template_text, const ChatTemplateInput& input,
                                 const std::string& label) {
  using namespace eval::jinja;
  const Body body = parse(lex(template_text, label), label);
  List messages;
  for (const ChatMessage& message : input.messages) {
    Dict entry;
    entry["role"] = Value::from(message.role);
    entry["content"] = Value::from(message.content);
    messages.push_back(Value::from(std::move(entry)));
  }
  Dict globals;
  globals["messages"] = Value::from(std::move(messages));
  globals["add_generation_prompt"] = Value::from(input.add_generation_prompt);
  globals["bos_token"] = Value::from(input.bos_token);
  globals["eos_token"] = Value::from(input.eos_token);
  // apply_chat_template passes these explicitly, as None when not used.
  globals["tools"] = Value::none();
  globals["documents"] = Value::none();
  return render(body, globals, label);
}

}  // namespace paramdelta
