#include "storage/remote_files.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <vector>

#include "paramdelta/error.h"
#include "storage/remote_source.h"

namespace paramdelta::storage {

namespace fs = std::filesystem;

namespace {

struct RemoteFile {
  std::shared_ptr<ObjectStore> store;
  std::string key;
  std::uint64_t size = 0;
};

// The process's mirrored directories, under one private temporary directory
// removed when the process ends.
class Registry {
 public:
  static Registry& instance() {
    static Registry r;
    return r;
  }
  ~Registry() {
    if (!root_.empty()) {
      std::error_code ec;
      fs::remove_all(root_, ec);
    }
  }
  fs::path new_directory() {
    std::lock_guard lock(mutex_);
    if (root_.empty()) {
      std::error_code ec;
      fs::path tmp = fs::temp_directory_path(ec);
      if (ec) tmp = "/tmp";
      std::string pattern = (tmp / "paramdelta-remote-XXXXXX").string();
      if (mkdtemp(pattern.data()) == nullptr) {
        throw Error(ErrorKind::kIo, "cannot create a temporary directory for remote inputs",
                    ErrorContext{tmp.string()}, "set TMPDIR to a writable directory");
      }
      root_ = pattern;
    }
    char name[32];
    std::snprintf(name, sizeof name, "input-%06zu", next_++);
    fs::path dir = root_ / name;
    fs::create_directories(dir);
    return dir;
  }
  void add(const fs::path& path, RemoteFile file) {
    std::lock_guard lock(mutex_);
    files_[path.lexically_normal().string()] = std::move(file);
  }
  std::vector<fs::path> in_directory(const fs::path& dir) {
    std::lock_guard lock(mutex_);
    std::vector<fs::path> out;
    const fs::path normal = dir.lexically_normal();
    for (const auto& [path, file] : files_) {
      if (fs::path(path).parent_path() == normal) out.emplace_back(path);
    }
    return out;
  }
  const RemoteFile* find(const fs::path& path) {
    std::lock_guard lock(mutex_);
    auto it = files_.find(path.lexically_normal().string());
    return it == files_.end() ? nullptr : &it->second;
  }

 private:
  std::mutex mutex_;
  fs::path root_;
  std::size_t next_ = 0;
  std::map<std::string, RemoteFile> files_;
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Weights in other formats are not copied: nothing reads them, and they are large.
bool is_foreign_weight_file(const std::string& name) {
  static const char* const kSuffixes[] = {".bin",  ".pt",  ".pth", ".ckpt", ".gguf", ".h5",    ".msgpack",
                                          ".onnx", ".npz", ".pkl", ".ot",   ".nemo", ".tflite"};
  for (const char* s : kSuffixes)
    if (ends_with(name, s)) return true;
  return false;
}

// The largest non-weight file copied (tokenizer.json files reach tens of MB).
constexpr std::uint64_t kMaxMirroredFileBytes = 512ull << 20;

// An object key below the prefix as a relative path: plain components only.
fs::path relative_path_of(const std::string& rel, const std::string& url) {
  fs::path out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = rel.find('/', start);
    const std::string part =
        rel.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part.empty() || part == "." || part == ".." || part.find('\\') != std::string::npos ||
        part.find('\0') != std::string::npos) {
      throw Error(ErrorKind::kInvalidInput,
                  "holds an object named '" + rel + "', which is not a plain file path", ErrorContext{url},
                  "rename or remove that object");
    }
    out /= part;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return out;
}

void download_small_file(ObjectStore& store, const ObjectInfo& object, const fs::path& to) {
  std::vector<std::byte> bytes(static_cast<std::size_t>(object.size));
  if (!bytes.empty()) store.read(object.key, 0, bytes);
  fs::create_directories(to.parent_path());
  std::ofstream out(to, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) {
    throw Error(ErrorKind::kIo, "cannot write a temporary copy of a remote file", ErrorContext{to.string()},
                "check the space in TMPDIR");
  }
}

std::string parent_key(const std::string& key) {
  const std::size_t slash = key.rfind('/');
  return slash == std::string::npos ? std::string() : key.substr(0, slash);
}

}  // namespace

MirroredInput mirror_remote_input(const RemoteLocation& location) {
  ObjectStore& store = *location.store;
  const std::string url = location.describe();
  const std::string dir_prefix = location.prefix.empty() ? std::string() : location.prefix + "/";
  std::vector<ObjectInfo> objects = store.list(dir_prefix);
  Registry& registry = Registry::instance();
  if (objects.empty()) {
    const auto object = location.prefix.empty() ? std::nullopt : store.stat(location.prefix);
    if (!object) {
      throw Error(ErrorKind::kNotFound, "no such object, and no objects under this prefix", ErrorContext{url},
                  "check the container or bucket and the path");
    }
    const fs::path dir = registry.new_directory();
    const std::string name = location.prefix.substr(location.prefix.rfind('/') + 1);
    const fs::path path = dir / relative_path_of(name, url);
    register_path_alias(dir.string(), store.describe(parent_key(location.prefix)));
    if (ends_with(name, ".safetensors")) {
      registry.add(path, {location.store, object->key, object->size});
    } else if (object->size <= kMaxMirroredFileBytes) {
      download_small_file(store, *object, path);
    } else {
      throw Error(ErrorKind::kUsage, "is neither a directory nor a .safetensors file", ErrorContext{url});
    }
    return {path, url};
  }
  const fs::path dir = registry.new_directory();
  register_path_alias(dir.string(), url);
  for (const auto& object : objects) {
    if (object.key.size() <= dir_prefix.size() || object.key.compare(0, dir_prefix.size(), dir_prefix) != 0) {
      continue;  // the store listed a key outside the prefix: not ours
    }
    const std::string rel = object.key.substr(dir_prefix.size());
    if (ends_with(rel, "/")) continue;  // a folder marker
    const fs::path path = dir / relative_path_of(rel, url);
    if (ends_with(rel, ".safetensors")) {
      fs::create_directories(path.parent_path());
      registry.add(path, {location.store, object.key, object.size});
    } else if (!is_foreign_weight_file(rel) && object.size <= kMaxMirroredFileBytes) {
      download_small_file(store, object, path);
    }
  }
  return {dir, url};
}

std::shared_ptr<ByteSource> find_remote_file(const fs::path& path) {
  const RemoteFile* file = Registry::instance().find(path);
  if (file == nullptr) return nullptr;
  return open_remote_object(file->store, file->key, file->size);
}

std::vector<fs::path> remote_files_in(const fs::path& dir) { return Registry::instance().in_directory(dir); }

bool input_exists(const fs::path& path) {
  std::error_code ec;
  return fs::exists(path, ec) || Registry::instance().find(path) != nullptr;
}

}  // namespace paramdelta::storage
