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



def test_the_signals_models_are_opened_with_the_librarys_providers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from glimpse.core.signals import faces, text
    from glimpse.core.signals.base import Engines
    from glimpse.core.signals.face_detector import MTCNN
    from glimpse.core.storage.catalog import Catalog

    catalog = Catalog(tmp_path / "catalog.sqlite")
    on_cpu = Engines("cpu")
    assert on_cpu.providers == (CPU,)
    face_pass = faces.STAGE.make_pass(catalog, on_cpu)
    ocr_pass = text.STAGE.make_pass(catalog, on_cpu)
    assert face_pass.engine.providers == (CPU,) and ocr_pass.engine.providers == (CPU,)
    assert ocr_pass.engine.provider_params() == {}

    gpu = Engines("auto")
    gpu._providers = (CUDA, CPU)  # as onnxruntime-gpu on a CUDA machine lists them
    assert text.STAGE.make_pass(catalog, gpu).engine.provider_params() == {
        "EngineConfig.onnxruntime.use_cuda": True}
    assert faces.STAGE.make_pass(catalog, gpu).engine.providers == (CUDA, CPU)
    # On this CPU build, a session asked for CUDA first still opens, on the CPU.
    detector = MTCNN(providers=(CUDA, CPU))
    sessions = detector._load()
    assert all(s.get_providers()[-1] == CPU for s in sessions)
