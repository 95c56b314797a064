// The pieces of the Azure Blob REST protocol that need no network: Shared Key
// signing (the documented string-to-sign with canonicalized headers and
// resource, HMAC-SHA256 with the account key), block ids, the XML of listings,
// block lists and errors, and the mapping of a failed answer to one line that
// says what to do. Server-provided text never reaches a message except an
// error Code made of letters and digits (an AuthenticationFailed message can
// quote the request's signature).
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "location/http_client.h"
#include "paramdelta/error.h"
#include "storage/object_store.h"

namespace paramdelta::storage::azure {

// The REST API version sent with every request (Azurite 3.x knows it).
inline constexpr std::string_view kApiVersion = "2021-08-06";

std::string base64_encode(std::string_view bytes);
// Nothing for text that is not padded standard base64.
std::optional<std::string> base64_decode(std::string_view text);
std::string md5_base64(std::string_view bytes);
// "Tue, 08 Dec 2026 00:03:09 GMT", independent of the locale.
std::string rfc1123_date(std::time_t when);

// The Shared Key string-to-sign of `request` (method, standard headers, the
// x-ms-* headers sorted, then "/account/path" and the query parameters
// sorted, decoded and comma-joined). Content-Length is the body's size, empty
// when zero.
std::string string_to_sign(std::string_view account, const http::Request& request);
// Base64(HMAC-SHA256(Base64Decode(key), string_to_sign)); the key must be base64.
std::string shared_key_signature(std::string_view key_base64, std::string_view string_to_sign);

// The id of block `number` of the upload `token`: the same length for every
// block of a blob, base64 as the service wants it.
std::string block_id(std::string_view token, std::size_t number);
// The body of Put Block List committing `ids` in order.
std::string block_list_xml(const std::vector<std::string>& ids);

struct Listing {
  std::vector<ObjectInfo> blobs;
  std::string next_marker;  // empty on the last page
};
// One page of List Blobs. Throws paramdelta::Error (kIo) naming `source` for
// anything that is not a well-formed listing.
Listing parse_listing(std::string_view xml, const std::string& source);

// The Code of an <Error> body; empty when there is none or it is not a plain
// word of letters and digits (at most 64).
std::string parse_error_code(std::string_view xml);

// How requests were authorised, for the hints of 401/403 answers.
enum class Auth { kAnonymous, kSharedKey, kSas };
// What a request was doing, for messages ("reading", "writing", ...).
enum class Operation { kStat, kList, kRead, kWrite, kDelete };

// The one-line error for a failed answer: `object` is the URL shown to the
// user, `container` its container, `code` the service's error code (from the
// x-ms-error-code header or the body), `attempts` how many tries were made.
Error map_error(const std::string& object, std::string_view container, Operation operation, long status,
                std::string_view code, Auth auth, int attempts);
// The same for a failure below HTTP (TransportError's message names host and port).
Error map_transport_error(const std::string& object, std::string_view what);

}  // namespace paramdelta::storage::azure
