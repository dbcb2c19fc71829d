# The two commands: `make demo` and `make test`. Every install step lives here,
# so a fresh Debian or Ubuntu machine needs nothing but git, make and python3.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
AIRTRAIL := $(VENV)/bin/airtrail
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the local stack and the tests run for real.
APT_PACKAGES := mosquitto mosquitto-clients influxdb victoria-metrics openssl chromium fonts-dejavu-core
APT_STAMP := .stamp-apt
PYTEST_ARGS ?=
# The suite mostly waits on real brokers, databases and MicroPython: two workers (each with its own
# stack, a test file kept on one worker for its module-wide fixtures) halve its time on two cores.
PYTEST_WORKERS ?= 2
PYTEST_PARALLEL := -n $(PYTEST_WORKERS) --dist loadfile

.PHONY: help setup demo test test-full bench lint-imports clean

help:
	@echo "make demo       set up, start the local stack and show the whole path from kit to database"
	@echo "make test       set up and run the test suite (real Mosquitto, InfluxDB, MicroPython)"
	@echo "make test-full  the same with the load and fault-injection scenarios at full size"
	@echo "make bench      run the benchmarks in benchmarks/"
	@echo "make clean      remove the virtual environment and node packages"

setup: $(APT_STAMP) $(VENV)/.stamp node_modules/.stamp

# apt packages, only those missing; sudo when not root. Node.js comes from
# Debian too unless the machine already has a node on PATH.
$(APT_STAMP): Makefile  # a package added here is installed on existing checkouts too
	@missing=""; for p in $(APT_PACKAGES) python3-venv; do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	command -v node >/dev/null || missing="$$missing nodejs"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null && missing="$${missing/ python3-venv/}"; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
	@touch $@

$(VENV)/.stamp: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

node_modules/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

demo: setup
	$(AIRTRAIL) demo

# The import layers (pyproject.toml [tool.importlinter]) are checked first:
# an import against them fails the build before any test runs.
lint-imports: setup
	$(VENV)/bin/lint-imports --no-cache

test: lint-imports
	$(PY) -m pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)

test-full: lint-imports
	AIRTRAIL_TEST_SCALE=full $(PY) -m pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)

bench: setup
	$(PY) benchmarks/ingest.py
	$(PY) benchmarks/firmware.py
	$(PY) benchmarks/gpx.py
	$(PY) benchmarks/walks.py

clean:
	rm -rf $(VENV) node_modules $(APT_STAMP)
