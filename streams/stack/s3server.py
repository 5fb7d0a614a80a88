"""The embedded S3 server: every client of the embedded stack talks to it.

cutstream's own (s3api.py over objects.py), on ``stack.s3_port``, signatures checked
against the one key pair in ``s3.access_key`` / ``s3.secret_key``. It replaced ``rclone
serve s3`` behind a conditional-write gate, which cost ~3 ms of CPU a request between the
two (the log store, the same code, ~0.4 ms) and, because rclone writes objects in place,
needed the gate to queue every request at a key to keep reads whole — and still logged an
error pair now and then that no experiment explained. Here conditional writes are atomic
and reads whole by construction (one event loop; a write is a rename), and nothing is
logged in normal running.

Run: ``python -m streams.stack.s3server --port PORT --root DIR`` with the ``CUTSTREAM_S3__*``
credentials in the environment.
"""

from __future__ import annotations

from aiohttp import web

from streams.config.settings import Settings
from streams.stack.objects import Objects
from streams.stack.s3api import S3Api, application, serve
from streams.stack.sigv4 import Verifier


def server(objects: Objects, settings: Settings) -> web.Application:
    verifier = Verifier(settings.s3.access_key, settings.s3.secret_key.get_secret_value())
    return application(S3Api(objects, verifier))


def main() -> None:
    serve(__doc__, lambda objects: server(objects, Settings()))


if __name__ == "__main__":
    main()
