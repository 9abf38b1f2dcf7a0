"""User text that becomes a path: scenario stems, sweep grid labels, checkpoint stage files.

A scenario file named ``...toml`` has the stem ``..``: before the naming rule, ``territory run``
replaced the whole temporary folder with its outputs, and ``..toml`` (stem ``.``) the whole
``--out`` root. Every refusal is exit 2, before anything is read, solved or written.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli import EXIT_BAD_INPUT, app
from scenarios import load_scenario, run_scenario
from scenarios.model import variant_name
from scenarios.sweep import plan_sweep
from territory.errors import UnsafeNameError, UsageError
from territory.io.names import (
    MAX_NAME_CHARACTERS,
    RULE,
    is_safe_name,
    join_inside,
    validate_name,
)
from tests.commands import write_instance

runner = CliRunner()

SCENARIO = """
description = "a valid scenario whose file name is the problem"
[inputs]
accounts = "accounts.csv"
reps = "reps.csv"
[align]
time_limit_s = 5.0
"""


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("names")
    write_instance(folder, 60, 3, seed=2)
    return folder


def _scenario(folder: Path, file_name: str) -> Path:
    path = folder / file_name
    path.write_text(SCENARIO, encoding="utf-8")
    return path


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


class TestRule:
    @pytest.mark.parametrize(
        "name",
        ["base", "add_5_reps", "lose-3-reps", "scen-balance-0.05", "Région_Est", "A1.v2", "_x"],
    )
    def test_safe_names_are_returned_unchanged(self, name: str) -> None:
        assert validate_name(name, "scenario name") == name
        assert is_safe_name(name)

    @pytest.mark.parametrize(
        ("name", "reason"),
        [
            ("", "empty"),
            (".", "folder itself"),
            ("..", "folder itself"),
            ("a/b", "path separator"),
            ("a\\b", "path separator"),
            ("../etc", "'/'"),
            (".hidden", "starts with '.'"),
            ("trailing.", "ends with '.'"),
            ("two words", "' '"),
            ("tab\there", "'\\t'"),
            ("nul\x00byte", "'\\x00'"),
            ("bell\x07", "'\\x07'"),
            ("CON", "device name"),
            ("con.toml", "device name"),
            ("x" * (MAX_NAME_CHARACTERS + 1), "too long"),
            ("é" * 101, "202 bytes"),  # few enough characters, too many bytes
        ],
    )
    def test_unsafe_names_are_refused_with_the_text_what_and_rule(
        self, name: str, reason: str
    ) -> None:
        with pytest.raises(UnsafeNameError) as caught:
            validate_name(name, "sweep grid label", "rename it")
        message = str(caught.value)
        assert repr(name) in message
        assert "sweep grid label" in message
        assert reason in message
        assert RULE in message and "rename it" in message
        assert isinstance(caught.value, UsageError)  # exit 2

    def test_join_inside_stays_inside(self, tmp_path: Path) -> None:
        assert join_inside(tmp_path, "run-1") == tmp_path / "run-1"
        for bad in ("..", ".", "a/../../b", "/etc"):
            with pytest.raises(UnsafeNameError):
                join_inside(tmp_path, bad)

    def test_join_inside_refuses_a_link_that_leaves_the_folder(self, tmp_path: Path) -> None:
        outside = tmp_path / "outside"
        outside.mkdir()
        root = tmp_path / "root"
        root.mkdir()
        (root / "scenario").symlink_to(outside, target_is_directory=True)
        with pytest.raises(UnsafeNameError, match="outside the folder"):
            join_inside(root, "scenario", "scenario name")


TOKENS = [*"aZ09_-./\\ \x00\t:é", "..", "CON", "nul", "\u202e"]
NAME_TEXT = st.lists(st.sampled_from(TOKENS), max_size=10).map("".join) | st.text(max_size=20)
"""Names built from the troublesome pieces (dots, separators, device names), and any text."""


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("root")


@given(text=NAME_TEXT)
def test_any_accepted_name_joins_to_a_child_of_root(root: Path, text: str) -> None:
    if not is_safe_name(text):
        with pytest.raises(UnsafeNameError):
            join_inside(root, text)
        return
    joined = join_inside(root, text)
    resolved = joined.resolve()
    assert resolved.parent == root.resolve()  # one level down, never root itself or above
    assert resolved != root.resolve()
    assert "/" not in text and "\\" not in text and text not in (".", "..")


@given(value=st.one_of(st.text(max_size=30), st.floats(), st.integers()))
def test_grid_labels_of_any_value_are_safe_folder_names(root: Path, value: object) -> None:
    """variant_name maps every character outside the rule to '_', so short values always pass."""
    label = variant_name("base", "levers.families", value)
    assert is_safe_name(label), label
    assert join_inside(root, label).resolve().parent == root.resolve()


@pytest.mark.parametrize(("value", "label"), [(".", "base-lever-_"), ("1..", "base-lever-1__")])
def test_grid_labels_never_end_in_a_dot(value: str, label: str) -> None:
    """Hypothesis found '.' giving 'base-levers.families-.', which no folder may be called."""
    assert variant_name("base", "lever", value) == label


class TestScenarioStems:
    def test_run_refuses_the_stem_dot_dot_and_leaves_tmpdir_alone(
        self, inputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        scratch = tmp_path / "tmpdir"
        scratch.mkdir()
        (scratch / "someone-else.txt").write_text("keep me", encoding="utf-8")
        monkeypatch.setattr(tempfile, "tempdir", str(scratch))
        path = _scenario(inputs, "...toml")
        out = tmp_path / "out"
        done = runner.invoke(app, ["run", str(path), "--out", str(out), "--quiet"])
        assert done.exit_code == EXIT_BAD_INPUT, done.output
        assert "UnsafeNameError" in done.output and "'..'" in done.output
        assert "scenario file stem" in done.output and "rename the scenario file" in done.output
        assert "Traceback" not in done.output
        assert _snapshot(scratch) == {"someone-else.txt": b"keep me"}
        assert not out.exists()

    def test_run_refuses_the_stem_dot_and_keeps_the_other_runs(
        self, inputs: Path, tmp_path: Path
    ) -> None:
        path = _scenario(inputs, "..toml")
        out = tmp_path / "out"
        (out / "earlier-run").mkdir(parents=True)
        (out / "earlier-run" / "solve.json").write_text("{}", encoding="utf-8")
        before = _snapshot(out)
        done = runner.invoke(app, ["run", str(path), "--out", str(out), "--quiet"])
        assert done.exit_code == EXIT_BAD_INPUT, done.output
        assert "'.'" in done.output and "folder itself" in done.output
        assert _snapshot(out) == before

    @pytest.mark.parametrize("file_name", ["...toml", "..toml", ".toml", "my scenario.toml"])
    def test_sweep_refuses_unsafe_stems_before_running(
        self, inputs: Path, tmp_path: Path, file_name: str
    ) -> None:
        good = _scenario(inputs, "good.toml")
        bad = _scenario(inputs, file_name)
        out = tmp_path / "sweep"
        done = runner.invoke(app, ["sweep", str(good), str(bad), "--out", str(out), "--quiet"])
        assert done.exit_code == EXIT_BAD_INPUT, done.output
        assert "UnsafeNameError" in done.output and "scenario file stem" in done.output
        assert not out.exists()

    def test_load_scenario_and_run_scenario_check_the_name(
        self, inputs: Path, tmp_path: Path
    ) -> None:
        path = _scenario(inputs, "fine.toml")
        with pytest.raises(UnsafeNameError, match="scenario name"):
            load_scenario(path, name="../elsewhere")
        scenario = dataclasses.replace(load_scenario(path), name="..")
        out = tmp_path / "out"
        out.mkdir()
        (out / "keep.txt").write_text("x", encoding="utf-8")
        with pytest.raises(UnsafeNameError):
            run_scenario(scenario, out)
        assert _snapshot(out) == {"keep.txt": b"x"}


class TestGridLabels:
    def test_labels_are_folder_names_inside_out(self, inputs: Path, tmp_path: Path) -> None:
        path = _scenario(inputs, "base.toml")
        tasks = plan_sweep([path], tmp_path, "levers.families=a/b,c\\d e")
        assert [t.name for t in tasks] == ["base-levers.families-a_b", "base-levers.families-c_d_e"]
        for task in tasks:
            assert join_inside(tmp_path, task.name).parent == tmp_path

    def test_a_label_too_long_is_refused(self, inputs: Path, tmp_path: Path) -> None:
        path = _scenario(inputs, "base.toml")
        grid = "levers.families=" + "x" * MAX_NAME_CHARACTERS
        with pytest.raises(UnsafeNameError, match="sweep grid label"):
            plan_sweep([path], tmp_path, grid)
        out = tmp_path / "sweep"
        done = runner.invoke(
            app, ["sweep", str(path), "--grid", grid, "--out", str(out), "--quiet"]
        )
        assert done.exit_code == EXIT_BAD_INPUT, done.output
        assert "too long" in done.output
        assert not out.exists()
