"""Tests for territory.domain.matching: reps onto designed territories as an exact assignment
problem.

Everything sits on the equator, where one degree of longitude is ``DEG`` km, so distances can be
worked out by hand in degrees.

``three_by_three``: territories T1, T2, T3 with centres at lon 0, 10, 20 and potential 300, 200,
100 (mean 200, so potential / mean = 1.5, 1.0, 0.5); reps R1 (A, rating 1.0) at lon 20,
R2 (B, 0.6) at lon 0 and R3 (C, 0.3) at lon 10. R3 holds the whole current book of T3
(continuity share 1.0). Weights: talent 1, continuity 0.5, travel 0.2 per 10 degrees, i.e.
0.02 points per degree. Score matrix (talent + continuity - travel)::

            T1 (1.5)            T2 (1.0)            T3 (0.5)
    R1   1.50 - 0.40 = 1.10  1.00 - 0.20 = 0.80  0.50 - 0.00 = 0.50
    R2   0.90 - 0.00 = 0.90  0.60 - 0.20 = 0.40  0.30 - 0.40 = -0.10
    R3   0.45 - 0.20 = 0.25  0.30 - 0.00 = 0.30  0.15 - 0.20 + 0.50 = 0.45

The six permutations (reps for T1, T2, T3) score R1 R2 R3 1.95, R1 R3 R2 1.30, R2 R1 R3 2.15,
R2 R3 R1 1.70, R3 R1 R2 0.95, R3 R2 R1 1.15: the best is T1<-R2, T2<-R1, T3<-R3 = 2.15
(talent 0.90 + 1.00 + 0.15 = 2.05, continuity 0.50, travel 0 + 0.20 + 0.20 = 0.40). Travel
pulls the A-player off the biggest territory because she lives 20 degrees away from it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from territory.domain.geo import haversine_km
from territory.domain.matching import MatchWeights, RepMatching, TravelLimitError, match_reps
from territory.errors import DataValidationError, InfeasibleError

DEG = float(haversine_km(0.0, 0.0, 0.0, 1.0))
"""km per degree of longitude on the equator."""

PROPERTY_SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)


def _territories(lons: Sequence[float], potentials: Sequence[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "territory_id": [f"T{i + 1}" for i in range(len(lons))],
            "potential": list(potentials),
            "workload": [1000.0] * len(lons),
            "centre_lat": [0.0] * len(lons),
            "centre_lon": list(lons),
        }
    )


def _reps(
    lons: Sequence[float], ratings: Sequence[float], tiers: Sequence[str] | None = None
) -> pd.DataFrame:
    n = len(lons)
    return pd.DataFrame(
        {
            "rep_id": [f"R{i + 1}" for i in range(n)],
            "lat": [0.0] * n,
            "lon": list(lons),
            "capacity": [1600.0] * n,
            "tier": list(tiers) if tiers is not None else ["B"] * n,
            "rating": list(ratings),
            "name": [f"Rep {i + 1}" for i in range(n)],
            "role": ["hunter"] * n,
        }
    )


TALENT_ONLY = MatchWeights(talent=1.0, continuity=0.0, travel=0.0)
HAND_WEIGHTS = MatchWeights(talent=1.0, continuity=0.5, travel=0.2, travel_scale_km=10 * DEG)


def three_by_three(max_travel_km: float | None = None) -> RepMatching:
    territories = _territories([0, 10, 20], [300, 200, 100])
    reps = _reps([20, 0, 10], [1.0, 0.6, 0.3], ["A", "B", "C"])
    continuity = pd.DataFrame({"territory_id": ["T3"], "rep_id": ["R3"], "revenue": [50.0]})
    return match_reps(
        territories, reps, continuity=continuity, weights=HAND_WEIGHTS, max_travel_km=max_travel_km
    )


def test_three_by_three_by_hand() -> None:
    result = three_by_three()
    assert result.assignment == {"T1": "R2", "T2": "R1", "T3": "R3"}
    assert result.objective == pytest.approx(2.15)
    assert result.talent_score == pytest.approx(2.05)
    assert result.continuity_score == pytest.approx(0.50)
    assert result.travel_cost == pytest.approx(0.40)
    assert result.bound == result.objective and result.status == "optimal"
    assert result.table["score"].tolist() == pytest.approx([0.90, 0.80, 0.45])
    assert result.table["km_to_centre"].tolist() == pytest.approx([0.0, 10 * DEG, 10 * DEG])
    assert result.table["continuity_share"].tolist() == [0.0, 0.0, 1.0]
    assert result.table["tier"].tolist() == ["B", "A", "C"]
    assert result.vacant == () and result.unassigned_reps == ()


def test_pair_exactly_at_the_limit_is_allowed() -> None:
    """Limit 10 degrees forbids R1-T1 and R2-T3 (20 degrees), which the optimum avoids anyway."""
    result = three_by_three(max_travel_km=10 * DEG)
    assert result.assignment == {"T1": "R2", "T2": "R1", "T3": "R3"}
    assert result.objective == pytest.approx(2.15)


def test_travel_limit_forbids_pairs_and_changes_the_answer() -> None:
    """Below 10 degrees only the zero-distance pairs remain: R2-T1, R3-T2, R1-T3 = 1.70."""
    result = three_by_three(max_travel_km=9.9 * DEG)
    assert result.assignment == {"T1": "R2", "T2": "R3", "T3": "R1"}
    assert result.objective == pytest.approx(0.90 + 0.30 + 0.50)
    assert (result.table["km_to_centre"] <= 9.9 * DEG).all()


@given(
    ratings=st.lists(st.integers(0, 100), min_size=1, max_size=6, unique=True),
    potentials=st.lists(st.integers(1, 10_000), min_size=6, max_size=6, unique=True),
)
@PROPERTY_SETTINGS
def test_talent_alone_sorts_best_reps_onto_biggest_territories(
    ratings: list[int], potentials: list[int]
) -> None:
    """Rearrangement inequality: sum of talent x potential is largest when both are co-sorted."""
    k = len(ratings)
    territories = _territories([0.0] * k, [float(p) for p in potentials[:k]])
    reps = _reps([0.0] * k, [r / 100 for r in ratings])
    result = match_reps(territories, reps, weights=TALENT_ONLY)
    by_rating = reps.sort_values("rating", ascending=False)["rep_id"].tolist()
    by_potential = territories.sort_values("potential", ascending=False)["territory_id"].tolist()
    assert result.assignment == dict(zip(by_potential, by_rating, strict=True))


def test_unreachable_territory_is_explained_with_the_smallest_limit() -> None:
    """T2 (lon 10) is 9 degrees from R2 and 10 from R1: no rep within 5 degrees.

    Bottleneck: R1-T1 (0) with R2-T2 (9) needs 9 degrees; R1-T2 with R2-T1 needs 10. So 9.
    """
    territories = _territories([0, 10], [100, 100])
    reps = _reps([0, 1], [0.9, 0.5])
    with pytest.raises(TravelLimitError) as info:
        match_reps(territories, reps, max_travel_km=5 * DEG)
    error = info.value
    assert isinstance(error, InfeasibleError)
    assert error.min_travel_km == pytest.approx(9 * DEG)
    assert error.max_matched == 1
    unreachable = [r for r in error.reasons if r.subject == "territory T2"]
    assert len(unreachable) == 1 and unreachable[0].constraint == "travel_limit"
    assert unreachable[0].excess == pytest.approx(4 * DEG)
    assert "R2" in unreachable[0].message
    assert f"{9 * DEG:,.1f} km" in str(error)
    # the computed limit is enough, and anything below it is not
    ok = match_reps(territories, reps, max_travel_km=error.min_travel_km)
    assert ok.assignment == {"T1": "R1", "T2": "R2"}
    with pytest.raises(TravelLimitError):
        match_reps(territories, reps, max_travel_km=8.99 * DEG)


def test_hall_violation_names_the_crowded_territories() -> None:
    """T1 (lon 0) and T2 (lon 2) are both reachable only by R1; R2 (lon 30) reaches neither.

    Bottleneck: R1-T1 with R2-T2 needs 28 degrees, R1-T2 with R2-T1 needs 30: so 28.
    """
    territories = _territories([0, 2], [100, 100])
    reps = _reps([0, 30], [0.9, 0.5])
    with pytest.raises(TravelLimitError) as info:
        match_reps(territories, reps, max_travel_km=5 * DEG)
    error = info.value
    assert error.min_travel_km == pytest.approx(28 * DEG)
    subjects = {r.subject for r in error.reasons}
    assert {"rep R2", "matching"} <= subjects
    hall = next(r for r in error.reasons if r.subject == "matching")
    assert "T1, T2" in hall.message and "1 rep(s) (R1)" in hall.message


def test_allow_vacant_leaves_the_unreachable_territory_empty() -> None:
    territories = _territories([0, 10], [100, 100])
    reps = _reps([0, 1], [0.9, 0.5])
    result = match_reps(territories, reps, max_travel_km=5 * DEG, allow_vacant=True)
    assert result.vacant == ("T2",)
    assert result.assignment == {"T1": "R1"}
    assert result.unassigned_reps == ("R2",)
    assert result.min_travel_km == pytest.approx(9 * DEG)
    assert any(r.subject == "territory T2" for r in result.travel_reasons)
    vacant_row = result.table.set_index("territory_id").loc["T2"]
    assert vacant_row["rep_id"] is None and vacant_row["score"] == 0.0


def test_allow_vacant_fills_as_many_territories_as_possible() -> None:
    """R1 reaches T1 and T2, R2 only T1: filling both beats putting the better rep on T1.

    Even though T1 holds far more potential, the matching first maximises the filled count.
    """
    territories = _territories([0, 4], [1000, 10])
    reps = _reps([2, -2], [1.0, 0.1])
    result = match_reps(territories, reps, max_travel_km=3 * DEG, allow_vacant=True)
    assert result.assignment == {"T1": "R2", "T2": "R1"}
    assert result.vacant == () and result.travel_reasons == ()


def test_vacancies_when_more_territories_than_reps() -> None:
    territories = _territories([0, 0, 0], [300, 200, 100])
    reps = _reps([0, 0], [1.0, 0.6])
    result = match_reps(territories, reps, weights=TALENT_ONLY)
    assert result.vacant == ("T3",)
    assert result.assignment == {"T1": "R1", "T2": "R2"}
    assert result.unassigned_reps == ()


def test_the_optimiser_chooses_which_territory_stays_vacant() -> None:
    """With T1 out of reach, it is T1 (not the smallest, T3) that stays vacant; no error."""
    territories = _territories([50, 0, 0], [300, 200, 100])
    reps = _reps([0, 0], [1.0, 0.6])
    result = match_reps(territories, reps, weights=TALENT_ONLY, max_travel_km=5 * DEG)
    assert result.vacant == ("T1",)
    assert result.assignment == {"T2": "R1", "T3": "R2"}


def test_unassigned_reps_when_more_reps_than_territories() -> None:
    territories = _territories([0, 0], [300, 100])
    reps = _reps([0, 0, 0], [0.9, 0.5, 0.7])
    result = match_reps(territories, reps, weights=TALENT_ONLY)
    assert result.assignment == {"T1": "R1", "T2": "R3"}
    assert result.unassigned_reps == ("R2",)
    assert result.vacant == ()


def test_continuity_tips_a_tie() -> None:
    """Identical reps and territories tie; R2 holding 80% of T1's book sends R2 to T1.

    The other 20% belongs to R9, who has left: it still counts in T1's book.
    """
    territories = _territories([0, 0], [100, 100])
    reps = _reps([1, 1], [0.6, 0.6])
    plain = match_reps(territories, reps)
    assert plain.assignment == {"T1": "R1", "T2": "R2"}  # ties broken by id order
    continuity = pd.DataFrame(
        {"territory_id": ["T1", "T1"], "rep_id": ["R2", "R9"], "revenue": [80.0, 20.0]}
    )
    result = match_reps(territories, reps, continuity=continuity)
    assert result.assignment == {"T1": "R2", "T2": "R1"}
    assert result.table["continuity_share"].tolist() == pytest.approx([0.8, 0.0])
    assert result.continuity_score == pytest.approx(0.5 * 0.8)
    assert result.objective == pytest.approx(plain.objective + 0.4)


def test_input_order_does_not_change_the_answer() -> None:
    territories = _territories([0, 0, 0], [100, 100, 100])
    reps = _reps([0, 0, 0], [0.5, 0.5, 0.5])
    first = match_reps(territories, reps)
    shuffled = match_reps(territories.iloc[[2, 0, 1]], reps.iloc[[1, 2, 0]])
    assert first.assignment == shuffled.assignment
    assert first.table["territory_id"].tolist() == ["T1", "T2", "T3"]


def test_farthest_unit_measure_with_units() -> None:
    """T1's centre is at the rep's door but one unit lies 3 degrees out.

    Potential 300 at lon 0 and 100 at lon 3: the travel term charges the weighted mean,
    0.75 degrees; the "farthest" limit sees 3 degrees.
    """
    territories = _territories([0], [400])
    reps = _reps([0], [0.5])
    units = pd.DataFrame(
        {
            "territory_id": ["T1", "T1"],
            "lat": [0.0, 0.0],
            "lon": [0.0, 3.0],
            "potential": [300, 100],
        }
    )
    centre = match_reps(territories, reps, units=units, max_travel_km=2 * DEG)
    row = centre.table.iloc[0]
    assert row["km_to_centre"] == pytest.approx(0.0)
    assert row["km_to_farthest"] == pytest.approx(3 * DEG)
    assert row["travel_km"] == pytest.approx(0.75 * DEG)
    with pytest.raises(TravelLimitError) as info:
        match_reps(territories, reps, units=units, max_travel_km=2 * DEG, travel_measure="farthest")
    assert info.value.min_travel_km == pytest.approx(3 * DEG)
    assert "farthest unit" in str(info.value)


def test_tier_stands_in_for_a_missing_rating() -> None:
    territories = _territories([0, 0], [300, 100])
    reps = _reps([0, 0], [np.nan, 0.7], ["A", "B"])
    result = match_reps(territories, reps, weights=TALENT_ONLY)
    assert result.assignment == {"T1": "R1", "T2": "R2"}
    assert result.table["talent"].tolist() == [1.0, 0.7]


def test_bad_inputs_are_reported_together() -> None:
    territories = _territories([0, 0], [100, 100]).assign(territory_id=["T1", "T1"])
    reps = _reps([0, 0], [np.nan, 0.5], ["Z", "B"])
    with pytest.raises(DataValidationError) as info:
        match_reps(territories, reps)
    text = str(info.value)
    assert "T1 appears more than once" in text and "neither a rating nor a tier" in text
    with pytest.raises(ValueError, match="units"):
        match_reps(territories, reps, travel_measure="farthest")


def _brute_force(
    score: np.ndarray, allowed: np.ndarray, km: np.ndarray
) -> tuple[float | None, float]:
    """Best score over all matchings of size min(k, R) within the limit, and the bottleneck."""
    n_reps, k = score.shape
    best: float | None = None
    bottleneck = np.inf
    if k <= n_reps:
        pairs = [
            list(zip(p, range(k), strict=True)) for p in itertools.permutations(range(n_reps), k)
        ]
    else:
        pairs = [
            list(zip(range(n_reps), p, strict=True))
            for p in itertools.permutations(range(k), n_reps)
        ]
    for matching in pairs:
        bottleneck = min(bottleneck, max(km[r, t] for r, t in matching))
        if all(allowed[r, t] for r, t in matching):
            total = sum(score[r, t] for r, t in matching)
            best = total if best is None else max(best, total)
    return best, float(bottleneck)


def _best_partial(score: np.ndarray, allowed: np.ndarray) -> tuple[int, float]:
    """Largest matching within the limit, and the best score among matchings of that size."""
    n_reps, k = score.shape
    best = (0, 0.0)
    for m in range(1, min(k, n_reps) + 1):
        for rows in itertools.permutations(range(n_reps), m):
            for cols in itertools.combinations(range(k), m):
                if all(allowed[r, t] for r, t in zip(rows, cols, strict=True)):
                    value = float(sum(score[r, t] for r, t in zip(rows, cols, strict=True)))
                    if m > best[0] or value > best[1]:
                        best = (m, value)
    return best


@given(
    k=st.integers(1, 4),
    n_reps=st.integers(1, 4),
    data=st.data(),
)
@PROPERTY_SETTINGS
def test_matching_is_optimal_and_valid(k: int, n_reps: int, data: st.DataObject) -> None:
    coords = st.floats(0.0, 3.0, allow_nan=False)
    t_lons = data.draw(st.lists(coords, min_size=k, max_size=k))
    r_lons = data.draw(st.lists(coords, min_size=n_reps, max_size=n_reps))
    potentials = data.draw(st.lists(st.floats(1.0, 1000.0), min_size=k, max_size=k))
    ratings = data.draw(st.lists(st.floats(0.0, 1.0), min_size=n_reps, max_size=n_reps))
    limit = data.draw(st.none() | st.floats(0.2, 3.0).map(lambda d: d * DEG))
    held = data.draw(st.lists(st.floats(0.0, 10.0), min_size=k * n_reps, max_size=k * n_reps))
    territories = _territories(t_lons, potentials)
    reps = _reps(r_lons, ratings)
    continuity = pd.DataFrame(
        {
            "territory_id": [f"T{t + 1}" for t in range(k) for _ in range(n_reps)],
            "rep_id": [f"R{r + 1}" for _ in range(k) for r in range(n_reps)],
            "revenue": held,
        }
    )
    weights = MatchWeights()
    # independent recomputation of the score matrix (reps x territories)
    km = np.abs(np.subtract.outer(np.array(r_lons), np.array(t_lons))) * DEG
    book = np.array(held).reshape(k, n_reps).T
    totals = book.sum(axis=0)
    share = np.divide(book, totals, out=np.zeros_like(book), where=totals > 0)
    pot = np.array(potentials)
    score = (
        weights.talent * np.outer(ratings, pot) / pot.mean()
        + weights.continuity * share
        - weights.travel * km / weights.travel_scale_km
    )
    allowed = km <= limit * (1 + 1e-9) + 1e-9 if limit is not None else np.ones_like(km, dtype=bool)
    best, bottleneck = _brute_force(score, allowed, km)

    if best is None:
        with pytest.raises(TravelLimitError) as info:
            match_reps(territories, reps, continuity=continuity, max_travel_km=limit)
        assert info.value.min_travel_km == pytest.approx(bottleneck, abs=1e-6)
        # allow_vacant: as many matches as the limit allows, then the best score among those
        size, value = _best_partial(score, allowed)
        partial = match_reps(
            territories, reps, continuity=continuity, max_travel_km=limit, allow_vacant=True
        )
        assert int(partial.table["rep_id"].notna().sum()) == size == info.value.max_matched
        assert partial.objective == pytest.approx(value, abs=1e-6)
        return
    result = match_reps(territories, reps, continuity=continuity, max_travel_km=limit)
    table = result.table
    filled = table[table["rep_id"].notna()]
    # a valid partial permutation of the right size
    assert len(filled) == min(k, n_reps)
    assert filled["rep_id"].is_unique and filled["territory_id"].is_unique
    assert set(result.vacant) == set(table.loc[table["rep_id"].isna(), "territory_id"])
    assert len(result.unassigned_reps) == n_reps - len(filled)
    if limit is not None:
        assert (filled["km_to_centre"] <= limit + 1e-6).all()
    # objective: sum of table scores, its components, and the brute-force optimum
    assert result.objective == pytest.approx(float(table["score"].sum()), abs=1e-9)
    assert result.objective == pytest.approx(
        result.talent_score + result.continuity_score - result.travel_cost, abs=1e-9
    )
    assert result.objective == pytest.approx(best, abs=1e-6)
    # and at least as good as a random feasible matching of the same size
    rng = np.random.default_rng(len(held))
    for _ in range(5):
        rows = rng.permutation(n_reps)[: min(k, n_reps)]
        cols = rng.permutation(k)[: min(k, n_reps)]
        if allowed[rows, cols].all():
            assert result.objective >= float(score[rows, cols].sum()) - 1e-9
