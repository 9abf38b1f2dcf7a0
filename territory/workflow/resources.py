"""Will a solve fit in this machine's memory? An estimate made before the candidate pairs exist.

The model holds one row per candidate account-rep pair (accounts x candidate reps); the LP, the
heuristic and the pricing passes each keep several arrays of that length. Measured on seeded
instances (30,000 accounts x 100 reps, 8 and 32 candidates, peak RSS growth per extra pair):
about 785 bytes per pair for the direct pipeline (LP with column generation) and 300 for the
decomposed one. The constants below are rounded down, so that a refusal means the run surely
cannot fit; a run just under the limit may still need more.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from territory.errors import ResourceLimitError

DIRECT_BYTES_PER_PAIR = 600
"""Memory per candidate pair of the direct pipeline (model, LP, heuristic)."""

DECOMPOSED_BYTES_PER_PAIR = 250
"""Memory per candidate pair of the decomposed pipeline (:mod:`territory.workflow.scale`)."""

PRICED_PAIR_BYTES = 60
"""Memory per pair of an all-pairs pricing chunk (distance, cost, reduced cost, masks)."""

GIB = 1024.0**3


def available_memory_bytes(meminfo: str | Path = "/proc/meminfo") -> int | None:
    """Memory the kernel says a new allocation can get without swapping, in bytes.

    ``MemAvailable`` of ``/proc/meminfo`` (Linux); elsewhere the free physical pages that
    ``os.sysconf`` reports. ``None`` when neither is known (the check is then skipped).
    """
    try:
        for line in Path(meminfo).read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024  # the kernel writes kB
    except (OSError, ValueError, IndexError, UnicodeDecodeError):
        pass
    try:
        pages = os.sysconf("SC_AVPHYS_PAGES")
        size = os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return int(pages) * int(size) if pages > 0 and size > 0 else None


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a solve needs for its candidate pairs, and how many candidates would fit."""

    n_accounts: int
    n_reps: int
    candidates: int
    """Candidate reps per account as the model uses them (never more than the reps)."""
    decomposed: bool
    needed: int
    pricing: int
    """Part of ``needed`` taken by the all-pairs pricing chunks (independent of candidates)."""

    def fitting_candidates(self, available: int) -> int:
        """Return the most candidate reps per account that fit in ``available`` bytes (0: none)."""
        per_pair = DECOMPOSED_BYTES_PER_PAIR if self.decomposed else DIRECT_BYTES_PER_PAIR
        room = available - self.pricing
        if room <= 0 or self.n_accounts == 0:
            return 0
        return int(min(room // (per_pair * self.n_accounts), self.n_reps))


def estimate_pair_memory(
    n_accounts: int,
    n_reps: int,
    candidates: int,
    *,
    decomposed: bool = False,
    pricing_chunk_pairs: int = 0,
    pricing_threads: int = 1,
) -> MemoryEstimate:
    """Bytes needed for ``n_accounts`` x ``candidates`` pairs (at most ``n_reps`` each).

    ``pricing_chunk_pairs`` is the size of one all-pairs pricing chunk when pricing runs (0
    when it does not), ``pricing_threads`` how many chunks are alive at once.
    """
    k = max(1, min(int(candidates), int(n_reps)))
    per_pair = DECOMPOSED_BYTES_PER_PAIR if decomposed else DIRECT_BYTES_PER_PAIR
    chunk = min(int(pricing_chunk_pairs), int(n_accounts) * int(n_reps))
    pricing = chunk * PRICED_PAIR_BYTES * max(1, int(pricing_threads))
    needed = int(n_accounts) * k * per_pair + pricing
    return MemoryEstimate(int(n_accounts), int(n_reps), k, decomposed, needed, pricing)


def check_pair_memory(
    estimate: MemoryEstimate,
    available: int | None = None,
    *,
    decomposed: MemoryEstimate | None = None,
) -> None:
    """Refuse a solve whose candidate pairs cannot fit in memory, saying what would fit.

    ``available`` defaults to :func:`available_memory_bytes` (pass a number to test the rule);
    ``decomposed`` is the same solve's estimate with ``--decompose on``, offered when it fits.

    Raises
    ------
    ResourceLimitError
        With the estimate, the memory available, the largest ``--candidates`` that fits and
        whether ``--decompose on`` would.
    """
    if available is None:
        available = available_memory_bytes()
    if available is None or estimate.needed <= available:
        return
    what = (
        f"aligning {estimate.n_accounts:,} accounts with {estimate.candidates} candidate reps "
        f"each needs about {estimate.needed / GIB:.2f} GiB of memory "
        f"({'decomposed' if estimate.decomposed else 'direct'} solve), but only "
        f"{available / GIB:.2f} GiB is available"
    )
    options: list[str] = []
    fit = estimate.fitting_candidates(available)
    if fit >= 1:
        options.append(f"--candidates {fit} (the most that fits)")
    if decomposed is not None and not estimate.decomposed and decomposed.needed <= available:
        options.append(
            f"--decompose on (about {decomposed.needed / GIB:.2f} GiB with "
            f"{decomposed.candidates} candidates)"
        )
    if options:
        advice = "use " + " or ".join(options)
    else:
        advice = "run it on a machine with more memory, or split the accounts into regions"
    raise ResourceLimitError(f"{what}; {advice}")
