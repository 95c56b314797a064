#include "storage/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <stdexcept>

namespace paramdelta::storage::sigv4 {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A header value as SigV4 canonicalises it: trimmed, runs of spaces made one.
std::string trim_value(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> canonical_headers(const SignedRequest& request) {
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& [name, value] : request.headers) headers.emplace_back(lower(name), trim_value(value));
  std::sort(headers.begin(), headers.end());
  // Repeated names become one, their values joined by ',' in the order given.
  std::vector<std::pair<std::string, std::string>> merged;
  for (auto& h : headers) {
    if (!merged.empty() && merged.back().first == h.first) {
      merged.back().second += "," + h.second;
    } else {
      merged.push_back(std::move(h));
    }
  }
  return merged;
}

std::string_view as_view(const Digest& d) { return {reinterpret_cast<const char*>(d.data()), d.size()}; }

}  // namespace

Digest sha256(std::string_view data) {
  Digest out{};
  unsigned int n = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &n, EVP_sha256(), nullptr) != 1 || n != out.size())
    throw std::runtime_error("SHA-256 failed");
  return out;
}

std::string sha256_hex(std::string_view data) { return hex(sha256(data)); }

Digest hmac_sha256(std::string_view key, std::string_view data) {
  Digest out{};
  unsigned int n = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &n) ||
      n != out.size())
    throw std::runtime_error("HMAC-SHA256 failed");
  return out;
}

std::string hex(const Digest& digest) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(digest.size() * 2);
  for (unsigned char b : digest) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

Digest signing_key(std::string_view secret, std::string_view date, std::string_view region,
                   std::string_view service) {
  const Digest k_date = hmac_sha256("AWS4" + std::string(secret), date);
  const Digest k_region = hmac_sha256(as_view(k_date), region);
  const Digest k_service = hmac_sha256(as_view(k_region), service);
  return hmac_sha256(as_view(k_service), "aws4_request");
}

std::string uri_encode(std::string_view text, bool keep_slash) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                            c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  return out;
}

std::string canonical_query(std::vector<std::pair<std::string, std::string>> params) {
  for (auto& [name, value] : params) {
    name = uri_encode(name, false);
    value = uri_encode(value, false);
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out += '&';
    out += name + "=" + value;
  }
  return out;
}

std::string signed_headers(const SignedRequest& request) {
  std::string out;
  for (const auto& [name, value] : canonical_headers(request)) {
    if (!out.empty()) out += ';';
    out += name;
  }
  return out;
}

std::string canonical_request(const SignedRequest& request) {
  std::string out =
      request.method + "\n" + request.canonical_uri + "\n" + canonical_query(request.query) + "\n";
  for (const auto& [name, value] : canonical_headers(request)) out += name + ":" + value + "\n";
  out += '\n';
  out += signed_headers(request);
  out += '\n';
  out += request.payload_hash;
  return out;
}

namespace {
std::string scope(const SignedRequest& request) {
  return request.amz_date.substr(0, 8) + "/" + request.region + "/" + request.service + "/aws4_request";
}
}  // namespace

std::string string_to_sign(const SignedRequest& request) {
  return "AWS4-HMAC-SHA256\n" + request.amz_date + "\n" + scope(request) + "\n" +
         sha256_hex(canonical_request(request));
}

std::string signature(const SignedRequest& request, std::string_view secret_key) {
  const Digest key = signing_key(secret_key, request.amz_date.substr(0, 8), request.region, request.service);
  return hex(hmac_sha256(as_view(key), string_to_sign(request)));
}

std::string authorization(const SignedRequest& request, const Credentials& credentials) {
  return "AWS4-HMAC-SHA256 Credential=" + credentials.access_key + "/" + scope(request) +
         ",SignedHeaders=" + signed_headers(request) +
         ",Signature=" + signature(request, credentials.secret_key);
}

std::string amz_date_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

}  // namespace paramdelta::storage::sigv4
