"""Post-training INT8 quantisation of a model at ``cutstream models pull`` (NNCF).

Recipe ``nncf-mixed-skimage-1``: the ONNX graph is raised to opset 13 (per-channel weight
scales need it; at opset 11 NNCF falls back to per-tensor and sod-dev MAE rose from
0.1022 to 0.1101), then ``nncf.quantize`` with ``preset=MIXED`` (symmetric weights,
asymmetric activations) calibrates on 60 inputs: the twelve colour and grey photographs
bundled with scikit-image (never the evaluation photos), each as is, mirrored and three
crops, prepared exactly as the model family prepares a request. The result is an ONNX
graph with quantize/dequantize pairs, which OpenVINO runs in INT8 (AMX or VNNI where the
CPU has them) and ONNX Runtime runs too.

NNCF is the ``quantize`` extra: only the machine that pulls needs it, not the workers.
Same recipe and versions on the same kind of CPU give the same bytes (checked: two runs,
one SHA-256); calibration runs the base model in f32, whose last bits may differ on
another kind of CPU.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from processors.segmenters import RuntimeOptions, family_class
from processors.segmenters.engines import OnnxRuntimeEngine
from streams.exceptions import ModelPullError

RECIPES = frozenset({"nncf-mixed-skimage-1"})
CALIBRATION = (
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "camera",
    "clock",
    "coins",
    "hubble_deep_field",
    "colorwheel",
    "immunohistochemistry",
    "retina",
    "logo",
)
_OPSET = 13


def calibration_images() -> Iterator[Image.Image]:
    """The calibration photographs: each bundled one as is, mirrored and three crops."""
    from skimage import data

    for name in CALIBRATION:
        image = Image.fromarray(getattr(data, name)())
        if image.mode == "RGBA":  # the logo: onto white, as a product shot would be
            flat = Image.new("RGB", image.size, "white")
            flat.paste(image, mask=image.getchannel("A"))
            image = flat
        image = image.convert("RGB")
        w, h = image.size
        yield image
        yield ImageOps.mirror(image)
        yield image.crop((round(w * 0.15), round(h * 0.15), round(w * 0.85), round(h * 0.85)))
        yield image.crop((0, 0, round(w * 0.8), round(h * 0.8)))
        yield image.crop((round(w * 0.2), round(h * 0.2), w, h))


def quantize(base: Path, family: str, recipe: str, target: Path) -> None:
    """Write the INT8 version of the ONNX model ``base`` (of ``family``) to ``target``."""
    if recipe not in RECIPES:
        raise ModelPullError(f"unknown quantisation recipe {recipe!r}")
    try:
        import nncf
        import onnx
        from onnx import version_converter
    except ImportError as exc:
        raise ModelPullError(
            f"making this model needs NNCF ({exc.name} is missing): install the `quantize` "
            "extra (pip install 'cutstream[quantize]'; `make setup` installs it)"
        ) from exc
    segmenter = family_class(family)(OnnxRuntimeEngine(base, RuntimeOptions()))
    samples = [segmenter.preprocess(image) for image in calibration_images()]
    del segmenter
    model = version_converter.convert_version(onnx.load(str(base)), _OPSET)
    name = model.graph.input[0].name

    def feed(sample: np.ndarray) -> dict[str, np.ndarray]:
        return {name: sample}

    quantized = nncf.quantize(
        model,
        nncf.Dataset(samples, feed),
        preset=nncf.QuantizationPreset.MIXED,
        subset_size=len(samples),
    )
    onnx.save(quantized, str(target))
