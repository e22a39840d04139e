"""The built dashboard: hashed assets cached for good, index.html for client-side routes."""

from __future__ import annotations

from pathlib import Path

from tests.fakes import make_client


def test_serves_the_built_dashboard(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>gpulens</title>")
    (tmp_path / "assets" / "app-1234.js").write_text("console.log('hi')")
    with make_client(static_dir=tmp_path) as c:
        index = c.get("/")
        assert index.status_code == 200 and "gpulens" in index.text
        assert index.headers["cache-control"] == "no-cache"
        asset = c.get("/assets/app-1234.js")
        assert "immutable" in asset.headers["cache-control"]
        assert c.get("/gpu/3").text == index.text  # client-side route → index.html
        assert c.get("/assets/missing.js").status_code == 404
        assert c.get("/api/health").json()["provider"] == "nvml"  # API wins over the SPA mount
