"""The hand-built plan of four reps, two accounts each, that the checks tests share.

Every rep is tier B, so its potential target is total potential x capacity share and its
workload target total workload x capacity share::

    rep  capacity  accounts  potential    workload   role             rating
    R1      800    A1, A2    400 + 400    360 + 360  hunter           0.2
    R2     1000    A3, A4    500 + 500    450 + 450  hunter           0.4
    R3     1200    A5, A6    600 + 600    540 + 540  account_manager  0.6
    R4     1400    A7, A8    700 + 700    630 + 630  account_manager  0.8

Total potential 4,400 and workload 3,960 hours, so rep r's targets are capacity_r (potential)
and 0.9 x capacity_r (workload): every rep sits exactly on target (deviation 0) at utilisation
0.9. Last year's revenue is half the potential and nobody changes rep. Quotas are half the
territory potential (400, 500, 600, 700), so Spearman(quota, potential) = 1.

The unbalanced plan hands R4's accounts to R1: R1 then holds 800 + 1,400 = 2,200 potential
against a target of 800 (+175%) and R4 holds nothing (-100%).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pandas as pd

from territory.domain.checks import CheckEvidence
from territory.domain.comp import ACCOUNT_MANAGER, HUNTER, CompPlan

REPS = ["R1", "R2", "R3", "R4"]
CAPACITY = [800.0, 1000.0, 1200.0, 1400.0]
BALANCED = ["R1", "R1", "R2", "R2", "R3", "R3", "R4", "R4"]
UNBALANCED = ["R1", "R1", "R2", "R2", "R3", "R3", "R1", "R1"]
COMP = CompPlan.of(HUNTER, ACCOUNT_MANAGER, plan_id="test")


def accounts(*, history: bool = True) -> pd.DataFrame:
    """The eight accounts; ``history`` adds who serves each today and last year's revenue."""
    potential = [400.0, 400.0, 500.0, 500.0, 600.0, 600.0, 700.0, 700.0]
    frame = pd.DataFrame(
        {
            "account_id": [f"A{i}" for i in range(1, 9)],
            "lat": [40.0 + 0.01 * i for i in range(8)],
            "lon": [-74.0] * 8,
            "potential": potential,
            "workload": [0.9 * p for p in potential],
            "segment": ["SMB"] * 8,
        }
    )
    if history:
        frame["current_rep"] = BALANCED
        frame["revenue_last_year"] = [0.5 * p for p in potential]
    return frame


def reps() -> pd.DataFrame:
    """The four reps (all tier B, two hunters and two account managers)."""
    return pd.DataFrame(
        {
            "rep_id": REPS,
            "lat": [40.0] * 4,
            "lon": [-74.0] * 4,
            "capacity": CAPACITY,
            "tier": ["B"] * 4,
            "rating": [0.2, 0.4, 0.6, 0.8],
            "role": ["hunter", "hunter", "account_manager", "account_manager"],
        }
    )


def quotas(quota: list[float] | None = None) -> pd.DataFrame:
    """Blended quotas, half of each territory's potential unless ``quota`` is given."""
    return pd.DataFrame(
        {
            "territory_id": REPS,
            "rep_id": REPS,
            "method": ["blended"] * 4,
            "w_history": [0.5] * 4,
            "potential": [800.0, 1000.0, 1200.0, 1400.0],
            "final_annual_quota": quota or [400.0, 500.0, 600.0, 700.0],
            "measure": ["revenue"] * 4,
        }
    )


SOLVE: dict[str, Any] = {
    "seed": 7,
    "inputs": {"accounts": "sha256:aa", "reps": "sha256:bb"},
    "parameters": {
        "balance_potential": 0.05,
        "balance_workload": 0.05,
        "seed": 7,
        "time_limit_s": 60.0,
        "tier_factors": {"A": 1.15, "B": 1.0, "C": 0.85},
    },
    "seconds": 1.0,
    "time_limit_s": 60.0,
}

GOOD_STRESS: dict[str, Any] = {
    "n_rate_reps": 4,
    "n_excluded": 0,
    "expected_share_at_quota": 0.55,
    "p_share_at_quota_ge_min": 0.7,
    "expected_share_paid": 0.95,
    "payout_spread": 0.10,
    "p_attain_spread": 0.10,
    "p_company_within_band": 0.75,
    "over_assignment": 0.05,
    "over_assignment_bound": -0.03,
    "largest_threshold_for_90pct_paid": 0.6,
    # Hunter curve: f(0.55) = 0.55 and f(1.5) = 1 + 2 x 0.5 = 2.0.
    "roles": [
        {
            "role": "hunter",
            "attainment_p10": 0.55,
            "attainment_p90": 1.5,
            "payout_at_p10": 0.55,
            "payout_at_p90": 2.0,
            "cap_binding_rate": 0.0,
            "accelerator_slope_needed": 2.0,
            "target_leverage": 2.0,
        }
    ],
}


def evidence(**changes: Any) -> CheckEvidence:
    """The balanced four-rep plan with every step run (quotas, stress, comp)."""
    base = CheckEvidence(
        accounts=accounts(),
        reps=reps(),
        plan=pd.Series(BALANCED),
        solve=SOLVE,
        quotas=quotas(),
        quota_summary={"company_target": 2000.0},
        quota_config={"company_target": 2000.0, "measure": "revenue"},
        comp=COMP,
        stress=GOOD_STRESS,
        rep_impact=pd.DataFrame({"rep_id": REPS, "expected_attainment": [0.95] * 4}),
    )
    return replace(base, **changes)
