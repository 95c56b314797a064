#include "io/file_ops.h"

#include <fcntl.h>
#include <stdio.h>  // renameat2, RENAME_EXCHANGE
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "paramdelta/error.h"

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

}  // namespace

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

void check_output_destination(const fs::path& destination, bool force) {
  std::error_code ec;
  fs::path parent = destination.parent_path().empty() ? fs::path(".") : destination.parent_path();
  if (!fs::is_directory(parent, ec)) {
    throw Error(ErrorKind::kUsage, "the output's parent directory does not exist",
                ErrorContext{destination.string()}, "create it first");
  }
  if (fs::exists(fs::symlink_status(destination, ec)) && !force) {
    throw Error(ErrorKind::kExists, "output already exists", ErrorContext{destination.string()},
                "choose another name or pass --force to replace it");
  }
}

StagedOutput::StagedOutput(fs::path destination, Kind kind, bool force)
    : destination_(std::move(destination)), kind_(kind), force_(force) {
  check_output_destination(destination_, force_);
  staging_ = temporary_sibling(destination_);
  if (kind_ == Kind::kDirectory) {
    std::error_code ec;
    if (!fs::create_directory(staging_, ec)) throw_os("cannot create directory", staging_, ec.value());
  }
}

StagedOutput::~StagedOutput() {
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(staging_, ec);
}

void StagedOutput::commit() {
  std::error_code ec;
  const bool exists = fs::exists(fs::symlink_status(destination_, ec));
  if (exists && !force_) {
    throw Error(ErrorKind::kExists, "output appeared while this run was working",
                ErrorContext{destination_.string()}, "pass --force to replace it");
  }
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
