"""Each model family's published pre/post-processing, on small ONNX graphs built here.

The graphs stand in for weights that cannot be downloaded here: they output the mean of
the normalised input channels, so the expected mask follows from the family's recipe.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from PIL import Image

from processors.exceptions import ModelChecksumError, ModelNotInstalledError, UnknownModelError
from processors.segmenters import FAMILIES, ModelRegistry, ModelSpec, RuntimeOptions
from processors.segmenters.modnet import modnet_input_size


def mean_graph(path: Path, height: int | str, width: int | str, *, to_unit: bool = False) -> Path:
    """input [1,3,H,W] → mean over channels [1,1,H,W]; ``to_unit`` maps [-1,1] to [0,1]."""
    nodes = [helper.make_node("ReduceMean", ["input"], ["mean"], axes=[1], keepdims=1)]
    output = "mean"
    if to_unit:
        one = helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])
        half = helper.make_tensor("half", TensorProto.FLOAT, [], [0.5])
        nodes += [
            helper.make_node("Constant", [], ["c1"], value=one),
            helper.make_node("Constant", [], ["c05"], value=half),
            helper.make_node("Add", ["mean", "c1"], ["shifted"]),
            helper.make_node("Mul", ["shifted", "c05"], ["matte"]),
        ]
        output = "matte"
    graph = helper.make_graph(
        nodes,
        "mean",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, height, width])],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, [1, 1, height, width])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def registry_with(path: Path, family: str, *, sha256: str | None = "auto") -> ModelRegistry:
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if sha256 == "auto" else sha256
    spec = ModelSpec(name="test", family=family, file=str(path), sha256=digest, description="t")
    return ModelRegistry(path.parent, {"test": spec})


def half_and_half(size: tuple[int, int] = (300, 200)) -> Image.Image:
    """Left half black, right half white."""
    image = Image.new("RGB", size, "black")
    image.paste((255, 255, 255), (size[0] // 2, 0, size[0], size[1]))
    return image


@pytest.mark.parametrize(
    ("family", "side", "white_value"),
    [
        ("u2net", 320, np.mean((1 - np.array([0.485, 0.456, 0.406])) / [0.229, 0.224, 0.225])),
        ("isnet", 1024, 0.5),
        ("birefnet", 1024, np.mean((1 - np.array([0.485, 0.456, 0.406])) / [0.229, 0.224, 0.225])),
    ],
)
def test_saliency_families(tmp_path: Path, family: str, side: int, white_value: float) -> None:
    segmenter = registry_with(mean_graph(tmp_path / f"{family}.onnx", side, side), family).load(
        "test", RuntimeOptions()
    )
    assert type(segmenter) is FAMILIES[family]

    tensor = segmenter.preprocess(half_and_half())
    assert tensor.shape == (1, 3, side, side)
    assert tensor.dtype == np.float32
    assert tensor[0, :, 0, -1].mean() == pytest.approx(white_value, abs=1e-3)

    mask = np.asarray(segmenter.predict(half_and_half()))
    assert mask.shape == (200, 300)
    assert mask[:, :140].max() < 10  # black half: background
    assert mask[:, 160:].min() > 245  # white half: foreground


def test_birefnet_applies_a_sigmoid_before_normalising(tmp_path: Path) -> None:
    segmenter = registry_with(mean_graph(tmp_path / "b.onnx", 8, 8), "birefnet").load(
        "test", RuntimeOptions()
    )
    logits = np.array([[[[-4.0, 0.0], [0.0, 4.0]]]], dtype=np.float32)
    mask = np.asarray(segmenter.postprocess(logits, (2, 2)))
    assert mask[0, 0] == 0
    assert mask[1, 1] == 255
    assert mask[0, 1] == 128  # sigmoid(0) is half way between sigmoid(-4) and sigmoid(4)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((700, 300), (672, 288)),  # short side under 512, long side over: kept, rounded to 32
        ((1600, 1200), (672, 512)),  # both over 512: short side scaled to 512
        ((300, 200), (768, 512)),  # both under 512: short side scaled up to 512
        ((200, 300), (512, 768)),
    ],
)
def test_modnet_input_size(size: tuple[int, int], expected: tuple[int, int]) -> None:
    assert modnet_input_size(*size) == expected


def test_modnet_output_is_already_a_matte(tmp_path: Path) -> None:
    path = mean_graph(tmp_path / "modnet.onnx", "height", "width", to_unit=True)
    segmenter = registry_with(path, "modnet").load("test", RuntimeOptions())
    grey = Image.new("RGB", (700, 300), (64, 64, 64))
    tensor = segmenter.preprocess(grey)
    assert tensor.shape == (1, 3, 288, 672)
    assert tensor.min() == pytest.approx(64 / 127.5 - 1, abs=1e-6)
    mask = np.asarray(segmenter.predict(grey))
    assert mask.shape == (300, 700)
    assert np.abs(mask.astype(int) - 64).max() <= 1  # no min-max stretch: the matte as is


def test_registered_model_is_verified_by_checksum(tmp_path: Path) -> None:
    path = mean_graph(tmp_path / "isnet.onnx", 1024, 1024)
    registry = registry_with(path, "isnet", sha256="0" * 64)
    with pytest.raises(ModelChecksumError, match="sha256"):
        registry.load("test", RuntimeOptions())


def test_registered_model_without_checksum_loads(tmp_path: Path) -> None:
    path = mean_graph(tmp_path / "isnet.onnx", 1024, 1024)
    registry = registry_with(path, "isnet", sha256=None)
    assert registry.load("test", RuntimeOptions()).family == "isnet"


def test_missing_registered_file_says_what_to_do(tmp_path: Path) -> None:
    spec = ModelSpec(
        name="mine", family="isnet", file=str(tmp_path / "absent.onnx"), sha256=None, description=""
    )
    with pytest.raises(ModelNotInstalledError, match="put the model file there"):
        ModelRegistry(tmp_path, {"mine": spec}).load("mine", RuntimeOptions())


def test_unknown_family_fails_when_the_registry_is_built(tmp_path: Path) -> None:
    spec = ModelSpec(name="odd", family="sam", file="x.onnx", sha256=None, description="")
    with pytest.raises(UnknownModelError, match="sam"):
        ModelRegistry(tmp_path, {"odd": spec})
