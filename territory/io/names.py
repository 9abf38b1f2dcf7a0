"""User text that becomes part of a path: one naming rule and one checked join.

A scenario file's stem names its run folder, a sweep grid value names a variant's folder, a
checkpoint stage names a file. Text such as ``..`` (the stem of ``...toml``) or ``a/b`` would
make the engine write, and replace, folders it was never meant to touch, so every such name
passes :func:`validate_name` and every join goes through :func:`join_inside`.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from territory.errors import UnsafeNameError

MAX_NAME_CHARACTERS = 120
"""Longest name accepted: staging folders add about 20 characters, and file systems stop at 255
bytes."""

MAX_NAME_BYTES = 200
"""... and at most this many bytes in UTF-8 (letters outside ASCII take 2 to 4 bytes each)."""

PUNCTUATION = "_-."
"""The only characters besides letters and digits; ``.`` never comes first."""

RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{i}" for i in range(1, 10)}
    | {f"LPT{i}" for i in range(1, 10)}
)
"""Device names Windows will not use as files, with or without an extension."""

RULE = (
    "a name may use letters, digits, '_', '-' and '.' (not first, not last), at most "
    f"{MAX_NAME_CHARACTERS} characters ({MAX_NAME_BYTES} bytes in UTF-8), and is never '.', "
    "'..' or a device name such as CON"
)


def _allowed(char: str) -> bool:
    """Letters and digits of any script, and the three punctuation marks; nothing else."""
    if char in PUNCTUATION:
        return True
    return unicodedata.category(char)[0] in ("L", "N")


def _problem(text: str) -> str | None:
    """Which part of the rule ``text`` breaks (None when it is a safe name)."""
    if text in ("", ".", ".."):
        return "it is empty" if text == "" else f"'{text}' means a folder itself, not a name in it"
    if len(text) > MAX_NAME_CHARACTERS or len(text.encode("utf-8")) > MAX_NAME_BYTES:
        size = len(text.encode("utf-8"))
        return f"it is too long ({len(text)} characters, {size} bytes in UTF-8)"
    bad = sorted({c for c in text if not _allowed(c)})
    if bad:
        shown = ", ".join(repr(c) for c in bad[:8])
        separators = any(c in "/\\" for c in bad)
        return f"it contains {shown}" + (" (a path separator)" if separators else "")
    if text.startswith("."):
        return "it starts with '.' (hidden, and '..' climbs out of the folder)"
    if text.endswith("."):
        return "it ends with '.'"
    if text.split(".")[0].upper() in RESERVED:
        return f"'{text.split('.')[0]}' is a device name on Windows"
    return None


def is_safe_name(text: str) -> bool:
    """Whether :func:`validate_name` accepts ``text``."""
    return isinstance(text, str) and _problem(text) is None


def validate_name(text: str, what: str, fix: str = "") -> str:
    """Return ``text`` when it is safe as one file or folder name, else raise.

    Parameters
    ----------
    text
        The name as the user gave it (or as it was derived from their input).
    what
        What the name is, as the user knows it: "scenario file stem", "sweep grid label", ...
    fix
        How to fix it, when there is something more specific to say than the rule.

    Raises
    ------
    UnsafeNameError
        Naming the text, what it is, the rule and which part of it the text breaks.
    """
    if not isinstance(text, str):
        raise UnsafeNameError(f"{what} {text!r} is not text; {RULE}")
    problem = _problem(text)
    if problem is None:
        return text
    hint = f"; {fix}" if fix else ""
    raise UnsafeNameError(f"{what} {text!r} is not a safe name: {problem}. Rule: {RULE}{hint}")


def join_inside(root: str | Path, name: str, what: str = "name") -> Path:
    """``root / name``, checked to be a path strictly inside ``root``.

    The name must pass :func:`validate_name`; the join is then resolved (symbolic links
    followed) and must still lie below the resolved ``root``, so a link planted at
    ``root/name`` cannot redirect a write elsewhere. Returns the unresolved join, so that
    messages and outputs keep the paths as the user wrote them.

    Raises
    ------
    UnsafeNameError
        When the name breaks the rule or the joined path leaves ``root``.
    """
    validate_name(name, what)
    base = Path(root)
    joined = base / name
    inner, outer = joined.resolve(), base.resolve()
    if inner == outer or not inner.is_relative_to(outer):
        raise UnsafeNameError(
            f"{what} {name!r} would write to {inner}, outside the folder {outer} it belongs in "
            "(a symbolic link?); remove the link or choose another name"
        )
    return joined
