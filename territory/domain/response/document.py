"""The JSON document of a fitted model (``response.json``): writing and reading it back.

:func:`to_json` turns a :class:`ResponseModel` into plain numbers, strings and lists (with
the bootstrap's P10-P90 interval of every parameter); :func:`from_json` reads it back
exactly and refuses a document of another format or with a missing parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from territory.domain.response.model import (
    FORMAT,
    FitQuality,
    ResponseModel,
    _float,
    _number,
    _problem,
    _text,
)
from territory.errors import DataValidationError


def to_json(model: ResponseModel) -> dict[str, Any]:
    """Write the fitted model as a JSON-ready dict (the content of ``response.json``).

    Parameters
    ----------
    model : ResponseModel
        The model to save.

    Returns
    -------
    dict
        Plain numbers, strings and lists; :func:`from_json` reads it back exactly.
    """
    q = model.quality
    return {
        "format": FORMAT,
        "family": "adbudg",
        "source": model.source,
        "parameters": {n: _float(v) for n, v in zip(model.names, model.estimate, strict=True)},
        # The order of the parameters (the columns of ``draws``): JSON writers may sort keys.
        "names": list(model.names),
        "fixed": list(model.fixed),
        "reference_tier": model.reference_tier,
        "reference_segment": model.reference_segment,
        "rating_centre": model.rating_centre,
        "noise": {
            "account_variance": model.account_variance,
            "rep_variance": model.rep_variance,
        },
        "coverage_observed": [_float(c) for c in model.coverage_observed],
        "coverage_central": [_float(c) for c in model.coverage_central],
        "quality": {
            "r2": _float(q.r2),
            "mape": _float(q.mape),
            "cv_r2": _float(q.cv_r2),
            "cv_mape": _float(q.cv_mape),
            "folds": q.folds,
            "n_reps": q.n_reps,
            "n_accounts": q.n_accounts,
            "n_cells": q.n_cells,
            "n_boot": q.n_boot,
        },  # fmt: skip
        "intervals": _intervals(model),
        "draws": [[_float(v) for v in row] for row in model.draws.tolist()],
        "fitted": [
            {
                "rep_id": str(r["rep_id"]),
                "coverage": _float(r["coverage"]),
                "revenue": _float(r["revenue"]),
                "predicted": _float(r["predicted"]),
            }
            for r in model.fitted.to_dict("records")
        ],
        "warnings": list(model.warnings),
    }


def _intervals(model: ResponseModel) -> dict[str, list[float | None]]:
    """P10 and P90 of each parameter over the bootstrap (empty without draws)."""
    if not model.draws.shape[0]:
        return {}
    lo, hi = np.quantile(model.draws, [0.1, 0.9], axis=0)
    return {n: [_float(a), _float(b)] for n, a, b in zip(model.names, lo, hi, strict=True)}


def from_json(document: Mapping[str, Any], source: str = "response.json") -> ResponseModel:
    """Read back a model written by :func:`to_json`.

    Parameters
    ----------
    document : mapping
        The parsed ``response.json``.
    source : str
        Name used in error messages.

    Returns
    -------
    ResponseModel
        The same model.

    Raises
    ------
    DataValidationError
        When the document is not a model of this format or a parameter is missing.
    """
    fix = "fit the model again (territory value) to rewrite the file"
    if not isinstance(document, Mapping) or document.get("format") != FORMAT:
        found = document.get("format") if isinstance(document, Mapping) else type(document)
        raise _problem(source, "format", f"expected format {FORMAT!r}, found {found!r}", fix)
    try:
        params = dict(document["parameters"])
        names = tuple(str(n) for n in document.get("names", params))
        if set(names) != {str(n) for n in params}:
            raise _problem(source, "names", "the names do not match the parameters", fix)
        for required in ("saturation", "base", "shape", "half", "transition_loss"):
            if required not in names:
                raise _problem(source, "parameters", f"parameter {required!r} is missing", fix)
        estimate = np.array([_number(params[n]) for n in names], dtype=np.float64)
        rows = [[_number(v) for v in row] for row in document.get("draws", [])]
        draws = np.array(rows, dtype=np.float64).reshape(len(rows), len(names))
        q = document["quality"]
        quality = FitQuality(
            r2=_number(q["r2"]), mape=_number(q["mape"]), cv_r2=_number(q["cv_r2"]),
            cv_mape=_number(q["cv_mape"]), folds=int(q["folds"]), n_reps=int(q["n_reps"]),
            n_accounts=int(q["n_accounts"]), n_cells=int(q["n_cells"]), n_boot=int(q["n_boot"]),
        )  # fmt: skip
        fitted = pd.DataFrame(
            document.get("fitted", []), columns=["rep_id", "coverage", "revenue", "predicted"]
        )
        for column in ("coverage", "revenue", "predicted"):
            fitted[column] = fitted[column].map(_number).astype(np.float64)
        lo, hi = (_number(c) for c in document["coverage_observed"])
        c_lo, c_hi = (_number(c) for c in document["coverage_central"])
        centre = document.get("rating_centre")
        noise = document["noise"]
        return ResponseModel(
            names=names,
            estimate=estimate,
            draws=draws,
            fixed=tuple(str(n) for n in document.get("fixed", [])),
            reference_tier=_text(document.get("reference_tier")),
            reference_segment=_text(document.get("reference_segment")),
            rating_centre=None if centre is None else float(centre),
            account_variance=float(noise["account_variance"]),
            rep_variance=float(noise["rep_variance"]),
            coverage_observed=(lo, hi),
            coverage_central=(c_lo, c_hi),
            quality=quality,
            fitted=fitted,
            source=str(document.get("source", "fitted")),
            warnings=tuple(str(w) for w in document.get("warnings", [])),
        )
    except DataValidationError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise _problem(source, None, f"the model document is incomplete ({exc!r})", fix) from None
