"""Per-rep inputs of the stress simulation, built from the quota table and rep history.

:class:`StressInputs` aligns one entry per rep or vacant territory (quota, expected sales, role,
ramp and tenure); :func:`held_share` is the share of a full year a rep sells.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from territory.domain.arrays import FloatArray, IntArray, ObjectArray
from territory.domain.comp import CompPlan
from territory.errors import DataValidationError, InputProblem


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

    rep_ids: ObjectArray
    roles: ObjectArray
    quota: FloatArray
    expected_sales: FloatArray
    ti: FloatArray
    base: FloatArray
    months_in_role: FloatArray
    tenure_months: FloatArray
    effectiveness: FloatArray
    sigma_idio: FloatArray
    segment: IntArray
    territory_ids: ObjectArray
    prior_year_quota: FloatArray
    prior_year_payout: FloatArray
    plan_revenue: float

    def __post_init__(self) -> None:
        """Refuse arrays of different lengths or with impossible values."""
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
        """Return the same inputs with reps reordered."""
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

    Parameters
    ----------
    months_in_role
        Months of the plan year each rep holds the role.
    tenure_months
        Months since each rep started, at the start of that stretch.
    ramp
        Productivity in months 1, 2, ... since start; the last value holds after.

    Returns
    -------
    numpy.ndarray
        Share of a full year per rep, between 0 and 1.
    """
    schedule = np.asarray(ramp, dtype=np.float64)
    j = np.arange(1, 13, dtype=np.float64)
    weight = np.clip(months_in_role[:, None] - (j[None, :] - 1.0), 0.0, 1.0)
    month = np.floor(tenure_months)[:, None] + j[None, :]
    productivity = schedule[np.clip(month.astype(np.int64), 1, schedule.size) - 1]
    return np.asarray((weight * productivity).sum(axis=1) / 12.0, dtype=np.float64)
