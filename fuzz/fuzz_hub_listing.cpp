// The Hub's revision listing (GET /api/models/{repo}/revision/{revision}), as
// any server behind HF_ENDPOINT may send it: a commit and file names, or a
// paramdelta::Error. What is accepted can never name a path outside the
// snapshot, and the files chosen for download are among those listed.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "location/hub_download.h"

using namespace paramdelta;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_clean([&] {
    const hub::RevisionListing listing = hub::parse_revision_listing(text, "listing");
    fuzz::check(hub::is_safe_cache_name(listing.sha), "the commit is a plain name");
    const std::set<std::string> listed(listing.files.begin(), listing.files.end());
    const auto support = hub::support_files(listing.files);
    for (const auto& f : support) {
      fuzz::check(hub::is_safe_cache_name(f), "support files are plain names");
      fuzz::check(listed.count(f) == 1, "support files are listed");
    }
    // The listing's own bytes as an index: names it may give must be listed and plain.
    for (const auto& f :
         hub::weight_files(listing.files, {{"model.safetensors.index.json", std::string(text)}}, "l/")) {
      fuzz::check(hub::is_safe_cache_name(f), "weights are plain names");
      fuzz::check(listed.count(f) == 1, "weights are listed");
    }
  });
  return 0;
}
