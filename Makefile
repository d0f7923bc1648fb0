# Two commands do all the set-up on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Extra arguments of `tally demo`, e.g. `make demo DEMO_ARGS="--no-ui --companies 1 --days 30"`.
DEMO_ARGS ?=

.PHONY: demo test lint bench browser clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tally demo $(DEMO_ARGS)

# Two test processes, each test going to whichever is free: most tests spend their time waiting on the servers,
# daemons and run workers they start, so a second process fills the time one spends waiting.
test: $(STAMP) browser
	$(BIN)/python -m pytest -q -n 2 --dist worksteal

# The headless browser test drives Debian's chromium through Playwright (no browser download). Install it when
# this machine allows (root or passwordless sudo, with apt-get); otherwise that one test skips and says why.
browser:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then :; \
	elif ! command -v apt-get >/dev/null 2>&1; then echo "no chromium and no apt-get: the browser test will skip"; \
	else \
		if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO=none; fi; \
		if [ "$$SUDO" = none ]; then echo "chromium is missing and cannot be installed without root: the browser test will skip"; \
		else echo "installing chromium for the headless browser test"; \
			$$SUDO apt-get install -y -qq chromium >/dev/null 2>&1 \
			|| { $$SUDO apt-get update -qq >/dev/null 2>&1 && $$SUDO apt-get install -y -qq chromium >/dev/null 2>&1; } \
			|| echo "could not install chromium: the browser test will skip"; \
		fi; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) .tally
