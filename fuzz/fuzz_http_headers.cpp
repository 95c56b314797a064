// What an HTTP server sends back in its headers: header lines, Retry-After,
// Content-Range, Location and ETag values. None may crash, and what is
// accepted keeps its promises: a redirect names an http(s) URL, an ETag that
// passes the cache-name check cannot leave the cache directory.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "location/http_client.h"
#include "location/hub_download.h"

using namespace paramdelta;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto h = http::parse_header_line(text)) {
    fuzz::check(!h->name.empty(), "a header has a name");
    fuzz::check(h->name.find(':') == std::string::npos, "the name ends at the first colon");
  }
  if (auto d = http::parse_retry_after(text, 1'700'000'000))
    fuzz::check(d->count() >= 0, "no negative delay");
  (void)http::parse_content_range_start(text);
  if (auto u = http::parse_url(text)) {
    fuzz::check(u->scheme == "http" || u->scheme == "https", "only http(s)");
    fuzz::check(!u->host.empty() && u->port > 0 && u->port < 65536, "a host and a port");
    fuzz::check(!u->target.empty() && u->target.front() == '/', "the target is a path");
  }
  if (auto next = http::resolve_location_header("https://hub.example:443/org/name/resolve/main/f", text)) {
    fuzz::check(http::parse_url(*next).has_value(), "a redirect names an http(s) URL");
  }
  const std::string etag = hub::normalize_etag(text);
  if (hub::is_safe_cache_name(etag)) {
    fuzz::check(etag.find('/') == std::string::npos && etag != "." && etag != "..",
                "a blob name stays in blobs/");
  }
  return 0;
}
