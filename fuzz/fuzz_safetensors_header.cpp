// parse_safetensors_header, the one validation gate for safetensors files: any
// bytes must give a header whose tensors tile the data area exactly, or a
// paramdelta::Error.
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz_support.h"
#include "paramdelta/dtype.h"
#include "paramdelta/safetensors.h"

using namespace paramdelta;

namespace {

void check_invariants(const SafetensorsHeader& h, std::uint64_t file_size) {
  fuzz::check(h.header_length <= kMaxHeaderBytes, "header length within the cap");
  fuzz::check(h.data_offset() <= file_size, "data offset inside the file");
  std::uint64_t expected = 0;
  for (const auto& t : h.tensors) {
    fuzz::check(t.begin == expected, "tensors are contiguous from offset 0");
    fuzz::check(t.end >= t.begin, "end is not before begin");
    std::uint64_t bytes = dtype_size(t.dtype);
    for (auto d : t.shape) fuzz::check(!__builtin_mul_overflow(bytes, d, &bytes), "size fits 64 bits");
    fuzz::check(bytes == t.nbytes(), "size matches dtype and shape");
    expected = t.end;
  }
  fuzz::check(h.data_offset() + expected == file_size, "tensors end where the file ends");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  fuzz::expect_clean(
      [&] { check_invariants(parse_safetensors_header(bytes, size, "fuzz.safetensors"), size); });
  return 0;
}
