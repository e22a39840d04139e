"""README.md stays true to the code: the two commands first, every setting documented."""

from __future__ import annotations

import re
from pathlib import Path

from gpulens.config import Settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def config_table() -> dict[str, tuple[str, str]]:
    section = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = (cells[1], cells[2])
    return rows


def test_first_lines_are_make_start_and_make_test() -> None:
    lines = README.splitlines()
    assert lines[0] == "# gpulens"
    block = README.split("```", 2)[1].strip().splitlines()
    assert [line.split()[:2] for line in block] == [["make", "start"], ["make", "test"]]
    assert "http://127.0.0.1:5000" in block[0]


def test_every_setting_in_the_configuration_table() -> None:
    rows = config_table()
    assert set(rows) == {name.upper() for name in Settings.model_fields}
    for name, field in Settings.model_fields.items():
        default, meaning = rows[name.upper()]
        assert meaning, name
        value = field.get_default(call_default_factory=True)
        if value in (None, []):
            assert default.startswith("*("), f"{name.upper()}: {default}"
        elif isinstance(value, bool):
            assert default == f"`{str(value).lower()}`", name
        else:
            shown = f"{value:g}" if isinstance(value, float) else str(value)
            assert default == f"`{shown}`", name


def test_poll_interval_warning() -> None:
    assert re.search(r"POLL_INTERVAL_MS.{0,10} under 1000 ms", README)


def test_links_to_deployment_files_resolve() -> None:
    for target in re.findall(r"\]\(((?:deploy/|docker-compose)[^)#]*)\)", README):
        assert (ROOT / target).exists(), target
