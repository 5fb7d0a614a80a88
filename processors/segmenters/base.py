"""The segmenter interface and the ONNX Runtime plumbing every family shares."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import onnxruntime as ort
from PIL import Image


@dataclass(frozen=True)
class RuntimeOptions:
    """How ONNX Runtime sessions are built.

    ``providers`` is tried in order; providers this onnxruntime build lacks are skipped,
    and CPU is always appended last so a session can always be created.
    ``0`` threads means ONNX Runtime's own default (one per physical core).
    """

    providers: Sequence[str] = field(default=("CUDAExecutionProvider", "CPUExecutionProvider"))
    intra_op_threads: int = 0
    inter_op_threads: int = 0

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
    return ort.InferenceSession(
        str(path), sess_options=options, providers=runtime.available_providers()
    )


class Segmenter(ABC):
    """Predicts a foreground mask for an RGB image.

    An instance wraps one loaded ONNX session and is built once per process and model by
    :func:`processors.segmenters.load_segmenter` (loading is the slow part). ``predict`` is
    then called once per image; ONNX Runtime sessions are thread-safe, so one instance
    may serve several threads.
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
    def predict(self, image: Image.Image) -> Image.Image:
        """Return an 8-bit ("L") mask of ``image.size``: 255 is foreground, 0 background.

        ``image`` is RGB. Raises nothing beyond ONNX Runtime's own errors.
        """
