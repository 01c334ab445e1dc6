# Everything a fresh machine needs: `make test` and `make lab` set themselves up.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup setup-lab setup-browser dot test lab demo bench clean

setup: $(VENV)/.installed dot

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

setup-lab: setup $(VENV)/.installed-lab

$(VENV)/.installed-lab: pyproject.toml
	$(BIN)/python -m pip install -q -e ".[test,lab]"
	touch $@

# The browser smoke tests drive Debian's chromium through Playwright (never `playwright install`).
setup-browser: setup $(VENV)/.installed-browser

$(VENV)/.installed-browser: pyproject.toml .ci/browser-setup.sh
	PY=$(BIN)/python bash .ci/browser-setup.sh
	touch $@

# Graphviz's `dot` program renders the graphs; install it from Debian when it is missing.
dot:
	@command -v dot >/dev/null 2>&1 || { \
	  echo "installing graphviz (the dot program)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq graphviz >/dev/null; }

test: setup-browser
	$(BIN)/python -m pytest -q -p no:cacheprovider

lab: setup-lab
	$(BIN)/jupyter lab notebooks/ $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

demo: setup
	$(BIN)/python -m eagermagic.demo

bench: setup
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache *.egg-info
