# Permanence Pathways: `make run` and `make test` are the two commands (see README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test lint typecheck pytest test-postgres install db bench bench-smoke diagrams clean browser-deps css js

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# Front-end packages (bpmn-js) from the lock file.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

# The stylesheet: GOV.UK Frontend and MoJ Frontend built from their Sass with the service's settings (Arial).
CSS := web/static/build/pathways.css
$(CSS): web/scss/app.scss package-lock.json node_modules/.package-lock.json
	mkdir -p $(dir $(CSS))
	node_modules/.bin/sass --load-path=. --quiet --style=compressed --no-source-map web/scss/app.scss $(CSS)

css: $(CSS)

# The modeller: bpmn-js, the properties panel, element templates and bpmnlint, bundled by esbuild (npm).
JS := web/static/build/modeller-bundle.js
LINT_CONFIG := web/static/build/bpmnlint-config.mjs
$(LINT_CONFIG): .bpmnlintrc node_modules/.package-lock.json
	mkdir -p $(dir $(LINT_CONFIG))
	node_modules/.bin/bpmnlint-pack-config -c .bpmnlintrc -o $(LINT_CONFIG) -t es
$(JS): web/js/modeller-bundle.js $(LINT_CONFIG) package-lock.json node_modules/.package-lock.json
	node_modules/.bin/esbuild web/js/modeller-bundle.js --bundle --minify --format=iife --log-level=warning \
	  --outfile=$(JS)

js: $(JS)

db: install
	$(BIN)/pathways db upgrade
	$(BIN)/pathways workflows load workflows
	$(BIN)/pathways demo

# Web app on http://$(HOST):$(PORT) in the foreground; the worker beside it, stopped with it.
run: db node_modules/.package-lock.json $(CSS) $(JS)
	@echo "Permanence Pathways: http://$(HOST):$(PORT)  (Ctrl-C stops the web app and the worker)"
	@export ALLOW_LOCAL_SUBSCRIPTIONS=$${ALLOW_LOCAL_SUBSCRIPTIONS:-1}; \
	$(BIN)/pathways worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/pathways serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy engine

# Browser tests need GOV.UK Frontend and bpmn-js (npm) and Debian's Chromium (never a downloaded browser).
browser-deps: node_modules/.package-lock.json
	@command -v chromium >/dev/null || { \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's chromium for the browser tests"; \
	    (apt-get install -y -q chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium >/dev/null)); \
	  else echo "The browser tests need Debian's chromium: sudo apt-get install chromium" && exit 2; fi; }

pytest: install browser-deps $(CSS) $(JS)
	$(BIN)/python -m pytest

test: lint typecheck pytest

# The same suite against PostgreSQL (TEST_DATABASE_URL must point at a reachable server).
test-postgres: install browser-deps $(CSS) $(JS)
	@test -n "$(TEST_DATABASE_URL)" || (echo "set TEST_DATABASE_URL=postgresql://user@host:5432/db" && exit 2)
	$(BIN)/python -m pytest

# Pictures of every diagram in workflows/ (bpmn-js in Debian's headless Chromium) into docs/diagrams/.
diagrams: install node_modules/.package-lock.json
	@command -v chromium >/dev/null || (echo "needs Debian's chromium: apt-get install chromium" && exit 2)
	$(BIN)/python tools/render_diagrams.py

bench: install
	$(BIN)/python bench/engine_bench.py

clean:
	rm -rf $(VENV) node_modules var test-artifacts .pytest_cache .ruff_cache .mypy_cache .hypothesis

# Every benchmark at a small size (CI runs this so none can rot); the README has the full-size figures.
bench-smoke: install
	for bench in engine worker inbox tracker webhook reliability manager; do \
		$(BIN)/python bench/$${bench}_bench.py --quick || exit 1; done
