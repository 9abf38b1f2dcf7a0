"""Tests for territory.io.config_files: the one reader of user-named TOML files and its messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from scenarios import load_scenario
from territory.errors import ScenarioError
from territory.io.config_files import load_comp, read_toml


class TestErrorsReadToml:
    def test_a_missing_file_is_named_with_how_it_was_named(self, tmp_path: Path) -> None:
        gone = tmp_path / "gone.toml"
        with pytest.raises(ScenarioError) as caught:
            read_toml(gone, "scenario", where=" (named by base.toml)")
        assert str(caught.value) == (
            f"scenario file {gone} not found (named by base.toml); check the path"
        )

    def test_invalid_toml_names_the_file_and_the_place(self, tmp_path: Path) -> None:
        bad = tmp_path / "comp.toml"
        bad.write_text("[roles\n", encoding="utf-8")
        with pytest.raises(
            ScenarioError, match=rf"^comp plan file {bad} is not valid TOML: .*line 1"
        ):
            load_comp(bad)

    def test_a_folder_is_refused_by_each_reader(self, tmp_path: Path) -> None:
        with pytest.raises(ScenarioError, match=rf"^cannot read comp plan file {tmp_path}: "):
            load_comp(tmp_path)
        with pytest.raises(ScenarioError, match=rf"^{tmp_path} is a folder, not a scenario file$"):
            load_scenario(tmp_path)

    def test_a_good_file_is_parsed(self, tmp_path: Path) -> None:
        good = tmp_path / "t.toml"
        good.write_text('[checks]\nblocking = ["C5"]\n', encoding="utf-8")
        assert read_toml(good, "thresholds") == {"checks": {"blocking": ["C5"]}}
