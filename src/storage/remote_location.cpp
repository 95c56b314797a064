#include "storage/object_store.h"

namespace paramdelta::storage {

std::optional<RemoteLocation> open_remote_location(const std::string& url) {
  if (auto azure = open_azure_location(url)) return azure;
  if (auto s3 = open_s3_location(url)) return s3;
  return std::nullopt;
}

}  // namespace paramdelta::storage
