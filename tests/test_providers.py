"""Which ONNX Runtime providers the signals' models run on (core/encoding/providers.py)."""

from __future__ import annotations

from glimpse.core.encoding import providers
from glimpse.core.encoding.providers import CPU, CUDA, onnx_providers


def test_cuda_first_when_onnxruntime_has_it_and_the_device_allows_a_gpu() -> None:
    gpu_build = [CUDA, CPU]
    for device in ("auto", "gpu", "cuda", None):
        assert onnx_providers(device, gpu_build) == (CUDA, CPU)
    for device in ("cpu", "mps"):
        assert onnx_providers(device, gpu_build) == (CPU,)


def test_the_cpu_build_runs_on_the_cpu() -> None:
    assert onnx_providers("auto", [CPU]) == (CPU,)
    assert onnx_providers("cuda", ["AzureExecutionProvider", CPU]) == (CPU,)
    # This machine's onnxruntime, as installed: whatever it lists, the CPU is last.
    assert onnx_providers("auto")[-1] == CPU
    assert onnx_providers("auto") == ((CUDA, CPU) if CUDA in providers.available() else (CPU,))
