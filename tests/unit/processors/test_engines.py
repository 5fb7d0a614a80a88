"""Which engine runs the models, and bf16 stays close to f32 on real photographs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from processors import Remover
from processors.exceptions import RuntimeUnavailableError
from processors.segmenters import KNOWN_MODELS, Machine, ModelRegistry, RuntimeOptions, plan
from processors.segmenters.engines import OnnxRuntimeEngine, OpenVinoEngine, open_engine
from schemas.options import RemovalOptions
from streams.config.models import CustomModel
from streams.imaging.build import custom_spec
from tests.golden import golden_path, shrink_alpha
from tests.images import PHOTOS, photo_jpeg

GPU = Machine(cuda=True, openvino=True, native_bf16=True)
BF16_CPU = Machine(cuda=False, openvino=True, native_bf16=True)
PLAIN_CPU = Machine(cuda=False, openvino=True, native_bf16=False)  # a CPU without bf16
NO_OPENVINO = Machine(cuda=False, openvino=False, native_bf16=False)  # e.g. aarch64 Linux


@pytest.mark.parametrize(
    ("engine", "precision", "machine", "bf16_auto", "expected"),
    [
        ("auto", "auto", GPU, True, ("onnxruntime", ("f32",))),
        ("auto", "auto", BF16_CPU, True, ("openvino", ("f32", "bf16"))),  # timed at load
        ("auto", "auto", BF16_CPU, False, ("openvino", ("f32",))),  # bf16 not verified
        ("auto", "auto", PLAIN_CPU, True, ("openvino", ("f32",))),
        ("auto", "auto", NO_OPENVINO, True, ("onnxruntime", ("f32",))),
        ("auto", "f32", BF16_CPU, True, ("openvino", ("f32",))),
        ("auto", "bf16", BF16_CPU, False, ("openvino", ("bf16",))),  # asked for: given
        ("auto", "bf16", GPU, False, ("openvino", ("bf16",))),  # the CPU has it
        ("onnxruntime", "auto", BF16_CPU, True, ("onnxruntime", ("f32",))),
        ("openvino", "auto", GPU, True, ("openvino", ("f32", "bf16"))),
        ("openvino", "auto", GPU, False, ("openvino", ("f32",))),
    ],
)
def test_plan(
    engine: str,
    precision: str,
    machine: Machine,
    bf16_auto: bool,
    expected: tuple[str, tuple[str, ...]],
) -> None:
    runtime = RuntimeOptions(engine=engine, precision=precision)  # type: ignore[arg-type]
    chosen = plan(runtime, machine, bf16_auto)
    assert (chosen.engine, chosen.precisions) == expected
    assert chosen.why


def test_only_models_measured_unharmed_by_bf16_may_get_it_by_default() -> None:
    """u2netp's bf16 masks are worse (sod-dev MAE 0.1079 -> 0.1126; 39 of 150 masks IoU
    < 0.9 against f32), so ``auto`` keeps it in f32 on every CPU: the same request gives the
    same mask whichever worker takes it. u2net's are not (MAE 0.1022 -> 0.1023; 5 of 150)."""
    assert not KNOWN_MODELS["u2netp"].bf16_auto
    assert KNOWN_MODELS["u2net"].bf16_auto
    custom = custom_spec("mine", CustomModel(family="isnet", path=Path("/m.onnx")))
    assert not custom.bf16_auto
    vouched = CustomModel(family="isnet", path=Path("/m.onnx"), bf16_auto=True)
    assert custom_spec("mine", vouched).bf16_auto


@pytest.mark.parametrize(
    ("engine", "precision", "machine", "message"),
    [
        ("openvino", "auto", NO_OPENVINO, "not installed on this platform"),
        ("auto", "bf16", PLAIN_CPU, "native bf16"),
        ("auto", "bf16", NO_OPENVINO, "needs runtime openvino"),
        ("onnxruntime", "bf16", BF16_CPU, "needs runtime openvino"),
    ],
)
def test_impossible_combinations_fail_at_load(
    engine: str, precision: str, machine: Machine, message: str
) -> None:
    with pytest.raises(RuntimeUnavailableError, match=message):
        plan(RuntimeOptions(engine=engine, precision=precision), machine)  # type: ignore[arg-type]


def test_open_engine_keeps_the_faster_precision(model_dir: Path) -> None:
    path = model_dir / "u2netp.onnx"
    sample = lambda: np.zeros((1, 3, 320, 320), np.float32)  # noqa: E731
    engine = open_engine(path, RuntimeOptions(), sample, BF16_CPU, bf16_auto=True)
    assert isinstance(engine, OpenVinoEngine)
    assert engine.precision in ("f32", "bf16")
    unverified = open_engine(path, RuntimeOptions(), sample, BF16_CPU)
    assert isinstance(unverified, OpenVinoEngine)
    assert unverified.precision == "f32"
    forced = open_engine(path, RuntimeOptions(engine="onnxruntime"), sample, BF16_CPU)
    assert isinstance(forced, OnnxRuntimeEngine)
    assert forced.describe() == "onnxruntime CPUExecutionProvider f32"


@pytest.mark.parametrize("name", PHOTOS)
def test_bf16_masks_stay_close_to_the_golden_f32_ones(model_dir: Path, name: str) -> None:
    """u2netp under bf16 drifts measurably (on the bench machine: mean difference 0.009,
    0.028 and 0.001, IoU 0.974, 0.944 and 0.998 on the three photos; OpenVINO f32 matches
    the golden masks exactly), so the tolerance is looser than f32's own test's. On a CPU
    without native bf16, asking for it is refused at load instead."""
    bf16 = Remover(
        ModelRegistry(model_dir),
        RuntimeOptions(engine="openvino", precision="bf16"),
        default_model="u2netp",
    )
    if not Machine.detect(RuntimeOptions()).native_bf16:
        with pytest.raises(RuntimeUnavailableError, match="native bf16"):
            bf16.segmenter()
        return
    actual = shrink_alpha(bf16.remove(photo_jpeg(name), RemovalOptions()).data)
    with Image.open(golden_path(name)) as golden_image:
        golden = np.asarray(golden_image)
    mad = np.abs(actual.astype(int) - golden.astype(int)).mean() / 255
    iou = ((actual > 127) & (golden > 127)).sum() / ((actual > 127) | (golden > 127)).sum()
    assert mad < 0.035
    assert iou > 0.93
