"""Segmenter registry: model families by name, named models, and loading them verified."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path

from processors.exceptions import ModelChecksumError, ModelNotInstalledError, UnknownModelError
from processors.segmenters.base import Segmenter
from processors.segmenters.birefnet import BiRefNetSegmenter, BriaSegmenter
from processors.segmenters.catalog import (
    KNOWN_MODELS,
    ModelSpec,
    QuantizedSource,
    UrlSource,
    WheelSource,
)
from processors.segmenters.engines import Machine, RuntimeOptions, open_engine, plan
from processors.segmenters.isnet import ISNetSegmenter
from processors.segmenters.modnet import MODNetSegmenter
from processors.segmenters.u2net import U2NetSegmenter

log = logging.getLogger(__name__)

FAMILIES: dict[str, type[Segmenter]] = {
    cls.family: cls
    for cls in (
        U2NetSegmenter,
        ISNetSegmenter,
        BiRefNetSegmenter,
        BriaSegmenter,
        MODNetSegmenter,
    )
}


def family_class(family: str) -> type[Segmenter]:
    """The segmenter class for a model family; :class:`UnknownModelError` if there is none."""
    try:
        return FAMILIES[family]
    except KeyError:
        known = ", ".join(sorted(FAMILIES))
        raise UnknownModelError(f"unknown model family {family!r}; known: {known}") from None


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def checksum_path(path: Path) -> Path:
    """Where a model made on this machine has its checksum written (``<file>.sha256``)."""
    return path.with_name(path.name + ".sha256")


def expected_sha256(spec: ModelSpec, path: Path) -> str | None:
    """The checksum ``spec``'s file at ``path`` must have: the catalog's, or for a model
    made at pull (:class:`QuantizedSource`) the one written beside it then."""
    if spec.sha256 is not None or not isinstance(spec.source, QuantizedSource):
        return spec.sha256
    try:
        return checksum_path(path).read_text().strip() or None
    except OSError:
        return None


class ModelRegistry:
    """The models a process can use: the built-in catalog plus operator-registered files.

    ``extra`` adds (or overrides) models, typically families whose weights cannot be
    pulled here (IS-Net, BiRefNet, MODNet) from a path the operator supplies.
    """

    def __init__(self, model_dir: Path, extra: Mapping[str, ModelSpec] | None = None) -> None:
        self.model_dir = model_dir
        self.specs: dict[str, ModelSpec] = {**KNOWN_MODELS, **(extra or {})}
        for spec in self.specs.values():
            family_class(spec.family)  # an unknown family fails at start, not per request

    def spec(self, name: str) -> ModelSpec:
        """The spec for ``name``; :class:`UnknownModelError` lists the known names."""
        try:
            return self.specs[name]
        except KeyError:
            known = ", ".join(sorted(self.specs))
            raise UnknownModelError(f"unknown model {name!r}; known models: {known}") from None

    def path(self, spec: ModelSpec) -> Path:
        """Where ``spec``'s weights live; raises if they are not there."""
        path = self.model_dir / spec.file
        if not path.is_file():
            how = (
                f"install it with `cutstream models pull {spec.name}`"
                if spec.source is not None
                else "put the model file there or correct its registered path"
            )
            raise ModelNotInstalledError(f"model {spec.name!r} is not installed at {path}; {how}")
        return path

    def load(self, name: str, runtime: RuntimeOptions) -> Segmenter:
        """Verify and load the named model.

        Raises :class:`UnknownModelError`, :class:`ModelNotInstalledError` (with the command
        that installs it) or :class:`ModelChecksumError`.
        """
        spec = self.spec(name)
        path = self.path(spec)
        expected = expected_sha256(spec, path)
        if expected is None:
            log.warning("model %s (%s) has no checksum to verify", name, path)
        else:
            actual = sha256_file(path)
            if actual != expected:
                fix = f"run `cutstream models pull {name}`" if spec.source else "replace it"
                raise ModelChecksumError(f"{path} has sha256 {actual}, expected {expected}; {fix}")
        family = family_class(spec.family)
        return family(open_engine(path, runtime, family.example_input, bf16_auto=spec.bf16_auto))


__all__ = [
    "FAMILIES",
    "KNOWN_MODELS",
    "Machine",
    "ModelRegistry",
    "ModelSpec",
    "QuantizedSource",
    "RuntimeOptions",
    "Segmenter",
    "UrlSource",
    "WheelSource",
    "checksum_path",
    "expected_sha256",
    "family_class",
    "plan",
    "sha256_file",
]
