# tiergate: `make demo` runs the product on its demo data, `make test` runs every test.
# Each step installs what it needs and skips what is already there.

CARGO ?= cargo
SHELL := /bin/bash

.PHONY: all setup build demo test lint fmt check-policy
.PHONY: wasm-target wasm-bindgen-cli node-setup browser-setup wasm clippy-wasm size typecheck
.PHONY: test-runtimes test-node test-browser test-workerd
.PHONY: worker-build-cli worker worker-production clippy-worker test-worker demo-cli fuzz-setup fuzz bench portal test-portal test-clock

all: build

setup:
	@command -v cargo >/dev/null || { echo "cargo is required (rustup)"; exit 1; }
	@rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
	@rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt

build: setup
	$(CARGO) build --release --locked -p tiergate-cli

# The CLI's report first, then the demo build of the edge worker on
# http://127.0.0.1:8787 (demo origin, demo login, local D1) until
# interrupted; `--env demo` serves it as built (see worker/wrangler.toml).
demo: build worker portal
	./target/release/tiergate demo
	@node worker/scripts/demo-users.mjs
	cd worker && WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false \
		../node_modules/.bin/wrangler dev --env demo --ip 127.0.0.1 --port 8787 --show-interactive-dev-session=false

demo-cli: build
	./target/release/tiergate demo

lint: setup
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	node scripts/lint-test-dates.mjs

check-policy: build
	./target/release/tiergate policy check crates/core/policy/default.json

test: lint
	$(CARGO) test --workspace --locked
	@$(MAKE) --no-print-directory test-runtimes

# --- WebAssembly: one engine in the browser, Node and workerd ----------------
# The wasm-bindgen CLI must be the exact version of the crate in Cargo.lock.
WASM_BINDGEN_VERSION := $(shell awk '$$0 == "name = \"wasm-bindgen\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
NODE_TEST := node --test

wasm-target: setup
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

wasm-bindgen-cli: setup
	@[ "$$(wasm-bindgen --version 2>/dev/null)" = "wasm-bindgen $(WASM_BINDGEN_VERSION)" ] || \
		$(CARGO) install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION)

# npm packages (binaryen's wasm-opt, typescript, playwright-core, miniflare),
# exactly as locked. Install scripts are not needed: workerd's binary comes
# from its platform package, and no browser is ever downloaded.
node_modules/.package-lock.json: package.json package-lock.json
	@command -v node >/dev/null && node -e 'if (+process.versions.node.split(".")[0] < 20) process.exit(1)' || \
		{ echo "Node.js 20 or later is required"; exit 1; }
	npm ci --ignore-scripts --no-audit --no-fund
	@touch $@

node-setup: node_modules/.package-lock.json

# Debian's Chromium, driven by playwright-core (never `npx playwright install`).
browser-setup:
	@[ -x $(CHROMIUM) ] || { export DEBIAN_FRONTEND=noninteractive; \
		$(SUDO) apt-get install -y chromium || { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; }; }

# pkg/web (browser, workerd) and pkg/node, size-tuned and run through wasm-opt.
wasm: wasm-target wasm-bindgen-cli node-setup
	node scripts/wasm-build.mjs

clippy-wasm: wasm-target
	$(CARGO) clippy --locked -p tiergate-wasm --target wasm32-unknown-unknown -- -D warnings

size: wasm
	node scripts/wasm-size.mjs

typecheck: wasm
	node_modules/.bin/tsc --noEmit -p crates/wasm/ts

# The native CLI (debug) is the other side of the native/wasm differential.
test-node: wasm
	$(CARGO) build --locked -p tiergate-cli
	$(NODE_TEST) tests/node/*.test.mjs

test-browser: wasm browser-setup
	CHROMIUM_PATH=$(CHROMIUM) $(NODE_TEST) tests/browser/*.test.mjs

test-workerd: wasm
	$(NODE_TEST) tests/workerd/*.test.mjs

test-runtimes: clippy-wasm size typecheck test-node test-browser test-workerd test-worker test-portal test-clock

# --- Edge worker (worker/, workers-rs) --------------------------------------
# Not a workspace member (it builds only for wasm32): its own Cargo.lock,
# linted here for wasm32. worker-build finds its tools through these
# variables (it would otherwise try to download them).
WORKER_BUILD_VERSION := 0.8.7
WORKER_ENV := WASM_BINDGEN_BIN="$$(command -v wasm-bindgen)" \
	WASM_OPT_BIN="$(CURDIR)/node_modules/binaryen/bin/wasm-opt" \
	ESBUILD_BIN="$(CURDIR)/node_modules/@esbuild/linux-x64/bin/esbuild"

worker-build-cli: setup
	@[ "$$(worker-build --version 2>/dev/null)" = "$(WORKER_BUILD_VERSION)" ] || \
		$(CARGO) install worker-build --version $(WORKER_BUILD_VERSION) --locked

# worker/build/index.js + index_bg.wasm (size-tuned, through wasm-opt): the
# demo build, which `make demo` and the tests run (it accepts the suites'
# clock, CLOCK_OFFSET_MS). `wrangler deploy` builds without the feature.
worker: wasm-target wasm-bindgen-cli worker-build-cli node-setup
	cd worker && $(WORKER_ENV) worker-build --release --features demo
	node scripts/preinit.mjs worker/build/index_bg.wasm --keep worker/target/preinit/index_bg.plain.wasm
	@node worker/scripts/size.mjs

# worker/build-production: the build `wrangler deploy` makes (no demo
# feature), for the tests of what production refuses.
worker-production: wasm-target wasm-bindgen-cli worker-build-cli node-setup
	cd worker && $(WORKER_ENV) worker-build --release -d build-production

# worker/public: www/ and pkg/web, served by the worker's assets binding.
portal: wasm
	node scripts/portal-build.mjs

clippy-worker: wasm-target
	cd worker && $(CARGO) fmt --check
	cd worker && $(CARGO) clippy --locked --target wasm32-unknown-unknown -- -D warnings
	cd worker && $(CARGO) clippy --locked --target wasm32-unknown-unknown --features demo -- -D warnings

# Integration: the built worker in workerd (Miniflare) against an origin
# on 127.0.0.1; pkg/node gives the expected redactions.
test-worker: clippy-worker worker-production worker wasm
	$(NODE_TEST) tests/worker/*.test.mjs

# The portals in Chromium against the built worker under `wrangler dev`
# on 127.0.0.1 (demo origin, local D1 in a temporary directory).
test-portal: worker portal browser-setup
	CHROMIUM_PATH=$(CHROMIUM) $(NODE_TEST) --test-concurrency=1 tests/portal/*.test.mjs

# Nothing may depend on the day the tests run: the edge's suites again with
# their clock (the worker's and the pages' too) a year and five years on.
CLOCK_YEARS_AHEAD := 1 5
test-clock: worker portal browser-setup
	@set -e; for y in $(CLOCK_YEARS_AHEAD); do \
		at=$$(date -u -d "+$$y year" +%Y-%m-%dT12:00:00Z); \
		echo "== the worker and portal suites at $$at"; \
		TIERGATE_TEST_NOW=$$at $(NODE_TEST) tests/worker/*.test.mjs; \
		TIERGATE_TEST_NOW=$$at CHROMIUM_PATH=$(CHROMIUM) $(NODE_TEST) --test-concurrency=1 tests/portal/*.test.mjs; \
	done

fmt:
	$(CARGO) fmt --all

# --- Fuzzing (cargo fuzz, nightly, libFuzzer) ---------------------------------
# Each target runs FUZZ_SECONDS from its committed seeds; new inputs go to
# target/fuzz-corpus, never into the repository.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := redact policy consent hl7v2 jwt
CARGO_FUZZ_VERSION := 0.13.2

fuzz-setup:
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@[ "$$(cargo fuzz --version 2>/dev/null)" = "cargo-fuzz $(CARGO_FUZZ_VERSION)" ] || \
		$(CARGO) install cargo-fuzz --version $(CARGO_FUZZ_VERSION) --locked

fuzz: fuzz-setup
	cd fuzz && cargo +nightly fuzz build
	@set -e; cd fuzz && for t in $(FUZZ_TARGETS); do \
		mkdir -p ../target/fuzz-corpus/$$t; \
		echo "fuzz $$t for $(FUZZ_SECONDS)s"; \
		cargo +nightly fuzz run $$t ../target/fuzz-corpus/$$t corpus/$$t -- -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1; \
	done

# Benchmarks (criterion) in their own workspace, then wasm in Node and
# workerd, then the edge under wrangler dev; each writes its table to
# bench/results/ (see bench/README.md).
bench: wasm worker
	$(CARGO) run --profile bench --locked --manifest-path bench/Cargo.toml --bin report
	node bench/node/startup.mjs --out bench/results/startup.md
	node bench/node/startup-workerd.mjs --append bench/results/startup.md
	node bench/node/startup-edge.mjs --append bench/results/startup.md
	node bench/node/throughput.mjs --out bench/results/wasm-node.md
	node bench/node/throughput-workerd.mjs --out bench/results/wasm-workerd.md
	node scripts/bench-edge.mjs
