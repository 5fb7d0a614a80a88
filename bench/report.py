"""Write generated tables into the docs between ``<!-- NAME:start -->`` and ``:end`` marks."""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from pathlib import Path

import numpy  # noqa: F401  (version shown in the machine line)
import onnxruntime
import PIL

SPEED_FLAGS = ("avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
"""CPU features that change the models' speed (int8 and bf16 paths)."""


def cpu() -> str:
    """The CPU's model name and which of :data:`SPEED_FLAGS` it has (from /proc/cpuinfo)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown CPU"
    name = next(
        (
            line.split(":", 1)[1].strip()
            for line in info.splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    flags = next(
        (line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")),
        [],
    )
    present = [flag for flag in SPEED_FLAGS if flag in flags]
    return f"{name} ({', '.join(present) if present else 'no AVX512-VNNI, bf16 or AMX'})"


def machine() -> str:
    """One line naming the machine, its CPU features and the library versions a number
    depends on."""
    import os

    return (
        f"{platform.machine()} {cpu()}, {os.cpu_count()} cores, "
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
