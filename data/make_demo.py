"""Build the built-in demo data set: ~5,000 accounts and 40 reps on real US ZIP centroids.

Run from the repository root::

    python data/make_demo.py [--out data/demo]

The demo must be reproducible byte for byte (tests rebuild it and compare), so everything comes
from one fixed seed and the ZIP table shipped with the ``zipcodes`` package (STANDARD, active ZIPs
with coordinates in NY, NJ, PA, CT and MA: a dense corridor plus rural Pennsylvania and upstate
New York, so that travel matters).

The company is sized so that pay, quotas and sales agree (the numbers ``make demo`` plans with):
the 40 reps sold about 29.6M last year (740k each) and 26.0M the year before; each rep's ``ote``
is its role's on-target earnings in ``data/demo/comp.toml`` (hunters 165k, account managers 145k)
scaled by tier (:data:`TIER_PAY`), so a 2027 plan of 32.5M lands quotas near 5x OTE.

What the data set shows off, and the guarantees behind it:

* skewed (lognormal) potential with 10 key accounts, each at most 30% of the smallest rep's
  potential target; workload grows with potential; total workload is 85% of total capacity;
* an unbalanced current alignment (weighted nearest rep, a few reps historically overloaded);
* revenue last year comes from a hidden sales-response curve (below), 0 for prospects; revenue
  the year before (``revenue_prior_year``) with account-level growth, so the quota backtest has
  two years to compare;
* 4 key accounts locked to their current rep (``locked_rep``);
* a plan within ±5% of every rep's potential and workload target that respects the locks exists:
  the accounts are dealt into hidden groups (locked ones into their rep's group) and
  :func:`territory.domain.synthetic.fit_to_targets` makes each group hit its rep's targets exactly.

The hidden response (what ``territory value`` and ``territory size`` should find): an account's
revenue last year is ::

    potential x segment level x exp(RATING_SLOPE x (rating - 0.6)) x skill_r x R(c_r) x noise

with ``c_r = capacity / workload`` of its rep under the current alignment (the overloaded reps
of the historical alignment cover their accounts less), ``R`` the ADBUDG curve
``base + (saturation - base) x h / (1 + h)``, ``h = (c / half)^shape`` with the parameters of
:data:`HIDDEN_RESPONSE` (concave over the coverage reps have, so rebalancing pays), ``skill_r``
a rep effect the model cannot see (log-sd 5%) and ``noise`` a mean-1 lognormal per account
(log-sd 0.3). The segment levels are :data:`_SEGMENT_PENETRATION`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
import zipcodes

try:
    import territory.domain.synthetic  # noqa: F401 - the installed engine, when there is one
except ModuleNotFoundError:  # run as `python data/make_demo.py` from a source checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from territory.domain.families import distinct_nearest_zips, scatter_around_zips
from territory.domain.synthetic import (
    ACCOUNT_COLUMNS,
    REP_COLUMNS,
    company_names,
    fit_to_targets,
    historical_alignment,
    home_bases,
    person_names,
    potential_targets,
    witness_groups,
    workload_targets,
)

DEMO_SEED: Final = 20_240_611
STATES: Final = ("NY", "NJ", "PA", "CT", "MA")
N_ACCOUNTS: Final = 5_000
N_REPS: Final = 40
N_KEY_ACCOUNTS: Final = 10
N_LOCKED: Final = 4
UTILIZATION: Final = 0.85
#: Largest key account as a share of the smallest rep's potential (and workload) target.
KEY_ACCOUNT_MAX_SHARE: Final = 0.30
#: Largest ordinary account, same unit; keeps key accounts the only lumpy ones.
ACCOUNT_MAX_SHARE: Final = 0.08
JITTER_KM: Final = 1.8
DEFAULT_OUT: Final = Path(__file__).resolve().parent / "demo"

#: The curve behind last year's revenue: share of potential sold at a coverage (module docstring).
HIDDEN_RESPONSE: Final = {"base": 0.05, "saturation": 0.5, "half": 1.0, "shape": 2.2}
#: Effect of a rep's rating on sales: exp(slope x (rating - 0.6)).
RATING_SLOPE: Final = 0.9
ACCOUNT_NOISE_SD: Final = 0.3

#: Median potential of an ordinary account before fitting, currency/year. Sets the company's
#: size: last year's sales come to about 29.6M, some 740k per rep, so that quotas near 5x the
#: reps' on-target earnings (data/demo/comp.toml) add up to the plan ``make demo`` sets.
ACCOUNT_POTENTIAL: Final = 9_000.0
#: On-target earnings of a B-tier rep by role (as in data/demo/comp.toml), currency/year.
ROLE_OTE: Final = {"hunter": 165_000.0, "account_manager": 145_000.0}
#: Pay of A- and C-tier reps relative to B: the stronger reps hold the larger territories.
TIER_PAY: Final = {"A": 1.25, "B": 1.0, "C": 0.8}
#: Potential range of the 10 key accounts, currency/year.
KEY_ACCOUNT_POTENTIAL: Final = (300_000.0, 600_000.0)
#: Potential at which an account counts as Mid-Market, and as Enterprise (currency/year).
SEGMENT_FLOORS: Final = (15_000.0, 50_000.0)

# Segment-level penetration multipliers: large customers are better covered historically.
_SEGMENT_PENETRATION: Final = {"Enterprise": 1.25, "Mid-Market": 1.0, "SMB": 0.8}
_SEGMENT_PROSPECT_RATE: Final = {"Enterprise": 0.03, "Mid-Market": 0.12, "SMB": 0.25}


def zip_centroids(states: Sequence[str] = STATES) -> pd.DataFrame:
    """STANDARD, active ZIP centroids of ``states``, sorted by ZIP (a stable, spatial order).

    Returns
    -------
    pandas.DataFrame
        Columns ``zip`` (5-character string), ``state``, ``city``, ``lat``, ``lon``.
    """
    rows = [
        (z["zip_code"], z["state"], z["city"], z["lat"], z["long"])
        for state in states
        for z in zipcodes.filter_by(state=state)
        if z["zip_code_type"] == "STANDARD" and z["active"] and z["lat"] and z["long"]
    ]
    zips = pd.DataFrame(rows, columns=["zip", "state", "city", "lat", "lon"])
    zips = zips.astype({"zip": "str", "lat": "float64", "lon": "float64"})
    return zips.sort_values("zip", kind="stable").reset_index(drop=True)


def demo_segments(potential: np.ndarray) -> np.ndarray:
    """SMB / Mid-Market / Enterprise by potential at this company's :data:`SEGMENT_FLOORS`."""
    labels = np.array(["SMB", "Mid-Market", "Enterprise"], dtype=object)
    code = (potential >= SEGMENT_FLOORS[0]).astype(np.int64) + (potential >= SEGMENT_FLOORS[1])
    return np.asarray(labels[code], dtype=object)


def hidden_response(coverage: np.ndarray) -> np.ndarray:
    """Share of potential sold at a coverage under :data:`HIDDEN_RESPONSE` (ADBUDG)."""
    r = HIDDEN_RESPONSE
    h = (coverage / r["half"]) ** r["shape"]
    return r["base"] + (r["saturation"] - r["base"]) * h / (1.0 + h)


def build(
    seed: int = DEMO_SEED, *, with_witness: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Build the demo accounts and reps tables (deterministic for a given seed).

    Parameters
    ----------
    seed : int
        Seed of the single random generator everything is drawn from.
    with_witness : bool
        Add a ``witness_rep`` column: a plan within ±5% of every target that respects the locks
        (for tests; never written to the shipped files).

    Returns
    -------
    accounts : pandas.DataFrame
        The contract columns, then ``locked_rep`` (rep id for locked accounts, missing
        otherwise) and ``unit_id`` (ZIP code, a 5-character string).
    reps : pandas.DataFrame
        The contract columns.
    """
    rng = np.random.default_rng(seed)
    zips = zip_centroids()
    z_lat, z_lon = zips["lat"].to_numpy(), zips["lon"].to_numpy()
    at, lat, lon, density = scatter_around_zips(z_lat, z_lon, N_ACCOUNTS, JITTER_KM, rng)

    # Reps: 40 people, tiers 10/20/10, better tiers rated higher, 40% hunters.
    capacity = np.round(rng.uniform(1_500.0, 1_800.0, N_REPS), -1)
    tier = rng.permutation(np.array(["A"] * 10 + ["B"] * 20 + ["C"] * 10))
    tier_rank = np.select([tier == "A", tier == "B"], [2.0, 1.0], 0.0)
    rating = np.round(np.clip(0.4 + 0.2 * tier_rank + rng.normal(0.0, 0.08, N_REPS), 0, 1), 2)
    role = rng.permutation(np.array(["hunter"] * 16 + ["account_manager"] * (N_REPS - 16)))
    pot_share = potential_targets(1.0, capacity, tier)
    work_share = workload_targets(1.0, capacity)

    # Raw potential: lognormal, a little richer in dense areas; key accounts sit in metros.
    urban = (density[at] / np.median(density)) ** 0.15
    raw = ACCOUNT_POTENTIAL * urban * np.exp(rng.normal(0.0, 1.0, N_ACCOUNTS))
    key = rng.choice(
        N_ACCOUNTS, size=N_KEY_ACCOUNTS, replace=False, p=density[at] / density[at].sum()
    )
    raw[key] = rng.uniform(*KEY_ACCOUNT_POTENTIAL, N_KEY_ACCOUNTS)

    # Home bases: centres of equal-potential regions, snapped to distinct real ZIP centroids.
    c_lat, c_lon = home_bases(lat, lon, raw, N_REPS, rng)
    home = distinct_nearest_zips(z_lat, z_lon, c_lat, c_lon)
    rep_lat, rep_lon = z_lat[home], z_lon[home]

    # Current alignment from raw potential (history predates this year's potential estimate).
    current = historical_alignment(
        lat, lon, rep_lat, rep_lon, raw, raw.sum() * pot_share, rng,
        overloaded_share=0.15, overload=1.35, noise_share=0.03,
    )  # fmt: skip

    # Lock the largest key accounts to their current rep, at most one lock per rep.
    by_size = key[np.argsort(-raw[key], kind="stable")]
    _, first = np.unique(current[by_size], return_index=True)
    locked = by_size[np.sort(first)][:N_LOCKED]
    if locked.size < N_LOCKED:
        raise RuntimeError(f"only {locked.size} key accounts have distinct reps; change the seed")
    fixed = np.full(N_ACCOUNTS, -1, dtype=np.int64)
    fixed[locked] = current[locked]

    # Hidden balanced plan honouring the locks; potential and workload are fitted to it.
    is_key = np.zeros(N_ACCOUNTS, dtype=bool)
    is_key[key] = True
    share_cap = np.where(is_key, KEY_ACCOUNT_MAX_SHARE * 0.97, ACCOUNT_MAX_SHARE)
    share_cap *= 1.0 - 0.1 * rng.random(N_ACCOUNTS)
    group = witness_groups(
        N_ACCOUNTS, pot_share, work_share, ACCOUNT_MAX_SHARE * 0.9, rng, fixed=fixed
    )
    pot_target = raw.sum() * pot_share
    potential = np.round(fit_to_targets(raw, group, pot_target, share_cap * pot_target.min()), 2)

    effort = potential**0.6 * np.exp(rng.normal(0.0, 0.3, N_ACCOUNTS))
    hours = 0.2 * effort.mean() + effort
    work_target = UTILIZATION * capacity.sum() * work_share
    workload = fit_to_targets(hours, group, work_target, share_cap * work_target.min())
    workload = np.maximum(np.round(workload, 1), 0.1)

    # Revenue: the hidden response to each rep's coverage, by segment and rating; some prospects.
    # (The draws keep the order and sizes of earlier versions, so every other column is as was.)
    segment = demo_segments(potential)
    seg_pen = np.array([_SEGMENT_PENETRATION[s] for s in segment])
    seg_prospect = np.array([_SEGMENT_PROSPECT_RATE[s] for s in segment])
    skill = np.exp(rng.normal(0.0, 0.05, N_REPS))
    held = np.bincount(current, weights=workload, minlength=N_REPS)
    rep_rate = skill * np.exp(RATING_SLOPE * (rating - 0.6)) * hidden_response(capacity / held)
    noise = np.exp(rng.normal(0.0, ACCOUNT_NOISE_SD, N_ACCOUNTS) - 0.5 * ACCOUNT_NOISE_SD**2)
    revenue = np.minimum(potential * seg_pen * rep_rate[current] * noise, 0.95 * potential)
    revenue[(rng.random(N_ACCOUNTS) < seg_prospect) & ~is_key] = 0.0
    revenue = np.round(revenue, 2)

    rep_ids = np.array([f"R{i:04d}" for i in range(1, N_REPS + 1)], dtype=object)
    locked_rep = np.full(N_ACCOUNTS, None, dtype=object)
    locked_rep[locked] = rep_ids[current[locked]]
    accounts = pd.DataFrame(
        {
            "account_id": [f"A{i:07d}" for i in range(1, N_ACCOUNTS + 1)],
            "lat": lat,
            "lon": lon,
            "potential": potential,
            "workload": workload,
            "current_rep": rep_ids[current],
            "revenue_last_year": revenue,
            "name": company_names(N_ACCOUNTS, rng),
            "segment": segment,
            "unit_id": zips["zip"].to_numpy()[at],
            "locked_rep": locked_rep,
        }
    )
    text = ["account_id", "current_rep", "name", "segment", "unit_id", "locked_rep"]
    accounts = accounts.astype(dict.fromkeys(text, "str"))[
        [*ACCOUNT_COLUMNS, "locked_rep", "unit_id"]
    ]
    # The year before: its own generator, so adding it left every other column as it was.
    # Growth varies by account; a tenth of today's customers were still prospects then.
    before = np.random.default_rng([seed, 1])
    growth = before.normal(0.06, 0.12, N_ACCOUNTS)
    prior = np.round(revenue / (1.0 + np.clip(growth, -0.5, 1.0)), 2)
    prior[(revenue > 0) & (before.random(N_ACCOUNTS) < 0.10)] = 0.0
    accounts["revenue_prior_year"] = prior
    if with_witness:
        accounts["witness_rep"] = pd.Series(rep_ids[group], dtype="str")
    reps = pd.DataFrame(
        {
            "rep_id": rep_ids,
            "lat": rep_lat,
            "lon": rep_lon,
            "capacity": capacity,
            "tier": tier,
            "rating": rating,
            "name": person_names(N_REPS, rng),
            "role": role,
        }
    )
    reps = reps.astype(dict.fromkeys(["rep_id", "tier", "name", "role"], "str"))[list(REP_COLUMNS)]
    # Each rep's own OTE: the role's, scaled by tier, to the nearest 5,000 (comp.toml keeps
    # the role's B-tier figure for reps without one).
    pay = [ROLE_OTE[r] * TIER_PAY[t] for r, t in zip(role, tier, strict=True)]
    reps["ote"] = np.round(np.asarray(pay) / 5_000.0) * 5_000.0
    return accounts, reps


def write(out: Path, seed: int = DEMO_SEED) -> tuple[Path, Path]:
    """Build the demo and write ``accounts.csv`` and ``reps.csv`` into ``out``."""
    accounts, reps = build(seed)
    out.mkdir(parents=True, exist_ok=True)
    paths = (out / "accounts.csv", out / "reps.csv")
    accounts.to_csv(paths[0], index=False)
    reps.to_csv(paths[1], index=False)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: write the demo files and print where they went."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument("--seed", type=int, default=DEMO_SEED, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for path in write(args.out, args.seed):
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
