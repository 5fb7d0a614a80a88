"""Inference engines: what runs a loaded ONNX model.

- ``onnxruntime`` — every platform; execution providers tried in order (CUDA first where a
  CUDA build and device exist), CPU last; f32.
- ``openvino`` — where its wheel is installed (x86_64 Linux and Windows); f32, or bf16 on
  CPUs with native bf16.

``auto`` picks CUDA (through ONNX Runtime) when a CUDA device is usable, else OpenVINO when
it is installed (its f32 CPU kernels beat ONNX Runtime's: u2netp 5.63 vs 4.36 images/s on
the 2-core bench machine), else ONNX Runtime. Precision ``auto`` is f32 unless the model's
bf16 masks were measured as good as its f32 ones (``ModelSpec.bf16_auto``: u2net yes,
u2netp no — in bf16 its sod-dev MAE rose by 0.005 and 39 of 150 masks strayed from their
f32 ones, IoU < 0.9, against u2net's 5) and the CPU has native bf16. Even then it does not
trust the flag: native bf16 ran u2net 2× faster than f32 on an AMD Zen 4, but 0.7× on the
bench machine's Intel Xeon (avx512_bf16, no AMX) — so both are compiled, timed on the model
at load, and the faster kept.

Selection (:func:`plan`) is a pure function of the options and what the machine offers
(:class:`Machine`), so every case, a CPU without bf16 included, is testable anywhere.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from processors.exceptions import RuntimeUnavailableError

if TYPE_CHECKING:
    import openvino

log = logging.getLogger(__name__)

Tensor = npt.NDArray[np.float32]
EngineName = Literal["auto", "onnxruntime", "openvino"]
Precision = Literal["auto", "f32", "bf16"]

_TIMING_RUNS = 3


@dataclass(frozen=True)
class RuntimeOptions:
    """How models are run.

    ``engine`` and ``precision`` are resolved by :func:`plan`. ``providers`` (ONNX Runtime
    only) are tried in order; those this onnxruntime build lacks are skipped and CPU is
    always last. ``0`` threads means the engine's own default (one per core). ``spin``
    lets ONNX Runtime's idle threads busy-wait (lower latency for back-to-back runs, but it
    burns the CPU other pipeline stages need).
    """

    engine: EngineName = "auto"
    precision: Precision = "auto"
    providers: Sequence[str] = field(default=("CUDAExecutionProvider", "CPUExecutionProvider"))
    intra_op_threads: int = 0
    inter_op_threads: int = 0
    spin: bool = True

    def available_providers(self) -> list[str]:
        """The configured providers this onnxruntime build has, CPU last."""
        installed = set(ort.get_available_providers())
        chosen = [p for p in self.providers if p in installed and p != "CPUExecutionProvider"]
        return [*chosen, "CPUExecutionProvider"]


@dataclass(frozen=True)
class Machine:
    """What this machine offers an engine."""

    cuda: bool
    """ONNX Runtime has a CUDA provider and a configured provider list that asks for it."""
    openvino: bool
    """The ``openvino`` package is installed."""
    native_bf16: bool
    """OpenVINO reports native bf16 for the CPU (``OPTIMIZATION_CAPABILITIES``)."""

    @classmethod
    def detect(cls, runtime: RuntimeOptions) -> Machine:
        has_openvino = importlib.util.find_spec("openvino") is not None
        native_bf16 = has_openvino and "BF16" in _openvino_core().get_property(
            "CPU", "OPTIMIZATION_CAPABILITIES"
        )
        return cls(
            cuda="CUDAExecutionProvider" in runtime.available_providers(),
            openvino=has_openvino,
            native_bf16=native_bf16,
        )


@dataclass(frozen=True)
class Plan:
    """The engine to build and the precisions to choose from (the faster, if several)."""

    engine: Literal["onnxruntime", "openvino"]
    precisions: tuple[Literal["f32", "bf16"], ...]
    why: str


def plan(runtime: RuntimeOptions, machine: Machine, bf16_auto: bool = False) -> Plan:
    """Resolve ``auto`` for a model (``bf16_auto``: ``auto`` may choose bf16 for it):
    :class:`RuntimeUnavailableError` for a combination the machine cannot run (an engine
    that is not installed, bf16 without native support)."""
    engine = runtime.engine
    if engine == "auto":
        if machine.cuda and runtime.precision != "bf16":
            engine, why = "onnxruntime", "a CUDA device is available"
        elif machine.openvino:
            engine, why = "openvino", "OpenVINO is installed (faster CPU kernels)"
        else:
            engine, why = "onnxruntime", "OpenVINO is not installed on this platform"
    else:
        why = "configured"
    if engine == "openvino" and not machine.openvino:
        raise RuntimeUnavailableError(
            "runtime openvino is not installed on this platform (its wheel is for x86_64 "
            "Linux and Windows); set CUTSTREAM_MODELS__RUNTIME=onnxruntime"
        )
    if engine == "onnxruntime":
        if runtime.precision == "bf16":
            raise RuntimeUnavailableError(
                "precision bf16 needs runtime openvino; ONNX Runtime runs these models in f32"
            )
        return Plan("onnxruntime", ("f32",), why)
    if runtime.precision == "f32":
        return Plan("openvino", ("f32",), why)
    if not machine.native_bf16:
        if runtime.precision == "bf16":
            raise RuntimeUnavailableError(
                "precision bf16 needs a CPU with native bf16 (OpenVINO does not report BF16 "
                "here); use f32 or auto"
            )
        return Plan("openvino", ("f32",), f"{why}; this CPU has no native bf16")
    if runtime.precision == "bf16":
        return Plan("openvino", ("bf16",), why)
    if not bf16_auto:
        return Plan("openvino", ("f32",), f"{why}; f32: bf16 is not verified for this model")
    return Plan("openvino", ("f32", "bf16"), f"{why}; the faster of f32 and bf16, timed")


class Engine(ABC):
    """Runs one loaded model: one input tensor in, its first output out. Thread-safe."""

    name: str
    precision: str

    @abstractmethod
    def run(self, tensor: Tensor) -> Tensor:
        """Run the model on ``tensor``."""

    @property
    @abstractmethod
    def device(self) -> str:
        """Where it runs: an execution provider or an OpenVINO device."""

    def describe(self) -> str:
        return f"{self.name} {self.device} {self.precision}"


class OnnxRuntimeEngine(Engine):
    name = "onnxruntime"
    precision = "f32"

    def __init__(self, path: Path, runtime: RuntimeOptions) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = runtime.intra_op_threads
        options.inter_op_num_threads = runtime.inter_op_threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if not runtime.spin:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            str(path), sess_options=options, providers=runtime.available_providers()
        )
        self.input_name: str = self.session.get_inputs()[0].name

    @property
    def device(self) -> str:
        return str(self.session.get_providers()[0])

    def run(self, tensor: Tensor) -> Tensor:
        (output, *_) = self.session.run(None, {self.input_name: tensor})
        return np.asarray(output, dtype=np.float32)


class OpenVinoEngine(Engine):
    name = "openvino"

    def __init__(self, path: Path, runtime: RuntimeOptions, precision: str) -> None:
        config: dict[str, Any] = {
            "INFERENCE_PRECISION_HINT": precision,
            "PERFORMANCE_HINT": "LATENCY",
            # Pinned inference threads fight the threads that decode and encode other
            # images meanwhile: 3.77 -> 4.01 images/s unpinned (u2netp, 2 cores).
            "ENABLE_CPU_PINNING": False,
        }
        if runtime.intra_op_threads:
            config["INFERENCE_NUM_THREADS"] = runtime.intra_op_threads
        self.precision = precision
        self.compiled = _openvino_core().compile_model(str(path), "CPU", config)
        self._requests = threading.local()

    @property
    def device(self) -> str:
        return "CPU"

    def static_input_shape(self) -> tuple[int, ...] | None:
        """The model's input shape when it is fixed (``None`` for dynamic dimensions)."""
        shape = self.compiled.input(0).get_partial_shape()
        return tuple(shape.to_shape()) if shape.is_static else None

    def run(self, tensor: Tensor) -> Tensor:
        request = getattr(self._requests, "request", None)
        if request is None:  # one infer request per thread: they are not shared
            request = self._requests.request = self.compiled.create_infer_request()
        request.infer({0: tensor})
        return np.array(request.get_output_tensor(0).data, dtype=np.float32)  # a copy


def open_engine(
    path: Path,
    runtime: RuntimeOptions,
    sample: Callable[[], Tensor],
    machine: Machine | None = None,
    bf16_auto: bool = False,
) -> Engine:
    """The engine :func:`plan` chooses for the model at ``path``. When it leaves a choice
    of precisions, each is timed on ``sample()`` inputs and the fastest kept."""
    chosen = plan(runtime, machine or Machine.detect(runtime), bf16_auto)
    if chosen.engine == "onnxruntime":
        engine: Engine = OnnxRuntimeEngine(path, runtime)
    elif len(chosen.precisions) == 1:
        engine = OpenVinoEngine(path, runtime, chosen.precisions[0])
    else:
        # One compiled model at a time (two at once raised a worker's peak by ~80 MB),
        # then the winner compiled again: a second or two more at start.
        timed = {
            p: _seconds_per_run(OpenVinoEngine(path, runtime, p), sample) for p in chosen.precisions
        }
        precision = min(timed, key=lambda p: timed[p])
        shown = ", ".join(f"{p} {1 / seconds:.2f}/s" for p, seconds in timed.items())
        log.info("%s: timed %s; keeping %s", path.name, shown, precision)
        engine = OpenVinoEngine(path, runtime, precision)
    log.info("%s runs on %s (%s)", path.name, engine.describe(), chosen.why)
    return engine


def _seconds_per_run(engine: OpenVinoEngine, sample: Callable[[], Tensor]) -> float:
    shape = engine.static_input_shape()
    tensor = np.zeros(shape, dtype=np.float32) if shape else sample()
    engine.run(tensor)  # the first run compiles and allocates
    seconds = []
    for _ in range(_TIMING_RUNS):
        started = time.perf_counter()
        engine.run(tensor)
        seconds.append(time.perf_counter() - started)
    return float(np.median(seconds))


_CORE: list[openvino.Core] = []
_CORE_LOCK = threading.Lock()


def _openvino_core() -> openvino.Core:
    """One OpenVINO core per process (imported only when OpenVINO is used)."""
    with _CORE_LOCK:
        if not _CORE:
            import openvino

            _CORE.append(openvino.Core())
        return _CORE[0]
