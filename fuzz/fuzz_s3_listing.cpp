// The XML documents an S3 server (anything behind AWS_ENDPOINT_URL) may send:
// a ListObjectsV2 page, an InitiateMultipartUpload result and an <Error>
// document. Each is accepted with its invariants or refused with a
// paramdelta::Error; the error mapped from any body is one line.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "storage/s3_protocol.h"

using namespace paramdelta;
using namespace paramdelta::storage;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_clean([&] {
    const s3::ListPage page = s3::parse_list_objects_v2(text, "s3://bucket/prefix");
    for (const auto& o : page.objects) fuzz::check(!o.key.empty(), "listed keys are not empty");
    fuzz::check(!page.truncated || !page.next_token.empty(), "a truncated page names its continuation");
  });
  fuzz::expect_clean([&] {
    const std::string id = s3::parse_upload_id(text, "s3://bucket/key");
    fuzz::check(!id.empty(), "an upload id is not empty");
  });
  if (const auto body = s3::parse_error_body(text)) {
    for (const std::string* field : {&body->code, &body->message, &body->region, &body->bucket}) {
      fuzz::check(field->find_first_of("\r\n") == std::string::npos, "error fields are one line");
    }
  }
  for (long status : {301L, 400L, 403L, 404L, 416L, 500L, 503L}) {
    for (bool anonymous : {false, true}) {
      const s3::ErrorSubject subject{"s3://bucket/key", "bucket", "read", anonymous, "us-east-1"};
      const Error e = s3::response_error(status, text, subject);
      const std::string line = format_error_line(e);
      fuzz::check(line.find_first_of("\r\n") == std::string::npos, "the error is one line");
      fuzz::check(!e.message().empty(), "the error says something");
    }
  }
  return 0;
}
