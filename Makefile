# Fargate Autopilot. `make demo` and `make test` are all a fresh machine needs.
SHELL := /bin/bash
VENV  := .venv
PY    := python3
STAMP := $(VENV)/.installed
# The Lambda functions (binary name = function name).
FUNCTIONS := deployer task-watcher alarm-notifier off-hours

.PHONY: all venv build test demo lint fmt bench lambda clean

all: test

# The emulator (moto's server) in a venv of its own, pinned.
venv: $(STAMP)
$(STAMP): tools/requirements.txt tools/constraints.txt
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements.txt -c tools/constraints.txt
	touch $(STAMP)

# Release binaries of every function: what the end-to-end tests and the demo run.
build:
	cargo build --release --bins

# Ends with one plain line `tests: N passed, N failed` summing every test binary.
test: venv build
	mkdir -p target; set -o pipefail; cargo test --workspace 2>&1 | tee target/test-output.txt
	@awk '/^test result:/ { p += $$4; f += $$6 } END { printf "tests: %d passed, %d failed\n", p, f }' target/test-output.txt

demo: venv build
	cargo run --quiet --release -p integration-tests --bin demo

# Figures, not pass/fail: AWS calls and wall time per event against the emulator.
bench: venv
	cargo run --quiet --release -p integration-tests --bin bench

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

# Lambda zips for arm64 (Graviton), with cargo-lambda and zig from PyPI in the venv.
lambda: venv
	$(VENV)/bin/pip install --quiet --disable-pip-version-check cargo-lambda ziglang
	PATH="$(abspath $(VENV))/bin:$$PATH" cargo lambda build --release --arm64 --output-format zip $(addprefix -p ,$(FUNCTIONS))

clean:
	cargo clean
	rm -rf $(VENV)
