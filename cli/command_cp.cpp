// paramdelta cp: copy a model or delta between local paths, object stores and the Hub.
#include "command.h"
#include "common_options.h"
#include "paramdelta/operations.h"

namespace paramdelta::cli {
namespace {

std::function<int()> setup(CLI::App& app) {
  struct State {
    CopyOptions options;
    std::string destination;
    SharedFlags flags;
  };
  auto s = std::make_shared<State>();
  app.add_option("source", s->options.source,
                 "Model or delta: a local path, az://container/path, s3://bucket/path, or a Hub id")
      ->required();
  app.add_option("destination", s->destination,
                 "Where to put it: a local path, az://container/path or s3://bucket/path")
      ->required();
  s->flags.add_to(app, true);
  return [s]() {
    s->options.destination = s->destination;
    s->options.run = s->flags.run_options();
    print_summary(copy(s->options), s->flags);
    return 0;
  };
}

const CommandRegistrar registrar{
    {"cp", "Copy a model or delta between local paths, object stores and the Hub, atomically", setup, {}}};

}  // namespace
}  // namespace paramdelta::cli
