"""Compensation plans: pay mix, measures and payout curves, read from TOML and checked at the edge.

A plan file names one or more roles. Each role has an on-target earnings (OTE) figure split into
base and target incentive (TI), up to three weighted measures and a piecewise-linear payout curve
``f(A)`` that turns attainment ``A`` (sales / quota) into a multiple of TI. The rules every curve
must keep (never falls, pays exactly TI at quota, contiguous tiers) are checked when the file is
read, so the stress test and the payout calculator (:mod:`territory.domain.payouts`) can trust what
they get.

Example file (``data/comp/hunter.toml``)::

    plan_id = "hunter"
    [roles.hunter]
    ote = 200000
    pay_mix = { base = 0.5, variable = 0.5 }
    [[roles.hunter.measures]]
    name = "bookings"
    weight = 1.0
    [roles.hunter.curve]
    tiers = [
      { from = 0.0, to = 1.0, slope = 1.0 },
      { from = 1.0, to = 1.5, slope = 2.0 },
      { from = 1.5, slope = 1.0 },
    ]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from territory.domain.arrays import BoolArray, FloatArray, IntArray
from territory.domain.contract import MAX_MAGNITUDE
from territory.errors import ScenarioError

QUOTA_TOLERANCE = 1e-9
"""How close f(1.0) must be to 1.0: at quota a rep earns exactly the target incentive."""

MAX_MEASURES = 3
"""Most measures a role may carry; more dilutes each one below the point where reps act on it."""


def _rule(key: str, message: str) -> PydanticCustomError:
    """Return a validation error that remembers which key inside the model broke the rule."""
    return PydanticCustomError(
        "comp_rule", message.replace("{", "(").replace("}", ")"), {"key": key}
    )


def _pct(value: float) -> str:
    """Attainment as a percentage for messages and labels (1.25 -> '125%')."""
    return f"{value * 100:.4g}%"


class _Model(BaseModel):
    """Base of the comp plan models: frozen and strict.

    Strict about unknown keys, NaN, infinity (TOML allows both) and numbers beyond
    :data:`territory.domain.contract.MAX_MAGNITUDE` (finite, but payouts built from them overflow).
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
        validate_by_name=True,
        validate_by_alias=True,
    )

    @field_validator("*", mode="after")
    @classmethod
    def _bounded(cls, value: Any) -> Any:
        if (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and abs(value) > MAX_MAGNITUDE
        ):
            raise PydanticCustomError(
                "too_large",
                f"{value!r} is beyond the largest magnitude supported ("
                + f"{MAX_MAGNITUDE:.0e}".replace("e+", "e")
                + "); check for a stray exponent",
            )
        return value


class Threshold(_Model):
    """Attainment below which nothing is paid, and the payout (TI multiple) when it is reached."""

    at: float
    payout_at_threshold: float = 0.0


class Tier(_Model):
    """One linear piece of the curve: ``slope`` TI multiples per 1.00 of attainment.

    ``end`` (``to`` in the file) is omitted on the last tier, which runs without limit.
    """

    start: float = Field(validation_alias="from")
    end: float | None = Field(default=None, validation_alias="to")
    slope: float
    label: str | None = None


class Cap(_Model):
    """Largest payout as a multiple of TI."""

    payout_multiple: float


class PayoutCurve(_Model):
    """Attainment to payout (multiple of TI): optional threshold bump, linear tiers, optional cap.

    Payout is 0 below the start of the curve (the threshold, or the first tier when there is no
    threshold), jumps to ``payout_at_threshold`` there, then rises tier by tier.
    """

    threshold: Threshold | None = None
    tiers: tuple[Tier, ...]
    cap: Cap | None = None

    @model_validator(mode="after")
    def _check(self) -> PayoutCurve:
        check_curve(self)
        return self

    @property
    def start(self) -> float:
        """Attainment where payout begins (0 for a curve that pays from the first dollar)."""
        return self.threshold.at if self.threshold is not None else self.tiers[0].start

    @property
    def payout_at_start(self) -> float:
        """Payout (TI multiple) at the start of the curve: the threshold bump, or 0."""
        return self.threshold.payout_at_threshold if self.threshold is not None else 0.0

    def knots(self) -> tuple[FloatArray, FloatArray]:
        """Tier starts and the uncapped payout at each; the last tier continues past its start."""
        starts = np.array([t.start for t in self.tiers], dtype=np.float64)
        values = np.empty_like(starts)
        values[0] = self.payout_at_start
        for i in range(1, len(self.tiers)):
            prev = self.tiers[i - 1]
            values[i] = values[i - 1] + prev.slope * (starts[i] - prev.start)
        return starts, values

    def payout(
        self,
        attainment: npt.ArrayLike,
        *,
        capped: bool = True,
        out: FloatArray | None = None,
        work: FloatArray | None = None,
    ) -> FloatArray:
        """Payout as a multiple of TI for each attainment (vectorised; NaN stays NaN).

        ``capped=False`` gives the payout the curve would make without its cap, which tells
        how often the cap binds. ``out`` and ``work`` are optional preallocated arrays shaped
        like ``attainment``; the stress test's inner loop passes them to avoid allocations.
        """
        a = np.asarray(attainment, dtype=np.float64)
        if a.ndim == 0:
            return self.payout(a.reshape(1), capped=capped).reshape(())
        # Hinge form: f = v0 + s0 (A - k0)+ + sum_i (s_i - s_(i-1)) (A - k_i)+, all in place.
        k0, v0 = self.tiers[0].start, self.payout_at_start
        res = np.subtract(a, k0, out=out)
        np.maximum(res, 0.0, out=res)
        if self.tiers[0].slope != 1.0:
            res *= self.tiers[0].slope
        if v0 != 0.0:
            res += v0
        if len(self.tiers) > 1:
            tmp = work if work is not None else np.empty_like(res)
            for prev, tier in zip(self.tiers[:-1], self.tiers[1:], strict=True):
                change = tier.slope - prev.slope
                if change == 0.0:
                    continue
                np.subtract(a, tier.start, out=tmp)
                np.maximum(tmp, 0.0, out=tmp)
                if change == 1.0:
                    res += tmp
                elif change == -1.0:
                    res -= tmp
                else:
                    tmp *= change
                    res += tmp
        if v0 != 0.0:
            np.multiply(res, a >= self.start, out=res)
        if capped and self.cap is not None:
            np.minimum(res, self.cap.payout_multiple, out=res)
        return res

    def tier_index(self, attainment: npt.ArrayLike) -> IntArray:
        """Index of the tier each attainment falls in; -1 below the start of the curve."""
        a = np.asarray(attainment, dtype=np.float64)
        starts, _ = self.knots()
        idx = np.searchsorted(starts, a, side="right") - 1
        return np.asarray(np.where(a < self.start, -1, idx), dtype=np.int64)

    def marginal_rate(self, attainment: npt.ArrayLike) -> FloatArray:
        """Slope of the curve just above each attainment (TI multiples per 1.00 attainment).

        Zero below the start and wherever the cap binds.
        """
        a = np.asarray(attainment, dtype=np.float64)
        slopes = np.array([t.slope for t in self.tiers], dtype=np.float64)
        idx = self.tier_index(a)
        rate = np.where(idx >= 0, slopes[np.maximum(idx, 0)], 0.0)
        if self.cap is not None:
            rate = np.where(self.payout(a, capped=False) >= self.cap.payout_multiple, 0.0, rate)
        return np.asarray(rate, dtype=np.float64)

    def tier_label(self, i: int) -> str:
        """Readable name of tier ``i`` (its own label when the file gives one)."""
        tier = self.tiers[i]
        if tier.label:
            return tier.label
        span = (
            f"{_pct(tier.start)}+" if tier.end is None else f"{_pct(tier.start)}-{_pct(tier.end)}"
        )
        return f"{span} at {tier.slope:g}x"

    def capped(self, attainment: npt.ArrayLike) -> BoolArray:
        """Mark where the cap (if any) stops the payout from rising further."""
        a = np.asarray(attainment, dtype=np.float64)
        if self.cap is None:
            return np.zeros(a.shape, dtype=np.bool_)
        return np.asarray(self.payout(a, capped=False) > self.cap.payout_multiple, dtype=np.bool_)

    def with_slope_from(self, at: float, slope: float) -> PayoutCurve:
        """Return the curve with the tier that starts at ``at`` (usually quota) paying ``slope``.

        Used to try accelerators; raises ``ScenarioError`` when no tier starts there.
        """
        hits = [i for i, t in enumerate(self.tiers) if abs(t.start - at) <= QUOTA_TOLERANCE]
        if not hits:
            starts = [t.start for t in self.tiers]
            raise ScenarioError(
                f"no payout tier starts at attainment {at:g} (tiers start at {starts}); "
                "split a tier there before changing its slope"
            )
        tiers = list(self.tiers)
        tiers[hits[0]] = tiers[hits[0]].model_copy(update={"slope": slope, "label": None})
        return PayoutCurve(threshold=self.threshold, tiers=tuple(tiers), cap=self.cap)

    def explain(self, attainment: float) -> tuple[float, list[str]]:
        """Payout at one attainment and the steps that build it, as short phrases."""
        a = float(attainment)
        if a < self.start:
            return 0.0, [f"below the {_pct(self.start)} threshold, so nothing is paid"]
        steps: list[str] = []
        total = self.payout_at_start
        if self.threshold is not None and total > 0:
            steps.append(f"reaching the {_pct(self.start)} threshold pays {total:.2f}")
        for tier in self.tiers:
            if a <= tier.start:
                break
            top = a if tier.end is None else min(a, tier.end)
            part = tier.slope * (top - tier.start)
            total += part
            steps.append(
                f"{tier.slope:g}x on the {(top - tier.start) * 100:.4g} points from "
                f"{_pct(tier.start)} to {_pct(top)} = {part:.2f}"
            )
        if self.cap is not None and total > self.cap.payout_multiple:
            total = self.cap.payout_multiple
            steps.append(f"capped at {total:.2f}")
        if not steps:
            steps.append("no attainment yet, so nothing is earned")
        return total, steps


def check_curve(curve: PayoutCurve) -> None:
    """Raise on the first broken rule; the key in the error points inside the curve.

    Parameters
    ----------
    curve
        Tiers, threshold and cap of a role's (or one measure's) payout, as built or read.

    Raises
    ------
    pydantic_core.PydanticCustomError
        The first broken rule, with the key it concerns.
    """
    tiers = curve.tiers
    if not tiers:
        raise _rule("tiers", "at least one tier is needed")
    th = curve.threshold
    if th is not None:
        if th.at < 0:
            raise _rule("threshold.at", f"threshold at {th.at:g} is negative")
        if th.payout_at_threshold < 0:
            raise _rule(
                "threshold.payout_at_threshold",
                f"payout at threshold is {th.payout_at_threshold:g}; it cannot be negative",
            )
        if abs(tiers[0].start - th.at) > QUOTA_TOLERANCE:
            raise _rule(
                "tiers[0].from",
                f"the first tier starts at {tiers[0].start:g} but the threshold is at {th.at:g}; "
                "the first tier must start at the threshold",
            )
    for i, tier in enumerate(tiers):
        if tier.start < 0:
            raise _rule(f"tiers[{i}].from", f"tier starts at {tier.start:g}; attainment is >= 0")
        if tier.slope < 0:
            raise _rule(
                f"tiers[{i}].slope",
                f"slope {tier.slope:g} is negative; the payout curve must never fall as "
                "attainment rises (use slope 0 for a flat tier, or a cap)",
            )
        last = i == len(tiers) - 1
        if tier.end is None and not last:
            raise _rule(
                f"tiers[{i}].to",
                "only the last tier may omit 'to'; give this tier an end attainment",
            )
        if last and tier.end is not None:
            raise _rule(
                f"tiers[{i}].to",
                f"the last tier ends at {tier.end:g}; omit 'to' so it runs without limit "
                "(use 'cap' to stop payouts growing)",
            )
        if tier.end is not None and tier.end <= tier.start:
            raise _rule(
                f"tiers[{i}].to",
                f"tier ends at {tier.end:g}, not after its start {tier.start:g}; "
                "tiers must be listed in increasing order of attainment",
            )
        if i > 0:
            prev_end = tiers[i - 1].end
            if prev_end is not None and abs(tier.start - prev_end) > QUOTA_TOLERANCE:
                raise _rule(
                    f"tiers[{i}].from",
                    f"tier starts at {tier.start:g} but the previous tier ends at {prev_end:g}; "
                    "tiers must be contiguous (no gaps or overlaps)",
                )
    if curve.cap is not None and curve.cap.payout_multiple <= 0:
        raise _rule("cap.payout_multiple", "the cap must be a positive multiple of TI")
    at_quota = float(curve.payout(np.array([1.0]))[0])
    if abs(at_quota - 1.0) > QUOTA_TOLERANCE:
        raise _rule(
            "tiers",
            f"the curve pays {at_quota:.6g} x TI at quota (attainment 1.0); it must pay exactly "
            "1.0 so that a rep on quota earns the target incentive (adjust slopes, threshold "
            "payout or cap)",
        )


class PayMix(_Model):
    """Shares of OTE paid as base and as target incentive; they add up to 1."""

    base: float
    variable: float


class Measure(_Model):
    """One thing the role is paid on, its share of TI and, optionally, its own payout curve."""

    name: str
    weight: float
    objective_id: str | None = None
    curve: PayoutCurve | None = None


class RolePlan(_Model):
    """The plan of one selling role.

    ``rep_roles`` lists the values of the reps table's ``role`` column that use this plan (the
    role's own name when omitted). ``excellence_attainment`` and ``target_leverage`` describe the
    excellence point that the stress test reports against (share of reps past it, payout there).
    """

    name: str
    description: str = ""
    rep_roles: tuple[str, ...] = ()
    ote: float
    pay_mix: PayMix
    measures: tuple[Measure, ...]
    curve: PayoutCurve
    excellence_attainment: float = 1.5
    target_leverage: float = 2.0

    @model_validator(mode="before")
    @classmethod
    def _default_rep_roles(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and not data.get("rep_roles") and "name" in data:
            return {**data, "rep_roles": (data["name"],)}
        return data

    @model_validator(mode="after")
    def _check(self) -> RolePlan:
        if self.ote <= 0:
            raise _rule("ote", f"OTE is {self.ote:g}; it must be > 0 (currency per year)")
        mix = self.pay_mix
        if mix.base < 0 or mix.variable < 0:
            raise _rule("pay_mix", "base and variable shares cannot be negative")
        if abs(mix.base + mix.variable - 1.0) > QUOTA_TOLERANCE:
            raise _rule(
                "pay_mix",
                f"base {mix.base:g} + variable {mix.variable:g} = {mix.base + mix.variable:g}; "
                "the two parts of the pay mix must add up to 1 (e.g. base 0.6, variable 0.4)",
            )
        if not self.measures:
            raise _rule("measures", "at least one measure is needed")
        if len(self.measures) > MAX_MEASURES:
            raise _rule(
                "measures",
                f"{len(self.measures)} measures; a role may carry at most {MAX_MEASURES}",
            )
        names = [m.name for m in self.measures]
        if len(set(names)) != len(names):
            raise _rule("measures", f"measure names repeat: {names}")
        for i, m in enumerate(self.measures):
            if m.weight <= 0:
                raise _rule(f"measures[{i}].weight", f"weight {m.weight:g} must be > 0")
        total = sum(m.weight for m in self.measures)
        if abs(total - 1.0) > QUOTA_TOLERANCE:
            raise _rule(
                "measures",
                f"measure weights add up to {total:.6g}; they must add up to 1",
            )
        if self.excellence_attainment <= 1.0:
            raise _rule(
                "excellence_attainment",
                f"excellence at {self.excellence_attainment:g} must lie above quota (1.0)",
            )
        if self.target_leverage <= 1.0:
            raise _rule(
                "target_leverage",
                f"target leverage {self.target_leverage:g} must exceed 1 (TI at quota)",
            )
        return self

    @property
    def target_incentive(self) -> float:
        """Annual TI: the variable share of OTE."""
        return self.ote * self.pay_mix.variable

    @property
    def base_salary(self) -> float:
        """Annual base pay."""
        return self.ote * self.pay_mix.base

    def curve_of(self, measure: Measure) -> PayoutCurve:
        """Return the measure's own curve, or the role's."""
        return measure.curve if measure.curve is not None else self.curve

    @property
    def payout_start(self) -> float:
        """Lowest attainment at which any measure pays (the effective threshold)."""
        return min(self.curve_of(m).start for m in self.measures)

    def light_measures(self, min_weight: float = 0.20) -> tuple[str, ...]:
        """Measures weighted under ``min_weight``; kept as data for the C5 check, not an error."""
        return tuple(m.name for m in self.measures if m.weight < min_weight)

    def incentive_multiple(
        self,
        attainment: npt.ArrayLike,
        *,
        out: FloatArray | None = None,
        work: FloatArray | None = None,
    ) -> FloatArray:
        """Weighted payout over measures (TI multiple) when every measure is at ``attainment``.

        ``out`` and ``work`` are optional preallocated arrays (see :meth:`PayoutCurve.payout`).
        """
        a = np.asarray(attainment, dtype=np.float64)
        if len(self.measures) == 1:
            return self.curve_of(self.measures[0]).payout(a, out=out, work=work)
        res = np.zeros(a.shape, dtype=np.float64) if out is None else out
        res.fill(0.0)
        part = np.empty_like(res)
        for m in self.measures:
            self.curve_of(m).payout(a, out=part, work=work)
            part *= m.weight
            res += part
        return res

    def capped(self, attainment: npt.ArrayLike) -> BoolArray:
        """Mark where the cap of any measure binds."""
        a = np.asarray(attainment, dtype=np.float64)
        out = np.zeros(a.shape, dtype=np.bool_)
        for m in self.measures:
            curve = self.curve_of(m)
            if curve.cap is not None:
                out |= curve.capped(a)
        return out

    @property
    def has_cap(self) -> bool:
        """Whether any measure's curve is capped."""
        return any(self.curve_of(m).cap is not None for m in self.measures)

    def with_accelerator(self, slope: float, at: float = 1.0) -> RolePlan:
        """Return the same plan with the tier starting at ``at`` paying ``slope`` in every curve."""
        measures = tuple(
            m
            if m.curve is None
            else m.model_copy(update={"curve": m.curve.with_slope_from(at, slope)})
            for m in self.measures
        )
        return self.model_copy(
            update={"curve": self.curve.with_slope_from(at, slope), "measures": measures}
        )


class CompPlan(_Model):
    """A plan file: an id, a currency and the plans of its roles (keyed by role name)."""

    plan_id: str
    currency: str = "USD"
    plan_year: int | None = None
    description: str = ""
    roles: dict[str, RolePlan]

    @model_validator(mode="before")
    @classmethod
    def _name_roles(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or not isinstance(data.get("roles"), Mapping):
            return data
        roles: dict[str, Any] = {}
        for key, role in data["roles"].items():
            if isinstance(role, Mapping):
                if "name" in role and role["name"] != key:
                    raise PydanticCustomError(
                        "comp_rule",
                        f"role table 'roles.{key}' sets name = '{role['name']}'; "
                        "drop 'name' or make it match the table key",
                        {"key": f"roles.{key}.name"},
                    )
                role = {**role, "name": key}
            roles[key] = role
        return {**data, "roles": roles}

    @model_validator(mode="after")
    def _check(self) -> CompPlan:
        if not self.roles:
            raise _rule("roles", "the plan has no roles; add at least one [roles.<name>] table")
        owner: dict[str, str] = {}
        for name, role in self.roles.items():
            for value in role.rep_roles:
                if value in owner:
                    raise _rule(
                        f"roles.{name}.rep_roles",
                        f"rep role '{value}' is already mapped to role '{owner[value]}'; "
                        "each reps-table role value may use one plan only",
                    )
                owner[value] = name
        return self

    @classmethod
    def of(cls, *roles: RolePlan, plan_id: str = "plan", currency: str = "USD") -> CompPlan:
        """Return a plan made of role plans built in code (for notebooks and tests)."""
        return cls(plan_id=plan_id, currency=currency, roles={r.name: r for r in roles})

    def role_for(self, rep_role: str) -> RolePlan:
        """Return the plan a reps-table role value maps to; the error lists the known values."""
        for role in self.roles.values():
            if rep_role in role.rep_roles:
                return role
        known = sorted(v for r in self.roles.values() for v in r.rep_roles)
        raise ScenarioError(
            f"plan '{self.plan_id}' has no role for rep role '{rep_role}' (known: {known}); "
            "add it to some role's rep_roles"
        )

    def design_flags(self, min_weight: float = 0.20) -> list[str]:
        """Plain-language notes on plan design the checks will pick up (not errors)."""
        notes: list[str] = []
        for role in self.roles.values():
            light = role.light_measures(min_weight)
            if light:
                notes.append(
                    f"role '{role.name}': measure(s) {list(light)} weigh under "
                    f"{min_weight:.0%} of the target incentive"
                )
        return notes


# Presets [D]: new-business reps with no threshold, account managers with a 75% threshold.
_STANDARD_ACCELERATION = (
    Tier(start=1.0, end=1.5, slope=2.0),
    Tier(start=1.5, slope=1.0),
)


def _bookings_preset(name: str, description: str, mix: PayMix, curve: PayoutCurve) -> RolePlan:
    """Build a preset paid on bookings alone at the default OTE of 200,000 a year."""
    return RolePlan(
        name=name,
        description=description,
        ote=200_000.0,
        pay_mix=mix,
        measures=(Measure(name="bookings", weight=1.0),),
        curve=curve,
    )


HUNTER = _bookings_preset(
    "hunter",
    "New-business rep: 50/50 mix, no threshold, 2x accelerator from 100% to 150%.",
    PayMix(base=0.5, variable=0.5),
    PayoutCurve(tiers=(Tier(start=0.0, end=1.0, slope=1.0), *_STANDARD_ACCELERATION)),
)
"""Preset plan for hunters, also shipped as ``data/comp/hunter.toml``."""

ACCOUNT_MANAGER = _bookings_preset(
    "account_manager",
    "Account manager: 70/30 mix, threshold at 75% paying 50% of TI, 2x from 100%.",
    PayMix(base=0.7, variable=0.3),
    PayoutCurve(
        threshold=Threshold(at=0.75, payout_at_threshold=0.5),
        tiers=(Tier(start=0.75, end=1.0, slope=2.0), *_STANDARD_ACCELERATION),
    ),
)
"""Preset plan for account managers, also shipped as ``data/comp/account_manager.toml``."""

PRESETS: Mapping[str, RolePlan] = {"hunter": HUNTER, "account_manager": ACCOUNT_MANAGER}


def preset(name: str) -> RolePlan:
    """Return a preset role plan by name; the error lists the presets.

    Parameters
    ----------
    name
        ``hunter`` or ``account_manager``.

    Returns
    -------
    RolePlan
        The preset.

    Raises
    ------
    ScenarioError
        No preset has that name.
    """
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key not in PRESETS:
        raise ScenarioError(
            f"unknown comp preset '{name}'; possible options are: {sorted(PRESETS)}"
        )
    return PRESETS[key]


def _where(loc: Sequence[int | str], ctx_key: str | None) -> tuple[str | None, str]:
    """Role name and dotted key (with [i] indices) of a validation error location."""
    key = ""
    for p in (str(p) for p in loc):
        key += f"[{p}]" if p.isdigit() else (f".{p}" if key else p)
    if ctx_key:
        key = ctx_key if ctx_key.startswith("roles.") else (f"{key}.{ctx_key}" if key else ctx_key)
    role = None
    if key.startswith("roles."):
        _, role, *rest = key.split(".", 2)
        key = rest[0] if rest else "(role table)"
    return role, key or "(top level)"


_TABLES: Mapping[str, type[_Model]] = {
    "pay_mix": PayMix,
    "measures": Measure,
    "curve": PayoutCurve,
    "threshold": Threshold,
    "tiers": Tier,
    "cap": Cap,
}


def _allowed_keys(loc: Sequence[int | str]) -> list[str]:
    """Keys the table holding an unknown key accepts (as written in the file)."""
    parents = [str(p) for p in loc[:-1] if not isinstance(p, int)]
    if not parents:
        model: type[_Model] = CompPlan
    elif parents[0] == "roles" and len(parents) == 2:
        model = RolePlan
    else:
        model = _TABLES.get(parents[-1], CompPlan)
    keys = [
        str(f.validation_alias) if isinstance(f.validation_alias, str) else name
        for name, f in model.model_fields.items()
    ]
    return [k for k in keys if k != "name" or model is not RolePlan]


def _scenario_error(source: str, exc: ValidationError) -> ScenarioError:
    """Turn pydantic's errors into one message that names the file, role and key of each."""
    lines = []
    for err in exc.errors():
        ctx = err.get("ctx") or {}
        role, key = _where(err["loc"], ctx.get("key") if err["type"] == "comp_rule" else None)
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = f"unknown key; allowed keys here are {_allowed_keys(err['loc'])}"
        elif err["type"] == "missing":
            msg = "required key is missing"
        where = f"role '{role}', key '{key}'" if role else f"key '{key}'"
        lines.append(f"  - {source}: {where}: {msg}")
    return ScenarioError(f"invalid comp plan {source}:\n" + "\n".join(lines))


def parse_comp(data: Mapping[str, Any], source: str = "<comp plan>") -> CompPlan:
    """Validate a comp plan given as a mapping (already parsed TOML or JSON).

    Parameters
    ----------
    data
        The plan's keys and values.
    source
        How messages name the plan (the file path).

    Returns
    -------
    CompPlan
        The validated plan.

    Raises
    ------
    ScenarioError
        Every problem, each naming the role and key.
    """
    try:
        return CompPlan.model_validate(data)
    except ValidationError as exc:
        raise _scenario_error(source, exc) from None
