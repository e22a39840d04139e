# gpulens — one entry point for people and CI.
#   make start   install, build the dashboard, serve it on http://127.0.0.1:5000
#   make test    install everything the tests need and run them all
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
FE := frontend
FE_STAMP := $(FE)/node_modules/.installed
FE_DIST := $(FE)/dist/index.html

.PHONY: help
help:
	@echo "make start      install, build and serve the dashboard on http://127.0.0.1:5000"
	@echo "make demo       same, with the recorded demo data (TELEMETRY_PROVIDER=replay)"
	@echo "make start-dev  backend with reload on :5000 + Vite dev server on :3000"
	@echo "make test       install and run every test (backend, frontend, browser, nginx, prometheus)"
	@echo "make lint       ruff, mypy --strict, eslint, tsc, hadolint, bundle budget, pre-commit config"
	@echo "make bench      benchmarks that run on this machine (see docs/benchmarks.md)"
	@echo "make hooks      install the pre-commit git hooks (the linters of make lint)"
	@echo "make dist       the sdist and the wheel (dashboard inside) in dist/, checked by twine"
	@echo "make lock       regenerate requirements.lock and requirements-dev.lock from pyproject.toml"

# --- installation ------------------------------------------------------------
# requirements-dev.lock holds every package, runtime ones included, pinned with
# hashes, so pip runs in hash-checking mode; the project itself has no hash and
# comes in a second step, without dependencies.
$(PY_STAMP): requirements.lock requirements-dev.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.lock
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	@touch $@

.PHONY: venv
venv: $(PY_STAMP)

# Both locks from pyproject.toml, with the hashes of every file PyPI lists for
# each pinned version (pip's hash-checking mode). Pins already in the locks are
# kept unless pyproject.toml rules them out; to upgrade one package, add
# UPGRADE="--upgrade-package NAME" (or "--upgrade" for all). The dev lock is
# constrained by the runtime one, so both agree on every shared version.
# uv is pinned in requirements-dev.lock; see docs/development.md.
UV_COMPILE = $(BIN)/uv pip compile --quiet --generate-hashes --python-version 3.11 \
	--python-platform x86_64-manylinux_2_28 --default-index https://pypi.org/simple \
	--custom-compile-command "make lock" $(UPGRADE)

.PHONY: lock
lock: venv
	$(UV_COMPILE) pyproject.toml -o requirements.lock
	$(UV_COMPILE) pyproject.toml --extra dev -c requirements.lock -o requirements-dev.lock

$(FE_STAMP): $(FE)/package.json $(FE)/package-lock.json
	@node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<19)) {console.error("Node >= 20.19 is needed"); process.exit(1)}'
	cd $(FE) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

.PHONY: frontend-deps
frontend-deps: $(FE_STAMP)

$(FE_DIST): $(FE_STAMP) $(shell find $(FE)/src $(FE)/public $(FE)/index.html -type f 2>/dev/null)
	cd $(FE) && npm run build

.PHONY: build
build: $(FE_DIST)

# --- running -----------------------------------------------------------------
.PHONY: start
start: venv build
	$(BIN)/gpulens serve

.PHONY: demo
demo: venv build
	TELEMETRY_PROVIDER=replay $(BIN)/gpulens serve

.PHONY: start-dev
start-dev: venv frontend-deps
	@trap 'kill 0' EXIT; \
	DEV_MODE=true $(BIN)/gpulens serve --reload & \
	(cd $(FE) && npm run dev) & \
	wait

# --- quality -----------------------------------------------------------------
.PHONY: lint lint-py lint-fe lint-deploy hooks
lint: lint-py lint-fe lint-deploy

# git hooks that run the same linters before each commit (.pre-commit-config.yaml)
hooks: venv frontend-deps
	$(BIN)/pre-commit install

lint-py: venv
	$(BIN)/ruff check src tests bench scripts hatch_build.py
	$(BIN)/ruff format --check src tests bench scripts hatch_build.py
	$(BIN)/mypy
	$(BIN)/pre-commit validate-config .pre-commit-config.yaml

lint-fe: frontend-deps
	cd $(FE) && npm run lint && npm run typecheck && npm run size

lint-deploy: venv
	scripts/lint-deploy.sh
	scripts/system-packages.sh promtool && promtool check rules deploy/prometheus/alerts.yml
	promtool check rules deploy/prometheus/fleet.rules.yml
	promtool check config deploy/prometheus/prometheus.yml

# --- tests -------------------------------------------------------------------
.PHONY: test test-py test-fe test-e2e test-wheel
test: lint test-py test-fe test-e2e test-wheel

test-py: venv
	scripts/system-packages.sh nginx promtool openssl systemd-analyze
	$(BIN)/pytest -q

test-fe: frontend-deps
	cd $(FE) && npm test

test-e2e: venv build
	scripts/system-packages.sh chromium prometheus  # the fleet spec scrapes a real lab
	cd $(FE) && npm run e2e

# The wheel as a user gets it (tests/integration/test_wheel.py): built again
# from the checkout and compared byte for byte with dist/ (reproducible, and the
# sdist builds the same wheel), installed into a fresh venv with no Node on
# PATH, served in replay: the dashboard at /, a stream on /ws/gpu.
test-wheel: dist
	$(BIN)/pytest -q -m wheel tests/integration/test_wheel.py

# --- packaging ---------------------------------------------------------------
# `python -m build` makes the sdist from the checkout (hatch_build.py builds the
# dashboard into it first), then the wheel from that sdist, as a package index
# or a distribution would. twine checks the metadata and that the README renders.
.PHONY: dist
dist: venv frontend-deps
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*

# --- benchmarks --------------------------------------------------------------
.PHONY: bench
bench: venv build
	scripts/system-packages.sh chromium
	$(BIN)/python bench/collector.py
	$(BIN)/python bench/fanout.py --clients 100,500,1000 --seconds 10
	$(BIN)/python bench/page.py --seconds 30
	$(BIN)/python bench/history.py

.PHONY: soak
soak: venv
	$(BIN)/python bench/soak.py --minutes 10 --clients 200

.PHONY: docker
docker:
	docker build -f deploy/docker/backend.Dockerfile -t gpulens .

.PHONY: clean
clean:
	rm -rf $(VENV) $(FE)/node_modules $(FE)/dist dist .pytest_cache .mypy_cache .ruff_cache
