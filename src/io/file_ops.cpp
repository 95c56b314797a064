#include "io/file_ops.h"

#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>  // renameat2, RENAME_EXCHANGE
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "io/file_kind.h"
#include "io/model_directory.h"
#include "paramdelta/error.h"
#include "storage/object_store.h"
#include "storage/remote_writer.h"

namespace paramdelta {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void throw_os(const std::string& what, const fs::path& label, int err) {
  std::string hint;
  if (err == ENOSPC || err == EDQUOT) hint = "free some disk space or write the output elsewhere";
  if (err == EFBIG) hint = "the file size limit was reached";
  if (err == EACCES || err == EPERM) hint = "check the permissions of the output location";
  throw Error(ErrorKind::kIo, what + ": " + std::strerror(err), ErrorContext{label.string(), {}, {}}, hint);
}

std::atomic<unsigned> g_temp_counter{0};

[[noreturn]] void refuse_destination(const fs::path& destination, const std::string& what_is_there,
                                     const std::string& hint) {
  throw Error(ErrorKind::kExists, what_is_there, ErrorContext{destination.string()}, hint);
}

// The directories no output may ever take the place of: the current one (and
// those above it), the root, the home directory. Compared by identity, so
// that every spelling ("." , "./", "../here", a link) is caught.
void refuse_protected_directory(const fs::path& destination) {
  std::error_code ec;
  if (!fs::is_directory(destination, ec)) return;
  const std::string never = "; an output never replaces it";
  const std::string hint = "name a new directory for the output";
  auto same = [&](const fs::path& other) {
    std::error_code e;
    return !other.empty() && fs::equivalent(destination, other, e);
  };
  if (same("/")) refuse_destination(destination, "is the root directory" + never, hint);
  std::vector<fs::path> homes;
  if (const char* home = std::getenv("HOME"); home && *home) homes.emplace_back(home);
  if (const passwd* pw = ::getpwuid(::getuid()); pw && pw->pw_dir) homes.emplace_back(pw->pw_dir);
  for (const auto& home : homes) {
    if (same(home)) refuse_destination(destination, "is the home directory" + never, hint);
  }
  const fs::path cwd = fs::current_path(ec);
  if (ec) return;
  if (same(cwd)) refuse_destination(destination, "is the current directory" + never, hint);
  for (fs::path up = cwd.parent_path(); !up.empty(); up = up.parent_path()) {
    if (same(up)) refuse_destination(destination, "holds the current directory" + never, hint);
    if (up == up.parent_path()) break;
  }
}

// With --force: whether what is at `destination` is something an output of
// `kind` could have put there (see StagedOutput).
void refuse_unreplaceable(const fs::path& destination, StagedOutput::Kind kind) {
  std::error_code ec;
  const fs::file_status status = fs::symlink_status(destination, ec);
  const std::string rule = kind == StagedOutput::Kind::kFile
                               ? "a single-file output replaces only a file"
                               : "an output directory replaces only one that holds an earlier delta or "
                                 "a model (config.json and weights), and nothing else";
  const std::string hint = "move it away or choose another output";
  if (fs::is_symlink(status)) refuse_destination(destination, "is a symbolic link; " + rule, hint);
  if (kind == StagedOutput::Kind::kFile) {
    if (fs::is_directory(status)) refuse_destination(destination, "is a directory; " + rule, hint);
    if (!fs::is_regular_file(status)) refuse_destination(destination, "is not a regular file; " + rule, hint);
    return;
  }
  if (fs::is_regular_file(status)) refuse_destination(destination, "is a file; " + rule, hint);
  if (!fs::is_directory(status)) refuse_destination(destination, "is not a directory; " + rule, hint);
  if (auto why = why_directory_is_not_replaceable(destination)) {
    refuse_destination(destination, "is a directory that " + *why + "; " + rule, hint);
  }
}

}  // namespace

fs::path without_trailing_separators(const fs::path& path) {
  std::string s = path.string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

fs::path temporary_sibling(const fs::path& final_path) {
  const std::string name = final_path.filename().string();
  return final_path.parent_path() / ("." + name + ".paramdelta-" + std::to_string(getpid()) + "-" +
                                     std::to_string(g_temp_counter++) + ".tmp");
}

int create_exclusive(const fs::path& path) {
  // Read-write: a writer whose header outgrew its room copies the data back out of this file.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw_os("cannot create file", path, errno);
  return fd;
}

void write_all_at(int fd, std::span<const std::byte> bytes, std::uint64_t offset, const fs::path& label) {
  const std::byte* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = ::pwrite(fd, p, left, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_os("write failed", label, errno);
    }
    if (n == 0) throw_os("write failed", label, ENOSPC);
    p += n;
    left -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
}

void copy_range(int from_fd, std::uint64_t from_offset, int to_fd, std::uint64_t to_offset,
                std::uint64_t length, const fs::path& label) {
  std::vector<std::byte> buffer(1 << 20);
  while (length > 0) {
    std::size_t chunk = static_cast<std::size_t>(std::min<std::uint64_t>(length, buffer.size()));
    ssize_t n = ::pread(from_fd, buffer.data(), chunk, static_cast<off_t>(from_offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_os("read failed", label, errno);
    }
    if (n == 0)
      throw Error(ErrorKind::kIo, "unexpected end of file while copying", ErrorContext{label.string()});
    write_all_at(to_fd, std::span(buffer.data(), static_cast<std::size_t>(n)), to_offset, label);
    from_offset += static_cast<std::uint64_t>(n);
    to_offset += static_cast<std::uint64_t>(n);
    length -= static_cast<std::uint64_t>(n);
  }
}

void close_checked(int fd, const fs::path& label) {
  // Delayed write errors (a full disk on NFS, for instance) surface at close.
  if (::close(fd) != 0 && errno != EINTR) throw_os("cannot close file", label, errno);
}

void publish_file(const fs::path& temp, const fs::path& final_path) {
  if (::rename(temp.c_str(), final_path.c_str()) != 0)
    throw_os("cannot rename into place", final_path, errno);
}

void copy_file_atomically(const fs::path& from, const fs::path& to) {
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) throw_os("cannot open", from, errno);
  fs::path temp = temporary_sibling(to);
  int out = -1;
  try {
    out = create_exclusive(temp);
    std::uint64_t size = fs::file_size(from);
    copy_range(in, 0, out, 0, size, to);
    close_checked(out, to);
    out = -1;
    ::close(in);
    in = -1;
    publish_file(temp, to);
  } catch (...) {
    if (out >= 0) ::close(out);
    if (in >= 0) ::close(in);
    std::error_code ec;
    fs::remove(temp, ec);
    throw;
  }
}

void check_output_destination(const fs::path& destination, StagedOutput::Kind kind, bool force) {
  refuse_url(destination.string(), true);
  refuse_protected_directory(destination);
  std::error_code ec;
  fs::path parent = destination.parent_path().empty() ? fs::path(".") : destination.parent_path();
  if (!fs::is_directory(parent, ec)) {
    throw Error(ErrorKind::kUsage, "the output's parent directory does not exist",
                ErrorContext{destination.string()}, "create it first");
  }
  if (!fs::exists(fs::symlink_status(destination, ec))) return;
  if (!force) {
    throw Error(ErrorKind::kExists, "output already exists", ErrorContext{destination.string()},
                "choose another name or pass " + option_ref("force", "true") + " to replace it");
  }
  refuse_unreplaceable(destination, kind);
}

namespace {

// An object store destination is checked as a local one is: nothing there,
// or with force what paramdelta could have written there.
void check_remote_destination(const storage::RemoteLocation& location, StagedOutput::Kind kind, bool force) {
  const std::string url = location.describe();
  std::set<std::string> names;
  const std::string dir = location.prefix.empty() ? std::string() : location.prefix + "/";
  for (const auto& object : location.store->list(dir)) {
    if (object.key.size() > dir.size()) names.insert(object.key.substr(dir.size()));
  }
  const bool file_there = !location.prefix.empty() && location.store->stat(location.prefix).has_value();
  if (names.empty() && !file_there) return;
  if (!force) {
    throw Error(ErrorKind::kExists, "output already exists", ErrorContext{url},
                "choose another name or pass " + option_ref("force", "true") + " to replace it");
  }
  const std::string hint = "move it away or choose another output";
  if (kind == StagedOutput::Kind::kFile) {
    if (!names.empty())
      refuse_destination(url, "holds objects below it; a single-file output replaces only a file", hint);
    return;
  }
  if (file_there)
    refuse_destination(url, "is an object; an output directory replaces only a directory", hint);
  if (auto why = why_files_are_not_replaceable(names)) {
    refuse_destination(url,
                       "is a directory that " + *why +
                           "; an output directory replaces only one that holds an earlier delta or a model "
                           "(config.json and weights), and nothing else",
                       hint);
  }
}

}  // namespace

StagedOutput::StagedOutput(fs::path destination, Kind kind, bool force)
    : destination_(without_trailing_separators(destination)), kind_(kind), force_(force) {
  if (auto remote = storage::open_remote_location(destination_.string())) {
    check_remote_destination(*remote, kind_, force_);
    std::error_code ec;
    fs::path tmp = fs::temp_directory_path(ec);
    if (ec) tmp = "/tmp";
    std::string pattern = (tmp / "paramdelta-output-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw_os("cannot create a temporary directory", tmp, errno);
    remote_scratch_ = pattern;
    staging_ = kind_ == Kind::kDirectory ? remote_scratch_ : remote_scratch_ / destination_.filename();
    register_path_alias(staging_.string(), remote->describe());
    remote_ = std::make_shared<storage::RemoteOutput>(*remote, staging_, kind_ == Kind::kDirectory);
    storage::register_remote_output(staging_, remote_);
    return;
  }
  check_output_destination(destination_, kind_, force_);
  // The staging name is made from the last name: "out/." and "out/.." need their real one.
  const fs::path last = destination_.filename();
  if (last == "." || last == "..") {
    std::error_code ec;
    const fs::path resolved = fs::weakly_canonical(destination_, ec);
    if (!ec) destination_ = resolved;
  }
  staging_ = temporary_sibling(destination_);
  if (kind_ == Kind::kDirectory) {
    std::error_code ec;
    if (!fs::create_directory(staging_, ec)) throw_os("cannot create directory", staging_, ec.value());
  }
}

StagedOutput::~StagedOutput() {
  if (remote_) {
    storage::unregister_remote_output(staging_);
    remote_.reset();  // uploads not committed are aborted
    std::error_code ec;
    fs::remove_all(remote_scratch_, ec);
    return;
  }
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(staging_, ec);
}

void StagedOutput::commit() {
  if (remote_) {
    remote_->commit(force_);
    committed_ = true;
    return;
  }
  std::error_code ec;
  const bool exists = fs::exists(fs::symlink_status(destination_, ec));
  if (exists && !force_) {
    throw Error(ErrorKind::kExists, "output appeared while this run was working",
                ErrorContext{destination_.string()},
                "pass " + option_ref("force", "true") + " to replace it");
  }
  // What is there now may not be what was there when the run began.
  if (exists) refuse_unreplaceable(destination_, kind_);
  if (exists && kind_ == Kind::kFile && !fs::is_directory(destination_, ec)) {
    // rename() replaces a file atomically: the old one stays valid until the new one is complete.
    publish_file(staging_, destination_);
  } else if (exists) {
    // A directory cannot be replaced by rename(): swap the two atomically where
    // the filesystem can, so that at every instant the destination holds the
    // complete old output or the complete new one; the old one then lies under
    // the staging name and is removed.
    if (::renameat2(AT_FDCWD, staging_.c_str(), AT_FDCWD, destination_.c_str(), RENAME_EXCHANGE) == 0) {
      committed_ = true;
      fs::remove_all(staging_, ec);
      return;
    }
    // Otherwise move the old one aside first: a crash between the two renames
    // leaves it under a hidden name beside the destination.
    fs::path old = temporary_sibling(destination_);
    if (::rename(destination_.c_str(), old.c_str()) != 0)
      throw_os("cannot move the old output aside", destination_, errno);
    if (::rename(staging_.c_str(), destination_.c_str()) != 0) {
      int err = errno;
      ::rename(old.c_str(), destination_.c_str());
      throw_os("cannot rename into place", destination_, err);
    }
    fs::remove_all(old, ec);
  } else {
    publish_file(staging_, destination_);
  }
  committed_ = true;
}

}  // namespace paramdelta

namespace paramdelta {
void write_file_atomically(const std::filesystem::path& path, std::string_view contents) {
  const auto temp = temporary_sibling(path);
  int fd = create_exclusive(temp);
  try {
    write_all_at(fd, std::as_bytes(std::span(contents.data(), contents.size())), 0, path);
  } catch (...) {
    ::close(fd);
    std::filesystem::remove(temp);
    throw;
  }
  try {
    close_checked(fd, path);
    publish_file(temp, path);
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove(temp, ec);
    throw;
  }
}
}  // namespace paramdelta
