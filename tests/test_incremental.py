"""The cached incremental evaluator: exact counts, early cutoff, persistence, corruption,
crashes, parallelism, resource locks, cancellation, policies, pinning, explain."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import testpack
from nodegraph.cache import Cache
from nodegraph.commands import AddNode, Batch, Connect, Move, SetCachePolicy, SetLabel, SetParam, SetPin
from nodegraph.context import CancelToken
from nodegraph.evaluate import Evaluator
from nodegraph.fileformat import save
from nodegraph.graph import Document

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def reg():
    return testpack.registry()


def build(nodes: dict, links: list = ()) -> Document:
    doc = Document()
    cmds = [AddNode(t, nid, params) for nid, (t, params) in nodes.items()]
    for src, sport, dst, dport in links:
        cmds.append(Connect(src, sport, dst, dport, append=dport == "values"))
    Batch(cmds)(doc)
    return doc


def diamond() -> Document:
    """a, b consts -> s1 = a+b, s2 = b+c ; c const ; top = sum(s1, s2) ; side = a + 100 (other branch)"""
    return build(
        {"a": ("t.const", {"value": 1.0}), "b": ("t.const", {"value": 2.0}), "c": ("t.const", {"value": 3.0}),
         "s1": ("t.add", {}), "s2": ("t.add", {}), "top": ("t.sum", {}), "side": ("t.add", {"b": 100.0})},
        [("a", "number", "s1", "a"), ("b", "number", "s1", "b"), ("b", "number", "s2", "a"),
         ("c", "number", "s2", "b"), ("s1", "number", "top", "values"), ("s2", "number", "top", "values"),
         ("a", "number", "side", "a")])


def ev(reg, tmp_path, **kw) -> Evaluator:
    kw.setdefault("cache", Cache(tmp_path / "cache"))
    return Evaluator(reg, output_dir=tmp_path / "out", **kw)


def computed(result) -> set[str]:
    return {n for n, r in result.nodes.items() if r.status == "computed"}


def test_only_changed_nodes_and_their_dependents_run(reg, tmp_path):
    doc, e = diamond(), ev(reg, tmp_path)
    first = e.run(doc, ["top", "side"])
    assert computed(first) == {"a", "b", "c", "s1", "s2", "top", "side"}
    assert first.value("top") == 8.0
    assert computed(e.run(doc, ["top", "side"])) == set()
    SetParam("c", "value", 5.0)(doc)
    again = e.run(doc, ["top", "side"])
    assert computed(again) == {"c", "s2", "top"}
    assert again.count("cached") == 4 and again.value("top") == 10.0
    SetParam("a", "value", 4.0)(doc)  # run to one target: only its ancestors are even looked at
    only = e.run(doc, ["side"])
    assert sorted(only.nodes) == ["a", "side"] and computed(only) == {"a", "side"}


def test_early_cutoff_when_a_rerun_gives_the_same_output(reg, tmp_path):
    doc = build({"x": ("t.const", {"value": 50.0}), "clamp": ("t.clamp", {"hi": 10.0}),
                 "img": ("t.image", {}), "big": ("t.add", {"b": 1.0})},
                [("x", "number", "clamp", "x"), ("clamp", "number", "img", "value"), ("img", "image", "big", "a")]
                if False else [("x", "number", "clamp", "x"), ("clamp", "number", "img", "value"), ("clamp", "number", "big", "a")])
    e = ev(reg, tmp_path)
    assert len(computed(e.run(doc, ["img", "big"]))) == 4
    SetParam("x", "value", 70.0)(doc)  # clamp re-runs and still gives 10: nothing below re-runs
    result = e.run(doc, ["img", "big"])
    assert computed(result) == {"x", "clamp"}
    assert result.nodes["img"].status == "cached" and result.nodes["big"].status == "cached"


def test_layout_and_label_edits_run_nothing(reg, tmp_path):
    doc, e = diamond(), ev(reg, tmp_path)
    e.run(doc, ["top"])
    Move("a", (500, 500))(doc)
    SetLabel("top", "Total")(doc)
    assert computed(e.run(doc, ["top"])) == set()


def _run_cli(args, cache_dir, cwd):
    env = dict(os.environ, NODEGRAPH_CACHE_DIR=str(cache_dir))
    return subprocess.run([sys.executable, "-m", "nodegraph", *args], capture_output=True, text=True, env=env, cwd=cwd)


def test_a_new_process_over_a_warm_cache_computes_nothing(tmp_path):
    root = Path(__file__).resolve().parent.parent
    out, cache = tmp_path / "out", tmp_path / "cache"
    args = ["run", str(root / "graphs/demo.json"), "-o", str(out), "-q", "--report"]
    p1 = _run_cli(args + [str(tmp_path / "r1.json")], cache, tmp_path)
    assert p1.returncode == 0, p1.stderr
    p2 = _run_cli(args + [str(tmp_path / "r2.json")], cache, tmp_path)
    assert p2.returncode == 0, p2.stderr
    r1 = json.loads((tmp_path / "r1.json").read_text())
    r2 = json.loads((tmp_path / "r2.json").read_text())
    assert r1["counts"]["computed"] == 8
    assert r2["counts"] == {"computed": 0, "cached": 8, "pinned": 0, "failed": 0, "skipped": 0}
    assert r2["outputs"]["save_card"]["path"]["digest"] == r1["outputs"]["save_card"]["path"]["digest"]
    # explain in a third process knows what changed since the last run
    p3 = _run_cli(["explain", str(root / "graphs/demo.json"), "-o", str(out), "--json", "--set", "title.value=Other"], cache, tmp_path)
    plan = json.loads(p3.stdout)
    assert plan["title"] == {"will_run": "yes", "reason": "param 'value' changed"}
    assert plan["background"]["will_run"] == "no" and plan["draw_title"]["will_run"] == "maybe"
    _run_cli(["run", str(root / "graphs/demo.json"), "-o", str(out), "-q", "--no-cache", "--report", str(tmp_path / "r4.json")], cache, tmp_path)
    assert json.loads((tmp_path / "r4.json").read_text())["counts"]["computed"] == 8


def test_corrupt_blob_is_detected_and_recomputed(reg, tmp_path):
    doc = build({"x": ("t.const", {"value": 7.0}), "img": ("t.image", {"size": 128})}, [("x", "number", "img", "value")])
    e1 = ev(reg, tmp_path)
    good = e1.run(doc, ["img"]).value("img")
    digest = good.digest()
    blob = e1.cache.disk.blob_path(digest)
    data = bytearray(blob.read_bytes())
    data[-5] ^= 0xFF
    blob.write_bytes(bytes(data))
    e2 = ev(reg, tmp_path)  # a new evaluator: its RAM tier is empty, the disk copy is corrupt
    result = e2.run(doc, ["img"])
    assert result.nodes["img"].status == "cached"  # the action is still valid ...
    assert result.value("img") == good  # ... but the value was rebuilt, not read corrupt
    assert e2.cache.disk.corrupt_found == 1 and e2.cache.disk.has(digest)
    # a truncated blob (crash while someone copied the cache, full disk, ...)
    blob.write_bytes(blob.read_bytes()[:20])
    assert ev(reg, tmp_path).run(doc, ["img"]).value("img") == good


def test_corrupt_small_value_in_the_index_is_detected(reg, tmp_path):
    doc = build({"x": ("t.const", {"value": 7.0}), "img": ("t.image", {"size": 8})}, [("x", "number", "img", "value")])
    e1 = ev(reg, tmp_path)
    good = e1.run(doc, ["img"]).value("img")
    assert not e1.cache.disk.blob_path(good.digest()).exists()  # small: kept inside the index
    e1.cache.close()
    db = sqlite3.connect(tmp_path / "cache" / "index.sqlite")
    db.execute("UPDATE blobs SET data = CAST(substr(data, 1, length(data) - 3) || x'000000' AS BLOB)")
    db.commit()
    db.close()
    e2 = ev(reg, tmp_path)
    assert e2.run(doc, ["img"]).value("img") == good and e2.cache.disk.corrupt_found >= 1


def test_truncated_index_entry_is_discarded_and_recomputed(reg, tmp_path):
    doc = diamond()
    e1 = ev(reg, tmp_path)
    e1.run(doc, ["top"])
    e1.cache.close()
    db = sqlite3.connect(tmp_path / "cache" / "index.sqlite")
    db.execute("UPDATE actions SET outputs = substr(outputs, 1, 5)")
    db.commit()
    db.close()
    result = ev(reg, tmp_path).run(doc, ["top"])
    assert result.ok and result.value("top") == 8.0 and result.count("computed") == 6


def test_corrupt_index_file_is_set_aside(reg, tmp_path):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "index.sqlite").write_bytes(b"this is not a database" * 100)
    result = ev(reg, tmp_path).run(diamond(), ["top"])
    assert result.ok and result.value("top") == 8.0
    assert list((tmp_path / "cache").glob("index.sqlite.corrupt-*"))


def test_sigkill_in_the_middle_of_a_run_then_rerun(tmp_path):
    graph = tmp_path / "g.json"
    flag = tmp_path / "die"
    doc = build({"a": ("t.const", {"value": 2.0}), "slow": ("t.sleep", {"seconds": 0.05}),
                 "img": ("t.image", {"size": 64}), "boom": ("t.die_if", {"flag_file": str(flag)}),
                 "end": ("t.add", {"b": 1.0})},
                [("a", "number", "slow", "x"), ("slow", "number", "img", "value"), ("slow", "number", "boom", "x"),
                 ("boom", "number", "end", "a")])
    save(doc, graph)
    script = (f"import sys; sys.path.insert(0, {str(HERE)!r}); import testpack; "
              "from nodegraph.evaluate import Evaluator; from nodegraph.cache import Cache; "
              "from nodegraph.fileformat import load; "
              f"r = Evaluator(testpack.registry(), output_dir={str(tmp_path / 'out')!r}, workers=1, "
              f"cache=Cache({str(tmp_path / 'cache')!r})).run(load({str(graph)!r}), ['end', 'img']); "
              "print(r.value('end'), r.count('computed'), r.count('cached'))")
    flag.write_text("x")
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert killed.returncode == -9  # died in the middle: a and slow done, boom mid-way
    flag.unlink()
    again = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    value, n_computed, n_cached = again.stdout.split()
    # a and slow were stored before the kill; boom (killed mid-way), img and end run now
    assert float(value) == 3.0 and (int(n_computed), int(n_cached)) == (3, 2)


def test_parallel_and_serial_runs_give_identical_outputs(reg, tmp_path):
    import random

    rng = random.Random(3)
    nodes = {f"c{i}": ("t.const", {"value": float(rng.randint(0, 50))}) for i in range(8)}
    links = []
    for i in range(30):
        nodes[f"n{i}"] = ("t.add", {})
        pool = [f"c{j}" for j in range(8)] + [f"n{j}" for j in range(i)]
        a, b = rng.sample(pool, 2)
        links += [(a, "number", f"n{i}", "a"), (b, "number", f"n{i}", "b")]
    nodes["img"] = ("t.image", {})
    links.append(("n29", "number", "img", "value"))
    doc = build(nodes, links)
    targets = [f"n{i}" for i in range(30)] + ["img"]
    serial = ev(reg, tmp_path / "s", workers=1).run(doc, targets)
    parallel = ev(reg, tmp_path / "p", workers=4).run(doc, targets)
    assert serial.ok and parallel.ok
    assert {n: r.digests for n, r in serial.nodes.items()} == {n: r.digests for n, r in parallel.nodes.items()}


def test_gpu_locked_nodes_never_overlap_but_cpu_branches_do(reg, tmp_path):
    # a node type is measured the first time it runs (inline: most nodes cost less than a thread
    # hand-off); from then on, in this process and the next, a slow one goes to the worker pool
    warm = build({"w": ("t.sleep", {"tag": "warm-up", "seconds": 0.05})})
    assert ev(reg, tmp_path, workers=4).run(warm, ["w"]).ok
    testpack.INTERVALS.clear()
    doc = build({"g1": ("t.gpu_sleep", {"tag": "g1", "seconds": 0.3}), "g2": ("t.gpu_sleep", {"tag": "g2", "seconds": 0.3}),
                 "c1": ("t.sleep", {"tag": "c1", "seconds": 0.3}), "c2": ("t.sleep", {"tag": "c2", "seconds": 0.3})})
    assert ev(reg, tmp_path, workers=4).run(doc, ["g1", "g2", "c1", "c2"]).ok  # a new evaluator: the type is known
    spans = {tag: (s, e) for tag, s, e in testpack.INTERVALS}
    (a0, a1), (b0, b1) = spans["g1"], spans["g2"]
    assert a1 <= b0 or b1 <= a0, "two gpu nodes ran at the same time"
    (c0, c1), (d0, d1) = spans["c1"], spans["c2"]
    assert c0 < d1 and d0 < c1, "independent cpu branches did not run concurrently"


def test_cancellation_inside_a_long_node_leaves_no_entry(reg, tmp_path):
    doc = build({"a": ("t.const", {"value": 1.0}), "slow": ("t.sleep", {"seconds": 5.0}), "after": ("t.add", {})},
                [("a", "number", "slow", "x"), ("slow", "number", "after", "a")])
    e, token = ev(reg, tmp_path), CancelToken()

    def on_event(ev_):
        if ev_.kind == "progress" and ev_.node == "slow":
            token.cancel()

    t = time.perf_counter()
    result = e.run(doc, ["after"], on_event=on_event, cancel=token)
    assert time.perf_counter() - t < 2.0
    assert result.cancelled and result.nodes["slow"].status == "skipped" and result.nodes["after"].status == "skipped"
    assert result.nodes["a"].status == "computed"
    plan = e.explain(doc, ["after"])
    assert plan["a"].will_run == "no" and plan["slow"].will_run == "yes"


def test_a_failure_keeps_other_branches_cached(reg, tmp_path):
    doc = build({"a": ("t.const", {"value": 1.0}), "bad": ("t.fail", {}), "after_bad": ("t.add", {}),
                 "good": ("t.add", {"b": 2.0})},
                [("a", "number", "bad", "x"), ("bad", "number", "after_bad", "a"), ("a", "number", "good", "a")])
    e = ev(reg, tmp_path)
    first = e.run(doc, ["after_bad", "good"])
    assert first.nodes["bad"].status == "failed" and first.nodes["bad"].error == "this node always fails"
    assert first.nodes["after_bad"].status == "skipped" and first.value("good") == 3.0
    second = ev(reg, tmp_path).run(doc, ["after_bad", "good"])
    assert second.nodes["good"].status == "cached" and second.nodes["bad"].status == "failed"


def test_cache_policies_and_nondeterministic_nodes(reg, tmp_path):
    doc = build({"r": ("t.random", {}), "a": ("t.const", {"value": 1.0}), "b": ("t.const", {"value": 2.0})})
    SetCachePolicy("a", "always")(doc)
    SetCachePolicy("b", "never")(doc)
    e = ev(reg, tmp_path)
    e.run(doc, ["r", "a", "b"])
    second = e.run(doc, ["r", "a", "b"])
    assert computed(second) == {"r", "a", "b"}
    plan = e.explain(doc, ["r", "a", "b"])
    assert plan["r"].reason.startswith("nondeterministic") and plan["a"].reason == "always recompute (cache policy)"
    assert plan["b"].reason == "never cached (cache policy)"
    b_key = second.nodes["b"].key
    assert e.cache.disk.get_action(b_key) is None and e.cache.disk.get_action(second.nodes["a"].key) is not None


def test_pinning_keeps_a_nondeterministic_take(reg, tmp_path):
    doc = build({"r": ("t.random", {}), "use": ("t.add", {"b": 1.0})}, [("r", "number", "use", "a")])
    e = ev(reg, tmp_path)
    liked = e.run(doc, ["use"])
    e.pin(liked, "r")(doc)
    later = ev(reg, tmp_path).run(doc, ["use"])  # even in a new evaluator (new process, same cache)
    assert later.nodes["r"].status == "pinned" and later.nodes["use"].status == "cached"
    assert later.value("use") == liked.value("use")
    e.cache.disk.gc(0)  # pinned values survive eviction
    assert ev(reg, tmp_path).run(doc, ["use"]).value("r") == liked.value("r")
    SetPin("r", None)(doc)
    assert ev(reg, tmp_path).run(doc, ["use"]).nodes["r"].status == "computed"


def test_files_are_keyed_by_content_not_path(reg, tmp_path):
    src = tmp_path / "words.txt"
    src.write_text("hello", encoding="utf-8")
    doc = build({"r": ("t.read", {"path": str(src)})})
    e = ev(reg, tmp_path)
    assert computed(e.run(doc, ["r"])) == {"r"}
    os.utime(src, (time.time() + 5, time.time() + 5))  # touched, same content
    assert computed(e.run(doc, ["r"])) == set()
    moved = tmp_path / "moved.txt"
    src.rename(moved)
    SetParam("r", "path", str(moved))(doc)
    assert computed(e.run(doc, ["r"])) == set()
    moved.write_text("changed", encoding="utf-8")
    result = e.run(doc, ["r"])
    assert computed(result) == {"r"} and result.value("r") == "changed"
    assert e.explain(doc, ["r"])["r"].will_run == "no"


def test_explain_reasons(reg, tmp_path):
    doc = diamond()
    e = ev(reg, tmp_path)
    first = e.explain(doc, ["top"])
    assert all(x.reason.startswith("not yet computed") for x in first.values())
    # roots certainly run; below them the key is known only once the upstream values are
    assert {n for n, x in first.items() if x.will_run == "yes"} == {"a", "b", "c"}
    assert {n for n, x in first.items() if x.will_run == "maybe"} == {"s1", "s2", "top"}
    e.run(doc, ["top"])
    SetParam("b", "value", 9.0)(doc)
    plan = e.explain(doc, ["top", "side"])
    assert plan["b"] == ("yes", "param 'value' changed") or (plan["b"].will_run, plan["b"].reason) == ("yes", "param 'value' changed")
    assert plan["a"].will_run == "no" and plan["c"].will_run == "no"
    assert plan["s1"].will_run == "maybe" and "upstream 'b' will re-run" in plan["s1"].reason
    assert (plan["side"].will_run, plan["side"].reason) == ("yes", "not yet computed")  # its input is known
    result = e.run(doc, ["top"])
    assert result.nodes["s1"].reason == "upstream 'b' changed" and result.nodes["top"].reason == "upstream 's1', 's2' changed"
    # a newer node version invalidates
    import dataclasses

    bumped = testpack.registry()
    bumped.specs["t.add"] = dataclasses.replace(bumped.specs["t.add"], version="1.1.0")
    plan = Evaluator(bumped, output_dir=tmp_path / "out", cache=e.cache).explain(doc, ["top"])
    assert (plan["s1"].will_run, plan["s1"].reason) == ("yes", "not yet computed") or "version" in plan["s1"].reason


def test_evicted_value_needed_downstream_is_explained_and_recomputed(reg, tmp_path):
    doc = build({"x": ("t.const", {"value": 3.0}), "img": ("t.image", {}), "y": ("t.add", {})},
                [("x", "number", "img", "value"), ("x", "number", "y", "a")])
    e = ev(reg, tmp_path)
    e.run(doc, ["img"])
    e.cache.disk.clear()  # values and actions gone from disk
    fresh = ev(reg, tmp_path, cache=Cache(tmp_path / "cache", memory_bytes=0))
    result = fresh.run(doc, ["img", "y"])
    assert result.ok and result.value("y") == 3.0


def test_memory_tier_spills_to_disk_and_model_handles_stay_in_ram(tmp_path):
    import numpy as np

    from nodegraph.cache.memory import MemoryTier
    from nodegraph.types import Image, ValueType, register_type

    cache = Cache(tmp_path / "c", memory_bytes=10_000)
    imgs = [Image(np.full((40, 40, 3), i, np.uint8)) for i in range(5)]  # 4800 bytes each
    for im in imgs:
        cache.memory.put(im.digest(), im)
    assert cache.memory.nbytes <= 10_000 and cache.memory.evictions >= 3
    assert imgs[-1].digest() in cache.memory  # the most recent stays in RAM
    evicted = [im for im in imgs if im.digest() not in cache.memory]
    assert len(evicted) == cache.memory.evictions and all(cache.disk.has(im.digest()) for im in evicted)  # spilled
    assert cache.get_value(imgs[0].digest()) == imgs[0]

    class Handle:
        pass

    class HandleType(ValueType):
        id, python, persistent = "test_model_handle", (Handle,), False

    register_type(HandleType())
    h = Handle()
    cache.put_value(b"m" * 32, h)
    assert cache.get_value(b"m" * 32) is h and not cache.disk.has(b"m" * 32)
    tier = MemoryTier(100, spill=lambda d, v: None)
    tier.put(b"a" * 32, "x" * 10)
    assert tier.get(b"a" * 32) == "x" * 10


def test_disk_gc_evicts_least_recently_used(reg, tmp_path):
    cache = Cache(tmp_path / "c")
    import numpy as np

    from nodegraph.types import Image

    imgs = [Image(np.full((64, 64, 3), i, np.uint8)) for i in range(4)]
    for i, im in enumerate(imgs):
        cache.disk.put(im.digest(), im)
        cache.disk._exec("UPDATE blobs SET used=? WHERE digest=?", (1000 + i, im.digest()))
    size = cache.disk.info()["bytes"]
    out = cache.disk.gc(size // 2 + 10)
    assert out["evicted"] == 2
    assert [cache.disk.has(im.digest()) for im in imgs] == [False, False, True, True]


def test_cache_cli(tmp_path, capsys):
    from nodegraph.cli import main

    root = Path(__file__).resolve().parent.parent
    cache = tmp_path / "cache"
    assert main(["run", str(root / "graphs/demo.json"), "-o", str(tmp_path / "o"), "-q", "--cache-dir", str(cache)]) == 0
    capsys.readouterr()
    assert main(["cache", "info", "--cache-dir", str(cache)]) == 0
    out = capsys.readouterr().out
    assert f"cache folder: {cache}" in out and "8 results" in out
    assert main(["cache", "gc", "--cache-dir", str(cache), "--max-size", "0"]) == 0
    assert "evicted" in capsys.readouterr().out
    assert main(["cache", "clear", "--cache-dir", str(cache)]) == 0
    capsys.readouterr()
    main(["cache", "info", "--cache-dir", str(cache)])
    assert "0 results, 0 values" in capsys.readouterr().out
    assert main(["cache", "gc", "--cache-dir", str(cache), "--max-size", "lots"]) == 1


def test_reused_results_survive_a_cache_cleared_under_the_evaluator(reg, tmp_path):
    doc = build({"x": ("t.const", {"value": 3.0}), "img": ("t.image", {}), "y": ("t.add", {})},
                [("x", "number", "img", "value"), ("x", "number", "y", "a")])
    e = ev(reg, tmp_path)
    e.run(doc, ["img", "y"])
    e.cache.disk.clear()  # another process ran `nodegraph cache clear`
    e.cache.memory.clear()
    SetParam("y", "b", 1.0)(doc)  # y must re-run and needs x's value, which is gone
    result = e.run(doc, ["img", "y"])
    assert computed(result) >= {"y"} and result.value("y") == 4.0 and result.value("img").pixels[0, 0, 0] == 3


def test_deleted_output_files_are_rewritten_by_the_same_evaluator(registry, tmp_path):
    from nodegraph.fileformat import load

    doc = load("graphs/demo.json")
    e = Evaluator(registry, output_dir=tmp_path / "out", cache=Cache(tmp_path / "cache"))
    e.run(doc)
    assert e.run(doc).count("computed") == 0
    (tmp_path / "out" / "credits.txt").unlink()
    again = e.run(doc)
    assert computed(again) == {"save_credits"} and (tmp_path / "out" / "credits.txt").exists()


def test_reuse_after_edits_matches_a_fresh_evaluator(reg, tmp_path):
    """Many random edits, each followed by a run in a long-lived evaluator: every result must equal
    what a brand-new evaluator over a cold cache computes for the same document."""
    import random

    rng = random.Random(11)
    doc = diamond()
    long_lived = ev(reg, tmp_path / "a")
    for step in range(25):
        node = rng.choice(["a", "b", "c", "side"])
        param = "value" if node != "side" else "b"
        SetParam(node, param, float(rng.randint(0, 5)))(doc)
        got = long_lived.run(doc, ["top", "side"])
        fresh = Evaluator(reg, output_dir=tmp_path / "out", cache=Cache.memory_only()).run(doc, ["top", "side"])
        assert (got.value("top"), got.value("side")) == (fresh.value("top"), fresh.value("side")), step


def test_cheap_nodes_run_inline_and_slow_ones_of_a_known_type_use_the_pool(reg, tmp_path, monkeypatch):
    """More workers are never slower than one: the first node of a type never measured is measured
    on the pool (one thread hand-off), the others of its type wait for that measurement, and cheap
    types then run in the scheduler's thread; the measurement (kept for later processes in
    costs.json in the cache's folder) sends slow types to the pool."""
    import json
    import threading

    from nodegraph import costs

    monkeypatch.setattr(costs, "_process", {})  # as in a new process: nothing measured yet

    seen: dict[str, str] = {}

    def watch(e):
        if e.kind == "started":
            seen[e.node] = threading.current_thread().name

    doc = build({f"c{i}": ("t.const", {"value": float(i)}) for i in range(20)})
    e = ev(reg, tmp_path, workers=4)
    assert e.run(doc, on_event=watch).ok
    here = threading.current_thread().name
    assert sorted(seen.values()).count(here) == 19  # one probe on the pool, then inline: cheap
    seen.clear()
    assert e.run(build({f"d{i}": ("t.const", {"value": -1.0 - i}) for i in range(5)}), on_event=watch).ok
    assert set(seen.values()) == {here}  # measured: no thread hand-off at all
    seen.clear()
    later = build({"s2": ("t.sleep", {"tag": "s2", "seconds": 0.02}), "s3": ("t.sleep", {"tag": "s3", "seconds": 0.03})})
    monkeypatch.setattr(costs, "_process", {})
    monkeypatch.setattr(costs, "_books", {})
    fresh = ev(reg, tmp_path, workers=4)  # another process over the same cache: costs.json tells it
    assert fresh.run(later, on_event=watch).ok
    assert all(name.startswith("nodegraph") for name in seen.values()), seen
    kept = json.loads((tmp_path / "cache" / "costs.json").read_text())
    assert kept["t.sleep"] >= 0.01 and kept["t.const"] < 0.003  # what the next process starts from


def test_a_slow_node_of_unknown_cost_does_not_hold_up_independent_work(reg, tmp_path, monkeypatch):
    """On a cold machine (no type measured), a slow node is measured on the pool, so the cheap
    nodes beside it are not stuck behind it in the scheduler's thread."""
    import time

    from nodegraph import costs

    monkeypatch.setattr(costs, "_process", {})
    monkeypatch.setattr(costs, "_books", {})
    finished: dict[str, float] = {}

    def watch(e):
        if e.kind == "finished":
            finished[e.node] = time.perf_counter()

    nodes = {"slow": ("t.sleep", {"tag": "slow", "seconds": 0.5})}
    nodes |= {f"c{i}": ("t.const", {"value": float(i)}) for i in range(10)}
    assert ev(reg, tmp_path, workers=2).run(build(nodes), on_event=watch).ok
    assert max(finished[f"c{i}"] for i in range(10)) < finished["slow"]


def test_a_finished_run_leaves_no_reference_cycles(reg, tmp_path):
    """A run's results are freed as soon as nobody holds them (reference counting), not at the
    garbage collector's next full pass: a long editor session or a batch of runs does not pile up."""
    import gc

    doc = diamond()
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        e = Evaluator(reg, output_dir=tmp_path / "out", cache=Cache.memory_only())
        result = e.run(doc, ["top", "side"])
        assert result.value("top") == 8.0
        del result, e
        gc.collect()
        kinds = {type(o).__name__ for o in gc.garbage}
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert not kinds & {"NodeResult", "RunResult", "KeyMaterial", "Evaluator", "Cache", "MemoryTier", "Scheduler"}, kinds
