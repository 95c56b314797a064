// Runs a long library call on a thread of its own while the calling Python
// thread waits without the GIL, waking a few times a second to deliver
// progress to a Python callback and to notice Ctrl-C. Python code runs only
// on the calling thread, with the GIL held; the library's worker threads
// never touch Python.
#pragma once

#include <nanobind/nanobind.h>

#include <atomic>
#include <functional>

#include "paramdelta/progress.h"

namespace paramdelta::python {

// What the work gets: the flag that stops it (set on Ctrl-C, or when the
// progress callback raises) and the sink to report progress to (null when
// there is no callback).
using BackgroundWork = std::function<void(const std::atomic<bool>* cancel, ProgressSink* progress)>;

// Runs `work` and returns when it ends. `progress` is None or a callable
// progress(operation: str, done: int, total: int), called with byte counts.
// A KeyboardInterrupt (or an exception from the callback) sets the cancel
// flag, waits for the work to stop, and is raised here; the library's own
// error, if any, reaches the caller as a C++ exception.
void run_in_background(const nanobind::object& progress, const BackgroundWork& work);

}  // namespace paramdelta::python
