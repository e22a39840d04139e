"""The GitHub workflows run what `make test` runs, and release what `make dist` builds."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"


def load(name: str) -> dict[str, Any]:
    data: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    if True in data:  # PyYAML (YAML 1.1) reads the bare key `on` as the boolean true
        data["on"] = data.pop(True)
    return data


def run_lines(job: dict[str, Any]) -> list[str]:
    return [str(step["run"]).strip() for step in job["steps"] if "run" in step]


def make_test_targets() -> list[str]:
    match = re.search(r"^test: (.+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert match, "no `test:` rule in the Makefile"
    return match.group(1).split()


def test_ci_runs_every_part_of_make_test() -> None:
    (job,) = load("ci.yml")["jobs"].values()
    ran = run_lines(job)
    targets = make_test_targets()
    assert "test-wheel" in targets
    for target in targets:
        assert f"make {target}" in ran, f"ci.yml does not run `make {target}`"


def test_publish_runs_on_version_tags_only() -> None:
    workflow = load("publish.yml")
    assert workflow["on"] == {"push": {"tags": ["v*"]}}
    assert workflow["permissions"] == {"contents": "read"}


def test_publish_builds_and_proves_the_artifacts_before_uploading() -> None:
    jobs = load("publish.yml")["jobs"]
    build = run_lines(jobs["build"])
    assert build.index("make dist") < build.index("make test-wheel")
    tag_check = next(line for line in build if "__version__" in line)
    assert 'test "${GITHUB_REF_NAME}" = "v${version}"' in tag_check
    upload = [s for s in jobs["build"]["steps"] if "upload-artifact" in s.get("uses", "")]
    assert upload and upload[0]["with"]["path"] == "dist/"


def test_pypi_upload_uses_trusted_publishing_in_its_own_job() -> None:
    jobs = load("publish.yml")["jobs"]
    pypi = jobs["pypi"]
    assert pypi["needs"] == "build"
    assert pypi["permissions"] == {"id-token": "write"}
    assert pypi["environment"]["name"] == "pypi"
    uses = [s.get("uses", "") for s in pypi["steps"]]
    assert "pypa/gh-action-pypi-publish@release/v1" in uses
    # No token: trusted publishing needs none, and none may be passed.
    assert not any("password" in s.get("with", {}) for s in pypi["steps"])
    # Only the job that uploads can mint an OIDC token.
    for name, job in jobs.items():
        if name != "pypi":
            assert "id-token" not in job.get("permissions", {}), name


@pytest.mark.parametrize("name", ["ci.yml", "publish.yml"])
def test_actions_are_pinned_to_a_version(name: str) -> None:
    for job in load(name)["jobs"].values():
        for step in job["steps"]:
            if "uses" in step:
                action, _, ref = step["uses"].partition("@")
                assert ref, f"{name}: {action} without a version"
