"""The commands of ``gpulens`` (``snapshot``, ``record``, ``schema``).

``serve`` hands over to ``api/server.py`` and is tested with it (``tests/api/test_server.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from gpulens.api import static
from gpulens.cli import main
from gpulens.core.metrics.providers.replay import ReplayProvider
from tests.fakes import FakeClock

pytestmark = pytest.mark.usefixtures("clean_env")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.usefixtures("nvml_absent")
def test_snapshot_without_gpu_prints_empty_list_and_the_reasons(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = _run(capsys, "snapshot")
    assert code == 0, err
    payload = json.loads(out)
    assert payload["type"] == "telemetry"
    assert payload["gpus"] == []
    assert payload["source"] is None
    assert set(payload["unavailable"]) == {"nvml", "nvidia-smi", "nvtop"}
    assert "NVML" in payload["unavailable"]["nvml"]
    assert "does not exist" in payload["unavailable"]["nvidia-smi"]
    assert "does not exist" in payload["unavailable"]["nvtop"]
    # System metrics flow whatever the GPU source.
    assert 0 <= payload["system"]["cpuUsage"] <= 100
    assert len(payload["system"]["loadAverage"]) == 3


@pytest.mark.usefixtures("nvml_absent")
def test_snapshot_tools_not_on_path(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NVIDIA_SMI_PATH")
    monkeypatch.delenv("NVTOP_PATH")
    code, out, _ = _run(capsys, "snapshot", "--compact")
    assert code == 0
    assert len(out.strip().splitlines()) == 1
    reasons = json.loads(out)["unavailable"]
    assert reasons["nvidia-smi"] == "nvidia-smi: not found on PATH"
    assert reasons["nvtop"] == "nvtop: not found on PATH"


@pytest.mark.usefixtures("nvml_absent")
def test_snapshot_explicit_nvml_fails_with_the_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = _run(capsys, "snapshot", "--provider", "nvml")
    assert code != 0
    assert out == ""
    assert "nvml" in err
    assert "NVML Shared Library Not Found" in err


def test_snapshot_replay_validates_against_the_published_schema(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, schema_text, _ = _run(capsys, "schema")
    assert code == 0
    schema = json.loads(schema_text)
    code, out, err = _run(capsys, "snapshot", "--provider", "replay")
    assert code == 0, err
    payload = json.loads(out)
    jsonschema.validate(payload, schema)
    assert payload["source"] == "replay"
    assert len(payload["gpus"]) == 2
    # And the check has teeth: a string where a number belongs is rejected.
    payload["gpus"][0]["utilization"] = "57%"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(payload, schema)


def test_record_writes_a_file_replay_plays(
    capsys: pytest.CaptureFixture[str], clean_env: Path
) -> None:
    out = clean_env / "f.jsonl"
    code, _, err = _run(
        capsys, "record", "--seconds", "1", "--out", str(out), "--provider", "replay",
        "--interval-ms", "250",
    )  # fmt: skip
    assert code == 0, err
    assert f"wrote 4 frames from replay to {out}" in err  # ticks at 0, 0.25, 0.5, 0.75 s
    header = json.loads(out.read_text().splitlines()[0])
    assert (header["format"], header["source"], header["interval"]) == (
        "gpulens-recording",
        "replay",
        0.25,
    )
    clock = FakeClock()
    provider = ReplayProvider(out, clock=clock)
    assert provider.duration == pytest.approx(1.0, abs=0.1)
    gpus = provider.sample()
    assert len(gpus) == 2
    assert len({g.uuid for g in gpus}) == 2


@pytest.mark.parametrize("interval", ["-5", "0", "100", "60001"])
def test_record_refuses_an_interval_out_of_range(
    capsys: pytest.CaptureFixture[str], clean_env: Path, interval: str
) -> None:
    out = clean_env / "r.jsonl"
    code, _, err = _run(
        capsys, "record", "--seconds", "1", "--out", str(out), "--provider", "replay",
        "--interval-ms", interval,
    )  # fmt: skip
    assert code == 2
    assert f"--interval-ms must be 250-60000, not {interval}" in err
    assert not out.exists()


@pytest.mark.usefixtures("nvml_absent")
def test_record_without_a_source_fails(capsys: pytest.CaptureFixture[str], clean_env: Path) -> None:
    code, _, err = _run(capsys, "record", "--seconds", "1", "--out", str(clean_env / "x.jsonl"))
    assert code == 2
    assert "no GPU source to record" in err
    assert not (clean_env / "x.jsonl").exists()


@pytest.mark.parametrize("value", ["abc", "10", "-5"])
def test_bad_environment_value_exits_2_naming_the_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("POLL_INTERVAL_MS", value)
    code, out, err = _run(capsys, "snapshot", "--provider", "replay")
    assert code == 2
    assert out == ""
    assert "POLL_INTERVAL_MS" in err
    assert value in err


@pytest.mark.parametrize("provider", ["nvidia-smi", "nvtop", "replay"])
def test_snapshot_explicit_source_unavailable_is_one_line_no_traceback(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    clean_env: Path,
    provider: str,
) -> None:
    monkeypatch.setenv("REPLAY_FILE", str(clean_env / "missing.jsonl.gz"))
    monkeypatch.setenv("NVIDIA_SMI_PATH", str(clean_env / "no-nvidia-smi"))
    monkeypatch.setenv("NVTOP_PATH", str(clean_env / "no-nvtop"))
    code, out, err = _run(capsys, "snapshot", "--provider", provider)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith(f"gpulens: {provider}: ")
    assert "Traceback" not in err


def test_record_to_an_unwritable_place_is_one_line(
    capsys: pytest.CaptureFixture[str], clean_env: Path
) -> None:
    out = clean_env / "no" / "such" / "dir" / "x.jsonl"
    code, _, err = _run(
        capsys, "record", "--provider", "replay", "--seconds", "0.3", "--out", str(out)
    )
    assert code == 2
    assert err.strip().splitlines()[-1].startswith(f"gpulens: cannot write {out}")
    assert "Traceback" not in err


def test_help_is_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "Real-time dashboard for NVIDIA GPU workstations" in text
    assert "``" not in text


def test_static_dir_prints_the_configured_dashboard(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<div id=root></div>")
    monkeypatch.setenv("STATIC_DIR", str(site))
    assert _run(capsys, "static-dir") == (0, f"{site}\n", "")


def test_static_dir_finds_the_copy_inside_the_package_first(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("packaged", "checkout"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "index.html").write_text(name)
        monkeypatch.setattr(static, name.upper(), tmp_path / name)
    assert _run(capsys, "static-dir") == (0, f"{tmp_path / 'packaged'}\n", "")
    (tmp_path / "packaged" / "index.html").unlink()
    assert _run(capsys, "static-dir") == (0, f"{tmp_path / 'checkout'}\n", "")


def test_static_dir_without_a_built_dashboard_says_so(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(static, "PACKAGED", tmp_path / "none")
    monkeypatch.setattr(static, "CHECKOUT", tmp_path / "none")
    code, out, err = _run(capsys, "static-dir")
    assert (code, out) == (1, "")
    assert err == "gpulens: no built dashboard (index.html) in this installation\n"


def test_static_dir_refuses_a_static_dir_without_index_html(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("STATIC_DIR", str(tmp_path))
    code, out, err = _run(capsys, "static-dir")
    assert (code, out) == (2, "")
    assert "STATIC_DIR" in err
    assert "has no index.html" in err


def test_schema_history_describes_the_api_history_response(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(capsys, "schema", "--history")
    assert code == 0
    schema = json.loads(out)
    assert schema["title"] == "gpulens GET /api/history response"
    assert {"from", "to", "step", "tier", "times", "series"} <= set(schema["required"])
    jsonschema.Draft202012Validator.check_schema(schema)
