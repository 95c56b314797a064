// Thread control for the BLAS. The library we link may be the generic
// libblas.so.3 (Debian's alternatives system), which does not export
// OpenBLAS's control function even when OpenBLAS is what runs underneath, so
// the function is looked up at run time instead of linked.
#include <dlfcn.h>

#include <atomic>

#include "paramdelta/model.h"

namespace paramdelta {

namespace {
std::atomic<int> g_threads{0};

using SetThreads = void (*)(int);
using GetThreads = int (*)();

SetThreads find_set_threads() {
  static SetThreads function = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  return function;
}
GetThreads find_get_threads() {
  static GetThreads function = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  return function;
}
}  // namespace

void set_compute_threads(int threads) {
  if (threads <= 0) return;
  g_threads = threads;
  if (SetThreads set = find_set_threads()) set(threads);
}

int compute_threads() {
  if (GetThreads get = find_get_threads()) return get();
  return g_threads.load() > 0 ? g_threads.load() : 1;
}

}  // namespace paramdelta
