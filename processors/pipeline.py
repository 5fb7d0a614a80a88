"""``Remover.remove(bytes, options)``: decode → segment → compose → encode in one call."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from processors.compose import cutout
from processors.decode import decode
from processors.encode import encode_png
from processors.segmenters import RuntimeOptions, Segmenter, load_segmenter
from schemas.options import RemovalOptions


@dataclass(frozen=True)
class RemovalResult:
    """The encoded output and what endpoints report about it."""

    data: bytes
    content_type: str
    width: int
    height: int


class Remover:
    """Removes backgrounds; loads each model once, on first use, and keeps it.

    Thread-safe: several threads may call :meth:`remove` at once.
    """

    def __init__(
        self, model_dir: Path, runtime: RuntimeOptions, default_model: str = "u2netp"
    ) -> None:
        self.model_dir = model_dir
        self.runtime = runtime
        self.default_model = default_model
        self._segmenters: dict[str, Segmenter] = {}
        self._lock = threading.Lock()

    def segmenter(self, name: str | None = None) -> Segmenter:
        """The loaded segmenter for ``name`` (the default model when ``None``)."""
        name = name or self.default_model
        with self._lock:
            if name not in self._segmenters:
                self._segmenters[name] = load_segmenter(name, self.model_dir, self.runtime)
            return self._segmenters[name]

    def remove(self, data: bytes, options: RemovalOptions) -> RemovalResult:
        """Cut the subject of the image in ``data`` out of its background.

        Raises :class:`processors.exceptions.ProcessorError` subclasses for bad input or
        a missing model.
        """
        segmenter = self.segmenter(options.model)
        image = decode(data)
        mask = segmenter.predict(image)
        result = cutout(image, mask)
        return RemovalResult(
            data=encode_png(result),
            content_type="image/png",
            width=result.width,
            height=result.height,
        )
