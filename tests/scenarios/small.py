"""The small scenario file and its input folder, shared by the scenario and sweep tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tests.commands import ROOT

COMP = ROOT / "data" / "demo" / "comp.toml"

SCENARIO = """
seed = 3
[inputs]
accounts = "data/accounts.csv"
reps = "data/reps.csv"
comp = "data/comp.toml"
[align]
time_limit_s = 20.0
[quota]
target = 10_000_000.0
over_assignment = 0.10
[stress]
sims = 200
"""
"""A whole pipeline in seconds: a 20 s alignment, 200 simulations; inputs in ``data/``."""


def write_inputs(folder: Path, accounts: pd.DataFrame, reps: pd.DataFrame) -> Path:
    """Write what :data:`SCENARIO` reads (accounts, reps, the demo comp plan) to ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    accounts.to_csv(folder / "accounts.csv", index=False)
    reps.to_csv(folder / "reps.csv", index=False)
    (folder / "comp.toml").write_bytes(COMP.read_bytes())
    return folder


VALUED = """
seed = 3
[inputs]
accounts = "data/accounts.csv"
reps = "data/reps.csv"
[align]
solver = "heuristic"
time_limit_s = 10.0
[value]
n_boot = 20
sims = 200
margin = 0.5
"""
"""Align quickly, no quotas (so no stress test), 20 bootstrap refits, a 50% margin."""
