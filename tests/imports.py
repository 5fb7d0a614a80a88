"""What importing a module drags in, checked in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("numpy", "PIL", "onnxruntime", "faust")


def heavy_modules_loaded_by(module: str) -> list[str]:
    """Which of :data:`HEAVY` a fresh ``import module`` loads."""
    code = f"import sys, {module}; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()
