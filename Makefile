# The front door: `make demo` and `make test` work on a fresh machine.
BUILD ?= build
JOBS ?= 2
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=Release -DADAPOOL_WERROR=ON
VENV ?= .venv
PYTHON := $(VENV)/bin/python
PYTHON_SOURCES := $(shell find python src include tools -type f) CMakeLists.txt pyproject.toml
SOURCES := $(shell find $(wildcard include src test examples tools python fuzz) -name '*.[ch]' -o -name '*.[ch]pp')
MAKEFLAGS += --no-print-directory

.PHONY: all deps build test test-cpp test-sanitizers test-python python demo format format-check clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j$(JOBS)

# Every test: formatting, the C++ suite (GoogleTest through ctest), then the
# Python package and its PyTorch parity tests (pytest) in a fresh virtualenv.
test: format-check test-cpp test-sanitizers test-fuzz test-python

test-cpp: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

# The C++ suite again under AddressSanitizer + UndefinedBehaviorSanitizer,
# and the threaded suites under ThreadSanitizer (the install check builds an
# uninstrumented consumer, so it runs in the plain build only).
SANITIZER_FLAGS := -DCMAKE_BUILD_TYPE=RelWithDebInfo -DADAPOOL_WERROR=ON
test-sanitizers: deps
	cmake -S . -B $(BUILD)-asan $(SANITIZER_FLAGS) -DADAPOOL_SANITIZE=address,undefined
	cmake --build $(BUILD)-asan -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir $(BUILD)-asan --output-on-failure -j$(JOBS) -E install_consumer
	cmake -S . -B $(BUILD)-tsan $(SANITIZER_FLAGS) -DADAPOOL_SANITIZE=thread \
	  -DADAPOOL_BUILD_TOOLS=OFF -DADAPOOL_BUILD_EXAMPLES=OFF
	cmake --build $(BUILD)-tsan -j$(JOBS) --target adapool_tests
	TSAN_OPTIONS=halt_on_error=1 ctest --test-dir $(BUILD)-tsan --output-on-failure -j$(JOBS) \
	  -R 'Determinism|Pooling|Targets|CApi'

# Fuzzing (issue 7): the libFuzzer targets of fuzz/, built with clang++ under
# ASan+UBSan in $(BUILD)-fuzz. Each starts from its seeds in fuzz/corpus/<target>
# (only read); what it learns goes to $(BUILD)-fuzz/corpus/<target>, crash
# inputs to $(BUILD)-fuzz/artifacts/. Reproduce one with
#   $(BUILD)-fuzz/fuzz/<target> $(BUILD)-fuzz/artifacts/crash-...
# `make test-fuzz`: FUZZ_RUNS inputs per target from a fresh corpus and a fixed
# seed, part of `make test`. `make fuzz`: FUZZ_SECONDS per target, keeping the
# corpus between runs, e.g. make fuzz FUZZ_SECONDS=600.
FUZZ_BUILD ?= $(BUILD)-fuzz
FUZZ_TARGETS := fuzz_npy fuzz_png fuzz_sizes fuzz_plan
FUZZ_RUNS ?= 20000
FUZZ_SECONDS ?= 60
FUZZ_ENV := ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
FUZZ_FLAGS := -max_len=4096 -timeout=10 -rss_limit_mb=2048 -artifact_prefix=$(FUZZ_BUILD)/artifacts/

.PHONY: fuzz fuzz-build test-fuzz

fuzz-build: deps
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
	  -DADAPOOL_SANITIZE=address,undefined -DADAPOOL_BUILD_FUZZERS=ON \
	  -DADAPOOL_BUILD_TESTS=OFF -DADAPOOL_BUILD_EXAMPLES=OFF -DADAPOOL_INSTALL=OFF
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzzers

test-fuzz: fuzz-build
	@mkdir -p $(FUZZ_BUILD)/artifacts
	@for target in $(FUZZ_TARGETS); do \
	  rm -rf $(FUZZ_BUILD)/test-corpus/$$target && mkdir -p $(FUZZ_BUILD)/test-corpus/$$target; \
	  echo "$$target: $(FUZZ_RUNS) runs"; \
	  $(FUZZ_ENV) $(FUZZ_BUILD)/fuzz/$$target $(FUZZ_FLAGS) -seed=1 -runs=$(FUZZ_RUNS) \
	    -print_final_stats=1 $(FUZZ_BUILD)/test-corpus/$$target fuzz/corpus/$$target \
	    2>$(FUZZ_BUILD)/$$target.log || { tail -n 60 $(FUZZ_BUILD)/$$target.log; exit 1; }; \
	  grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' $(FUZZ_BUILD)/$$target.log; \
	done

fuzz: fuzz-build
	@mkdir -p $(FUZZ_BUILD)/artifacts
	@for target in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$target; \
	  echo "$$target: $(FUZZ_SECONDS) s"; \
	  $(FUZZ_ENV) $(FUZZ_BUILD)/fuzz/$$target $(FUZZ_FLAGS) -max_total_time=$(FUZZ_SECONDS) \
	    -print_final_stats=1 $(FUZZ_BUILD)/corpus/$$target fuzz/corpus/$$target \
	    2>$(FUZZ_BUILD)/$$target.log || { tail -n 60 $(FUZZ_BUILD)/$$target.log; exit 1; }; \
	  grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' $(FUZZ_BUILD)/$$target.log; \
	done

test-python: python
	$(PYTHON) -m pytest -q test/python

# The virtual environment with the pinned test requirements.
$(VENV)/.requirements: python/requirements-test.txt | deps
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r python/requirements-test.txt
	touch $@

# `pip install .`, as a user would, whenever a source changed.
$(VENV)/.package: $(VENV)/.requirements $(PYTHON_SOURCES)
	$(VENV)/bin/pip install -q .
	touch $@

python: $(VENV)/.package

# The benchmark (issue 5): adapool against torch, side by side; never part of
# `make test`. Extra arguments: make bench BENCH_ARGS="--quick --filter pspnet".
BENCH_ARGS ?=
.PHONY: bench

$(VENV)/.bench-requirements: bench/requirements.txt $(VENV)/.requirements
	$(VENV)/bin/pip install -q -r bench/requirements.txt
	touch $@

bench: python $(VENV)/.bench-requirements
	$(PYTHON) bench/bench.py $(BENCH_ARGS)

# Writes its pictures (adapool_demo_*.png, .svg) into the repository root.
demo: build
	./$(BUILD)/tools/adapool demo

format: deps
	clang-format -i $(SOURCES)

format-check: deps
	clang-format --dry-run --Werror $(SOURCES)

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-tsan
