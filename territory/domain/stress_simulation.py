"""The Monte Carlo engine of the stress test: rep draws in column blocks, bounded memory.

Private to :mod:`territory.domain.stress`: draws every rep's annual sales block by block (common
random
numbers across company-attainment scenarios) and accumulates pay, cost and attainment
histograms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from territory.domain.arrays import BoolArray, FloatArray, IntArray
from territory.domain.comp import CompPlan, RolePlan
from territory.domain.stress_config import SeedLike, StressConfig
from territory.domain.stress_inputs import StressInputs, held_share
from territory.errors import ScenarioError

_LOG_LO, _LOG_HI = -12.0, 6.0
"""Range of ln(attainment) kept in the pooled histograms (beyond it values are clipped)."""


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
    """Draw sigma * Z - sigma^2 / 2 per column: mean-one lognormal factors, in log form."""
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
    """Return a generator and the integer seed to record (fresh entropy when none is given)."""
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
