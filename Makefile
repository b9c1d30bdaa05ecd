# The front door: `make demo` and `make test` work on a fresh machine.
BUILD ?= build
JOBS ?= 2
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=Release -DADAPOOL_WERROR=ON
SOURCES := $(shell find include src test examples -name '*.[ch]' -o -name '*.[ch]pp')
MAKEFLAGS += --no-print-directory

.PHONY: all deps build test demo format format-check clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j$(JOBS)

# Every test: formatting, then the C++ suite (GoogleTest through ctest).
test: build format-check
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

demo: build
	./$(BUILD)/examples/adapool_windows_demo

format: deps
	clang-format -i $(SOURCES)

format-check: deps
	clang-format --dry-run --Werror $(SOURCES)

clean:
	rm -rf $(BUILD)
