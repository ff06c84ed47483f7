# Thin front for CMake. `make demo` and `make test` install missing Debian packages first.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
SEER_DATA ?= $(abspath ../shared)
MODEL ?= $(SEER_DATA)/models/stories260K

.PHONY: all setup build demo test test-fast asan bench clean

all: build

setup:
	@./scripts/setup.sh

build: setup
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DSEER_DATA_DIR=$(SEER_DATA) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

demo: build
	./$(BUILD)/seer info $(MODEL)/stories260K.bin
	./$(BUILD)/seer generate -m $(MODEL)/stories260K.bin -z $(MODEL)/tok512.bin -p "Once upon a time" -n 200 --seed 42
	@echo; echo "# where does the model decide on 'Lily'? logit lens, then attribution patching"
	./$(BUILD)/seer lens -m $(MODEL)/stories260K.bin -z $(MODEL)/tok512.bin -p "Once upon a time, there was a little girl named Lily. One day," --target Lily -k 3
	./$(BUILD)/seer attrib -m $(MODEL)/stories260K.bin -z $(MODEL)/tok512.bin \
	    --clean "Once upon a time, there was a little girl named Lily. One day," \
	    --corrupt "Once upon a time, there was a little boy named Timmy. One day," --tokens Lily Timmy --what resid_pre

test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

asan: setup
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEER_SANITIZE=ON -DSEER_DATA_DIR=$(SEER_DATA) >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j$(JOBS)

test: test-fast asan

bench: build
	@./scripts/setup.sh --bench
	./bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

# ---- hardening: fuzzing and static analysis ----
# `make fuzz SECONDS=N` builds the libFuzzer harnesses (fuzz/fuzz_*.c) with clang, ASan and
# UBSan into $(FUZZ_BUILD), writes seeds into fuzz/corpus/, runs each harness N seconds and
# prints a table; it fails when any harness finds a crash, leak or hang. FUZZ=name limits the run.
FUZZ_BUILD ?= build-fuzz
LINT_BUILD ?= build-lint
SECONDS ?= 60
FUZZ ?=

.PHONY: fuzz lint

fuzz: setup
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEER_FUZZ=ON -DSEER_DATA_DIR=$(SEER_DATA) >/dev/null
	@cmake --build $(FUZZ_BUILD) -j$(JOBS) --target seer_fuzz_all
	@./fuzz/run.sh $(FUZZ_BUILD) $(SECONDS) $(SEER_DATA) $(FUZZ)

# `make lint` runs clang-tidy (checks in .clang-tidy) and cppcheck over src/ with the compile
# commands CMake exports, and fails on any warning.
LINT_SRC = $(sort $(wildcard src/*/*.c))
lint: setup
	@command -v clang-tidy >/dev/null && command -v cppcheck >/dev/null || \
	  { echo "lint: needs clang-tidy and cppcheck (apt-get install clang-tidy cppcheck)" >&2; exit 1; }
	@cmake -S . -B $(LINT_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DSEER_DATA_DIR=$(SEER_DATA) >/dev/null
	@rc=0; \
	clang-tidy -p $(LINT_BUILD) --quiet $(LINT_SRC) > $(LINT_BUILD)/clang-tidy.log 2>/dev/null || rc=1; \
	n_tidy=$$(grep -cE '^[^ ].*:[0-9]+:[0-9]+: (warning|error): ' $(LINT_BUILD)/clang-tidy.log); \
	cppcheck --project=$(abspath $(LINT_BUILD))/compile_commands.json --file-filter='$(CURDIR)/src/*' -q \
	  --enable=warning,portability --inline-suppr --suppress=missingIncludeSystem \
	  --error-exitcode=1 --template='{file}:{line}: {severity}: {message} [{id}]' -j$(JOBS) \
	  2> $(LINT_BUILD)/cppcheck.log >/dev/null || rc=1; \
	n_cpp=$$(grep -cE '^[^ ].*:[0-9]+: (warning|error|portability|style|performance): ' $(LINT_BUILD)/cppcheck.log); \
	cat $(LINT_BUILD)/clang-tidy.log $(LINT_BUILD)/cppcheck.log | grep -v '^[0-9]* warnings\? generated'; \
	echo "lint: clang-tidy $$n_tidy warning(s), cppcheck $$n_cpp warning(s)"; \
	[ $$rc -eq 0 ] && [ $$n_tidy -eq 0 ] && [ $$n_cpp -eq 0 ]
