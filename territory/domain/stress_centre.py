"""Centre the stress test on the sales-response model: each rep's expected sales under the plan.

Without a model the stress test centres a rep's attainment on last year's revenue of its
territory, scaled to the forecast: potential, coverage and rep quality never move it, so an
A-tier rep is predicted to sell no more than a C-tier one, and quotas set from potential are
judged against history. :func:`centre_on_model` replaces that centre with what a fitted
:class:`~territory.domain.response.ResponseModel` expects each rep to sell under the plan
(:func:`~territory.domain.response.rep_expected_sales`: coverage, tier x rating effectiveness,
ramp and the transition loss on accounts that change hands). Three conventions count every
effect once:

* **Level.** The model's full-productivity sales are scaled to add up to the forecast
  (``StressInputs.plan_revenue``), as history is today: the model decides how the forecast
  splits between reps, not how big it is.
* **Effectiveness.** The model's multiplier becomes the rep's *known* effectiveness and the
  centre is divided by it, so that the simulated sales are the model's while the "standard rep"
  statistics (``e_r = 1``, check C6) stay free of rep quality; known effectiveness is not drawn
  again (``sigma_effectiveness`` applies to reps of unknown quality only). A reps
  ``effectiveness`` column is replaced by the model's.
* **Ramp.** The stress test ramps a rep by its own schedule: over the ``m`` months it holds the
  territory it sells ``p = held_share(...)`` of a full year, all of its sales scaled by ``p``.
  The model keeps a ramping rep's base level (``base + (R(c) - base) x productivity``), so the
  centre is multiplied by ``(m / 12) S(p 12 / m) / (p S(1))``: the held months then sell what
  the model predicts. The factor is 1 for a fully ramped rep and for a vacant seat.

Pure: no file is read or written and the inputs are never modified.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from territory.domain.arrays import PlanLike
from territory.domain.metrics import moved_mask
from territory.domain.response import ResponseModel, plan_array, rep_expected_sales
from territory.domain.stress_inputs import StressInputs, held_share
from territory.errors import DataValidationError, InputProblem

__all__ = ["centre_on_model"]


def centre_on_model(
    inputs: StressInputs,
    model: ResponseModel,
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    plan: PlanLike,
    *,
    ramp_schedule: Sequence[float],
) -> tuple[StressInputs, list[str]]:
    """Return ``inputs`` centred on the model's expected sales under ``plan``, and warnings.

    Parameters
    ----------
    inputs : StressInputs
        The stress inputs built from history; their rep ids must be in ``reps``.
    model : ResponseModel
        The fitted (or literature) sales-response model.
    accounts : pandas.DataFrame
        ``account_id``, ``potential``, ``workload``; ``segment`` when the model uses it and
        ``current_rep`` for the transition loss.
    reps : pandas.DataFrame
        ``rep_id``, ``capacity``; ``tier`` and ``rating`` when the model uses them.
    plan : array-like, pandas.Series or pandas.DataFrame
        The rep of every account (see :func:`territory.domain.response.plan_array`).
    ramp_schedule : sequence of float
        The stress test's ramp (``StressConfig.ramp_schedule``).

    Returns
    -------
    inputs : StressInputs
        Same quotas, roles and plan revenue; ``expected_sales`` and ``effectiveness`` from the
        model (see the module docstring).
    warnings : list of str
        Tiers or segments the fit never saw, the model's own warnings, a replaced
        effectiveness column.

    Raises
    ------
    DataValidationError
        A rep of ``inputs`` is not in ``reps``, or the model expects no sales at all.
    """
    ids = reps["rep_id"].astype(str).tolist()
    where = {rep: i for i, rep in enumerate(ids)}
    missing = [r for r in inputs.rep_ids.tolist() if str(r) not in where]
    if missing:
        raise _problem(
            f"rep(s) {', '.join(map(str, missing[:5]))} of the quotas are not in the reps table",
            "stress the run's own quotas (territory quota on this run folder)",
        )
    position = np.array([where[str(r)] for r in inputs.rep_ids.tolist()], dtype=np.int64)
    reps_of = plan_array(accounts, plan)
    moved = moved_mask(accounts, reps_of) if "current_rep" in accounts.columns else None

    share = held_share(inputs.months_in_role, inputs.tenure_months, ramp_schedule)
    held_year = inputs.months_in_role / 12.0
    productivity = np.ones(len(reps))
    productivity[position] = np.where(
        held_year > 0, share / np.where(held_year > 0, held_year, 1.0), 1.0
    )
    full = rep_expected_sales(model, accounts, reps, reps_of, moved=moved)
    ramped = rep_expected_sales(
        model, accounts, reps, reps_of, moved=moved, productivity=np.clip(productivity, 0, 1)
    )
    sales = full.sales[0][position]
    total = float(sales.sum())
    if not (total > 0.0 and np.isfinite(total)):
        raise _problem(
            "the response model expects no sales from this plan, so its sales cannot be scaled "
            "to the forecast",
            "check the accounts' potential, or stress on history (--expected-sales history)",
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(
            (share > 0) & (sales > 0),
            held_year * ramped.sales[0][position] / (share * sales),
            1.0,
        )
    effectiveness = full.effectiveness[position]
    effectiveness = np.where(np.isfinite(effectiveness) & (effectiveness > 0), effectiveness, 1.0)
    scale = inputs.plan_revenue / total
    notes = [*full.notes, *model.warnings]
    if not np.isnan(inputs.effectiveness).all():
        notes.append(
            "the reps' effectiveness column is replaced by the response model's tier x rating "
            "effectiveness"
        )
    centred = replace(
        inputs,
        expected_sales=np.asarray(sales / effectiveness * scale * ratio, np.float64),
        effectiveness=np.asarray(effectiveness, np.float64),
    )
    return centred, list(dict.fromkeys(notes))


def _problem(message: str, fix: str) -> DataValidationError:
    return DataValidationError([InputProblem("response.json", None, None, message, fix)])
