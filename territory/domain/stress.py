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

The parts: :mod:`territory.domain.stress_config` (settings, sigma helpers),
:mod:`territory.domain.stress_inputs`
(per-rep inputs), :mod:`territory.domain.stress_simulation` (the engine) and
:mod:`territory.domain.stress_results` (tables and verdicts); this module runs them and re-exports
their public names.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
from scipy.stats import norm

from territory.domain.arrays import FloatArray, IntArray
from territory.domain.comp import CompPlan
from territory.domain.stress_config import (
    SeedLike,
    StressConfig,
    _default_levers,
    accelerator_slope_for_leverage,
    fenton_wilkinson_sigma,
    sigma_from_deals,
)
from territory.domain.stress_inputs import StressInputs, held_share
from territory.domain.stress_results import (
    REP_IMPACT_COLUMNS,
    SCENARIO_COLUMNS,
    RoleVerdict,
    StressResult,
    StressVerdicts,
)
from territory.domain.stress_simulation import (
    _hist_quantile,
    _resolve_seed,
    _simulate,
    _sorted_by_role,
)
from territory.errors import ScenarioError

__all__ = [
    "REP_IMPACT_COLUMNS",
    "SCENARIO_COLUMNS",
    "FloatArray",
    "RoleVerdict",
    "SeedLike",
    "StressConfig",
    "StressInputs",
    "StressResult",
    "StressVerdicts",
    "accelerator_slope_for_leverage",
    "fenton_wilkinson_sigma",
    "held_share",
    "p_at_quota",
    "run_stress",
    "sensitivity_grid",
    "sigma_from_deals",
]


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

    Parameters
    ----------
    inputs
        Per-rep inputs (quotas, expected sales, roles, ramp).
    plan
        The comp plan; every role in ``inputs`` must be in it.
    config
        Simulation settings; the engine defaults when None.
    seed
        Seed or generator; a fresh seed is drawn when None.

    Returns
    -------
    StressResult
        Outcomes per scenario, rep impact and verdicts.

    Raises
    ------
    ScenarioError
        There are no reps, or a role is not in the plan.
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
    """Return the ``rep_impact.csv`` frame, back in the caller's rep order."""
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
    """Return inputs, plan and config with one design lever set to ``value``."""
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

    Parameters
    ----------
    inputs
        Per-rep inputs.
    plan
        The comp plan.
    lever
        The lever to vary.
    values
        Its values; the config's ``sensitivity_levers`` entry when None.
    config
        Simulation settings; the engine defaults when None.
    seed
        Seed or generator shared by every lever value.

    Returns
    -------
    pandas.DataFrame
        One row per lever value and company attainment.

    Raises
    ------
    ScenarioError
        The lever is unknown or cannot be applied to the plan.
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

    Parameters
    ----------
    over_assignment
        Over-assignment rate (0.10 for 10%).
    sigma
        Log-sd of rep attainment.

    Returns
    -------
    float
        Share of reps at quota.
    """
    if sigma <= 0:
        return 1.0 if over_assignment <= 0 else 0.0
    return float(norm.cdf((-math.log1p(over_assignment) - sigma**2 / 2.0) / sigma))
