# Anneal — `make run` sets up a fresh machine and trains on embedded data;
# `make test` sets up and runs every test. Both install what is missing.

SHELL := /bin/bash
SWIFT ?= swift
# The SIMD kernels need a target CPU with AVX2/FMA; without it SIMD FMA
# becomes library calls (~100x slower). A plain `swift build` still works.
CPUFLAGS := -Xswiftc -target-cpu -Xswiftc haswell
RELEASE := -c release $(CPUFLAGS)
ANNEAL_HOME ?= $(HOME)/.cache/anneal
export ANNEAL_HOME
APT_PACKAGES := libopenblas-dev liblapacke-dev pkg-config

.PHONY: all deps apt build run test test-noblas bench clean

all: build

## System packages (apt-get) when missing.
apt:
	@if ! dpkg -s $(APT_PACKAGES) >/dev/null 2>&1; then \
	  echo "installing $(APT_PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES); \
	fi

deps: apt

## Release build: .build/release/anneal with the benchmark CPU flags.
build: deps
	$(SWIFT) build $(RELEASE) --product anneal

run: build
	.build/release/anneal train

## All tests, optimised (debug builds run SIMD code ~100x slower), then the
## no-OpenBLAS build and its tests.
test: deps
	$(SWIFT) build $(RELEASE) --build-tests
	$(SWIFT) test $(RELEASE) --skip-build
	$(MAKE) test-noblas

## The package without OpenBLAS: builds, links no BLAS, passes the tests.
test-noblas:
	$(SWIFT) build $(RELEASE) --disable-default-traits --scratch-path .build-noblas --build-tests
	@bin=$$(find .build-noblas -name anneal -type f -perm -u+x | head -1); \
	  if ldd "$$bin" | grep -Ei 'openblas|lapack'; then echo "no-OpenBLAS build links BLAS: $$bin"; exit 1; fi; \
	  echo "no-OpenBLAS build: $$bin links no BLAS"
	$(SWIFT) test $(RELEASE) --disable-default-traits --scratch-path .build-noblas --skip-build

bench: build
	.build/release/anneal bench gemm

clean:
	rm -rf .build .build-noblas
