"""``Remover``: decode → segment → compose → encode, split so that stages overlap.

Per image, :meth:`Remover.prepare` (decode, model input) and :meth:`Remover.finish` (mask,
crop, resize, compose, encode) run on the caller's thread, while :meth:`Remover.infer`
takes one of ``inference_slots`` (default one: ONNX Runtime already spreads one run over
every core). A thread pool calling :meth:`Remover.remove` therefore keeps the model busy
while other threads decode and encode — both cores stay busy with no extra code. A free
slot goes to the waiting image of the most urgent ``priority`` (lowest number; 0 for
interactive requests, 1 for batch items), first come first served within one priority.

One model run may give several outputs (:meth:`Remover.render`, a request's output specs):
the mask is made once; each rendition is cut and resized from the smallest larger plane
already made (a thumbnail from the medium rendition, not from the full picture), and
the renditions compose and encode side by side on a small pool when their pictures fit in
:data:`PARALLEL_RENDITION_BYTES`.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from PIL import Image

from processors.compose import (
    Box,
    canvas_frame,
    compose,
    crop_box,
    cut_and_scale,
    foreground_box,
    subject_alpha,
    target_size,
    within_roi,
)
from processors.decode import Decoded, DecodeLimits, Header, decode, header
from processors.encode import encode
from processors.foreground import estimate_foreground
from processors.segmenters import ModelRegistry, RuntimeOptions, Segmenter
from processors.segmenters.engines import Tensor
from schemas.options import Channels, FileOptions, MaskOptions, Quality, RemovalOptions
from schemas.refs import ImageRefValue


@dataclass(frozen=True)
class RemovalResult:
    """The encoded output and what endpoints report about it."""

    data: bytes
    content_type: str
    extension: str
    width: int
    height: int
    foreground: Box | None
    """The subject's bounds in output pixels (remove.bg's X-Foreground-*), if any."""
    model_s: float = 0.0
    """Seconds the model ran (waiting for the slot not included)."""


Backdrops = Mapping[ImageRefValue, Image.Image]
"""The decoded (RGBA) background images of a request's outputs, by their ``bg_image``."""


@dataclass(frozen=True)
class Prepared:
    """An image decoded and turned into its model input(s), waiting for inference: one,
    or for ``quality=best`` the image and its mirror image."""

    decoded: Decoded
    options: MaskOptions
    segmenter: Segmenter
    tensors: tuple[Tensor, ...]


_ENCODERS = ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="cutstream-encode")
"""Renditions compose and encode side by side (Pillow releases the GIL while it works)."""
PARALLEL_RENDITION_BYTES = 96 * 1024 * 1024
"""Most picture bytes a request's renditions may hold at once to run side by side
(1.2x a single PNG instead of 1.4x for the catalogue set in docs/benchmarks.md); above
it they run one after the other."""


class PrioritySlots:
    """``count`` slots; a freed slot goes to the most urgent waiter (lowest priority,
    then the earliest)."""

    def __init__(self, count: int) -> None:
        self._free = count
        self._changed = threading.Condition()
        self._waiting: list[tuple[int, int]] = []
        self._tickets = itertools.count()

    @contextmanager
    def hold(self, priority: int = 0) -> Iterator[None]:
        with self._changed:
            ticket = (priority, next(self._tickets))
            heapq.heappush(self._waiting, ticket)
            while not (self._free > 0 and self._waiting[0] == ticket):
                self._changed.wait()
            heapq.heappop(self._waiting)
            self._free -= 1
            self._changed.notify_all()  # another slot may be free for the next waiter
        try:
            yield
        finally:
            with self._changed:
                self._free += 1
                self._changed.notify_all()


class Remover:
    """Removes backgrounds; loads each model once, on first use, and keeps it. Thread-safe."""

    def __init__(
        self,
        registry: ModelRegistry,
        runtime: RuntimeOptions,
        *,
        default_model: str = "u2netp",
        limits: DecodeLimits | None = None,
        inference_slots: int = 1,
        foreground_estimation: bool = False,
    ) -> None:
        self.registry = registry
        self.runtime = runtime
        self.default_model = default_model
        self.foreground_estimation = foreground_estimation
        self.limits = limits or DecodeLimits()
        self._segmenters: dict[str, Segmenter] = {}
        self._loading = threading.Lock()
        self._inference = PrioritySlots(inference_slots)

    def segmenter(self, name: str | None = None) -> Segmenter:
        """The loaded segmenter for ``name`` (the default model when ``None``)."""
        name = name or self.default_model
        with self._loading:
            if name not in self._segmenters:
                self._segmenters[name] = self.registry.load(name, self.runtime)
            return self._segmenters[name]

    def header(self, data: bytes) -> Header:
        """What ``data``'s header says, checked against the limits, nothing decoded (the
        same errors :meth:`prepare` raises for them)."""
        return header(data, self.limits)

    def prepare(self, data: bytes, options: MaskOptions) -> Prepared:
        """Decode and validate ``data`` and build the model input. Raises the image-core
        errors (bad input, unknown or missing model)."""
        segmenter = self.segmenter(options.model)
        decoded = decode(data, self.limits)
        tensor = segmenter.preprocess(decoded.rgb)
        tensors = (tensor, _mirrored(tensor)) if options.quality is Quality.BEST else (tensor,)
        return Prepared(decoded, options, segmenter, tensors)

    def infer(self, prepared: Prepared, priority: int = 0) -> Tensor:
        """Run the model (on each input), holding an inference slot (see the module's
        docstring for ``priority``); a mirrored input's output is mirrored back and the
        outputs averaged."""
        return self.infer_timed(prepared, priority)[0]

    def infer_timed(self, prepared: Prepared, priority: int = 0) -> tuple[Tensor, float]:
        """:meth:`infer`, and the seconds the model ran (not counting the wait for a slot)."""
        with self._inference.hold(priority):
            started = time.perf_counter()
            outputs = [prepared.segmenter.run(tensor) for tensor in prepared.tensors]
            model_s = time.perf_counter() - started
        if len(outputs) == 1:
            return outputs[0], model_s
        first, mirror = outputs
        averaged: Tensor = (first + _mirrored(mirror)) / np.float32(2)
        return averaged, model_s

    def finish(
        self,
        prepared: Prepared,
        output: Tensor,
        outputs: Sequence[FileOptions],
        backdrops: Backdrops | None = None,
    ) -> list[RemovalResult]:
        """Mask → alpha, once; then per output crop or frame → resize → compose (onto its
        ``bg_image`` from ``backdrops``) → encode. Consumes ``prepared`` (its decoded
        picture becomes the last output's memory; the others work on copies)."""
        decoded, options = prepared.decoded, prepared.options
        resample = (
            Image.Resampling.BILINEAR
            if options.quality is Quality.FAST
            else Image.Resampling.LANCZOS
        )
        mask = prepared.segmenter.postprocess(output, decoded.size, resample)
        alpha = within_roi(subject_alpha(mask, decoded.alpha, options.quality), options.roi)
        if self.foreground_estimation and any(o.channels is not Channels.ALPHA for o in outputs):
            # Every output but the mask shows the subject's soft edge on something new.
            estimate_foreground(decoded.rgb, alpha)
        subject = foreground_box(alpha)
        planes = _Planes(decoded.rgb, alpha)
        frames = [_frame(subject, decoded.size, file) for file in outputs]
        # Largest first, so each smaller rendition is resized from a larger one's planes.
        order = sorted(range(len(outputs)), key=lambda i: -frames[i][1][0] * frames[i][1][1])
        # Side by side when the copies that takes are small; else one after the other,
        # each copy freed before the next is made.
        copies = sum(size[0] * size[1] * 4 for _, size in frames)
        parallel = len(order) > 1 and copies <= PARALLEL_RENDITION_BYTES
        done: dict[int, RemovalResult | Future[RemovalResult]] = {}
        for step, index in enumerate(order):
            box, size = frames[index]
            rgb, scaled_alpha = planes.get(box, size)
            if step < len(order) - 1:  # composing consumes the picture; others may need it
                rgb = rgb.copy()
            ref = outputs[index].bg_image
            backdrop = (backdrops or {}).get(ref) if ref is not None else None
            args = (rgb, scaled_alpha, subject, box, size, outputs[index], backdrop)
            done[index] = _ENCODERS.submit(_encoded, *args) if parallel else _encoded(*args)
        return [
            outcome.result() if isinstance(outcome, Future) else outcome
            for outcome in (done[index] for index in range(len(outputs)))
        ]

    def remove(
        self,
        data: bytes,
        options: RemovalOptions,
        priority: int = 0,
        backdrop: Image.Image | None = None,
    ) -> RemovalResult:
        """Cut the subject of the image in ``data`` out of its background (onto
        ``backdrop``, the decoded ``bg_image``, if the options name one)."""
        ref = options.bg_image
        backdrops = {ref: backdrop} if ref is not None and backdrop is not None else {}
        return self.render(data, options, [options], backdrops, priority)[0]

    def render(
        self,
        data: bytes,
        mask: MaskOptions,
        outputs: Sequence[FileOptions],
        backdrops: Backdrops | None = None,
        priority: int = 0,
    ) -> list[RemovalResult]:
        """One result per output, from one run of the model as ``mask`` says."""
        prepared = self.prepare(data, mask)
        output, model_s = self.infer_timed(prepared, priority)
        results = self.finish(prepared, output, outputs, backdrops)
        return [dataclasses.replace(result, model_s=model_s) for result in results]


def _frame(
    subject: Box | None, size: tuple[int, int], options: FileOptions
) -> tuple[Box, tuple[int, int]]:
    """The part of the picture a rendition shows (the canvas, the crop, or all of it) and
    its size."""
    if options.canvas is not None:
        return canvas_frame(subject, size, options)
    box = crop_box(subject, options.crop_margin, size) if options.crop else None
    box = box or Box(0, 0, *size)
    return box, target_size((box.width, box.height), options.size)


class _Planes:
    """The picture and its alpha cut to each (box, size) a request's renditions need:
    each made once, from the smallest plane already made of the same box that is at
    least as large — a thumbnail is resized from the medium rendition's planes, not
    from the full picture (a cascade of Lanczos steps, as ``reducing_gap`` does)."""

    def __init__(self, rgb: Image.Image, alpha: Image.Image) -> None:
        self.rgb, self.alpha = rgb, alpha
        self._made: dict[Box, list[tuple[Image.Image, Image.Image]]] = {}

    def get(self, box: Box, size: tuple[int, int]) -> tuple[Image.Image, Image.Image]:
        made = self._made.setdefault(box, [])
        larger = [(r, a) for r, a in made if r.width >= size[0] and r.height >= size[1]]
        if not larger:
            planes = cut_and_scale(self.rgb, self.alpha, box, size)
        else:
            rgb, alpha = min(larger, key=lambda planes: planes[0].width * planes[0].height)
            if rgb.size == size:
                return rgb, alpha  # made already
            planes = (
                rgb.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0),
                alpha.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0),
            )
        made.append(planes)
        return planes


def _encoded(
    rgb: Image.Image,
    alpha: Image.Image,
    subject: Box | None,
    box: Box,
    size: tuple[int, int],
    options: FileOptions,
    backdrop: Image.Image | None,
) -> RemovalResult:
    """One output from its planes: compose, encode (``rgb`` is consumed)."""
    encoded = encode(compose(rgb, alpha, options, backdrop), options.format, options.output_quality)
    return RemovalResult(
        data=encoded.data,
        content_type=encoded.content_type,
        extension=encoded.extension,
        width=size[0],
        height=size[1],
        foreground=subject.moved_and_scaled(box, size[0] / box.width) if subject else None,
    )


def _mirrored(tensor: Tensor) -> Tensor:
    """``tensor`` flipped left to right (its last axis)."""
    return np.ascontiguousarray(tensor[..., ::-1])
