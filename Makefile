# covertreex — every target creates/refreshes .venv itself (Python 3.11 + pip are all it needs).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP_CORE  := $(VENV)/.installed-core
STAMP_TEST  := $(VENV)/.installed-test

.PHONY: demo test bench clean clean-cache

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP_CORE): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[bench]"
	touch $@

$(STAMP_TEST): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[bench,dev,telemetry]"
	touch $@ $(STAMP_CORE)

## demo: build a tree on a default workload, exact all-points k-NN, verified against brute force, vs peers
demo: $(STAMP_CORE)
	$(VENV)/bin/covertreex bench euclidean --n 131072 --dim 3 --k 10 --repeat 3 --peers all

## test: install with the test extras and run the whole test suite
test: $(STAMP_TEST)
	$(PY) -m pytest -q tests

## bench: the issue's benchmark workloads (slower; writes JSON under artifacts/benchmarks/)
bench: $(STAMP_CORE)
	$(VENV)/bin/covertreex bench euclidean --n 131072 --dim 3 --k 10 --repeat 5 --peers all
	$(VENV)/bin/covertreex bench euclidean --n 32768 --dim 8 --k 10 --repeat 5 --peers all

## clean-cache: drop Numba's on-disk caches (needed after editing an inlined kernel helper)
clean-cache:
	find covertreex -name '*.nbi' -delete -o -name '*.nbc' -delete

clean: clean-cache
	rm -rf $(VENV) *.egg-info .pytest_cache .hypothesis
