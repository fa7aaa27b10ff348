# Two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
WORKERS ?= 3
# pytest-xdist workers for `make test` (0: one process); each has its own database
PYTEST_WORKERS ?= 2
export FLASK_APP := registry:create_app

.PHONY: run test security bandit install install-test migrate-check browser-deps clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

$(VENV)/.installed-bench: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@ $(VENV)/.installed-test $(VENV)/.installed

run: install
	$(BIN)/flask db upgrade
	$(BIN)/flask setup
	-$(BIN)/flask audit checkpoint  # seals the trail's head (says so, and goes on, if the chain is broken)
	@echo "帮扶力量登记系统: http://127.0.0.1:$(PORT)/  (demo accounts: instance/demo-accounts.txt)"
	@# the job worker runs large imports and exports beside the web workers, and the
	@# notification worker sends the queued e-mails (nothing while no SMTP host is set);
	@# both stop with them
	$(BIN)/flask jobs work & worker=$$!; \
	$(BIN)/flask notify deliver --loop & mailer=$$!; \
	trap 'kill $$worker $$mailer 2>/dev/null' EXIT INT TERM; \
	$(BIN)/gunicorn --workers $(WORKERS) --bind 127.0.0.1:$(PORT) --access-logfile - 'registry:create_app()'

# Bytecode caches are kept even where PYTHONDONTWRITEBYTECODE is set: every pytest worker
# (and every server a test starts) would otherwise compile the app and rewrite the test
# modules' asserts anew, a few seconds of CPU each time.
test: install-test security
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# Security lint of registry/ before the tests: ruff's S rules (bandit's checks reimplemented,
# ~0.05 s against bandit's ~3.5 s). No finding may stand: fix it, or mark a false positive
# `# noqa: SXXX  # nosec BXXX` with the reason in a comment above the line.
security: install-test
	$(BIN)/ruff check --quiet --no-cache --select S registry

# bandit itself, medium and high findings (the same markers keep it at zero)
bandit: install-test
	$(BIN)/python -m bandit -r registry -ll -q

# Province scale (bench/province_bench.py): builds the dataset and prints one table for
# SQLite and, with DATABASE_URL naming a PostgreSQL database (emptied first), the same
# figures for PostgreSQL beside it. BENCH_ARGS=--small: 2,400 villages and few requests
# (what CI runs); BENCH_SCALE=0.25: a quarter of the province. wrk is a Debian package:
# installed here when missing (as root); without it a Python load generator measures,
# and the table says so.
bench: $(VENV)/.installed-bench
	@command -v wrk >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1 \
		|| echo "== wrk could not be installed: throughput by the Python load generator"
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python bench/province_bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
