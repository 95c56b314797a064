#include "storage/s3_protocol.h"

#include <algorithm>
#include <cstring>
#include <pugixml.hpp>

#include "core/text.h"

namespace paramdelta::storage::s3 {

namespace {

// pugixml compares names exactly; S3 documents carry a namespace by xmlns
// attribute only, never a prefix, but a compatible server might add one.
std::string_view local_name(const char* name) {
  std::string_view n(name);
  const auto colon = n.rfind(':');
  return colon == std::string_view::npos ? n : n.substr(colon + 1);
}

pugi::xml_node child(const pugi::xml_node& node, std::string_view name) {
  for (pugi::xml_node c = node.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_element && local_name(c.name()) == name) return c;
  }
  return {};
}

std::string text_of(const pugi::xml_node& node) {
  return node ? std::string(node.child_value()) : std::string();
}

// A root element named `name`, or nothing (not XML, or another document).
std::optional<pugi::xml_node> parse_root(pugi::xml_document& doc, std::string_view xml,
                                         std::string_view name) {
  const pugi::xml_parse_result ok =
      doc.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!ok) return std::nullopt;
  pugi::xml_node root = doc.document_element();
  if (!root || local_name(root.name()) != name) return std::nullopt;
  return root;
}

// One short line for a message: control characters dropped, at most 160 bytes.
std::string one_line(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (out.size() >= 160) {
      out += "...";
      break;
    }
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? ' ' : c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  while (!out.empty() && out.front() == ' ') out.erase(out.begin());
  return out;
}

std::optional<std::uint64_t> parse_size(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - digit) / 10) return std::nullopt;
    v = v * 10 + digit;
  }
  return v;
}

}  // namespace

ListPage parse_list_objects_v2(std::string_view xml, const std::string& label) {
  pugi::xml_document doc;
  const auto root = parse_root(doc, xml, "ListBucketResult");
  if (!root) {
    throw Error(ErrorKind::kIo, "the server's answer to a listing is not a ListObjectsV2 result",
                ErrorContext{label}, "check that AWS_ENDPOINT_URL names an S3 endpoint");
  }
  ListPage page;
  for (pugi::xml_node c = root->first_child(); c; c = c.next_sibling()) {
    if (c.type() != pugi::node_element || local_name(c.name()) != "Contents") continue;
    ObjectInfo info;
    info.key = text_of(child(c, "Key"));
    if (info.key.empty()) {
      throw Error(ErrorKind::kIo, "the server listed an object without a key", ErrorContext{label});
    }
    const auto size = parse_size(text_of(child(c, "Size")));
    if (!size) {
      throw Error(ErrorKind::kIo, "the server listed an object without a valid size",
                  ErrorContext{label, {}, "Size"});
    }
    info.size = *size;
    page.objects.push_back(std::move(info));
  }
  const std::string truncated = text_of(child(*root, "IsTruncated"));
  if (truncated == "true") {
    page.truncated = true;
  } else if (!truncated.empty() && truncated != "false") {
    throw Error(ErrorKind::kIo, "the server's listing has IsTruncated '" + one_line(truncated) + "'",
                ErrorContext{label});
  }
  page.next_token = text_of(child(*root, "NextContinuationToken"));
  if (page.truncated && page.next_token.empty()) {
    throw Error(ErrorKind::kIo, "the server's listing is truncated but names no continuation token",
                ErrorContext{label});
  }
  return page;
}

std::string parse_upload_id(std::string_view xml, const std::string& label) {
  pugi::xml_document doc;
  const auto root = parse_root(doc, xml, "InitiateMultipartUploadResult");
  std::string id = root ? text_of(child(*root, "UploadId")) : std::string();
  if (id.empty()) {
    throw Error(ErrorKind::kIo, "the server's answer to starting a multipart upload names no UploadId",
                ErrorContext{label});
  }
  return id;
}

std::optional<ErrorBody> parse_error_body(std::string_view xml) {
  pugi::xml_document doc;
  const auto root = parse_root(doc, xml, "Error");
  if (!root) return std::nullopt;
  ErrorBody e;
  e.code = one_line(text_of(child(*root, "Code")));
  e.message = one_line(text_of(child(*root, "Message")));
  e.region = one_line(text_of(child(*root, "Region")));
  e.bucket = one_line(text_of(child(*root, "BucketName")));
  return e;
}

std::string complete_multipart_xml(const std::vector<std::string>& etags) {
  std::string out = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
  for (std::size_t i = 0; i < etags.size(); ++i) {
    out += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" +
           text::markup_escape(etags[i]) + "</ETag></Part>";
  }
  out += "</CompleteMultipartUpload>";
  return out;
}

Error response_error(long status, std::string_view body, const ErrorSubject& s,
                     const std::string& bucket_region) {
  const auto parsed = parse_error_body(body);
  const std::string code = parsed ? parsed->code : std::string();
  const std::string http = "HTTP " + std::to_string(status) + (code.empty() ? "" : " " + code);
  const ErrorContext ctx{s.object};
  const std::string keys_hint = "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY";
  if (code == "InvalidAccessKeyId") {
    return Error(ErrorKind::kUsage, "the server does not know this access key (" + http + ")", ctx,
                 "check AWS_ACCESS_KEY_ID");
  }
  if (code == "SignatureDoesNotMatch") {
    return Error(ErrorKind::kUsage, "the server rejected the request signature (" + http + ")", ctx,
                 "check AWS_SECRET_ACCESS_KEY for AWS_ACCESS_KEY_ID");
  }
  if (code == "ExpiredToken" || code == "InvalidToken" || code == "TokenRefreshRequired") {
    return Error(ErrorKind::kUsage, "the session token was refused (" + http + ")", ctx,
                 "renew AWS_SESSION_TOKEN with the matching AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
  }
  if (code == "RequestTimeTooSkewed") {
    return Error(ErrorKind::kUsage, "the server says this machine's clock is wrong (" + http + ")", ctx,
                 "set the system clock right");
  }
  const std::string region = !bucket_region.empty() ? bucket_region : parsed ? parsed->region : std::string();
  if (code == "AuthorizationHeaderMalformed" || code == "PermanentRedirect" || status == 301 ||
      (!region.empty() && region != s.region && (status == 400 || status == 403))) {
    return Error(ErrorKind::kUsage,
                 "bucket '" + s.bucket + "' is not in region '" + s.region + "' (" + http + ")", ctx,
                 region.empty() ? "set AWS_REGION to the bucket's region" : "set AWS_REGION=" + region);
  }
  if (code == "NoSuchBucket" || (status == 404 && s.operation == "bucket")) {
    return Error(ErrorKind::kNotFound, "bucket '" + s.bucket + "' does not exist (" + http + ")", ctx,
                 "create it or check the URL");
  }
  if (code == "NoSuchUpload") {
    return Error(ErrorKind::kIo, "the multipart upload no longer exists (" + http + ")", ctx,
                 "it was aborted or expired: write the object again");
  }
  if (status == 404 || code == "NoSuchKey") {
    return Error(ErrorKind::kNotFound, "no such object (" + http + ")", ctx, "check the URL");
  }
  if (status == 401 || status == 403) {
    if (s.anonymous) {
      return Error(ErrorKind::kUsage, "anonymous access to " + s.operation + " is denied (" + http + ")", ctx,
                   "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    }
    if (code.empty() || code == "AccessDenied" || code == "AllAccessDisabled") {
      return Error(ErrorKind::kUsage,
                   "access denied: the credentials may not " + s.operation + " in bucket '" + s.bucket +
                       "' (" + http + ")",
                   ctx,
                   code.empty() ? keys_hint + ", and that the key may " + s.operation
                                : "use an access key with that permission");
    }
    return Error(ErrorKind::kUsage, "the server refused the request (" + http + ")", ctx, keys_hint);
  }
  if (status == 416 || code == "InvalidRange") {
    return Error(ErrorKind::kIo, "the object is shorter than the range read (" + http + ")", ctx);
  }
  if (status == 429 || status == 503 || code == "SlowDown" || code == "Throttling" ||
      code == "ServiceUnavailable") {
    return Error(ErrorKind::kIo, "the server is still throttling after every retry (" + http + ")", ctx,
                 "retry later, or use fewer threads");
  }
  if (code == "EntityTooSmall") {
    return Error(ErrorKind::kInternal,
                 "a part other than the last is smaller than the server allows (" + http + ")", ctx);
  }
  std::string detail = http;
  if (parsed && !parsed->message.empty()) detail += ": " + parsed->message;
  return Error(ErrorKind::kIo, "the server answered " + detail, ctx);
}

}  // namespace paramdelta::storage::s3
