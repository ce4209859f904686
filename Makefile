# Set-up and everyday commands; each target creates .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch is pinned here (a CPU build) before the package is installed, so that
# pip does not fetch a multi-gigabyte CUDA build to satisfy `torch>=2.3`.
TORCH_PIN := torch==2.13.0
# Keeps freed memory in the process instead of handing it back to the system
# and page-faulting it in again: Conv4 training ran 1.5x to 1.7x faster on a
# 2-core CPU (see benchmarks/fast_malloc.py).
FAST_MALLOC := GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=1099511627776

.PHONY: demo test docs bench clean

$(BIN)/activate: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_PIN)
	$(BIN)/python -m pip install --quiet -e ".[test,docs,rl,cluster]"
	touch $(BIN)/activate

demo: $(BIN)/activate
	$(FAST_MALLOC) $(BIN)/python docs/examples/omniglot_demo.py

test: $(BIN)/activate
	$(BIN)/python -m pytest

docs: $(BIN)/activate
	$(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html

bench: $(BIN)/activate
	$(BIN)/python benchmarks/omniglot.py --learner protonet
	$(BIN)/python benchmarks/speed.py

clean:
	rm -rf $(VENV) docs/_build docs/api/generated build *.egg-info
