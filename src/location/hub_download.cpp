#include "location/hub_download.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "delta/manifest.h"
#include "delta/model_files.h"
#include "io/file_ops.h"
#include "io/json_strict.h"
#include "paramdelta/error.h"
#include "paramdelta/safetensors.h"

namespace paramdelta::hub {

namespace fs = std::filesystem;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

bool env_true(const char* name) {
  std::string v = env(name);
  for (char& c : v) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return v == "1" || v == "TRUE" || v == "YES" || v == "ON";
}

std::string trimmed(std::string s) {
  const auto keep = [](unsigned char c) { return c > ' ' && c != 0x7f; };
  while (!s.empty() && !keep(s.back())) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && !keep(s[i])) ++i;
  return s.substr(i);
}

bool is_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

constexpr std::string_view kIndexSuffix = ".safetensors.index.json";

bool is_index_name(std::string_view name) { return ends_with(name, kIndexSuffix); }
bool is_weight_name(std::string_view name) { return ends_with(name, ".safetensors"); }

// What the user named, for messages: "hf://org/name@revision".
std::string repo_label(const RepoRef& repo) { return "hf://" + repo.id + "@" + repo.revision; }

// ---- errors -------------------------------------------------------------

std::string endpoint_host(const Settings& settings) {
  const auto url = http::parse_url(settings.endpoint);
  return url ? http::host_and_port(*url) : settings.endpoint;
}

[[noreturn]] void throw_transport(const http::TransportError& e, const std::string& label,
                                  const Settings& s) {
  throw Error(ErrorKind::kIo, e.what(), ErrorContext{label},
              "check HF_ENDPOINT (" + endpoint_host(s) +
                  ") and the network; HF_HUB_OFFLINE=1 uses only the local cache");
}

// An answer that is not a success, as one line: what it means and what to do.
[[noreturn]] void throw_status(const http::Response& r, const std::string& label, const RepoRef& repo,
                               const Settings& settings, bool is_listing) {
  const std::string code = r.header("X-Error-Code") ? *r.header("X-Error-Code") : "";
  const std::string http = "HTTP " + std::to_string(r.status);
  const ErrorContext ctx{label};
  if (code == "GatedRepo") {
    throw Error(ErrorKind::kIo, "'" + repo.id + "' is a gated repository (" + http + ")", ctx,
                "accept its conditions on its Hub page, then set HF_TOKEN to a token of that account");
  }
  if (r.status == 401 || r.status == 403) {
    if (settings.token.empty()) {
      throw Error(ErrorKind::kIo,
                  "the Hub refused access to '" + repo.id + "' (" + http +
                      "): it is private or gated, or does not exist",
                  ctx, "set HF_TOKEN to a token that can read it");
    }
    throw Error(ErrorKind::kIo, "the Hub refused the token for '" + repo.id + "' (" + http + ")", ctx,
                "check that HF_TOKEN can read this repository; a gated one needs its conditions accepted");
  }
  if (r.status == 404) {
    if (code == "RevisionNotFound") {
      throw Error(ErrorKind::kNotFound,
                  "'" + repo.id + "' has no revision '" + repo.revision + "' (" + http + ")", ctx,
                  "name a branch, tag or commit hash of the repository");
    }
    if (code == "RepoNotFound" || is_listing) {
      throw Error(ErrorKind::kNotFound,
                  "no repository '" + repo.id + "' on " + endpoint_host(settings) + " (" + http + ")", ctx,
                  "check the name; a private repository also needs HF_TOKEN");
    }
    throw Error(ErrorKind::kNotFound, "the Hub has no such file (" + http + ")", ctx,
                "the revision's file list names it; the repository may be changing, try again");
  }
  if (http::is_retryable_status(r.status)) {
    throw Error(
        ErrorKind::kIo,
        "the Hub answered " + http + " to " + std::to_string(settings.retry.max_attempts) + " attempts", ctx,
        "the server is busy or down; try again later");
  }
  throw Error(ErrorKind::kIo, "unexpected answer from the Hub (" + http + ")", ctx);
}

[[noreturn]] void throw_os(const std::string& what, const fs::path& path, int err) {
  std::string hint;
  if (err == ENOSPC || err == EDQUOT) hint = "free some disk space or set HF_HUB_CACHE to a larger disk";
  if (err == EACCES || err == EPERM || err == EROFS) hint = "check the permissions of the Hugging Face cache";
  throw Error(ErrorKind::kIo, what + ": " + std::strerror(err), ErrorContext{path.string()}, hint);
}

// ---- the local cache ----------------------------------------------------

std::string read_ref(const fs::path& ref) {
  std::string commit = trimmed(read_small_file(ref.string(), 4096));
  if (!is_safe_cache_name(commit)) {
    throw Error(ErrorKind::kInvalidInput, "cached ref does not name a snapshot", ErrorContext{ref.string()});
  }
  return commit;
}

// What a snapshot lacks of a complete model or delta directory; empty when nothing.
std::string missing_from_snapshot(const fs::path& snapshot) {
  std::error_code ec;
  bool has_index = false, has_weights = false;
  for (const auto& entry : fs::directory_iterator(snapshot, ec)) {
    const std::string name = entry.path().filename().string();
    if (is_weight_name(name) && fs::is_regular_file(entry.path(), ec)) has_weights = true;
    if (!is_index_name(name)) continue;
    has_index = true;
    nlohmann::json index;
    try {
      index = read_json_file(entry.path().string());
    } catch (const Error&) {
      continue;  // reading the directory reports it
    }
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) continue;
    for (const auto& [tensor, file] : index["weight_map"].items()) {
      if (!file.is_string() || !is_safe_cache_name(file.get<std::string>())) continue;
      if (!fs::is_regular_file(snapshot / file.get<std::string>(), ec)) return file.get<std::string>();
    }
  }
  if (!has_index && !has_weights) return "its weights";
  return {};
}

void write_ref(const fs::path& repo_dir, const std::string& revision, const std::string& commit) {
  const fs::path ref = repo_dir / "refs" / revision;
  std::error_code ec;
  fs::create_directories(ref.parent_path(), ec);
  if (ec) throw_os("cannot create", ref.parent_path(), ec.value());
  write_file_atomically(ref, commit);
}

// snapshots/<commit>/<name> -> ../../blobs/<etag>, replaced atomically.
void link_into_snapshot(const fs::path& snapshot, const std::string& name, const std::string& etag) {
  const fs::path link = snapshot / name;
  const fs::path target = fs::path("..") / ".." / "blobs" / etag;
  std::error_code ec;
  if (fs::is_symlink(link, ec) && fs::read_symlink(link, ec) == target) return;
  const fs::path temp = temporary_sibling(link);
  if (::symlink(target.c_str(), temp.c_str()) != 0) throw_os("cannot create a link", temp, errno);
  if (::rename(temp.c_str(), link.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    throw_os("cannot rename into place", link, err);
  }
}

// An exclusive lock shared with huggingface_hub (.locks/<repo folder>/<etag>.lock).
class BlobLock {
 public:
  explicit BlobLock(const fs::path& path) {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw_os("cannot open the lock file", path, errno);
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) {
        const int err = errno;
        ::close(fd_);
        throw_os("cannot lock", path, err);
      }
    }
  }
  ~BlobLock() { ::close(fd_); }
  BlobLock(const BlobLock&) = delete;
  BlobLock& operator=(const BlobLock&) = delete;

 private:
  int fd_ = -1;
};

// ---- content checks -------------------------------------------------------

// The digest an ETag promises: sha256 for LFS files (64 hex digits), the git
// blob id (sha1 of "blob <size>\0" + contents) for regular files (40).
class ContentCheck {
 public:
  ContentCheck(const std::string& etag, std::uint64_t size) : expected_(etag) {
    if (etag.size() == 64 && is_hex(etag)) {
      md_ = EVP_sha256();
    } else if (etag.size() == 40 && is_hex(etag)) {
      md_ = EVP_sha1();
      git_prefix_ = "blob " + std::to_string(size) + std::string(1, '\0');
    }
    ctx_ = EVP_MD_CTX_new();
    reset();
  }
  ~ContentCheck() { EVP_MD_CTX_free(ctx_); }
  ContentCheck(const ContentCheck&) = delete;
  ContentCheck& operator=(const ContentCheck&) = delete;

  bool active() const { return md_ != nullptr; }
  const char* algorithm() const { return md_ == EVP_sha256() ? "sha256" : "git blob sha1"; }
  void reset() {
    if (!md_) return;
    EVP_DigestInit_ex(ctx_, md_, nullptr);
    EVP_DigestUpdate(ctx_, git_prefix_.data(), git_prefix_.size());
  }
  void update(const void* data, std::size_t n) {
    if (md_) EVP_DigestUpdate(ctx_, data, n);
  }
  bool matches() {
    if (!md_) return true;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, digest, &len);
    static const char* hex = "0123456789abcdef";
    std::string text;
    for (unsigned i = 0; i < len; ++i) {
      text += hex[digest[i] >> 4];
      text += hex[digest[i] & 15];
    }
    return text == expected_;
  }

 private:
  std::string expected_;
  const EVP_MD* md_ = nullptr;
  std::string git_prefix_;
  EVP_MD_CTX* ctx_ = nullptr;
};

// ---- the remote repository ----------------------------------------------

struct RemoteFile {
  std::string name;
  std::string etag;
  std::uint64_t size = 0;
};

// Thrown by a body sink to stop a transfer it has no more use for.
struct StopTransfer {};

class Remote {
 public:
  Remote(const RepoRef& repo, const Settings& settings) : repo_(repo), settings_(settings) {}

  const Settings& settings() const { return settings_; }

  std::vector<http::Header> headers() const {
    std::vector<http::Header> h{{"Accept-Encoding", "identity"}};
    if (!settings_.token.empty()) h.push_back({"Authorization", "Bearer " + settings_.token});
    return h;
  }

  std::string file_url(const std::string& commit, const std::string& name) const {
    return settings_.endpoint + "/" + repo_.id + "/resolve/" + commit + "/" +
           http::percent_encode(name, true);
  }
  std::string file_label(const std::string& commit, const std::string& name) const {
    return "hf://" + repo_.id + "@" + commit + "/" + name;
  }

  RevisionListing listing(http::Client& client) const {
    const std::string url = settings_.endpoint + "/api/models/" + repo_.id + "/revision/" +
                            http::percent_encode(repo_.revision, false);
    const std::string label = repo_label(repo_);
    http::Response r;
    try {
      r = http::with_retries(settings_.retry, [&] {
        return client.send_following_redirects({"GET", url, headers(), {}});
      });
    } catch (const http::TransportError& e) {
      throw_transport(e, label, settings_);
    }
    if (r.status != 200) throw_status(r, label, repo_, settings_, true);
    return parse_revision_listing(r.body, label + " (the Hub's file list)");
  }

  // HEAD: the file's ETag and size. A redirect to another host (a CDN) is not
  // followed: the Hub's own answer carries X-Linked-Etag and X-Linked-Size.
  RemoteFile metadata(http::Client& client, const std::string& commit, const std::string& name) const {
    const std::string label = file_label(commit, name);
    http::Response r;
    try {
      r = http::with_retries(settings_.retry, [&] {
        http::Request req{"HEAD", file_url(commit, name), headers(), {}};
        const auto origin = http::parse_url(req.url);
        for (int hop = 0;; ++hop) {
          http::Response resp = client.send(req);
          const std::string* location = resp.header("Location");
          if (resp.status < 300 || resp.status >= 400 || !location || hop >= 5) return resp;
          auto next = http::resolve_location_header(req.url, *location);
          if (!next || !http::same_origin(*origin, *http::parse_url(*next))) return resp;
          req.url = *next;
        }
      });
    } catch (const http::TransportError& e) {
      throw_transport(e, label, settings_);
    }
    if (r.status >= 400 || r.status < 200) throw_status(r, label, repo_, settings_, false);
    const std::string* linked = r.header("X-Linked-Etag");
    const std::string* etag = linked ? linked : r.header("ETag");
    if (!etag) {
      throw Error(ErrorKind::kInvalidInput, "the Hub gave no ETag for this file", ErrorContext{label},
                  "HF_ENDPOINT must serve the Hub's resolve protocol");
    }
    RemoteFile f{name, normalize_etag(*etag), 0};
    if (!is_safe_cache_name(f.etag) || f.etag.size() > 128) {
      throw Error(ErrorKind::kInvalidInput, "the Hub's ETag for this file is not a usable blob name",
                  ErrorContext{label, {}, "ETag"});
    }
    const std::string* size = r.header("X-Linked-Size");
    if (!size) size = r.header("Content-Length");
    if (!size || size->empty() || size->size() > 19 ||
        !std::all_of(size->begin(), size->end(), [](char c) { return c >= '0' && c <= '9'; })) {
      throw Error(ErrorKind::kInvalidInput, "the Hub gave no size for this file", ErrorContext{label},
                  "HF_ENDPOINT must serve the Hub's resolve protocol");
    }
    f.size = std::stoull(*size);
    if (const std::string* c = r.header("X-Repo-Commit"); c && *c != commit) {
      throw Error(ErrorKind::kIo, "the revision moved while it was being downloaded", ErrorContext{label},
                  "run again");
    }
    return f;
  }

  // Bytes [first, min(end, size)) of a file, by a Range request.
  std::string prefix(http::Client& client, const std::string& commit, const RemoteFile& f,
                     std::uint64_t first, std::uint64_t end) const {
    const std::string label = file_label(commit, f.name);
    std::string bytes;
    const std::uint64_t last = std::min(f.size, end) - 1;
    http::Response r;
    try {
      r = http::with_retries(settings_.retry, [&]() -> http::Response {
        bytes.clear();
        http::Request req{"GET", file_url(commit, f.name), headers(), {}};
        req.headers.push_back({"Range", "bytes=" + std::to_string(first) + "-" + std::to_string(last)});
        std::uint64_t received = 0;
        const auto sink = [&](const http::Response& head, std::string_view chunk) {
          // A server that ignores Range sends the whole file from byte 0.
          std::uint64_t body_start = 0;
          if (head.status == 206) {
            const std::string* range = head.header("Content-Range");
            const auto start = range ? http::parse_content_range_start(*range) : std::nullopt;
            if (start != first) {
              throw Error(ErrorKind::kIo, "the server answered a Range request with other bytes",
                          ErrorContext{label, {}, "Content-Range"});
            }
            body_start = first;
          }
          const std::uint64_t chunk_begin = body_start + received;
          received += chunk.size();
          if (chunk_begin + chunk.size() > first) {
            bytes.append(chunk.substr(first > chunk_begin ? first - chunk_begin : 0));
          }
          if (bytes.size() > last + 1 - first) bytes.resize(last + 1 - first);
          // A whole file sent instead of the range: stop once the range is in.
          if (head.status != 206 && bytes.size() == last + 1 - first) throw StopTransfer{};
        };
        try {
          return client.send_following_redirects(req, sink);
        } catch (const StopTransfer&) {
          http::Response done;
          done.status = 206;
          return done;
        }
      });
    } catch (const http::TransportError& e) {
      throw_transport(e, label, settings_);
    }
    if (r.status != 206 && r.status != 200) throw_status(r, label, repo_, settings_, false);
    if (bytes.size() != last + 1 - first) {
      throw Error(ErrorKind::kIo, "the server sent fewer bytes than asked for", ErrorContext{label});
    }
    return bytes;
  }

  // Downloads a blob into blobs/<etag>, resuming blobs/<etag>.incomplete with
  // a Range request, and checks its digest before renaming it into place.
  void download_blob(http::Client& client, const fs::path& repo_dir, const std::string& commit,
                     const RemoteFile& f, const std::atomic<bool>& cancelled) const {
    const fs::path blobs = repo_dir / "blobs";
    const fs::path final_path = blobs / f.etag;
    std::error_code ec;
    if (fs::is_regular_file(final_path, ec) && fs::file_size(final_path, ec) == f.size) return;
    fs::create_directories(blobs, ec);
    if (ec) throw_os("cannot create", blobs, ec.value());
    BlobLock lock(settings_.cache / ".locks" / repo_dir.filename() / (f.etag + ".lock"));
    if (fs::is_regular_file(final_path, ec) && fs::file_size(final_path, ec) == f.size) return;

    const std::string label = file_label(commit, f.name);
    const fs::path partial = blobs / (f.etag + ".incomplete");
    const int fd = ::open(partial.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throw_os("cannot open", partial, errno);
    struct Closer {
      int fd;
      ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw_os("cannot stat", partial, errno);
    std::uint64_t offset = static_cast<std::uint64_t>(st.st_size);
    ContentCheck check(f.etag, f.size);
    if (offset > f.size) {
      if (::ftruncate(fd, 0) != 0) throw_os("cannot truncate", partial, errno);
      offset = 0;
    }
    if (offset > 0 && check.active()) {  // the digest covers the bytes already here
      std::vector<char> buf(1 << 20);
      for (std::uint64_t at = 0; at < offset;) {
        const ssize_t n =
            ::pread(fd, buf.data(), std::min<std::uint64_t>(buf.size(), offset - at), static_cast<off_t>(at));
        if (n <= 0) throw_os("cannot read", partial, n < 0 ? errno : EIO);
        check.update(buf.data(), static_cast<std::size_t>(n));
        at += static_cast<std::uint64_t>(n);
      }
    }

    const auto attempt = [&]() -> http::Response {
      http::Request req{"GET", file_url(commit, f.name), headers(), {}};
      const std::uint64_t start = offset;
      if (start > 0) req.headers.push_back({"Range", "bytes=" + std::to_string(start) + "-"});
      bool first_chunk = true;
      const auto sink = [&](const http::Response& head, std::string_view chunk) {
        if (cancelled.load()) throw StopTransfer{};
        if (first_chunk) {
          first_chunk = false;
          const std::string* range = head.header("Content-Range");
          const auto range_start = range ? http::parse_content_range_start(*range) : std::nullopt;
          if (start > 0 && !(head.status == 206 && range_start == start)) {
            // The server sent the file from the start: begin again.
            if (::ftruncate(fd, 0) != 0) throw_os("cannot truncate", partial, errno);
            offset = 0;
            check.reset();
          }
        }
        if (offset + chunk.size() > f.size) {
          throw Error(ErrorKind::kInvalidInput, "the server sent more bytes than the file's size",
                      ErrorContext{label});
        }
        write_all_at(fd, std::as_bytes(std::span(chunk.data(), chunk.size())), offset, partial);
        check.update(chunk.data(), chunk.size());
        offset += chunk.size();
      };
      if (start == f.size) {  // already complete: nothing to ask for
        http::Response done;
        done.status = 200;
        return done;
      }
      return client.send_following_redirects(req, sink);
    };

    for (int round = 1;; ++round) {
      http::Response r;
      const std::uint64_t round_start = offset;
      try {
        r = http::with_retries(settings_.retry, attempt);
      } catch (const http::TransportError& e) {
        // A long download over a flaky link: each stretch of progress earns a fresh set of retries.
        if (offset > round_start && round < 1000) continue;
        throw_transport(e, label, settings_);
      }
      if (r.status == 416 && offset == f.size) break;
      if (r.status < 200 || r.status >= 300) throw_status(r, label, repo_, settings_, false);
      if (offset == f.size) break;
      // The connection closed cleanly before the end: ask for the rest.
      if (offset == round_start || round >= 1000) {
        throw Error(ErrorKind::kIo,
                    "the download stopped at byte " + std::to_string(offset) + " of " +
                        std::to_string(f.size) + " and made no progress when resumed",
                    ErrorContext{label}, "try again later; the bytes so far are kept and resumed");
      }
    }
    if (!check.matches()) {
      ::unlink(partial.c_str());
      throw Error(ErrorKind::kInvalidInput,
                  std::string("the downloaded bytes do not have the ") + check.algorithm() +
                      " the Hub announced (ETag " + f.etag + ")",
                  ErrorContext{label}, "the download was corrupted; run again to fetch it anew");
    }
    if (::fdatasync(fd) != 0) throw_os("cannot flush", partial, errno);
    if (::rename(partial.c_str(), final_path.c_str()) != 0)
      throw_os("cannot rename into place", final_path, errno);
  }

 private:
  RepoRef repo_;
  const Settings& settings_;
};

// Runs `task(client, i)` for i in [0, count) on up to `threads` workers, each
// with its own HTTP client. The first failure stops the others and is rethrown.
void run_parallel(int threads, std::size_t count,
                  const std::function<void(http::Client&, std::size_t, const std::atomic<bool>&)>& task) {
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  const auto worker = [&] {
    try {
      http::Client client;
      for (std::size_t i = next++; i < count && !failed.load(); i = next++) task(client, i, failed);
    } catch (const StopTransfer&) {
    } catch (...) {
      std::lock_guard lock(error_mutex);
      if (!error) error = std::current_exception();
      failed = true;
    }
  };
  const std::size_t n = std::min<std::size_t>(std::max(threads, 1), count);
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < n; ++t) pool.emplace_back(worker);
  if (n > 0) worker();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

std::uint64_t read_le64(std::string_view bytes) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
  return v;
}

// Index contents: shard -> the tensors the index maps to it.
std::map<std::string, std::vector<std::string>> parse_index(const std::string& contents,
                                                            const std::string& label) {
  const nlohmann::json index = parse_json_strict(contents, label);
  if (!index.is_object()) throw_invalid(label, "index must be a JSON object");
  if (!index.contains("weight_map") || !index["weight_map"].is_object()) {
    throw_invalid(label, "missing or not an object", {}, "weight_map");
  }
  std::map<std::string, std::vector<std::string>> shards;
  for (const auto& [tensor, file] : index["weight_map"].items()) {
    if (!file.is_string()) throw_invalid(label, "shard name must be a string", tensor, "weight_map");
    const std::string name = file.get<std::string>();
    if (!is_safe_cache_name(name) || name.find('\\') != std::string::npos) {
      throw_invalid(label, "shard file name '" + name + "' is not a plain file name", tensor, "weight_map",
                    "shards must sit in the same directory as the index");
    }
    shards[name].push_back(tensor);
  }
  if (shards.empty()) throw_invalid(label, "weight_map is empty", {}, "weight_map");
  return shards;
}

Snapshot download_snapshot(const RepoRef& repo, const Settings& settings) {
  if (!http::parse_url(settings.endpoint)) {
    throw Error(ErrorKind::kUsage, "HF_ENDPOINT is not an http(s) URL", ErrorContext{repo_label(repo)},
                "set it to e.g. https://huggingface.co");
  }
  const Remote remote(repo, settings);
  http::Client client;
  const RevisionListing listing = remote.listing(client);
  const std::string& commit = listing.sha;
  const fs::path repo_dir = settings.cache / repo_folder_name(repo.id);
  const fs::path snapshot = repo_dir / "snapshots" / commit;
  std::error_code ec;
  fs::create_directories(snapshot, ec);
  if (ec) throw_os("cannot create", snapshot, ec.value());

  // The small files first: the indexes among them say which weights to fetch.
  const std::vector<std::string> support = support_files(listing.files);
  std::vector<RemoteFile> support_meta(support.size());
  run_parallel(settings.parallel_downloads, support.size(),
               [&](http::Client& c, std::size_t i, const std::atomic<bool>& cancelled) {
                 support_meta[i] = remote.metadata(c, commit, support[i]);
                 remote.download_blob(c, repo_dir, commit, support_meta[i], cancelled);
               });
  std::vector<std::pair<std::string, std::string>> indexes;
  for (const auto& f : support_meta) {
    link_into_snapshot(snapshot, f.name, f.etag);
    if (is_index_name(f.name)) {
      indexes.emplace_back(f.name, read_small_file((repo_dir / "blobs" / f.etag).string(), 256ull << 20));
    }
  }
  const std::vector<std::string> weights =
      weight_files(listing.files, indexes, remote.file_label(commit, ""));

  // Every weight's header before any weight's data: a broken repository fails
  // in seconds, not after the download.
  std::map<std::string, std::pair<std::string, std::vector<std::string>>>
      index_of_shard;  // shard -> index, tensors
  for (const auto& [name, contents] : indexes) {
    for (auto& [shard, tensors] : parse_index(contents, remote.file_label(commit, name))) {
      index_of_shard[shard] = {name, std::move(tensors)};
    }
  }
  std::vector<RemoteFile> weight_meta(weights.size());
  run_parallel(
      settings.parallel_downloads, weights.size(),
      [&](http::Client& c, std::size_t i, const std::atomic<bool>&) {
        RemoteFile& f = weight_meta[i];
        f = remote.metadata(c, commit, weights[i]);
        const std::string label = remote.file_label(commit, f.name);
        if (f.size < 8) throw_invalid(label, "file is shorter than the 8-byte header length");
        // The header's length, then the header: not one byte of tensor data.
        std::string head = remote.prefix(c, commit, f, 0, 8);
        const std::uint64_t header_end = 8 + std::min(read_le64(head), kMaxHeaderBytes + 1);
        if (header_end > 8 && header_end <= f.size && header_end - 8 <= kMaxHeaderBytes) {
          head += remote.prefix(c, commit, f, head.size(), header_end);
        }
        const SafetensorsHeader header =
            parse_safetensors_header(std::as_bytes(std::span(head.data(), head.size())), f.size, label);
        auto it = index_of_shard.find(f.name);
        if (it == index_of_shard.end()) return;
        const std::string index_label = remote.file_label(commit, it->second.first);
        std::set<std::string_view> listed(it->second.second.begin(), it->second.second.end());
        std::set<std::string_view> held;
        for (const auto& t : header.tensors) held.insert(t.name);
        for (const auto& tensor : it->second.second) {
          if (!held.count(tensor)) {
            throw_invalid(index_label, "is mapped to shard '" + f.name + "', which does not contain it",
                          tensor, "weight_map");
          }
        }
        for (const auto& t : header.tensors) {
          if (!listed.count(t.name)) {
            throw_invalid(index_label, "shard '" + f.name + "' holds a tensor the index does not list",
                          t.name, "weight_map");
          }
        }
      });

  std::uint64_t needed = 0;
  for (const auto& f : weight_meta) {
    if (!fs::is_regular_file(repo_dir / "blobs" / f.etag, ec)) needed += f.size;
  }
  struct statvfs vfs {};
  if (needed > 0 && ::statvfs((repo_dir / "blobs").c_str(), &vfs) == 0) {
    const std::uint64_t free_bytes = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    if (free_bytes < needed) {
      throw Error(ErrorKind::kIo,
                  "the download needs " + std::to_string(needed) + " bytes but the disk has " +
                      std::to_string(free_bytes) + " free",
                  ErrorContext{settings.cache.string()},
                  "free some space or set HF_HUB_CACHE to a larger disk");
    }
  }

  run_parallel(settings.parallel_downloads, weight_meta.size(),
               [&](http::Client& c, std::size_t i, const std::atomic<bool>& cancelled) {
                 remote.download_blob(c, repo_dir, commit, weight_meta[i], cancelled);
               });
  for (const auto& f : weight_meta) link_into_snapshot(snapshot, f.name, f.etag);
  if (repo.revision != commit) write_ref(repo_dir, repo.revision, commit);
  return {snapshot, commit};
}

}  // namespace

Settings Settings::from_environment() {
  Settings s;
  const std::string home = env("HOME");
  fs::path hf_home;
  if (!env("HF_HOME").empty()) {
    hf_home = env("HF_HOME");
  } else if (!env("XDG_CACHE_HOME").empty()) {
    hf_home = fs::path(env("XDG_CACHE_HOME")) / "huggingface";
  } else if (!home.empty()) {
    hf_home = fs::path(home) / ".cache" / "huggingface";
  }
  s.cache = !env("HF_HUB_CACHE").empty() ? fs::path(env("HF_HUB_CACHE"))
                                         : (hf_home.empty() ? fs::path() : hf_home / "hub");
  s.endpoint = env("HF_ENDPOINT").empty() ? "https://huggingface.co" : env("HF_ENDPOINT");
  while (!s.endpoint.empty() && s.endpoint.back() == '/') s.endpoint.pop_back();
  s.token = trimmed(env("HF_TOKEN"));
  if (s.token.empty()) s.token = trimmed(env("HUGGING_FACE_HUB_TOKEN"));
  if (s.token.empty()) {
    const fs::path file = !env("HF_TOKEN_PATH").empty() ? fs::path(env("HF_TOKEN_PATH"))
                                                        : (hf_home.empty() ? fs::path() : hf_home / "token");
    std::error_code ec;
    if (!file.empty() && fs::is_regular_file(file, ec))
      s.token = trimmed(read_small_file(file.string(), 64 << 10));
  }
  // A token goes into a header line: nothing that could end it.
  if (std::any_of(s.token.begin(), s.token.end(), [](unsigned char c) { return c < ' ' || c == 0x7f; })) {
    s.token.clear();
  }
  s.offline = env_true("HF_HUB_OFFLINE");
  return s;
}

std::string repo_folder_name(const std::string& repo_id) {
  std::string out = "models--";
  for (char c : repo_id) {
    if (c == '/') {
      out += "--";
    } else {
      out += c;
    }
  }
  return out;
}

std::string normalize_etag(std::string_view etag) {
  if (etag.substr(0, 2) == "W/") etag.remove_prefix(2);
  while (!etag.empty() && etag.front() == '"') etag.remove_prefix(1);
  while (!etag.empty() && etag.back() == '"') etag.remove_suffix(1);
  return std::string(etag);
}

bool is_safe_cache_name(std::string_view name) {
  if (name.empty() || name.size() > 255 || name.front() == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

RevisionListing parse_revision_listing(std::string_view json, const std::string& label) {
  const nlohmann::json doc = parse_json_strict(json, label);
  if (!doc.is_object()) throw_invalid(label, "must be a JSON object");
  if (!doc.contains("sha") || !doc["sha"].is_string())
    throw_invalid(label, "missing or not a string", {}, "sha");
  RevisionListing out;
  out.sha = doc["sha"].get<std::string>();
  if (out.sha.size() < 7 || out.sha.size() > 64 || !is_hex(out.sha)) {
    throw_invalid(label, "is not a commit hash", {}, "sha");
  }
  if (!doc.contains("siblings") || !doc["siblings"].is_array()) {
    throw_invalid(label, "missing or not an array", {}, "siblings");
  }
  for (const auto& s : doc["siblings"]) {
    if (!s.is_object() || !s.contains("rfilename") || !s["rfilename"].is_string()) {
      throw_invalid(label, "an entry has no rfilename string", {}, "siblings");
    }
    out.files.push_back(s["rfilename"].get<std::string>());
  }
  return out;
}

std::vector<std::string> support_files(const std::vector<std::string>& listing) {
  std::set<std::string> wanted(tokenizer_file_names().begin(), tokenizer_file_names().end());
  wanted.insert({kConfigFile, kGenerationConfigFile, kPostConfigFile, kManifestFileName});
  std::vector<std::string> out;
  for (const auto& name : listing) {
    if (!is_safe_cache_name(name)) continue;
    if (wanted.count(name) || is_index_name(name)) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<std::string> weight_files(const std::vector<std::string>& listing,
                                      const std::vector<std::pair<std::string, std::string>>& indexes,
                                      const std::string& label) {
  const std::set<std::string> present(listing.begin(), listing.end());
  std::set<std::string> out;
  for (const auto& [name, contents] : indexes) {
    const std::string index_label = label + name;
    for (const auto& [shard, tensors] : parse_index(contents, index_label)) {
      if (!present.count(shard)) {
        throw_invalid(index_label, "names shard '" + shard + "', which the repository does not have",
                      tensors.front(), "weight_map", "the repository is incomplete or its index is wrong");
      }
      out.insert(shard);
    }
  }
  const bool is_delta = present.count(kManifestFileName) > 0;
  if (out.empty() || is_delta) {
    for (const auto& name : listing) {
      if (!is_weight_name(name) || !is_safe_cache_name(name)) continue;
      if (is_delta || name == "model.safetensors") out.insert(name);
    }
  }
  if (out.empty()) {
    const bool pickles = present.count("pytorch_model.bin") || present.count("pytorch_model.bin.index.json");
    throw Error(ErrorKind::kInvalidInput, "the repository has no safetensors weights", ErrorContext{label},
                pickles ? "it holds PyTorch pickle weights; paramdelta reads only safetensors"
                        : "expected model.safetensors or model.safetensors.index.json");
  }
  return {out.begin(), out.end()};
}

bool is_safe_revision(std::string_view revision) {
  if (revision.empty() || revision.size() > 255) return false;
  for (std::size_t start = 0; start <= revision.size();) {
    const std::size_t end = std::min(revision.find('/', start), revision.size());
    if (!is_safe_cache_name(revision.substr(start, end - start))) return false;
    start = end + 1;
  }
  return true;
}

Snapshot resolve_snapshot(const RepoRef& repo, const std::string& spec, const Settings& settings) {
  // The revision becomes a path under refs/: plain names separated by '/', nothing else.
  if (!is_safe_revision(repo.revision)) {
    throw Error(ErrorKind::kUsage, "'" + repo.revision + "' is not a revision name", ErrorContext{spec},
                "name a branch, tag or commit hash, e.g. hf://org/name@main");
  }
  const fs::path repo_dir = settings.cache / repo_folder_name(repo.id);
  std::error_code ec;
  std::string commit = repo.revision;
  const fs::path ref = repo_dir / "refs" / repo.revision;
  if (fs::is_regular_file(ref, ec)) commit = read_ref(ref);
  std::string missing = "its weights";
  if (is_safe_cache_name(commit)) {
    const fs::path snapshot = repo_dir / "snapshots" / commit;
    if (fs::is_directory(snapshot, ec)) {
      missing = missing_from_snapshot(snapshot);
      if (missing.empty()) return {snapshot, commit};
    }
  }
  if (settings.offline) {
    throw Error(ErrorKind::kNotFound,
                "HF_HUB_OFFLINE is set and the local Hugging Face cache (" + settings.cache.string() +
                    ") lacks " + (missing == "its weights" ? missing : "'" + missing + "'") + " of '" +
                    repo.id + "' at revision '" + repo.revision + "'",
                ErrorContext{spec}, "unset HF_HUB_OFFLINE to download it");
  }
  if (settings.cache.empty()) {
    throw Error(ErrorKind::kUsage, "no Hugging Face cache directory", ErrorContext{spec},
                "set HF_HUB_CACHE or HF_HOME");
  }
  return download_snapshot(repo, settings);
}

}  // namespace paramdelta::hub
