"""The quota configuration: the company number, the allocation basis, caps, ramp and seasonality.

Plain frozen dataclasses that callers build (the CLI, scenario files, Python); their values are
checked together by :func:`check_config` before a plan is made.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, get_args

from territory.domain.contract import MAX_TOTAL_MAGNITUDE
from territory.domain.quota_allocation import _cents

MethodName = Literal["historical", "potential", "untapped", "blended", "capacity", "even"]
METHODS: tuple[str, ...] = get_args(MethodName)
"""Allocation bases :class:`QuotaMethod` can select."""

HISTORY_COLUMNS = ("history", "history_prev", "history_prev2")
"""Territory revenue of last year, the year before and the one before that (re-based)."""

DEFAULT_ROLE_HISTORY_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"account_manager": 0.7, "farmer": 0.7, "mixed": 0.5, "hunter": 0.3, "new_logo": 0.3}
)
"""Blended weight on history by role (spec §1.3 [D]): repeat business leans on history."""

_HISTORY_METHODS = frozenset({"historical", "untapped", "blended"})
_MONTHS = 12
_SOURCE = "territories"
_LIMIT_TEXT = f"{MAX_TOTAL_MAGNITUDE:.0e}".replace("e+", "e")  # "1e18" in messages


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuotaMethod:
    """Which basis splits the street total, with the basis's parameters (spec §1.1-1.5).

    ``name`` picks the basis: ``historical`` (history, optionally a multi-year weighted
    baseline), ``potential`` (share of territory potential), ``untapped`` (history kept, the
    growth increment spread by headroom or by potential, ``increment_basis``), ``blended``
    (history and potential shares mixed with a weight per role), ``capacity`` (full
    productivity x FTE x availability, ramp applied later) or ``even``.

    ``year_weights`` weigh last year, the year before and the one before that (most recent
    first; (2, 1, 1) is the textbook 2-1-1 weighting). ``growth`` only feeds the bottom-up total
    that the top-down number is compared with: a uniform growth rate cancels out of a
    proportional split. ``None`` takes the company's growth over the last two years.

    ``history_weight`` fixes one blend weight for every territory; ``None`` looks it up by role
    in ``role_history_weights`` (roles not listed get ``other_role_history_weight``).

    ``new_territory_rule`` says how territories without history are sized under the history
    bases: ``potential`` (blended: weight 0 on history; historical and untapped: the company's
    quota-per-potential ratio) or ``peer`` (the median ratio of peers with the same segment,
    role and potential decile, widening the peer group until someone qualifies). Either way the
    territory is labelled ``potential_peer``.

    ``full_productivity`` is a fully ramped rep's annual sales by role (currency/year); without
    it the capacity basis uses ``quota_to_ote`` x the ``ote`` column, or else the median
    history per FTE of reps that were fully ramped all of last year.
    """

    name: MethodName = "blended"
    year_weights: tuple[float, ...] = (1.0,)
    growth: float | None = None
    increment_basis: Literal["headroom", "potential"] = "headroom"
    history_weight: float | None = None
    role_history_weights: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_ROLE_HISTORY_WEIGHTS)
    )
    other_role_history_weight: float = 0.5
    new_territory_rule: Literal["potential", "peer"] = "potential"
    full_productivity: Mapping[str, float] | None = None
    quota_to_ote: float | None = None


@dataclass(frozen=True)
class YearlyCaps:
    """How far a territory's quota may move against last year (spec §1.7 [D]).

    Bounds are ``reference x (1 + min_change)`` and ``reference x (1 + max_change)``, where the
    reference is last year's quota re-based to the new alignment (column ``prior_quota``) or
    last year's revenue (column ``history``). Territories without a reference are not capped.
    A territory whose potential moved by more than ``exempt_potential_change`` in the
    realignment (column ``potential_before``) is exempt: the cap stops arbitrary swings, not
    ones the new alignment explains. ``None`` exempts nobody.
    """

    min_change: float = -0.15
    max_change: float = 0.25
    exempt_potential_change: float | None = 0.10
    reference: Literal["prior_quota", "history"] = "prior_quota"


@dataclass(frozen=True)
class RampSchedule:
    """Share of full productivity a new rep reaches in each month since starting (spec §1.5).

    ``monthly[0]`` is the first month; the last value holds from then on. The default is the
    mid-market schedule [D].
    """

    name: str = "mid_market"
    monthly: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class Seasonality:
    """How annual quotas are split over the year (spec §1.6).

    ``profile`` (one share per period) is the company profile; without it the profile comes
    from ``period_sales`` history (the last ``history_years`` complete years), and with less
    than one complete year the split is even. A territory's own pattern is shrunk toward the
    company profile with weight ``shrink_deals / (shrink_deals + n_deals)``, so a territory
    with few deals follows the company; without an ``n_deals`` column every territory does.
    """

    periods: Literal["quarter", "month"] = "quarter"
    profile: tuple[float, ...] | None = None
    history_years: int = 3
    shrink_deals: float = 20.0

    @property
    def n_periods(self) -> int:
        """Number of periods per year."""
        return 4 if self.periods == "quarter" else _MONTHS

    @property
    def columns(self) -> tuple[str, ...]:
        """Period column names in quotas.csv (q1..q4 or m01..m12)."""
        if self.periods == "quarter":
            return tuple(f"q{i}" for i in range(1, 5))
        return tuple(f"m{i:02d}" for i in range(1, _MONTHS + 1))


@dataclass(frozen=True)
class QuotaConfig:
    """Everything that shapes the quotas besides the territory data.

    The street total is ``(company_target - non_quota_revenue) x over_assignment_factor``,
    where ``over_assignment`` is one rate or one rate per management level (they compound,
    spec §1.4). ``capacity_stretch`` flags quotas above capacity x (1 + stretch);
    ``over_assignment_warn``/``_fail`` grade the compounded rate and ``attainment_sigma`` (rep
    log-sd of attainment, spec §2.3) prices it in share of reps at quota.
    """

    company_target: float
    non_quota_revenue: float = 0.0
    over_assignment: float | tuple[float, ...] = 0.10
    method: QuotaMethod = field(default_factory=QuotaMethod)
    caps: YearlyCaps | None = field(default_factory=YearlyCaps)
    ramp: RampSchedule = field(default_factory=RampSchedule)
    seasonality: Seasonality = field(default_factory=Seasonality)
    capacity_stretch: float = 0.10
    over_assignment_warn: float = 0.20
    over_assignment_fail: float = 0.50
    attainment_sigma: float = 0.25
    plan_year: int | None = None
    measure: str = "revenue"
    currency: str = "USD"

    @property
    def over_assignment_levels(self) -> tuple[float, ...]:
        """Over-assignment per management level."""
        oa = self.over_assignment
        return (float(oa),) if isinstance(oa, int | float) else tuple(float(x) for x in oa)

    @property
    def over_assignment_factor(self) -> float:
        """Compounded factor: the product of (1 + rate) over the levels."""
        return math.prod(1.0 + x for x in self.over_assignment_levels)

    @property
    def street_total(self) -> float:
        """Sum of all quotas, in currency, rounded to the cent."""
        raw = (self.company_target - self.non_quota_revenue) * self.over_assignment_factor
        return _cents(raw) / 100.0


@dataclass(frozen=True)
class AccuracyRule:
    """Bands for the quota-accuracy backtest (spec §3, C8).

    The company is accurate when ``|actual - plan| / plan <= company_tolerance``; quota WMAPE
    passes at ``wmape_pass`` and warns up to ``wmape_warn``. The narrow and wide bands count
    territories whose attainment of the rescaled quota lies within ±band of 100%.
    """

    company_tolerance: float = 0.10
    wmape_pass: float = 0.10
    wmape_warn: float = 0.20
    narrow_band: float = 0.10
    wide_band: float = 0.20
