"""What a stress run returns: per-scenario tables, per-rep impact and the verdicts.

:class:`StressResult` holds the simulated outcomes; :class:`StressVerdicts` and
:class:`RoleVerdict` grade them against the pay-for-performance rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from territory.domain.arrays import FloatArray
from territory.domain.stress_config import StressConfig
from territory.errors import ScenarioError


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
