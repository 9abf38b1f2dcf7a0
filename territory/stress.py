"""Quota and comp-plan stress test: Monte Carlo of rep attainment and incentive cost.

Each simulation draws every rep's annual sales as

    S_rk = E_r x M_k x M_gk x e_rk x rho_r x exp(sigma_idio,r eps_rk - sigma_idio,r^2 / 2)

with ``E_r`` the territory's expected full-year sales (calibrated to the finance forecast),
``M_k`` the company factor (or a fixed company attainment ``x`` in "what if" scenarios),
``M_gk`` an optional segment factor, ``e_rk`` the rep's effectiveness (known from history or
drawn), ``rho_r`` the share of a full year the rep sells once ramp and months in role are
counted, and a rep-level idiosyncratic lognormal. Every factor has mean 1, so the company total
averages ``x`` times the forecast.

Noise is drawn at rep level, not per account: the sum of a territory's independent account
draws is close to lognormal, and :func:`fenton_wilkinson_sigma` turns account-level parameters
into the rep-level sigma (Fenton-Wilkinson moment matching); :func:`sigma_from_deals` does the
same from deal counts and deal-size dispersion. This keeps the arrays at n_sims x n_reps.

The "what if the company lands at x" scenarios reuse the same rep draws at every ``x`` (common
random numbers), so attainment scales exactly with ``x`` and differences between rows show the
plan's sensitivity rather than sampling noise. Reps are processed in blocks of columns, so
memory is bounded by ``StressConfig.max_cells`` whatever the number of reps.

Conventions worth knowing: all measures of a role move with the same attainment (the quota
measure); a vacant month sells at the coverage factor and pays neither base nor incentive;
pooled attainment percentiles (A10, A90) are read from a histogram of ln(A) whose bins are
``histogram_log_width`` wide (0.05% of attainment by default); and the random stream follows
the block layout, so a seed reproduces a run given the same ``n_sims`` and ``max_cells``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import norm

from territory.comp import CompPlan, RolePlan
from territory.errors import DataValidationError, InputProblem, ScenarioError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ObjArray = npt.NDArray[np.object_]

SeedLike = int | np.random.Generator | None

_LOG_LO, _LOG_HI = -12.0, 6.0
"""Range of ln(attainment) kept in the pooled histograms (beyond it values are clipped)."""


def _x_levels(lo: float, hi: float, step: float) -> tuple[float, ...]:
    n = int(round((hi - lo) / step)) + 1
    return tuple(round(lo + step * i, 10) for i in range(n))


def _default_levers() -> dict[str, tuple[float, ...]]:
    return {
        "over_assignment": (0.0, 0.05, 0.10, 0.15, 0.20),
        "accelerator_slope": (1.0, 1.5, 2.0, 2.5, 3.0),
        "sigma_idio": (0.10, 0.15, 0.20, 0.25, 0.30),
        "sigma_effectiveness": (0.05, 0.10, 0.15, 0.20, 0.25),
        "sigma_company": (0.0, 0.04, 0.08, 0.12, 0.16),
    }


@dataclass(frozen=True)
class StressConfig:
    """Simulation settings; every default is an engine default [D] to override from data.

    Sigmas are log-sds: ``sigma_company`` from past plan-vs-actual, ``sigma_segment`` from
    segment plan history (used only when reps carry a segment), ``sigma_effectiveness`` for
    reps whose effectiveness is unknown, ``sigma_idio`` the rep-level noise left after
    aggregating accounts. A vacant month sells at ``coverage_factor`` of normal and pays
    nothing. ``ramp_schedule`` gives productivity in months 1, 2, ... since start (the last
    value holds after). Reps with fewer than ``ramped_after_months`` of tenure, or less than a
    full year in role, are left out of rate metrics (share at quota, percentiles).
    """

    n_sims: int = 10_000
    sigma_company: float = 0.08
    sigma_segment: float = 0.05
    sigma_effectiveness: float = 0.15
    sigma_idio: float = 0.20
    coverage_factor: float = 0.85
    ramp_schedule: tuple[float, ...] = (0.0, 0.25, 0.50, 0.75, 1.0)
    ramped_after_months: float = 12.0
    company_attainments: tuple[float, ...] = field(
        default_factory=lambda: _x_levels(0.80, 1.20, 0.05)
    )
    plan_attainment: float = 1.0
    ccos_attainments: tuple[float, ...] = (0.90, 1.00, 1.10)
    cost_percentiles: tuple[float, ...] = (5.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0)
    attainment_bands: tuple[float, ...] = (0.5, 0.8, 1.0, 1.2)
    forecast_accuracy_band: float = 0.10
    min_share_at_quota: float = 0.50
    sensitivity_levers: Mapping[str, tuple[float, ...]] = field(default_factory=_default_levers)
    max_cells: int = 1_000_000
    histogram_log_width: float = 0.0005

    def __post_init__(self) -> None:
        problems = []
        for name in ("sigma_company", "sigma_segment", "sigma_effectiveness", "sigma_idio"):
            if not getattr(self, name) >= 0:
                problems.append(f"{name} = {getattr(self, name)} must be >= 0")
        if self.n_sims < 1:
            problems.append(f"n_sims = {self.n_sims} must be >= 1")
        if not 0 <= self.coverage_factor <= 1:
            problems.append(f"coverage_factor = {self.coverage_factor} must lie in [0, 1]")
        if not self.ramp_schedule or min(self.ramp_schedule) < 0:
            problems.append("ramp_schedule needs at least one month and no negative values")
        if not self.company_attainments or min(self.company_attainments) <= 0:
            problems.append("company_attainments must be positive")
        if self.plan_attainment <= 0:
            problems.append(f"plan_attainment = {self.plan_attainment} must be > 0")
        if list(self.attainment_bands) != sorted(self.attainment_bands):
            problems.append("attainment_bands must be increasing")
        if self.max_cells < 1 or self.histogram_log_width <= 0:
            problems.append("max_cells and histogram_log_width must be positive")
        if problems:
            raise ScenarioError("invalid stress configuration: " + "; ".join(problems))

    @property
    def sigma_rep(self) -> float:
        """Total rep-level log-sd for an unknown rep: sqrt(sigma_e^2 + sigma_idio^2)."""
        return math.hypot(self.sigma_effectiveness, self.sigma_idio)

    def scenario_levels(self) -> tuple[float, ...]:
        """Every company attainment simulated: the grid plus the plan and CCOS levels."""
        levels = {*self.company_attainments, self.plan_attainment, *self.ccos_attainments}
        return tuple(sorted(round(x, 10) for x in levels))


def sigma_from_deals(deals_per_year: npt.ArrayLike, deal_size_cv: npt.ArrayLike) -> FloatArray:
    """Rep-level log-sd implied by deal counts and deal-size dispersion (compound Poisson).

    The CV of annual sales is sqrt((1 + CV_d^2) / deals); the lognormal with that CV has
    sigma = sqrt(ln(1 + CV^2)). 12 deals a year with CV_d = 1 gives about 0.39.
    """
    deals = np.asarray(deals_per_year, dtype=np.float64)
    cv_d = np.asarray(deal_size_cv, dtype=np.float64)
    cv2 = (1.0 + cv_d**2) / deals
    return np.asarray(np.sqrt(np.log1p(cv2)), dtype=np.float64)


def fenton_wilkinson_sigma(
    expected_sales: npt.ArrayLike,
    sigma_account: npt.ArrayLike,
    rep_index: npt.ArrayLike,
    n_reps: int,
) -> FloatArray:
    """Log-sd of each rep's total when its accounts are independent lognormals.

    Matches the mean and variance of the sum (Fenton-Wilkinson): with account means ``m_a`` and
    log-sds ``s_a``, Var = sum m_a^2 (exp(s_a^2) - 1) and sigma_rep^2 = ln(1 + Var / mean^2).
    Reps without accounts get 0.
    """
    m = np.asarray(expected_sales, dtype=np.float64)
    s = np.broadcast_to(np.asarray(sigma_account, dtype=np.float64), m.shape)
    idx = np.asarray(rep_index, dtype=np.int64)
    mean = np.bincount(idx, weights=m, minlength=n_reps)
    var = np.bincount(idx, weights=m**2 * np.expm1(s**2), minlength=n_reps)
    ratio = np.divide(var, mean**2, out=np.zeros(n_reps), where=mean > 0)
    return np.asarray(np.sqrt(np.log1p(ratio)), dtype=np.float64)


def accelerator_slope_for_leverage(attainment_p90: float, leverage: float) -> float:
    """Accelerator slope (TI multiples per 1.00 attainment above quota) that pays ``leverage``
    x TI at the 90th-percentile attainment: (L - 1) / (A90 - 1).

    Assumes a single accelerator tier from quota up to at least A90.
    """
    if attainment_p90 <= 1.0:
        raise ScenarioError(
            f"the 90th-percentile attainment is {attainment_p90:.3f}, not above quota, so no "
            "accelerator from quota can reach the target leverage; lower the over-assignment "
            "or the leverage target"
        )
    return (leverage - 1.0) / (attainment_p90 - 1.0)


@dataclass(frozen=True, eq=False)
class StressInputs:
    """Per-rep inputs of the simulation, aligned arrays (one entry per rep or vacant territory).

    ``quota`` is the final (ramped, pro-rated) annual quota; ``expected_sales`` the territory's
    full-year sales at full productivity when the company lands on plan; ``ti`` and ``base``
    annual target incentive and base. ``months_in_role`` counts the plan-year months the rep
    holds the territory (0 for a vacant one), ``tenure_months`` the rep's completed months of
    tenure when those months begin. ``effectiveness`` is NaN where unknown (then drawn) and
    ``sigma_idio`` NaN where the config default applies. ``segment`` is -1 where there is none.
    ``plan_revenue`` is the finance number ``G`` the scenarios are expressed against.
    """

    rep_ids: ObjArray
    roles: ObjArray
    quota: FloatArray
    expected_sales: FloatArray
    ti: FloatArray
    base: FloatArray
    months_in_role: FloatArray
    tenure_months: FloatArray
    effectiveness: FloatArray
    sigma_idio: FloatArray
    segment: IntArray
    territory_ids: ObjArray
    prior_year_quota: FloatArray
    prior_year_payout: FloatArray
    plan_revenue: float

    def __post_init__(self) -> None:
        n = self.rep_ids.shape[0]
        for name in (
            "roles",
            "quota",
            "expected_sales",
            "ti",
            "base",
            "months_in_role",
            "tenure_months",
            "effectiveness",
            "sigma_idio",
            "segment",
            "territory_ids",
            "prior_year_quota",
            "prior_year_payout",
        ):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"StressInputs.{name} must have shape ({n},)")

    @property
    def n_reps(self) -> int:
        """Number of reps (and vacant territories)."""
        return int(self.rep_ids.shape[0])

    @property
    def over_assignment(self) -> float:
        """Implied over-assignment: street quota total over the plan number, minus 1."""
        return float(self.quota.sum() / self.plan_revenue - 1.0)

    @classmethod
    def from_frame(
        cls,
        reps: pd.DataFrame,
        plan: CompPlan,
        *,
        forecast: float | None = None,
        source: str = "reps",
    ) -> StressInputs:
        """Build inputs from a reps (or territories) frame and a comp plan.

        Needs ``rep_id``, ``role`` and ``quota``, plus ``expected_sales`` or ``potential``
        (times ``penetration`` when present). With ``forecast`` the expected sales are scaled
        so that they add up to it; with potential a forecast is required. Optional columns:
        ``territory_id``, ``ote`` (overrides the role's OTE), ``months_in_role``,
        ``tenure_months``, ``effectiveness``, ``sigma_idio``, ``segment``,
        ``prior_year_quota``, ``prior_year_payout``.
        """
        problems: list[InputProblem] = []

        def problem(message: str, fix: str, column: str | None = None) -> None:
            problems.append(InputProblem(source, None, column, message, fix))

        for col in ("rep_id", "role", "quota"):
            if col not in reps.columns:
                problem("required column is missing", f"add a '{col}' column", col)
        has_expected = "expected_sales" in reps.columns
        if not has_expected and "potential" not in reps.columns:
            problem(
                "neither expected_sales nor potential is given",
                "add expected_sales, or potential (and penetration) with a forecast",
            )
        if not has_expected and "potential" in reps.columns and forecast is None:
            problem(
                "expected sales from potential need the finance forecast",
                "pass forecast= (the plan number the total should add up to)",
                "potential",
            )
        if problems:
            raise DataValidationError(problems)

        n = len(reps)

        def num(col: str, default: float) -> FloatArray:
            if col not in reps.columns:
                return np.full(n, default, dtype=np.float64)
            values = pd.to_numeric(reps[col], errors="coerce").to_numpy(dtype=np.float64)
            return np.where(np.isnan(values), default, values)

        rep_ids = reps["rep_id"].astype(str).to_numpy(dtype=object)
        role_values = reps["role"].astype(str).tolist()
        known = {v for r in plan.roles.values() for v in r.rep_roles}
        unknown = sorted({v for v in role_values if v not in known})
        if unknown:
            bad = [
                rid for rid, v in zip(rep_ids.tolist(), role_values, strict=True) if v in unknown
            ]
            problem(
                f"role value(s) {unknown} have no plan in '{plan.plan_id}' (reps {bad[:10]})",
                f"use one of {sorted(known)} or add the value to a role's rep_roles",
                "role",
            )
        quota = num("quota", np.nan)
        months = np.clip(num("months_in_role", 12.0), 0.0, 12.0)
        if np.isnan(quota).any() or ((quota <= 0) & (months > 0)).any():
            bad = rep_ids[np.isnan(quota) | ((quota <= 0) & (months > 0))].tolist()
            problem(
                f"quota is missing or not positive for reps {bad[:10]}",
                "give every rep in role a positive annual quota",
                "quota",
            )
        if has_expected:
            expected = num("expected_sales", np.nan)
        else:
            expected = num("potential", np.nan) * num("penetration", 1.0)
        if np.isnan(expected).any() or (expected < 0).any():
            problem(
                "expected sales (or potential) missing or negative",
                "fill in a non-negative number for every row",
                "expected_sales" if has_expected else "potential",
            )
        if problems:
            raise DataValidationError(problems)

        total = float(expected.sum())
        if forecast is not None:
            if total <= 0:
                raise DataValidationError(
                    [
                        InputProblem(
                            source,
                            None,
                            None,
                            "expected sales add up to 0, so they cannot be scaled to the forecast",
                            "check the expected_sales or potential column",
                        )
                    ]
                )
            expected = expected * (forecast / total)
            total = float(forecast)

        role_names = np.array([plan.role_for(v).name for v in role_values], dtype=object)
        role_plans = [plan.roles[r] for r in role_names.tolist()]
        ote = num("ote", np.nan)
        ote = np.where(np.isnan(ote), [r.ote for r in role_plans], ote)
        variable = np.array([r.pay_mix.variable for r in role_plans], dtype=np.float64)
        if "segment" in reps.columns:
            seg_values = reps["segment"].astype("string").fillna("")
            codes, names = pd.factorize(seg_values.to_numpy(dtype=object))
            segment = np.asarray(codes, dtype=np.int64)
            segment = np.where(seg_values.to_numpy(dtype=object) == "", -1, segment)
        else:
            segment = np.full(n, -1, dtype=np.int64)
        territory = (
            reps["territory_id"].astype(str).to_numpy(dtype=object)
            if "territory_id" in reps.columns
            else rep_ids.copy()
        )
        return cls(
            rep_ids=rep_ids,
            roles=role_names,
            quota=np.where(np.isnan(quota), 0.0, quota),
            expected_sales=expected,
            ti=ote * variable,
            base=ote * (1.0 - variable),
            months_in_role=months,
            tenure_months=np.maximum(num("tenure_months", 1200.0), 0.0),
            effectiveness=num("effectiveness", np.nan),
            sigma_idio=num("sigma_idio", np.nan),
            segment=np.asarray(segment, dtype=np.int64),
            territory_ids=territory,
            prior_year_quota=num("prior_year_quota", np.nan),
            prior_year_payout=num("prior_year_payout", np.nan),
            plan_revenue=total,
        )

    def take(self, order: IntArray) -> StressInputs:
        """The same inputs with reps reordered."""
        kw = {
            name: getattr(self, name)[order]
            for name in self.__dataclass_fields__
            if name != "plan_revenue"
        }
        return StressInputs(plan_revenue=self.plan_revenue, **kw)


def held_share(
    months_in_role: FloatArray, tenure_months: FloatArray, ramp: Sequence[float]
) -> FloatArray:
    """Share of a full productive year each rep sells: sum over months held of Ramp(m) / 12.

    The rep holds the last ``months_in_role`` months of the year; month ``j`` of that stretch is
    the rep's month ``tenure + j`` since start. A fractional month counts pro rata.
    """
    schedule = np.asarray(ramp, dtype=np.float64)
    j = np.arange(1, 13, dtype=np.float64)
    weight = np.clip(months_in_role[:, None] - (j[None, :] - 1.0), 0.0, 1.0)
    month = np.floor(tenure_months)[:, None] + j[None, :]
    productivity = schedule[np.clip(month.astype(np.int64), 1, schedule.size) - 1]
    return np.asarray((weight * productivity).sum(axis=1) / 12.0, dtype=np.float64)


@dataclass(frozen=True)
class RoleVerdict:
    """Pay-for-performance numbers of one role at the plan scenario (ramped full-year reps).

    Attainment percentiles are pooled over reps and simulations; payouts are TI multiples.
    ``accelerator_slope_needed`` is NaN when A90 is not above quota.
    """

    role: str
    n_reps: int
    attainment_p10: float
    attainment_p90: float
    payout_at_p10: float
    payout_at_p90: float
    target_leverage: float
    accelerator_slope_needed: float
    share_paid: float
    share_at_quota: float
    cap_binding_rate: float


@dataclass(frozen=True)
class StressVerdicts:
    """The stress-test numbers the comp checks read (C4, C6, C7, C8).

    Shares are fractions. ``payout_spread`` and ``p_attain_spread`` are the largest distance
    from the median, over ramped reps simulated as a standard rep (effectiveness 1), of
    E[payout / TI] and of P(A >= 1). ``over_assignment_bound`` is the largest over-assignment
    at which half the reps still reach quota when the company lands on plan, and
    ``largest_threshold_for_90pct_paid`` the pooled 10th-percentile attainment.
    """

    plan_attainment: float
    n_rate_reps: int
    n_excluded: int
    expected_share_at_quota: float
    p_share_at_quota_ge_min: float
    expected_share_paid: float
    payout_at_p90: float
    payout_at_p10: float
    attainment_p10: float
    attainment_p90: float
    payout_spread: float
    p_attain_spread: float
    p_company_within_band: float
    reserve: float
    ccos_p50: Mapping[float, float]
    over_assignment: float
    over_assignment_bound: float
    largest_threshold_for_90pct_paid: float
    roles: tuple[RoleVerdict, ...]


SCENARIO_COLUMNS = (
    "scenario_id",
    "company_attainment_x",
    "revenue_p50",
    "pct_reps_ge_quota",
    "pct_reps_paid",
    "pct_reps_ge_excellence",
    "pct_reps_capped",
    "incentive_p10",
    "incentive_p50",
    "incentive_p90",
    "incentive_to_ti_budget_p50",
    "total_comp_p50",
    "ccos_p50",
    "marginal_cost_of_incremental_revenue",
)

REP_IMPACT_COLUMNS = (
    "rep_id",
    "territory_id",
    "role",
    "quota",
    "ote",
    "ti",
    "expected_attainment",
    "p_attain_ge_1",
    "p_below_threshold",
    "payout_p10",
    "payout_p50",
    "payout_p90",
    "expected_payout",
    "expected_total_comp",
    "prior_year_quota",
    "prior_year_payout",
    "delta_expected_payout",
)


@dataclass(frozen=True, eq=False)
class StressResult:
    """Outcome of :func:`run_stress`.

    Arrays have one row per scenario: the company attainments in ``x`` and, in the last row,
    the unconditional run (``x`` NaN, company factor drawn). ``incentive``, ``revenue`` and
    ``share_ge_quota`` hold one column per simulation; ``share_paid``, ``share_excellence`` and
    ``share_capped`` are means over simulations and ``band_share`` has one column per
    attainment band. Money is in the plan currency per year; shares are fractions of the rate
    reps (full year in role, ramped).
    """

    seed: int | None
    config: StressConfig
    x: FloatArray
    incentive: FloatArray
    revenue: FloatArray
    share_ge_quota: FloatArray
    share_paid: FloatArray
    share_excellence: FloatArray
    share_capped: FloatArray
    band_share: FloatArray
    ti_budget: float
    base_cost: float
    plan_revenue: float
    rep_impact: pd.DataFrame
    standard_rep: pd.DataFrame
    pay_for_performance: pd.DataFrame
    verdicts: StressVerdicts

    @property
    def scenario_ids(self) -> list[str]:
        """``x0.80`` style ids, and ``unconditional`` for the last row."""
        return [f"x{v:.2f}" for v in self.x[:-1].tolist()] + ["unconditional"]

    def row(self, x: float) -> int:
        """Row of the scenario with company attainment ``x``."""
        hits = np.flatnonzero(np.abs(self.x[:-1] - x) < 1e-9)
        if hits.size == 0:
            raise ScenarioError(
                f"company attainment {x} was not simulated (have {self.x[:-1].tolist()}); "
                "add it to StressConfig.company_attainments"
            )
        return int(hits[0])

    @property
    def total_comp(self) -> FloatArray:
        """Base plus incentive per scenario and simulation."""
        return np.asarray(self.base_cost + self.incentive, dtype=np.float64)

    @property
    def ccos(self) -> FloatArray:
        """Compensation cost of sales: (base + incentive) / revenue, per scenario and draw."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(self.total_comp / self.revenue, dtype=np.float64)

    def scenario_table(self) -> pd.DataFrame:
        """Org summary in the ``stress_scenarios.csv`` layout.

        ``pct_*`` columns are percentages of rate reps (mean over simulations); incentive,
        revenue and total comp are percentiles over simulations; ``ccos_p50`` and
        ``incentive_to_ti_budget_p50`` are fractions. The marginal cost is the change in P50
        incentive over the change in P50 revenue from the previous row.
        """
        inc = np.percentile(self.incentive, [10, 50, 90], axis=1)
        rev50 = np.median(self.revenue, axis=1)
        frame = pd.DataFrame(
            {
                "scenario_id": self.scenario_ids,
                "company_attainment_x": self.x,
                "revenue_p50": rev50,
                "pct_reps_ge_quota": 100 * self.share_ge_quota.mean(axis=1),
                "pct_reps_paid": 100 * self.share_paid,
                "pct_reps_ge_excellence": 100 * self.share_excellence,
                "pct_reps_capped": 100 * self.share_capped,
                "incentive_p10": inc[0],
                "incentive_p50": inc[1],
                "incentive_p90": inc[2],
                "incentive_to_ti_budget_p50": inc[1] / self.ti_budget,
                "total_comp_p50": np.median(self.total_comp, axis=1),
                "ccos_p50": np.median(self.ccos, axis=1),
            }
        )
        marginal = np.full(len(frame), np.nan)
        d_rev = np.diff(rev50[:-1])
        with np.errstate(divide="ignore", invalid="ignore"):
            marginal[1:-1] = np.diff(inc[1][:-1]) / d_rev
        frame["marginal_cost_of_incremental_revenue"] = marginal
        return frame.loc[:, list(SCENARIO_COLUMNS)]

    def cost_distribution(self) -> pd.DataFrame:
        """Unconditional cost percentiles (``stress_cost_distribution.csv``) plus the reserve."""
        pcts = list(self.config.cost_percentiles)
        inc = np.percentile(self.incentive[-1], pcts)
        ccos = np.percentile(self.ccos[-1], pcts)
        frame = pd.DataFrame(
            {"percentile": [f"P{p:g}" for p in pcts], "total_incentive": inc, "ccos": ccos}
        )
        p90, p50 = np.percentile(self.incentive[-1], [90, 50])
        c90, c50 = np.percentile(self.ccos[-1], [90, 50])
        reserve = pd.DataFrame(
            {
                "percentile": ["reserve (P90-P50)"],
                "total_incentive": [p90 - p50],
                "ccos": [c90 - c50],
            }
        )
        return pd.concat([frame, reserve], ignore_index=True)

    def attainment_histogram(self) -> pd.DataFrame:
        """Share of rate reps per attainment band and scenario (``attainment_histogram.csv``)."""
        edges = [f"{e * 100:g}" for e in self.config.attainment_bands]
        labels = [f"<{edges[0]}"]
        labels += [f"{a}-{b}" for a, b in zip(edges[:-1], edges[1:], strict=True)]
        labels += [f">{edges[-1]}"]
        rows = [
            {"scenario_id": sid, "band": label, "share": float(self.band_share[i, j])}
            for i, sid in enumerate(self.scenario_ids)
            for j, label in enumerate(labels)
        ]
        return pd.DataFrame(rows, columns=["scenario_id", "band", "share"])

    def unconditional_by_bucket(self, width: float = 0.05) -> pd.DataFrame:
        """Cross-check: unconditional draws grouped by realised company attainment."""
        realised = self.revenue[-1] / self.plan_revenue
        bucket = np.round(realised / width) * width
        frame = pd.DataFrame(
            {
                "realised_x": np.round(bucket, 10),
                "incentive": self.incentive[-1],
                "ccos": self.ccos[-1],
            }
        )
        out = frame.groupby("realised_x").agg(
            n_sims=("incentive", "size"),
            incentive_p50=("incentive", "median"),
            ccos_p50=("ccos", "median"),
        )
        out["incentive_to_ti_budget_p50"] = out["incentive_p50"] / self.ti_budget
        return out.reset_index()


@dataclass(frozen=True)
class _Group:
    """A role's contiguous columns after sorting; its rate reps come first (``lo:rate_hi``)."""

    role: RolePlan
    lo: int
    hi: int
    rate_hi: int


@dataclass(frozen=True, eq=False)
class _Meta:
    """What the simulation derived from the inputs, needed to read its totals."""

    levels: FloatArray
    groups: list[_Group]
    rate: BoolArray
    held: BoolArray
    ti_eff: FloatArray
    n_bins: int
    company: FloatArray
    plan_row: int


@dataclass
class _Acc:
    """Running totals filled block by block (counts are over rate reps)."""

    incentive: FloatArray
    revenue0: FloatArray
    ge_quota: FloatArray
    paid: FloatArray
    excellence: FloatArray
    capped: FloatArray
    band_counts: FloatArray
    hist: IntArray
    role_paid: FloatArray
    role_quota: FloatArray
    role_capped: FloatArray
    role_cells: FloatArray


def _log_noise(rng: np.random.Generator, n: int, sigma: FloatArray) -> FloatArray:
    """sigma * Z - sigma^2 / 2 per column: mean-one lognormal factors, in log form."""
    z = rng.standard_normal((n, sigma.size))
    z *= sigma[None, :]
    z -= (0.5 * sigma**2)[None, :]
    return z


def _rate_mask(inputs: StressInputs, config: StressConfig) -> BoolArray:
    """Reps in rate metrics: a full year in role and past the ramping period."""
    return np.asarray(
        (inputs.months_in_role >= 12.0) & (inputs.tenure_months >= config.ramped_after_months),
        dtype=np.bool_,
    )


def _simulate(
    inputs: StressInputs,
    plan: CompPlan,
    config: StressConfig,
    rng: np.random.Generator,
    *,
    detail: bool,
) -> tuple[_Meta, _Acc, dict[str, FloatArray]]:
    """Draw and aggregate; inputs must come from :func:`_sorted_by_role`."""
    n = config.n_sims
    n_reps = inputs.n_reps
    levels = np.array(config.scenario_levels(), dtype=np.float64)
    n_x = levels.size
    n_rows = n_x + 1
    plan_row = int(np.flatnonzero(np.abs(levels - config.plan_attainment) < 1e-9)[0])

    rate = _rate_mask(inputs, config)
    groups: list[_Group] = []
    for name in dict.fromkeys(inputs.roles.tolist()):
        members = np.flatnonzero(inputs.roles == name)
        lo, hi = int(members[0]), int(members[-1]) + 1
        groups.append(_Group(plan.roles[str(name)], lo, hi, lo + int(rate[lo:hi].sum())))

    months = inputs.months_in_role
    held = months > 0
    share = held_share(months, inputs.tenure_months, config.ramp_schedule)
    vacant = (12.0 - months) / 12.0 * config.coverage_factor
    ti_eff = inputs.ti * months / 12.0
    with np.errstate(divide="ignore"):
        base_log = np.where(
            held & (share > 0),
            np.log(inputs.expected_sales * share) - np.log(np.where(held, inputs.quota, 1.0)),
            -np.inf,
        )
        eff_known = ~np.isnan(inputs.effectiveness)
        eff_log_known = np.log(np.where(eff_known, inputs.effectiveness, 1.0))
    sigma_idio = np.where(np.isnan(inputs.sigma_idio), config.sigma_idio, inputs.sigma_idio)
    sig_e = config.sigma_effectiveness

    sc = config.sigma_company
    company = np.exp(sc * rng.standard_normal(n) - 0.5 * sc**2)
    n_seg = int(inputs.segment.max()) + 1
    use_segments = config.sigma_segment > 0 and n_seg > 0
    seg_log = _log_noise(rng, n, np.full(n_seg, config.sigma_segment)) if use_segments else None
    multipliers = np.concatenate([levels, [np.nan]])

    bands = np.asarray(config.attainment_bands, dtype=np.float64)
    n_bins = int(math.ceil((_LOG_HI - _LOG_LO) / config.histogram_log_width))
    acc = _Acc(
        incentive=np.zeros((n_rows, n)),
        revenue0=np.zeros(n),
        ge_quota=np.zeros((n_rows, n)),
        paid=np.zeros(n_rows),
        excellence=np.zeros(n_rows),
        capped=np.zeros(n_rows),
        band_counts=np.zeros((n_rows, bands.size)),
        hist=np.zeros(len(groups) * n_bins, dtype=np.int64),
        role_paid=np.zeros(len(groups)),
        role_quota=np.zeros(len(groups)),
        role_capped=np.zeros(len(groups)),
        role_cells=np.zeros(len(groups)),
    )
    reps_out: dict[str, FloatArray] = {}
    if detail:
        for key in _REP_STATS:
            reps_out[key] = np.full(n_reps, np.nan)

    block = max(1, min(n_reps, config.max_cells // n))
    buf_a = np.empty(n * block)
    buf_m = np.empty(n * block)
    buf_w = np.empty(n * block)
    buf_b = np.empty(n * block, dtype=np.bool_)
    for b0 in range(0, n_reps, block):
        b1 = min(n_reps, b0 + block)
        cols = slice(b0, b1)
        # Territory noise (segment + idiosyncratic) is shared by the rep and any vacant months.
        noise = _log_noise(rng, n, sigma_idio[cols])
        if seg_log is not None:
            seg = inputs.segment[cols]
            has = seg >= 0
            if has.any():
                noise[:, has] += seg_log[:, seg[has]]
        unknown = ~eff_known[cols]
        if unknown.any() and sig_e > 0:
            eff = _log_noise(rng, n, np.full(b1 - b0, sig_e))
            eff[:, ~unknown] = eff_log_known[cols][~unknown]
            eff += noise
        else:
            eff = noise + eff_log_known[cols]
        eff += base_log[cols]
        a0 = np.exp(eff, out=eff)
        acc.revenue0 += a0 @ inputs.quota[cols]
        vac = vacant[cols]
        if (vac > 0).any():
            hit = np.flatnonzero(vac > 0)
            acc.revenue0 += np.exp(noise[:, hit]) @ (inputs.expected_sales[cols][hit] * vac[hit])

        for gi, g in enumerate(groups):
            lo, hi = max(g.lo, b0), min(g.hi, b1)
            if lo >= hi:
                continue
            gw = hi - lo
            nr = min(max(g.rate_hi - lo, 0), gw)
            a0_g = a0[:, lo - b0 : hi - b0]
            ti_g = ti_eff[lo:hi]
            a = buf_a[: n * gw].reshape(n, gw)
            m = buf_m[: n * gw].reshape(n, gw)
            work = buf_w[: n * gw].reshape(n, gw)
            flags = buf_b[: n * nr].reshape(n, nr)
            # The grid (detail off) reads only incentive and share at quota per x level.
            for row in range(n_rows if detail else n_x):
                factor = company[:, None] if row == n_x else multipliers[row]
                np.multiply(a0_g, factor, out=a)
                g.role.incentive_multiple(a, out=m, work=work)
                acc.incentive[row] += m @ ti_g
                if nr == 0:
                    continue
                ar, mr = a[:, :nr], m[:, :nr]
                np.greater_equal(ar, 1.0, out=flags)
                at_quota = flags.sum(axis=1)
                acc.ge_quota[row] += at_quota
                if not detail:
                    continue
                np.greater(mr, 0.0, out=flags)
                paid = np.count_nonzero(flags)
                acc.paid[row] += paid
                np.greater_equal(ar, g.role.excellence_attainment, out=flags)
                acc.excellence[row] += np.count_nonzero(flags)
                capped = np.count_nonzero(g.role.capped(ar)) if g.role.has_cap else 0
                acc.capped[row] += capped
                for k, edge in enumerate(bands.tolist()):
                    np.less(ar, edge, out=flags)
                    acc.band_counts[row, k] += np.count_nonzero(flags)
                if row == plan_row:
                    acc.role_cells[gi] += ar.size
                    acc.role_paid[gi] += paid
                    acc.role_quota[gi] += at_quota.sum()
                    acc.role_capped[gi] += capped
            if nr and detail:
                # Pooled histogram of ln(A) at x = 1; A at any x is x times these values.
                la = np.log(a0_g[:, :nr])
                idx = np.floor((la - _LOG_LO) / config.histogram_log_width)
                idx = np.clip(np.nan_to_num(idx, nan=0.0, neginf=0.0), 0, n_bins - 1)
                acc.hist += np.bincount(
                    idx.astype(np.int64).ravel() + gi * n_bins, minlength=acc.hist.size
                )
            if detail:
                xp = config.plan_attainment
                np.multiply(a0_g, xp, out=a)
                standard = np.exp(base_log[lo:hi] + noise[:, lo - b0 : hi - b0]) * xp
                _rep_stats(reps_out, g, lo, hi, a, standard, ti_g, held[lo:hi])

    meta = _Meta(levels, groups, rate, held, ti_eff, n_bins, company, plan_row)
    return meta, acc, reps_out


_REP_STATS = (
    "mean_a",
    "p_ge_1",
    "p_below",
    "pay_p10",
    "pay_p50",
    "pay_p90",
    "pay_mean",
    "std_mean_a",
    "std_p_ge_1",
    "std_multiple",
)


def _rep_stats(
    out: dict[str, FloatArray],
    g: _Group,
    lo: int,
    hi: int,
    a: FloatArray,
    a_std: FloatArray,
    ti: FloatArray,
    held: BoolArray,
) -> None:
    """Per-rep statistics at the plan scenario, for the rep impact file and the C6 check."""
    pay = g.role.incentive_multiple(a) * ti[None, :]
    q = np.percentile(pay, [10, 50, 90], axis=0)
    values = {
        "mean_a": a.mean(axis=0),
        "p_ge_1": (a >= 1.0).mean(axis=0),
        "p_below": (a < g.role.payout_start).mean(axis=0),
        "pay_p10": q[0],
        "pay_p50": q[1],
        "pay_p90": q[2],
        "pay_mean": pay.mean(axis=0),
        "std_mean_a": a_std.mean(axis=0),
        "std_p_ge_1": (a_std >= 1.0).mean(axis=0),
        "std_multiple": g.role.incentive_multiple(a_std).mean(axis=0),
    }
    for key, v in values.items():
        out[key][lo:hi] = np.where(held, v, np.nan)


def _hist_quantile(hist: npt.NDArray[np.int64], q: float, width: float) -> float:
    """Quantile of ln-attainment from a histogram, linear within the bin, as attainment."""
    total = int(hist.sum())
    if total == 0:
        return float("nan")
    cum = np.cumsum(hist)
    target = q * total
    i = int(np.searchsorted(cum, target, side="left"))
    before = cum[i - 1] if i > 0 else 0
    frac = (target - before) / hist[i] if hist[i] > 0 else 0.5
    return float(math.exp(_LOG_LO + (i + frac) * width))


def _resolve_seed(seed: SeedLike) -> tuple[np.random.Generator, int | None]:
    """A generator and the integer seed to record (fresh entropy when none is given)."""
    if isinstance(seed, np.random.Generator):
        return seed, None
    if seed is None:
        seed = int(np.random.SeedSequence().entropy)  # type: ignore[arg-type]
    return np.random.default_rng(seed), int(seed)


def _sorted_by_role(
    inputs: StressInputs, plan: CompPlan, config: StressConfig
) -> tuple[StressInputs, IntArray]:
    """Reps grouped by role, rate reps first within each role (stable).

    Each role's curve is then applied to one column slice and the rate metrics read a
    contiguous sub-slice, so the inner loop never copies columns.
    """
    missing = sorted({str(r) for r in inputs.roles.tolist()} - set(plan.roles))
    if missing:
        raise ScenarioError(
            f"roles {missing} are not in comp plan '{plan.plan_id}' (has {sorted(plan.roles)})"
        )
    order_of = {name: i for i, name in enumerate(plan.roles)}
    keys = np.array([order_of[str(r)] for r in inputs.roles.tolist()], dtype=np.int64)
    keys = 2 * keys + (~_rate_mask(inputs, config)).astype(np.int64)
    order = np.argsort(keys, kind="stable").astype(np.int64)
    return inputs.take(order), order


def run_stress(
    inputs: StressInputs,
    plan: CompPlan,
    config: StressConfig | None = None,
    *,
    seed: SeedLike = None,
) -> StressResult:
    """Simulate the plan at every company attainment in the config and unconditionally.

    Returns the per-simulation totals (org summary, cost distribution, histogram), the rep
    impact file at ``config.plan_attainment`` and the verdict numbers. The seed actually used
    is recorded in the result (a fresh one is drawn and recorded when ``seed`` is None).
    """
    config = config or StressConfig()
    if inputs.n_reps == 0:
        raise ScenarioError("no reps to simulate")
    rng, used_seed = _resolve_seed(seed)
    sorted_inputs, order = _sorted_by_role(inputs, plan, config)
    meta, acc, reps = _simulate(sorted_inputs, plan, config, rng, detail=True)

    levels, rate, held, groups = meta.levels, meta.rate, meta.held, meta.groups
    company, plan_row, n_bins = meta.company, meta.plan_row, meta.n_bins
    n_rate = int(rate.sum())

    revenue = np.vstack([levels[:, None] * acc.revenue0[None, :], company * acc.revenue0])
    cells = float(n_rate * config.n_sims) if n_rate else float("nan")
    at_quota = acc.ge_quota / n_rate if n_rate else acc.ge_quota * np.nan
    paid, exc, cap, cum = (
        v / cells for v in (acc.paid, acc.excellence, acc.capped, acc.band_counts)
    )
    band_share = np.diff(
        np.hstack([np.zeros((cum.shape[0], 1)), cum, np.ones((cum.shape[0], 1))]), axis=1
    )
    ti_budget = float(meta.ti_eff.sum())
    base_cost = float((sorted_inputs.base * sorted_inputs.months_in_role / 12.0).sum())

    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size)
    rep_impact = _rep_impact_frame(sorted_inputs, reps, inverse)
    standard = (
        pd.DataFrame(
            {
                "rep_id": sorted_inputs.rep_ids,
                "expected_attainment": reps["std_mean_a"],
                "p_attain_ge_1": reps["std_p_ge_1"],
                "expected_payout_multiple": reps["std_multiple"],
                "rate_rep": rate,
            }
        )
        .iloc[inverse]
        .reset_index(drop=True)
    )

    width = config.histogram_log_width
    pfp_rows = []
    role_verdicts = []
    for gi, g in enumerate(groups):
        h = acc.hist[gi * n_bins : (gi + 1) * n_bins]
        a10, a90 = _hist_quantile(h, 0.10, width), _hist_quantile(h, 0.90, width)
        for x in levels.tolist():
            f10, f90 = g.role.incentive_multiple(np.array([x * a10, x * a90]))
            pfp_rows.append(
                {
                    "role": g.role.name,
                    "company_attainment_x": x,
                    "attainment_p10": x * a10,
                    "attainment_p90": x * a90,
                    "payout_at_p10": f10,
                    "payout_at_p90": f90,
                }
            )
        xp = config.plan_attainment
        role_cells = float(acc.role_cells[gi]) or float("nan")
        f10, f90 = g.role.incentive_multiple(np.array([xp * a10, xp * a90]))
        slope = (
            (g.role.target_leverage - 1.0) / (xp * a90 - 1.0) if xp * a90 > 1.0 else float("nan")
        )
        role_verdicts.append(
            RoleVerdict(
                role=g.role.name,
                n_reps=int(rate[g.lo : g.hi].sum()),
                attainment_p10=xp * a10,
                attainment_p90=xp * a90,
                payout_at_p10=float(f10),
                payout_at_p90=float(f90),
                target_leverage=g.role.target_leverage,
                accelerator_slope_needed=slope,
                share_paid=float(acc.role_paid[gi]) / role_cells,
                share_at_quota=float(acc.role_quota[gi]) / role_cells,
                cap_binding_rate=float(acc.role_capped[gi]) / role_cells,
            )
        )
    pooled = acc.hist.reshape(len(groups), n_bins).sum(axis=0)
    a10_all = config.plan_attainment * _hist_quantile(pooled, 0.10, width)
    a90_all = config.plan_attainment * _hist_quantile(pooled, 0.90, width)
    # One curve for the pooled figures: the role holding the most rate reps.
    main = max(groups, key=lambda g: int(rate[g.lo : g.hi].sum()))
    f10_all, f90_all = main.role.incentive_multiple(np.array([a10_all, a90_all]))

    std_rate = standard["rate_rep"].to_numpy(dtype=np.bool_)
    std_mult = standard["expected_payout_multiple"].to_numpy(dtype=np.float64)[std_rate]
    std_p = standard["p_attain_ge_1"].to_numpy(dtype=np.float64)[std_rate]
    spread = float(np.max(np.abs(std_mult - np.median(std_mult)))) if std_mult.size else np.nan
    p_spread = float(np.max(np.abs(std_p - np.median(std_p)))) if std_p.size else np.nan

    uncond_total = acc.incentive[-1]
    realised = revenue[-1] / inputs.plan_revenue
    total_comp = base_cost + acc.incentive
    with np.errstate(divide="ignore", invalid="ignore"):
        ccos = total_comp / revenue
    ccos_rows = {
        x: float(np.median(ccos[int(np.flatnonzero(np.abs(levels - x) < 1e-9)[0])]))
        for x in config.ccos_attainments
    }
    sigma = config.sigma_rep
    verdicts = StressVerdicts(
        plan_attainment=config.plan_attainment,
        n_rate_reps=n_rate,
        n_excluded=int(held.sum()) - n_rate,
        expected_share_at_quota=float(at_quota[plan_row].mean()),
        p_share_at_quota_ge_min=float((at_quota[plan_row] >= config.min_share_at_quota).mean()),
        expected_share_paid=float(paid[plan_row]),
        payout_at_p90=float(f90_all),
        payout_at_p10=float(f10_all),
        attainment_p10=a10_all,
        attainment_p90=a90_all,
        payout_spread=spread,
        p_attain_spread=p_spread,
        p_company_within_band=float(
            (np.abs(realised - 1.0) <= config.forecast_accuracy_band).mean()
        ),
        reserve=float(np.percentile(uncond_total, 90) - np.percentile(uncond_total, 50)),
        ccos_p50=ccos_rows,
        over_assignment=inputs.over_assignment,
        over_assignment_bound=math.exp(-(sigma**2) / 2.0) - 1.0,
        largest_threshold_for_90pct_paid=a10_all,
        roles=tuple(role_verdicts),
    )
    x_all = np.concatenate([levels, [np.nan]])
    return StressResult(
        seed=used_seed,
        config=config,
        x=x_all,
        incentive=acc.incentive,
        revenue=revenue,
        share_ge_quota=at_quota,
        share_paid=paid,
        share_excellence=exc,
        share_capped=cap,
        band_share=band_share,
        ti_budget=ti_budget,
        base_cost=base_cost,
        plan_revenue=inputs.plan_revenue,
        rep_impact=rep_impact,
        standard_rep=standard,
        pay_for_performance=pd.DataFrame(pfp_rows),
        verdicts=verdicts,
    )


def _rep_impact_frame(
    inputs: StressInputs, reps: Mapping[str, FloatArray], inverse: IntArray
) -> pd.DataFrame:
    """The ``rep_impact.csv`` frame, back in the caller's rep order."""
    months = inputs.months_in_role / 12.0
    frame = pd.DataFrame(
        {
            "rep_id": inputs.rep_ids,
            "territory_id": inputs.territory_ids,
            "role": inputs.roles,
            "quota": inputs.quota,
            "ote": inputs.base + inputs.ti,
            "ti": inputs.ti,
            "expected_attainment": reps["mean_a"],
            "p_attain_ge_1": reps["p_ge_1"],
            "p_below_threshold": reps["p_below"],
            "payout_p10": reps["pay_p10"],
            "payout_p50": reps["pay_p50"],
            "payout_p90": reps["pay_p90"],
            "expected_payout": np.nan_to_num(reps["pay_mean"]),
            "expected_total_comp": inputs.base * months + np.nan_to_num(reps["pay_mean"]),
            "prior_year_quota": inputs.prior_year_quota,
            "prior_year_payout": inputs.prior_year_payout,
        }
    )
    frame["delta_expected_payout"] = frame["expected_payout"] - frame["prior_year_payout"]
    return frame.iloc[inverse].reset_index(drop=True).loc[:, list(REP_IMPACT_COLUMNS)]


def _apply_lever(
    inputs: StressInputs, plan: CompPlan, config: StressConfig, lever: str, value: float
) -> tuple[StressInputs, CompPlan, StressConfig]:
    """Inputs, plan and config with one design lever set to ``value``."""
    if lever == "over_assignment":
        scale = inputs.plan_revenue * (1.0 + value) / float(inputs.quota.sum())
        return replace(inputs, quota=inputs.quota * scale), plan, config
    if lever == "accelerator_slope":
        roles = {name: r.with_accelerator(value) for name, r in plan.roles.items()}
        return inputs, plan.model_copy(update={"roles": roles}), config
    if lever == "sigma_idio":
        no_overrides = replace(inputs, sigma_idio=np.full(inputs.n_reps, np.nan))
        return no_overrides, plan, replace(config, sigma_idio=value)
    if lever == "sigma_effectiveness":
        return inputs, plan, replace(config, sigma_effectiveness=value)
    if lever == "sigma_company":
        return inputs, plan, replace(config, sigma_company=value)
    raise ScenarioError(
        f"unknown sensitivity lever '{lever}'; possible options are: {sorted(_default_levers())}"
    )


def sensitivity_grid(
    inputs: StressInputs,
    plan: CompPlan,
    lever: str,
    values: Sequence[float] | None = None,
    config: StressConfig | None = None,
    *,
    seed: SeedLike = None,
) -> pd.DataFrame:
    """Forecast-vs-payout grid: company attainment x one design lever (``sensitivity_grid.csv``).

    Levers: ``over_assignment`` (quotas rescaled so the street total is G x (1 + value)),
    ``accelerator_slope`` (slope of the tier starting at quota, every role), and
    ``sigma_idio`` / ``sigma_effectiveness`` / ``sigma_company``. Every lever value reuses the
    same seed, so cells differ by the lever, not by sampling noise.
    """
    config = config or StressConfig()
    if lever not in config.sensitivity_levers and values is None:
        raise ScenarioError(
            f"unknown sensitivity lever '{lever}'; possible options are: "
            f"{sorted(config.sensitivity_levers)}"
        )
    chosen = tuple(values) if values is not None else config.sensitivity_levers[lever]
    if isinstance(seed, np.random.Generator):
        seed = int(seed.integers(2**63 - 1))
    elif seed is None:
        seed = int(np.random.SeedSequence().entropy)  # type: ignore[arg-type]
    frames = []
    for value in chosen:
        inp, pl, cfg = _apply_lever(inputs, plan, config, lever, float(value))
        sorted_inputs, _ = _sorted_by_role(inp, pl, cfg)
        meta, acc, _ = _simulate(sorted_inputs, pl, cfg, np.random.default_rng(seed), detail=False)
        levels = meta.levels
        rate_n = int(meta.rate.sum())
        # ge_quota counts per simulation; the grid reports its mean over simulations.
        ti_budget = float(meta.ti_eff.sum())
        base_cost = float((sorted_inputs.base * sorted_inputs.months_in_role / 12.0).sum())
        revenue = levels[:, None] * acc.revenue0[None, :]
        inc = acc.incentive[:-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            ccos = (base_cost + inc) / revenue
            share = acc.ge_quota[:-1] / rate_n if rate_n else acc.ge_quota[:-1] * np.nan
        frames.append(
            pd.DataFrame(
                {
                    "lever": lever,
                    "lever_value": float(value),
                    "company_attainment_x": levels,
                    "incentive_to_ti_budget_p50": np.median(inc, axis=1) / ti_budget,
                    "ccos_p50": np.median(ccos, axis=1),
                    "pct_reps_ge_quota": 100 * share.mean(axis=1),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def p_at_quota(over_assignment: float, sigma: float) -> float:
    """Share of reps at or above quota when the company lands on plan (lognormal attainment).

    Phi((-ln(1 + OA) - sigma^2 / 2) / sigma); shown next to the over-assignment input.
    """
    if sigma <= 0:
        return 1.0 if over_assignment <= 0 else 0.0
    return float(norm.cdf((-math.log1p(over_assignment) - sigma**2 / 2.0) / sigma))
