// paramdelta: carry a model's post-training over to a new base (ParamΔ).
#include <csignal>
#include <cstdio>
#include <exception>
#include <iostream>
#include <map>
#include <memory>
#include <optional>

#include "command.h"
#include "option_flags.h"
#include "paramdelta/error.h"
#include "unknown_arguments.h"

namespace paramdelta::cli {
std::vector<CommandDefinition>& command_registry() {
  static std::vector<CommandDefinition> registry;
  return registry;
}
}  // namespace paramdelta::cli

int main(int argc, char** argv) {
  using namespace paramdelta;
  // Past a file size limit (RLIMIT_FSIZE) a write must fail with EFBIG and be
  // reported like a full disk, not kill the program and strand temporary files.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{
      "paramdelta: compute, keep, combine and apply ParamΔ weight deltas (Θ'post = Θ'base + s·(Θpost − "
      "Θbase))",
      "paramdelta"};
  app.set_version_flag("--version", std::string("paramdelta ") + PARAMDELTA_VERSION);
  app.require_subcommand(1);

  std::map<CLI::App*, std::function<int()>> runners;
  for (auto& definition : cli::command_registry()) {
    CLI::App* sub = app.add_subcommand(definition.name, definition.description);
    for (const auto& alias : definition.aliases) sub->alias(alias);
    runners[sub] = definition.setup(*sub);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // What the user typed wrong comes before what CLI11 found missing because of it.
    std::optional<std::string> problem = cli::describe_unrecognized_argument(app);
    if (!problem) problem = cli::describe_missing_command(app);
    if (problem) {
      std::cerr << "paramdelta: usage error: " << *problem << "\n";
    } else {
      std::cerr << "paramdelta: usage error: " << e.what() << " (see 'paramdelta --help')\n";
    }
    return 2;
  }

  for (auto& [sub, run] : runners) {
    if (!sub->parsed()) continue;
    try {
      return run();
    } catch (const Error& e) {
      std::cerr << "paramdelta: error: " << format_error_line(e, cli::flag_spelling) << "\n";
      return e.kind() == ErrorKind::kUsage ? 2 : 1;
    } catch (const std::bad_alloc&) {
      std::cerr << "paramdelta: error: out of memory\n";
      return 1;
    } catch (const std::exception& e) {
      std::cerr << "paramdelta: error: internal: " << e.what() << " (please report this)\n";
      return 1;
    }
  }
  return 2;
}
