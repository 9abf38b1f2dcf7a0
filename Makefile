# Two commands matter: `make demo` and `make test`. Both create .venv on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench format clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/territory align --accounts data/demo/accounts.csv --reps data/demo/reps.csv \
		--out out/demo --seed 7 --time-limit 120
	$(BIN)/territory quota --plan out/demo --target 165000000 --method blend --over-assign 0.10 \
		--year 2027 --last-year-target 148000000
	$(BIN)/territory stress --plan out/demo --comp data/demo/comp.toml --sims 10000 --seed 7
	$(BIN)/territory payout --comp data/demo/comp.toml --attainment 1.15
	$(BIN)/territory check --plan out/demo --no-fail

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: $(STAMP) lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/bench_align.py
	$(BIN)/python bench/bench_stress.py

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf out build *.egg-info .pytest_cache .mypy_cache .ruff_cache
