#include <regex>

#include "io/file_kind.h"
#include "io/file_ops.h"
#include "location/hub_download.h"
#include "paramdelta/error.h"
#include "paramdelta/location.h"
#include "storage/object_store.h"
#include "storage/remote_files.h"

namespace paramdelta {

namespace fs = std::filesystem;

namespace {

bool looks_like_repo_id(const std::string& s) {
  static const std::regex id(
      R"(^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*(@[A-Za-z0-9._/-]+)?$)");
  return std::regex_match(s, id) && s.find("..") == std::string::npos;
}

}  // namespace

ResolvedLocation resolve_location(const std::string& given) {
  std::error_code ec;
  // A trailing slash changes nothing: "model.safetensors/" is the file.
  const std::string spec = without_trailing_separators(given).string();
  std::string id = spec;
  const bool explicit_hub = spec.rfind("hf://", 0) == 0;
  if (explicit_hub) id = spec.substr(5);
  if (!explicit_hub && fs::exists(spec, ec)) return {fs::path(spec), spec};
  if (auto remote = storage::open_remote_location(spec)) {
    storage::MirroredInput input = storage::mirror_remote_input(*remote);
    return {input.path, input.description};
  }
  if (!explicit_hub) refuse_url(spec, false);
  if (!looks_like_repo_id(id)) {
    throw Error(ErrorKind::kNotFound, "no such file or directory", ErrorContext{spec},
                explicit_hub ? "a Hub id looks like hf://org/name or hf://org/name@revision" : "");
  }
  std::string revision = "main";
  if (auto at = id.find('@'); at != std::string::npos) {
    revision = id.substr(at + 1);
    id = id.substr(0, at);
  }
  try {
    const hub::Snapshot snapshot =
        hub::resolve_snapshot({id, revision}, spec, hub::Settings::from_environment());
    return {snapshot.path, "hf://" + id + "@" + snapshot.commit};
  } catch (const Error& e) {
    if (explicit_hub) throw;
    // "org/name" may also have been meant as a local path: say that none exists.
    throw Error(e.kind(), "no such local path; as a Hub id: " + e.message(), e.context(), e.hint());
  }
}

}  // namespace paramdelta
