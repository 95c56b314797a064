// A whole safetensors file through the public reader: opened from disk
// (memory-mapped), every tensor's bytes reached and small ones widened to
// float32, as inspect/compute/apply would. Catches reads outside the mapping
// (AddressSanitizer) and arithmetic on unchecked sizes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_support.h"
#include "paramdelta/checkpoint.h"

using namespace paramdelta;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = fuzz::scratch_dir() / "model.safetensors";
  fuzz::write_bytes(path, std::string_view(reinterpret_cast<const char*>(data), size));
  fuzz::expect_clean([&] {
    const Checkpoint ckpt = Checkpoint::open(path);
    std::uint64_t total = 0;
    for (const auto& ref : ckpt.tensors()) {
      const auto bytes = ckpt.data(ref);
      fuzz::check(bytes.size() == ref.info->nbytes(), "data span has the tensor's size");
      total += bytes.size();
      // Touch the first and last byte: out-of-mapping spans fault here.
      if (!bytes.empty()) {
        volatile std::byte first = bytes.front();
        volatile std::byte last = bytes.back();
        (void)first;
        (void)last;
      }
      if (ref.info->numel() <= 4096) (void)read_tensor_as_f32(ckpt, ref);
    }
    fuzz::check(total == ckpt.total_tensor_bytes(), "total bytes add up");
    fuzz::check(total <= size, "tensors fit in the file");
  });
  return 0;
}
