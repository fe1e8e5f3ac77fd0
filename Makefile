# The commands a newcomer uses. `make` builds (Release) build/bin/r1; `make test` builds and runs every test.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CTEST_ARGS ?=

.PHONY: all deps build test run asan fuzz clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# Slow, large or GPU checks carry the CTest label "slow" or "gpu" and run only when asked:
#   make test CTEST_ARGS="-L slow"
test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) -LE "slow|gpu" $(CTEST_ARGS)

# The main job on the bundled model (models/README.md): its reasoning streams first, then the answer.
MODEL ?= models/r1-mini-qwen2-F16.gguf
PROMPT ?= What is 4821 + 3907?
run: build
	@$(BUILD_DIR)/bin/r1 run $(MODEL) "$(PROMPT)"

# AddressSanitizer + UndefinedBehaviorSanitizer build and tests (Debug).
asan: deps
	@cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DR1_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ctest --output-on-failure -j $(JOBS) -LE "slow|gpu" $(CTEST_ARGS)

# libFuzzer targets (clang): build-fuzz/bin/fuzz_gguf, fuzz_safetensors, fuzz_tokenizer, fuzz_template; see docs/FUZZING.md.
fuzz: deps
	@cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
	  -DCMAKE_CXX_COMPILER=clang++ -DR1_FUZZ=ON -DR1_BUILD_TESTS=OFF >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target fuzz_gguf fuzz_safetensors fuzz_tokenizer fuzz_template

clean:
	rm -rf $(BUILD_DIR) build-asan build-fuzz
