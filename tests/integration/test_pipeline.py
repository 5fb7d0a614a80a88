"""The whole path on real servers: request event → worker → S3 → model → S3 → result event."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from schemas.errors import ErrorCode
from schemas.events import ImageCompleted, ImageFailed
from schemas.options import RemovalOptions
from streams.client import Client
from streams.config.settings import Settings
from streams.storage.s3 import S3ObjectStore
from tests.images import PHOTOS, SUBJECT_BOXES, alpha_of, opaque_fraction, photo, photo_jpeg
from tests.integration.conftest import WorkerFactory

pytestmark = pytest.mark.integration


def write_photos(directory: Path, names: tuple[str, ...]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        path = directory / f"{name}.jpg"
        path.write_bytes(photo_jpeg(name))
        paths.append(path)
    return paths


async def test_three_photographs_become_three_cutouts(
    settings: Settings, store: S3ObjectStore, start_worker: WorkerFactory, tmp_path: Path
) -> None:
    start_worker()
    sources = write_photos(tmp_path / "in", PHOTOS)
    async with Client(settings, store) as client:
        outcomes = await client.submit_files(
            sources, tmp_path / "out", RemovalOptions(), timeout=180
        )

    assert sorted(o.source.stem for o in outcomes) == sorted(PHOTOS)
    for outcome in outcomes:
        event = outcome.event
        assert isinstance(event, ImageCompleted), event
        name = outcome.source.stem
        expected_size = photo(name).size
        output = event.payload.output
        assert (output.width, output.height) == expected_size
        stored = store.get(output.bucket, output.key)
        assert outcome.saved_to is not None
        assert outcome.saved_to.read_bytes() == stored
        with Image.open(io.BytesIO(stored)) as image:
            assert image.format == "PNG"
            assert image.mode == "RGBA"
            assert image.size == expected_size
        alpha = alpha_of(stored)
        assert (alpha == 0).any(), f"{name}: no fully transparent region"
        assert (alpha == 255).any(), f"{name}: no fully opaque region"
        assert opaque_fraction(alpha, SUBJECT_BOXES[name]) > 0.98, f"{name}: subject not opaque"


async def test_undecodable_input_fails_and_the_worker_keeps_going(
    settings: Settings, store: S3ObjectStore, start_worker: WorkerFactory, tmp_path: Path
) -> None:
    worker = start_worker()
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG")
    (good,) = write_photos(tmp_path / "in", ("coffee",))
    async with Client(settings, store) as client:
        outcomes = await client.submit_files(
            [broken, good], tmp_path / "out", RemovalOptions(), timeout=180
        )
        by_name = {o.source.name: o.event for o in outcomes}
        failed = by_name["broken.jpg"]
        assert isinstance(failed, ImageFailed)
        assert failed.payload.error.code is ErrorCode.INVALID_IMAGE_FORMAT
        assert isinstance(by_name["coffee.jpg"], ImageCompleted)

        # Still consuming after the failure: a later request completes too.
        (later,) = write_photos(tmp_path / "later", ("astronaut",))
        (outcome,) = await client.submit_files(
            [later], tmp_path / "out2", RemovalOptions(), timeout=180
        )
    assert isinstance(outcome.event, ImageCompleted)
    assert worker.poll() is None
