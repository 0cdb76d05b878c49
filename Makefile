# The two commands a newcomer needs:
#   make run    set up .venv from requirements.lock, simulate the example cohort if missing, run the workflow
#   make test   set up .venv from requirements.lock, run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXAMPLE := resources/example_cohort
# Written after a complete install, so an interrupted install is redone on the next make.
INSTALLED := $(VENV)/.installed

.PHONY: run test lock

run: $(INSTALLED)
	@test -f $(EXAMPLE)/samples.tsv || $(BIN)/oncofactor simulate --out $(EXAMPLE)
	$(BIN)/oncofactor run

test: $(INSTALLED)
	$(BIN)/pytest

$(INSTALLED): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "oncofactor needs Python 3.11 or newer; set PYTHON=python3.11 (or newer)")'
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --editable .
	touch $(INSTALLED)

# For maintainers: re-resolve the pinned versions after changing dependencies in pyproject.toml.
lock:
	uv pip compile pyproject.toml --extra test --python-version 3.11 --python-platform x86_64-manylinux_2_28 --generate-hashes -o requirements.lock
