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

// The global scope first (the program), then the BLAS libraries already
// loaded: a library loaded with RTLD_LOCAL (a Python extension module) does
// not put its BLAS's symbols in the global scope.
void* find_blas_symbol(const char* name) {
  if (void* symbol = dlsym(RTLD_DEFAULT, name)) return symbol;
  for (const char* library : {"libopenblas.so.0", "libblas.so.3"}) {
    if (void* handle = dlopen(library, RTLD_LAZY | RTLD_NOLOAD)) {
      void* symbol = dlsym(handle, name);
      dlclose(handle);  // RTLD_NOLOAD took a reference of its own
      if (symbol) return symbol;
    }
  }
  return nullptr;
}

SetThreads find_set_threads() {
  static SetThreads function = reinterpret_cast<SetThreads>(find_blas_symbol("openblas_set_num_threads"));
  return function;
}
GetThreads find_get_threads() {
  static GetThreads function = reinterpret_cast<GetThreads>(find_blas_symbol("openblas_get_num_threads"));
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
