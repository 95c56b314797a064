// AWS Signature Version 4 for S3 requests (the "Authorization" header form):
// canonical request, string to sign, signing key and signature, as AWS's
// documentation of SigV4 describes them. HMAC-SHA256 and SHA-256 come from
// OpenSSL.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace paramdelta::storage::sigv4 {

using Digest = std::array<unsigned char, 32>;

Digest sha256(std::string_view data);
std::string sha256_hex(std::string_view data);
Digest hmac_sha256(std::string_view key, std::string_view data);
std::string hex(const Digest& digest);

// The SHA-256 of the empty payload, which GET, HEAD and DELETE requests sign.
inline constexpr std::string_view kEmptyPayloadHash =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
Digest signing_key(std::string_view secret, std::string_view date, std::string_view region,
                   std::string_view service);

// SigV4's URI encoding: every byte but A-Z a-z 0-9 - . _ ~ as %XX (upper-case
// hex); '/' kept when `keep_slash` (object key paths), encoded otherwise
// (query names and values).
std::string uri_encode(std::string_view text, bool keep_slash);

// "a=1&b=2": names and values URI-encoded, sorted by encoded name then value.
std::string canonical_query(std::vector<std::pair<std::string, std::string>> params);

struct Credentials {
  std::string access_key;
  std::string secret_key;
  std::string session_token;  // empty: none
};

struct SignedRequest {
  std::string method;                                        // "GET", "PUT", ...
  std::string canonical_uri;                                 // the path as sent (already URI-encoded)
  std::vector<std::pair<std::string, std::string>> query;    // raw (not encoded) names and values
  std::vector<std::pair<std::string, std::string>> headers;  // every signed header, "host" included
  std::string payload_hash;                                  // hex SHA-256 of the body, or UNSIGNED-PAYLOAD
  std::string amz_date;                                      // "20130524T000000Z"
  std::string region;                                        // "us-east-1"
  std::string service = "s3";
};

// The lower-case names of the signed headers, sorted and joined by ';'.
std::string signed_headers(const SignedRequest& request);
std::string canonical_request(const SignedRequest& request);
std::string string_to_sign(const SignedRequest& request);
// The hex signature, and the whole Authorization header value.
std::string signature(const SignedRequest& request, std::string_view secret_key);
std::string authorization(const SignedRequest& request, const Credentials& credentials);

// The current UTC time as SigV4 writes it ("YYYYMMDDTHHMMSSZ").
std::string amz_date_now();

}  // namespace paramdelta::storage::sigv4
