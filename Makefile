# Set-up-and-go targets for a fresh machine (Python 3.11 with venv and pip).
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup run test test-fast bench clean

setup: $(VENV)/.installed

# ngspice from Debian (circuits/ runs `ngspice -b`); needs root, as on the CI machines
NGSPICE := $(shell command -v ngspice)

$(VENV)/.installed: pyproject.toml
ifeq ($(NGSPICE),)
	apt-get install -y -qq ngspice libngspice0 || (apt-get update -qq && apt-get install -y -qq ngspice libngspice0)
endif
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $@

# The main job on its built-in default: DEEP on XOR, default config, 10 seeds.
run: setup
	$(VENV)/bin/deepxbar train --task xor

# The whole suite, slow tests included (CI runs exactly this).
test: setup
	$(PY) -m pytest

test-fast: setup
	$(PY) -m pytest -m "not slow"

bench: setup
	$(PY) benchmarks/speed.py

clean:
	rm -rf $(VENV) runs .pytest_cache

# Optional, by hand only: an ngspice with the KLU solver, built once into a cache folder
# (/opt/deepxbar/ngspice-klu; NGSPICE_KLU_PREFIX to change); the default setup keeps Debian's.
.PHONY: ngspice-klu
ngspice-klu:
	bash tools/ngspice-klu.sh
