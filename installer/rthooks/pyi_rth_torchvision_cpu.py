"""Runtime hook for CPU-only bundles: let torchvision import without its C ops.

Why: PyPI's torchvision wheels for Linux are CUDA builds; their `_C` extension
needs libtorch_cuda, which a CPU-only torch does not have, so it fails to load.
torchvision 0.28 then still registers fake (meta) kernels for its C operators
at import (`torch.library.register_fake("torchvision::nms")`), which raises
"operator torchvision::nms does not exist" and breaks `import open_clip`.
Glimpse uses only torchvision's pure-Python transforms, never nms/roi_align,
so registering nothing for operators that do not exist is safe; operators that
do exist (a matching CPU torchvision) are registered as usual.

The patch is applied on the first `import torchvision`, not at start-up, so
`glimpse --version` does not pay for importing torch. The spec adds this hook
in every bundle: when the ops do load, nothing changes.
"""

import importlib.abc
import sys


def _patch_torch_library() -> None:
    import torch
    import torch.library

    original = torch.library.register_fake
    if getattr(original, "_glimpse_tolerant", False):
        return

    def op_exists(qualname: str) -> bool:
        namespace, _, name = qualname.partition("::")
        try:
            getattr(getattr(torch.ops, namespace), name.split(".")[0])
        except (AttributeError, RuntimeError):
            return False
        return True

    def register_fake(op, func=None, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        if isinstance(op, str) and op.startswith("torchvision::") and not op_exists(op):
            return func if func is not None else (lambda fn: fn)
        return original(op, func, *args, **kwargs)

    register_fake._glimpse_tolerant = True  # type: ignore[attr-defined]
    torch.library.register_fake = register_fake


class _PatchBeforeTorchvision(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):  # type: ignore[no-untyped-def]
        if fullname == "torchvision":
            sys.meta_path.remove(self)
            _patch_torch_library()
        return None  # let the normal finders import it


sys.meta_path.insert(0, _PatchBeforeTorchvision())
