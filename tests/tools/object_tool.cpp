// A small client of the storage seam for the tests that run against real
// object stores (Azurite, SeaweedFS) and a fault-injecting proxy:
//
//   paramdelta-object-tool stat URL             prints the size, or "missing"
//   paramdelta-object-tool list URL             prints "SIZE KEY" per object under the prefix
//   paramdelta-object-tool read URL OFFSET LEN  writes the bytes to stdout
//   paramdelta-object-tool put URL              stores stdin in one request
//   paramdelta-object-tool upload URL PART [THREADS]
//                                               stores stdin in parts of PART bytes,
//                                               uploaded concurrently, committed last
//   paramdelta-object-tool upload-abort URL PART
//                                               uploads every part, then aborts
//   paramdelta-object-tool rm URL
//
// Errors print one line on stderr ("error: ...") and exit 1, as the CLI does.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "paramdelta/error.h"
#include "storage/object_store.h"

using namespace paramdelta;

namespace {

std::string read_stdin() {
  std::string data((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  return data;
}

std::span<const std::byte> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

void upload(storage::ObjectStore& store, const std::string& key, std::uint64_t part, int threads,
            bool commit) {
  const std::string data = read_stdin();
  auto upload = store.begin_upload(key);
  const std::size_t parts = data.empty() ? 1 : (data.size() + part - 1) / part;
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      try {
        for (std::size_t p = static_cast<std::size_t>(t); p < parts; p += static_cast<std::size_t>(threads)) {
          const std::size_t begin = p * part;
          const std::size_t n = std::min<std::size_t>(part, data.size() - std::min(begin, data.size()));
          upload->upload_part(p, as_bytes(data).subspan(std::min(begin, data.size()), n));
        }
      } catch (...) {
        errors[static_cast<std::size_t>(t)] = std::current_exception();
      }
    });
  }
  for (auto& th : pool) th.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  if (commit) {
    upload->commit(parts);
  } else {
    upload->abort();
  }
}

int run(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: paramdelta-object-tool stat|list|read|put|upload|upload-abort|rm URL ...\n";
    return 2;
  }
  const std::string verb = argv[1];
  auto location = storage::open_remote_location(argv[2]);
  if (!location) throw Error(ErrorKind::kUsage, "not an object store URL", ErrorContext{argv[2]});
  auto& store = *location->store;
  const std::string& key = location->prefix;
  if (verb == "stat") {
    auto info = store.stat(key);
    std::cout << (info ? std::to_string(info->size) : std::string("missing")) << "\n";
  } else if (verb == "list") {
    for (const auto& o : store.list(key)) std::cout << o.size << " " << o.key << "\n";
  } else if (verb == "read" && argc == 5) {
    std::vector<std::byte> buf(std::stoull(argv[4]));
    store.read(key, std::stoull(argv[3]), buf);
    if (!buf.empty()) std::fwrite(buf.data(), 1, buf.size(), stdout);  // fwrite(nullptr, ...) is undefined
  } else if (verb == "put") {
    const std::string data = read_stdin();
    store.put(key, as_bytes(data));
  } else if ((verb == "upload" || verb == "upload-abort") && argc >= 4) {
    upload(store, key, std::stoull(argv[3]), argc >= 5 ? std::stoi(argv[4]) : 4, verb == "upload");
  } else if (verb == "rm") {
    store.remove(key);
  } else {
    std::cerr << "unknown verb or wrong arguments: " << verb << "\n";
    return 2;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const Error& e) {
    std::cerr << "error: " << format_error_line(e) << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
