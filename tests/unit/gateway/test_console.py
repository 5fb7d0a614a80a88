"""The console's files and headers, and the `gateway.console` switch (the app without its
lifespan: nothing here needs Kafka or S3)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from streams.config.settings import Settings
from streams.gateway.app import create_app
from streams.gateway.console import STATIC


def client(console: bool) -> TestClient:
    return TestClient(create_app(Settings(gateway={"console": console})))


def test_the_console_is_served_at_the_root_with_its_policy() -> None:
    with_console = client(True)
    page = with_console.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    for asset in ("app.js", "try.js", "style.css", "icon.svg"):
        answer = with_console.get(f"/console/{asset}")
        assert answer.status_code == 200
        assert answer.content == (STATIC / asset).read_bytes()
        assert "content-security-policy" in answer.headers
    assert with_console.get("/console/../app.py").status_code == 404
    health = with_console.get("/healthz")
    assert health.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in health.headers


def test_the_console_can_be_turned_off() -> None:
    without = client(False)
    assert without.get("/").status_code == 404
    assert without.get("/console/app.js").status_code == 404
    assert without.get("/healthz").status_code == 200


def test_the_pages_have_no_inline_script_or_style() -> None:
    html = (STATIC / "index.html").read_text()
    assert "<style" not in html
    assert " style=" not in html
    assert re.search(r"<[^>]*\son[a-z]+\s*=", html) is None  # no onclick= or the like
    assert html.count("<script") == 1
    assert '<script type="module" src="/console/app.js"></script>' in html
    scripts = sorted(path.name for path in STATIC.glob("*.js"))
    assert scripts == ["account.js", "api.js", "app.js", "batches.js", "try.js"]
    for script in STATIC.glob("*.js"):
        assert "innerHTML" not in script.read_text()  # API data goes in as text, never markup
