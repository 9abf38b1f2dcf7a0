"""Alignment of very large instances: micro-clusters, a coarse solve, account-level refinement.

From :data:`DECOMPOSE_ACCOUNTS` accounts the account-level LP with column generation no longer
fits the time budget comfortably, so :func:`align_large` works in stages, each saved to an
optional checkpoint directory:

1. **clusters**: accounts are cut into spatially compact micro-clusters
   (:func:`territory.workflow.coarse.cluster_units`, as many as the coarse LP gets through in its
   share of the time), by recursive bisection on the unit sphere within groups that never mix
   locks or, when disruption is priced, current reps; families are units;
2. **coarse**: the clusters are solved as families (exact summed costs) by an LP that keeps its
   loads clear of the window edges, then split into an account-level plan and rounded by an
   account-level LP over the split clusters (:func:`territory.workflow.coarse.coarse_start`);
3. **bound**: window prices that maximise a smoothed Lagrangian dual over the candidate pairs
   plus the coarse LP's support (L-BFGS-B from zero prices), then one exact pass over *all*
   account-rep pairs in chunks: relaxing the balance windows at any prices gives a valid lower
   bound. (The coarse LP's own value is no bound for the account-level problem: clusters may
   split.) The same pass prices the pairs pruning left out; the cheapest join the model and the
   dual is climbed again (two rounds at least). When the coarse plan leaves a rep outside its
   window, the plan comes first: one round is taken after refinement, with the time left;
4. **refined**: account-level repair and local search from the expanded coarse plan, over each
   account's nearest reps, its coarse rep and the priced pairs.

The result is an ordinary :class:`~territory.workflow.result.AlignmentResult`, so outputs and CLI
work as for
:func:`territory.workflow.align.align`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from solvers.base import Solution, SolveStatus
from solvers.heuristic import HeuristicSolver
from solvers.lp import PRICED_PAIRS_PER_SECOND
from solvers.neighbourhood import unbalanced_reasons
from territory.domain.arrays import FloatArray, IntArray
from territory.domain.budget import STAGE_SHARES, Budget
from territory.domain.feasibility import presolve_reasons
from territory.domain.model import AlignmentProblem, build_problem, window_violation
from territory.domain.spec import AlignmentSpec
from territory.errors import (
    CheckpointDamagedError,
    InfeasibleError,
    OutputFolderError,
    ScenarioError,
    SolveError,
)
from territory.io.names import join_inside
from territory.io.readers import read_parquet_columns  # noqa: F401 - moved to the I/O layer
from territory.workflow.coarse import (
    CLUSTER_LEAF,
    CLUSTER_MASS_SHARE,
    CLUSTER_SPREAD,
    border_pairs,
    cluster_budget,
    cluster_units,
    coarse_start,
)
from territory.workflow.rescue import lp_repair, rescue, window_bound
from territory.workflow.result import (
    AlignmentResult,
    SolveLog,
    deviations,
    frame_hash,
    solve_result,
)

Progress = Callable[[str], None]

DECOMPOSE_ACCOUNTS = 50_000
"""``decompose="auto"`` switches to :func:`align_large` from this many accounts up.

Measured at 100k/500 on 2 busy cores: the direct pipeline (account-level LP, column generation)
took 181 s for objective / bound 1.0114; the decomposition 90 s for 1.0107 (a plan as good and
a slightly tighter bound). At a million accounts the direct LP alone would not fit."""

SHORT_LIMIT_ACCOUNTS = 5_000
SHORT_LIMIT_ACCOUNTS_PER_SECOND = 1_000.0
"""``auto`` also decomposes from :data:`SHORT_LIMIT_ACCOUNTS` accounts when the time limit gives
the direct pipeline less than a second per this many accounts (10k accounts under 10 s).

Measured at 10k / 100 with a 5 s limit, southeast seed 1, on 2 cores: the direct pipeline
returned no plan for the ``synthetic`` and ``heavy_keys`` families (exit 4: its LP and repair
need more time than that) and 1.023 / 1.031 x bound for ``zip`` / ``off_balance``; the
decomposition gave a plan on all four (1.06-1.15 x bound). A plan comes first; with a minute the
direct pipeline is kept, as it is tighter."""

FEASIBILITY_TOL = 1e-7
"""A rep's window counts as held up to this relative excess: local search accepts moves that
add up to 1e-9 each, which over a million accounts can sum past the 1e-6 the direct pipeline
allows over all reps together, while no rep is off by more than rounding."""

CHECKPOINT_VERSION = 1


# --------------------------------------------------------------------------------------------
# Checkpoints


class CheckpointMismatchError(ScenarioError):
    """The checkpoint directory holds stages of a run with other inputs or parameters."""


class CheckpointDamagedWarning(UserWarning):
    """A checkpoint stage could not be read; it and the stages after it are computed again."""


CHECKPOINT_STAGES = ("clusters", "coarse", "bound", "refined")
"""The stages :func:`align_large` saves, in the order they run: each builds on the ones before."""

CHECKPOINT_MANIFEST = "checkpoint.json"


class Checkpoint:
    """Stage results of one run in a directory, keyed by a hash of the inputs and parameters.

    Each stage is one ``.npz`` file written atomically (temporary file, then rename) and listed
    in ``checkpoint.json`` only once complete, so a run killed mid-write never leaves a stage
    that looks complete. A directory whose key differs is refused rather than overwritten.

    A stage file that is missing, empty, truncated or lacks its arrays is reported (a
    :class:`CheckpointDamagedWarning` naming the file, and in :attr:`damaged`) and is computed
    again with every stage after it; a manifest that cannot be read leaves nothing to trust and
    raises :class:`~territory.errors.CheckpointDamagedError`.
    """

    def __init__(self, directory: str | Path, key: str) -> None:
        from territory.io.outputs import prepare_folder

        self.directory = Path(directory)
        self.key = key
        self.manifest = self.directory / CHECKPOINT_MANIFEST
        self._refuse_unlisted_stages()
        # Only a new, empty or engine-written folder (or an older checkpoint) holds checkpoints.
        prepare_folder(
            self.directory,
            command="checkpoint",
            legacy_files=("checkpoint.json",),
            option="checkpoint",
        )
        self.stages: list[str] = []
        self.damaged: list[str] = []
        """One message per stage found damaged (for the solve's notes)."""
        self._open_directory()
        if self.manifest.exists() or self.manifest.is_symlink():
            doc = self._read_manifest()
            if doc.get("key") != key or doc.get("version") != CHECKPOINT_VERSION:
                raise CheckpointMismatchError(
                    f"checkpoint directory {self.directory} belongs to a run with other inputs or "
                    "parameters (its input hash differs); pass an empty directory, or delete "
                    "this one to start afresh"
                )
            self.stages = list(doc["stages"])

    def _open_directory(self) -> None:
        """Create the directory, or check that an existing one is a checkpoint (or empty)."""
        if self.directory.exists() and not self.directory.is_dir():
            raise OutputFolderError(
                f"--checkpoint {self.directory} is a file, not a folder; pass a folder path"
            )
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            entries = sorted(p.name for p in self.directory.iterdir())
        except OSError as exc:
            raise OutputFolderError(
                f"cannot create or read the checkpoint folder {self.directory}: "
                f"{exc.strerror or exc}; choose a folder you can write to"
            ) from None
        self._refuse_unlisted_stages(entries)

    def _refuse_unlisted_stages(self, entries: list[str] | None = None) -> None:
        """Stage files without a manifest were not listed by a run: not ours to replace.

        Checked before anything else, so that the message names them (other files are never
        touched).
        """
        if entries is None:
            if not self.directory.is_dir():
                return
            try:
                entries = sorted(p.name for p in self.directory.iterdir())
            except OSError:
                return  # reported when the folder is opened
        if CHECKPOINT_MANIFEST in entries:
            return
        clashes = [f"{s}.npz" for s in CHECKPOINT_STAGES if f"{s}.npz" in entries]
        if clashes:
            raise OutputFolderError(
                f"--checkpoint {self.directory} holds {', '.join(clashes)} but no "
                f"{CHECKPOINT_MANIFEST}, so they cannot be trusted or replaced; pass an empty "
                "or new folder, or delete those files"
            )

    def _damaged_manifest(self, reason: str) -> CheckpointDamagedError:
        return CheckpointDamagedError(
            f"the checkpoint manifest {self.manifest} is damaged ({reason}), so no stage in "
            f"{self.directory} can be trusted; delete that folder (or pass another --checkpoint) "
            "and run again"
        )

    def _read_manifest(self) -> dict[str, Any]:
        try:
            doc = json.loads(self.manifest.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise self._damaged_manifest(f"unreadable: {exc}") from None
        except json.JSONDecodeError as exc:
            raise self._damaged_manifest(f"not valid JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise self._damaged_manifest("not a JSON object")
        stages = doc.get("stages", [])
        if not isinstance(stages, list) or not all(s in CHECKPOINT_STAGES for s in stages):
            raise self._damaged_manifest(
                f"'stages' is {stages!r}, not a list of {', '.join(CHECKPOINT_STAGES)}"
            )
        doc["stages"] = stages
        return doc

    def _file(self, stage: str) -> Path:
        return join_inside(self.directory, f"{stage}.npz", "checkpoint stage file")

    def load(
        self, stage: str, check: Callable[[dict[str, np.ndarray]], str | None] | None = None
    ) -> dict[str, np.ndarray] | None:
        """Load the arrays saved for a completed stage, or None (not saved, or damaged).

        ``check`` returns what is wrong with the arrays (missing names, wrong lengths), if
        anything. A damaged stage is dropped with every stage listed after it: they were
        computed from it, so they are computed again.
        """
        if stage not in self.stages:
            return None
        path = self._file(stage)
        problem: str | None
        arrays: dict[str, np.ndarray] = {}
        try:
            # Our own handle: np.load leaves its file open when the archive is unreadable.
            with path.open("rb") as handle, np.load(handle, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
            problem = check(arrays) if check is not None else None
        except FileNotFoundError:
            problem = "the file is missing although checkpoint.json lists it"
        except Exception as exc:  # noqa: BLE001 - any unreadable file is a damaged stage
            reason = str(exc) or type(exc).__name__
            problem = f"the file cannot be read ({reason})"
        if problem is None:
            return arrays
        later = self.stages[self.stages.index(stage) :]
        message = (
            f"checkpoint stage {path} is damaged: {problem}; computing {', '.join(later)} again"
        )
        warnings.warn(message, CheckpointDamagedWarning, stacklevel=2)
        self.damaged.append(message)
        self.stages = self.stages[: self.stages.index(stage)]
        return None

    def save(self, stage: str, arrays: Mapping[str, np.ndarray]) -> None:
        """Write a stage's arrays, then mark it complete."""
        target = self._file(stage)
        tmp = self.directory / f".{stage}.tmp.npz"
        try:
            np.savez(tmp, **arrays)  # type: ignore[arg-type]
            os.replace(tmp, target)
            if stage not in self.stages:
                self.stages.append(stage)
            doc = {"version": CHECKPOINT_VERSION, "key": self.key, "stages": self.stages}
            tmp_manifest = self.directory / f".{CHECKPOINT_MANIFEST}.tmp"
            tmp_manifest.write_text(json.dumps(doc, indent=2), encoding="utf-8")
            os.replace(tmp_manifest, self.manifest)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise OutputFolderError(
                f"cannot write checkpoint stage {target}: {exc.strerror or exc}; free some space "
                "or choose another --checkpoint folder"
            ) from None


def run_key(hashes: Mapping[str, str], parameters: Mapping[str, Any]) -> str:
    """Hash of the input hashes and every parameter that shapes the result (not the time limit)."""
    doc = json.dumps({"inputs": dict(hashes), "parameters": dict(parameters)}, sort_keys=True)
    return "sha256:" + hashlib.sha256(doc.encode()).hexdigest()


# --------------------------------------------------------------------------------------------
# The staged solve


@dataclass
class _Clock:
    """Progress messages with stage number, share of the budget used and elapsed time."""

    say: Progress
    budget: Budget
    n_stages: int = 5

    def __call__(self, stage: int, message: str) -> None:
        elapsed = self.budget.elapsed()
        used = min(100.0, 100.0 * self.budget.used_share())
        self.say(
            f"[{stage}/{self.n_stages}] {message} ({elapsed:.0f} s elapsed, "
            f"{used:.0f}% of the time limit)"
        )


def align_large(
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    spec: AlignmentSpec,
    budget: Budget | None = None,
    *,
    forbidden: pd.DataFrame | None = None,
    input_hashes: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> AlignmentResult:
    """Run a decomposed :func:`territory.workflow.align.align` on very large, validated inputs.

    The four stages of the module's description share one budget; progress comes as
    ``[stage/5]`` lines, the fifth for putting the result together.

    Parameters
    ----------
    accounts, reps
        Validated tables.
    spec
        The levers; ``spec.checkpoint`` names a directory where each completed stage is saved.
        A rerun with the same inputs and levers resumes after the last stage saved.
    budget
        The time budget (default: ``spec.time_limit_s`` from now).
    forbidden, input_hashes, progress
        As for :func:`territory.workflow.align.align`.

    Returns
    -------
    AlignmentResult
        Its bound is the Lagrangian bound over all account-rep pairs (``bound_source`` says so).

    Raises
    ------
    CheckpointMismatchError
        The checkpoint directory holds another run's stages.
    """
    budget = budget or spec.budget()
    t_start = budget.started
    time_limit_s = budget.limit_s
    clock = _Clock(progress or (lambda _m: None), budget)
    soft, seed, candidates = spec.soft, spec.seed, spec.candidates
    family_column = spec.families
    requested = spec.balance_rule
    settings = spec.settings()
    notes: list[str] = []
    stages: dict[str, float] = {}
    if spec.solver not in ("auto", "heuristic"):
        notes.append(f"decomposed solve: the {spec.solver} backend is not used at this size")
    hashes = dict(input_hashes) if input_hashes else {}
    store: Checkpoint | None = None
    if spec.checkpoint is not None:
        if not hashes:
            hashes = {"accounts": frame_hash(accounts), "reps": frame_hash(reps)}
        if forbidden is not None and len(forbidden):
            hashes["forbidden"] = frame_hash(forbidden)
        parameters = {
            **spec.key_parameters(), "cluster_leaf": CLUSTER_LEAF,
            "cluster_mass_share": CLUSTER_MASS_SHARE, "cluster_spread": CLUSTER_SPREAD,
        }  # fmt: skip
        store = Checkpoint(spec.checkpoint, run_key(hashes, parameters))

    def load(stage: str) -> dict[str, np.ndarray] | None:
        if store is None:
            return None
        found = store.load(stage, lambda arrays: _stage_problem(stage, arrays, fine))
        notes.extend(store.damaged)
        store.damaged.clear()
        return found

    def save(stage: str, arrays: Mapping[str, np.ndarray]) -> None:
        if store is not None:
            store.save(stage, arrays)

    # 1. Account-level problem (the one the plan is judged on) and its micro-clusters.
    t = time.perf_counter()
    clock(1, "building the account-level problem and micro-clusters")
    fine = build_problem(accounts, reps, settings, forbidden=forbidden, family_column=family_column)
    reasons = presolve_reasons(fine)
    if reasons:
        # The same reasons, and the same soft-mode widening, as the direct pipeline.
        fixable = all(r.min_balance is not None for r in reasons)
        if not soft or not fixable:
            hint = (
                "Use soft mode (--soft) to get the most balanced plan instead." if fixable else ""
            )
            raise InfeasibleError(reasons, hint=hint)
        need_p = max([r.min_balance or 0.0 for r in reasons if "potential" in r.constraint] + [0])
        need_w = max([r.min_balance or 0.0 for r in reasons if "workload" in r.constraint] + [0])
        settings = replace(
            settings, balance=settings.balance.widened(need_p * 1.0001, need_w * 1.0001)
        )
        notes.append(
            f"soft mode: tolerances widened to ±{100 * settings.balance.potential:.2f}% potential, "
            f"±{100 * settings.balance.workload:.2f}% workload ({len(reasons)} presolve reason(s))"
        )
        fine = build_problem(
            accounts, reps, settings, forbidden=forbidden, family_column=family_column
        )
    saved = load("clusters")
    if saved is not None:
        unit_cluster = saved["cluster"].astype(np.int64)
        notes.append("micro-clusters reused from the checkpoint")
    else:
        # As many clusters as the coarse LP gets through in its share of the time left.
        seconds = STAGE_SHARES["coarse_lp"] * budget.remaining()
        unit_cluster = cluster_units(fine, cluster_budget(fine.n_reps, candidates, seconds))
        save("clusters", {"cluster": unit_cluster})
    n_clusters = int(unit_cluster.max(initial=-1)) + 1
    stages["clusters"] = time.perf_counter() - t
    notes.append(
        f"decomposed: {fine.n_accounts:,} units in {n_clusters:,} micro-clusters "
        "(bisection with size, mass and spread caps)"
    )

    # 2. Coarse problem: clusters as families, solved by LP, rounding, repair and local search.
    saved = load("coarse")
    coarse_prices: tuple[FloatArray, FloatArray] | None = None
    if saved is not None:
        coarse_plan = saved["plan"].astype(np.int64)
        support_a, support_r = saved["support_units"], saved["support_reps"]
        notes.append("coarse plan reused from the checkpoint")
    else:
        t = time.perf_counter()
        clock(2, f"coarse solve over {n_clusters:,} micro-clusters")
        found = coarse_start(
            fine, accounts, reps, settings, unit_cluster, budget, forbidden=forbidden, seed=seed,
            notes=notes,
        )  # fmt: skip
        coarse_plan, support_a, support_r = found.plan, found.support_units, found.support_reps
        coarse_prices = found.prices
        stages["coarse_lp"] = found.lp_seconds
        stages["coarse_solve"] = time.perf_counter() - t
        save("coarse", {"plan": coarse_plan, "support_units": support_a,
                        "support_reps": support_r})  # fmt: skip

    # 3. Window prices maximising the smoothed Lagrangian dual over the candidate pairs
    # (started from the coarse duals), then one exact pass over all pairs: the bound. The same
    # pass finds, for each account, reps cheaper at those prices than all of its candidates
    # (the pairs column generation would add), which refinement needs to reach reps that the
    # nearest-rep pruning leaves short of their windows.
    fine = fine.with_pairs(
        np.concatenate([np.arange(fine.n_accounts, dtype=np.int64), support_a]),
        np.concatenate([coarse_plan, support_r]),
    )
    off_window = _reps_off(fine, coarse_plan)
    saved = load("bound")
    reserve = STAGE_SHARES["refine_reserve"] * time_limit_s
    late_bound = False
    # Prices a bound taken after refinement starts from (zero: the cheapest rep of each account).
    late_start: tuple[FloatArray, FloatArray] | None = None
    if saved is not None:
        bound = float(saved["bound"])
        extra_a, extra_r = saved["extra_accounts"], saved["extra_reps"]
        late_bound = not math.isfinite(bound)
        if late_bound and (saved["pi"].any() or saved["sigma"].any()):
            late_start = (saved["pi"], saved["sigma"])
        notes.append("bound reused from the checkpoint")
    elif budget.remaining() <= reserve + 1.0 or off_window.size:
        # The plan comes first: the bound is taken after refinement, with the time left, from
        # the coarse LP's window duals where the pass over all pairs is long (see below).
        bound, extra_a, extra_r = -math.inf, np.empty(0, np.int64), np.empty(0, np.int64)
        late_bound = True
        late_start = coarse_prices
        zeros = np.zeros(fine.n_reps)
        pi, sigma = late_start if late_start is not None else (zeros, zeros)
        save("bound", {"bound": np.asarray(bound), "pi": pi, "sigma": sigma,
                       "extra_accounts": extra_a, "extra_reps": extra_r})  # fmt: skip
    else:
        t = time.perf_counter()
        clock(3, f"Lagrangian bound over all {fine.n_accounts * fine.n_reps:,} pairs")
        deadline = time.perf_counter() + min(
            budget.share("window_prices"), budget.remaining() - reserve
        )
        bound, pi, sigma, extra_a, extra_r = window_bound(fine, deadline)
        stages["bound"] = time.perf_counter() - t
        save("bound", {"bound": np.asarray(bound, dtype=np.float64), "pi": pi, "sigma": sigma,
                       "extra_accounts": extra_a, "extra_reps": extra_r})  # fmt: skip
    problem = fine.with_pairs(extra_a, extra_r)
    notes.append(f"refinement adds {extra_a.size:,} pairs priced by the window duals")

    # 4. Account-level refinement from the coarse plan.
    saved = load("refined")
    if saved is not None:
        assignment = saved["plan"].astype(np.int64)
        # A retried repair may have used wider pairs: make sure the plan's own pairs are in.
        problem = problem.with_pairs(np.arange(problem.n_accounts, dtype=np.int64), assignment)
        refined_status = SolveStatus(str(saved["status"]))
        notes.append("refined plan reused from the checkpoint")
    else:
        t = time.perf_counter()
        off = _reps_off(problem, coarse_plan)
        clock(4, f"account-level repair and local search ({off.size:,} reps outside their windows)")
        if off.size:
            border_a, border_r = border_pairs(problem, coarse_plan, off)
            before = problem.n_pairs
            problem = problem.with_pairs(border_a, border_r)
            notes.append(
                f"refinement adds {problem.n_pairs - before:,} pairs along the borders of the "
                f"{off.size:,} reps outside their windows"
            )
        start = Solution(
            assignment=coarse_plan,
            status=SolveStatus.FEASIBLE,
            objective=problem.objective(coarse_plan),
            bound=None,
            bound_source="none",
            backend="coarse",
            seconds=0.0,
        )
        # Each pass takes half of what is left, so the exact repair below always gets time.
        # Repair only: local search on a balanced plan comes in the rescue below, which leaves
        # the late bound its share (at 1M / 2,000 this pass polished for 100 s, and the bound
        # then had no time).
        refined = HeuristicSolver(use_lp=False, max_rounds=0).solve(
            problem, time_limit_s=0.5 * budget.reserve("final_write", floor=2.0), seed=seed,
            warm_start=start,
        )  # fmt: skip
        # Stalled moves: the LP over whole neighbourhoods of reps, with half of what is left (at
        # 1M / 2,000 it balanced the last three or four reps, key accounts' reps among them, in
        # 23 s, where the wider candidates below took the rest of the time to rebuild the model).
        refined = lp_repair(
            problem, refined, time.perf_counter() + 0.5 * budget.reserve("final_write"),
            seed=seed, notes=notes,
        )  # fmt: skip
        wider_pairs = (
            _worst_violation(problem, refined.assignment) > FEASIBILITY_TOL
            and budget.remaining() > 0.25 * budget.limit_s
        )
        if wider_pairs:
            # Repair stalled: every move out of an overfull rep overfilled another. Give each
            # account twice the reach and repair again from where it stopped.
            notes.append("refinement repair stalled; retried with twice the candidate reps")
            wider = build_problem(
                accounts, reps, replace(settings, candidates=2 * candidates),
                forbidden=forbidden, family_column=family_column,
            )  # fmt: skip
            problem = wider.with_pairs(problem.pair_account, problem.pair_rep)
            refined = HeuristicSolver(use_lp=False).solve(
                problem, time_limit_s=0.5 * budget.reserve("final_write", floor=2.0), seed=seed,
                warm_start=refined,
            )  # fmt: skip
        if budget.reserve("final_write") > 1.0:
            # Never give up while time remains: LP, then exact, repair of the worst
            # neighbourhoods, then local search on (or only local search for a plan already
            # balanced).
            # A late bound keeps its share once the plan is balanced (polish stops for it), if
            # it can still run at all (at 1M / 2,000 a bound that no longer fitted left 95 s of
            # the limit unused).
            write_s = STAGE_SHARES["final_write"] * time_limit_s
            fits = _bound_fits(problem, budget.remaining() - write_s, time_limit_s)
            bound_s = STAGE_SHARES["late_bound"] * time_limit_s if late_bound and fits else 0.0
            refined = rescue(
                problem, refined, budget, reserve_s=write_s, polish_reserve_s=bound_s,
                seed=seed, notes=notes, lp_first=wider_pairs,
            )  # fmt: skip
        assignment = refined.assignment
        refined_status = refined.status
        stages["refine"] = time.perf_counter() - t
        save("refined", {"plan": assignment, "status": np.asarray(refined_status.value)})
    left = max(budget.remaining() - STAGE_SHARES["final_write"] * time_limit_s, 0.0)
    pass_s = _pass_seconds(problem)
    if late_bound and _bound_fits(problem, left, time_limit_s):
        t = time.perf_counter()
        clock(5, "Lagrangian bound over all pairs, with the time left")
        # The first climb gets 40% of what is left, less what its exact pass over all pairs
        # will take (planned at PRICED_PAIRS_PER_SECOND; at 1M / 2,000 the pass is most of the
        # time, so the coarse duals are priced nearly as they are); later rounds (more pairs
        # priced in, the climb resumed) run while their pass still ends by 85% of the time
        # left, and no pass runs past the time left.
        now = time.perf_counter()
        climb_s = max(min(0.4 * left, left - 1.2 * pass_s), 0.0)
        # Where a pass is short against the time left, climbing from zero prices beats the
        # coarse duals (100k / 500, 2 s passes in 21 s: 6.07 M against 5.33 M after the first
        # round); where it is long (1M / 2,000, 80 s passes in 100-200 s) the climb cannot get
        # far from zero (60 M against 117 M from the coarse duals, for a 323 M plan).
        from_prices = late_start if pass_s > 0.25 * left else None
        bound = window_bound(
            problem, now + climb_s, start=from_prices, finish_by=now + 0.85 * left,
            climb_on=True, stop_at=now + left,
        )[0]  # fmt: skip
        stages["bound"] = time.perf_counter() - t
        if not math.isfinite(bound):
            notes.append("the Lagrangian bound's pass over all pairs did not end in the time left")
    elif late_bound:
        notes.append("no time was left for the Lagrangian bound; raise --time-limit for one")
    clock(5, "writing the result")
    objective = problem.objective(assignment)
    feasible = _worst_violation(problem, assignment) <= FEASIBILITY_TOL

    if not feasible:
        dev_p, dev_w = deviations(problem, assignment)
        if not soft:
            raise SolveError(
                f"the decomposed solve found no plan within ±{100 * requested.potential:.3g}% "
                f"potential / ±{100 * requested.workload:.3g}% workload in "
                f"{time.perf_counter() - t_start:.0f} s; the best deviates up to "
                f"{100 * dev_p:.2f}% on potential and {100 * dev_w:.2f}% on workload. Reps "
                "left off balance: " + "; ".join(unbalanced_reasons(problem, assignment)) + ". "
                "Steps taken: " + "; ".join(notes) + ". "
                "Raise --time-limit, widen --balance, use --soft, or try --decompose off"
            )
        _, loads = problem.loads(assignment)
        over = np.flatnonzero(loads > problem.capacity * (1.0 + FEASIBILITY_TOL))
        if over.size and not settings.balance.allow_overtime:
            raise SolveError(
                f"soft mode: the decomposed solve found no plan that keeps every rep within "
                f"capacity ({over.size} rep(s) over, e.g. {problem.rep_ids[over[0]]!r}); raise "
                "--time-limit, allow overtime, or try --decompose off"
            )
        widened = settings.balance.widened(dev_p * 1.000001, dev_w * 1.000001)
        problem = replace(problem, settings=replace(settings, balance=widened))
        feasible = True  # soft mode: the widened windows hold by construction
        notes.append(
            f"soft mode: tolerances widened to ±{100 * widened.potential:.3g}% potential and "
            f"±{100 * widened.workload:.3g}% workload to reach a plan"
        )
    has_bound = math.isfinite(bound)
    bound_value = min(bound, objective) if has_bound else None
    status = refined_status
    if feasible and status == SolveStatus.INFEASIBLE:
        status = SolveStatus.FEASIBLE
    solution = Solution(
        assignment=assignment,
        status=status,
        objective=objective,
        bound=bound_value,
        bound_source=(
            "Lagrangian relaxation of the balance windows over all pairs "
            "(prices from the smoothed dual)"
            if has_bound
            else "none"
        ),
        backend="heuristic (decomposed)",
        seconds=time.perf_counter() - t_start,
    )
    return solve_result(
        accounts, reps, problem, solution, spec, time_limit_s=time_limit_s, t_start=t_start,
        log=SolveLog(stages, notes), gap=spec.gap, input_hashes=input_hashes,
        bound_scope="all account-rep pairs",
    )  # fmt: skip


_STAGE_ARRAYS: dict[str, dict[str, str]] = {
    "clusters": {"cluster": "units"},
    "coarse": {"plan": "units", "support_units": "pairs", "support_reps": "pairs"},
    "bound": {"bound": "scalar", "pi": "reps", "sigma": "reps", "extra_accounts": "pairs",
              "extra_reps": "pairs"},
    "refined": {"plan": "units", "status": "scalar"},
}  # fmt: skip
"""The arrays of each checkpoint stage and their length: one per unit, per rep, per pair."""


def _stage_problem(
    stage: str, arrays: Mapping[str, np.ndarray], problem: AlignmentProblem
) -> str | None:
    """Say what is wrong with a checkpoint stage's arrays for this problem (None: nothing)."""
    wanted = _STAGE_ARRAYS[stage]
    missing = sorted(set(wanted) - set(arrays))
    if missing:
        return f"array(s) {', '.join(missing)} are missing"
    sizes = {"units": problem.n_accounts, "reps": problem.n_reps}
    pairs = {arrays[name].shape for name, kind in wanted.items() if kind == "pairs"}
    if len(pairs) > 1:
        return "its pair arrays differ in length"
    for name, kind in wanted.items():
        value = arrays[name]
        if kind == "scalar" and value.ndim != 0:
            return f"'{name}' is not a single value"
        if kind in sizes and value.shape != (sizes[kind],):
            return f"'{name}' has shape {value.shape}, expected ({sizes[kind]},)"
    if stage == "refined" and str(arrays["status"]) not in {s.value for s in SolveStatus}:
        return f"status '{arrays['status']}' is not a solve status"
    for names, limit, what in (
        (("plan", "support_reps", "extra_reps"), problem.n_reps, "rep"),
        (("cluster", "support_units", "extra_accounts"), problem.n_accounts, "account"),
    ):
        for name in names:
            if name not in arrays or not arrays[name].size:
                continue
            value = arrays[name]
            if value.dtype.kind not in "iu" or value.min() < 0 or value.max() >= limit:
                return f"'{name}' holds {what} positions outside 0..{limit - 1}"
    return None


def _pass_seconds(problem: AlignmentProblem) -> float:
    """Planned seconds of one exact pricing pass over every account-rep pair."""
    return problem.n_accounts * problem.n_reps / PRICED_PAIRS_PER_SECOND


def _bound_fits(problem: AlignmentProblem, seconds: float, time_limit_s: float) -> bool:
    """Whether a late bound has room in ``seconds``: half its share, and 1.2 passes."""
    least = max(0.5 * STAGE_SHARES["late_bound"] * time_limit_s, 1.2 * _pass_seconds(problem))
    return seconds > least


def _reps_off(problem: AlignmentProblem, assignment: IntArray) -> IntArray:
    """Reps outside their windows by more than :data:`FEASIBILITY_TOL` of their target."""
    pot, wl = problem.loads(assignment)
    return np.flatnonzero(window_violation(pot, wl, problem) > FEASIBILITY_TOL)


def _worst_violation(problem: AlignmentProblem, assignment: IntArray) -> float:
    """Largest window violation of any rep, relative to its target (0 when all hold)."""
    pot, wl = problem.loads(assignment)
    return float(window_violation(pot, wl, problem).max(initial=0.0))


def should_decompose(
    mode: str,
    n_accounts: int,
    unsupported: str | None = None,
    *,
    time_limit_s: float | None = None,
) -> bool:
    """Whether :func:`territory.workflow.align.align` hands the instance to :func:`align_large`.

    ``unsupported`` names a rule the decomposed solve cannot keep (caps on moves, contiguity):
    ``auto`` then solves directly and ``on`` is an error. ``time_limit_s`` (given when the
    solver is chosen automatically) lets ``auto`` decompose a mid-sized instance whose limit is
    too short for the direct pipeline (:data:`SHORT_LIMIT_ACCOUNTS_PER_SECOND`).
    """
    if mode not in ("auto", "on", "off"):
        raise ScenarioError(f"decompose is '{mode}'; use auto, on or off")
    if mode == "off":
        return False
    if unsupported is not None:
        if mode == "on":
            raise ScenarioError(
                f"{unsupported} are not supported by the decomposed solve; use decompose off"
            )
        return False
    if mode == "on" or n_accounts >= DECOMPOSE_ACCOUNTS:
        return True
    return (
        time_limit_s is not None
        and n_accounts >= SHORT_LIMIT_ACCOUNTS
        and n_accounts > SHORT_LIMIT_ACCOUNTS_PER_SECOND * time_limit_s
    )


# --------------------------------------------------------------------------------------------
# Memory-light I/O


SOLVE_ACCOUNT_COLUMNS = ("account_id", "lat", "lon", "potential", "workload", "current_rep",
                         "locked_rep", "revenue_last_year")  # fmt: skip
"""Account columns the solve reads; names, segments and other payload stay on disk."""

SOLVE_REP_COLUMNS = ("rep_id", "lat", "lon", "capacity", "tier")
"""Rep columns the solve reads."""


def write_assignments_parquet(assignments: pd.DataFrame, path: str | Path) -> None:
    """Write the assignment table with pyarrow in one pass, atomically (temporary file, rename)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    pq.write_table(pa.Table.from_pandas(assignments, preserve_index=False), tmp)
    os.replace(tmp, target)
