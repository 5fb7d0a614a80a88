"""Pure image work — decode, segment, composite, encode — with no Kafka and no network."""

from processors.exceptions import (
    InvalidImageError,
    ModelChecksumError,
    ModelNotInstalledError,
    ProcessorError,
    UnknownModelError,
)
from processors.pipeline import RemovalResult, Remover, Rendering

__all__ = [
    "InvalidImageError",
    "ModelChecksumError",
    "ModelNotInstalledError",
    "ProcessorError",
    "RemovalResult",
    "Remover",
    "Rendering",
    "UnknownModelError",
]
