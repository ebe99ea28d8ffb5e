"""Test setup: no model hub, one torch thread, a registry of the installed packs."""
from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import importlib.util
import tempfile

# every test process gets its own result cache and model config, never the user's
os.environ["NODEGRAPH_CACHE_DIR"] = tempfile.mkdtemp(prefix="nodegraph-test-cache-")
os.environ["NODEGRAPH_CONFIG_DIR"] = tempfile.mkdtemp(prefix="nodegraph-test-config-")
os.environ["NODEGRAPH_LOOKS_DIR"] = tempfile.mkdtemp(prefix="nodegraph-test-looks-")  # not the user's own Looks
for _var in ("NODEGRAPH_MODELS", "NODEGRAPH_DEVICE", "NODEGRAPH_DTYPE"):
    os.environ.pop(_var, None)

import pytest

if importlib.util.find_spec("torch") is not None:  # only when an AI extra is installed
    import torch

    torch.set_num_threads(1)
    # the tiny-model builders import transformers (and through it torchaudio) before any node pack
    # is loaded: install the pack's torchaudio guard first, as loading the packs does for a user
    from nodes._coqui import guard_torchaudio

    guard_torchaudio()


@pytest.fixture(scope="session", autouse=True)
def allow_reading_test_folders(tmp_path_factory):
    """Graphs read only inside their own folder and the folders the user allows (nodegraph.policy);
    the tests build tiny models and media in pytest's temp folders and name them by absolute path,
    so they allow that folder the way a user allows a model folder. Tests of the rule itself
    (test_untrusted_io.py, test_fuzz_graphs.py) take the setting away again."""
    base = str(tmp_path_factory.getbasetemp())
    old = os.environ.get("NODEGRAPH_ALLOW_READ")
    os.environ["NODEGRAPH_ALLOW_READ"] = os.pathsep.join(p for p in (old, base) if p)
    yield
    if old is None:
        os.environ.pop("NODEGRAPH_ALLOW_READ", None)
    else:
        os.environ["NODEGRAPH_ALLOW_READ"] = old


@pytest.fixture(scope="session")
def registry():
    from nodegraph.registry import default_registry

    return default_registry()


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """Tiny random-weight Stable Diffusion files (folder, single file, hub cache, IP-Adapters,
    LoRA, unsupported checkpoints), built once per test session."""
    from tinymodels import build_all

    return build_all(tmp_path_factory.mktemp("tiny-models"))
