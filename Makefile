# Set-up, demo and tests. Everything runs in ./.venv, created with pip (the machine's
# local torch wheels are found by pip only). The data store defaults to a per-user
# cache directory; set GRADER_DATA_DIR to put it elsewhere.
VENV     ?= .venv
PYTHON   ?= python3
PY       := $(VENV)/bin/python
GRADE    := $(VENV)/bin/grade
MIRROR   ?= ../shared/data
STAMP    := $(VENV)/.installed
PYTEST_WORKERS ?= 2

.PHONY: install data demo test test-fast validate bench bench-batch clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test,dask]'
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps d2l==1.0.3
	touch $(STAMP)

install: $(STAMP)

# Import the datasets from a local mirror when there is one, else download them.
data: $(STAMP)
	@if [ -d "$(MIRROR)" ]; then $(GRADE) data import "$(MIRROR)"; else $(GRADE) data fetch; fi

demo: data
	$(GRADE) examples/sample-submission.ipynb

validate: data
	$(GRADE) validate

# tests/layouts grades every exercise's solution (full marks) and stub (zero) in four
# layouts, so `grade validate` here only proves the homework's reference notebook.
# GRADER_TEMPLATE_IDLE=0: the kernel template leaves with the last test process.
test: export GRADER_TEMPLATE_IDLE = 0
test: data
	$(GRADE) assign --check
	$(PY) -m pytest -n $(PYTEST_WORKERS) --durations=15
	$(GRADE) validate d2l-ch2-5

test-fast: data
	$(PY) -m pytest -n $(PYTEST_WORKERS) -m "not slow"

bench: data
	$(PY) benchmarks/overhead.py

# Serial plain nbclient vs `grade batch --workers 2` on 20 submissions; ratio on the last line.
bench-batch: data
	$(PY) benchmarks/batch.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
