# tiergate: `make demo` runs the product on its demo data, `make test` runs every test.
# Each step installs what it needs and skips what is already there.

CARGO ?= cargo
SHELL := /bin/bash

.PHONY: all setup build demo test lint fmt check-policy

all: build

setup:
	@command -v cargo >/dev/null || { echo "cargo is required (rustup)"; exit 1; }
	@rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
	@rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt

build: setup
	$(CARGO) build --release --locked -p tiergate-cli

demo: build
	./target/release/tiergate demo

lint: setup
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

check-policy: build
	./target/release/tiergate policy check crates/core/policy/default.json

test: lint
	$(CARGO) test --workspace --locked

fmt:
	$(CARGO) fmt --all
