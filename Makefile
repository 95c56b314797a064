# The README's commands. `make demo` and `make test` each set up what is missing first.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: setup build demo test test-asan fuzz bench format format-check clean

setup:
	@tools/setup.sh

CONFIGURE = cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: setup
	@$(CONFIGURE) -DPARAMDELTA_TESTS=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The demo needs the paramdelta program alone: no test programs, no test tools.
demo:
	@tools/setup.sh --build
	@$(CONFIGURE) -DPARAMDELTA_TESTS=OFF >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) --target paramdelta-cli
	@tools/demo.sh $(BUILD)/paramdelta

test: build
	@tools/run_tests.sh $(BUILD)

# The whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan).
test-asan: setup
	@JOBS=$(JOBS) tools/run_sanitizers.sh build-asan

# Every libFuzzer target for FUZZ_SECONDS each (build-fuzz); fails on a crash, leak or timeout.
FUZZ_SECONDS ?= 60
fuzz: setup
	@JOBS=$(JOBS) tools/run_fuzz.sh $(FUZZ_SECONDS)

bench: build
	@bench/run.sh

# The C++ sources follow .clang-format: `format` rewrites them, `format-check` fails on any difference.
# Tracked files and new ones not yet added (but not ignored ones).
CLANG_FORMAT ?= clang-format-14
CXX_SOURCES = git ls-files --cached --others --exclude-standard '*.cpp' '*.h'
format: setup
	@$(CXX_SOURCES) | xargs $(CLANG_FORMAT) -i
format-check: setup
	@$(CXX_SOURCES) | xargs $(CLANG_FORMAT) --dry-run --Werror

clean:
	rm -rf build build-asan build-fuzz
