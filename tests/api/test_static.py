"""The built dashboard: hashed assets cached for good, index.html for client-side routes."""

from __future__ import annotations

import gzip
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

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


# --- precompressed copies ------------------------------------------------------------

JS = b"console.log('gpulens');\n" * 50
GZ = gzip.compress(JS, mtime=0)
BR = b"brotli bytes of the app"  # sent as they are, never decoded by the server
PAGE = b"<!doctype html><title>gpulens</title>" + b" " * 200
ALL = "gzip, deflate, br, zstd"  # what Chromium sends


@pytest.fixture
def site(tmp_path: Path) -> Path:
    assets = tmp_path / "assets"
    assets.mkdir()
    (tmp_path / "index.html").write_bytes(PAGE)
    (tmp_path / "index.html.gz").write_bytes(gzip.compress(PAGE, mtime=0))
    (tmp_path / "index.html.br").write_bytes(b"brotli bytes of the page")
    (assets / "app-1234.js").write_bytes(JS)
    (assets / "app-1234.js.gz").write_bytes(GZ)
    (assets / "app-1234.js.br").write_bytes(BR)
    (assets / "gz-only-5678.js").write_bytes(JS)
    (assets / "gz-only-5678.js.gz").write_bytes(GZ)
    (assets / "plain-9abc.css").write_text("body{}")
    (assets / "gone-0000.js.br").write_bytes(BR)  # a copy whose file is not there
    (assets / "font-1111.woff2").write_bytes(b"wOF2")
    (assets / "font-1111.woff2.gz").write_bytes(gzip.compress(b"wOF2"))  # not a compressible type
    (assets / "link-2222.js").write_bytes(JS)
    (assets / "link-2222.js.br").symlink_to(assets / "app-1234.js.br")  # only plain files count
    return tmp_path


def fetch(
    c: TestClient, path: str, accept: str, method: str = "GET", **headers: str
) -> tuple[httpx.Response, bytes]:
    """The response and its body as sent (TestClient would otherwise decode gzip)."""
    with c.stream(method, path, headers={"accept-encoding": accept, **headers}) as r:
        return r, b"".join(r.iter_raw())


def test_sends_brotli_when_accepted(site: Path) -> None:
    with make_client(static_dir=site) as c:
        plain, plain_body = fetch(c, "/assets/app-1234.js", "identity")
        r, body = fetch(c, "/assets/app-1234.js", ALL)
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "br"
    assert body == BR
    assert r.headers["content-length"] == str(len(BR))
    assert r.headers["content-type"] == plain.headers["content-type"]
    assert "javascript" in r.headers["content-type"]
    assert r.headers["vary"] == "Accept-Encoding"
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "content-encoding" not in plain.headers
    assert plain_body == JS and plain.headers["content-length"] == str(len(JS))
    assert plain.headers["vary"] == "Accept-Encoding"  # the plain file varies too
    assert r.headers["etag"] != plain.headers["etag"]  # one representation, one ETag


def test_falls_back_to_gzip(site: Path) -> None:
    with make_client(static_dir=site) as c:
        r, body = fetch(c, "/assets/app-1234.js", "gzip, deflate")
        assert (r.headers["content-encoding"], body) == ("gzip", GZ)
        assert r.headers["content-length"] == str(len(GZ))
        assert gzip.decompress(body) == JS
        # No .br beside the file: gzip even for a client that prefers br.
        r, body = fetch(c, "/assets/gz-only-5678.js", ALL)
        assert (r.headers["content-encoding"], body) == ("gzip", GZ)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("identity", None),
        ("", None),
        ("deflate", None),
        ("br;q=0, gzip", "gzip"),
        ("br; q=0.0, gzip;q=0.5", "gzip"),
        ("br;q=0, gzip;q=0", None),
        ("*;q=0, identity", None),
        ("*", "br"),
        ("gzip;q=0, *", "br"),
        ("br;q=0.2, gzip;q=0.8", "gzip"),  # the client's preference wins
        ("BR", "br"),
        ("br;q=bogus, gzip", "gzip"),
    ],
)
def test_accept_encoding_and_q_values(site: Path, accept: str, expected: str | None) -> None:
    with make_client(static_dir=site) as c:
        r, body = fetch(c, "/assets/app-1234.js", accept)
    assert r.status_code == 200
    assert r.headers.get("content-encoding") == expected
    assert body == {None: JS, "gzip": GZ, "br": BR}[expected]


def test_no_copies_no_encoding(site: Path) -> None:
    with make_client(static_dir=site) as c:
        css, body = fetch(c, "/assets/plain-9abc.css", ALL)
        assert "content-encoding" not in css.headers and body == b"body{}"
        font, body = fetch(c, "/assets/font-1111.woff2", ALL)  # a .gz beside it is ignored
        assert "content-encoding" not in font.headers and body == b"wOF2"
        linked, body = fetch(c, "/assets/link-2222.js", ALL)  # a symlinked .br is ignored
        assert "content-encoding" not in linked.headers and body == JS


def test_never_a_copy_without_its_file(site: Path) -> None:
    with make_client(static_dir=site) as c:
        r, _ = fetch(c, "/assets/gone-0000.js", ALL)
        assert r.status_code == 404
        assert "content-encoding" not in r.headers


def test_head_has_the_copys_headers_and_no_body(site: Path) -> None:
    with make_client(static_dir=site) as c:
        r, body = fetch(c, "/assets/app-1234.js", ALL, method="HEAD")
    assert r.status_code == 200 and body == b""
    assert r.headers["content-encoding"] == "br"
    assert r.headers["content-length"] == str(len(BR))
    assert r.headers["vary"] == "Accept-Encoding"


def test_conditional_requests_per_representation(site: Path) -> None:
    with make_client(static_dir=site) as c:
        br, _ = fetch(c, "/assets/app-1234.js", ALL)
        again, body = fetch(c, "/assets/app-1234.js", ALL, **{"if-none-match": br.headers["etag"]})
        assert again.status_code == 304 and body == b""
        assert again.headers["etag"] == br.headers["etag"]
        assert again.headers["vary"] == "Accept-Encoding"
        assert again.headers["cache-control"] == "public, max-age=31536000, immutable"
        # The br copy's ETag does not validate the gzip one.
        gz, body = fetch(c, "/assets/app-1234.js", "gzip", **{"if-none-match": br.headers["etag"]})
        assert gz.status_code == 200 and body == GZ
        page, _ = fetch(c, "/", ALL)
        again, _ = fetch(c, "/", ALL, **{"if-none-match": page.headers["etag"]})
        assert again.status_code == 304
        assert again.headers["cache-control"] == "no-cache"


def test_spa_fallback_sends_the_compressed_page(site: Path) -> None:
    with make_client(static_dir=site) as c:
        for path in ("/", "/index.html", "/gpu/3"):
            r, body = fetch(c, path, ALL)
            assert r.status_code == 200, path
            assert r.headers["content-encoding"] == "br", path
            assert body == b"brotli bytes of the page", path
            assert r.headers["content-type"].startswith("text/html"), path
            assert r.headers["cache-control"] == "no-cache", path
            assert r.headers["vary"] == "Accept-Encoding", path
        r, body = fetch(c, "/gpu/3", "gzip")
        assert gzip.decompress(body) == PAGE
        r, body = fetch(c, "/gpu/3", "identity")
        assert body == PAGE and "content-encoding" not in r.headers
        assert fetch(c, "/assets/missing.js", ALL)[0].status_code == 404
