// paramdelta._core: the C++ library as seen from Python. The public API is
// the pure-Python package around it (python/paramdelta).
#include "bindings.h"

NB_MODULE(_core, m) {
  m.doc() = "paramdelta's C++ library; use the paramdelta package, not this module";
  m.attr("__version__") = PARAMDELTA_VERSION;
  paramdelta::python::bind_errors(m);
  paramdelta::python::bind_operations(m);
  paramdelta::python::bind_evaluate(m);
  paramdelta::python::bind_tensors(m);
  paramdelta::python::bind_tensor_math(m);
}
