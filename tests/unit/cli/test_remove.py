"""`cutstream remove` on local files: outputs, skipping, flags, failures, exit codes."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from streams.cli import cli
from tests.images import photo_jpeg, pixel


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    (folder / "nested").mkdir(parents=True)
    (folder / "cup.jpg").write_bytes(photo_jpeg("coffee"))
    (folder / "nested" / "cat.jpeg").write_bytes(photo_jpeg("chelsea"))
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (folder / "notes.txt").write_text("not an image, not even looked at")
    return folder


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["remove", *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_folder_in_mirrored_folder_out_with_a_summary(inbox: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = invoke(str(inbox), "-o", str(out))
    assert code == 1, output
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == [
        "cup.png",
        "nested/cat.png",
    ]
    assert "[invalid_image_format]" in output
    assert "2 done, 0 skipped (already there), 1 failed" in output

    code, output = invoke(str(inbox), "-o", str(out))
    assert "0 done, 2 skipped (already there), 1 failed" in output
    code, output = invoke(str(inbox / "cup.jpg"), "-o", str(out), "--overwrite")
    assert code == 0
    assert "1 done, 0 skipped" in output


def test_option_flags_reach_the_image_core(inbox: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = invoke(
        str(inbox / "cup.jpg"),
        "-o",
        str(out),
        "--format",
        "jpg",
        "--size",
        "preview",
        "--bg-color",
        "(255, 140, 0, 255)",
        "--crop",
        "--crop-margin",
        "5%",
    )
    assert code == 0, output
    with Image.open(out / "cup.jpg") as image:
        assert image.format == "JPEG"
        assert max(image.size) == 256  # cropped to ~446 px, then the preset
        assert image.getpixel((1, 1)) == pytest.approx((255, 140, 0), abs=8)


def test_a_preset_and_canvas_flags(inbox: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = invoke(str(inbox / "cup.jpg"), "-o", str(out), "--preset", "ebay")
    assert code == 0, output
    with Image.open(out / "cup.jpg") as image:
        assert (image.format, image.size) == ("JPEG", (1600, 1600))
        assert image.getpixel((0, 0)) == (255, 255, 255)
    flags = [
        "--overwrite",
        "--preset",
        "ebay",
        "--format",
        "png",
        "--canvas",
        "800x400",
        "--align",
        "bottom",
    ]
    code, output = invoke(str(inbox / "cup.jpg"), "-o", str(out), *flags)
    assert code == 0, output
    with Image.open(out / "cup.png") as image:
        assert (image.format, image.size) == ("PNG", (800, 400))
    code, output = invoke(str(inbox / "cup.jpg"), "-o", str(out), "--padding", "5%")
    assert code == 2
    assert "--padding" in output
    assert "requires canvas" in output


def test_pair_and_switch_flags(inbox: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = invoke(
        str(inbox / "cup.jpg"),
        "-o",
        str(out),
        "--shadow",
        "--shadow-offset",
        "10",
        "-5",
        "--bg-gradient",
        "white",
        "#0000ff",
        "--format",
        "webp",
    )
    assert code == 0, output
    with Image.open(io.BytesIO((out / "cup.webp").read_bytes())) as image:
        assert pixel(image, (0, 0))[:3] == pytest.approx((255, 255, 255), abs=10)
        assert pixel(image, (0, image.height - 1))[2] > 200


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--bg-color", "red", "--bg-blur", "5"], "--bg-blur"),
        (["--bg-blur", "80"], "--bg-blur"),
        (["--crop-margin", "10px"], "--crop-margin"),
        (["--bg-color", "purplish"], "--bg-color"),
    ],
)
def test_bad_flags_are_usage_errors_naming_the_flag(
    inbox: Path, tmp_path: Path, flags: list[str], named: str
) -> None:
    code, output = invoke(str(inbox / "cup.jpg"), "-o", str(tmp_path / "o"), *flags)
    assert code == 2
    assert named in output


def test_missing_model_is_one_clear_error(
    inbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUTSTREAM_MODELS__DIR", str(tmp_path / "no-models"))
    code, output = invoke(str(inbox / "cup.jpg"), "-o", str(tmp_path / "o"))
    assert code == 1
    assert "cutstream models pull u2net-int8" in output  # the default model
    assert output.count("Error") == 1


def test_a_local_background_image(inbox: Path, tmp_path: Path) -> None:
    backdrop = tmp_path / "studio.png"
    Image.new("RGB", (50, 40), (0, 90, 200)).save(backdrop)
    out = tmp_path / "out"
    code, _ = invoke(
        str(inbox / "cup.jpg"), "-o", str(out), "--bg-image", str(backdrop), "--bg-fit", "stretch"
    )
    assert code == 0
    with Image.open(out / "cup.png") as result:
        pixels = np.asarray(result.convert("RGBA"))
    assert (pixels[..., 3] == 255).all()
    assert tuple(pixels[1, 1]) == (0, 90, 200, 255)
    code, output = invoke(str(inbox / "cup.jpg"), "-o", str(out), "--bg-image", "nope.png")
    assert code == 2
    assert "local file" in output
