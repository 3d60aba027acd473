# ranvier: main environment (.venv, Python 3.11) and lava reference environment (.venv-lava,
# Python 3.10 with lava-nc 0.10.0 / lava-dl 0.6.0). Every install step lives here.
SHELL := /bin/bash
PY311 ?= $(shell PYENV_VERSION=3.11.7 pyenv which python3.11 2>/dev/null || command -v python3.11)
PY310 ?= $(shell PYENV_VERSION=3.10.13 pyenv which python3.10 2>/dev/null || command -v python3.10)
VENV := .venv
LAVA := .venv-lava
FUSED := train/fused/build/stamp.json
PYTEST_ARGS ?=
# The CPU build of torch installs from PyPI in seconds; other pins pull GBs of CUDA wheels.
TORCH_VERSION := 2.13.0

.PHONY: install reference test fast equivalence lint bench demo example clean bench-peers

install: $(VENV)/.installed $(FUSED)

# NeuroBench 2.3.0 is installed for the test that its metrics equal ranvier's. Its declared
# requirements pull torchaudio (a second torch build), tonic and numba, which neurobench.metrics
# never imports; it needs snntorch and tqdm. So: those two, then neurobench without its deps.
$(VENV)/.installed: pyproject.toml Makefile
	@test -n "$(PY311)" || { echo "Python 3.11 not found (pyenv install 3.11)"; exit 1; }
	test -x $(VENV)/bin/python || $(PY311) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q torch==$(TORCH_VERSION)
	$(VENV)/bin/python -m pip install -q -e '.[test,train]'
	$(VENV)/bin/python -m pip install -q snntorch==1.0.0 tqdm
	$(VENV)/bin/python -m pip install -q --no-deps neurobench==2.3.0
	touch $@

# The fused neuron kernels (train/fused): a torch C++ extension, built by ninja and g++ into
# train/fused/build/ (git-ignored), rebuilt when a source changes; training falls back to the
# torch loop where it is missing or stale.
$(FUSED): $(VENV)/.installed train/fused/neurons.cpp train/fused/kernels.h train/fused/__init__.py train/fused/build.py
	$(VENV)/bin/python -m pip install -q ninja
	$(VENV)/bin/python -m ranvier.train.fused.build

# The reference environment: real lava-nc/lava-dl (they need Python 3.10, numpy < 2 and pull
# their own torch), with ranvier installed into it so the equivalence suite can run both.
reference: $(LAVA)/.installed

$(LAVA)/.installed: pyproject.toml
	@test -n "$(PY310)" || { echo "Python 3.10 not found (pyenv install 3.10)"; exit 1; }
	test -x $(LAVA)/bin/python || $(PY310) -m venv $(LAVA)
	$(LAVA)/bin/python -m pip install -q --upgrade pip
	$(LAVA)/bin/python -m pip install -q lava-nc==0.10.0 lava-dl==0.6.0
	$(LAVA)/bin/python -m pip install -q -e '.[test]'
	$(LAVA)/bin/python -c "import lava.lib.dl.netx, ranvier.hw_models; print('lava reference environment ready')"
	touch $@

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Fast suite, then the lava equivalence suite whenever .venv-lava exists.
test: install lint
	$(VENV)/bin/python -m pytest -q --ignore=tests/equivalence $(PYTEST_ARGS)
	@if [ -f $(LAVA)/.installed ]; then \
		$(MAKE) --no-print-directory equivalence; \
	else \
		echo "SKIPPED: lava equivalence suite (no .venv-lava; run 'make reference' first)"; \
	fi

fast: install
	$(VENV)/bin/python -m pytest -q --ignore=tests/equivalence $(PYTEST_ARGS)

equivalence: reference
	$(LAVA)/bin/python -m pytest -q -m equivalence tests/equivalence -p no:cacheprovider $(PYTEST_ARGS)

bench: install reference
	$(VENV)/bin/python bench/sim_throughput.py

# The main job: train the demo preset (AdLIF+ with learned per-synapse delays, on the built-in
# task) in a few minutes on 2 CPU cores, export it, verify it spike for spike, then run the
# exported file on the simulator with its labels and write the energy report.
DEMO := runs/demo
demo: install
	rm -rf $(DEMO) reports/demo
	$(VENV)/bin/ranvier train --preset demo --out $(DEMO)
	$(VENV)/bin/ranvier inspect $(DEMO)/model.net
	$(VENV)/bin/ranvier run $(DEMO)/model.net --input $(DEMO)/test_input.npy --labels $(DEMO)/test_labels.npy --report reports/demo

# Regenerate the shipped example with the tests' generator.
example: install
	$(VENV)/bin/python examples/make_example.py

clean:
	rm -rf $(VENV) $(LAVA) build train/fused/build *.egg-info .pytest_cache .ruff_cache

# The peers bench/train_throughput.py times ranvier against: DCLS (Hammouamri et al.'s learned
# delays) and SpikingJelly 0.0.0.0.14 (the version their SNN-delays code used; 2.0 needs more),
# without their dependencies so that no second torch is pulled in.
bench-peers: install
	$(VENV)/bin/python -m pip install -q --no-deps dcls==0.1.1 spikingjelly==0.0.0.0.14
	$(VENV)/bin/python -c "import DCLS.construct.modules, spikingjelly.activation_based.neuron; print('bench peers ready')"
