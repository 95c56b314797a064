// paramdelta inspect: what a model or delta holds.
#include <cstdio>
#include <iostream>

#include "command.h"
#include "paramdelta/operations.h"

namespace paramdelta::cli {
namespace {

std::string shape_text(const std::vector<std::uint64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::function<int()> setup(CLI::App& app) {
  struct State {
    std::string path;
    bool json = false;
  };
  auto s = std::make_shared<State>();
  app.add_option("path", s->path, "Model directory, .safetensors file, delta, or cached Hub id")->required();
  app.add_flag("--json", s->json, "Machine-readable output");
  return [s]() {
    InspectReport r = inspect(s->path);
    if (s->json) {
      std::cout << to_json(r) << "\n";
      return 0;
    }
    for (const auto& w : r.warnings) std::cerr << "warning: " << w << "\n";
    for (const auto& t : r.tensors) {
      std::printf("%-60s %-8s %-22s %12llu B", t.name.c_str(), t.dtype.c_str(), shape_text(t.shape).c_str(),
                  static_cast<unsigned long long>(t.bytes));
      if (!t.delta_kind.empty())
        std::printf("  %s, %llu exceptions", t.delta_kind.c_str(),
                    static_cast<unsigned long long>(t.exceptions));
      std::printf("\n");
    }
    for (const auto& [k, v] : r.metadata) std::printf("metadata %s = %s\n", k.c_str(), v.c_str());
    if (!r.files.empty()) {
      std::printf("files:");
      for (const auto& f : r.files) std::printf(" %s", f.c_str());
      std::printf("\n");
    }
    if (!r.quantization.empty()) {
      std::printf("quantized: %s (the other commands refuse quantized weights; use an unquantized release)\n",
                  r.quantization.c_str());
    }
    for (const auto& note : r.notes) std::printf("note: %s\n", with_flags(note).c_str());
    std::printf("%s: %s, %zu tensors in %zu file(s), %llu parameters, %.3f GB\n", r.path.c_str(),
                r.kind.c_str(), r.tensors.size(), r.shards, static_cast<unsigned long long>(r.parameters),
                r.total_bytes / 1e9);
    return 0;
  };
}

const CommandRegistrar registrar{
    {"inspect", "List the tensors, dtypes, shapes and metadata of a model or delta", setup, {}}};

}  // namespace
}  // namespace paramdelta::cli
