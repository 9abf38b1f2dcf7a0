# Two commands matter: `make demo` and `make test`. Both create .venv on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo scenarios test lint bench bench-districting bench-scale format clean chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/territory align --accounts data/demo/accounts.csv --reps data/demo/reps.csv \
		--out out/demo --seed 7 --time-limit 120
	$(BIN)/territory value --plan out/demo --seed 7
	$(BIN)/territory quota --plan out/demo --target 32500000 --method blend --over-assign -0.08 \
		--year 2027 --last-year-target 29500000 --comp data/demo/comp.toml
	$(BIN)/territory stress --plan out/demo --comp data/demo/comp.toml --sims 10000 --seed 7
	$(BIN)/territory payout --comp data/demo/comp.toml --attainment 1.15
	$(BIN)/territory check --plan out/demo --no-fail
	$(BIN)/territory report --plan out/demo
	$(BIN)/territory align --accounts data/demo/accounts.csv --reps data/demo/reps.csv \
		--units data/units/demo_zips.geojson --contiguity --soft --solver heuristic \
		--out out/demo-units --seed 7 --time-limit 120
	$(BIN)/territory report --plan out/demo-units
	$(BIN)/territory design --units data/units/demo_zips.geojson --accounts data/demo/accounts.csv \
		--reps data/demo/reps.csv --k 33 --max-load 1.1 --balance 0.10 --soft \
		--out out/demo-design --seed 7 --time-limit 300
	$(BIN)/territory report --plan out/demo-design

SCENARIOS := current balanced add_5_reps lose_3_reps keep_90pct_revenue lock_top_50

# The example what-ifs run in parallel, then side by side.
scenarios: $(STAMP)
	$(BIN)/territory sweep $(addprefix scenarios/,$(addsuffix .toml,$(SCENARIOS))) --out out/scenarios
	$(BIN)/territory compare $(addprefix out/scenarios/,$(SCENARIOS)) --out out/scenarios-compare

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Debian's headless Chromium renders report.html in tests/territory/test_report.py.
chromium:
	command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq chromium; }

test: $(STAMP) lint chromium
	$(BIN)/python -m pytest

# bench_value: fit, uplift and sizing errors of the sales-response model on known-truth worlds.
bench: $(STAMP)
	$(BIN)/python bench/bench_align.py
	$(BIN)/python bench/bench_stress.py
	$(BIN)/python bench/bench_value.py
	$(BIN)/python bench/bench_families.py --sizes 10000x100 --seeds 1,2 \
		--regions southeast,south_central,northeast,midwest --out out/bench/families_10k.csv

# Published districting optima (../shared/benchmarks): ours against theirs, with bounds and times.
bench-districting: $(STAMP)
	$(BIN)/python bench/bench_districting.py

# 100k/500 and 1M/2,000 seeded instances: time, peak memory, balance and gap to the bound.
bench-scale: $(STAMP)
	$(BIN)/python bench/bench_scale.py
	$(BIN)/python bench/bench_families.py --sizes 100000x500 --seeds 1,2 \
		--regions southeast,south_central --out out/bench/families_100k.csv

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf out build *.egg-info .pytest_cache .mypy_cache .ruff_cache
