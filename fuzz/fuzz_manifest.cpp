// The delta manifest (paramdelta.json). Stage 1: manifest_from_json on any
// text, and what it accepts must survive a round trip through
// manifest_to_json. Stage 2: the text becomes the manifest of a real delta
// directory (computed once at start-up from two small models), which is then
// opened, its exception lists read, and verified against the post model: the
// whole apply path under a hostile manifest.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "delta/delta_source.h"
#include "delta/manifest.h"
#include "fuzz_support.h"
#include "paramdelta/error.h"
#include "paramdelta/operations.h"

using namespace paramdelta;
namespace fs = std::filesystem;

namespace {

std::string image(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + data;
}

std::string u16s(std::initializer_list<std::uint16_t> values) {
  std::string out;
  for (auto v : values) out += std::string{static_cast<char>(v & 0xff), static_cast<char>(v >> 8)};
  return out;
}

void write_model(const fs::path& dir, const std::string& a_bits) {
  fs::create_directories(dir);
  fuzz::write_bytes(dir / "model.safetensors",
                    image(R"({"a":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,12]},)"
                          R"("b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]},)"
                          R"("n":{"dtype":"I64","shape":[1],"data_offsets":[20,28]}})",
                          a_bits + std::string(8, '\0') + std::string(8, '\1')));
  fuzz::write_bytes(dir / "config.json", "{}");
}

struct Fixture {
  fs::path base, post, delta;
  Fixture() {
    base = fuzz::scratch_dir() / "base";
    post = fuzz::scratch_dir() / "post";
    delta = fuzz::scratch_dir() / "delta";
    write_model(base, u16s({0x3F80, 0x4000, 0x4380, 0xBF80, 0x0000, 0x3E80}));
    // Differences BF16 cannot hold exactly, so that the delta has exception lists.
    write_model(post, u16s({0x3A81, 0x4000, 0x3A80, 0xBF00, 0x8000, 0x3E81}));
    ComputeOptions options;
    options.base = base.string();
    options.post = post.string();
    options.output = delta;
    options.run.threads = 1;
    try {
      compute_delta(options);
    } catch (const Error& e) {
      std::fprintf(stderr, "cannot compute the fixture delta: %s\n", format_error_line(e).c_str());
      std::abort();
    }
  }
};

const Fixture& fixture() {
  static const Fixture f;
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  bool parsed = false;
  fuzz::expect_clean([&] {
    const Manifest m = manifest_from_json(text, "fuzz.json");
    parsed = true;
    const std::string once = manifest_to_json(m);
    const std::string twice = manifest_to_json(manifest_from_json(once, "round-trip.json"));
    fuzz::check(once == twice, "manifest_to_json(manifest_from_json(x)) is stable");
  });
  if (!parsed) return 0;

  const Fixture& f = fixture();
  fuzz::write_bytes(f.delta / kManifestFileName, text);
  fuzz::expect_clean([&] {
    const DeltaSource delta = DeltaSource::open(f.delta);
    for (const auto& t : delta.manifest().tensors) {
      const ExceptionList list = delta.exceptions(t);
      std::uint64_t numel = 1;
      for (auto d : t.shape) numel *= d;
      for (std::uint64_t i = 0; i < list.count; ++i)
        fuzz::check(list.index_at(i) < numel, "exception inside the tensor");
    }
  });
  fuzz::expect_clean([&] {
    VerifyOptions options;
    options.base = f.base.string();
    options.delta = f.delta.string();
    options.expect = f.post.string();
    options.run.threads = 1;
    (void)verify_delta(options);
  });
  return 0;
}
