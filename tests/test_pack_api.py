"""The one public module a node pack uses, and the models door of its Context (``ctx.models``)."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import nodegraph
from nodegraph import Context, Image, Models, ModelNotFound


def test_every_public_name_exists_and_importing_it_loads_no_heavy_library():
    missing = [n for n in nodegraph.__all__ if not hasattr(nodegraph, n)]
    assert not missing
    code = ("import sys, nodegraph; heavy = [m for m in ('torch', 'dearpygui', 'diffusers', 'transformers', 'nodes', "
            "'nodegraph.evaluate', 'nodegraph.cli', 'nodegraph.editor') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_docstring_example_node_runs():
    """The example in nodegraph's docstring is real code."""
    src = nodegraph.__doc__.split("::", 1)[1].split("\n\nWhat is here", 1)[0]
    scope: dict = {}
    exec(compile("\n".join(line[4:] for line in src.splitlines()), "<docstring>", "exec"), scope)
    events: list = []
    ctx = Context("b", "mypack.brighten", output_dir=Path("."), base_dir=Path("."),
                  emit=lambda kind, data: events.append((kind, data)))
    out = scope["brighten"](Image(np.full((2, 2, 3), 250, np.uint8)), 20, ctx=ctx)
    assert out.pixels.max() == 255 and events[0][0] == "progress"
    with pytest.raises(nodegraph.ValueError_, match="grey"):
        scope["brighten"](Image(np.zeros((2, 2, 1), np.uint8)), 20, ctx=ctx)


def _model_folder(root: Path) -> Path:
    folder = root / "graphs" / "models" / "tiny"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "tiny"}))
    (folder / "model.safetensors").write_bytes(b"0" * 64)
    return folder


def test_ctx_models_resolves_relative_paths_against_the_graph_folder(tmp_path):
    folder = _model_folder(tmp_path)
    ctx = Context("n", "t.t", output_dir=tmp_path / "out", base_dir=tmp_path / "graphs")
    m = ctx.models.local("models/tiny", "audio")
    assert m.path == folder and m.format == "transformers"
    assert ctx.models.resolve("tiny", "audio", base_dir=folder.parent).path == folder
    with pytest.raises(ModelNotFound, match="models/absent"):
        ctx.models.resolve("./models/absent", "audio")


def test_ctx_models_loads_each_key_once_even_when_asked_at_once(tmp_path):
    folder = _model_folder(tmp_path)
    models = Models(tmp_path / "graphs", cache=nodegraph.models.ModelCache(budget_bytes=1 << 30))
    ctx = Context("n", "t.t", output_dir=tmp_path / "out", base_dir=tmp_path / "graphs", models=models)
    assert ctx.models is models
    m = ctx.models.local(str(folder), "audio")
    calls, got = [], []
    gate = threading.Barrier(4)

    def ask() -> None:
        gate.wait()
        got.append(ctx.models.load((m.digest(), "tiny", "cpu", "float32"), lambda: calls.append(1) or object(),
                                   size=m.size))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len({id(x) for x in got}) == 1 and models.cache.loads == 1


def test_a_context_without_models_shares_the_process_cache(tmp_path):
    a = Context("a", "t.t", output_dir=tmp_path, base_dir=tmp_path)
    b = Context("b", "t.t", output_dir=tmp_path, base_dir=tmp_path / "x")
    assert a.models.cache is b.models.cache is nodegraph.models.shared_cache()
    assert b.models.base_dir == tmp_path / "x"


def test_dtype_preference_then_environment_then_default(monkeypatch):
    models = Models()
    monkeypatch.delenv("NODEGRAPH_DTYPE", raising=False)
    assert models.dtype("cpu") == "float32" and models.dtype("cuda") == "float16"
    assert models.dtype("cuda", default="float32") == "float32"
    assert models.dtype("cuda", "auto", default="float32") == "float32"
    assert models.dtype("cpu", "bfloat16", default="float32") == "bfloat16"
    monkeypatch.setenv("NODEGRAPH_DTYPE", "float16")
    assert models.dtype("cpu", default="float32") == "float16"
    with pytest.raises(nodegraph.ModelError, match="float8"):
        models.dtype("cpu", "float8")
