# The README's commands. `make demo` and `make test` each set up what is missing first.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: setup build demo test test-asan bench clean

setup:
	@tools/setup.sh

build: setup
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	@tools/demo.sh $(BUILD)/paramdelta

test: build
	@tools/run_tests.sh $(BUILD)

test-asan:
	@$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DPARAMDELTA_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo"

bench: build
	@bench/run.sh

clean:
	rm -rf build build-asan
