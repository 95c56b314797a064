#include "storage/azure_protocol.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <map>
#include <pugixml.hpp>

#include "core/text.h"

namespace paramdelta::storage::azure {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Values of the canonicalized headers: unfolded, runs of blanks kept as the
// service keeps them, leading and trailing blanks removed.
std::string header_value(std::string_view v) {
  std::string out;
  for (char c : trim(v)) {
    if (c == '\r' || c == '\n') continue;
    out += c;
  }
  return out;
}

const std::string* find_header(const http::Request& request, std::string_view name) {
  for (const auto& h : request.headers) {
    if (text::iequals(h.name, name)) return &h.value;
  }
  return nullptr;
}

bool plain_code(std::string_view code) {
  return !code.empty() && code.size() <= 64 && std::all_of(code.begin(), code.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c));
  });
}

const char* doing(Operation op) {
  switch (op) {
    case Operation::kStat:
      return "reading this blob's properties";
    case Operation::kList:
      return "listing the container";
    case Operation::kRead:
      return "reading this blob";
    case Operation::kWrite:
      return "writing this blob";
    case Operation::kDelete:
      return "deleting this blob";
  }
  return "this request";
}

const char* sas_permission(Operation op) {
  switch (op) {
    case Operation::kStat:
    case Operation::kRead:
      return "r (read)";
    case Operation::kList:
      return "l (list)";
    case Operation::kWrite:
      return "w (write) and c (create)";
    case Operation::kDelete:
      return "d (delete)";
  }
  return "r";
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (static_cast<std::uint8_t>(bytes[i]) << 16) |
                            (static_cast<std::uint8_t>(bytes[i + 1]) << 8) |
                            static_cast<std::uint8_t>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (const std::size_t rest = bytes.size() - i; rest > 0) {
    std::uint32_t v = static_cast<std::uint8_t>(bytes[i]) << 16;
    if (rest == 2) v |= static_cast<std::uint8_t>(bytes[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    std::uint32_t v = 0;
    int pad = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      const char c = text[i + j];
      int d;
      if (c == '=') {
        // Padding only at the very end, in the last two positions.
        if (i + 4 != text.size() || j < 2) return std::nullopt;
        ++pad;
        d = 0;
      } else {
        if (pad > 0) return std::nullopt;
        const char* at = std::char_traits<char>::find(kAlphabet, 64, c);
        if (!at) return std::nullopt;
        d = static_cast<int>(at - kAlphabet);
      }
      v = (v << 6) | static_cast<std::uint32_t>(d);
    }
    out += static_cast<char>((v >> 16) & 255);
    if (pad < 2) out += static_cast<char>((v >> 8) & 255);
    if (pad < 1) out += static_cast<char>(v & 255);
  }
  return out;
}

std::string md5_base64(std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int n = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &n, EVP_md5(), nullptr) != 1) {
    throw Error(ErrorKind::kInternal, "MD5 is not available from OpenSSL");
  }
  return base64_encode(std::string_view(reinterpret_cast<const char*>(digest.data()), n));
}

std::string rfc1123_date(std::time_t when) {
  static const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::tm tm{};
  gmtime_r(&when, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7], tm.tm_mday,
                months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::string string_to_sign(std::string_view account, const http::Request& request) {
  auto standard = [&](std::string_view name) {
    const std::string* v = find_header(request, name);
    return v ? header_value(*v) : std::string();
  };
  std::string s = request.method + "\n";
  s += standard("Content-Encoding") + "\n";
  s += standard("Content-Language") + "\n";
  s += (request.body.empty() ? std::string() : std::to_string(request.body.size())) + "\n";
  s += standard("Content-MD5") + "\n";
  s += standard("Content-Type") + "\n";
  s += standard("Date") + "\n";
  s += standard("If-Modified-Since") + "\n";
  s += standard("If-Match") + "\n";
  s += standard("If-None-Match") + "\n";
  s += standard("If-Unmodified-Since") + "\n";
  s += standard("Range") + "\n";

  std::map<std::string, std::string> ms;
  for (const auto& h : request.headers) {
    if (!text::istarts_with(h.name, "x-ms-")) continue;
    std::string& v = ms[text::ascii_lower(trim(h.name))];
    if (!v.empty()) v += ",";
    v += header_value(h.value);
  }
  for (const auto& [name, value] : ms) s += name + ":" + value + "\n";

  std::string path = "/";
  std::string query;
  if (const auto url = http::parse_url(request.url)) {
    const auto q = url->target.find('?');
    path = url->target.substr(0, q);
    if (q != std::string::npos) query = url->target.substr(q + 1);
  }
  s += "/" + std::string(account) + path;
  std::map<std::string, std::vector<std::string>> params;
  std::size_t start = 0;
  while (start < query.size()) {
    std::size_t end = query.find('&', start);
    if (end == std::string::npos) end = query.size();
    const std::string_view part = std::string_view(query).substr(start, end - start);
    start = end + 1;
    if (part.empty()) continue;
    const auto eq = part.find('=');
    params[text::ascii_lower(text::percent_decode(part.substr(0, eq), true))].push_back(
        eq == std::string_view::npos ? std::string() : text::percent_decode(part.substr(eq + 1), true));
  }
  for (auto& [name, values] : params) {
    std::sort(values.begin(), values.end());
    s += "\n" + name + ":";
    for (std::size_t i = 0; i < values.size(); ++i) s += (i ? "," : "") + values[i];
  }
  return s;
}

std::string shared_key_signature(std::string_view key_base64, std::string_view to_sign) {
  const auto key = base64_decode(key_base64);
  if (!key) throw Error(ErrorKind::kUsage, "the storage account key is not base64");
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int n = 0;
  if (!HMAC(EVP_sha256(), key->data(), static_cast<int>(key->size()),
            reinterpret_cast<const unsigned char*>(to_sign.data()), to_sign.size(), mac.data(), &n)) {
    throw Error(ErrorKind::kInternal, "HMAC-SHA256 is not available from OpenSSL");
  }
  return base64_encode(std::string_view(reinterpret_cast<const char*>(mac.data()), n));
}

std::string block_id(std::string_view token, std::size_t number) {
  char digits[24];
  std::snprintf(digits, sizeof digits, "%010zu", number);
  return base64_encode(std::string(token) + "-" + digits);
}

std::string block_list_xml(const std::vector<std::string>& ids) {
  std::string xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>";
  for (const auto& id : ids) xml += "<Latest>" + id + "</Latest>";  // base64: nothing to escape
  xml += "</BlockList>";
  return xml;
}

Listing parse_listing(std::string_view xml, const std::string& source) {
  auto malformed = [&](const std::string& what) {
    return Error(ErrorKind::kIo, "the blob listing from the service is malformed: " + what,
                 ErrorContext{source}, "check that the URL's endpoint is an Azure Blob service");
  };
  pugi::xml_document doc;
  const pugi::xml_parse_result parsed =
      doc.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!parsed) throw malformed(std::string("not XML (") + parsed.description() + ")");
  const pugi::xml_node root = doc.child("EnumerationResults");
  if (!root) throw malformed("no EnumerationResults element");
  Listing out;
  for (pugi::xml_node blob : root.child("Blobs").children("Blob")) {
    const pugi::xml_node name = blob.child("Name");
    if (!name) throw malformed("a Blob without a Name");
    std::string key = name.child_value();
    if (std::string_view(name.attribute("Encoded").value()) == "true") key = text::percent_decode(key, false);
    if (key.empty()) throw malformed("a Blob with an empty Name");
    const std::string_view length = blob.child("Properties").child("Content-Length").child_value();
    if (length.empty() || length.size() > 19 ||
        !std::all_of(length.begin(), length.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      throw malformed("blob '" + key + "' has no valid Content-Length");
    }
    out.blobs.push_back(ObjectInfo{std::move(key), std::stoull(std::string(length))});
  }
  out.next_marker = root.child("NextMarker").child_value();
  return out;
}

std::string parse_error_code(std::string_view xml) {
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_utf8)) return {};
  const std::string code = doc.child("Error").child("Code").child_value();
  return plain_code(code) ? code : std::string();
}

Error map_error(const std::string& object, std::string_view container, Operation operation, long status,
                std::string_view code_in, Auth auth, int attempts) {
  const std::string code = plain_code(code_in) ? std::string(code_in) : std::string();
  const std::string tag = code.empty() ? "HTTP " + std::to_string(status) : code;
  const ErrorContext where{object};
  const std::string verb = doing(operation);

  if (http::is_retryable_status(status)) {
    return Error(ErrorKind::kIo,
                 "the storage service still answered HTTP " + std::to_string(status) +
                     (code.empty() ? "" : " (" + code + ")") + " after " + std::to_string(attempts) +
                     (attempts == 1 ? " attempt" : " attempts"),
                 where, "it is throttling or unavailable: try again later, or with fewer parallel transfers");
  }
  if (code == "ContainerNotFound") {
    return Error(ErrorKind::kNotFound, "container '" + std::string(container) + "' does not exist", where,
                 "create it, or check the container name and the storage account");
  }
  if (code == "BlobNotFound") {
    return Error(ErrorKind::kNotFound, "no such blob", where, "check the path");
  }
  const bool permission = code == "AuthorizationPermissionMismatch" ||
                          code == "AuthorizationResourceTypeMismatch" ||
                          code == "AuthorizationServiceMismatch";
  const bool refused = status == 401 || status == 403 || code == "AuthenticationFailed" ||
                       code == "InvalidAuthenticationInfo" || code == "NoAuthenticationInformation";
  if (refused && auth == Auth::kSas) {
    if (permission) {
      return Error(ErrorKind::kUsage, "the SAS token does not allow " + verb + " (" + tag + ")", where,
                   std::string("use a SAS token with the ") + sas_permission(operation) +
                       " permission for this container");
    }
    return Error(ErrorKind::kUsage,
                 "the storage service refused the SAS token (" + tag +
                     "): it has expired, is not valid yet, is not this account's, or does not allow " + verb,
                 where,
                 std::string("renew AZURE_STORAGE_SAS_TOKEN (or SharedAccessSignature in "
                             "AZURE_STORAGE_CONNECTION_STRING) with the ") +
                     sas_permission(operation) + " permission");
  }
  if (refused && auth == Auth::kSharedKey) {
    if (permission) {
      return Error(ErrorKind::kUsage, "the credentials do not allow " + verb + " (" + tag + ")", where,
                   "grant the permission, or use other credentials");
    }
    // A wrong key: AuthenticationFailed from Azure, AuthorizationFailure from Azurite.
    return Error(ErrorKind::kUsage, "the storage account refused the request's signature (" + tag + ")",
                 where,
                 "check AZURE_STORAGE_ACCOUNT_KEY, or AccountKey in AZURE_STORAGE_CONNECTION_STRING; "
                 "the account's network rules may also block this client");
  }
  if (refused) {
    return Error(ErrorKind::kUsage, "the storage service wants credentials for " + verb + " (" + tag + ")",
                 where,
                 "set AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_ACCOUNT_KEY or AZURE_STORAGE_SAS_TOKEN");
  }
  if (status == 404) {
    return Error(ErrorKind::kNotFound, "not found (" + tag + ")", where,
                 "check the URL, the container and the storage account");
  }
  if (status == 416 || code == "InvalidRange") {
    return Error(ErrorKind::kIo, "the requested range lies beyond the end of the blob (" + tag + ")", where);
  }
  if (code == "Md5Mismatch" || code == "Crc64Mismatch") {
    return Error(ErrorKind::kIo, "the bytes the service received differ from those sent (" + code + ")",
                 where, "something on the way corrupted them; try again");
  }
  return Error(ErrorKind::kIo,
               "the storage service refused " + verb + ": HTTP " + std::to_string(status) +
                   (code.empty() ? "" : " (" + code + ")"),
               where);
}

Error map_transport_error(const std::string& object, std::string_view what) {
  return Error(ErrorKind::kIo, std::string(what), ErrorContext{object},
               "check the endpoint (the URL or AZURE_STORAGE_CONNECTION_STRING) and the network");
}

}  // namespace paramdelta::storage::azure
