"""One fit per history and settings in a process: sweeps and sizing reuse it.

The fit is seeded, so reusing it changes no number; these tests count the fits.
"""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pandas as pd
import pytest

from territory.pipeline import value_commands
from territory.pipeline.value_commands import cached_fit, fit_key
from tests.response_worlds import make_world


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> mock.Mock:
    """Spy on ``fit_model`` behind :func:`cached_fit`, on an empty cache."""
    spy = mock.Mock(wraps=value_commands.fit_model)
    monkeypatch.setattr(value_commands, "fit_model", spy)
    monkeypatch.setattr(value_commands, "_FITTED", {})
    return spy


def test_the_same_history_is_fitted_once(counted: mock.Mock, tmp_path: Path) -> None:
    world = make_world("adbudg", seed=4, n_accounts=300, n_reps=14)
    key = fit_key(world.accounts, world.reps, literature_defaults=False, n_boot=5, seed=1)
    first = cached_fit(world.accounts, world.reps, key)
    # The same values read back from a file (another dtype, another object): the same fit.
    world.accounts.to_csv(tmp_path / "a.csv", index=False)
    again = pd.read_csv(tmp_path / "a.csv")
    same = fit_key(again, world.reps, literature_defaults=False, n_boot=5, seed=1)
    assert same == key
    assert cached_fit(again, world.reps, same) is first
    assert counted.call_count == 1
    other = fit_key(world.accounts, world.reps, literature_defaults=False, n_boot=5, seed=2)
    assert cached_fit(world.accounts, world.reps, other) is not first
    assert counted.call_count == 2


def test_sizing_twice_fits_once(counted: mock.Mock, tmp_path: Path) -> None:
    from scenarios.sizing import size_command

    world = make_world("adbudg", seed=4, n_accounts=300, n_reps=14)
    world.accounts.to_csv(tmp_path / "accounts.csv", index=False)
    world.reps.to_csv(tmp_path / "reps.csv", index=False)
    runs = [
        size_command(
            tmp_path / "accounts.csv",
            tmp_path / "reps.csv",
            tmp_path / name,
            target=12_000_000.0,
            min_reps=12,
            max_reps=16,
            step=4,
            n_boot=5,
            sims=100,
            time_limit=5.0,
        )  # fmt: skip
        for name in ("one", "two")
    ]
    assert counted.call_count == 1
    assert runs[0].model is runs[1].model
    assert (tmp_path / "one" / "sizing.csv").read_bytes() == (
        tmp_path / "two" / "sizing.csv"
    ).read_bytes()
