"""Several renditions from one segmentation, and background images."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from processors import Remover, pipeline
from processors.compose import fitted
from schemas.events import ImageRequest
from schemas.geometry import Anchor
from schemas.options import BackgroundFit, RemovalOptions
from tests.images import alpha_of, photo, photo_jpeg


def _request(options: dict[str, object], outputs: list[dict[str, object]]) -> ImageRequest:
    return ImageRequest.model_validate(
        {
            "input": {"bucket": "inputs", "key": "a/coffee.jpg"},
            "options": options,
            "outputs": outputs,
        }
    )


def test_four_renditions_come_from_one_model_run(
    remover: Remover, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = _request(
        {},
        [
            {"format": "png"},
            {"format": "webp", "size": "medium"},
            {"format": "webp", "size": "small"},
            {"format": "jpg", "bg_color": "#ffffff", "size": "small"},
        ],
    )
    segmenter = remover.segmenter()
    runs: list[int] = []
    original = segmenter.run

    def counted(tensor: object) -> object:
        runs.append(1)
        return original(tensor)  # type: ignore[arg-type]

    monkeypatch.setattr(segmenter, "run", counted)
    files = [spec.options for spec in request.specs()]
    results = remover.render(photo_jpeg("astronaut"), request.options, files)

    assert len(runs) == 1
    width, height = photo("astronaut").size
    assert [r.content_type for r in results] == [
        "image/png",
        "image/webp",
        "image/webp",
        "image/jpeg",
    ]
    assert (results[0].width, results[0].height) == (width, height)
    assert max(results[2].width, results[2].height) == 512
    assert max(results[3].width, results[3].height) == 512
    with Image.open(io.BytesIO(results[3].data)) as image:
        assert image.mode == "RGB"
    assert (alpha_of(results[2].data) == 0).mean() > 0.05  # still a cutout
    # The first rendition is exactly what a request for it alone gives.
    alone = remover.render(photo_jpeg("astronaut"), request.options, files[:1])[0]
    assert alone.data == results[0].data


def test_overrides_replace_the_background_and_keep_the_rest() -> None:
    request = _request(
        {"bg_color": "red", "format": "webp", "output_quality": 70, "shadow": True},
        [
            {"size": "small"},
            {"bg_color": None, "format": "png"},
            {"bg_blur": 8},
            {"channels": "alpha"},
            {"shadow": False},
        ],
    )
    same, transparent, blurred, mask, flat = (spec.options for spec in request.specs())
    assert (same.bg_color, same.output_quality, same.shadow) == ((255, 0, 0, 255), 70, True)
    assert transparent.bg_color is None
    assert transparent.output_quality is None
    assert blurred.bg_color is None
    assert blurred.bg_blur == 8
    assert mask.bg_color is None
    assert not mask.shadow
    assert not flat.shadow
    assert flat.bg_color == (255, 0, 0, 255)


def test_an_unset_override_and_a_null_one_survive_a_round_trip() -> None:
    request = _request({"bg_color": "red"}, [{"size": "small"}, {"bg_color": None}])
    again = ImageRequest.model_validate_json(request.model_dump_json())
    assert [spec.options.bg_color for spec in again.specs()] == [(255, 0, 0, 255), None]
    assert again.same_work_as(request)
    assert not again.same_work_as(_request({"bg_color": "red"}, [{"size": "small"}, {}]))


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ([{"model": "u2net"}], "Extra inputs"),
        ([{"quality": "best"}], "Extra inputs"),
        ([{"key": "x/{nope}.png"}], "unknown key field"),
        ([{"key": "../x.png"}], "segments"),
        ([{"bg_fit": "contain"}], "requires bg_image"),
        ([{"format": "png", "output_quality": 50}], "lossless"),
        ([{"key": "a.png"}, {"key": "a.png"}], "same key"),
        ([{}] * 9, "at most 8"),
    ],
)
def test_bad_renditions_are_refused_at_the_field(
    outputs: list[dict[str, object]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        _request({}, outputs)


def test_a_background_image_fills_the_background(remover: Remover) -> None:
    backdrop = Image.new("RGBA", (300, 200), (0, 90, 200, 255))
    options = RemovalOptions.model_validate(
        {"bg_image": "s3://backdrops/studio.png", "format": "png", "shadow": True}
    )
    result = remover.remove(photo_jpeg("coffee"), options, backdrop=backdrop)
    with Image.open(io.BytesIO(result.data)) as image:
        pixels = np.asarray(image.convert("RGBA"))
    assert (pixels[..., 3] == 255).all()  # the backdrop covers everything
    assert tuple(pixels[2, 2]) == (0, 90, 200, 255)  # a corner: background only


@pytest.mark.parametrize(
    ("fit", "position", "probe", "expected"),
    [
        # A 200x100 backdrop, left half red and right half blue, on a 100x100 picture.
        (BackgroundFit.COVER, Anchor.LEFT, (90, 50), "red"),
        (BackgroundFit.COVER, Anchor.RIGHT, (10, 50), "blue"),
        (BackgroundFit.COVER, Anchor.CENTER, (40, 50), "red"),
        (BackgroundFit.CONTAIN, Anchor.TOP, (50, 90), "clear"),
        (BackgroundFit.CONTAIN, Anchor.BOTTOM, (10, 90), "red"),
        (BackgroundFit.CONTAIN, Anchor.BOTTOM, (10, 10), "clear"),
        (BackgroundFit.STRETCH, Anchor.CENTER, (10, 10), "red"),
    ],
)
def test_fit_and_position(
    fit: BackgroundFit, position: Anchor, probe: tuple[int, int], expected: str
) -> None:
    backdrop = Image.new("RGBA", (200, 100), (255, 0, 0, 255))
    backdrop.paste((0, 0, 255, 255), (100, 0, 200, 100))
    layer = fitted(backdrop, (100, 100), fit, position)
    assert layer.size == (100, 100)
    colours = {"red": (255, 0, 0, 255), "blue": (0, 0, 255, 255), "clear": (0, 0, 0, 0)}
    assert layer.getpixel(probe) == colours[expected]


def test_output_quality_changes_the_lossy_encoding(remover: Remover) -> None:
    data = photo_jpeg("coffee")
    low = remover.remove(data, RemovalOptions(format="jpg", output_quality=20))
    high = remover.remove(data, RemovalOptions(format="jpg", output_quality=95))
    assert len(low.data) < len(high.data) / 2


def test_side_by_side_and_one_after_the_other_give_the_same_bytes(
    remover: Remover, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = _request(
        {"crop": True, "crop_margin": "5%"},
        [
            {"format": "png"},
            {"format": "webp", "size": "preview"},
            {"size": "small", "crop": False},
        ],
    )
    files = [spec.options for spec in request.specs()]
    together = remover.render(photo_jpeg("coffee"), request.options, files)
    monkeypatch.setattr(pipeline, "PARALLEL_RENDITION_BYTES", 0)
    apart = remover.render(photo_jpeg("coffee"), request.options, files)
    assert [r.data for r in together] == [r.data for r in apart]
    assert [(r.width, r.height) for r in together] == [(r.width, r.height) for r in apart]
    assert together[2].width == 512  # not cropped
    assert together[1].width == 256


def test_every_request_has_output_specs_and_one_output_is_the_list_of_one() -> None:
    plain = ImageRequest.model_validate(
        {"input": {"url": "https://images.example/a.jpg"}, "options": {"format": "webp"}}
    )
    (spec,) = plain.specs()
    assert (spec.options.format.value, spec.bucket, spec.key) == ("webp", None, None)

    placed = ImageRequest.model_validate(
        {
            "input": {"url": "https://images.example/a.jpg"},
            "options": {"quality": "best", "bg_color": "red"},
            "output": {"bucket": "cutstream-outputs", "key": "acme/{odd} name.png"},
            "outputs": [{}, {"size": "small", "bg_color": None}],
        }
    )
    first, second = placed.specs()
    assert first.key is not None
    assert first.key.format_map({}) == "acme/{odd} name.png"  # a literal key stays literal
    assert (second.key, second.options.size.value, second.options.bg_color) == (None, "small", None)
    assert not hasattr(second.options, "quality")  # the mask is the request's
