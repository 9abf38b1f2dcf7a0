"""Tests for territory.domain.feasibility: each presolve reason, with the numbers it must report.

Two tiny fixtures on the equator (reps ten degrees apart, all candidates considered).

``big_account``: three reps of capacity 1,000 with tiers A, B, C, and one account (BIG) holding
60% of all potential::

    lon:  0    1     9    10   11     18   19   20
          R0A  BIG   s1   R1B  s2     s3   s4   R2C

    BIG potential 600, workload 30;  s1..s4 potential 100, workload 15 each.
    Potential targets share 1,000 by 1,150 : 1,000 : 850 -> 383.33, 333.33, 283.33.
    Workload targets share 90 equally -> 30 each.

BIG fits best with the A rep: it needs a potential tolerance of 600 / 383.33 - 1 = 56.52%.

``line``: six accounts of potential 100 and workload 10 at lon 1, 2, 9, 11, 18, 19 and three
tier-B reps of capacity 1,000 at lon 0, 10, 20 (targets 200 and 20 per rep).
"""

from __future__ import annotations

import pytest

from territory.domain.feasibility import (
    overloaded_locks,
    oversized_accounts,
    presolve_reasons,
    total_capacity,
)
from territory.domain.model import AlignmentSettings, BalanceRule, build_problem
from territory.domain.synthetic import make_instance
from tests.instances import BIG_MIN_BALANCE, big_account
from tests.instances import six_on_a_line as _line

ALL_CANDIDATES = AlignmentSettings(candidates=3)


class TestSyntheticFeasibility:
    def test_no_reason_on_a_feasible_instance(self) -> None:
        problem = build_problem(*_line(), ALL_CANDIDATES)
        assert presolve_reasons(problem) == []

    def test_no_reason_on_a_generated_instance(self) -> None:
        accounts, reps = make_instance(200, 5, seed=3)
        assert presolve_reasons(build_problem(accounts, reps)) == []

    def test_oversized_account_needs_the_hand_computed_tolerance(self) -> None:
        problem = build_problem(*big_account(), ALL_CANDIDATES)
        reasons = presolve_reasons(problem)
        assert len(reasons) == 1
        (reason,) = reasons
        assert reason.constraint == "potential_upper"
        assert reason.subject == "account BIG"
        assert reason.min_balance == pytest.approx(BIG_MIN_BALANCE, rel=1e-12)
        assert reason.excess == pytest.approx(600 - 1.05 * 1000 * 1150 / 3000)
        assert "account BIG" in reason.message
        assert "rep R0A" in reason.message  # the best fit: the A rep has the largest target
        assert "56.5%" in reason.message

    def test_oversized_account_best_fit_does_not_depend_on_rep_order(self) -> None:
        accounts, reps = big_account()
        reps = reps.iloc[::-1].reset_index(drop=True)  # R2C, R1B, R0A
        (reason,) = presolve_reasons(build_problem(accounts, reps, ALL_CANDIDATES))
        assert reason.min_balance == pytest.approx(BIG_MIN_BALANCE, rel=1e-12)
        assert "rep R0A" in reason.message

    def test_oversized_account_fits_at_its_min_balance(self) -> None:
        rule = BalanceRule(potential=BIG_MIN_BALANCE * 1.0001)
        settings = AlignmentSettings(balance=rule, candidates=3)
        assert oversized_accounts(build_problem(*big_account(), settings)) == []
        rule = BalanceRule(potential=BIG_MIN_BALANCE * 0.999)
        settings = AlignmentSettings(balance=rule, candidates=3)
        assert len(oversized_accounts(build_problem(*big_account(), settings))) == 1

    def test_oversized_workload_gives_a_workload_tolerance(self) -> None:
        """BIG needs 40 h of a 95 h total (targets 31.67): 40 / 31.67 - 1 = 26.3%."""
        accounts, reps = big_account()
        accounts = accounts.assign(potential=[200.0] * 5, workload=[40.0, 15.0, 15.0, 15.0, 10.0])
        reasons = presolve_reasons(build_problem(accounts, reps, ALL_CANDIDATES))
        assert [(r.constraint, r.subject) for r in reasons] == [("workload_upper", "account BIG")]
        assert reasons[0].min_balance == pytest.approx(40 / (95 / 3) - 1)
        assert "40 h/year" in reasons[0].message

    def test_account_larger_than_every_capacity_has_no_tolerance(self) -> None:
        accounts, reps = big_account()
        accounts = accounts.assign(potential=[200.0] * 5, workload=[40.0, 15.0, 15.0, 15.0, 10.0])
        reps = reps.assign(capacity=[35.0, 35.0, 35.0])
        reasons = presolve_reasons(build_problem(accounts, reps, ALL_CANDIDATES))
        assert [(r.constraint, r.subject) for r in reasons] == [("workload_upper", "account BIG")]
        assert reasons[0].min_balance is None
        assert "capacity of every candidate rep" in reasons[0].message
        assert "allow overtime or split the account" in reasons[0].message

    def test_locked_accounts_over_a_reps_window(self) -> None:
        """a0, a1, a2 locked to R0: 300 potential (hi 210) and 30 h (hi 21), both 50% over."""
        accounts, reps = _line()
        accounts["locked_rep"] = ["R0", "R0", "R0", None, None, None]
        problem = build_problem(accounts, reps, ALL_CANDIDATES)
        reasons = presolve_reasons(problem)
        assert [(r.constraint, r.subject) for r in reasons] == [
            ("potential_upper", "rep R0"),
            ("workload_upper", "rep R0"),
        ]
        assert [r.min_balance for r in reasons] == pytest.approx([0.5, 0.5])
        assert [r.excess for r in reasons] == pytest.approx([90.0, 9.0])
        assert "unlock some of them or allow at least ±50% on potential" in reasons[0].message
        assert overloaded_locks(problem) == reasons

    def test_locked_accounts_within_the_window_are_fine(self) -> None:
        accounts, reps = _line()
        accounts["locked_rep"] = ["R0", "R0", None, None, "R2", None]  # 200 of 210 each
        assert presolve_reasons(build_problem(accounts, reps, ALL_CANDIDATES)) == []

    def test_locked_accounts_over_capacity_cannot_be_fixed_by_tolerance(self) -> None:
        """Capacity 25 h per rep (targets 20 h, upper limit 21 h); 30 h locked to R0."""
        accounts, reps = _line()
        accounts["locked_rep"] = ["R0", "R0", "R0", None, None, None]
        reps["capacity"] = [25.0, 25.0, 25.0]
        reasons = overloaded_locks(build_problem(accounts, reps, ALL_CANDIDATES))
        assert [(r.constraint, r.subject) for r in reasons] == [
            ("potential_upper", "rep R0"),
            ("capacity", "rep R0"),
        ]
        assert reasons[0].min_balance == pytest.approx(0.5)
        assert reasons[1].min_balance is None  # no tolerance lifts a capacity
        assert "need 30 h/year" in reasons[1].message
        assert "or allow at least" not in reasons[1].message

    def test_locked_accounts_over_capacity_report_the_capacity(self) -> None:
        """The limit named is the capacity (25 h, 5 h short), not the window's upper end (21 h)."""
        accounts, reps = _line()
        accounts["locked_rep"] = ["R0", "R0", "R0", None, None, None]
        reps["capacity"] = [25.0, 25.0, 25.0]
        reasons = overloaded_locks(build_problem(accounts, reps, ALL_CANDIDATES))
        (capacity,) = [r for r in reasons if r.constraint == "capacity"]
        assert capacity.excess == pytest.approx(5.0)
        assert "5 h over its capacity (25 h)" in capacity.message
        assert "allow overtime" in capacity.message

    def test_locked_accounts_over_capacity_with_overtime_need_a_tolerance(self) -> None:
        accounts, reps = _line()
        accounts["locked_rep"] = ["R0", "R0", "R0", None, None, None]
        reps["capacity"] = [25.0, 25.0, 25.0]
        rule = BalanceRule(allow_overtime=True)
        settings = AlignmentSettings(balance=rule, candidates=3)
        reasons = overloaded_locks(build_problem(accounts, reps, settings))
        assert [(r.constraint, r.subject) for r in reasons] == [
            ("potential_upper", "rep R0"),
            ("workload_upper", "rep R0"),
        ]
        assert reasons[1].min_balance == pytest.approx(0.5)  # 30 h against a 20 h target
        assert reasons[1].excess == pytest.approx(9.0)  # over 1.05 x 20 h

    def test_total_workload_above_total_capacity(self) -> None:
        accounts, reps = _line()
        reps["capacity"] = [15.0, 15.0, 15.0]  # 45 h for 60 h of work
        problem = build_problem(accounts, reps, ALL_CANDIDATES)
        reasons = total_capacity(problem)
        assert len(reasons) == 1
        assert reasons[0].constraint == "capacity"
        assert reasons[0].subject == "all reps"
        assert reasons[0].excess == pytest.approx(15.0)
        assert reasons[0].min_balance is None
        assert "need 60 h/year but the reps have 45 h/year" in reasons[0].message
        assert "15 h short" in reasons[0].message
        assert presolve_reasons(problem)[0] == reasons[0]

    def test_overtime_silences_the_capacity_check(self) -> None:
        accounts, reps = _line()
        reps["capacity"] = [15.0, 15.0, 15.0]
        rule = BalanceRule(allow_overtime=True)
        problem = build_problem(accounts, reps, AlignmentSettings(balance=rule, candidates=3))
        assert total_capacity(problem) == []
        assert presolve_reasons(problem) == []
