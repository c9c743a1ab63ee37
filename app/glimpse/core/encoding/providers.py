"""Where the signals' ONNX models (text reading, faces) run: a GPU through ONNX
Runtime's CUDA provider when one is there and the user's device setting allows
it, the CPU otherwise (and always as the fallback behind it).

The CUDA provider exists only in the `onnxruntime-gpu` build; the CPU build,
the tested default, lists CPUExecutionProvider alone, so nothing changes there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"

# What a model's engine is given: the providers, or a function asked when the model
# loads (so that making a pass, as a no-op re-index does, imports no onnxruntime).
ProviderChoice = Sequence[str] | Callable[[], Sequence[str]]


def available() -> list[str]:
    try:
        import onnxruntime
    except ImportError:  # pragma: no cover - onnxruntime is a dependency
        return [CPU]
    return list(onnxruntime.get_available_providers())


def onnx_providers(device: str | None, present: Sequence[str] | None = None) -> tuple[str, ...]:
    """The providers to open a session with, best first: CUDA for device auto, gpu or
    cuda when ONNX Runtime has it; the CPU alone for device cpu (or mps, which ONNX
    Runtime's CoreML provider would need and is not used here)."""
    preference = (device or "auto").lower()
    if preference not in ("auto", "gpu", "cuda"):
        return (CPU,)
    present = available() if present is None else present
    return (CUDA, CPU) if CUDA in present else (CPU,)


def uses_cuda(providers: Sequence[str]) -> bool:
    return CUDA in providers


def resolved(choice: ProviderChoice) -> tuple[str, ...]:
    return tuple(choice() if callable(choice) else choice)
