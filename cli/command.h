// Each subcommand lives in its own cli/command_<name>.cpp and registers itself
// here; main.cpp only parses, dispatches and turns errors into one line.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "option_flags.h"

namespace paramdelta::cli {

// Called once with the subcommand's CLI11 app: adds the options, and returns the
// function that runs the command after parsing. It returns the exit code
// (0 success, 1 error); usage errors are CLI11's and exit with 2.
using CommandSetup = std::function<std::function<int()>(CLI::App&)>;

struct CommandDefinition {
  std::string name;
  std::string description;
  CommandSetup setup;
  std::vector<std::string> aliases = {};
};

std::vector<CommandDefinition>& command_registry();

struct CommandRegistrar {
  explicit CommandRegistrar(CommandDefinition definition) {
    command_registry().push_back(std::move(definition));
  }
};

}  // namespace paramdelta::cli
