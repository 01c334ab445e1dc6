# Everything a fresh machine needs: `make test` and `make lab` set themselves up.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup setup-lab dot test lab demo bench clean

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

# Graphviz's `dot` program renders the graphs; install it from Debian when it is missing.
dot:
	@command -v dot >/dev/null 2>&1 || { \
	  echo "installing graphviz (the dot program)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq graphviz >/dev/null; }

test: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider

lab: setup-lab
	$(BIN)/jupyter lab notebooks/

demo: setup
	$(BIN)/python -m eagermagic.demo

bench: setup
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache *.egg-info
