"""Write generated tables into the docs between ``<!-- NAME:start -->`` and ``:end`` marks."""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from pathlib import Path

import numpy  # noqa: F401  (version shown in the machine line)
import onnxruntime
import PIL


def machine() -> str:
    """One line naming the machine and the library versions a number depends on."""
    import os

    return (
        f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, onnxruntime {onnxruntime.__version__}, "
        f"Pillow {PIL.__version__}; {datetime.now(UTC):%Y-%m-%d}"
    ).replace("  ", " ")


def replace_section(path: Path, name: str, body: str) -> None:
    """Replace the text between the markers (which must exist) with ``body``."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = path.read_text()
    if start not in text or end not in text:
        raise SystemExit(f"{path} has no {start} ... {end} section")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{start}\n{body}\n{end}{tail}")
