// The pieces of the extension module paramdelta._core, one per concern.
#pragma once

#include <nanobind/nanobind.h>

namespace paramdelta::python {

void bind_errors(nanobind::module_& m);
void bind_operations(nanobind::module_& m);
void bind_evaluate(nanobind::module_& m);
void bind_tensors(nanobind::module_& m);
void bind_tensor_math(nanobind::module_& m);

}  // namespace paramdelta::python
