// The S3 REST protocol's documents, apart from the HTTP exchanges: the
// ListObjectsV2 result, the InitiateMultipartUpload result, the
// CompleteMultipartUpload request body, and the <Error> documents that S3
// answers with, mapped to paramdelta::Error with one line people understand.
// Everything here parses what any server behind AWS_ENDPOINT_URL may send,
// so it never trusts it: malformed documents are errors, never crashes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "paramdelta/error.h"
#include "storage/object_store.h"

namespace paramdelta::storage::s3 {

struct ListPage {
  std::vector<ObjectInfo> objects;
  bool truncated = false;
  std::string next_token;  // NextContinuationToken; never empty when truncated
};

// A ListObjectsV2 answer (<ListBucketResult>). Throws Error(kIo) naming
// `label` for anything else: another root, an object without a key or with a
// size that is not a number, a truncated page without a continuation token.
ListPage parse_list_objects_v2(std::string_view xml, const std::string& label);

// The UploadId of an <InitiateMultipartUploadResult>; Error(kIo) otherwise.
std::string parse_upload_id(std::string_view xml, const std::string& label);

// S3's error document: <Error><Code>..</Code><Message>..</Message>...</Error>.
struct ErrorBody {
  std::string code;     // "NoSuchBucket", "SignatureDoesNotMatch", ...
  std::string message;  // cut to a short single line
  std::string region;   // <Region> of a redirect to another region, if any
  std::string bucket;   // <BucketName>, if any
};
// Nothing when `xml` is not an <Error> document.
std::optional<ErrorBody> parse_error_body(std::string_view xml);

// The CompleteMultipartUpload body for parts 1..etags.size() in order.
std::string complete_multipart_xml(const std::vector<std::string>& etags);

// What an error concerns, for the message.
struct ErrorSubject {
  std::string object;      // the s3:// URL of the object (or bucket) concerned
  std::string bucket;      // the bucket's name
  std::string operation;   // "read", "write", "list", ... (what was refused)
  bool anonymous = false;  // no credentials were configured
  std::string region;      // the region the requests were signed for
};

// The Error for an S3 answer that is not a success: `status`, the body (an
// <Error> document or nothing, as HEAD answers), and the x-amz-bucket-region
// header if the server sent one. Never contains keys or tokens.
Error response_error(long status, std::string_view body, const ErrorSubject& subject,
                     const std::string& bucket_region = {});

}  // namespace paramdelta::storage::s3
