"""Tests for territory.rendering.report: one self-contained, escaped, byte-stable HTML page per run.

Runs come from the real CLI on :func:`make_instance` data (as ``make demo`` builds them), so the
report sees exactly the files users have. The page tests need no browser; the browser tests
load the page in headless Chromium (``tests/browser.py``) and are skipped only when Chromium is
not installed (never on CI, where ``make test`` installs it: a missing browser there fails).
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from jinja2 import UndefinedError
from markupsafe import Markup
from typer.testing import CliRunner

from cli import app
from territory.domain.synthetic import make_instance
from territory.errors import DataValidationError
from territory.io.runs import load_plan
from territory.rendering.report import (
    CHECKS_FILE,
    SECTION_IDS,
    collect_report_inputs,
    map_charts,
    render_report,
    rep_colours,
    write_report,
)
from territory.rendering.report.page import ENVIRONMENT
from tests.browser import find_chromium, inspect_page
from tests.commands import DEMO_COMP as COMP
from tests.commands import ROOT, run_territory
from tests.instances import EVIL

runner = CliRunner()
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

CHECKS: list[dict[str, Any]] = [
    {
        "check_id": "T1",
        "framework_list": "territory",
        "statement": "Proper coverage of potential by active reps.",
        "status": "PASS",
        "metric": "potential_covered",
        "value": 1.0,
        "threshold": 0.95,
        "comparator": ">=",
        "scope": "forward",
        "n": 300,
        "excluded_n": 0,
        "inputs_used": ["accounts.potential"],
        "needs": [],
        "evidence": ["100% of potential is held by an active rep"],
        "source": "https://example.com/spec#T1",
        "notes": "",
    },
    {
        "check_id": "T5",
        "framework_list": "territory",
        "statement": f"Utilisation band {EVIL}",
        "status": "WARN",
        "metric": "utilization_band_share",
        "value": 0.875,
        "threshold": [0.85, 1.15],
        "comparator": "between",
        "scope": "forward",
        "n": 6,
        "excluded_n": 0,
        "inputs_used": [],
        "needs": [],
        "evidence": [f"rep {EVIL} is below the band"],
        "source": "spec 3.1",
        "notes": EVIL,
    },
    {
        "check_id": "C7",
        "framework_list": "comp",
        "statement": "At least 50% of reps reach quota and 90% earn some incentive.",
        "status": "FAIL",
        "metric": "expected_share_at_quota",
        "value": 0.304,
        "threshold": 0.5,
        "comparator": ">=",
        "scope": "forward",
        "n": 6,
        "excluded_n": 0,
        "inputs_used": ["stress.json"],
        "needs": [],
        "evidence": ["E[share at quota] 30.4%"],
        "source": "spec 3.2",
        "notes": "",
    },
    {
        "check_id": "C9",
        "framework_list": "comp",
        "statement": "Leaders and reps can articulate the plan mechanics.",
        "status": "NOT_ASSESSABLE",
        "metric": None,
        "value": None,
        "threshold": None,
        "comparator": None,
        "scope": "config",
        "n": None,
        "excluded_n": None,
        "inputs_used": [],
        "needs": ["a rep survey or quiz"],
        "evidence": ["sample calculations in stress.json"],
        "source": "spec 3.2",
        "notes": "",
    },
    {
        "check_id": "C2",
        "framework_list": "comp",
        "statement": "Plans are industry competitive.",
        "status": "INFO",
        "metric": "quota_to_ote",
        "value": 5.2,
        "threshold": None,
        "comparator": None,
        "scope": "config",
        "n": 6,
        "excluded_n": 0,
        "inputs_used": [],
        "needs": [],
        "evidence": [],
        "source": "",
        "notes": "",
    },
]


def _cli(*args: str) -> None:
    done = runner.invoke(app, list(args))
    assert done.exit_code == 0, done.output


def _aligned(folder: Path, name: str = "plan") -> Path:
    """A 300-account, 6-rep run aligned by the CLI; one rep is named like an attack."""
    accounts, reps = make_instance(300, 6, seed=5)
    reps["name"] = [f"Rep {i}" for i in range(len(reps))]
    reps.loc[0, "name"] = EVIL
    accounts.to_csv(folder / "accounts.csv", index=False)
    reps.to_csv(folder / "reps.csv", index=False)
    out = folder / name
    _cli(
        "align", "--accounts", str(folder / "accounts.csv"), "--reps", str(folder / "reps.csv"),
        "--out", str(out), "--quiet", "--solver", "heuristic",
    )  # fmt: skip
    return out


@pytest.fixture(scope="module")
def bare_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Only `territory align` has run: no quotas, stress test or checks."""
    return _aligned(tmp_path_factory.mktemp("report-bare"))


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """align + quota + stress (400 simulations) + a checks.json, as after the whole pipeline."""
    out = _aligned(tmp_path_factory.mktemp("report-full"))
    _cli("quota", "--plan", str(out), "--target", "10000000", "--quiet")
    _cli(
        "stress", "--plan", str(out), "--comp", str(COMP), "--sims", "400", "--seed", "3",
        "--quiet",
    )  # fmt: skip
    (out / CHECKS_FILE).write_text(json.dumps(CHECKS, indent=2), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def full_html(full_run: Path) -> str:
    return render_report(**collect_report_inputs(full_run))


@pytest.fixture(scope="module")
def bare_html(bare_run: Path) -> str:
    return render_report(**collect_report_inputs(bare_run))


def section(html: str, ident: str) -> str:
    """The HTML of ``<section id=ident>``."""
    match = re.search(rf'<section id="{re.escape(ident)}">(.*?)</section>', html, re.S)
    assert match is not None, f"no section {ident}"
    return match.group(1)


def images(html: str) -> list[bytes]:
    sources = re.findall(r'<img [^>]*src="([^"]*)"', html)
    out = []
    for src in sources:
        assert src.startswith("data:image/png;base64,"), src[:60]
        out.append(base64.b64decode(src.split(",", 1)[1]))
    return out


class TestSyntheticReport:
    def test_every_section_has_its_id_once(self, full_html: str) -> None:
        for ident in SECTION_IDS:
            assert full_html.count(f'id="{ident}"') == 1, ident
        assert full_html.startswith("<!DOCTYPE html>")

    def test_user_text_is_escaped(self, full_html: str) -> None:
        # The rep's name and the check texts are shown, but only as text.
        assert "<script" not in full_html.lower()
        assert "onerror=alert" not in full_html.replace("&lt;img src=x onerror=alert", "")
        assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in full_html
        assert section(full_html, "quotas").count("&lt;script&gt;") == 1
        assert section(full_html, "scorecard").count("&lt;script&gt;") == 3

    def test_script_in_a_rep_name_stays_text(self, full_run: Path) -> None:
        inputs = collect_report_inputs(full_run)
        run = inputs["run"]
        reps = run.reps.copy()
        reps["name"] = reps["name"].astype(object)
        reps.loc[1, "name"] = "<script>alert(1)</script>"
        html = render_report(**{**inputs, "run": run.__class__(**{**run.__dict__, "reps": reps})})
        assert "<script>alert(1)</script>" not in html
        assert "<script" not in html.lower()
        shown = "&lt;script&gt;alert(1)&lt;/script&gt;"
        # The name column of the territory table, the quota table and the rep impact table.
        for ident in ("balance", "quotas", "stress"):
            assert section(html, ident).count(shown) == 1, ident

    def test_folder_name_is_escaped(self, full_run: Path, tmp_path: Path) -> None:
        inputs = collect_report_inputs(full_run)
        odd = inputs["run"].__class__(**{**inputs["run"].__dict__, "path": tmp_path / "q<1>"})
        html = render_report(**{**inputs, "run": odd})
        assert "q&lt;1&gt;" in html
        assert "q<1>" not in html

    def test_nothing_is_loaded_from_outside(self, full_html: str) -> None:
        # Links and sources are in-page anchors or data URIs; URLs may only appear as text.
        for attribute in re.findall(r'(?:src|href|action|srcset)\s*=\s*"([^"]*)"', full_html):
            assert attribute.startswith(("#", "data:image/png;base64,")), attribute[:80]
        assert not re.search(r"""(?:src|href)\s*=\s*['"]?\s*(?:https?:)?//""", full_html)
        assert "url(" not in full_html and "@import" not in full_html
        assert "https://example.com/spec#T1" in section(full_html, "scorecard")  # as text
        assert "default-src 'none'" in full_html

    def test_images_are_inline_pngs(self, full_html: str) -> None:
        pngs = images(full_html)
        # map (+ zooms), balance, 3 stress charts from the folder, sensitivity drawn here
        assert len(pngs) >= 6
        assert all(png.startswith(PNG_SIGNATURE) for png in pngs)
        assert len(images(section(full_html, "map"))) >= 1
        assert len(images(section(full_html, "balance"))) == 1
        assert len(images(section(full_html, "stress"))) == 4

    def test_same_inputs_give_the_same_bytes(self, full_run: Path, tmp_path: Path) -> None:
        """This process and another (``territory report``) write the same page, maps included."""
        first = render_report(**collect_report_inputs(full_run))
        a = write_report(tmp_path / "a.html", first).read_bytes()
        done = run_territory("report", "--plan", full_run, "--out", tmp_path / "b.html")
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "b.html").read_bytes() == a
        assert sorted(p.name for p in tmp_path.iterdir()) == ["a.html", "b.html"]

    def test_missing_steps_say_which_command_to_run(self, bare_html: str, bare_run: Path) -> None:
        plan = bare_run.as_posix()
        assert f"territory quota --plan {plan} --target" in section(bare_html, "quotas")
        assert f"territory stress --plan {plan} --comp" in section(bare_html, "stress")
        assert f"territory check --plan {plan}" in section(bare_html, "scorecard")
        # What align wrote is always there.
        assert len(images(section(bare_html, "map"))) >= 1
        assert "Backend" in section(bare_html, "solve-summary")

    def test_solve_summary_and_header_carry_the_fingerprint(
        self, full_html: str, full_run: Path
    ) -> None:
        solve = json.loads((full_run / "solve.json").read_text())
        for digest in solve["inputs"].values():
            assert digest in full_html
        summary = section(full_html, "solve-summary")
        for label in ("Backend", "Status", "Objective", "Lower bound", "Gap", "Seconds"):
            assert label in summary
        assert solve["status"] in summary
        assert f"Engine version</th><td>{solve['version']}" in full_html

    def test_numbers_have_thousands_separators(self, full_html: str, full_run: Path) -> None:
        quotas = pd.read_parquet(full_run / "quotas.parquet")
        total = float(quotas["final_annual_quota"].sum())
        assert f"{total:,.0f}" in section(full_html, "quotas")
        assert "10,000,000" in section(full_html, "quotas")  # the company target

    def test_scorecard_counts_and_groups(self, full_html: str) -> None:
        card = section(full_html, "scorecard")
        assert card.count('class="check"') == len(CHECKS)
        assert card.index('id="checks-territory"') < card.index('id="checks-comp"')
        counts = re.search(r'id="status-counts">(.*?)</div></div>', card, re.S)
        assert counts is not None
        for status in ("PASS", "WARN", "FAIL", "NOT ASSESSABLE", "INFO", "NOT APPLICABLE"):
            assert status in card
        assert "<b>Needs:</b>" in card and "a rep survey or quiz" in card
        assert "0.304</b> \u2265 0.5" in card
        assert "0.875</b> within 0.85 \u2013 1.15" in card

    def test_dict_shaped_checks_file_is_read(self, full_run: Path, tmp_path: Path) -> None:
        folder = tmp_path / "copy"
        folder.mkdir()
        for item in full_run.iterdir():
            (folder / item.name).write_bytes(item.read_bytes())
        (folder / CHECKS_FILE).write_text(json.dumps({"checks": CHECKS[:2]}))
        inputs = collect_report_inputs(folder)
        assert [c["check_id"] for c in inputs["checks"]] == ["T1", "T5"]

    def test_neighbouring_territories_get_different_colours(self) -> None:
        """Four quadrants of a 20 x 20 grid, one rep each::

        1 | 2
        --+--
        0 | 3
        """
        xs, ys = np.meshgrid(np.arange(20.0), np.arange(20.0))
        x, y = xs.ravel(), ys.ravel()
        rep = np.where(x < 10, np.where(y < 10, 0, 1), np.where(y < 10, 3, 2)).astype(np.int64)
        colours = rep_colours(x, y, rep, 4)
        assert colours[0] != colours[1] and colours[1] != colours[2]
        assert colours[2] != colours[3] and colours[3] != colours[0]
        assert rep_colours(x, y, rep, 4) == colours

    def test_map_is_deterministic(self, full_run: Path) -> None:
        run = load_plan(full_run)
        assert map_charts(run) == map_charts(run)


class TestErrorsReport:
    def test_folder_without_an_alignment(self, tmp_path: Path) -> None:
        with pytest.raises(DataValidationError, match="territory align"):
            collect_report_inputs(tmp_path)

    def test_broken_json_names_the_file(self, bare_run: Path, tmp_path: Path) -> None:
        folder = tmp_path / "copy"
        folder.mkdir()
        for item in bare_run.iterdir():
            (folder / item.name).write_bytes(item.read_bytes())
        (folder / CHECKS_FILE).write_text('[{"check_id": "T1",')
        with pytest.raises(DataValidationError, match="checks.json.*not valid JSON"):
            collect_report_inputs(folder)

    def test_a_chart_that_is_not_a_png_is_named_not_embedded(self, bare_run: Path) -> None:
        inputs = collect_report_inputs(bare_run)
        html = render_report(**{**inputs, "charts": {"payout_curve": b"GIF89a not a png"}})
        assert "payout curve: the file is not a PNG image" in section(html, "stress")

    def test_odd_check_rows_do_not_break_the_page(self, bare_run: Path) -> None:
        odd: list[Mapping[str, Any]] = [
            {"check_id": "X1", "status": "maybe", "framework_list": ["territory", "comp"]},
            {"status": None, "value": float("nan"), "threshold": {"lo": 1, "hi": 2}},
            {"check_id": "X3", "status": "PASS", "framework_list": "finance", "needs": "a"},
        ]
        html = render_report(**{**collect_report_inputs(bare_run), "checks": odd})
        card = section(html, "scorecard")
        assert card.count('class="check"') == 3
        assert "MAYBE" in card and "Other checks" in card


class TestTemplates:
    def test_values_are_escaped_and_markup_is_not(self) -> None:
        page = ENVIRONMENT.from_string("{{ text }}|{{ m }}|{{ n }}")
        out = page.render(text="<b>'x' & \"y\"</b>", m=Markup("<i>ok</i>"), n=1234)
        assert out == "&lt;b&gt;&#x27;x&#x27; &amp; &quot;y&quot;&lt;/b&gt;|<i>ok</i>|1234"

    def test_a_variable_the_code_does_not_pass_fails_loudly(self) -> None:
        template = ENVIRONMENT.get_template("report.html.j2")
        with pytest.raises(UndefinedError, match="header"):
            template.render(title="t", css="", nav=())

    def test_the_style_sheet_is_inlined(self, bare_html: str) -> None:
        sheet = (ROOT / "territory/rendering/report/templates/report.css").read_text(
            encoding="utf-8"
        )
        assert f"<style>\n{sheet}</style>" in bare_html


# ------------------------------------------------------------------------------ browser

CHROMIUM = find_chromium()
_ON_CI = bool(os.environ.get("CI"))
needs_browser = pytest.mark.skipif(
    CHROMIUM is None and not _ON_CI,
    reason="Chromium is not installed (Debian: apt-get install chromium; `make test` does it)",
)

_PROBES = {
    "ids": "Array.from(document.querySelectorAll('section[id]')).map(s => s.id)",
    "images": "Array.from(document.images).map(i => [i.complete, i.naturalWidth])",
    "checks": "document.querySelectorAll('#scorecard tr.check').length",
    "scripts": "document.scripts.length",
    "title": "document.title",
}


@needs_browser
class TestRealWorldReport:
    def test_page_loads_clean_in_chromium(self, full_run: Path, full_html: str) -> None:
        page = write_report(full_run / "report.html", full_html)
        shot = full_run / "report.png"
        report = inspect_page(page, expressions=_PROBES, screenshot=shot)
        assert report.console_errors == []
        assert report.external_requests == []
        assert report.values["ids"] == list(SECTION_IDS)
        loaded = report.values["images"]
        assert len(loaded) >= 6 and all(done and width > 0 for done, width in loaded)
        assert report.values["checks"] == len(CHECKS)
        assert report.values["scripts"] == 0  # the attack in a rep name stayed text
        assert "&lt;script&gt;" in report.dom
        png = shot.read_bytes()
        assert png.startswith(PNG_SIGNATURE)
        assert len(png) > 100_000
        width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        assert width == 1400 and height > 3000

    def test_harness_sees_errors_and_requests(self, tmp_path: Path) -> None:
        """The clean-page test means something only if a bad page is caught."""
        bad = tmp_path / "bad.html"
        bad.write_text(
            "<!DOCTYPE html><html><body><p id=x>hi</p>"
            "<script>console.error('boom'); missingFunction();</script>"
            "<img src='https://example.invalid/pixel.png'></body></html>"
        )
        report = inspect_page(bad, expressions={"x": "document.getElementById('x').textContent"})
        assert any("boom" in e for e in report.console_errors)
        assert any("missingFunction" in e for e in report.console_errors)
        assert report.external_requests == ["https://example.invalid/pixel.png"]
        assert report.values["x"] == "hi"
