"""A real HTTP server on loopback for tests: routes are plain functions."""

from __future__ import annotations

import http.server
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

Route = Callable[["Handler"], None]


@dataclass
class Server:
    url: str
    routes: dict[str, Route]
    fallback: Route | None = None
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)


class Handler(http.server.BaseHTTPRequestHandler):
    server_state: Server

    def _dispatch(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        self.server_state.requests.append((self.command, path, dict(self.headers), body))
        route = self.server_state.routes.get(path, self.server_state.fallback)
        if route is None:
            self.send_error(404)
            return
        route(self)

    do_GET = _dispatch  # noqa: N815
    do_POST = _dispatch  # noqa: N815

    def log_message(self, format: str, *args: object) -> None:
        pass

    def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class QuietServer(http.server.ThreadingHTTPServer):
    """Clients that hang up early (a byte cap, a timeout) are expected, not errors."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


@contextmanager
def serve(routes: dict[str, Route], fallback: Route | None = None) -> Iterator[Server]:
    """Serve ``routes`` (else ``fallback``) on 127.0.0.1, a free port, during the block."""
    state = Server(url="", routes=routes, fallback=fallback)
    handler = type("BoundHandler", (Handler,), {"server_state": state})
    httpd = QuietServer(("127.0.0.1", 0), handler)
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
