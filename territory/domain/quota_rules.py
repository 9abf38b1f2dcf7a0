"""What a quota configuration may hold, declared as pydantic models.

:class:`~territory.domain.quota_config.QuotaConfig` stays a plain frozen dataclass that the CLI,
scenario
files and Python callers build; :func:`check_config` validates its values against the models here
(every rule at once) and words each broken rule as ``quota config key 'K' is V; <what is
allowed>``. The few rules that tie two keys together are a small function beside the models.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from territory.domain.contract import MAX_TOTAL_MAGNITUDE
from territory.domain.quota_config import HISTORY_COLUMNS, METHODS, MethodName, QuotaConfig
from territory.errors import ScenarioError

__all__ = ["check_config"]

_LIMIT_TEXT = f"{MAX_TOTAL_MAGNITUDE:.0e}".replace("e+", "e")  # "1e18" in messages

# A number a sum or product can be built from: finite and within the total limit (a target of
# 1e308 is finite but overflows every sum built from it).
_LIMITS: dict[str, Any] = {"strict": True, "allow_inf_nan": False}
Finite = Annotated[float, Field(ge=-MAX_TOTAL_MAGNITUDE, le=MAX_TOTAL_MAGNITUDE, **_LIMITS)]
NonNegative = Annotated[float, Field(ge=0, le=MAX_TOTAL_MAGNITUDE, **_LIMITS)]
Positive = Annotated[float, Field(gt=0, le=MAX_TOTAL_MAGNITUDE, **_LIMITS)]
Share = Annotated[float, Field(ge=0, le=1, **_LIMITS)]


def _positive_sum(values: tuple[float, ...]) -> tuple[float, ...]:
    if not sum(values) > 0:
        raise ValueError("the values add up to 0")
    return values


def _ends_above_zero(values: tuple[float, ...]) -> tuple[float, ...]:
    if not values[-1] > 0:
        raise ValueError("the last value is 0")
    return values


class _Rules(BaseModel):
    model_config = ConfigDict(from_attributes=True, arbitrary_types_allowed=True)


class _MethodRules(_Rules):
    name: MethodName
    increment_basis: Literal["headroom", "potential"]
    new_territory_rule: Literal["potential", "peer"]
    year_weights: Annotated[
        tuple[NonNegative, ...],
        Field(min_length=1, max_length=len(HISTORY_COLUMNS)),
        AfterValidator(_positive_sum),
    ]
    other_role_history_weight: Share
    role_history_weights: dict[str, Share]
    history_weight: Share | None
    full_productivity: dict[str, NonNegative] | None
    quota_to_ote: Positive | None


class _CapsRules(_Rules):
    min_change: Finite
    max_change: Finite
    reference: Literal["prior_quota", "history"]


class _RampRules(_Rules):
    monthly: Annotated[tuple[Share, ...], Field(min_length=1), AfterValidator(_ends_above_zero)]


class _SeasonalityRules(_Rules):
    periods: Literal["quarter", "month"]
    profile: tuple[NonNegative, ...] | None
    history_years: Annotated[float, Field(ge=1)]
    shrink_deals: Annotated[float, Field(ge=0)]


class _ConfigRules(_Rules):
    company_target: Positive
    non_quota_revenue: NonNegative
    over_assignment: (
        Annotated[float, Field(gt=-1, le=MAX_TOTAL_MAGNITUDE, **_LIMITS)]
        | tuple[Annotated[float, Field(gt=-1, le=MAX_TOTAL_MAGNITUDE, **_LIMITS)], ...]
    )
    method: _MethodRules
    caps: _CapsRules | None
    ramp: _RampRules
    seasonality: _SeasonalityRules
    capacity_stretch: Annotated[float, Field(ge=0)]
    attainment_sigma: Annotated[float, Field(gt=0)]


def _blend(config: QuotaConfig) -> list[Any]:
    m = config.method
    blend = [m.other_role_history_weight, *m.role_history_weights.values()]
    return blend if m.history_weight is None else [*blend, m.history_weight]


def _caps(config: QuotaConfig) -> tuple[float, float] | None:
    return None if config.caps is None else (config.caps.min_change, config.caps.max_change)


# Each key users see, in the order problems are listed: the value shown and what is allowed.
_KEYS: dict[str, tuple[Callable[[QuotaConfig], Any], str]] = {
    "company_target": (
        lambda c: c.company_target,
        f"use the plan in currency, more than 0 and at most {_LIMIT_TEXT}",
    ),
    "non_quota_revenue": (
        lambda c: c.non_quota_revenue,
        "use an amount between 0 and company_target",
    ),
    "over_assignment": (
        lambda c: c.over_assignment,
        "use rates above -1, e.g. 0.10 or (0.10, 0.05) for two levels",
    ),
    "method.name": (lambda c: c.method.name, f"possible options are {list(METHODS)}"),
    "method.increment_basis": (
        lambda c: c.method.increment_basis,
        "possible options are ['headroom', 'potential']",
    ),
    "method.new_territory_rule": (
        lambda c: c.method.new_territory_rule,
        "possible options are ['potential', 'peer']",
    ),
    "method.year_weights": (
        lambda c: c.method.year_weights,
        f"give 1 to {len(HISTORY_COLUMNS)} non-negative weights, most recent year first",
    ),
    "method.history_weight": (_blend, "blend weights lie between 0 and 1"),
    "method.full_productivity": (
        lambda c: dict(c.method.full_productivity or {}),
        "give a non-negative amount per role",
    ),
    "method.quota_to_ote": (lambda c: c.method.quota_to_ote, "use a ratio above 0"),
    "caps.min_change/max_change": (_caps, "need -1 <= min_change <= max_change"),
    "caps.reference": (
        lambda c: c.caps.reference if c.caps else None,
        "possible options are ['prior_quota', 'history']",
    ),
    "ramp.monthly": (
        lambda c: c.ramp.monthly,
        "give monthly shares between 0 and 1, ending above 0",
    ),
    "seasonality.periods": (
        lambda c: c.seasonality.periods,
        "possible options are ['quarter', 'month']",
    ),
    "seasonality.profile": (
        lambda c: c.seasonality.profile,
        "give {n} non-negative shares with a positive sum",
    ),
    "seasonality.history_years": (lambda c: c.seasonality.history_years, "use 1 or more"),
    "seasonality.shrink_deals": (lambda c: c.seasonality.shrink_deals, "use 0 or more"),
    "capacity_stretch": (lambda c: c.capacity_stretch, "use 0+"),
    "attainment_sigma": (lambda c: c.attainment_sigma, "use > 0"),
}

# Fields whose rule users know under another key (the blend weights share one rule).
_KEY_OF_FIELD = {
    "method.other_role_history_weight": "method.history_weight",
    "method.role_history_weights": "method.history_weight",
    "caps.min_change": "caps.min_change/max_change",
    "caps.max_change": "caps.min_change/max_change",
}


def _key(loc: tuple[int | str, ...]) -> str:
    path = ".".join(str(part) for part in loc if isinstance(part, str))
    for field_name in (path, ".".join(path.split(".")[:2]), path.split(".")[0]):
        name = _KEY_OF_FIELD.get(field_name, field_name)
        if name in _KEYS:
            return name
    return path


def _linked(config: QuotaConfig) -> set[str]:
    """List the broken rules that tie two keys together (pydantic checks each key alone)."""
    broken = set()
    if not config.non_quota_revenue <= config.company_target:
        broken.add("non_quota_revenue")
    caps = config.caps
    if caps is not None and not -1 <= caps.min_change <= caps.max_change:
        broken.add("caps.min_change/max_change")
    s = config.seasonality
    periods_known = s.periods in ("quarter", "month")
    if s.profile is not None and periods_known and len(s.profile) != s.n_periods:
        broken.add("seasonality.profile")
    return broken


def check_config(config: QuotaConfig) -> None:
    """Reject settings that make no sense, naming every key and what is allowed.

    Parameters
    ----------
    config
        Company number, method, caps, ramp and seasonality, as read from the scenario or built.

    Raises
    ------
    ScenarioError
        With one ``quota config key 'K' is V; ...`` part per broken rule, in a fixed key order.
    """
    broken: set[str] = set()
    try:
        _ConfigRules.model_validate(config)
    except ValidationError as exc:
        for error in exc.errors():
            key = _key(error["loc"])
            if key == "seasonality.profile" and config.seasonality.periods not in (
                "quarter",
                "month",
            ):
                continue  # the profile is judged once the periods are known
            broken.add(key)
    with contextlib.suppress(TypeError):  # a key of the wrong type, already reported above
        broken |= _linked(config)
    errors = []
    for key, (value, allowed) in _KEYS.items():
        if key in broken:
            if key == "seasonality.profile":
                allowed = allowed.format(n=config.seasonality.n_periods)
            errors.append(f"quota config key '{key}' is {value(config)!r}; {allowed}")
    unknown = sorted(broken - set(_KEYS))
    errors += [f"quota config key '{key}' is not valid" for key in unknown]
    if errors:
        raise ScenarioError("; ".join(errors))
