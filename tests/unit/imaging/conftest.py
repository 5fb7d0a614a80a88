"""A real PEP 503 package index served on loopback, for `cutstream models pull`."""

from __future__ import annotations

import hashlib
import http.server
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest


class Index:
    """A directory served over HTTP as a simple package index."""

    def __init__(self, root: Path, url: str) -> None:
        self.root = root
        self.url = url

    def publish(
        self,
        package: str,
        version: str,
        member: str,
        payload: bytes,
        *,
        fragment: str | None = None,
    ) -> None:
        wheel_name = f"{package.replace('-', '_')}-{version}-py3-none-any.whl"
        files = self.root / "files"
        files.mkdir(exist_ok=True)
        with zipfile.ZipFile(files / wheel_name, "w") as archive:
            archive.writestr(member, payload)
        digest = hashlib.sha256((files / wheel_name).read_bytes()).hexdigest()
        page = self.root / "simple" / package
        page.mkdir(parents=True, exist_ok=True)
        href = f"../../files/{wheel_name}#sha256={fragment or digest}"
        (page / "index.html").write_text(
            f'<html><body><a href="../../files/other.tar.gz">other.tar.gz</a>'
            f'<a href="{href}" data-requires-python="&lt;3.12">{wheel_name}</a></body></html>'
        )


@pytest.fixture
def index(tmp_path: Path) -> Iterator[Index]:
    root = tmp_path / "index"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Index(root, f"http://127.0.0.1:{server.server_address[1]}/simple")
    finally:
        server.shutdown()
        server.server_close()
