# Two entry points, each doing its own set-up on a fresh machine: `make demo`, `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
TORCH_CPU := torch==2.13.0

.PHONY: demo test install clean bench-cpu

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# Pinned CPU wheel first, so the `torch` requirement never pulls a CUDA build.
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q $(TORCH_CPU)
	$(PY) -m pip install -q -e ".[test,triton,sweep]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/statetrack demo

test: install
	TRITON_INTERPRET=1 $(PY) -m pytest -q -p no:cacheprovider tests

clean:
	rm -rf $(VENV) build src/*.egg-info
