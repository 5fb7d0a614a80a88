"""``cutstream models pull u2net-int8``: a model made from another by NNCF, on real
quantisation of a small generated graph (the real u2net takes a minute: `make test` pulls
it once, and the suite's workers run it as the default model)."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from processors.exceptions import ModelChecksumError
from processors.segmenters import KNOWN_MODELS, ModelRegistry, RuntimeOptions, checksum_path
from processors.segmenters.catalog import QuantizedSource
from processors.segmenters.engines import OnnxRuntimeEngine
from processors.segmenters.u2net import U2NetSegmenter
from streams.imaging.modelpull import is_installed, pull_model
from streams.imaging.quantize import calibration_images, quantize
from tests.unit.imaging.conftest import Index
from tests.unit.imaging.test_modelpull import spec_for


def conv_graph() -> bytes:
    """input [1,3,320,320] → 3×3 convolution → sigmoid, at opset 11 (as u2net is)."""
    rng = np.random.default_rng(7)
    weights = numpy_helper.from_array(rng.normal(0, 0.3, (4, 3, 3, 3)).astype(np.float32), "w")
    mix = numpy_helper.from_array(rng.normal(0, 0.5, (1, 4, 1, 1)).astype(np.float32), "m")
    nodes = [
        helper.make_node("Conv", ["input", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Conv", ["r", "m"], ["d"]),
        helper.make_node("Sigmoid", ["d"], ["out"]),
    ]
    graph = helper.make_graph(
        nodes,
        "conv",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 320, 320])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 1, 320, 320])],
        initializer=[weights, mix],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def test_calibration_is_sixty_bundled_photographs_never_the_eval_set() -> None:
    images = list(calibration_images())
    assert len(images) == 60
    assert all(image.mode == "RGB" and min(image.size) >= 200 for image in images)


def test_the_recipe_makes_an_int8_graph_close_to_the_f32_one_and_the_same_bytes_twice(
    tmp_path: Path,
) -> None:
    base = tmp_path / "base.onnx"
    base.write_bytes(conv_graph())
    first, second = tmp_path / "a.onnx", tmp_path / "b.onnx"
    quantize(base, "u2net", "nncf-mixed-skimage-1", first)
    quantize(base, "u2net", "nncf-mixed-skimage-1", second)
    assert first.read_bytes() == second.read_bytes()
    made = onnx.load(str(first))
    ops = {node.op_type for node in made.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert made.opset_import[0].version == 13  # per-channel weight scales
    segmenter = U2NetSegmenter(OnnxRuntimeEngine(base, RuntimeOptions()))
    tensor = segmenter.preprocess(next(calibration_images()))
    want = segmenter.run(tensor)
    got = onnxruntime.InferenceSession(str(first)).run(None, {"input": tensor})[0]
    assert np.abs(got - want).mean() < 0.01


def test_pull_makes_it_from_its_base_and_writes_its_checksum_beside_it(
    index: Index,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    graph = conv_graph()
    index.publish("fake-models", "1.0", "fake_models/u2netp.onnx", graph)
    monkeypatch.setitem(KNOWN_MODELS, "base-for-test", replace(spec_for(graph), name="base"))
    spec = replace(
        KNOWN_MODELS["u2net-int8"],
        source=QuantizedSource("base-for-test", "nncf-mixed-skimage-1", "0" * 64),
    )
    models = tmp_path / "models"
    path = pull_model(spec, models, index.url)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert checksum_path(path).read_text().strip() == digest
    assert is_installed(spec, models)
    assert sorted(p.name for p in models.iterdir()) == [
        "u2net-int8.onnx",
        "u2net-int8.onnx.sha256",
        "u2netp.onnx",  # its base, pulled first
    ]
    registry = ModelRegistry(models, {"u2net-int8": spec})
    assert registry.load("u2net-int8", RuntimeOptions(engine="onnxruntime"))

    path.write_bytes(path.read_bytes()[:-1] + b"\0")  # damaged after it was made
    assert not is_installed(spec, models)
    with pytest.raises(ModelChecksumError, match=digest):
        registry.load("u2net-int8", RuntimeOptions(engine="onnxruntime"))
    checksum_path(path).unlink()  # made, but never finished: made again
    assert not is_installed(spec, models)
