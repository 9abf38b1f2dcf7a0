"""Thresholds of the 20 checks: one table of defaults, from which the pydantic models are built.

Every threshold is a config key ``checks.<id>.<param>``. :data:`_DEFAULTS` declares each one
once, with its engine default (``data/checks.toml`` repeats them with the reason for each); its
type is that of the default: ``0.95`` a number, ``12`` a whole number, ``true`` a switch. C3's
role bands are the one table that is not a scalar, so :class:`C3` is written out. The models
are strict, so a problem is reported, not coerced: ``1`` is not ``true`` and ``2.5`` is not a
whole number. :func:`thresholds_from_mapping` turns pydantic's findings into one message that
names the source and the key, the first problem in the order the file lists them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
)

from territory.domain.checks.helpers import norm_role
from territory.errors import ScenarioError

CHECK_IDS: tuple[str, ...] = tuple(f"T{i}" for i in range(1, 11)) + tuple(
    f"C{i}" for i in range(1, 11)
)
"""The 20 check ids in report order: territory design, then compensation and quota."""

CheckId = Literal[
    "T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8", "T9", "T10",
    "C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C9", "C10",
]  # fmt: skip

DEFAULT_BLOCKING: tuple[CheckId, ...] = ("C5", "T3")
"""Checks whose FAIL stops a batch job under ``blocking_only`` (quota spec §4.5)."""

Default = int | float | bool

_DEFAULTS: Mapping[str, tuple[str, Mapping[str, Default]]] = {
    "T1": (
        "how much potential must sit with active reps, and how loaded a rep may be.",
        {
            "potential_covered_min": 0.95,
            "a_segment_top_share": 0.20,
            "a_segment_covered_min": 1.0,
            "utilisation_max": 1.15,
        },
    ),
    "T2": (
        "the net uplift that counts as an opportunity and the transition loss it pays.",
        {
            "uplift_min": 0.02,
            "uplift_warn_min": 0.0,
            "transition_loss_rate": 0.15,
            "utilisation_flag": 1.15,
            "potential_index_flag": 1.15,
        },
    ),
    "T3": (
        "how many manual overrides pass or warn, and whether each needs a reason code.",
        {"overrides_pass_max": 0.10, "overrides_warn_max": 0.20, "require_reason_codes": True},
    ),
    "T4": (
        "how complete the workload estimates must be.",
        {
            "accounts_with_workload_min": 0.98,
            "potential_with_workload_min": 0.99,
            "territories_with_workload_min": 1.0,
        },
    ),
    "T5": (
        "the utilisation band every rep should sit in, and the wider warning band.",
        {"band_low": 0.85, "band_high": 1.15, "warn_low": 0.75, "warn_high": 1.25},
    ),
    "T6": (
        "how complete and plausible potential must be, and how much it must weigh.",
        {
            "accounts_with_potential_min": 0.95,
            "revenue_with_potential_min": 0.99,
            "plausible_min": 0.95,
            "potential_weight_min": 0.30,
        },
    ),
    "T7": (
        "how much revenue, and how many top accounts, a realignment may move.",
        {"moved_revenue_max": 0.10, "top_accounts_share": 0.20, "top_accounts_moved_max": 0.05},
    ),
    "T8": (
        "account data quality and how old data and reviews may be.",
        {
            "data_quality_min": 0.98,
            "max_data_age_months": 12,
            "max_review_age_months": 12,
            "data_age_warn_months": 18,
            "review_age_warn_months": 24,
            "process_clear_min": 0.80,
        },
    ),
    "T9": (
        "balance tolerances and how closely quotas and difficulty must follow potential.",
        {
            "balance_pass_max": 0.15,
            "balance_warn_max": 0.25,
            "strict": False,
            "strict_max": 0.10,
            "quota_spearman_min": 0.80,
            "quota_spearman_min_potential_only": 0.90,
            "difficulty_max": 0.10,
            "backtest_size_corr_max": 0.30,
        },
    ),
    "T10": (
        "the rank correlation of rep performance with territory potential.",
        {
            "spearman_pass_min": 0.30,
            "spearman_warn_min": 0.0,
            "equal_cv_max": 0.05,
            "max_missing_share": 0.50,
            "ramped_after_months": 12,
        },
    ),
    "C1": (
        "the share of measures that must name a company objective.",
        {"traceability_min": 1.0, "weight_gap_warn_max": 0.20},
    ),
    "C2": (
        "the quota-to-OTE band reported next to market pay.",
        {
            "quota_to_ote_low": 4.0,
            "quota_to_ote_high": 6.0,
            "mix_tolerance": 0.10,
            "mix_warn_tolerance": 0.15,
            "ote_band_slack": 0.10,
        },
    ),
    "C4": (
        "payout at the 90th and 10th percentile, rank correlation and cap binding.",
        {
            "payout_p90_pass_min": 2.0,
            "payout_p90_warn_min": 1.5,
            "payout_p10_max": 0.6,
            "spearman_min": 0.95,
            "cap_binding_max": 0.05,
        },
    ),
    "C5": (
        "how many measures a plan may have and how little each may weigh.",
        {"max_measures": 3, "min_weight": 0.20, "strict_greater": False},
    ),
    "C6": (
        "how far a territory's chances to earn and to sell may differ from the median.",
        {"payout_spread_max": 0.15, "p_attain_spread_max": 0.15, "potential_balance_max": 0.15},
    ),
    "C7": (
        "the share of reps at quota and paid, and when quotas look too easy.",
        {
            "share_at_quota_min": 0.50,
            "share_paid_min": 0.90,
            "too_easy_above": 0.80,
            "history_min_tenure_months": 24,
        },
    ),
    "C8": (
        "forecast and quota accuracy against what was sold, and against a naive baseline.",
        {
            "company_error_max": 0.10,
            "wmape_pass_max": 0.10,
            "wmape_warn_max": 0.20,
            "naive_gap_pass_max": 0.0,
            "naive_gap_warn_max": 0.03,
        },
    ),
    "C9": (
        "the share of surveyed people who can work out their own pay.",
        {"survey_agree_min": 0.80, "survey_agree_warn_min": 0.60, "min_responses": 5},
    ),
    "C10": (
        "how fast and how accurately incentives must be paid.",
        {
            "max_days_to_pay": 30,
            "max_correction_rate": 0.02,
            "days_to_pay_warn_max": 45,
            "correction_rate_warn_max": 0.05,
        },
    ),
}
"""What each check's thresholds are about, and each threshold's default, by check id."""

_BAND_OF_ROLES: Mapping[tuple[str, ...], tuple[float, float]] = {
    ("hunter", "new_logo"): (0.40, 0.60),
    ("field_rep",): (0.30, 0.50),
    ("inside_sales",): (0.30, 0.40),
    ("account_manager", "farmer"): (0.20, 0.40),
    ("strategic_account_manager",): (0.20, 0.30),
    ("customer_success", "renewals"): (0.10, 0.30),
    ("sales_engineer", "presales"): (0.15, 0.30),
    ("sales_manager",): (0.10, 0.30),
}
"""C3's default band of each role: its variable share of OTE, [low, high]. Roles named together
are one role under other names (a new-logo rep is a hunter) and share the band."""

_DEFAULT_BANDS: Mapping[str, Sequence[float]] = MappingProxyType(
    {role: band for roles, band in _BAND_OF_ROLES.items() for role in roles}
)


class Params(BaseModel):
    """The thresholds of one check, strict and frozen; each check's model extends it.

    The models are built from :data:`_DEFAULTS` when the module loads, so a type checker
    cannot know their fields: it reads every threshold as ``Any``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    if TYPE_CHECKING:

        def __init__(self, **data: Any) -> None:
            """Take any thresholds by name; pydantic checks them against the model."""

        def __getattr__(self, name: str) -> Any:
            """Read a threshold the type checker cannot see."""


def _scalar_model(check_id: str, about: str, defaults: Mapping[str, Default]) -> type[Params]:
    """Build the model of a check whose thresholds are all numbers or switches."""
    fields: dict[str, Any] = {name: (type(value), value) for name, value in defaults.items()}
    return create_model(
        check_id, __base__=Params, __module__=__name__, __doc__=f"{check_id}: {about}", **fields
    )


def _ordered_band(band: list[float]) -> list[float]:
    if not 0.0 <= band[0] <= band[1] <= 1.0:
        raise ValueError("band must be [low, high] with 0 <= low <= high <= 1")
    return band


Band = Annotated[list[float], Field(min_length=2, max_length=2), AfterValidator(_ordered_band)]
RolePair = Annotated[list[str], Field(min_length=2, max_length=2)]


class C3(Params):
    """C3: the variable-pay band of each role and which roles must be more variable.

    A file's bands are added to the defaults (a role it names replaces that role's band), so a
    plan can add a role without restating the others.
    """

    bands: dict[str, Band] = Field(
        default_factory=lambda: {role: list(band) for role, band in _DEFAULT_BANDS.items()}
    )
    ordering: list[RolePair] = Field(default_factory=lambda: [["hunter", "account_manager"]])

    @field_validator("bands", mode="after")
    @classmethod
    def _merge_bands(cls, bands: dict[str, list[float]]) -> dict[str, list[float]]:
        merged = {role: list(band) for role, band in _DEFAULT_BANDS.items()}
        for role, (low, high) in bands.items():
            merged[norm_role(role)] = [float(low), float(high)]
        return merged

    @field_validator("ordering", mode="after")
    @classmethod
    def _norm_ordering(cls, ordering: list[list[str]]) -> list[list[str]]:
        return [[norm_role(high), norm_role(low)] for high, low in ordering]


THRESHOLD_MODELS: Mapping[str, type[Params]] = MappingProxyType(
    {cid: C3 if cid == "C3" else _scalar_model(cid, *_DEFAULTS[cid]) for cid in CHECK_IDS}
)
"""The thresholds model of each check, by id."""


def __getattr__(name: str) -> type[Params]:
    """Serve each check's model under its id (``thresholds.T1``), as the module always has."""
    if name in THRESHOLD_MODELS:
        return THRESHOLD_MODELS[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _upper_ids(value: object) -> object:
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(v.upper() for v in value)
    return value


class _CheckThresholds(BaseModel):
    """Every threshold the checks use, by check id and parameter, plus the blocking list.

    Build it with :meth:`default`, :func:`thresholds_from_mapping` or
    :func:`territory.io.config_files.load_thresholds`;
    values not given keep their defaults. A check reads its own model (``th.of("T1")``);
    :meth:`value`, :meth:`number` and :meth:`flag` read one key by name.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)

    blocking: Annotated[tuple[CheckId, ...], BeforeValidator(_upper_ids)] = DEFAULT_BLOCKING

    if TYPE_CHECKING:

        def __getattr__(self, name: str) -> Params:
            """Read one check's model (``t1`` ... ``c10``), fields the type checker cannot see."""

        def __setattr__(self, name: str, value: Params) -> None:
            """Refuse to replace one (the model is frozen)."""

    @classmethod
    def default(cls) -> CheckThresholds:
        """Return the engine defaults."""
        return cls()

    def of(self, check_id: str) -> Params:
        """Return the thresholds model of one check."""
        if check_id not in THRESHOLD_MODELS:
            raise KeyError(check_id)
        model: Params = getattr(self, check_id.lower())
        return model

    @property
    def params(self) -> Mapping[str, Mapping[str, Any]]:
        """Every value by check id and parameter, as plain data."""
        return MappingProxyType(
            {cid: MappingProxyType(self.of(cid).model_dump()) for cid in THRESHOLD_MODELS}
        )

    def value(self, check_id: str, param: str) -> Any:
        """Return the raw value of ``checks.<check_id>.<param>``."""
        model = self.of(check_id)
        if param not in type(model).model_fields:
            raise KeyError(f"checks.{check_id}.{param}")
        return getattr(model, param)

    def number(self, check_id: str, param: str) -> float:
        """Return a numeric threshold as a float."""
        return float(self.value(check_id, param))

    def flag(self, check_id: str, param: str) -> bool:
        """Return a boolean switch."""
        return bool(self.value(check_id, param))


if TYPE_CHECKING:
    CheckThresholds = _CheckThresholds
else:
    # One field per check, ``t1`` ... ``c10`` (written ``T1`` ... ``C10``), holding its model.
    CheckThresholds = create_model(
        "CheckThresholds",
        __base__=_CheckThresholds,
        __module__=__name__,
        __doc__=_CheckThresholds.__doc__,
        **{
            cid.lower(): (model, Field(default_factory=model, alias=cid))
            for cid, model in THRESHOLD_MODELS.items()
        },
    )

DEFAULT_PARAMS: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {check_id: model().model_dump() for check_id, model in THRESHOLD_MODELS.items()}
)
"""Engine defaults [D] by check and parameter; ``data/checks.toml`` holds the same values."""


class _ThresholdsFile(BaseModel):
    """The document: everything lives under ``[checks]``."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    checks: CheckThresholds = Field(default_factory=CheckThresholds)


def _normalised(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Check ids in upper case (``[checks.t1]`` is ``T1``), with the spelling the file used."""
    document = dict(data)
    checks = document.get("checks")
    spelled: dict[str, str] = {}
    if not isinstance(checks, Mapping):
        return document, spelled
    tables: dict[str, Any] = {}
    for raw, table in checks.items():
        key = str(raw).upper()
        if key not in THRESHOLD_MODELS:
            tables[raw] = table
            continue
        earlier = tables.get(key)
        if isinstance(earlier, Mapping) and isinstance(table, Mapping):
            tables[key] = {**earlier, **table}
        elif key not in tables or isinstance(earlier, Mapping):
            tables[key] = table
            spelled[key] = str(raw)
    document["checks"] = tables
    return document, spelled


def _position(document: Any, loc: tuple[int | str, ...]) -> tuple[int, ...]:
    """Where a problem sits in the file: the index of each key along its path."""
    out = []
    node = document
    for step in loc:
        if isinstance(node, Mapping) and step in node:
            out.append(list(node).index(step))
            node = node[step]
        elif isinstance(node, list) and isinstance(step, int) and step < len(node):
            out.append(step)
            node = node[step]
        else:
            out.append(-1)
            break
    return tuple(out)


_EXPECTED = {
    "bool_type": "true or false",
    "int_type": "a whole number",
    "float_type": "a number",
    "finite_number": "a finite number",
}


def _got(value: Any) -> str:
    return f"got {value!r} ({type(value).__name__})"


def _problem(exc: ValidationError, document: dict[str, Any], spelled: dict[str, str]) -> str:
    """Word the first problem pydantic found as a reader of the thresholds file needs it."""
    errors = exc.errors()
    extra = sorted(
        str(e["loc"][0]) for e in errors if len(e["loc"]) == 1 and e["type"] == "extra_forbidden"
    )
    if extra:
        return f"unknown top-level key(s) {extra}; thresholds live under [checks]"
    checks = document.get("checks")
    if not isinstance(checks, Mapping):
        return "key 'checks' must be a table"
    first = min(errors, key=lambda e: _position(document, e["loc"]))
    head, *rest = (str(step) for step in first["loc"][1:])
    if head == "blocking":
        table = checks[head]
        if not all(e["type"] == "literal_error" for e in errors if e["loc"][1:2] == (head,)):
            return f"key 'checks.blocking' must be a list of check ids, got {table!r}"
        unknown = [v.upper() for v in table if v.upper() not in CHECK_IDS]
        return f"key 'checks.blocking' names unknown check(s) {unknown}; known: {list(CHECK_IDS)}"
    if head not in THRESHOLD_MODELS:
        return f"key 'checks.{head}' is unknown; allowed keys are {['blocking', *CHECK_IDS]}"
    if not rest:
        return f"key 'checks.{spelled.get(head, head)}' must be a table"
    param, *inner = rest
    key = f"checks.{head}.{param}"
    value = checks[head][param]
    if first["type"] == "extra_forbidden":
        allowed = sorted(THRESHOLD_MODELS[head].model_fields)
        return f"key '{key}' is unknown; allowed keys in [checks.{head}] are {allowed}"
    if param == "bands" and inner:
        return (
            f"key '{key}.{inner[0]}' must be [low, high] with 0 <= low <= high <= 1, "
            f"got {value[inner[0]]!r}"
        )
    if param == "bands":
        return f"key '{key}' must be a table of role = [low, high] variable shares, {_got(value)}"
    if param == "ordering":
        pairs = '["higher_variable_role", "lower_variable_role"]'
        return f"key '{key}' must be a list of {pairs} pairs, {_got(value)}"
    return f"key '{key}' must be {_EXPECTED.get(first['type'], 'valid')}, {_got(value)}"


def thresholds_from_mapping(
    data: Mapping[str, Any], source: str = "<thresholds>"
) -> CheckThresholds:
    """Build thresholds from parsed TOML (``{"checks": {...}}``); keys not given keep defaults.

    Parameters
    ----------
    data
        The parsed document; check ids may be written in any case.
    source
        What to call the document in messages (a file name, ``[checks]`` of a scenario).

    Returns
    -------
    CheckThresholds
        The validated thresholds.

    Raises
    ------
    ScenarioError
        For an unknown key or a wrong type, naming ``source`` and the key
        (``checks.T1.potential_covered_min``).
    """
    document, spelled = _normalised(data)
    try:
        return _ThresholdsFile.model_validate(document).checks
    except ValidationError as exc:
        raise ScenarioError(f"{source}: {_problem(exc, document, spelled)}") from None
