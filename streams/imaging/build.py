"""Build the image core from settings: the one place settings meet ``processors``."""

from __future__ import annotations

from processors import Remover
from processors.decode import AnimationPolicy, DecodeLimits
from processors.segmenters import ModelRegistry, ModelSpec, RuntimeOptions
from streams.config.settings import CustomModel, LimitSettings, ModelSettings, Settings


def custom_spec(name: str, model: CustomModel) -> ModelSpec:
    """The registry entry of a model file the operator supplies."""
    return ModelSpec(
        name=name,
        family=model.family,
        file=str(model.path.expanduser().absolute()),
        sha256=model.sha256,
        description=f"{model.family} model from {model.path}",
        bf16_auto=model.bf16_auto,
    )


def runtime_options(models: ModelSettings) -> RuntimeOptions:
    """The ONNX Runtime options the ``models`` settings describe."""
    return RuntimeOptions(
        engine=models.runtime,
        precision=models.precision,
        providers=models.providers,
        intra_op_threads=models.intra_op_threads,
        inter_op_threads=models.inter_op_threads,
        spin=models.spin_wait,
    )


def decode_limits(limits: LimitSettings) -> DecodeLimits:
    """What an input may be, as the decoder takes it."""
    return DecodeLimits(
        limits.max_input_bytes, limits.max_input_pixels, AnimationPolicy(limits.animation)
    )


def build_registry(settings: Settings) -> ModelRegistry:
    """The catalog plus the operator's custom models."""
    extra = {name: custom_spec(name, model) for name, model in settings.models.custom.items()}
    return ModelRegistry(settings.models.dir, extra)


def build_remover(settings: Settings) -> Remover:
    """A remover configured by ``settings`` (models are loaded on first use)."""
    return Remover(
        build_registry(settings),
        runtime_options(settings.models),
        default_model=settings.models.default,
        limits=decode_limits(settings.limits),
        inference_slots=settings.models.inference_slots,
        foreground_estimation=settings.models.foreground_estimation,
    )
