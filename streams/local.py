"""``cutstream remove``: local files and folders through the image core, overlapped.

A small thread pool calls :meth:`Remover.remove`; the remover serialises the model runs,
so while one image is in the model the other threads read, decode, compose, encode and
write — both cores stay busy without any hand-made pipeline.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from processors import RemovalResult, Remover
from schemas.errors import CutstreamError, ErrorCode
from schemas.options import RemovalOptions
from streams.storage.layout import local_targets


@dataclass(frozen=True)
class Task:
    source: Path
    target: Path


@dataclass(frozen=True)
class TaskOutcome:
    task: Task
    result: RemovalResult | None
    error: CutstreamError | None


def plan(inputs: Sequence[Path], out_dir: Path, options: RemovalOptions) -> list[Task]:
    """One task per input image, named by :func:`streams.storage.layout.local_targets`."""
    return [
        Task(source, target)
        for source, target in local_targets(inputs, out_dir, options.format.extension)
    ]


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _process(
    remover: Remover, task: Task, options: RemovalOptions, backdrop: Image.Image | None
) -> TaskOutcome:
    try:
        data = task.source.read_bytes()
    except OSError as exc:
        message = f"cannot read {task.source}: {exc.strerror}"
        return TaskOutcome(task, None, CutstreamError(message, code=ErrorCode.INPUT_NOT_FOUND))
    try:
        result = remover.remove(data, options, backdrop=backdrop)
        _write_atomically(task.target, result.data)
    except CutstreamError as exc:
        return TaskOutcome(task, None, exc)
    except OSError as exc:
        return TaskOutcome(task, None, CutstreamError(f"cannot write {task.target}: {exc}"))
    return TaskOutcome(task, result, None)


def run(
    remover: Remover,
    tasks: Iterable[Task],
    options: RemovalOptions,
    *,
    threads: int = 3,
    max_in_flight: int = 8,
    backdrop: Image.Image | None = None,
) -> Iterator[TaskOutcome]:
    """Process ``tasks``, yielding outcomes as they finish (at most ``max_in_flight``
    images are held in memory at once); ``backdrop`` is the decoded ``bg_image``, if the
    options name one."""
    with ThreadPoolExecutor(threads, thread_name_prefix="cutstream-remove") as pool:
        pending: set[Future[TaskOutcome]] = set()
        for task in tasks:
            if len(pending) >= max_in_flight:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from (future.result() for future in done)
            pending.add(pool.submit(_process, remover, task, options, backdrop))
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            yield from (future.result() for future in done)
