# covertreex — every target creates/refreshes .venv itself (Python 3.11 + pip are all it needs).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP_CORE  := $(VENV)/.installed-core
STAMP_TEST  := $(VENV)/.installed-test
STAMP_LAB   := $(VENV)/.installed-lab
CHROMIUM    := /usr/bin/chromium
# apt needs root: use sudo when not root (and when sudo exists)
SUDO := $(shell [ "$$(id -u)" = 0 ] || command -v sudo)

.PHONY: demo test lab bench gpu-check clean clean-cache

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP_CORE): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[bench]"
	touch $@

$(STAMP_TEST): pyproject.toml | $(PY) $(CHROMIUM)
	$(PY) -m pip install --quiet -e ".[bench,dev,telemetry,notebook,sklearn,jax,dask]"
	touch $@ $(STAMP_CORE) $(STAMP_LAB)

$(STAMP_LAB): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[notebook]"
	touch $@

# Debian's chromium for the real-browser test (Playwright drives it; nothing is downloaded by playwright)
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

## demo: build a tree on a default workload, exact all-points k-NN, verified against brute force, vs peers
demo: $(STAMP_CORE)
	$(VENV)/bin/covertreex bench euclidean --n 131072 --dim 3 --k 10 --repeat 3 --peers all

## test: install with the test extras (+ chromium) and run tests/ and every notebook (nbval)
test: $(STAMP_TEST)
	$(PY) -m pytest -q

## lab: JupyterLab on the notebooks (offline; widgets and plotly work out of the box)
lab: $(STAMP_LAB)
	cd notebooks && ../$(VENV)/bin/jupyter lab

## bench: the issue's benchmark workloads (slower; writes JSON under artifacts/benchmarks/)
bench: $(STAMP_CORE)
	$(VENV)/bin/covertreex bench euclidean --n 131072 --dim 3 --k 10 --repeat 5 --peers all
	$(VENV)/bin/covertreex bench euclidean --n 32768 --dim 8 --k 10 --repeat 5 --peers all

## gpu-check: on a machine with an NVIDIA GPU, JAX for CUDA, the JAX engine's exactness tests on the device
## and its float64 GFLOP/s and queries/s beside the Numba CPU engine (refuses to run without a GPU)
gpu-check: $(STAMP_TEST)
	$(PY) -m pip install --quiet "jax[cuda12]"
	$(PY) -c "import jax, sys; d = jax.devices(); print(d); sys.exit(0 if d[0].platform == 'gpu' else 'no GPU: JAX sees ' + str(d))"
	$(PY) -m pytest -q tests/test_jax.py
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(VENV)/bin/covertreex bench residual --workload headline \
		--engines dense,jax --queries 1024 --repeat 3 --all-points predecessor --all-points-repeat 3 --peers none

## clean-cache: drop Numba's on-disk caches (needed after editing an inlined kernel helper)
clean-cache:
	find covertreex -name '*.nbi' -delete -o -name '*.nbc' -delete

clean: clean-cache
	rm -rf $(VENV) *.egg-info .pytest_cache .hypothesis
