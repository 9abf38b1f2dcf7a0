"""The memory estimate made before the candidate pairs exist: exit 2 with what would fit.

The machine's memory is injected (a number, or a patched reader), so the rule is tested on
tiny instances without allocating anything large.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

import territory.workflow.align as api
from cli import EXIT_BAD_INPUT, app
from territory.domain.synthetic import make_instance
from territory.errors import ResourceLimitError, UsageError
from territory.workflow import resources
from territory.workflow.align import pair_memory
from territory.workflow.api import align
from territory.workflow.resources import (
    DECOMPOSED_BYTES_PER_PAIR,
    DIRECT_BYTES_PER_PAIR,
    PRICED_PAIR_BYTES,
    available_memory_bytes,
    check_pair_memory,
    estimate_pair_memory,
)

runner = CliRunner()
MIB = 1024**2


class TestAvailableMemory:
    def test_reads_mem_available_from_meminfo(self, tmp_path: Path) -> None:
        meminfo = tmp_path / "meminfo"
        meminfo.write_text(
            "MemTotal:       32000000 kB\nMemFree:         1000000 kB\n"
            "MemAvailable:   23196104 kB\nBuffers:          100 kB\n",
            encoding="ascii",
        )
        assert available_memory_bytes(meminfo) == 23196104 * 1024

    def test_falls_back_to_free_physical_pages(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Fixed page counts: the machine's free pages move between two reads on a busy machine.
        pages = {"SC_AVPHYS_PAGES": 1000, "SC_PAGE_SIZE": 4096}
        monkeypatch.setattr("territory.workflow.resources.os.sysconf", pages.__getitem__)
        assert available_memory_bytes(tmp_path / "no-such-file") == 1000 * 4096
        garbled = tmp_path / "garbled"
        garbled.write_text("MemAvailable: lots\n", encoding="ascii")
        assert available_memory_bytes(garbled) == 1000 * 4096
        pages["SC_AVPHYS_PAGES"] = -1  # unknown to the system
        assert available_memory_bytes(garbled) is None


class TestEstimate:
    def test_bytes_follow_accounts_times_candidates(self) -> None:
        direct = estimate_pair_memory(1000, 50, 8)
        assert direct.needed == 1000 * 8 * DIRECT_BYTES_PER_PAIR
        split = estimate_pair_memory(1000, 50, 8, decomposed=True)
        assert split.needed == 1000 * 8 * DECOMPOSED_BYTES_PER_PAIR
        # Candidates beyond the number of reps add nothing: the model never holds more.
        assert estimate_pair_memory(1000, 5, 500).needed == estimate_pair_memory(1000, 5, 5).needed

    def test_pricing_chunks_are_capped_by_the_pairs_that_exist(self) -> None:
        small = estimate_pair_memory(100, 10, 4, pricing_chunk_pairs=4_000_000, pricing_threads=2)
        assert small.pricing == 100 * 10 * PRICED_PAIR_BYTES * 2
        big = estimate_pair_memory(10**6, 2000, 8, pricing_chunk_pairs=4_000_000, pricing_threads=2)
        assert big.pricing == 4_000_000 * PRICED_PAIR_BYTES * 2

    @given(
        n=st.integers(1, 10**7),
        reps=st.integers(1, 5000),
        k=st.integers(1, 64),
        available=st.integers(0, 2**40),
        decomposed=st.booleans(),
    )
    def test_the_suggested_candidates_fit_and_one_more_would_not(
        self, n: int, reps: int, k: int, available: int, decomposed: bool
    ) -> None:
        estimate = estimate_pair_memory(
            n, reps, k, decomposed=decomposed, pricing_chunk_pairs=4_000_000, pricing_threads=2
        )
        fit = estimate.fitting_candidates(available)
        assert 0 <= fit <= reps
        if fit >= 1:
            at_fit = estimate_pair_memory(
                n, reps, fit, decomposed=decomposed, pricing_chunk_pairs=4_000_000,
                pricing_threads=2,
            )  # fmt: skip
            assert at_fit.needed <= available
        if fit < reps:
            above = estimate_pair_memory(
                n, reps, fit + 1, decomposed=decomposed, pricing_chunk_pairs=4_000_000,
                pricing_threads=2,
            )  # fmt: skip
            assert above.needed > available

    def test_the_documented_scale_targets_are_not_refused(self) -> None:
        """1M accounts x 2,000 reps (decomposed) and 100k x 500 fit the bench's memory budgets."""
        assert pair_memory(10**6, 2000, 8, decomposed=True).needed < 12 * 1024**3
        assert pair_memory(100_000, 500, 8, decomposed=False).needed < 4 * 1024**3


class TestRefusal:
    def test_enough_memory_passes(self) -> None:
        check_pair_memory(estimate_pair_memory(1000, 50, 8), available=10**9)
        needed = estimate_pair_memory(1000, 50, 8).needed
        check_pair_memory(estimate_pair_memory(1000, 50, 8), available=needed)  # exactly enough

    def test_too_little_names_the_largest_candidates_and_the_decomposition(self) -> None:
        estimate = pair_memory(1_000_000, 2000, 64, decomposed=False)
        split = pair_memory(1_000_000, 2000, 64, decomposed=True)
        available = (estimate.needed + split.needed) // 2
        with pytest.raises(ResourceLimitError) as caught:
            check_pair_memory(estimate, available, decomposed=split)
        message = str(caught.value)
        fit = estimate.fitting_candidates(available)
        assert 1 <= fit < 64
        assert f"--candidates {fit} (the most that fits)" in message
        assert "--decompose on" in message
        assert "1,000,000 accounts with 64 candidate reps" in message
        assert "GiB is available" in message
        assert isinstance(caught.value, UsageError)  # exit 2

    def test_when_nothing_fits_it_says_so(self) -> None:
        estimate = estimate_pair_memory(10**7, 100, 8)
        with pytest.raises(ResourceLimitError, match="machine with more memory"):
            check_pair_memory(estimate, available=1024)

    def test_unknown_memory_skips_the_check(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(resources, "available_memory_bytes", lambda: None)
        check_pair_memory(estimate_pair_memory(10**9, 10**4, 64))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("memory")
    accounts, reps = make_instance(400, 8, seed=3)
    accounts.to_csv(folder / "accounts.csv", index=False)
    reps.to_csv(folder / "reps.csv", index=False)
    return folder / "accounts.csv", folder / "reps.csv"


def _tight_machine(monkeypatch: pytest.MonkeyPatch) -> int:
    """Pretend the machine has 1.5 MiB free: 400 x 8 pairs need about 2.2 MiB."""
    available = int(1.5 * MIB)
    monkeypatch.setattr(resources, "available_memory_bytes", lambda *_a: available)
    return available


def test_align_refuses_before_building_the_pairs(
    inputs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    available = _tight_machine(monkeypatch)
    built: list[int] = []
    original = api.build_problem

    def counted(*args: Any, **kwargs: Any) -> Any:
        built.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(api, "build_problem", counted)
    accounts, reps = (pd.read_csv(p) for p in inputs)
    with pytest.raises(ResourceLimitError) as caught:
        align(accounts, reps, time_limit_s=5)
    assert not built
    fit = pair_memory(400, 8, 8, decomposed=False).fitting_candidates(available)
    assert f"--candidates {fit}" in str(caught.value)


def test_cli_exit_2_with_what_fits_and_nothing_written(
    inputs: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tight_machine(monkeypatch)
    out = tmp_path / "out"
    done = runner.invoke(
        app,
        ["align", "--accounts", str(inputs[0]), "--reps", str(inputs[1]), "--out", str(out),
         "--quiet"],
    )  # fmt: skip
    assert done.exit_code == EXIT_BAD_INPUT, done.output
    text = " ".join(done.output.split())
    assert "ResourceLimitError" in text and "--candidates" in text and "MemoryError" not in text
    assert not out.exists()
    # With the suggested number of candidates the same machine runs the alignment.
    fit = int(text.split("--candidates ")[1].split()[0])
    again = runner.invoke(
        app,
        ["align", "--accounts", str(inputs[0]), "--reps", str(inputs[1]), "--out", str(out),
         "--quiet", "--candidates", str(fit), "--solver", "heuristic", "--time-limit", "20"],
    )  # fmt: skip
    assert again.exit_code == 0, again.output
    assert (out / "assignments.csv").exists()
