"""The specification of one alignment: every lever a value, its default and its range declared once.

The command line (``territory align``), scenario files (their ``[align]`` table) and Python
callers (:func:`territory.workflow.api.align`) all build one :class:`AlignmentSpec`; the direct
and the decomposed solve, the checkpoint key and ``solve.json``'s parameters are derived from
it. The ranges are those of :mod:`territory.domain.arguments`, so a value the command line
refuses is refused here with the same words.
"""

from __future__ import annotations

import difflib
import numbers
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from territory.domain import arguments as rules
from territory.domain.arguments import DEFAULT_CANDIDATES, DEFAULT_TIER_FACTORS
from territory.domain.budget import Budget
from territory.errors import ScenarioError, TerritoryError, UnknownSolverError, UsageError

if TYPE_CHECKING:
    from territory.domain.model import AlignmentSettings, BalanceRule

__all__ = [
    "AUTO_GAP",
    "DEFAULT_CANDIDATES",
    "EXACT_GAP",
    "FILE_LEVERS",
    "AlignmentSpec",
    "OptionalSeed",
]

AUTO_GAP = 0.01
"""``auto`` stops at 1% from the LP bound; the heuristic alone usually reaches it."""
EXACT_GAP = 1e-6
"""An explicitly chosen exact backend searches until the optimum is proven (or time runs out)."""

FILE_LEVERS = ("units", "links", "forbidden", "checkpoint")
"""Levers that name files or folders (relative to the scenario file in a scenario)."""

CAP_LEVERS = ("max_moved_accounts", "max_moved_revenue_share")
"""Caps on moves: out of range they are a :class:`~territory.errors.ScenarioError`, as always."""


def _ranged(rule: rules.Range, kind: str = "range") -> BeforeValidator:
    """Check a number (or None) against one of :mod:`territory.domain.arguments`' ranges."""

    def check(value: object) -> object:
        if value is None:
            return None
        problem = rule.problem(value)
        if problem is not None:
            raise PydanticCustomError(
                kind, "{problem}; allowed: {allowed}", {"problem": problem, "allowed": rule.text}
            )
        assert isinstance(value, numbers.Real)
        return int(value) if rule.integer else float(value)  # type: ignore[call-overload]

    return BeforeValidator(check)


def _choice(choices: tuple[str, ...], kind: str = "choice") -> BeforeValidator:
    def check(value: object) -> object:
        if not isinstance(value, str) or value not in choices:
            raise PydanticCustomError(
                kind, "possible options are: {options}", {"options": ", ".join(choices)}
            )
        return value

    return BeforeValidator(check)


def _path(value: object) -> object:
    """Text or a path as a :class:`~pathlib.Path` (None stays None)."""
    if value is None or isinstance(value, Path):
        return value
    if isinstance(value, str) and value:
        return Path(value)
    raise PydanticCustomError("path", "expected the path of a file or folder")


def _tiers(value: object) -> object:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise PydanticCustomError("tiers", "expected a table of tier = factor, e.g. A = 1.2")
    out: dict[str, float] = {}
    for tier, factor in value.items():
        problem = rules.TIER_FACTOR.problem(factor)
        if problem is not None:
            raise PydanticCustomError(
                "range",
                "tier {tier}: the factor is {problem}; allowed: {allowed}",
                {"tier": tier, "problem": problem, "allowed": rules.TIER_FACTOR.text},
            )
        out[str(tier)] = float(factor)
    return out


Tolerance = Annotated[float, _ranged(rules.TOLERANCE)]
OptionalTolerance = Annotated[float | None, _ranged(rules.TOLERANCE)]
Seed = Annotated[int, _ranged(rules.SEED)]
OptionalSeed = Annotated[int | None, _ranged(rules.SEED)]
"""A seed, or None for "the default of whoever holds the spec" (a scenario's seed)."""
OptionalPath = Annotated[Path | None, BeforeValidator(_path)]


class AlignmentSpec(BaseModel):
    """Every lever of one alignment, validated; frozen, so one spec describes one solve.

    Build it with keywords (``AlignmentSpec(balance=0.03)``) or with :meth:`build`, which
    raises the engine's own errors instead of pydantic's. See
    :func:`territory.workflow.align.align` for
    what each lever does.

    Attributes
    ----------
    balance, potential_balance, workload_balance
        Allowed relative deviation from target (0.05 = ±5%); the per-measure values override
        ``balance`` (:attr:`potential_tolerance`, :attr:`workload_tolerance`).
    solver, time_limit_s, seed, gap
        Backend (``auto``, ``heuristic``, ``cpsat``, ``mip``), wall-clock seconds, random seed
        and the relative gap to stop at (``None``: :attr:`stop_gap`).
    disruption_weight, tier_factors, candidates, soft, allow_overtime, max_distance_km
        Cost per unit of potential moved, potential-target multipliers per tier (``None``: the
        defaults), nearest reps each account considers, soft mode, overtime, travel limit.
    family_column, max_moved_accounts, max_moved_revenue_share
        Accounts sharing this column's value stay together; caps on moves.
    contiguity, adjacency, compactness, cut_edge_weight, decompose
        Connected territories on the unit graph (rook or queen neighbours), ``travel`` or
        ``moi`` compactness, the cost of a border between territories, and the
        micro-cluster decomposition (``auto``, ``on``, ``off``).
    objective
        ``travel``, or ``value``: after the solve, moved accounts go back to their current rep
        where the sales-response model says that sells more
        (:mod:`territory.workflow.value_objective`; needs a history a fit can use).
    units, unit_id_column, links, forbidden, checkpoint
        Files: the unit layer (and its id column) whose units are aligned whole, extra unit
        links, forbidden account-rep pairs, and the checkpoint folder of a decomposed solve.
        :func:`territory.pipeline.alignment_inputs` reads them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    balance: Tolerance = 0.05
    potential_balance: OptionalTolerance = None
    workload_balance: OptionalTolerance = None
    solver: Annotated[str, _choice(rules.SOLVERS, "solver")] = "auto"
    time_limit_s: Annotated[float, _ranged(rules.SECONDS)] = 60.0
    seed: Seed = 7
    disruption_weight: Annotated[float, _ranged(rules.WEIGHT)] = 0.0
    tier_factors: Annotated[dict[str, float] | None, BeforeValidator(_tiers)] = None
    candidates: Annotated[int, _ranged(rules.COUNT)] = DEFAULT_CANDIDATES
    soft: bool = False
    allow_overtime: bool = False
    gap: Annotated[float | None, _ranged(rules.GAP)] = None
    max_distance_km: Annotated[float | None, _ranged(rules.KILOMETRES)] = None
    family_column: str | None = None
    contiguity: bool = False
    adjacency: Annotated[str, _choice(rules.ADJACENCY)] = "rook"
    compactness: Annotated[str, _choice(rules.COMPACTNESS)] = "travel"
    cut_edge_weight: Annotated[float, _ranged(rules.WEIGHT)] = 0.0
    decompose: Annotated[str, _choice(rules.DECOMPOSE)] = "auto"
    objective: Annotated[str, _choice(rules.OBJECTIVES)] = "travel"
    max_moved_accounts: Annotated[int | None, _ranged(rules.COUNT_OR_ZERO, "cap")] = None
    max_moved_revenue_share: Annotated[float | None, _ranged(rules.SHARE, "cap")] = None
    units: OptionalPath = None
    unit_id_column: str = "unit_id"
    links: OptionalPath = None
    forbidden: OptionalPath = None
    checkpoint: OptionalPath = None

    @model_validator(mode="after")
    def _one_grouping(self) -> AlignmentSpec:
        if self.units is not None and self.family_column is not None:
            raise PydanticCustomError(
                "conflict",
                "use either units (--units) or family_column (--family-column), not both: "
                "with units, the accounts of a unit stay together",
            )
        return self

    # ----------------------------------------------------------------------------------------
    # Building

    @classmethod
    def build(cls, spec: AlignmentSpec | None = None, /, **levers: Any) -> AlignmentSpec:
        """``spec`` (default: every default) with ``levers`` set, checked like the command line.

        Raises
        ------
        UsageError
            A lever out of its range or not one of its choices, naming it, the value and what
            is allowed (:class:`~territory.errors.UnknownSolverError` for ``solver``).
        ScenarioError
            A cap on moves out of range, or ``units`` together with ``family_column``.
        TypeError
            A keyword that names no lever.
        """
        if spec is not None and not levers:
            return spec
        values = (
            {} if spec is None else {name: getattr(spec, name) for name in spec.model_fields_set}
        )
        values.update(levers)
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise spec_error(exc) from None

    def with_levers(self, **levers: Any) -> AlignmentSpec:
        """Return a copy with ``levers`` changed, validated again (see :meth:`build`)."""
        return type(self).build(self, **levers)

    # ----------------------------------------------------------------------------------------
    # Derived values: each rule written once

    @property
    def potential_tolerance(self) -> float:
        """``potential_balance`` when given, else ``balance``."""
        return self.balance if self.potential_balance is None else self.potential_balance

    @property
    def workload_tolerance(self) -> float:
        """``workload_balance`` when given, else ``balance``."""
        return self.balance if self.workload_balance is None else self.workload_balance

    @property
    def balance_rule(self) -> BalanceRule:
        """The balance windows as asked for (soft mode may widen them later)."""
        from territory.domain.model import BalanceRule

        return BalanceRule(
            potential=self.potential_tolerance,
            workload=self.workload_tolerance,
            soft=self.soft,
            allow_overtime=self.allow_overtime,
        )

    @property
    def tiers(self) -> dict[str, float]:
        """Potential-target multiplier per rep tier (the defaults unless given)."""
        return dict(self.tier_factors or DEFAULT_TIER_FACTORS)

    @property
    def distance_power(self) -> float:
        """1 for ``travel`` (workload x km), 2 for ``moi`` (workload x km²)."""
        return 2.0 if self.compactness == "moi" else 1.0

    @property
    def families(self) -> str | None:
        """The accounts column whose values are solved as one: ``unit_id`` with units."""
        return "unit_id" if self.units is not None else self.family_column

    @property
    def stop_gap(self) -> float:
        """The gap the search stops at: ``gap``, else 1% for ``auto`` and 1e-6 otherwise."""
        if self.gap is not None:
            return self.gap
        return AUTO_GAP if self.solver == "auto" else EXACT_GAP

    @property
    def capped(self) -> bool:
        """Whether moves are capped (by count or by revenue share)."""
        return self.max_moved_accounts is not None or self.max_moved_revenue_share is not None

    def settings(self) -> AlignmentSettings:
        """Return the model's settings for this spec (the windows as asked for)."""
        from territory.domain.model import AlignmentSettings

        return AlignmentSettings(
            balance=self.balance_rule,
            tier_factors=self.tiers,
            disruption_weight=self.disruption_weight,
            candidates=self.candidates,
            max_distance_km=self.max_distance_km,
            distance_power=self.distance_power,
            cut_edge_weight=self.cut_edge_weight,
        )

    def budget(self) -> Budget:
        """Start the solve's time budget now."""
        return Budget(self.time_limit_s)

    def key_parameters(self) -> dict[str, Any]:
        """Every lever that shapes a decomposed solve's stages (not the time limit or backend).

        The checkpoint key hashes these with the inputs: a rerun with other values never
        resumes from stages computed for these.
        """
        return {
            "balance_potential": self.potential_tolerance,
            "balance_workload": self.workload_tolerance,
            "soft": self.soft,
            "allow_overtime": self.allow_overtime,
            "seed": self.seed,
            "disruption_weight": self.disruption_weight,
            "tier_factors": self.tiers,
            "candidates": self.candidates,
            "max_distance_km": self.max_distance_km,
            "compactness": self.compactness,
            "family_column": self.families,
        }


def spec_error(exc: ValidationError) -> TerritoryError | TypeError:
    """Turn the first problem pydantic found in a spec's levers into the engine's error.

    The messages are those of :mod:`territory.domain.arguments` (``balance is 1.0, out of range;
    allowed: ...``); an unknown solver is an :class:`~territory.errors.UnknownSolverError`,
    a cap on moves a :class:`~territory.errors.ScenarioError`.
    """
    error = exc.errors()[0]
    name = ".".join(str(part) for part in error["loc"])
    value = error.get("input")
    kind = error["type"]
    message = str(error["msg"])
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(name, list(AlignmentSpec.model_fields), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return TypeError(f"'{name}' is not a lever of an alignment{hint}")
    if kind == "solver":
        return UnknownSolverError(
            f"unknown solver {value!r}. Possible options are: {', '.join(rules.SOLVERS)}"
        )
    if kind == "cap":
        allowed = (error.get("ctx") or {}).get("allowed", "")
        return ScenarioError(f"{name} is {value}; allowed: {allowed}")
    if kind == "conflict":
        return ScenarioError(message)
    if kind == "choice":
        return UsageError(f"{name} is {value!r}; {message}")
    return UsageError(f"{name} is {value!r}, {message}")
