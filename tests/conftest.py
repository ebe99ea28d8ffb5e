"""Test setup: no model hub, one torch thread, a registry of the installed packs."""
from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import importlib.util
import tempfile

# every test process gets its own result cache, never the user's
os.environ["NODEGRAPH_CACHE_DIR"] = tempfile.mkdtemp(prefix="nodegraph-test-cache-")

import pytest

if importlib.util.find_spec("torch") is not None:  # only when an AI extra is installed
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def registry():
    from nodegraph.registry import default_registry

    return default_registry()
