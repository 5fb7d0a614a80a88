"""The segmenter interface and what every family shares; engines are in engines.py."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from PIL import Image

from processors.segmenters.engines import Engine, Tensor


class Segmenter(ABC):
    """Predicts a foreground mask for an RGB image.

    An instance wraps one loaded model (an :class:`Engine`); it is built once per process
    and model by :meth:`processors.segmenters.ModelRegistry.load` (loading is the slow
    part). Per image, the pipeline calls :meth:`preprocess` (any thread), :meth:`run` (the
    inference slot) and :meth:`postprocess` (any thread), so the cheap steps overlap with
    inference. Engines are thread-safe.
    """

    family: ClassVar[str]
    """Registry key of the model family this class implements."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def runtime(self) -> str:
        """What runs the model, e.g. ``openvino CPU f32``."""
        return self.engine.describe()

    @classmethod
    @abstractmethod
    def example_input(cls) -> Tensor:
        """An input tensor of a typical size (engines are timed on it at load)."""

    @abstractmethod
    def preprocess(self, image: Image.Image) -> Tensor:
        """RGB image → the model's input tensor (batch of one)."""

    def run(self, tensor: Tensor) -> Tensor:
        """Run the model; returns its first output."""
        return self.engine.run(tensor)

    @abstractmethod
    def postprocess(
        self,
        output: Tensor,
        size: tuple[int, int],
        resample: Image.Resampling = Image.Resampling.LANCZOS,
    ) -> Image.Image:
        """The model's output → an 8-bit ("L") mask of ``size`` (scaled with ``resample``):
        255 is foreground."""

    def predict(self, image: Image.Image) -> Image.Image:
        """All three steps for one image."""
        return self.postprocess(self.run(self.preprocess(image)), image.size)


def to_mask(
    values: npt.NDArray[np.float32],
    size: tuple[int, int],
    resample: Image.Resampling = Image.Resampling.LANCZOS,
) -> Image.Image:
    """A [0, 1] map at model resolution → an "L" mask resized to ``size``."""
    small = Image.fromarray(np.rint(np.clip(values, 0, 1) * 255).astype(np.uint8), mode="L")
    return small.resize(size, resample)


class SaliencySegmenter(Segmenter):
    """Square-input salient-object models: resize to ``input_size``, scale by the image's
    maximum, normalise with ``mean``/``std``; min-max normalise the first output channel
    (after a sigmoid for models that output logits). U²-Net, IS-Net and BiRefNet differ
    only in these constants."""

    input_size: ClassVar[tuple[int, int]]
    mean: ClassVar[tuple[float, float, float]]
    std: ClassVar[tuple[float, float, float]]
    logits: ClassVar[bool] = False

    @classmethod
    def example_input(cls) -> Tensor:
        return np.zeros((1, 3, cls.input_size[1], cls.input_size[0]), dtype=np.float32)

    def preprocess(self, image: Image.Image) -> Tensor:
        small = image.resize(self.input_size, Image.Resampling.LANCZOS, reducing_gap=2.0)
        array = np.asarray(small, dtype=np.float32)
        array /= max(float(array.max()), 1e-6)
        array -= np.asarray(self.mean, dtype=np.float32)
        array /= np.asarray(self.std, dtype=np.float32)
        return np.ascontiguousarray(array.transpose(2, 0, 1)[np.newaxis])

    def postprocess(
        self,
        output: Tensor,
        size: tuple[int, int],
        resample: Image.Resampling = Image.Resampling.LANCZOS,
    ) -> Image.Image:
        prediction = output[0, 0]
        if self.logits:
            prediction = 1.0 / (1.0 + np.exp(-prediction))
        low, high = float(prediction.min()), float(prediction.max())
        return to_mask((prediction - low) / max(high - low, 1e-6), size, resample)
