"""What a fit read, as a fingerprint: the key a saved model is matched on.

A fit reads a few columns of the accounts and reps (:func:`fit_response`); the same columns
arrive as a CSV file, as a run folder's Parquet copy or as a frame a scenario's levers built.
Hashing the files' bytes would tell those apart although the fit would be the same, so the
fingerprint hashes the columns' *values*, normalised as the fit reads them (numbers as float64,
ids and labels as stripped text, blanks alike), in the tables' row order.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from territory.domain.contract import is_blank

ACCOUNT_COLUMNS: dict[str, str] = {
    "account_id": "text",
    "potential": "number",
    "workload": "number",
    "revenue_last_year": "number",
    "revenue_prior_year": "number",
    "current_rep": "text",
    "prior_rep": "text",
    "segment": "text",
}
"""The accounts' columns a fit reads, and how each is read."""

REP_COLUMNS: dict[str, str] = {
    "rep_id": "text",
    "capacity": "number",
    "tier": "text",
    "rating": "number",
}
"""The reps' columns a fit reads, and how each is read."""


def history_digest(accounts: pd.DataFrame, reps: pd.DataFrame) -> dict[str, str]:
    """Fingerprint the history a fit reads from ``accounts`` and ``reps``.

    Parameters
    ----------
    accounts, reps : pandas.DataFrame
        The tables a fit would be given (other columns are ignored).

    Returns
    -------
    dict
        ``{"accounts": "sha256:...", "reps": "sha256:..."}``: equal for tables whose fit
        columns hold the same values, whatever file format or dtype they came in.
    """
    return {
        "accounts": _columns_digest(accounts, ACCOUNT_COLUMNS),
        "reps": _columns_digest(reps, REP_COLUMNS),
    }


def _columns_digest(frame: pd.DataFrame, columns: dict[str, str]) -> str:
    digest = hashlib.sha256()
    digest.update(f"rows={len(frame)}\n".encode())
    for name, kind in columns.items():
        if name not in frame.columns:
            continue
        digest.update(f"column={name}:{kind}\n".encode())
        values = frame[name]
        if kind == "number":
            numbers = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
            # One bit pattern for "no number" (NaN payloads differ between readers) and for 0.
            digest.update((np.where(np.isnan(numbers), np.inf, numbers) + 0.0).tobytes())
        else:
            texts = ["" if is_blank(v) else str(v).strip() for v in values.tolist()]
            digest.update("\x1f".join(texts).encode("utf-8"))
        digest.update(b"\n")
    return "sha256:" + digest.hexdigest()
