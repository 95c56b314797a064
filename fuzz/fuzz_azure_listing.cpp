// The Azure Blob service's XML answers, as any server behind a blob endpoint
// may send them: a List Blobs page (blob names, sizes, the continuation
// marker) and an <Error> body (its Code chooses the message), plus the
// connection string format. Each either parses or is a paramdelta::Error;
// an error code that reaches a message is always a plain word.
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "storage/azure_config.h"
#include "storage/azure_protocol.h"

using namespace paramdelta;
using namespace paramdelta::storage;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_clean([&] {
    const azure::Listing page = azure::parse_listing(text, "az://container/prefix");
    for (const auto& blob : page.blobs) fuzz::check(!blob.key.empty(), "listed blobs have names");
  });
  const std::string code = azure::parse_error_code(text);
  fuzz::check(code.size() <= 64, "error codes are short");
  fuzz::check(std::all_of(code.begin(), code.end(),
                          [](char c) { return std::isalnum(static_cast<unsigned char>(c)); }),
              "error codes are plain words");
  const Error mapped =
      azure::map_error("az://c/k", "c", azure::Operation::kRead, 403, code, azure::Auth::kSas, 1);
  fuzz::check(format_error_line(mapped).find('\n') == std::string::npos, "one line");
  fuzz::expect_clean([&] { (void)azure::parse_connection_string(text); });
  return 0;
}
