"""The segmenter interface and the ONNX Runtime plumbing every family shares."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from PIL import Image

Tensor = npt.NDArray[np.float32]


@dataclass(frozen=True)
class RuntimeOptions:
    """How ONNX Runtime sessions are built.

    ``providers`` is tried in order; providers this onnxruntime build lacks are skipped,
    and CPU is always appended last so a session can always be created.
    ``0`` threads means ONNX Runtime's own default (one per physical core). ``spin`` lets
    idle intra-op threads busy-wait (lower latency for back-to-back runs, but it burns
    the CPU that other pipeline stages need).
    """

    providers: Sequence[str] = field(default=("CUDAExecutionProvider", "CPUExecutionProvider"))
    intra_op_threads: int = 0
    inter_op_threads: int = 0
    spin: bool = True

    def available_providers(self) -> list[str]:
        """The configured providers this onnxruntime build has, CPU last."""
        installed = set(ort.get_available_providers())
        chosen = [p for p in self.providers if p in installed and p != "CPUExecutionProvider"]
        return [*chosen, "CPUExecutionProvider"]


def create_session(path: Path, runtime: RuntimeOptions) -> ort.InferenceSession:
    """Open an ONNX model with the configured providers and thread counts."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = runtime.intra_op_threads
    options.inter_op_num_threads = runtime.inter_op_threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if not runtime.spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(
        str(path), sess_options=options, providers=runtime.available_providers()
    )


class Segmenter(ABC):
    """Predicts a foreground mask for an RGB image.

    An instance wraps one loaded ONNX session; it is built once per process and model by
    :meth:`processors.segmenters.ModelRegistry.load` (loading is the slow part). Per image,
    the pipeline calls :meth:`preprocess` (any thread), :meth:`run` (the inference slot)
    and :meth:`postprocess` (any thread), so the cheap steps overlap with inference.
    ONNX Runtime sessions are thread-safe.
    """

    family: ClassVar[str]
    """Registry key of the model family this class implements."""

    def __init__(self, session: ort.InferenceSession) -> None:
        self.session = session
        self.input_name: str = session.get_inputs()[0].name

    @property
    def providers(self) -> list[str]:
        """Execution providers the session actually runs on, in priority order."""
        return list(self.session.get_providers())

    @abstractmethod
    def preprocess(self, image: Image.Image) -> Tensor:
        """RGB image → the model's input tensor (batch of one)."""

    def run(self, tensor: Tensor) -> Tensor:
        """Run the model; returns its first output."""
        (output, *_) = self.session.run(None, {self.input_name: tensor})
        return np.asarray(output, dtype=np.float32)

    @abstractmethod
    def postprocess(self, output: Tensor, size: tuple[int, int]) -> Image.Image:
        """The model's output → an 8-bit ("L") mask of ``size``: 255 is foreground."""

    def predict(self, image: Image.Image) -> Image.Image:
        """All three steps for one image."""
        return self.postprocess(self.run(self.preprocess(image)), image.size)


def to_mask(values: npt.NDArray[np.float32], size: tuple[int, int]) -> Image.Image:
    """A [0, 1] map at model resolution → an "L" mask resized to ``size``."""
    small = Image.fromarray(np.rint(np.clip(values, 0, 1) * 255).astype(np.uint8), mode="L")
    return small.resize(size, Image.Resampling.LANCZOS)


class SaliencySegmenter(Segmenter):
    """Square-input salient-object models: resize to ``input_size``, scale by the image's
    maximum, normalise with ``mean``/``std``; min-max normalise the first output channel
    (after a sigmoid for models that output logits). U²-Net, IS-Net and BiRefNet differ
    only in these constants."""

    input_size: ClassVar[tuple[int, int]]
    mean: ClassVar[tuple[float, float, float]]
    std: ClassVar[tuple[float, float, float]]
    logits: ClassVar[bool] = False

    def preprocess(self, image: Image.Image) -> Tensor:
        small = image.resize(self.input_size, Image.Resampling.LANCZOS, reducing_gap=2.0)
        array = np.asarray(small, dtype=np.float32)
        array /= max(float(array.max()), 1e-6)
        array -= np.asarray(self.mean, dtype=np.float32)
        array /= np.asarray(self.std, dtype=np.float32)
        return np.ascontiguousarray(array.transpose(2, 0, 1)[np.newaxis])

    def postprocess(self, output: Tensor, size: tuple[int, int]) -> Image.Image:
        prediction = output[0, 0]
        if self.logits:
            prediction = 1.0 / (1.0 + np.exp(-prediction))
        low, high = float(prediction.min()), float(prediction.max())
        return to_mask((prediction - low) / max(high - low, 1e-6), size)
