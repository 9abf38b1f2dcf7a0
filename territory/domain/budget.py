"""One time budget for a solve: the stages' shares of the limit, declared in one place.

A :class:`Budget` starts with a deadline. Each stage asks it for seconds by name
(:meth:`Budget.share`, :meth:`Budget.reserve`) and gets its share of what remains, never more
than what remains: a floor (a stage needs at least a second to do anything useful) is capped by
the deadline too, so a late stage cannot run past the limit. The shares below are the numbers the
workflows have always used; where a run is not cut short by the clock its result is the same.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

STAGE_SHARES: Mapping[str, float] = MappingProxyType(
    {
        # territory.workflow.align, the direct pipeline. An LP relaxation (or a pricing
        # re-solve) takes at most half of what remains; pricing stops once less than 40% of
        # the whole limit is left for the plan search; a heuristic attempt of the move-cap
        # search takes a quarter of what remains, and the bisection on the move price stops
        # past 60% of the limit.
        "relaxation": 0.5,
        "plan_search": 0.4,
        "capped_attempt": 0.25,
        "cap_search": 0.6,
        # territory.workflow.scale, the decomposed pipeline: the coarse LP (half of what
        # remains: with its margin and the account-level LP after it, a finished coarse LP
        # leaves little for refinement to do, an unfinished one a greedy start), the coarse
        # plan, the window prices; refinement leaves 3% of the whole limit for the result.
        "coarse_lp": 0.5,
        # ... its re-solve with single-account clusters held whole (at 1M / 2,000 it ran 42-80 s
        # and was not used; the LP repair of the neighbourhoods fixes the key accounts' reps);
        "held_resolve": 0.15,
        "coarse_plan": 0.3,
        "window_prices": 0.4,
        # ... and the bound's pricing rounds stop while this share of the whole limit is left
        # for refinement (the repair of a plan matters more than a tighter bound).
        "refine_reserve": 0.35,
        # ... and a bound taken after refinement (the plan needed the time first) keeps this
        # share of the whole limit from the local search that polishes a balanced plan (at
        # 100k / 500, 21 s of a 60 s limit fit two rounds of climb and pass: bound +1.8%).
        "late_bound": 0.35,
        "final_write": 0.03,
        # solvers: the heuristic's own LP when none is handed to it, and the heuristic start of
        # an exact backend given no plan to start from.
        "heuristic_lp": 0.6,
        "exact_start": 0.3,
        # territory.workflow.design: location-allocation before the exact districting model.
        "design_heuristic": 0.4,
    }
)
"""Share of the time (what remains, or the whole limit for ``plan_search``, ``cap_search``,
``refine_reserve``, ``late_bound`` and ``final_write``) each named stage may use."""


@dataclass(frozen=True)
class Budget:
    """A time limit counted from ``started`` (``time.perf_counter`` seconds).

    Parameters
    ----------
    limit_s
        The wall-clock seconds the whole job may take.
    started
        When the clock started; by default when the budget is made.

    Examples
    --------
    >>> budget = Budget(60.0)
    >>> budget.share("relaxation") <= budget.remaining() <= 60.0
    True
    """

    limit_s: float
    started: float = field(default_factory=time.perf_counter)

    @property
    def deadline(self) -> float:
        """The ``time.perf_counter`` value at which the time is up."""
        return self.started + self.limit_s

    def elapsed(self) -> float:
        """Seconds since the clock started."""
        return time.perf_counter() - self.started

    def remaining(self) -> float:
        """Seconds left before the deadline (0 once it has passed)."""
        return max(self.deadline - time.perf_counter(), 0.0)

    def share(self, stage: str, floor: float = 0.0) -> float:
        """Seconds for ``stage``: its share of what remains, at least ``floor`` if time allows.

        Never more than what remains, whatever the floor.
        """
        left = self.remaining()
        return min(left, max(STAGE_SHARES[stage] * left, floor))

    def reserve(self, stage: str, floor: float = 0.0) -> float:
        """Seconds left after holding back ``stage``'s share of the whole limit.

        At least ``floor`` if time allows, never more than what remains.
        """
        left = self.remaining()
        return min(left, max(left - STAGE_SHARES[stage] * self.limit_s, floor))

    def keeps(self, stage: str) -> bool:
        """Whether at least ``stage``'s share of the whole limit is still left."""
        return self.remaining() >= STAGE_SHARES[stage] * self.limit_s

    def past(self, stage: str) -> bool:
        """Whether more than ``stage``'s share of the whole limit has been used."""
        return self.elapsed() > STAGE_SHARES[stage] * self.limit_s

    def used_share(self) -> float:
        """Return the share of the limit used so far (above 1 once the deadline has passed)."""
        return self.elapsed() / max(self.limit_s, 1e-9)

    def stage(self, stage: str, floor: float = 0.0) -> Budget:
        """Make a budget of its own for ``stage``, starting now, of :meth:`share` seconds."""
        return Budget(self.share(stage, floor))

    def rest(self) -> Budget:
        """Make a budget of its own, starting now, for everything that remains."""
        return Budget(self.remaining())
