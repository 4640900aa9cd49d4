# Outreach: `make run` to try it, `make test` to check it. See README.md.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app wsgi
HOST   ?= 127.0.0.1
PORT   ?= 5000
PYTEST_WORKERS ?= 2

.PHONY: run setup test lint format bench bench-sink clean install install-dev db-upgrade worker scheduler \
	translations translations-extract bench-scale bench-web bench-wrk browser-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## Set up the development database (SQLite in instance/ unless DATABASE_URL says otherwise).
setup: install translations
	$(FLASK) db upgrade
	$(FLASK) calendar load
	PUBLIC_BASE_URL=$${PUBLIC_BASE_URL:-http://$(HOST):$(PORT)} $(FLASK) demo load

## Run the app with demo data and the development mail catcher (http://127.0.0.1:5000).
run: setup
	HOST=$(HOST) PORT=$(PORT) FLASK="$(FLASK)" scripts/run-dev.sh

## One delivery worker on its own (sends queued messages; Ctrl-C finishes the current one).
worker: install
	$(FLASK) delivery worker

## The scheduler on its own (starts due campaigns, recovers stalled work; one leader at a time).
scheduler: install
	$(FLASK) scheduler

## Compile the French and Spanish catalogues (outreach/translations/*/LC_MESSAGES/messages.mo).
translations: install
	$(BIN)/pybabel compile -d outreach/translations

## Collect the strings of the public pages and emails, and merge them into the .po files.
translations-extract: install
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k _l --no-location --sort-output --width=100 \
		-o outreach/translations/messages.pot .
	$(BIN)/pybabel update -i outreach/translations/messages.pot -d outreach/translations \
		--ignore-obsolete --width=100

db-upgrade: install
	$(FLASK) db upgrade

lint: install-dev
	$(BIN)/ruff check .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Lint, then the whole suite on SQLite and (when it answers on 127.0.0.1:5432) PostgreSQL.
test: lint translations browser-deps
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -q

## Import, segments and delivery benchmarks (figures in docs/benchmarks.md). The delivery one takes
## a few minutes, more with its 100,000-recipient memory run.
bench: install-dev bench-sink
	$(BIN)/python bench/import_contacts.py
	$(BIN)/python bench/segments.py
	status=0; $(BIN)/python bench/delivery.py || status=1; \
		$(BIN)/python bench/delivery.py --large || status=1; exit $$status

## Postfix's smtp-sink for bench/delivery.py (Debian, as root); without it the bench uses aiosmtpd.
bench-sink:
	@test -x /usr/sbin/smtp-sink || DEBIAN_FRONTEND=noninteractive apt-get install -y postfix \
		|| echo "No smtp-sink: bench/delivery.py falls back to an aiosmtpd sink."

## Scale-out on PostgreSQL: 1, 2, 4 workers, a killed worker and scheduler (docs/benchmarks.md).
## RECIPIENTS=20000 for a quicker run.
bench-scale: install-dev bench-sink
	$(BIN)/python bench/scale.py $(if $(RECIPIENTS),--recipients $(RECIPIENTS))

## Public pages under wrk against gunicorn (2 workers) on PostgreSQL (docs/benchmarks.md).
bench-web: install-dev bench-wrk
	$(BIN)/python bench/web.py

## wrk for bench/web.py (Debian, as root).
bench-wrk:
	@command -v wrk >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y wrk
## The browser tests' needs: Debian's Chromium (as root, or with sudo) and axe-core from npm.
browser-deps: tests/browser/node_modules/axe-core/axe.min.js
	@test -x /usr/bin/chromium || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver; }

tests/browser/node_modules/axe-core/axe.min.js: tests/browser/package.json tests/browser/package-lock.json
	npm ci --prefix tests/browser --no-audit --no-fund
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
