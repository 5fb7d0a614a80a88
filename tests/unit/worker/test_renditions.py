"""Renditions, output destinations and background images through the processor (the
in-memory store, the real model)."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from PIL import Image

from processors import Remover
from schemas.jobs import JobStatus
from schemas.options import RemovalOptions
from streams.storage.jobs import JobStore
from tests.httpserver import serve
from tests.images import alpha_of, photo, photo_jpeg
from tests.unit.worker.support import make_processor, make_store, message

FOUR = [
    {"format": "png"},
    {
        "format": "webp",
        "size": "medium",
        "key": "{account}/{stem}/medium.{ext}",
        "bucket": "catalog",
    },
    {"format": "webp", "size": "small"},
    {"format": "jpg", "bg_color": "#ffffff", "size": "small", "key": "acme/{request_id}/thumb.jpg"},
]


def _png(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, "PNG")
    return buffer.getvalue()


async def test_four_renditions_four_objects_listed_everywhere(
    remover: Remover, executor: ThreadPoolExecutor
) -> None:
    store = make_store()
    store.put("inputs", "shop/cat.jpg", photo_jpeg("chelsea"), "image/jpeg")
    payload = {"input": {"bucket": "inputs", "key": "shop/cat.jpg"}, "outputs": FOUR}
    processor = make_processor(store, remover, executor)
    delivery = await processor.handle(message(payload))

    assert delivery.completed is not None
    result = delivery.completed.payload
    places = [(o.bucket, o.key) for o in result.outputs]
    assert places == [
        ("outputs", "acme/req-1.png"),
        ("catalog", "acme/cat/medium.webp"),
        ("outputs", "acme/req-1.2.webp"),
        ("outputs", "acme/req-1/thumb.jpg"),
    ]
    assert result.output == result.outputs[0]
    types = [o.content_type for o in result.outputs]
    assert types == ["image/png", "image/webp", "image/webp", "image/jpeg"]
    width, height = photo("chelsea").size
    assert (result.outputs[0].width, result.outputs[0].height) == (width, height)
    assert max(result.outputs[2].width, result.outputs[2].height) == min(512, max(width, height))
    for output in result.outputs:
        assert len(store.get(output.bucket, output.key)) == output.size_bytes
    assert (alpha_of(store.get("outputs", "acme/req-1.2.webp")) == 0).mean() > 0.05
    with Image.open(io.BytesIO(store.get("outputs", "acme/req-1/thumb.jpg"))) as thumb:
        assert thumb.mode == "RGB"
    record = await JobStore(store, "jobs").get("acme", "req-1")
    assert record is not None
    assert record.status is JobStatus.SUCCEEDED
    assert record.outputs == result.outputs

    # Processed again from scratch (a crash before the record was written): the same
    # objects are overwritten, none added.
    before = sorted(store.list_keys("outputs")), sorted(store.list_keys("catalog"))
    await JobStore(store, "jobs").withdraw("acme", "req-1")
    again = await processor.handle(message(payload))
    assert again.completed is not None
    assert [(o.bucket, o.key) for o in again.completed.payload.outputs] == places
    assert (sorted(store.list_keys("outputs")), sorted(store.list_keys("catalog"))) == before


async def test_a_destination_outside_the_grants_fails_the_request_and_writes_nothing(
    remover: Remover, executor: ThreadPoolExecutor
) -> None:
    store = make_store()
    store.put("inputs", "cat.jpg", photo_jpeg("chelsea"), "image/jpeg")
    outputs = [{"format": "png"}, {"format": "webp", "bucket": "catalog", "key": "other/x.webp"}]
    payload: dict[str, Any] = {"input": {"bucket": "inputs", "key": "cat.jpg"}, "outputs": outputs}
    delivery = await make_processor(store, remover, executor).handle(message(payload))
    assert delivery.failed is not None
    assert delivery.failed.payload.error.code == "output_not_allowed"
    assert store.list_keys("outputs") == []


async def test_background_image_from_an_object_decoded_once(
    remover: Remover, executor: ThreadPoolExecutor
) -> None:
    store = make_store()
    store.put("inputs", "cat.jpg", photo_jpeg("chelsea"), "image/jpeg")
    store.put("inputs", "backdrops/blue.png", _png((0, 90, 200)), "image/png")
    store.put("inputs", "backdrops/same-blue.png", _png((0, 90, 200)), "image/png")
    processor = make_processor(store, remover, executor)
    background = alpha_of(remover.remove(photo_jpeg("chelsea"), RemovalOptions()).data) == 0
    for index, key in enumerate(("backdrops/blue.png", "backdrops/same-blue.png")):
        payload = {
            "input": {"bucket": "inputs", "key": "cat.jpg"},
            "options": {"bg_image": f"s3://inputs/{key}"},
        }
        delivery = await processor.handle(message(payload, request_id=f"bg-{index}"))
        assert delivery.completed is not None, delivery.failed
        with Image.open(io.BytesIO(store.get("outputs", f"acme/bg-{index}.png"))) as out:
            pixels = np.asarray(out.convert("RGBA"))
        assert (pixels[..., 3] == 255).all()
        assert (pixels[background] == (0, 90, 200, 255)).all()
    assert len(processor.backdrops.cache) == 1  # same bytes, one decode


async def test_background_image_others_cannot_read_fails_like_a_missing_input(
    remover: Remover, executor: ThreadPoolExecutor
) -> None:
    store = make_store()
    store.put("inputs", "cat.jpg", photo_jpeg("chelsea"), "image/jpeg")
    store.put("uploads-bucket", "uploads/other/x/bg.png", _png((1, 2, 3)), "image/png")
    payload = {
        "input": {"bucket": "inputs", "key": "cat.jpg"},
        "options": {"bg_image": "s3://uploads-bucket/uploads/other/x/bg.png"},
    }
    delivery = await make_processor(store, remover, executor).handle(message(payload))
    assert delivery.failed is not None
    error = delivery.failed.payload.error
    assert error.code == "input_not_found"
    assert error.message.startswith("bg_image: ")


async def test_background_image_from_a_url_contained_at_the_bottom(
    remover: Remover, executor: ThreadPoolExecutor
) -> None:
    store = make_store()
    store.put("inputs", "cat.jpg", photo_jpeg("chelsea"), "image/jpeg")
    wide = io.BytesIO()
    Image.new("RGB", (900, 100), (200, 30, 30)).save(wide, "PNG")
    with serve({"/wide.png": lambda h: h.reply(200, wide.getvalue())}) as server:
        payload = {
            "input": {"bucket": "inputs", "key": "cat.jpg"},
            "options": {
                "bg_image": {"url": f"{server.url}/wide.png"},
                "bg_fit": "contain",
                "bg_position": "bottom",
            },
        }
        processor = make_processor(store, remover, executor, allow_http=True, allow_loopback=True)
        delivery = await processor.handle(message(payload))
    assert delivery.completed is not None, delivery.failed
    with Image.open(io.BytesIO(store.get("outputs", "acme/req-1.png"))) as out:
        pixels = np.asarray(out.convert("RGBA"))
    # 900x100 contained in 451x300: a 450x50 band along the bottom, transparency above it.
    background = alpha_of(remover.remove(photo_jpeg("chelsea"), RemovalOptions()).data) == 0
    band, above = background.copy(), background.copy()
    band[:252], band[:, 449:] = False, False
    above[248:] = False
    assert band.any()
    assert above.any()
    assert (pixels[band] == (200, 30, 30, 255)).all()
    assert (pixels[above][:, 3] == 0).all()


async def test_a_backdrop_too_big_to_cache_is_decoded_once_inside_the_budget(
    remover: Remover, executor: ThreadPoolExecutor, monkeypatch: Any
) -> None:
    import streams.worker.outputs as outputs
    from streams.worker.budget import MemoryBudget

    decodes: list[int] = []
    real = outputs.decode_rgba  # type: ignore[attr-defined]

    def counted(data: bytes, limits: Any) -> Image.Image:
        decodes.append(len(data))
        return real(data, limits)

    class Peak(MemoryBudget):
        most = 0

        def reserve(self, size: int) -> Any:
            self.most = max(self.most, size)
            return super().reserve(size)

    monkeypatch.setattr(outputs, "decode_rgba", counted)  # what the worker's module calls
    store = make_store()
    store.put("inputs", "cat.jpg", photo_jpeg("chelsea"), "image/jpeg")
    big = io.BytesIO()
    Image.new("RGB", (2000, 2000), (0, 90, 200)).save(big, "PNG")
    store.put("inputs", "big.png", big.getvalue(), "image/png")
    processor = make_processor(store, remover, executor)
    processor.backdrops.cache = type(processor.backdrops.cache)(maxsize=1024)  # too small
    processor.budget = Peak(256 * 1024 * 1024)
    renditions = [{"format": "png", "size": size} for size in ("full", "medium", "small")]
    payload = {
        "input": {"bucket": "inputs", "key": "cat.jpg"},
        "options": {"bg_image": "s3://inputs/big.png"},
        "outputs": renditions * 2 + [{"format": "webp"}, {"format": "jpg"}],
    }
    delivery = await processor.handle(message(payload))
    assert delivery.completed is not None, delivery.failed
    assert len(delivery.completed.payload.outputs) == 8
    assert len(decodes) == 1  # one decode for 8 renditions, though it is not cached
    picture = 451 * 300 * 4  # chelsea
    assert processor.budget.most == 2 * picture + 2 * 2000 * 2000 * 4  # the backdrop counted
