"""Pure image work — decode, segment, composite, encode — with no Kafka and no network."""

from processors.exceptions import (
    InvalidImageError,
    ModelChecksumError,
    ModelNotInstalledError,
    ProcessorError,
    UnknownModelError,
)
from processors.pipeline import Backdrops, RemovalResult, Remover

__all__ = [
    "Backdrops",
    "InvalidImageError",
    "ModelChecksumError",
    "ModelNotInstalledError",
    "ProcessorError",
    "RemovalResult",
    "Remover",
    "UnknownModelError",
]
