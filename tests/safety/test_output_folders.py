"""Output folders: what the engine may replace or add to, the lock, leftovers (issue 11).

Every case goes through the command line on a 60-account instance. Cases that must be refused
before any solve run with the solve replaced by a failure (``no_solve``), so a refusal that came
too late would show as a wrong exit code instead of a written folder.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from importlib import metadata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_SOLVER, EXIT_TERMINATED, app
from territory.errors import OutputFolderError, SolveError, Terminated, UnsafeNameError
from territory.io import output_rules, output_writing, outputs, write_outputs
from territory.io.outputs import MARKER
from territory.workflow.scale import Checkpoint
from tests import commands
from tests.commands import DEMO_COMP as COMP
from tests.commands import ROOT, invoke, write_instance

UNITS = ROOT / "data" / "units" / "demo_zips.geojson"
runner = CliRunner()

Snapshot = dict[str, bytes | None]


def snapshot(folder: Path) -> Snapshot:
    """Every file's bytes and every sub-folder under ``folder`` (hidden ones included)."""
    return {
        p.relative_to(folder).as_posix(): None if p.is_dir() else p.read_bytes()
        for p in sorted(folder.rglob("*"))
    }


def leftovers(folder: Path) -> list[str]:
    """Staging or backup names in ``folder``."""
    return sorted(
        p.name
        for p in folder.iterdir()
        if ".tmp-" in p.name or ".old-" in p.name or p.name.startswith(".territory-add-")
    )


def fill(folder: Path, names: list[str]) -> Path:
    """Create ``folder`` holding a small file per name (``sub/x`` makes a sub-folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"user data {name}\n".encode())
    return folder


def dead_pid() -> int:
    """The id of a process that has ended (as a SIGKILL would leave it)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@contextmanager
def cwd(folder: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 accounts and 4 reps as CSV files, alone in their folder."""
    folder = tmp_path_factory.mktemp("inputs")
    write_instance(folder, 60, 4, seed=3)
    return folder


def align_args(data: Path, out: Path | str, *extra: str) -> list[str]:
    return commands.align_args(data, out, "--time-limit", "10", *extra)


@pytest.fixture(scope="module")
def run_template(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An engine run folder: align, then quota."""
    out = tmp_path_factory.mktemp("runs") / "base"
    done = runner.invoke(app, align_args(data, out))
    assert done.exit_code == 0, done.output
    done = runner.invoke(app, ["quota", "--plan", str(out), "--target", "1000000", "--quiet"])
    assert done.exit_code == 0, done.output
    return out


@pytest.fixture()
def run(run_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the run folder for one test."""
    return Path(shutil.copytree(run_template, tmp_path / "run"))


@pytest.fixture()
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """A scenario run that gets as far as reading its inputs fails the test."""
    monkeypatch.setattr(
        "scenarios.runner.prepare_inputs", lambda *_: pytest.fail("work was started")
    )


@pytest.fixture()
def no_solve(monkeypatch: pytest.MonkeyPatch) -> None:
    """The solve fails loudly: a command refused before solving never gets there."""

    def fail(*_args: object, **_kwargs: object) -> object:
        raise AssertionError("the solve was reached")

    monkeypatch.setattr("territory.workflow.align.align", fail)


def code(result: object) -> int:
    return int(result.exit_code)  # type: ignore[attr-defined]


def refused(args: list[str], folder: Path, *, where: Path | None = None) -> str:
    """Run ``args`` (from the folder ``where``): exit 2 and ``folder`` unchanged; the output."""
    before = snapshot(folder)
    with cwd(where) if where is not None else nullcontext():
        result = invoke(args)
    assert code(result) == EXIT_BAD_INPUT, output(result)
    assert snapshot(folder) == before
    return output(result)


def output(result: object) -> str:
    return " ".join(str(result.output).split())  # type: ignore[attr-defined]


@contextmanager
def read_only(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``folder`` without write permission; as root (which ignores the bits) ``os.access``
    answers as it would for any other user."""
    folder.chmod(0o555)
    if os.geteuid() == 0:
        real = os.access

        def access(path: object, mode: int, **kwargs: object) -> bool:
            inside = Path(os.path.abspath(str(path))).is_relative_to(folder)
            if inside and mode & os.W_OK:
                return False
            return real(path, mode, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "access", access)
    try:
        yield
    finally:
        folder.chmod(0o755)


# ------------------------------------------------------------------------------------------
# The marker
# ------------------------------------------------------------------------------------------


class TestMarker:
    def test_written_folders_carry_a_deterministic_marker(self, data: Path, tmp_path: Path) -> None:
        for name in ("a", "b"):
            assert code(invoke(align_args(data, tmp_path / name))) == 0
        first, second = tmp_path / "a" / MARKER, tmp_path / "b" / MARKER
        assert first.read_bytes() == second.read_bytes()
        marker = json.loads(first.read_text(encoding="utf-8"))
        assert marker == {
            "engine": "territory-engine",
            "command": "align",
            "version": metadata.version("territory-engine"),
            "files": sorted(p.name for p in (tmp_path / "a").iterdir() if p.name != MARKER),
        }

    def test_a_folder_the_engine_wrote_is_replaced(self, data: Path, run: Path) -> None:
        assert code(invoke(align_args(data, run, "--format", "parquet"))) == 0
        names = {p.name for p in run.iterdir()}
        assert "assignments.parquet" in names and "quotas.csv" not in names
        assert leftovers(run.parent) == []

    def test_a_user_file_dropped_into_an_engine_folder_is_refused(
        self, data: Path, run: Path, no_solve: None
    ) -> None:
        (run / "my notes.txt").write_text("mine")
        before = snapshot(run)
        result = invoke(align_args(data, run))
        assert code(result) == EXIT_BAD_INPUT
        assert "my notes.txt" in output(result) and str(run) in output(result)
        assert snapshot(run) == before

    @pytest.mark.parametrize("content", [b"", b"{}", b'{"engine": "someone else"}'])
    def test_a_file_named_like_the_marker_is_not_a_marker(
        self, data: Path, tmp_path: Path, content: bytes, no_solve: None
    ) -> None:
        folder = fill(tmp_path / "mine", [])
        (folder / MARKER).write_bytes(content)
        result = invoke(align_args(data, folder))
        assert code(result) == EXIT_BAD_INPUT and MARKER in output(result)
        assert (folder / MARKER).read_bytes() == content


# ------------------------------------------------------------------------------------------
# Refused before solving
# ------------------------------------------------------------------------------------------


class TestRefused:
    @pytest.mark.parametrize("force", [False, True])
    @pytest.mark.parametrize("as_dot", [True, False], ids=["out-dot", "out-path"])
    def test_out_is_the_input_folder(
        self, data: Path, tmp_path: Path, force: bool, as_dot: bool, no_solve: None
    ) -> None:
        """``--out .`` inside the input folder, or its path: refused, even with --force."""
        folder = Path(shutil.copytree(data, tmp_path / "inputs"))
        args = align_args(folder, "." if as_dot else folder, *(["--force"] if force else []))
        text = refused(args, folder, where=folder if as_dot else tmp_path)
        assert "accounts.csv" in text and "input" in text

    def test_out_dot_in_a_folder_of_user_files(
        self, data: Path, tmp_path: Path, no_solve: None
    ) -> None:
        folder = fill(tmp_path / "work", ["plan 2026.xlsx", "notes.txt"])
        text = refused(align_args(data, "."), folder, where=folder)
        assert "--out .:" in text and "plan 2026.xlsx" in text

    def test_the_current_folder_is_never_replaced_even_when_the_engine_wrote_it(
        self, data: Path, tmp_path: Path, no_solve: None
    ) -> None:
        run = tmp_path / "run"
        write_outputs(run, {}, {"solve.json": {"v": 1}})  # an engine folder, marker and all
        legacy = fill(tmp_path / "legacy", [])
        for name in ("solve.json", "plan.parquet", "input_accounts.parquet"):
            (legacy / name).write_bytes(b"")  # looks like an older version's run folder
        for folder in (run, legacy):
            before = snapshot(folder)
            with cwd(folder):
                result = invoke(align_args(data, "."))
            assert code(result) == EXIT_BAD_INPUT
            assert "current folder" in output(result)
            assert snapshot(folder) == before

    def test_a_foreign_folder_is_named_with_a_few_entries_and_a_count(
        self, data: Path, tmp_path: Path, no_solve: None
    ) -> None:
        folder = fill(tmp_path / "mine", [f"f{i}.csv" for i in range(8)] + ["sub/deep.txt"])
        text = refused(align_args(data, folder), folder)
        assert str(folder) in text and "9 entries" in text
        assert "f0.csv, f1.csv, f2.csv, f3.csv, f4.csv and 4 more" in text
        assert "--force" in text

    def test_a_file_at_out(self, data: Path, tmp_path: Path, no_solve: None) -> None:
        target = tmp_path / "result"
        target.write_text("keep me")
        for force in ([], ["--force"]):
            result = invoke(align_args(data, target, *force))
            assert code(result) == EXIT_BAD_INPUT
            assert "is a file" in output(result)
        assert target.read_text() == "keep me"

    def test_a_file_where_a_parent_folder_should_be(
        self, data: Path, tmp_path: Path, no_solve: None
    ) -> None:
        (tmp_path / "result").write_text("keep me")
        result = invoke(align_args(data, tmp_path / "result" / "run"))
        assert code(result) == EXIT_BAD_INPUT
        assert "is a file" in output(result)
        assert (tmp_path / "result").read_text() == "keep me"

    def test_an_unwritable_parent_or_folder(
        self, data: Path, tmp_path: Path, no_solve: None, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        locked = tmp_path / "locked"
        locked.mkdir()
        with read_only(locked, monkeypatch):
            for out in (locked / "run", locked / "deeper" / "run", locked):
                result = invoke(align_args(data, out))
                assert code(result) == EXIT_BAD_INPUT, out
                assert "cannot be written" in output(result)
        assert list(locked.iterdir()) == []

    def test_a_read_only_folder_of_user_files(
        self, data: Path, tmp_path: Path, no_solve: None, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        folder = fill(tmp_path / "archive", ["2025.csv", "2024.csv"])
        before = snapshot(folder)
        with read_only(folder, monkeypatch):
            for force in ([], ["--force"]):
                assert code(invoke(align_args(data, folder, *force))) == EXIT_BAD_INPUT
        assert snapshot(folder) == before

    def test_a_symbolic_link_at_out(self, data: Path, tmp_path: Path, no_solve: None) -> None:
        target = fill(tmp_path / "real", ["a.txt"])
        (tmp_path / "link").symlink_to(target)
        result = invoke(align_args(data, tmp_path / "link", "--force"))
        assert code(result) == EXIT_BAD_INPUT
        assert "symbolic link" in output(result)
        assert (tmp_path / "link").is_symlink() and (target / "a.txt").exists()


# ------------------------------------------------------------------------------------------
# --force
# ------------------------------------------------------------------------------------------


class TestForce:
    def test_force_replaces_a_foreign_folder(self, data: Path, tmp_path: Path) -> None:
        folder = fill(tmp_path / "old results", ["a.csv", "sub/b.csv"])
        assert code(invoke(align_args(data, folder))) == EXIT_BAD_INPUT
        assert code(invoke(align_args(data, folder, "--force"))) == 0
        names = {p.name for p in folder.iterdir()}
        assert "a.csv" not in names and "sub" not in names
        assert {MARKER, "assignments.csv"} <= names
        assert leftovers(tmp_path) == []

    def test_never_the_current_folder_or_an_ancestor(
        self, data: Path, tmp_path: Path, no_solve: None
    ) -> None:
        top = fill(tmp_path / "top", ["x.txt"])
        here = fill(top / "here", ["y.txt"])
        before = snapshot(top)
        with cwd(here):
            for out in (".", "..", str(top)):
                result = invoke(align_args(data, out, "--force"))
                assert code(result) == EXIT_BAD_INPUT, out
                assert "current folder" in output(result)
        assert snapshot(top) == before

    def test_never_a_home_folder(
        self, data: Path, tmp_path: Path, no_solve: None, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        home = fill(tmp_path / "home-of-someone", [".bashrc", "Documents/plan.xlsx"])
        monkeypatch.setenv("HOME", str(home))
        elsewhere = fill(tmp_path / "elsewhere", [])
        assert "home or root" in refused(align_args(data, home, "--force"), home, where=elsewhere)

    def test_home_and_root_folders_are_recognised(self) -> None:
        assert output_rules._is_home(Path("/"))
        assert output_rules._is_home(Path("/home/alice"))
        assert output_rules._is_home(Path("/Users/alice"))
        assert output_rules._is_home(Path.home())
        assert not output_rules._is_home(Path("/home/alice/out"))

    def test_the_library_applies_the_rule_at_swap_time(self, tmp_path: Path) -> None:
        folder = tmp_path / "out"
        folder.mkdir()
        calls: list[int] = []

        def late_user_file(path: Path) -> None:
            # The user saves a file into the (empty) folder while the run is writing.
            (folder / "saved meanwhile.xlsx").write_text("mine")
            calls.append(1)
            path.write_text("x")

        with pytest.raises(OutputFolderError, match="saved meanwhile"):
            write_outputs(folder, {}, {}, files={"x.txt": late_user_file})
        assert calls and [p.name for p in folder.iterdir()] == ["saved meanwhile.xlsx"]
        assert leftovers(tmp_path) == []


# ------------------------------------------------------------------------------------------
# Steps that add files to a run folder
# ------------------------------------------------------------------------------------------

ADDERS: dict[str, Callable[[Path], list[str]]] = {
    "quota": lambda plan: ["quota", "--plan", str(plan), "--target", "1000000", "--quiet"],
    "stress": lambda plan: [
        "stress",
        "--plan",
        str(plan),
        "--comp",
        str(COMP),
        "--sims",
        "100",
        "--quiet",
    ],  # fmt: skip
    "check": lambda plan: ["check", "--plan", str(plan), "--no-fail", "--quiet"],
    "report": lambda plan: ["report", "--plan", str(plan), "--quiet"],
}


class TestAdders:
    @pytest.mark.parametrize("step", sorted(ADDERS))
    def test_a_foreign_folder_is_refused(self, step: str, tmp_path: Path) -> None:
        folder = fill(tmp_path / "mine", ["solve.json", "budget.xlsx"])
        assert "not written by territory" in refused(ADDERS[step](folder), folder)

    def test_a_run_folder_of_an_older_version_is_accepted(self, run: Path) -> None:
        (run / MARKER).unlink()
        for step in ("check", "report"):
            assert code(invoke(ADDERS[step](run))) == 0, step
        assert (run / "checks.csv").exists() and (run / "report.html").exists()
        assert not (run / MARKER).exists()

    def test_an_older_run_folder_is_replaced_only_when_it_holds_only_engine_files(
        self, data: Path, run: Path
    ) -> None:
        (run / MARKER).unlink()
        (run / "mine.txt").write_text("mine")
        result = invoke(align_args(data, run))
        assert code(result) == EXIT_BAD_INPUT and "mine.txt" in output(result)
        (run / "mine.txt").unlink()
        assert code(invoke(align_args(data, run))) == 0
        assert (run / MARKER).exists()

    def test_adding_never_overwrites_a_user_file_of_the_same_name(self, run: Path) -> None:
        (run / "checks.json").write_text("my own checks")
        before = snapshot(run)
        result = invoke(ADDERS["check"](run))
        assert code(result) == EXIT_BAD_INPUT and "checks.json" in output(result)
        assert snapshot(run) == before

    def test_steps_add_their_files_and_keep_the_others(self, run: Path) -> None:
        before = snapshot(run)
        assert code(invoke(ADDERS["check"](run))) == 0
        after = snapshot(run)
        assert {k: v for k, v in after.items() if k in before and k != MARKER} == {
            k: v for k, v in before.items() if k != MARKER
        }
        marker = json.loads((run / MARKER).read_text(encoding="utf-8"))
        assert {"checks.csv", "checks.json", "quotas.csv"} <= set(marker["files"])
        assert marker["command"] == "align"
        assert leftovers(run) == []

    def test_stress_and_check_at_once_lose_nothing(
        self, run_template: Path, tmp_path: Path
    ) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        for round_ in range(3):
            plan = Path(shutil.copytree(run_template, tmp_path / f"run{round_}"))
            started = [
                subprocess.Popen(
                    [sys.executable, "-m", "cli", *ADDERS[step](plan)],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
                for step in ("stress", "check")
            ]
            for process in started:
                _, err = process.communicate(timeout=300)
                assert process.returncode == 0, err.decode()
            names = {p.name for p in plan.iterdir()}
            assert {"checks.csv", "checks.json", "stress_scenarios.csv", "finance.xlsx"} <= names
            assert {"quotas.csv", "assignments.csv"} <= names
            marker = json.loads((plan / MARKER).read_text(encoding="utf-8"))
            assert {"checks.csv", "stress.json", "quotas.csv"} <= set(marker["files"])
            assert leftovers(plan) == []

    def test_the_lock_keeps_other_processes_out(
        self, run: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        holder = subprocess.Popen(
            [
                sys.executable, "-c",
                "import sys\nfrom territory.io.outputs import folder_lock\n"
                f"with folder_lock({str(run)!r}):\n"
                "    print('locked', flush=True)\n    sys.stdin.read()\n",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )  # fmt: skip
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == b"locked"
            with (
                pytest.raises(OutputFolderError, match="in use"),
                outputs.folder_lock(run, timeout_s=0.3),
            ):
                pass
            # A rerun of align does not swap the folder away under a running step either.
            monkeypatch.setattr(output_writing, "LOCK_TIMEOUT_S", 0.3)
            before = snapshot(run)
            with pytest.raises(OutputFolderError, match="in use"):
                write_outputs(run, {}, {"solve.json": {}})
            assert snapshot(run) == before and leftovers(run.parent) == []
        finally:
            assert holder.stdin is not None
            holder.stdin.close()
            holder.wait(timeout=30)
        with (
            outputs.folder_lock(run, timeout_s=5),
            outputs.folder_lock(run),
        ):  # free again, and re-entrant
            pass

    def test_the_lock_file_of_platforms_without_flock(self, tmp_path: Path) -> None:
        first = output_writing._try_lock_file(tmp_path)
        assert first == tmp_path / outputs.LOCK_FILE
        assert output_writing._try_lock_file(tmp_path) is None  # held
        output_writing._unlock(first)
        # A holder killed with the lock: its file names a dead process, so it is taken over.
        (tmp_path / outputs.LOCK_FILE).write_text(f"{dead_pid()} {output_rules._HOST}\n")
        assert output_writing._try_lock_file(tmp_path) is None
        taken = output_writing._try_lock_file(tmp_path)
        assert taken is not None
        assert (tmp_path / outputs.LOCK_FILE).read_text().split()[0] == str(os.getpid())
        output_writing._unlock(taken)
        assert not (tmp_path / outputs.LOCK_FILE).exists()


# ------------------------------------------------------------------------------------------
# territory report
# ------------------------------------------------------------------------------------------


class TestReport:
    def test_the_default_page_is_one_more_file_of_the_run(self, run: Path) -> None:
        assert code(invoke(ADDERS["report"](run))) == 0
        marker = json.loads((run / MARKER).read_text(encoding="utf-8"))
        assert "report.html" in marker["files"]
        assert outputs.is_our_report(run / "report.html")

    def test_out_never_overwrites_a_file_the_engine_did_not_write(
        self, run: Path, tmp_path: Path
    ) -> None:
        mine = tmp_path / "board.html"
        mine.write_text("<!DOCTYPE html><p>my board pack</p>")
        result = invoke(["report", "--plan", str(run), "--out", str(mine), "--quiet"])
        assert code(result) == EXIT_BAD_INPUT
        assert "not a page territory wrote" in output(result)
        assert mine.read_text() == "<!DOCTYPE html><p>my board pack</p>"

    def test_out_replaces_a_page_the_engine_wrote(self, run: Path, tmp_path: Path) -> None:
        page = tmp_path / "pages" / "plan.html"
        args = ["report", "--plan", str(run), "--out", str(page), "--quiet"]
        assert code(invoke(args)) == 0
        first = page.read_bytes()
        assert code(invoke(args)) == 0
        assert page.read_bytes() == first
        assert code(invoke([*args[:4], "--out", str(tmp_path), "--quiet"])) == EXIT_BAD_INPUT

    def test_pages_are_recognised_by_their_generator_tag_or_footer(self, tmp_path: Path) -> None:
        tagged = tmp_path / "a.html"
        tagged.write_text('<!DOCTYPE html><meta name="generator" content="territory-engine 1">')
        plain = tmp_path / "b.html"
        plain.write_text("<!DOCTYPE html><footer>Made by someone</footer>")
        text = tmp_path / "c.txt"
        text.write_text("<footer>Made by territory-engine</footer>")
        assert outputs.is_our_report(tagged)
        assert not outputs.is_our_report(plain) and not outputs.is_our_report(text)


# ------------------------------------------------------------------------------------------
# Leftovers
# ------------------------------------------------------------------------------------------

_KILLED_WRITER = """
import os, signal, sys
from territory.io import output_writing as outputs
from territory.io import write_outputs

target, stage = sys.argv[1], sys.argv[2]
if stage == "write":
    def die(path):
        path.write_text("half")
        os.kill(os.getpid(), signal.SIGKILL)
    write_outputs(target, {}, {}, files={"new.txt": die})
else:  # killed between moving the old folder aside and moving the new one in
    real, calls = os.rename, []
    def rename(source, destination):
        calls.append(source)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        real(source, destination)
    outputs.os.rename = rename
    write_outputs(target, {}, {"new.json": {"v": 2}})
"""


class TestLeftovers:
    @pytest.mark.parametrize(
        "error", [OSError("disk full"), KeyboardInterrupt(), Terminated()], ids=type
    )
    def test_a_failed_or_interrupted_write_leaves_nothing(
        self, tmp_path: Path, error: BaseException
    ) -> None:
        out = tmp_path / "run"
        write_outputs(out, {}, {"old.json": {"v": 1}})
        before = snapshot(tmp_path)

        def fail(path: Path) -> None:
            path.write_text("half")
            raise error

        with pytest.raises(type(error)):
            write_outputs(out, {}, {"a.json": {}}, files={"x.txt": fail})
        with pytest.raises(type(error)):
            write_outputs(out, {}, {}, files={"x.txt": fail}, keep_existing=True)
        assert snapshot(tmp_path) == before

    @pytest.mark.parametrize(
        ("error", "exit_code"),
        [(KeyboardInterrupt(), EXIT_INTERRUPTED), (Terminated(), EXIT_TERMINATED)],
    )
    def test_ctrl_c_and_sigterm_in_the_cli_leave_nothing(
        self,
        run: Path,
        data: Path,
        monkeypatch: pytest.MonkeyPatch,
        error: BaseException,
        exit_code: int,
    ) -> None:
        before = snapshot(run.parent)

        def interrupted(*_args: object, **_kwargs: object) -> None:
            raise error

        monkeypatch.setattr("territory.io.runs.parquet_writer", lambda frame: interrupted)
        assert code(invoke(align_args(data, run))) == exit_code
        assert code(invoke(ADDERS["quota"](run))) == exit_code
        assert snapshot(run.parent) == before

    def test_a_killed_write_is_cleaned_up_by_the_next_run(self, data: Path, tmp_path: Path) -> None:
        out = tmp_path / "run"
        write_outputs(out, {}, {"old.json": {"v": 1}})
        killed = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(out), "write"])
        assert killed.returncode == -signal.SIGKILL
        assert len(leftovers(tmp_path)) == 1  # the staging folder a SIGKILL leaves
        assert code(invoke(align_args(data, out))) == 0
        assert leftovers(tmp_path) == []

    def test_a_swap_cut_by_sigkill_is_put_back(self, tmp_path: Path) -> None:
        out = tmp_path / "run"
        write_outputs(out, {}, {"old.json": {"v": 1}})
        before = snapshot(tmp_path)
        killed = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(out), "swap"])
        assert killed.returncode == -signal.SIGKILL
        assert not out.exists() and len(leftovers(tmp_path)) == 2
        outputs.check_output_folder(out, command="align")
        assert snapshot(tmp_path) == before

    def test_leftovers_of_live_processes_and_other_hosts_stay(self, tmp_path: Path) -> None:
        gone, host = dead_pid(), output_rules._HOST
        other = "0" * 8 if host != "0" * 8 else "1" * 8
        names = {
            f".run.tmp-{gone}-{host}-0123abcd": False,
            f".run.tmp-{os.getpid()}-{host}-0123abcd": True,
            f".run.tmp-{gone}-{other}-0123abcd": True,
            ".run.tmp-0123456789ab": True,  # older names say nothing of their process
        }
        for name in names:
            fill(tmp_path / name, ["x"])
        outputs.clean_leftovers(tmp_path / "run")
        assert {n: (tmp_path / n).exists() for n in names} == names

    def test_scratch_and_per_file_staging_of_dead_processes_are_removed(
        self, tmp_path: Path, run: Path
    ) -> None:
        gone, host = dead_pid(), output_rules._HOST
        scratch = fill(tmp_path / "tmp", [])
        fill(scratch / f"territory-run-{gone}-{host}-k2j4", ["x"])
        fill(scratch / f"territory-run-{os.getpid()}-{host}-k2j4", ["x"])
        outputs.clean_scratch_leftovers(scratch)
        assert [p.name for p in scratch.iterdir()] == [f"territory-run-{os.getpid()}-{host}-k2j4"]
        fill(run / f".territory-add-{gone}-{host}-0123abcd", ["checks.csv"])
        assert code(invoke(ADDERS["check"](run))) == 0
        assert leftovers(run) == []

    def test_an_adder_never_replaces_a_marker_it_did_not_write(
        self, tmp_path: Path, run: Path
    ) -> None:
        (run / MARKER).write_text("my own notes, not the engine's", encoding="utf-8")
        before = snapshot(run)  # an older run folder (its run files) with a look-alike marker
        result = invoke(ADDERS["check"](run))
        assert code(result) == EXIT_BAD_INPUT and MARKER in output(result)
        assert snapshot(run) == before

    def test_report_page_staging_of_a_dead_process_is_removed(
        self, tmp_path: Path, run: Path
    ) -> None:
        gone, host = dead_pid(), output_rules._HOST
        left = run / f".report.html.tmp-{gone}-{host}-0123abcd"
        left.write_text("half a page", encoding="utf-8")
        assert code(invoke(["report", "--plan", str(run), "--quiet"])) == 0
        assert not left.exists()
        assert (run / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


# ------------------------------------------------------------------------------------------
# Scenario runs and sweeps
# ------------------------------------------------------------------------------------------

SCENARIO = """
description = "small"
seed = 3
[inputs]
accounts = "{data}/accounts.csv"
reps = "{data}/reps.csv"
[align]
time_limit_s = 10.0
"""


def scenario(folder: Path, name: str, data: Path) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SCENARIO.format(data=data.as_posix()), encoding="utf-8")
    return path


class TestScenarios:
    def test_run_writes_root_slash_stem_with_a_marker(self, data: Path, tmp_path: Path) -> None:
        path = scenario(tmp_path, "small.toml", data)
        root = fill(tmp_path / "out", ["other run notes.txt"])
        for _ in range(2):  # the second run replaces the first
            assert code(invoke(["run", str(path), "--out", str(root), "--quiet"])) == 0
        marker = json.loads((root / "small" / MARKER).read_text(encoding="utf-8"))
        assert marker["command"] == "run"
        written = sorted(p.name for p in (root / "small").iterdir() if p.name != MARKER)
        assert marker["files"] == written
        assert (root / "other run notes.txt").exists() and leftovers(root) == []

    def test_run_refuses_a_foreign_folder_before_any_work(
        self, data: Path, tmp_path: Path, no_work: None
    ) -> None:
        path = scenario(tmp_path, "small.toml", data)
        fill(tmp_path / "out" / "small", ["mine.xlsx"])
        before = snapshot(tmp_path)
        result = invoke(["run", str(path), "--out", str(tmp_path / "out")])
        assert code(result) == EXIT_BAD_INPUT and "mine.xlsx" in output(result)
        assert snapshot(tmp_path) == before

    def test_a_stem_of_dot_dot_never_becomes_a_folder(
        self, data: Path, tmp_path: Path, no_work: None
    ) -> None:
        path = scenario(tmp_path, "...toml", data)
        root = fill(tmp_path / "root", ["keep.txt"])
        before = snapshot(tmp_path)
        assert code(invoke(["run", str(path), "--out", str(root), "--force"])) == EXIT_BAD_INPUT
        assert snapshot(tmp_path) == before

    def test_child_folders_stay_inside_their_root(self, tmp_path: Path) -> None:
        assert outputs.child_folder(tmp_path, "base") == tmp_path / "base"
        for name in ("", ".", "..", "a/b", "../x", "/etc", "a\\b"):
            with pytest.raises(UnsafeNameError):
                outputs.child_folder(tmp_path, name)

    def test_sweep_root_has_a_marker_and_follows_the_rule(self, data: Path, tmp_path: Path) -> None:
        path = scenario(tmp_path / "scenarios", "small.toml", data)
        foreign = fill(tmp_path / "mine", ["a.txt"])
        args = ["sweep", str(path), "--workers", "1", "--quiet"]
        result = invoke([*args, "--out", str(foreign)])
        assert code(result) == EXIT_BAD_INPUT and "a.txt" in output(result)
        assert [p.name for p in foreign.iterdir()] == ["a.txt"]
        root = tmp_path / "sweep"
        assert code(invoke([*args, "--out", str(root)])) == 0
        marker = json.loads((root / MARKER).read_text(encoding="utf-8"))
        assert marker["command"] == "sweep"
        assert marker["files"] == ["summary.csv", "tradeoffs.png"]
        assert json.loads((root / "small" / MARKER).read_text())["command"] == "run"
        # The sweep's folder is the engine's as a whole: a later command may replace it.
        outputs.check_output_folder(root, command="align")


# ------------------------------------------------------------------------------------------
# The other writers: design, compare, payout, checkpoints
# ------------------------------------------------------------------------------------------


class TestOtherWriters:
    def test_design_refuses_a_foreign_folder(self, data: Path, tmp_path: Path) -> None:
        folder = fill(tmp_path / "mine", ["a.txt"])
        result = invoke(
            ["design", "--units", str(UNITS), "--k", "3", "--out", str(folder), "--quiet"]
        )
        assert code(result) == EXIT_BAD_INPUT and "a.txt" in output(result)
        assert [p.name for p in folder.iterdir()] == ["a.txt"]

    def test_compare_refuses_a_foreign_folder_and_a_compared_run(
        self, run: Path, run_template: Path, tmp_path: Path
    ) -> None:
        folder = fill(tmp_path / "mine", ["a.txt"])
        before = snapshot(run)
        for out in (folder, run):
            result = invoke(["compare", str(run_template), str(run), "--out", str(out), "--quiet"])
            assert code(result) == EXIT_BAD_INPUT, out
        assert [p.name for p in folder.iterdir()] == ["a.txt"] and snapshot(run) == before
        out = tmp_path / "cmp"
        args = ["compare", str(run_template), str(run), "--out", str(out), "--quiet"]
        assert code(invoke(args)) == 0
        assert json.loads((out / MARKER).read_text())["command"] == "compare"

    def test_payout_out(self, run: Path, tmp_path: Path) -> None:
        args = ["payout", "--comp", str(COMP), "--attainment", "1.1", "--out"]
        folder = fill(tmp_path / "mine", ["a.txt"])
        assert code(invoke([*args, str(folder)])) == EXIT_BAD_INPUT
        assert [p.name for p in folder.iterdir()] == ["a.txt"]
        before = snapshot(run)
        assert code(invoke([*args, str(run)])) == 0  # added to a run folder
        assert all(snapshot(run)[k] == v for k, v in before.items() if k != MARKER)
        assert (run / "payout_table.csv").exists()
        assert code(invoke([*args, str(folder), "--force"])) == 0
        assert sorted(p.name for p in folder.iterdir()) == [MARKER, "payout_table.csv"]

    def test_checkpoint_folders_follow_the_rule(
        self, data: Path, tmp_path: Path, no_solve: None
    ) -> None:
        folder = fill(tmp_path / "mine", ["a.txt"])
        args = align_args(data, tmp_path / "out", "--checkpoint", str(folder))
        result = invoke(args)
        assert code(result) == EXIT_BAD_INPUT and "--checkpoint" in output(result)
        assert [p.name for p in folder.iterdir()] == ["a.txt"]
        with pytest.raises(OutputFolderError):
            Checkpoint(folder, "sha256:x")
        store = Checkpoint(tmp_path / "fresh", "sha256:x")
        assert json.loads((store.directory / MARKER).read_text())["command"] == "checkpoint"
        # A checkpoint inside --out would be swept away with it: refused.
        inside = align_args(data, tmp_path / "out", "--checkpoint", str(tmp_path / "out" / "c"))
        assert code(invoke(inside)) == EXIT_BAD_INPUT
        assert (
            outputs.prepare_folder(tmp_path / "fresh", command="checkpoint") == tmp_path / "fresh"
        )


# ------------------------------------------------------------------------------------------
# Property: a refused or failed invocation changes nothing
# ------------------------------------------------------------------------------------------

_NAMES = st.sampled_from(
    [
        "notes.txt", "plan.xlsx", "sub/a.csv", "solve.json", "plan.parquet",
        "input_accounts.parquet", MARKER, "accounts.csv", ".hidden",
    ]
)  # fmt: skip


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    user_files=st.dictionaries(_NAMES, st.binary(max_size=16), max_size=4),
    choice=st.sampled_from(["input folder", "current folder", "foreign folder", "run folder"]),
    force=st.booleans(),
    valid=st.booleans(),
)
def test_a_refused_or_failed_invocation_changes_nothing(
    data: Path,
    run_template: Path,
    monkeypatch: pytest.MonkeyPatch,
    user_files: dict[str, bytes],
    choice: str,
    force: bool,
    valid: bool,
) -> None:
    """Whatever --out holds and whichever folder it is, a run that does not succeed leaves
    --out, the input folder and the current folder byte-identical."""

    def solver_fails(*_args: object, **_kwargs: object) -> object:
        raise SolveError("simulated solver failure")

    monkeypatch.setattr("territory.workflow.align.align", solver_fails)
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        inputs = Path(shutil.copytree(data, base / "inputs"))
        if not valid:
            (inputs / "accounts.csv").write_text("account_id,lat\nA1,not a number\n")
        folders = {
            "input folder": inputs,
            "current folder": base / "work",
            "foreign folder": base / "foreign",
            "run folder": Path(shutil.copytree(run_template, base / "run")),
        }
        for name, content in user_files.items():
            target = folders[choice] / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if not (choice == "input folder" and name == "accounts.csv"):
                target.write_bytes(content)
        for folder in folders.values():
            folder.mkdir(exist_ok=True)
        before = {key: snapshot(folder) for key, folder in folders.items()}
        out = "." if choice == "current folder" else str(folders[choice])
        args = align_args(inputs, out, *(["--force"] if force else []))
        with cwd(folders["current folder"]):
            result = runner.invoke(app, args)
        # Each way of stopping has its own code: the folder rule or bad input 2, the solver 4.
        text = result.output
        if "OutputFolderError" in text:
            assert result.exit_code == EXIT_BAD_INPUT, text
        elif not valid:
            assert result.exit_code == EXIT_BAD_INPUT and "DataValidationError" in text, text
        else:
            assert result.exit_code == EXIT_SOLVER and "simulated solver failure" in text, text
        after = {key: snapshot(folder) for key, folder in folders.items()}
        assert after == before
        assert all(leftovers(folder.parent) == [] for folder in folders.values())
        # Refused by the rule itself, whatever the inputs: the input folder always; a folder of
        # user files without --force, or with it when it is the current folder.
        foreign = choice in ("current folder", "foreign folder") and bool(user_files)
        if choice == "input folder" or (foreign and (not force or choice == "current folder")):
            assert "OutputFolderError" in text
