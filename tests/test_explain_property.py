"""``explain`` and ``run`` decide with one function, so they agree: a property test over random
graphs and random edit sequences (param edits, relinks, pin and unpin, cache policies, target
changes, an input file's content changing, values evicted from the cache, a new process over the
same cache).

After every edit, ``explain`` is asked first, then ``run``; the nodes' functions count their own
calls. Asserted each time:

* every node explain says "yes" to is computed by run, exactly once;
* no node explain says "no" to is computed;
* a "maybe" node is computed exactly when its key (known once its upstream ran) was not in the
  cache before the run;
* run's statuses tell the truth: a node is "computed" exactly when its function was called.
"""
from __future__ import annotations

import tempfile
import threading
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nodegraph import Context, Number, Path as PathT, Seed, Text, Variadic, node
from nodegraph.cache import Cache
from nodegraph.commands import AddNode, Batch, Connect, Disconnect, SetCachePolicy, SetParam, SetPin
from nodegraph.evaluate import Evaluator
from nodegraph.graph import Document
from nodegraph.registry import Registry

CALLS: dict[str, int] = {}
_lock = threading.Lock()


def _called(ctx: Context) -> None:
    with _lock:
        CALLS[ctx.node_id] = CALLS.get(ctx.node_id, 0) + 1


@node("prop.const")
def const(value: float = 0.0, ctx: Context = None) -> Number:
    _called(ctx)
    return value


@node("prop.add")
def add(a: float = 0.0, b: float = 0.0, ctx: Context = None) -> Number:
    _called(ctx)
    return a + b


@node("prop.clamp")
def clamp(x: float = 0.0, hi: float = 1.0, ctx: Context = None) -> Number:
    """Many inputs give one output: early cutoff."""
    _called(ctx)
    return min(x, hi)


@node("prop.sum")
def total(values: Variadic[Number], ctx: Context = None) -> Number:
    _called(ctx)
    return float(sum(values))


@node("prop.noise", determinism="seeded")
def noise(x: float = 0.0, seed: Seed = 1, ctx: Context = None) -> Number:
    _called(ctx)
    return x + (seed % 7) / 7.0


@node("prop.random", determinism="nondeterministic")
def rand(x: float = 0.0, ctx: Context = None) -> Number:
    _called(ctx)
    import random

    return x + random.random()


@node("prop.read", determinism="reads-files")
def read(path: PathT(must_exist=True) = "input.txt", ctx: Context = None) -> Number:
    _called(ctx)
    return float(Path(path).read_text(encoding="utf-8"))


@node("prop.save", output=True, cost="io")
def save(x: float = 0.0, filename: Text = "out.txt", ctx: Context = None) -> PathT:
    _called(ctx)
    p = ctx.output_path(filename)
    p.write_text(repr(x), encoding="utf-8")
    return str(p)


def registry() -> Registry:
    reg = Registry()
    for fn in (const, add, clamp, total, noise, rand, read, save):
        reg.add(fn.__nodegraph__)
    return reg


REG = registry()
ROOTS = ["prop.const", "prop.read"]
INNER = ["prop.add", "prop.clamp", "prop.sum", "prop.noise", "prop.random", "prop.save"]
SMALL = st.sampled_from([0.0, 1.0, 2.0, 3.0])  # few values: edits often go back to a cached state


@st.composite
def graphs(draw) -> tuple[list, list]:
    """(nodes [(id, type, params)], links [(src, dst, port)]) in dependency order."""
    n = draw(st.integers(3, 9))
    nodes, links = [], []
    for i in range(n):
        nid = f"n{i}"
        if i < 2 or draw(st.integers(0, 4)) == 0:
            t = draw(st.sampled_from(ROOTS))
            nodes.append((nid, t, {"value": draw(SMALL)} if t == "prop.const" else {}))
            continue
        t = draw(st.sampled_from(INNER))
        ports = {"prop.add": ["a", "b"], "prop.clamp": ["x"], "prop.sum": ["values"], "prop.noise": ["x"],
                 "prop.random": ["x"], "prop.save": ["x"]}[t]
        params = {"prop.clamp": {"hi": draw(SMALL)}, "prop.noise": {"seed": draw(st.integers(0, 3))},
                  "prop.save": {"filename": f"{nid}.txt"}}.get(t, {})
        nodes.append((nid, t, params))
        sources = [m for m, mt, _ in nodes[:i] if mt != "prop.save"]  # a save node outputs a path
        for port in ports:
            count = draw(st.integers(1, 3)) if port == "values" else 1
            for _ in range(count):
                links.append((draw(st.sampled_from(sources)), nid, port))
    return nodes, links


EDITS = st.lists(st.tuples(st.sampled_from(["param", "relink", "pin", "unpin", "policy", "targets", "file",
                                             "evict", "restart", "observe", "nothing"]),
                           st.integers(0, 1000), st.integers(0, 1000)), min_size=1, max_size=7)


def build(nodes: list, links: list) -> Document:
    doc = Document()
    cmds: list = [AddNode(t, nid, params) for nid, t, params in nodes]
    cmds += [Connect(s, "number", d, p, append=p == "values") for s, d, p in links]
    Batch(cmds)(doc)
    return doc


def action_keys(cache: Cache) -> set[bytes]:
    """Every action key the cache holds (test-only look into the tiers)."""
    keys = set(cache.memory._actions)
    if cache.disk is not None:
        keys |= {k for (k,) in cache.disk._exec("SELECT key FROM actions")}
    return keys


def check(ev: Evaluator, doc: Document, targets, observe: bool) -> object:
    plan = ev.explain(doc, targets)
    before = action_keys(ev.cache)  # what was in the cache before the run decides every "maybe"
    CALLS.clear()
    events = []
    result = ev.run(doc, targets, on_event=events.append if observe else None)
    for nid, r in result.nodes.items():
        ran = CALLS.get(nid, 0)
        assert ran <= 1, f"{nid} computed {ran} times in one run"
        assert (r.status == "computed") == (ran == 1), f"{nid}: status {r.status} but called {ran} times"
    assert set(CALLS) <= set(plan), f"computed nodes the targets do not need: {set(CALLS) - set(plan)}"
    for nid, ex in plan.items():
        ran = CALLS.get(nid, 0)
        if ex.will_run == "yes":
            assert ran == 1 or result.nodes[nid].status == "skipped" and result.nodes[nid].error != "cancelled" \
                and any(result.nodes[p].status == "failed" for p in doc.upstream([nid]) if p != nid), \
                f"explain said yes ({ex.reason}) to {nid}, run {result.nodes[nid].status}"
        elif ex.will_run == "no":
            assert ran == 0, f"explain said no ({ex.reason}) to {nid}, but run computed it"
        else:
            assert ex.will_run == "maybe", ex
            r = result.nodes[nid]
            made_now = {result.nodes[n].key for n in CALLS}  # an identical node computed it first
            if r.status == "computed":
                evicted = "evicted" in ex.reason and any(CALLS.get(d) for d in doc.g.successors(nid))
                assert r.key not in before or REG.specs[r.type].output or evicted, \
                    f"maybe-node {nid} computed although its key was cached ({ex.reason})"
            elif r.status == "cached":
                assert r.key in before or r.key in made_now, f"maybe-node {nid} cached without a cached key"
    if observe:
        planned = {e.node: e.data["will_run"] for e in events if e.kind == "planned"}
        assert planned == {n: ex.will_run for n, ex in plan.items()}
    return result


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph=graphs(), edits=EDITS, workers=st.sampled_from([1, 2]))
def test_explain_agrees_with_run(graph, edits, workers):
    nodes, links = graph
    with tempfile.TemporaryDirectory(prefix="nodegraph-prop-") as tmp:
        tmp = Path(tmp)
        (tmp / "input.txt").write_text("1.0", encoding="utf-8")
        doc = build(nodes, links)

        def evaluator() -> Evaluator:
            return Evaluator(REG, output_dir=tmp / "out", base_dir=tmp, cache=Cache(tmp / "cache"), workers=workers,
                             graph_id=str(tmp / "graph.json"))

        ev = evaluator()
        targets = None
        result = check(ev, doc, targets, False)
        ids = [n for n, _, _ in nodes]
        for kind, a, b in edits:
            nid = ids[a % len(ids)]
            t = doc.type_of(nid)
            if kind == "param":
                if t == "prop.const":
                    SetParam(nid, "value", float(b % 4))(doc)
                elif t == "prop.clamp":
                    SetParam(nid, "hi", float(b % 4))(doc)
                elif t == "prop.noise":
                    SetParam(nid, "seed", b % 4)(doc)
            elif kind == "relink":
                links_in = doc.links_into(nid)
                earlier = [n for n in ids[: ids.index(nid)] if doc.type_of(n) != "prop.save"]
                if links_in and earlier:
                    old = links_in[b % len(links_in)]
                    new_src = earlier[b % len(earlier)]
                    Disconnect(old.src, old.src_port, nid, old.dst_port)(doc)
                    Connect(new_src, "number", nid, old.dst_port, append=old.dst_port == "values")(doc)
            elif kind == "pin":
                if nid in result.nodes and result.nodes[nid].ok:
                    ev.pin(result, nid)(doc)
            elif kind == "unpin":
                if doc.node(nid).get("pinned"):
                    SetPin(nid, None)(doc)
            elif kind == "policy":
                SetCachePolicy(nid, ["default", "always", "never"][b % 3])(doc)
            elif kind == "targets":
                targets = None if b % 3 == 0 else sorted({ids[a % len(ids)], ids[b % len(ids)]})
            elif kind == "file":
                (tmp / "input.txt").write_text(f"{b % 3}.0", encoding="utf-8")
            elif kind == "evict":
                r = result.nodes.get(nid)
                if r is not None and r.digests:
                    for d in r.digests.values():
                        ev.cache.evict(d)
            elif kind == "restart":  # a new process over the same cache
                ev.cache.close()
                ev = evaluator()
            result = check(ev, doc, targets, kind == "observe")
        ev.cache.close()
