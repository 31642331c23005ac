"""Shared test set-up.

TRITON_INTERPRET must be set before any ``@triton.jit`` function is first called, or Triton on a
machine without a GPU raises "0 active drivers"; setting it here, before any test module imports
the kernels, runs every Triton kernel through the interpreter on CPU. On a CUDA machine the real
compiler is used unless the caller already set the variable.
"""
import os

import pytest

try:  # decide before torch/triton are imported by any test module
    import torch

    _HAS_CUDA = torch.cuda.is_available()
except ImportError:  # pragma: no cover - torch is a hard dependency
    _HAS_CUDA = False

if not _HAS_CUDA:
    os.environ.setdefault("TRITON_INTERPRET", "1")


def pytest_collection_modifyitems(config, items):
    if _HAS_CUDA:
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)
