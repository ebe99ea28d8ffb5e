"""The scheduler keeps both cores busy: work made ready while a slow node runs on the pool starts
at once, and the cache's writer never sits out its gathering delay while a node waits for it."""
from __future__ import annotations

import threading
import time

import testpack
from nodegraph import costs
from nodegraph.cache import Cache, writer
from nodegraph.commands import AddNode, Batch, Connect
from nodegraph.evaluate import Evaluator
from nodegraph.graph import Document


def test_a_node_made_ready_by_an_inline_node_does_not_wait_for_a_slow_pool_node(tmp_path, monkeypatch):
    """``a_slow`` goes to the pool first (a type never measured is measured there); ``c`` is a cheap,
    measured type and runs inline; ``d`` needs only ``c``. The scheduler used to block on the pool
    after ``c`` (until ``a_slow`` finished) before deciding ``d``."""
    monkeypatch.setattr(costs, "_process", {"t.const": 1e-6, "t.add": 1e-6})
    monkeypatch.setattr(costs, "_books", {})
    doc = Document()
    Batch([AddNode("t.sleep", "a_slow", {"tag": "a_slow", "seconds": 1.0}), AddNode("t.const", "c", {"value": 2.0}),
           AddNode("t.add", "d", {"b": 1.0}), Connect("c", "number", "d", "a")])(doc)
    finished: dict[str, float] = {}
    where: dict[str, str] = {}

    def watch(e):
        if e.kind == "started":
            where[e.node] = threading.current_thread().name
        if e.kind == "finished":
            finished[e.node] = time.perf_counter()

    result = Evaluator(testpack.registry(), output_dir=tmp_path / "out", cache=Cache(tmp_path / "cache"),
                       workers=2).run(doc, on_event=watch)
    assert result.ok and result.value("d") == 3.0
    assert where["a_slow"].startswith("nodegraph") and where["c"] == threading.current_thread().name
    assert finished["d"] < finished["a_slow"], "d waited for the slow node it does not need"


def test_a_flush_is_not_missed_by_a_writer_about_to_gather(monkeypatch):
    """A node that took a while waits for its result to be committed (``DiskTier.put_result``). A
    flush arriving between the writer's wake-up and its gathering wait was missed, and the node
    waited out the whole gathering delay; with the delay made an hour long, every flush must still
    return at once."""
    monkeypatch.setattr(writer, "GATHER", 3600.0)
    committed: list = []
    w = writer.BatchWriter(committed.extend, name="test-writer")
    try:
        for i in range(50):
            done = threading.Event()

            def submit_and_flush(i=i):
                w.submit(i)
                w.flush()
                done.set()

            threading.Thread(target=submit_and_flush, daemon=True).start()
            assert done.wait(20), f"flush {i} was missed: the writer sat out its gathering delay"
        assert committed == list(range(50))
    finally:
        monkeypatch.setattr(writer, "GATHER", 0.0)
        w.close()
