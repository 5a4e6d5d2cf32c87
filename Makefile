# Two commands do everything: `make run` (the whole system with demo data) and
# `make test` (the full suite). Both install what they need and are idempotent.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMPS := .stamps

.PHONY: run test lint format system-deps system-deps-test venv assets translations messages lock bench-ingest bench-portal bench-mix profile-pages bench-export bench-detect bench-health clean

run: system-deps venv assets translations
	$(PY) -m devstack.run

test: system-deps-test venv assets translations
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -m pytest

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

format: venv
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

system-deps:
	PYTHON=$(PYTHON) scripts/system-deps.sh run

system-deps-test:
	PYTHON=$(PYTHON) scripts/system-deps.sh test

venv: $(STAMPS)/venv

$(STAMPS)/venv: requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .   # console scripts: portal, portal-ingest, portal-worker
	mkdir -p $(STAMPS) && touch $@

# Front-end libraries come from the npm registry (package-lock.json) and are served from
# static/vendor; nothing is fetched from a CDN at run time.
VENDOR := static/vendor
assets: $(VENDOR)/.installed

$(VENDOR)/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	mkdir -p $(VENDOR)
	cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css $(VENDOR)/
	cp node_modules/socket.io-client/dist/socket.io.min.js $(VENDOR)/
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css $(VENDOR)/
	touch $@

# Compile the message catalogues (translations/*/LC_MESSAGES/messages.po -> .mo).
translations: venv
	$(VENV)/bin/pybabel -q compile -d translations

# Extract new strings and merge them into the catalogues (then translate the .po files).
messages: venv
	$(VENV)/bin/pybabel -q extract -F babel.cfg -k lazy_gettext -o translations/messages.pot .
	$(VENV)/bin/pybabel -q update -i translations/messages.pot -d translations --no-fuzzy-matching

# Re-resolve the locked dependency sets from requirements*.in with pip-tools, every file
# pinned with its hashes (pip then installs with --require-hashes implied). The dev set is
# constrained to the runtime set, so both agree on every shared package.
lock:
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv
	.lockvenv/bin/pip install --quiet pip-tools
	.lockvenv/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-header --no-emit-index-url --no-emit-find-links \
	  --output-file requirements.txt requirements.in
	.lockvenv/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-header --no-emit-index-url --no-emit-find-links \
	  --output-file requirements-dev.txt requirements-dev.in
	rm -rf .lockvenv

bench-ingest: system-deps-test venv
	$(PY) -m bench.ingest

bench-portal: system-deps-test venv assets translations
	$(PY) -m bench.portal

# Data export memory (RSS) by period: 500 units at one reading per 10 s, periods of 1, 3 and 7 days by
# default (``make bench-export ARGS="--days 30"`` for the month: about 130 million readings).
bench-export: system-deps-test venv
	$(PY) -m bench.export $(ARGS)

bench-mix: system-deps-test venv assets translations
	$(PY) -m bench.mix

# Each page of the mix timed in one process without load, and a pyinstrument profile of one:
# make profile-pages ARGS="--profile vendor_staff:/satisfaction --out profile.txt"
profile-pages: system-deps-test venv assets translations
	$(PY) -m bench.profile_pages $(ARGS)

# Early warning against the simulator's ground truth: 300 units over 60 days (seed 1); ARGS="--seed 2".
bench-detect: system-deps-test venv
	$(PY) -m bench.detect $(ARGS)

# Relationship health against known coefficients: two generated years of 80 customers (seed 1); ARGS="--seed 2".
bench-health: venv
	$(PY) -m bench.health $(ARGS)

clean:
	rm -rf $(VENV) $(STAMPS) $(VENDOR) node_modules var test-artifacts .pytest_cache .ruff_cache
