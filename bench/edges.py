"""``make bench-edges``: does a cutout's soft edge carry its old background onto a new one?

For each sod-dev photo (../shared/eval/sod-dev, read at run time): its ground-truth mask
softened into an alpha (Gaussian, σ = 2 px), the photo's subject composited by that alpha
onto background A (the next photo of the set, so a natural background), and that picture
run through cutstream (default model, transparent PNG). The cutout is placed onto
background B (a plain magenta that contrasts with most photos) and compared with the
subject composited onto B directly. Error: mean absolute difference (0–255, RGB) over the
alpha band (0 < alpha < 1 of the softened truth), with and without foreground
estimation (``models.foreground_estimation``). Also with the true alpha instead of the
model's mask, which isolates the estimator from the mask's own errors.

Then the estimator's time on the 24 bench photos (~1600 px) with their model masks, and a
before/after picture of one edge on B (docs/img/edges.png).
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from bench.dataset import photos
from bench.quality import DEFAULT_EVAL, eval_set
from bench.report import machine, replace_section
from processors.foreground import estimate_foreground
from schemas.options import RemovalOptions
from streams.config.settings import Settings
from streams.imaging.build import build_remover

ROOT = Path(__file__).resolve().parents[1]
MAGENTA = np.array([200, 40, 160], dtype=np.float32)
GREEN = (40, 200, 70)
SOFTEN_PX = 2.0


def band_error(fg: np.ndarray, alpha: np.ndarray, truth: np.ndarray, band: np.ndarray) -> float:
    """Mean |fg over B - truth| in the band; ``alpha`` 0–1 of shape (h, w, 1)."""
    placed = alpha * fg + (1 - alpha) * MAGENTA
    return float(np.abs(placed - truth)[band].mean())


def run(eval_dir: Path, plain: bool) -> tuple[list[str], Image.Image]:
    """Table rows for background A a photo (or ``plain`` green), and the edge picture."""
    images, truths = eval_set(eval_dir)
    removers = {
        on: build_remover(Settings(models={"foreground_estimation": on})) for on in (False, True)
    }
    keys = ("colour", "colour+fe", "mask", "mask+fe", "true", "true+fe")
    errors: dict[str, list[float]] = {key: [] for key in keys}
    picture: Image.Image | None = None
    for index, (path, truth) in enumerate(zip(images, truths, strict=True)):
        with Image.open(path) as opened:
            photo = opened.convert("RGB")
        if plain:
            backdrop = Image.new("RGB", photo.size, GREEN)
        else:
            with Image.open(images[(index + 1) % len(images)]) as opened:
                backdrop = opened.convert("RGB").resize(photo.size)
        alpha_image = Image.fromarray(truth).filter(ImageFilter.GaussianBlur(SOFTEN_PX))
        alpha = np.asarray(alpha_image, dtype=np.float32)[..., None] / 255
        band = (alpha[..., 0] > 0) & (alpha[..., 0] < 1)
        if not band.any():
            continue
        subject = np.asarray(photo, dtype=np.float32)
        on_a = alpha * subject + (1 - alpha) * np.asarray(backdrop, dtype=np.float32)
        on_b = alpha * subject + (1 - alpha) * MAGENTA
        composite = Image.fromarray(np.rint(on_a).astype(np.uint8))
        buffer = io.BytesIO()
        composite.save(buffer, "PNG")
        cutouts = {}
        for on, remover in removers.items():
            result = remover.remove(buffer.getvalue(), RemovalOptions(format="png"))
            with Image.open(io.BytesIO(result.data)) as cutout:
                rgba = np.asarray(cutout.convert("RGBA"), dtype=np.float32)
            cutouts[on] = rgba
            fe = "+fe" if on else ""
            cut_alpha = rgba[..., 3:] / 255
            errors["mask" + fe].append(band_error(rgba[..., :3], cut_alpha, on_b, band))
            # The colours alone: against the subject placed on B by cutstream's own alpha,
            # where that alpha is soft and the subject is there.
            soft = (cut_alpha[..., 0] > 0) & (cut_alpha[..., 0] < 1) & (alpha[..., 0] > 0)
            if soft.any():
                own = cut_alpha * subject + (1 - cut_alpha) * MAGENTA
                errors["colour" + fe].append(band_error(rgba[..., :3], cut_alpha, own, soft))
        errors["true"].append(band_error(on_a, alpha, on_b, band))
        estimated = composite.copy()
        estimate_foreground(estimated, alpha_image)
        errors["true+fe"].append(
            band_error(np.asarray(estimated, dtype=np.float32), alpha, on_b, band)
        )
        if picture is None and band.sum() > 2000:
            picture = edge_picture(cutouts, band)
    mean = {key: statistics.fmean(values) for key, values in errors.items()}
    where = "a plain green" if plain else "the next photo"
    rows = [
        f"| {where} | {label} | {mean[key]:.2f} | {mean[key + '+fe']:.2f} | "
        f"{(mean[key + '+fe'] / mean[key] - 1) * 100:+.0f} % |"
        for key, label in (
            ("colour", "cutstream's, colours only (its soft band)"),
            ("mask", "cutstream's, against the truth (the true band)"),
            ("true", "the true alpha (the true band)"),
        )
    ]
    assert picture is not None
    return rows, picture


def edge_picture(cutouts: dict[bool, np.ndarray], band: np.ndarray) -> Image.Image:
    """The same edge crop of both cutouts on magenta, side by side, enlarged 3×."""
    ys, xs = np.nonzero(band)
    y, x = int(np.median(ys)), int(np.median(xs))
    tiles = []
    for on in (False, True):
        rgba = cutouts[on]
        placed = rgba[..., 3:] / 255 * rgba[..., :3] + (1 - rgba[..., 3:] / 255) * MAGENTA
        tile = Image.fromarray(np.rint(placed).astype(np.uint8))
        box = (max(0, x - 40), max(0, y - 40), max(0, x - 40) + 80, max(0, y - 40) + 80)
        tiles.append(tile.crop(box).resize((240, 240), Image.Resampling.NEAREST))
    sheet = Image.new("RGB", (490, 240), "white")
    sheet.paste(tiles[0], (0, 0))
    sheet.paste(tiles[1], (250, 0))
    return sheet


def estimator_ms(settings: Settings) -> list[float]:
    remover = build_remover(settings)
    timings = []
    for path in photos():
        data = path.read_bytes()
        mask = remover.remove(data, RemovalOptions(channels="alpha")).data
        with Image.open(io.BytesIO(mask)) as opened:
            alpha = opened.convert("L")
        with Image.open(path) as opened:
            rgb = opened.convert("RGB")
        started = time.perf_counter()
        estimate_foreground(rgb, alpha)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--eval-dir", type=Path, default=DEFAULT_EVAL)
    parser.add_argument("--write", type=Path, default=ROOT / "docs" / "quality.md")
    parser.add_argument("--picture", type=Path, default=ROOT / "docs" / "img" / "edges.png")
    args = parser.parse_args()
    rows, picture = run(args.eval_dir, plain=False)
    plain_rows, _ = run(args.eval_dir, plain=True)
    timings = estimator_ms(Settings())
    lines = [
        f"Machine: {machine()}. 150 sod-dev photos; alpha = ground truth softened by a "
        f"{SOFTEN_PX:g} px Gaussian; compared on magenta (B); error: mean |difference| "
        "(0–255) in the band. Command: `make bench-edges`.",
        "",
        "| background A | alpha used, compared with | without estimation | with | change |",
        "|---|---|---|---|---|",
        *rows,
        *plain_rows,
        "",
        f"Estimator time on the 24 bench photos (~1600 px, their model masks): median "
        f"{statistics.median(timings):.1f} ms, max {max(timings):.1f} ms.",
    ]
    print("\n".join(lines))
    replace_section(args.write, "edges", "\n".join(lines))
    picture.save(args.picture, optimize=True)


if __name__ == "__main__":
    main()
