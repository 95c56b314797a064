// model.safetensors.index.json through Checkpoint::open on a directory that
// holds two valid shards (tensors "a", "b" and "c"), with a valid bait file
// one level up: whatever the index says, an opened checkpoint reads only
// files inside its directory and maps every tensor to exactly one shard.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "paramdelta/checkpoint.h"

using namespace paramdelta;
namespace fs = std::filesystem;

namespace {

std::string image(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + data;
}

const fs::path& model_dir() {
  static const fs::path dir = [] {
    const fs::path d = fuzz::scratch_dir() / "model";
    fs::create_directories(d);
    fuzz::write_bytes(d / "model-00001-of-00002.safetensors",
                      image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                            R"("b":{"dtype":"U8","shape":[3],"data_offsets":[8,11]}})",
                            std::string(11, '\1')));
    fuzz::write_bytes(
        d / "model-00002-of-00002.safetensors",
        image(R"({"__metadata__":{"format":"pt"},"c":{"dtype":"BF16","shape":[1,2],"data_offsets":[0,4]}})",
              std::string(4, '\2')));
    fuzz::write_bytes(
        fuzz::scratch_dir() / "outside.safetensors",
        image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\3')));
    return d;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fs::path& dir = model_dir();
  fuzz::write_bytes(dir / "model.safetensors.index.json",
                    std::string_view(reinterpret_cast<const char*>(data), size));
  fuzz::expect_clean([&] {
    const Checkpoint ckpt = Checkpoint::open(dir);
    const fs::path canonical_dir = fs::canonical(dir);
    for (std::size_t i = 0; i < ckpt.shard_count(); ++i) {
      fuzz::check(fs::canonical(ckpt.shard(i).path()).parent_path() == canonical_dir,
                  "shards stay in the directory");
    }
    std::set<std::string> names;
    for (const auto& ref : ckpt.tensors()) {
      fuzz::check(names.insert(ref.name()).second, "each tensor comes from one shard");
      fuzz::check(ckpt.find(ref.name()) != nullptr, "every tensor can be found");
      fuzz::check(ckpt.data(ref).size() == ref.info->nbytes(), "data span has the tensor's size");
    }
    for (const auto& n : names) fuzz::check(n == "a" || n == "b" || n == "c", "only tensors the shards hold");
  });
  return 0;
}
