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
