"""Scenario files: one TOML file per what-if, parsed into one typed model where it is read.

A scenario names its inputs, the alignment parameters, the levers (reps added, removed, made
vacant or resized, locks, families, forbidden pairs, caps on moves and travel), the quota, the
stress test and the check thresholds. ``extends = "base.toml"`` inherits another file's keys:
tables merge key by key (deep merge), every other value (numbers, text, lists) is replaced as a
whole. Chains are allowed; a cycle is an error. Paths are relative to the file that writes them.

Every mistake is a :class:`~territory.errors.ScenarioError` that names the file and the key
path (``levers.add_reps[0].lat``), and all mistakes of a file are reported at once.

Layout (every section and key is optional except the inputs)::

    extends = "base.toml"
    description = "Lose three reps: their accounts must move"
    mode = "align"                      # or "evaluate": the current alignment as it is
    seed = 7                            # default seed of the solve and the stress test

    [inputs]
    accounts = "../data/demo/accounts.csv"
    reps = "../data/demo/reps.csv"
    comp = "../data/demo/comp.toml"     # comp plan; without it the stress test is skipped
    period_sales = "sales.csv"          # optional, seasonality history for the quotas

    [align]                             # any lever of `territory align` (AlignmentSpec)
    balance = 0.05                      # potential_balance, workload_balance override it
    tier_factors = { A = 1.15, B = 1.0, C = 0.85 }
    disruption_weight = 0.0
    solver = "auto"
    time_limit_s = 60.0
    candidates = 8
    soft = false
    allow_overtime = false
    units = "zips.geojson"              # align whole units; unit_id_column, contiguity,
    contiguity = true                   # adjacency, links, compactness, cut_edge_weight,
    compactness = "moi"                 # decompose, checkpoint (a folder) as on the command line

    [levers]
    remove_reps = ["R0007"]
    vacancies = ["R0012"]
    capacity = { R0001 = 1500.0 }       # hours per year
    capacity_factor = { R0002 = 0.5 }   # "*" applies to every rep
    hire = 2                            # reps at generated home bases
    head_count = 42                     # or: hire / remove (least loaded) to reach this many
    families = "parent_id"              # accounts sharing this column stay with one rep
    forbidden = "forbidden.csv"         # or [{ account_id = "A1", rep_id = "R2" }]
    max_moved_accounts = 500
    max_moved_revenue_share = 0.10      # keep 90% of last year's revenue with its rep
    max_distance_km = 400.0
    [[levers.add_reps]]
    rep_id = "R0041"
    lat = 40.7
    lon = -74.0
    capacity = 1600.0

    [locks]
    accounts = ["A0000001"]             # stay with their current rep
    top_n = 50                          # the top 50 accounts ...
    top_by = "potential"                # ... by potential or by (last year's) revenue
    assign = { A0000002 = "R0003" }     # locked to a named rep

    [quota]                             # without a target the quota and stress steps are skipped
    target = 165000000.0
    method = "blended"
    over_assignment = 0.10
    last_year_target = 148000000.0

    [stress]
    sims = 10000
    lever = "over_assignment"

    [value]                             # what the plan is worth (territory value); defaults:
    margin = 0.6                        # gross margin on sales; contribution = sales x margin
    rep_cost = 150000.0                 # - cost per rep (a reps `cost` column wins)

    [checks]                            # the [checks] part of data/checks.toml, inline ...
    blocking = ["C5", "T3"]
    # checks = "../data/checks.toml"    # ... or a path to such a file
"""

from __future__ import annotations

import difflib
import math
import os
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from territory.domain.arguments import QUOTA_METHOD_ALIASES, quota_method
from territory.domain.sizing import DEFAULT_TIME_TO_FILL
from territory.domain.spec import AlignmentSpec, OptionalSeed
from territory.domain.value import DEFAULT_MARGIN, DEFAULT_REP_COST
from territory.errors import ScenarioError, TerritoryError
from territory.io.config_files import read_toml
from territory.io.names import validate_name
from territory.pipeline.value_commands import DEFAULT_BOOTSTRAP

__all__ = [
    "AlignTable",
    "ForbiddenPair",
    "Inputs",
    "Levers",
    "Locks",
    "NewRep",
    "QuotaParameters",
    "Scenario",
    "ScenarioSpec",
    "StressParameters",
    "load_scenario",
    "parse_grid",
    "resolve_key",
]

Key = tuple[str | int, ...]


class _Strict(BaseModel):
    """Scenario tables: unknown keys and wrong types are errors (TOML already has types)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Inputs(_Strict):
    """The data files (absolute once loaded; written relative to the scenario file)."""

    accounts: str
    reps: str
    comp: str | None = None
    period_sales: str | None = None
    # Files for the checks only a user can settle (territory check --objectives ... --data-dates).
    objectives: str | None = None
    market_pay: str | None = None
    survey: str | None = None
    payouts: str | None = None
    data_dates: str | None = None


class AlignTable(AlignmentSpec):
    """The ``[align]`` table: an :class:`~territory.domain.spec.AlignmentSpec` under the same names.

    Every lever of ``territory align`` can be set here, with the same defaults and ranges;
    ``seed`` defaults to the scenario's. Paths (``units``, ``links``, ``forbidden``,
    ``checkpoint``) are relative to the file that writes them.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    seed: OptionalSeed = None  # type: ignore[assignment]


MANIFEST_ALIGN_KEYS = (
    "allow_overtime", "balance", "candidates", "disruption_weight", "gap", "potential_balance",
    "seed", "soft", "solver", "tier_factors", "time_limit_s", "workload_balance",
)  # fmt: skip
"""``[align]`` keys the manifest always lists; the others are listed once set (so manifests
of scenarios that leave them alone keep their bytes)."""

LEVER_SPEC_KEYS = (
    ("max_distance_km", "max_distance_km"),
    ("families", "family_column"),
    ("max_moved_accounts", "max_moved_accounts"),
    ("max_moved_revenue_share", "max_moved_revenue_share"),
    ("forbidden", "forbidden"),
)
"""Keys of ``[levers]`` that are levers of the alignment too: (levers key, [align] key)."""


class NewRep(_Strict):
    """A rep added by the scenario, with a home base (columns of the reps table)."""

    rep_id: str = Field(min_length=1)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    capacity: float = Field(gt=0)
    tier: Literal["A", "B", "C"] = "B"
    rating: float | None = Field(default=None, ge=0, le=1)
    name: str | None = None
    role: str | None = None
    segment: str | None = None
    ote: float | None = Field(default=None, gt=0)
    fte: float | None = Field(default=None, gt=0)
    tenure_months: float | None = Field(default=None, ge=0)
    months_in_role: float | None = Field(default=None, ge=0, le=12)
    hire_month: int | None = Field(default=None, ge=1, le=12)


class ForbiddenPair(_Strict):
    """An account-rep pair that must never occur."""

    account_id: str
    rep_id: str


class Levers(_Strict):
    """What the scenario changes before the solve (see :mod:`scenarios.runner` for effects)."""

    add_reps: list[NewRep] = Field(default_factory=list)
    hire: int = Field(default=0, ge=0)
    head_count: int | None = Field(default=None, ge=1)
    remove_reps: list[str] = Field(default_factory=list)
    vacancies: list[str] = Field(default_factory=list)
    capacity: dict[str, float] = Field(default_factory=dict)
    capacity_factor: dict[str, float] = Field(default_factory=dict)
    families: str | None = None
    forbidden: list[ForbiddenPair] | str | None = None
    max_moved_accounts: int | None = Field(default=None, ge=0)
    max_moved_revenue_share: float | None = Field(default=None, ge=0, le=1)
    max_distance_km: float | None = Field(default=None, gt=0)


class Locks(_Strict):
    """Accounts that keep their rep: a list, the top N by potential or revenue, or named reps."""

    accounts: list[str] = Field(default_factory=list)
    top_n: int = Field(default=0, ge=0)
    top_by: Literal["potential", "revenue"] = "potential"
    assign: dict[str, str] = Field(default_factory=dict)


QUOTA_METHODS = ("historical", "potential", "untapped", "blended", "capacity", "even")
METHOD_ALIASES = QUOTA_METHOD_ALIASES


class QuotaParameters(_Strict):
    """Quota settings (``territory quota``); without ``target`` no quotas are set."""

    target: float | None = Field(default=None, gt=0)
    method: Literal[
        "historical", "potential", "untapped", "blended", "capacity", "even",
        "blend", "history", "growth",
    ] = "blended"  # fmt: skip
    history_weight: float | None = Field(default=None, ge=0, le=1)
    over_assignment: float | list[float] = 0.10
    non_quota_revenue: float = Field(default=0.0, ge=0)
    periods: Literal["quarter", "month"] = "quarter"
    season_profile: list[float] | None = None
    caps: bool = True
    year: int | None = None
    last_year_target: float | None = Field(default=None, gt=0)

    @property
    def method_name(self) -> str:
        """The method under its canonical name (``blend`` -> ``blended``)."""
        return quota_method(self.method)


class StressParameters(_Strict):
    """Monte Carlo stress test settings (``territory stress``)."""

    enabled: bool = True
    sims: int = Field(default=10_000, ge=1)
    seed: int | None = None
    lever: str = "over_assignment"
    forecast: float | None = Field(default=None, gt=0)


class ValueParameters(_Strict):
    """Plan value settings (``territory value``): the response model is fitted to the history.

    ``margin`` and ``rep_cost`` default to :data:`~territory.domain.value.DEFAULT_MARGIN` and
    :data:`~territory.domain.value.DEFAULT_REP_COST`, as ``territory value`` and ``size`` do.
    """

    enabled: bool = True
    margin: float = Field(default=DEFAULT_MARGIN, gt=0, le=1)
    rep_cost: float = Field(default=DEFAULT_REP_COST, ge=0)
    time_to_fill: float = Field(default=DEFAULT_TIME_TO_FILL, ge=0)
    n_boot: int = Field(default=DEFAULT_BOOTSTRAP, ge=0)
    sims: int = Field(default=2000, ge=1)
    literature_defaults: bool = False


class ScenarioSpec(_Strict):
    """The whole scenario after inheritance: what one run needs besides the data."""

    mode: Literal["align", "evaluate"] = "align"
    seed: int = 7
    inputs: Inputs
    align: AlignTable = Field(default_factory=AlignTable)
    levers: Levers = Field(default_factory=Levers)
    locks: Locks = Field(default_factory=Locks)
    quota: QuotaParameters = Field(default_factory=QuotaParameters)
    stress: StressParameters = Field(default_factory=StressParameters)
    value: ValueParameters = Field(default_factory=ValueParameters)
    checks: str | dict[str, Any] | None = None

    @property
    def align_seed(self) -> int:
        """Seed of the solve: ``align.seed``, else the scenario's ``seed``."""
        return self.seed if self.align.seed is None else self.align.seed

    @property
    def stress_seed(self) -> int:
        """Seed of the stress test: ``stress.seed``, else the scenario's ``seed``."""
        return self.seed if self.stress.seed is None else self.stress.seed

    def alignment(self) -> AlignmentSpec:
        """Build the alignment's spec: ``[align]``, the scenario's seed and the solve's levers.

        ``levers.max_distance_km``, ``levers.families`` (as ``family_column``) and the caps on
        moves are levers of the alignment as well; a forbidden-pairs file of ``levers`` stays
        with the levers (they drop the pairs of removed reps).

        Raises
        ------
        ScenarioError, UsageError
            Levers that cannot go together (``units`` with ``families``).
        """
        values = {name: getattr(self.align, name) for name in self.align.model_fields_set}
        values["seed"] = self.align_seed
        for lever, key in LEVER_SPEC_KEYS:
            value = getattr(self.levers, lever)
            if value is not None and key != "forbidden":
                values[key] = value
        return AlignmentSpec.build(**values)


CHECK_INPUT_KEYS = ("objectives", "market_pay", "survey", "payouts", "data_dates")
"""``[inputs]`` keys naming the checks' own files; left out of the manifest when not set."""

FILE_ONLY_KEYS = ("extends", "description")
"""Keys that belong to one file and are not inherited."""

PATH_KEYS: tuple[Key, ...] = (
    ("inputs", "accounts"),
    ("inputs", "reps"),
    ("inputs", "comp"),
    ("inputs", "period_sales"),
    *(("inputs", name) for name in CHECK_INPUT_KEYS),
    ("levers", "forbidden"),
    ("checks",),
    ("align", "units"),
    ("align", "links"),
    ("align", "forbidden"),
    ("align", "checkpoint"),
)
"""Keys whose text values are paths, resolved against the directory of the file that sets them."""

FOLDER_KEYS: tuple[Key, ...] = (("align", "checkpoint"),)
"""Path keys that name a folder the run creates (not checked for existence)."""


@dataclass(frozen=True)
class Scenario:
    """A loaded scenario: its name, its files and the resolved, validated parameters.

    ``files`` lists the scenario file and every file it extends (the file itself first).
    ``overrides`` are the keys set from outside the files (a sweep grid), as dotted paths.
    """

    name: str
    path: Path
    spec: ScenarioSpec
    files: tuple[Path, ...]
    description: str = ""
    overrides: Mapping[str, Any] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        """Directory of the scenario file: paths in the manifest are written relative to it."""
        return self.path.parent

    def relative(self, path: str | Path) -> str:
        """Express a path as seen from the scenario file's directory, in POSIX form."""
        return Path(os.path.relpath(Path(path), self.folder)).as_posix()

    def resolved(self) -> dict[str, Any]:
        """All parameters after inheritance, paths relative to the scenario file (manifest)."""
        data = self.spec.model_dump(mode="json")
        for name in CHECK_INPUT_KEYS:
            if data["inputs"].get(name) is None:
                del data["inputs"][name]
        align = data["align"]
        for name, default in AlignTable().model_dump(mode="json").items():
            if name not in MANIFEST_ALIGN_KEYS and align.get(name) == default:
                del align[name]
        for key in PATH_KEYS:
            node: Any = data
            for part in key[:-1]:
                node = node.get(part) if isinstance(node, dict) else None
            if isinstance(node, dict) and isinstance(node.get(key[-1]), str):
                node[key[-1]] = self.relative(node[key[-1]])
        return data


# ------------------------------------------------------------------------------------------
# Reading files
# ------------------------------------------------------------------------------------------


def _key_text(key: Sequence[str | int]) -> str:
    text = ""
    for part in key:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "(top level)"


def _read_toml(path: Path, referrer: str | None) -> dict[str, Any]:
    where = f" (named by {referrer})" if referrer else ""
    if path.is_dir():
        raise ScenarioError(f"{path} is a folder, not a scenario file{where}")
    return read_toml(path, "scenario", where=where)


def _resolve_paths(data: dict[str, Any], folder: Path) -> None:
    """Make the path keys of one file absolute, relative to that file's directory."""
    for key in PATH_KEYS:
        node: Any = data
        for part in key[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(key[-1]), str):
            node[key[-1]] = (folder / node[key[-1]]).resolve().as_posix()


def _record(origins: dict[Key, Path], data: Any, source: Path, prefix: Key = ()) -> None:
    """Note ``source`` as the origin of every key in ``data`` (tables recursively)."""
    if prefix:
        origins[prefix] = source
    if isinstance(data, dict):
        for key, value in data.items():
            _record(origins, value, source, (*prefix, key))


def _forget(origins: dict[Key, Path], prefix: Key) -> None:
    for key in [k for k in origins if k[: len(prefix)] == prefix and len(k) > len(prefix)]:
        del origins[key]


def _merge(base: dict[str, Any], child: Mapping[str, Any], origins: dict[Key, Path], source: Path,
           prefix: Key = ()) -> dict[str, Any]:  # fmt: skip
    """Deep merge: tables merge key by key; any other value replaces the base's as a whole."""
    out = dict(base)
    for key, value in child.items():
        here = (*prefix, key)
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            origins[here] = source
            out[key] = _merge(out[key], value, origins, source, here)
        else:
            _forget(origins, here)
            _record(origins, value, source, here)
            out[key] = value
    return out


def _load_chain(
    path: Path, stack: tuple[Path, ...], referrer: str | None
) -> tuple[dict[str, Any], dict[Key, Path], tuple[Path, ...]]:
    """Merge the raw data of ``path`` and everything it extends, noting each key's file."""
    raw = _read_toml(path, referrer)
    _resolve_paths(raw, path.parent)
    parent = raw.get("extends")
    files: tuple[Path, ...] = (path,)
    origins: dict[Key, Path] = {}
    merged: dict[str, Any] = {}
    if parent is not None:
        if not isinstance(parent, str) or not parent:
            raise ScenarioError(
                f"{path}: key 'extends' must be the path of another scenario file, got {parent!r}"
            )
        base_path = (path.parent / parent).resolve()
        if base_path in stack or base_path == path:
            cycle = " -> ".join(p.name for p in (*stack, path, base_path))
            raise ScenarioError(
                f"{path}: key 'extends' makes a cycle ({cycle}); a scenario cannot extend "
                "itself, directly or through other files"
            )
        if not base_path.exists():
            raise ScenarioError(
                f"{path}: key 'extends' names {parent!r}, but {base_path} does not exist; "
                "paths are relative to the file that writes them"
            )
        merged, origins, base_files = _load_chain(
            base_path, (*stack, path), f"key 'extends' of {path}"
        )
        files = (path, *base_files)
    own = {k: v for k, v in raw.items() if k not in FILE_ONLY_KEYS}
    for key in FILE_ONLY_KEYS:
        merged.pop(key, None)
    merged = _merge(merged, own, origins, path)
    return merged, origins, files


# ------------------------------------------------------------------------------------------
# Validation messages
# ------------------------------------------------------------------------------------------


def _model_at(loc: Sequence[str | int]) -> type[BaseModel] | None:
    """Return the model class that holds the keys at ``loc`` (None when it is not a model)."""
    model: Any = ScenarioSpec
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        info = model.model_fields.get(str(part))
        if info is None:
            return None
        model = _model_in(info.annotation)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType, list):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _origin_of(loc: Sequence[str | int], origins: Mapping[Key, Path], leaf: Path) -> Path:
    key = tuple(loc)
    while key:
        if key in origins:
            return origins[key]
        key = key[:-1]
    return leaf


def _messages(exc: ValidationError, origins: Mapping[Key, Path], leaf: Path) -> list[str]:
    lines: dict[str, list[str]] = {}
    for error in exc.errors():
        # Unions add each member's type to the location ('str', 'list[ForbiddenPair]'): drop it.
        loc = [p for p in error["loc"] if not (isinstance(p, str) and p in _UNION_TAGS)]
        loc = [p for p in loc if not (isinstance(p, str) and "[" in p)]
        where = _origin_of(loc, origins, leaf)
        key = _key_text(loc)
        kind = error["type"]
        if kind == "extra_forbidden":
            model = _model_at(loc[:-1])
            allowed = sorted(model.model_fields) if model is not None else []
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            lines.setdefault(f"{where}: key '{key}' is unknown{hint}", []).append(
                f"allowed keys here: {', '.join(allowed)}"
            )
        elif kind == "missing":
            lines.setdefault(f"{where}: key '{key}' is required but missing", [])
        else:
            got = error.get("input")
            shown = repr(got) if not isinstance(got, dict) else "a table"
            message = str(error["msg"])
            message = message[len("Input ") :] if message.startswith("Input ") else message
            lines.setdefault(f"{where}: key '{key}' (got {shown})", []).append(message)
    # A union reports each member's failure: one line per key, the alternatives joined.
    out = []
    for head, reasons in lines.items():
        unique = list(dict.fromkeys(reasons))
        if "(got " in head:
            key_part, got = head.rsplit(" (got ", 1)
            out.append(f"{key_part} {' or '.join(unique)} (got {got}")
        else:
            out.append("; ".join([head, *unique]))
    return out


_UNION_TAGS = frozenset({"str", "float", "int", "bool"})


# ------------------------------------------------------------------------------------------
# Loading
# ------------------------------------------------------------------------------------------


def resolve_key(name: str) -> Key:
    """Resolve the key path a sweep grid sets: a dotted path, an alias, or a unique field name.

    ``add_reps`` and ``hire`` mean ``levers.hire`` (reps at generated home bases), ``balance``
    means ``align.balance``; any other bare name must be a field of exactly one section.
    """
    if "." in name:
        return tuple(part for part in name.split(".") if part)
    if name in GRID_ALIASES:
        return GRID_ALIASES[name]
    if name in ScenarioSpec.model_fields:
        return (name,)
    found: list[Key] = []
    for section, info in ScenarioSpec.model_fields.items():
        model = _model_in(info.annotation)
        if model is not None and name in model.model_fields:
            found.append((section, name))
    if len(found) == 1:
        return found[0]
    if found:
        options = ", ".join(_key_text(k) for k in found)
        raise ScenarioError(f"grid lever '{name}' is ambiguous; write one of: {options}")
    known = sorted(
        {*GRID_ALIASES}
        | {
            f"{section}.{field_name}"
            for section, info in ScenarioSpec.model_fields.items()
            if (model := _model_in(info.annotation)) is not None
            for field_name in model.model_fields
        }
    )
    raise ScenarioError(f"grid lever '{name}' names no scenario key; possible options are: "
                        f"{', '.join(known)}")  # fmt: skip


GRID_ALIASES: dict[str, Key] = {
    **{lever: ("levers", lever) for lever, _ in LEVER_SPEC_KEYS},
    "add_reps": ("levers", "hire"),
    "hire": ("levers", "hire"),
    "head_count": ("levers", "head_count"),
    "balance": ("align", "balance"),
    "time_limit": ("align", "time_limit_s"),
    "sims": ("stress", "sims"),
    "target": ("quota", "target"),
    "top_n": ("locks", "top_n"),
}


def _set(data: dict[str, Any], key: Key, value: Any) -> None:
    node = data
    for part in key[:-1]:
        child = node.get(str(part))
        if not isinstance(child, dict):
            child = {}
            node[str(part)] = child
        node = child
    node[str(key[-1])] = value


def load_scenario(
    path: str | Path,
    *,
    overrides: Mapping[str, Any] | None = None,
    name: str | None = None,
    check_files: bool = True,
) -> Scenario:
    """Read a scenario file and the files it extends into one validated :class:`Scenario`.

    Parameters
    ----------
    path
        The scenario TOML file.
    overrides
        Keys to set after inheritance, as dotted paths or grid aliases (``levers.hire``,
        ``balance``); their values are validated like the file's.
    name
        The scenario's name (its output folder); default: the file name without ``.toml``.
        Either must be a safe folder name (:func:`territory.io.names.validate_name`).
    check_files
        Also check that every input file exists (names the key and the file that set it).

    Raises
    ------
    ScenarioError
        With every problem found: unknown keys, wrong types or values, missing files, an
        ``extends`` cycle; each names the file and the key path.
    UnsafeNameError
        The name (by default the file's stem) is not safe as a folder name: ``...toml`` would
        name its run folder ``..``.
    """
    leaf = Path(path).resolve()
    if name is None:
        validate_name(leaf.stem, f"scenario file stem (of {leaf})", _RENAME_FILE)
    else:
        validate_name(name, "scenario name")
    merged, origins, files = _load_chain(leaf, (), None)
    raw = _read_toml(leaf, None)  # cached by the OS; read again for the file-only keys
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise ScenarioError(f"{leaf}: key 'description' must be text, got {description!r}")
    applied: dict[str, Any] = {}
    for text, value in (overrides or {}).items():
        key = resolve_key(text)
        _set(merged, key, value)
        _forget(origins, key)
        origins[key] = Path(f"--grid {text}")
        applied[_key_text(key)] = value
    try:
        spec = ScenarioSpec.model_validate(merged)
    except ValidationError as exc:
        lines = _messages(exc, origins, leaf)
        raise ScenarioError(
            f"{len(lines)} problem(s) in scenario {leaf.name}:\n"
            + "\n".join(f"  - {line}" for line in lines)
        ) from None
    problems = _semantic_problems(spec, origins, leaf, check_files)
    if problems:
        raise ScenarioError(
            f"{len(problems)} problem(s) in scenario {leaf.name}:\n"
            + "\n".join(f"  - {line}" for line in problems)
        )
    return Scenario(
        name=name or leaf.stem,
        path=leaf,
        spec=spec,
        files=files,
        description=description,
        overrides=applied,
    )


_RENAME_FILE = "rename the scenario file: its name without .toml names the run folder"


def _semantic_problems(
    spec: ScenarioSpec, origins: Mapping[Key, Path], leaf: Path, check_files: bool
) -> list[str]:
    """Rules between keys, thresholds, and files that must exist."""
    out: list[str] = []

    def say(key: Key, message: str) -> None:
        out.append(f"{_origin_of(key, origins, leaf)}: key '{_key_text(key)}' {message}")

    if check_files:
        for key in PATH_KEYS:
            value: Any = spec
            for part in key:
                value = getattr(value, str(part), None)
            missing = isinstance(value, str | Path) and not Path(value).is_file()
            if missing and key not in FOLDER_KEYS:
                say(key, f"names {value}, which does not exist (paths are relative to the file)")
    for lever, name in LEVER_SPEC_KEYS:
        if getattr(spec.levers, lever) is not None and getattr(spec.align, name) is not None:
            say(
                ("align", name),
                f"and levers.{lever} are both set; they are one lever: keep one of them",
            )
    if not out:
        try:
            spec.alignment()
        except TerritoryError as exc:
            say(("align",), f"does not go with the levers: {exc}")
    for name, number in spec.levers.capacity_factor.items():
        if not (math.isfinite(number) and number > 0):
            say(("levers", "capacity_factor", name), f"must be a factor above 0, got {number}")
    for name, number in spec.levers.capacity.items():
        if not (math.isfinite(number) and number > 0):
            say(("levers", "capacity", name), f"must be hours per year above 0, got {number}")
    overlap = sorted(set(spec.levers.remove_reps) & set(spec.levers.vacancies))
    if overlap:
        say(("levers", "vacancies"), f"names reps that levers.remove_reps removes: {overlap}")
    if spec.levers.head_count is not None and (spec.levers.hire or spec.levers.remove_reps):
        say(
            ("levers", "head_count"),
            "cannot be combined with levers.hire or levers.remove_reps: give the head count, "
            "or the reps to hire and remove",
        )
    if spec.mode == "evaluate":
        moving = [
            name
            for name in (
                "hire", "head_count", "remove_reps", "families", "forbidden",
                "max_moved_accounts", "max_moved_revenue_share", "max_distance_km",
            )
            if getattr(spec.levers, name) not in (None, 0, [], "")
        ]  # fmt: skip
        for name in moving:
            say(
                ("levers", name),
                "changes who serves which account, but mode = 'evaluate' keeps the current "
                "alignment as it is; use mode = 'align'",
            )
        if spec.locks.accounts or spec.locks.top_n or spec.locks.assign:
            say(("locks",), "has no effect in mode = 'evaluate'; use mode = 'align'")
    if isinstance(spec.checks, dict):
        from territory.domain.checks import thresholds_from_mapping

        try:
            thresholds_from_mapping({"checks": spec.checks}, source="[checks]")
        except ScenarioError as exc:
            out.append(f"{_origin_of(('checks',), origins, leaf)}: {exc}")
    return out


# ------------------------------------------------------------------------------------------
# Grids
# ------------------------------------------------------------------------------------------


def _scalar(text: str) -> Any:
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text.strip()


def parse_grid(text: str) -> tuple[str, list[Any]]:
    """``lever=35..45`` (integers, both ends included) or ``lever=0.03,0.05,0.08``.

    Returns the lever as written and its values.

    Raises
    ------
    ScenarioError
        When the text is not ``lever=values`` or a range is not two integers.
    """
    lever, sep, values = text.partition("=")
    lever = lever.strip()
    if not sep or not lever or not values.strip():
        raise ScenarioError(
            f"--grid '{text}' is not lever=values, e.g. add_reps=0..5 or balance=0.03,0.05"
        )
    if ".." in values:
        low, _, high = values.partition("..")
        try:
            start, stop = int(low), int(high)
        except ValueError:
            raise ScenarioError(
                f"--grid '{text}': a range takes two integers (e.g. 35..45); list other values "
                "with commas (0.03,0.05,0.08)"
            ) from None
        if stop < start:
            raise ScenarioError(f"--grid '{text}': the range {start}..{stop} is empty")
        return lever, list(range(start, stop + 1))
    return lever, [_scalar(v) for v in values.split(",") if v.strip()]


def variant_name(scenario: str, lever: str, value: Any) -> str:
    """``<scenario>-<lever>-<value>``, safe as a folder name."""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in f"{lever}-{text}")
    trimmed = safe.rstrip(".")  # a name may not end in '.' (Windows drops it; '1.' would too)
    return f"{scenario}-{trimmed}{'_' * (len(safe) - len(trimmed))}"
