"""Damaged checkpoints (``--checkpoint DIR`` of decomposed solves): never a traceback.

A stage file that is empty, truncated, missing or holds the wrong arrays is reported (a warning
naming the file, and a note in solve.json) and computed again from the last good stage; a
manifest that cannot be read leaves nothing to trust: ``CheckpointDamagedError``, exit 2, telling
the user to delete the folder.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cli import EXIT_BAD_INPUT, app
from territory.domain.model import AlignmentSettings, build_problem
from territory.domain.synthetic import make_instance
from territory.errors import CheckpointDamagedError, OutputFolderError, UnsafeNameError
from territory.workflow.scale import (
    CHECKPOINT_STAGES,
    Checkpoint,
    CheckpointDamagedWarning,
    _stage_problem,
)

runner = CliRunner()
KEY = "sha256:test"


def _stage_ok(arrays: dict[str, np.ndarray]) -> str | None:
    return None if "plan" in arrays and arrays["plan"].shape == (4,) else "wrong plan"


def _filled(folder: Path) -> Checkpoint:
    store = Checkpoint(folder, KEY)
    for stage in CHECKPOINT_STAGES:
        store.save(stage, {"plan": np.arange(4, dtype=np.int64)})
    return store


class TestCheckpointFiles:
    def test_a_complete_checkpoint_loads(self, tmp_path: Path) -> None:
        _filled(tmp_path)
        again = Checkpoint(tmp_path, KEY)
        assert again.stages == list(CHECKPOINT_STAGES)
        loaded = again.load("bound", _stage_ok)
        assert loaded is not None and np.array_equal(loaded["plan"], np.arange(4))

    @pytest.mark.parametrize(
        ("damage", "says"),
        [
            (lambda p: p.write_bytes(b""), "cannot be read"),
            (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "cannot be read"),
            (lambda p: p.unlink(), "missing although checkpoint.json lists it"),
            (lambda p: p.write_bytes(b"not a zip file at all"), "cannot be read"),
            (lambda p: np.savez(p, plan=np.arange(7)), "wrong plan"),
            (lambda p: np.savez(p, other=np.arange(4)), "wrong plan"),
        ],
        ids=["empty", "truncated", "missing", "garbage", "wrong-shape", "wrong-arrays"],
    )
    def test_a_damaged_stage_is_dropped_with_the_stages_after_it(
        self, tmp_path: Path, damage: object, says: str
    ) -> None:
        _filled(tmp_path)
        damage(tmp_path / "coarse.npz")  # type: ignore[operator]
        store = Checkpoint(tmp_path, KEY)
        assert store.load("clusters", _stage_ok) is not None
        with pytest.warns(CheckpointDamagedWarning) as caught:
            assert store.load("coarse", _stage_ok) is None
        (message,) = [str(w.message) for w in caught if w.category is CheckpointDamagedWarning]
        assert str(tmp_path / "coarse.npz") in message and "is damaged" in message
        assert says in message and "computing coarse, bound, refined again" in message
        assert store.damaged == [message]
        assert store.stages == ["clusters"]
        assert store.load("bound", _stage_ok) is None  # built on the damaged stage
        # Saving the recomputed stage makes the checkpoint whole again.
        store.save("coarse", {"plan": np.arange(4, dtype=np.int64)})
        assert Checkpoint(tmp_path, KEY).stages == ["clusters", "coarse"]

    @pytest.mark.parametrize(
        ("manifest", "says"),
        [
            ("", "not valid JSON"),
            ('{"version": 1, "key": "sha256:te', "not valid JSON"),
            ("[1, 2, 3]", "not a JSON object"),
            ('{"version": 1, "key": "sha256:test", "stages": "clusters"}', "'stages'"),
            ('{"version": 1, "key": "sha256:test", "stages": ["../../etc/x"]}', "'stages'"),
            (b"\xff\xfe\x00garbage", "unreadable"),
        ],
        ids=["empty", "truncated", "list", "stages-text", "stage-path", "binary"],
    )
    def test_an_unreadable_manifest_trusts_nothing(
        self, tmp_path: Path, manifest: str | bytes, says: str
    ) -> None:
        _filled(tmp_path)
        target = tmp_path / "checkpoint.json"
        if isinstance(manifest, bytes):
            target.write_bytes(manifest)
        else:
            target.write_text(manifest, encoding="utf-8")
        before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
        with pytest.raises(CheckpointDamagedError) as caught:
            Checkpoint(tmp_path, KEY)
        message = str(caught.value)
        assert str(target) in message and "damaged" in message and says in message
        assert "delete that folder" in message
        assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before

    def test_a_file_at_the_checkpoint_path_is_refused(self, tmp_path: Path) -> None:
        target = tmp_path / "ckpt"
        target.write_text("mine", encoding="utf-8")
        with pytest.raises(OutputFolderError, match="is a file"):
            Checkpoint(target, KEY)
        assert target.read_text(encoding="utf-8") == "mine"

    def test_stage_files_without_a_manifest_are_not_replaced(self, tmp_path: Path) -> None:
        (tmp_path / "clusters.npz").write_bytes(b"someone else's")
        (tmp_path / "notes.txt").write_text("unrelated", encoding="utf-8")
        with pytest.raises(OutputFolderError, match=r"clusters\.npz"):
            Checkpoint(tmp_path, KEY)
        assert (tmp_path / "clusters.npz").read_bytes() == b"someone else's"
        # A folder of other files is not the engine's either: refused, and left alone.
        (tmp_path / "clusters.npz").unlink()
        with pytest.raises(OutputFolderError, match=r"notes\.txt"):
            Checkpoint(tmp_path, KEY)
        assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "unrelated"
        # An empty folder becomes a checkpoint folder.
        fresh = tmp_path / "fresh"
        fresh.mkdir()
        Checkpoint(fresh, KEY).save("clusters", {"plan": np.arange(4)})
        assert Checkpoint(fresh, KEY).stages == ["clusters"]

    def test_stage_names_are_checked_as_file_names(self, tmp_path: Path) -> None:
        with pytest.raises(UnsafeNameError):
            Checkpoint(tmp_path, KEY).save("../escape", {"plan": np.arange(4)})
        assert not (tmp_path.parent / "escape.npz").exists()


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], Path, Path]:
    """``territory align --decompose on --checkpoint`` run to the end: its arguments (without
    ``--checkpoint`` and ``--out``), its complete checkpoint and its output folder."""
    folder = tmp_path_factory.mktemp("checkpoint")
    accounts, reps = make_instance(500, 6, 8)
    accounts.to_csv(folder / "accounts.csv", index=False)
    reps.to_csv(folder / "reps.csv", index=False)
    args = [
        "align", "--accounts", str(folder / "accounts.csv"), "--reps", str(folder / "reps.csv"),
        "--decompose", "on", "--time-limit", "20", "--seed", "3", "--quiet",
    ]  # fmt: skip
    done = runner.invoke(
        app, [*args, "--checkpoint", str(folder / "ckpt"), "--out", str(folder / "out")]
    )
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in (folder / "ckpt").iterdir()) == sorted(
        [".territory-run.json", "checkpoint.json", *(f"{s}.npz" for s in CHECKPOINT_STAGES)]
    )
    return args, folder / "ckpt", folder / "out"


def _resume(
    finished: tuple[list[str], Path, Path],
    tmp_path: Path,
    damage: Callable[[Path], None],
    stage: str,
) -> tuple[Path, list[str]]:
    """Copy the checkpoint, damage it, run the same command again: the output and its notes."""
    args, folder, _ = finished
    copy = tmp_path / "ckpt"
    shutil.copytree(folder, copy)
    damage(copy)
    out = tmp_path / "out"
    with pytest.warns(CheckpointDamagedWarning, match=rf"{stage}\.npz is damaged"):
        done = runner.invoke(app, [*args, "--checkpoint", str(copy), "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert "Traceback" not in done.output
    stages = json.loads((copy / "checkpoint.json").read_text(encoding="utf-8"))["stages"]
    assert stages == list(CHECKPOINT_STAGES)  # whole again
    return out, json.loads((out / "solve.json").read_text(encoding="utf-8"))["notes"]


def test_a_truncated_stage_is_recomputed_from_the_last_good_one(
    finished: tuple[list[str], Path, Path], tmp_path: Path
) -> None:
    def truncate(copy: Path) -> None:
        stage = copy / "coarse.npz"
        stage.write_bytes(stage.read_bytes()[:100])

    out, notes = _resume(finished, tmp_path, truncate, "coarse")
    assert "micro-clusters reused from the checkpoint" in notes  # the good stage before it
    assert "refined plan reused from the checkpoint" not in notes  # built on the damaged one
    assert any("coarse.npz is damaged" in note for note in notes)
    first = pd.read_csv(finished[2] / "assignments.csv")
    pd.testing.assert_frame_equal(pd.read_csv(out / "assignments.csv"), first)


def test_a_missing_stage_is_recomputed(
    finished: tuple[list[str], Path, Path], tmp_path: Path
) -> None:
    _, notes = _resume(finished, tmp_path, lambda copy: (copy / "refined.npz").unlink(), "refined")
    assert any("refined.npz is damaged" in n and "missing" in n for n in notes)
    assert "bound reused from the checkpoint" in notes


def test_cli_damaged_manifest_is_exit_2_telling_to_delete(
    finished: tuple[list[str], Path, Path], tmp_path: Path
) -> None:
    args, folder, _ = finished
    copy = tmp_path / "ckpt"
    shutil.copytree(folder, copy)
    (copy / "checkpoint.json").write_text('{"version": 1, "key": ', encoding="utf-8")
    out = tmp_path / "out"
    done = runner.invoke(app, [*args, "--checkpoint", str(copy), "--out", str(out)])
    assert done.exit_code == EXIT_BAD_INPUT, done.output
    text = " ".join(done.output.split())
    assert "CheckpointDamagedError" in text and "delete that folder" in text
    assert "Traceback" not in done.output
    assert not out.exists()


def test_cli_checkpoint_path_that_is_a_file_is_exit_2(
    finished: tuple[list[str], Path, Path], tmp_path: Path
) -> None:
    args, _, _ = finished
    target = tmp_path / "ckpt"
    target.write_text("mine", encoding="utf-8")
    done = runner.invoke(app, [*args, "--checkpoint", str(target), "--out", str(tmp_path / "o")])
    assert done.exit_code == EXIT_BAD_INPUT, done.output
    assert "is a file" in done.output and target.read_text(encoding="utf-8") == "mine"


def test_stage_arrays_are_checked_against_the_problem() -> None:
    accounts, reps = make_instance(40, 3, 2)
    problem = build_problem(accounts, reps, AlignmentSettings())
    n, r = problem.n_accounts, problem.n_reps
    plan = np.zeros(n, dtype=np.int64)
    good: dict[str, dict[str, np.ndarray]] = {
        "clusters": {"cluster": np.arange(n)},
        "coarse": {"plan": plan, "support_units": np.arange(3), "support_reps": np.arange(3)},
        "bound": {"bound": np.asarray(1.0), "pi": np.zeros(r), "sigma": np.zeros(r),
                  "extra_accounts": np.arange(2), "extra_reps": np.arange(2)},
        "refined": {"plan": plan, "status": np.asarray("FEASIBLE")},
    }  # fmt: skip
    for stage, arrays in good.items():
        assert _stage_problem(stage, arrays, problem) is None, stage
    bad: list[tuple[str, dict[str, np.ndarray], str]] = [
        ("clusters", {"cluster": np.arange(n - 1)}, "shape"),
        ("clusters", {"cluster": -np.ones(n, dtype=np.int64)}, "positions outside"),
        ("clusters", {"cluster": np.zeros(n)}, "positions outside"),  # floats are no labels
        ("coarse", {**good["coarse"], "plan": np.full(n, r)}, "positions outside"),
        ("coarse", {**good["coarse"], "support_reps": np.arange(2)}, "differ in length"),
        ("bound", {k: v for k, v in good["bound"].items() if k != "pi"}, "pi"),
        ("bound", {**good["bound"], "bound": np.zeros(2)}, "single value"),
        ("refined", {**good["refined"], "status": np.asarray("GREAT")}, "not a solve status"),
    ]
    for stage, arrays, says in bad:
        problem_text = _stage_problem(stage, arrays, problem)
        assert problem_text is not None and says in problem_text, (stage, says, problem_text)
