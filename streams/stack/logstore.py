"""The embedded broker's log store: the object store Tansu keeps its log in.

Tansu's durable engine writes every record batch as an object (``…/partitions/<p>/records/
<offset>.batch``), a partition's watermark and every committed offset as small JSON objects
it replaces by compare-and-swap (``If-Match``), and finds the batches to answer a fetch by
*listing* the partition's prefix. Served by rclone (through the conditional-write gate),
that went wrong three ways, all measured: rclone's listings lag its writes by seconds, so a
fetch below the high watermark found no batch and a consumer stalled (the ledger stopped
answering one account after ~500 commands, for minutes); every fetch listed the partition's
whole history from disk, so the idle stack got slower every hour (25,575 objects: rclone at
134 % of a core); and rclone logged an error for every conditional GET answered 304.

This is the stack's own S3 server (s3api.py over objects.py: conditional writes, an exact
in-memory index, whole-object renames) on a port of its own, with two differences: a
listing is never cut into pages, and a janitor keeps the log proportional to the work,
not to its history (:class:`Janitor`).

It listens on loopback only and, like the broker's own port, does not check signatures.
Run: ``python -m streams.stack.logstore --port PORT --root DIR`` (the stack does).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from streams.config.settings import Settings
from streams.stack.janitor import Janitor, Retention
from streams.stack.objects import Objects
from streams.stack.s3api import S3Api, application, serve

WHOLE = 1_000_000
"""Keys one listing page holds unless the broker asks for fewer. S3 pages at 1,000; Tansu
0.6 never asks for a second page (measured: a partition past 1,000 batches had its newest
ones unseen by every fetch), so a listing here is whole. The janitor keeps it short."""


def log_store(objects: Objects, janitor: Janitor | None = None) -> web.Application:
    """The log store's app: unsigned, unpaged, and the janitor running beside it."""
    app = application(S3Api(objects, page=WHOLE))
    if janitor is None:
        return app

    async def start(_: web.Application) -> None:
        janitor.task = asyncio.create_task(janitor.run())

    async def stop(_: web.Application) -> None:
        if janitor.task is not None:
            janitor.task.cancel()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return app


def main() -> None:
    serve(
        __doc__,
        lambda objects: log_store(objects, Janitor(objects, Retention.of(Settings()))),
        attributes=False,  # 94 → 66 ms admission p99 (docs/benchmarks.md)
    )


if __name__ == "__main__":
    main()
