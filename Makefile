# Two commands do everything: `make run` (the whole system with demo data) and
# `make test` (the full suite). Both install what they need and are idempotent.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMPS := .stamps

.PHONY: run test lint format system-deps system-deps-test venv lock bench-ingest bench-portal clean

run: system-deps venv
	$(PY) -m devstack.run

test: system-deps-test venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: venv
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

system-deps:
	PYTHON=$(PYTHON) scripts/system-deps.sh run

system-deps-test:
	PYTHON=$(PYTHON) scripts/system-deps.sh test

venv: $(STAMPS)/venv

$(STAMPS)/venv: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	mkdir -p $(STAMPS) && touch $@

# Re-resolve the locked dependency sets from requirements*.in.
lock:
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv
	.lockvenv/bin/pip install --quiet -r requirements.in
	(echo '# Locked runtime dependencies, generated from requirements.in by `make lock`.'; \
	 .lockvenv/bin/pip freeze | sort -f) > requirements.txt
	.lockvenv/bin/pip install --quiet -r requirements-dev.in
	(echo '# Locked development and test dependencies (make lock). Runtime set: requirements.txt'; \
	 echo '-r requirements.txt'; .lockvenv/bin/pip freeze | sort -f | grep -vxFf requirements.txt) \
	 > requirements-dev.txt
	rm -rf .lockvenv

bench-ingest: system-deps-test venv
	$(PY) -m bench.ingest

bench-portal: system-deps-test venv
	$(PY) -m bench.portal

clean:
	rm -rf $(VENV) $(STAMPS) var test-artifacts .pytest_cache .ruff_cache
