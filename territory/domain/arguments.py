"""The allowed values of every numeric argument and every named choice, declared once per kind.

The command line (``cli.py``) turns each :class:`Range` and choice tuple into a click parameter
type, so a bad value stops the command with exit 2 before anything is read or solved; the
alignment's specification (:class:`territory.domain.spec.AlignmentSpec`, built by the Python API
and by
scenario files) checks the same rules and raises :class:`~territory.errors.UsageError`. NaN and
infinities are refused everywhere: ``nan < 1`` is false, so a plain range test would let them
through.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from types import MappingProxyType

from territory.errors import UsageError


@dataclass(frozen=True)
class Range:
    """An interval of finite numbers (integers when ``integer``), with open or closed ends."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False
    meaning: str = ""
    """What the number is, in the user's terms, shown after the interval."""
    percent: bool = False
    """Whether ``115%`` may be typed (read as 1.15): the value is a fraction or a multiple."""

    @property
    def text(self) -> str:
        """The interval as people read it: ``0 <= value < 1``, ``value > 0``."""
        low = None if self.low is None else f"{_number(self.low)} {'<' if self.low_open else '<='}"
        high = (
            None if self.high is None else f"{'<' if self.high_open else '<='} {_number(self.high)}"
        )
        if low is not None and high is not None:
            interval = f"{low} value {high}"
        elif low is not None:
            assert self.low is not None
            interval = f"value {'>' if self.low_open else '>='} {_number(self.low)}"
        else:
            interval = f"value {high}" if high is not None else "any value"
        kind = "a whole number" if self.integer else "a finite number"
        meaning = f" ({self.meaning})" if self.meaning else ""
        return f"{kind}{meaning}, {interval}"

    def contains(self, value: float) -> bool:
        """Whether ``value`` is finite and inside the interval."""
        if not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return not (
            self.high is not None and (value >= self.high if self.high_open else value > self.high)
        )

    def problem(self, value: object) -> str | None:
        """Say what is wrong with ``value`` ("not a finite number", "out of range"), or None."""
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return "not a number"
        if self.integer and not isinstance(value, numbers.Integral):
            return "not a whole number"
        if not math.isfinite(float(value)):
            return "not a finite number"
        return None if self.contains(float(value)) else "out of range"

    def check(self, value: object, name: str) -> float:
        """``value`` as a number when it is allowed; else :class:`UsageError` naming ``name``.

        Integer ranges return an ``int``; the others a ``float``. An empty ``name`` starts the
        message with the value (the command line adds the option's name itself).
        """
        problem = self.problem(value)
        if problem is not None:
            subject = f"{name} is {value!r}," if name else f"{value!r} is"
            raise UsageError(f"{subject} {problem}; allowed: {self.text}")
        assert isinstance(value, numbers.Real)
        return int(value) if self.integer else float(value)  # type: ignore[call-overload]

    def parse_number(self, text: object) -> object:
        """Text as a number (an ``int`` when it reads as one), else the text unchanged.

        Human forms are read by :func:`human_number`; ``%`` only where :attr:`percent` allows.
        """
        if not isinstance(text, str):
            return text
        try:
            exact = human_number(text, percent=self.percent)
        except ValueError:
            return text
        if self.integer and exact == exact.to_integral_value():
            return int(exact)
        return float(exact)

    def parse(self, text: object, name: str) -> float:
        """Parse a command-line value (text, or a default already a number) and check its range.

        Raises
        ------
        UsageError
            Text that is no number (saying which forms are read) or a number out of range.
        """
        if isinstance(text, str):
            try:
                human_number(text, percent=self.percent)
            except ValueError as exc:
                subject = f"{name} is {text!r}:" if name else f"{text!r}:"
                raise UsageError(f"{subject} {exc}; allowed: {self.text}") from None
        return self.check(self.parse_number(text), name)


SUFFIXES = {"k": 3, "m": 6, "b": 9, "bn": 9, "t": 12}
"""Magnitude suffixes (any case): ``1.5k`` = 1,500, ``165M`` = 165,000,000, ``2B`` = 2e9."""
_HUMAN = re.compile(
    r"^(?P<sign>[+-]?)(?P<digits>\d{1,3}(?:,\d{3})+(?:\.\d*)?|\d+(?:_\d+)*(?:\.\d*)?|\.\d+)"
    r"(?P<exponent>[eE][+-]?\d+)?\s*(?P<suffix>[A-Za-z]+|%)?$"
)
HUMAN_FORMS = "e.g. 0.05, 5%, 1,000,000, 1.5k, 165M or 2B"
"""The forms :func:`human_number` reads, as error messages quote them."""


def human_number(text: str, *, percent: bool = False) -> Decimal:
    """Read a number as people type it: ``1,000,000``, ``165M``, ``1.5k``, ``2B``, ``115%``.

    The one parser of numbers typed on the command line. Commas must group thousands (``1,00``
    is refused, not guessed); ``k``, ``M``, ``B`` (or ``bn``) and ``T`` multiply by a thousand,
    a million, a billion and a trillion, in any case; ``%`` divides by 100 and is read only when
    ``percent`` is true (the value is a fraction or a multiple, such as a tolerance or an
    attainment). The result is exact (a :class:`~decimal.Decimal`), so ``115%`` is 1.15 and not
    1.1500000000000001.

    Raises
    ------
    ValueError
        Saying why the text is not such a number (no number, an unknown suffix, ``%`` where a
        fraction is not meant, not finite).
    """
    match = _HUMAN.match(text.strip())
    if match is None and text.strip().lstrip("+-").lower() in ("nan", "inf", "infinity"):
        raise ValueError("not a finite number")
    if match is None:
        raise ValueError(f"not a number ({HUMAN_FORMS})")
    digits = match["digits"].replace(",", "").replace("_", "")
    try:
        value = Decimal(match["sign"] + digits + (match["exponent"] or ""))
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimal digits
        raise ValueError(f"not a number ({HUMAN_FORMS})") from None
    suffix = match["suffix"]
    if suffix == "%":
        if not percent:
            raise ValueError("a percentage is not read here (this value is not a fraction)")
        value = value.scaleb(-2)
    elif suffix is not None:
        power = SUFFIXES.get(suffix.lower())
        if power is None:
            raise ValueError(
                f"unknown suffix {suffix!r} (k = thousand, M = million, B = billion, T = trillion)"
            )
        value = value.scaleb(power)
    if not math.isfinite(float(value)):
        raise ValueError("not a finite number")
    return value


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


TOLERANCE = Range(
    0.0, 1.0, high_open=True, meaning="a share of the target, 0.05 = ±5%", percent=True
)
"""Balance tolerances: 1 or more would allow a rep nothing (or everything)."""
SHARE = Range(0.0, 1.0, meaning="a share, 0.10 = 10%", percent=True)
GAP = Range(0.0, 1.0, high_open=True, meaning="a relative gap, 0.01 = 1%", percent=True)
SECONDS = Range(0.0, low_open=True, meaning="seconds")
POSITIVE = Range(0.0, low_open=True)
NON_NEGATIVE = Range(0.0)
KILOMETRES = Range(0.0, low_open=True, meaning="km")
WEIGHT = Range(0.0, meaning="a cost weight")
MONEY = Range(0.0, low_open=True, meaning="currency per year")
MONEY_OR_ZERO = Range(0.0, meaning="currency per year")
OVER_ASSIGNMENT = Range(
    -1.0, 1.0, low_open=True, high_open=True, meaning="a rate, 0.10 = 10%", percent=True
)
TIER_FACTOR = Range(
    0.0, low_open=True, meaning="a multiplier of the potential target", percent=True
)
ATTAINMENT = Range(0.0, meaning="a fraction of quota, 1.15 = 115%", percent=True)
SEED = Range(0, 2**31 - 1, integer=True, meaning="a random seed")
"""Seeds reach numpy (no negatives) and HiGHS / CP-SAT (32-bit signed)."""
COUNT = Range(1, integer=True)
COUNT_OR_ZERO = Range(0, integer=True)

DEFAULT_CANDIDATES = 8
"""How many nearest reps each account considers; the optimum rarely lies further away."""
DEFAULT_TIER_FACTORS: Mapping[str, float] = MappingProxyType({"A": 1.15, "B": 1.0, "C": 0.85})
"""Potential-target multipliers by rep tier: the best reps carry the most potential (declared
here, beside the ranges, so that the command line's defaults load without the model)."""

SOLVERS = ("auto", "heuristic", "cpsat", "mip")
"""``auto`` and the backends of :data:`solvers.SOLVERS` (a test keeps the two in step)."""
TABLE_FORMATS = ("csv", "parquet", "xlsx")
"""The table formats :func:`territory.io.write_table` writes (kept in step by a test)."""
DECOMPOSE = ("auto", "on", "off")
COMPACTNESS = ("travel", "moi")
ADJACENCY = ("rook", "queen")
DESIGN_METHODS = ("auto", "exact", "heuristic")
TRAVEL_MEASURES = ("farthest", "centre")
QUOTA_METHODS = (
    "historical", "potential", "untapped", "blended", "capacity", "even",
    "blend", "history", "growth",
)  # fmt: skip
PERIODS = ("quarter", "month")
STRESS_LEVERS = (
    "over_assignment", "accelerator_slope", "sigma_idio", "sigma_effectiveness", "sigma_company",
)  # fmt: skip
"""The stress test's sensitivity levers (the keys of its default lever grid; a test keeps them
in step)."""
OBJECTIVES = ("travel", "value")
"""What an alignment aims at: least travel, or then the response model's expected sales."""
EXPECTED_SALES = ("auto", "model", "history")
"""Centres of the stress test's attainment: the response model when saved, the model, history."""
QUOTA_METHOD_ALIASES = {"blend": "blended", "history": "historical", "growth": "historical"}
"""Other names of quota methods, as the command line and scenario files accept them."""


def quota_method(name: str) -> str:
    """Return a quota method under its canonical name (``blend`` -> ``blended``; case ignored)."""
    lowered = name.lower()
    return QUOTA_METHOD_ALIASES.get(lowered, lowered)


SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx", "inproc")
"""Dask comm protocols; all but ``inproc`` (one process only) take ``host:port``."""

_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)$")


def check_scheduler_address(address: str) -> str:
    """Check a Dask scheduler address and return it as Dask reads it.

    That is ``tcp://host:port`` (or ``tls://``, ``ws://``, ``wss://``, ``ucx://``; ``host:port``
    alone means ``tcp://``) or ``inproc://...``.

    Raises
    ------
    UsageError
        Naming the address, what is wrong with it and the expected form.
    """
    expected = (
        "expected tcp://HOST:PORT (e.g. tcp://10.0.0.5:8786; also tls://, ws://, wss://, "
        "ucx://), as printed by `dask scheduler`"
    )
    text = address.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "tcp", text
    scheme = scheme.lower()
    if scheme in ("http", "https"):
        raise UsageError(
            f"scheduler address {address!r} is a web address (the dashboard, port 8787 by "
            f"default), not the scheduler's; {expected}"
        )
    if scheme not in SCHEDULER_SCHEMES:
        raise UsageError(
            f"scheduler address {address!r} uses the protocol {scheme!r}, which Dask does not "
            f"speak; {expected}"
        )
    if scheme == "inproc":
        if not rest:
            raise UsageError(f"scheduler address {address!r} names no address; {expected}")
        return text
    host, colon, port = rest.rpartition(":")
    if not colon:
        raise UsageError(f"scheduler address {address!r} has no port; {expected}")
    if not host:
        raise UsageError(f"scheduler address {address!r} has no host; {expected}")
    if not _HOST.match(host):
        raise UsageError(
            f"scheduler address {address!r}: {host!r} is not a host name or IP; {expected}"
        )
    if not (port.isdigit() and 1 <= int(port) <= 65535):
        raise UsageError(
            f"scheduler address {address!r}: the port {port!r} is not a number from 1 to 65535; "
            f"{expected}"
        )
    return f"{scheme}://{host}:{int(port)}"
