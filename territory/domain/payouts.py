"""What a comp plan pays: earnings at given attainments, the payout table, worked examples.

:func:`payout_for` turns attainment into base and incentive for one rep; :func:`payout_table`
writes the calculator (``payout_table.csv``) and :func:`sample_calculations` the plain-English
examples of the plan document.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from territory.domain.arrays import FloatArray
from territory.domain.comp import CompPlan, RolePlan, _pct
from territory.errors import ScenarioError


@dataclass(frozen=True)
class Earnings:
    """What a rep earns at given attainments: base, incentive in total and per measure."""

    base: float
    incentive: FloatArray
    total: FloatArray
    by_measure: Mapping[str, FloatArray]


def payout_for(
    role: RolePlan,
    attainment: npt.ArrayLike | Mapping[str, npt.ArrayLike],
    *,
    ote: float | None = None,
    months_in_role: float = 12.0,
) -> Earnings:
    """Compute the earnings of a rep on ``role`` at the given attainment.

    The attainment is one value for all measures, or a mapping measure name -> attainment.

    ``ote`` overrides the role's OTE for this rep (the pay mix still applies); base and incentive
    are pro-rated by ``months_in_role`` / 12.

    Parameters
    ----------
    role
        The rep's role plan.
    attainment
        Attainment of quota (1.0 = 100%), scalar or array, or one per measure name.
    ote
        The rep's on-target earnings, currency/year.
    months_in_role
        Months of the year the rep holds the role.

    Returns
    -------
    Earnings
        Base, incentive and total, shaped like the attainment.
    """
    ote = role.ote if ote is None else float(ote)
    share = months_in_role / 12.0
    ti = ote * role.pay_mix.variable * share
    if isinstance(attainment, Mapping):
        missing = [m.name for m in role.measures if m.name not in attainment]
        if missing:
            raise ScenarioError(f"role '{role.name}': no attainment given for measure(s) {missing}")
        per = {m.name: np.asarray(attainment[m.name], dtype=np.float64) for m in role.measures}
    else:
        a = np.asarray(attainment, dtype=np.float64)
        per = {m.name: a for m in role.measures}
    by_measure = {
        m.name: np.asarray(ti * m.weight * role.curve_of(m).payout(per[m.name]), dtype=np.float64)
        for m in role.measures
    }
    incentive = np.asarray(sum(by_measure.values()), dtype=np.float64)
    base = ote * role.pay_mix.base * share
    return Earnings(base=base, incentive=incentive, total=base + incentive, by_measure=by_measure)


def attainment_steps(start: float = 0.0, stop: float = 2.0, step: float = 0.05) -> FloatArray:
    """Evenly spaced attainments for the payout table, rounded so 1.0 appears exactly.

    Parameters
    ----------
    start, stop, step
        First and last attainment (inclusive) and the step.

    Returns
    -------
    numpy.ndarray
        The attainments.
    """
    n = int(math.floor((stop - start) / step + 1e-9)) + 1
    return np.round(start + step * np.arange(n, dtype=np.float64), 10)


def _roles_of(plan: CompPlan | RolePlan) -> list[tuple[str, RolePlan]]:
    if isinstance(plan, RolePlan):
        return [(plan.name, plan)]
    return [(f"{plan.plan_id}/{name}", role) for name, role in plan.roles.items()]


def payout_table(
    plan: CompPlan | RolePlan,
    attainments: npt.ArrayLike | None = None,
    *,
    sample_ote: float | None = None,
) -> pd.DataFrame:
    """Return the payout calculator as a table (``payout_table.csv`` layout).

    One row per role, measure and attainment step (0% to 200% by 5 points unless given).

    ``payout_multiple_of_ti`` is the measure's curve value, ``payout_at_sample_ote`` that
    measure's incentive for a rep on the role's OTE (or ``sample_ote``), and ``marginal_rate``
    the curve's slope just above the step. ``plan_id`` is ``<plan>/<role>``.

    Parameters
    ----------
    plan
        The comp plan, or one role plan.
    attainments
        Attainment steps; 0 to 2 by 0.05 when None.
    sample_ote
        OTE used for the currency column instead of each role's.

    Returns
    -------
    pandas.DataFrame
        One row per role, measure and step.
    """
    a = attainment_steps() if attainments is None else np.asarray(attainments, dtype=np.float64)
    frames = []
    for plan_id, role in _roles_of(plan):
        ote = role.ote if sample_ote is None else sample_ote
        for m in role.measures:
            curve = role.curve_of(m)
            multiple = curve.payout(a)
            idx = curve.tier_index(a)
            capped = curve.capped(a)
            below = "below threshold" if curve.threshold is not None else "no payout"
            labels = [
                below if i < 0 else ("capped" if c else curve.tier_label(int(i)))
                for i, c in zip(idx.tolist(), capped.tolist(), strict=True)
            ]
            frames.append(
                pd.DataFrame(
                    {
                        "plan_id": plan_id,
                        "measure": m.name,
                        "attainment": a,
                        "payout_multiple_of_ti": multiple,
                        "payout_at_sample_ote": ote * role.pay_mix.variable * m.weight * multiple,
                        "marginal_rate": curve.marginal_rate(a),
                        "tier_label": labels,
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def _money(value: float) -> str:
    return f"{value:,.0f}"


def _article(noun: str) -> str:
    return "an" if noun[:1].lower() in "aeiou" else "a"


def sample_calculations(
    plan: CompPlan | RolePlan,
    attainments: Sequence[float] = (0.8, 1.0, 1.3),
    *,
    currency: str | None = None,
) -> list[str]:
    """Worked examples in plain English, one per role and attainment, for the plan document.

    With several measures the example assumes the same attainment on each and says so.

    Parameters
    ----------
    plan
        The comp plan, or one role plan.
    attainments
        Attainments to work through.
    currency
        Currency code put before amounts.

    Returns
    -------
    list of str
        One paragraph per role and attainment.
    """
    cur = currency or (plan.currency if isinstance(plan, CompPlan) else "")
    unit = f" {cur}" if cur else ""
    out: list[str] = []
    for _, role in _roles_of(plan):
        noun = role.name.replace("_", " ")
        ti = role.target_incentive
        mix = f"{role.pay_mix.base * 100:.0f}/{role.pay_mix.variable * 100:.0f}"
        for a in attainments:
            parts: list[str] = []
            incentive = 0.0
            for m in role.measures:
                multiple, steps = role.curve_of(m).explain(a)
                amount = ti * m.weight * multiple
                incentive += amount
                prefix = f"{m.name} ({m.weight:.0%} of TI): " if len(role.measures) > 1 else ""
                parts.append(
                    f"{prefix}{'; '.join(steps)}; {multiple:.2f} x {_money(ti * m.weight)}"
                    f" = {_money(amount)}"
                )
            same = " (same attainment on every measure)" if len(role.measures) > 1 else ""
            total = _money(role.base_salary + incentive)
            out.append(
                f"At {_pct(a)} of quota{same}, {_article(noun)} {noun} with OTE "
                f"{_money(role.ote)}{unit} ({mix} mix: base {_money(role.base_salary)} + target "
                f"incentive {_money(ti)}) earns an incentive of {_money(incentive)}{unit} "
                f"({incentive / ti:.2f} x target incentive) and {total}{unit} in total. How: "
                + " | ".join(parts)
                + "."
            )
    return out
