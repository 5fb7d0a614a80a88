"""Segmenter registry: model families by name, and loading a named model from disk."""

from __future__ import annotations

import hashlib
from pathlib import Path

from processors.exceptions import ModelChecksumError, ModelNotInstalledError, UnknownModelError
from processors.segmenters.base import RuntimeOptions, Segmenter, create_session
from processors.segmenters.catalog import KNOWN_MODELS, ModelSpec, get_spec
from processors.segmenters.u2net import U2NetSegmenter

FAMILIES: dict[str, type[Segmenter]] = {cls.family: cls for cls in (U2NetSegmenter,)}


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


def model_path(spec: ModelSpec, model_dir: Path) -> Path:
    """Where ``spec``'s weights live in ``model_dir``; raises if they are not there."""
    path = model_dir / spec.filename
    if not path.is_file():
        raise ModelNotInstalledError(
            f"model {spec.name!r} is not installed in {model_dir}; "
            f"install it with `cutstream models pull {spec.name}`"
        )
    return path


def load_segmenter(name: str, model_dir: Path, runtime: RuntimeOptions) -> Segmenter:
    """Verify and load the named model from ``model_dir``.

    Raises :class:`UnknownModelError`, :class:`ModelNotInstalledError` (with the command
    that installs it) or :class:`ModelChecksumError`.
    """
    spec = get_spec(name)
    path = model_path(spec, model_dir)
    actual = sha256_file(path)
    if actual != spec.sha256:
        raise ModelChecksumError(
            f"{path} has sha256 {actual}, expected {spec.sha256}; "
            f"delete it and run `cutstream models pull {name}`"
        )
    return family_class(spec.family)(create_session(path, runtime))


__all__ = [
    "FAMILIES",
    "KNOWN_MODELS",
    "ModelSpec",
    "RuntimeOptions",
    "Segmenter",
    "family_class",
    "get_spec",
    "load_segmenter",
    "model_path",
    "sha256_file",
]
