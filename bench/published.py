"""Published districting results in ``../shared/benchmarks``, transcribed once.

The benchmark script (``bench/bench_districting.py``) solves these instances and the tests
(``tests/territory/test_districting.py``, ``tests/solvers/test_districting_solver.py``) check the
published plans and a few of our solves against the same numbers. The folder itself sits beside
the project; :data:`BENCH_PRESENT` says whether it is there.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT.parent / "shared" / "benchmarks"
CUT = BENCH / "validi-buchanan-2022-cut-edges"
MOI = BENCH / "validi-buchanan-lykhovyd-2022-contiguity"
HOP = BENCH / "zhang-validi-buchanan-hicks-2024-counties2020"

FIPS = {
    "AL": 1, "AR": 5, "CO": 8, "IA": 19, "ID": 16, "KS": 20, "LA": 22, "ME": 23, "MS": 28,
    "NE": 31, "NH": 33, "NM": 35, "NV": 32, "OK": 40, "OR": 41, "SC": 45, "UT": 49, "WV": 54,
}  # fmt: skip

# The twelve 2010 county instances of Sets A and B: (k, L, U) per state, as both papers print them
# (Set B prints West Virginia's U one person higher, kept below).
COUNTY_BOUNDS_2010 = {
    "ME": (2, 660860, 667501), "NM": (3, 682962, 689824), "ID": (2, 779873, 787709),
    "WV": (3, 614577, 620752), "LA": (6, 751785, 759339), "AL": (7, 679406, 686233),
    "AR": (4, 725335, 732624), "OK": (5, 746519, 754021), "MS": (4, 738116, 745533),
    "NE": (3, 605737, 611824), "IA": (4, 757781, 765396), "KS": (4, 709714, 716845),
}  # fmt: skip

# Set A (Validi & Buchanan 2022): (k, L, U, cut edges with contiguity [Table 13],
# without contiguity [Tables 7/8]), as transcribed in the folder README.
CUT_EDGES_COUNTY = {
    state: (*COUNTY_BOUNDS_2010[state], with_contiguity, without_contiguity)
    for state, (with_contiguity, without_contiguity) in {
        "ME": (16, 8), "NM": (17, 17), "ID": (10, 10), "WV": (23, 20), "LA": (49, 44),
        "AL": (55, 51), "AR": (33, 32), "OK": (40, 39), "MS": (34, 32), "NE": (19, 19),
        "IA": (33, 33), "KS": (32, 31),
    }.items()
}  # fmt: skip
# Open tract instances: (k, L, U, best known LB, best known UB).
CUT_EDGES_OPEN_TRACT = {
    "UT": (4, 687517, 694426, 66, 79), "MS": (4, 738116, 745533, 48, 62),
    "AR": (4, 725335, 732624, 44, 69), "NV": (4, 671763, 678513, 57, 75),
}  # fmt: skip

# Set B (Validi, Buchanan & Lykhovyd 2022, districting_counties.csv): (k, L, U as printed there,
# MOI without contiguity [hess], with contiguity [lcut]).
MOI_COUNTY = {
    state: (
        *(COUNTY_BOUNDS_2010[state] if state != "WV" else (3, 614577, 620753)),
        hess,
        lcut,
    )
    for state, (hess, lcut) in {
        "ME": (10789.07, 19093.26), "OK": (21527.57, 21756.50), "AL": (15519.54, 16627.25),
        "MS": (16142.04, 16142.04), "AR": (16525.07, 16543.15), "IA": (17748.05, 17748.05),
        "ID": (61232.58, 61232.58), "KS": (23736.89, 23736.89), "LA": (17239.16, 17272.65),
        "NE": (22112.00, 22193.01), "NM": (32847.05, 32944.25), "WV": (11844.76, 12000.62),
    }.items()
}  # fmt: skip
# Infeasible with contiguity, feasible without (county-level-outputs_feasibility.csv).
MOI_INFEASIBLE = {
    "CO": (7, 714865, 722048), "NH": (2, 654944, 661526),
    "OR": (5, 762384, 770045), "SC": (7, 657463, 664070),
}  # fmt: skip

# Set C (Zhang et al. 2024, results_config_table1, Hess rows): (hop-Hess with contiguity, k, L, U).
HOP_HESS_2020 = {
    "ME": (1200838, 2, 677774, 684585), "NM": (1743350, 3, 702312, 709369),
    "ID": (3237073, 2, 914956, 924150), "WV": (3900450, 2, 892374, 901342),
    "MT": (1750471, 2, 539402, 544823), "AL": (4844289, 7, 714166, 721342),
    "AR": (3930146, 4, 749117, 756645), "MS": (4721804, 4, 736619, 744021),
    "NE": (2525974, 3, 650566, 657103), "IA": (5286772, 4, 793605, 801580),
    "KS": (4007553, 4, 730798, 738142),
}  # fmt: skip

# Tract instances of Set A with their published cut edges (Table 13) and k.
TRACT_FIPS = {"NH": 33, "ID": 16, "ME": 23, "WV": 54, "NM": 35, "NE": 31, "NV": 32}
CUT_EDGES_TRACT = {"NH": 26, "ID": 17, "ME": 20, "WV": 43, "NM": 43, "NE": 44, "NV": 75}
TRACT_K = {"NH": 2, "ID": 2, "ME": 2, "WV": 3, "NM": 3, "NE": 3, "NV": 4}

BENCH_PRESENT = BENCH.is_dir()
"""Whether the benchmark folder is beside the project (tests that read it skip otherwise)."""


def county_graph_path(state: str) -> Path:
    """The DeFord county dual graph of a state (Set A and B share it)."""
    return CUT / "county" / f"county{FIPS[state]:02d}.json"
