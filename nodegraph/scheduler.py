"""Scheduling one run, and running one node (used by ``nodegraph.evaluate.Evaluator``).

Nodes are decided in the scheduler's thread as their inputs become known (``Evaluator.decide``).
A node that must compute runs inline when it is cheap (most nodes: a thread hand-off costs more
than they do) and on the worker pool when its cost hint (``cost="gpu"`` or ``"io"``) or its
node type's measured time (``nodegraph.costs``: in this process, or in an earlier one) says it is
worth overlapping with other work. A type never measured is measured once on the pool (its first
node is the probe; other nodes of that type wait for the measurement instead of guessing), so a
slow node never blocks the scheduler's thread on a cold machine, and a cheap type pays one thread
hand-off per process. Nodes that need the same exclusive resource (the GPU) take turns. Of the
nodes that become ready together, the slowest measured types are placed first, so a slow node
(music, a model) does not start late behind quick ones and hold up everything after it.
"""
from __future__ import annotations

import functools
import gc
import itertools
import weakref
import os
import shutil
import tempfile
import threading
import time
import traceback
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import blake3

from . import costs, provenance
from .context import CancelToken, Context
from .errors import Cancelled, format_error
from .fileformat import dumps
from .graph import Document
from .keys import file_records, forced
from .node import REQUIRED, NodeSpec, passthrough
from .models.facade import Models
from .paths import provenance_text
from .registry import Registry
from .results import Event, NodeResult, RunResult
from .types import ValueError_, Video, convert

if TYPE_CHECKING:
    from .evaluate import Evaluator

#: a node that took longer than this (seconds) is worth running on the pool next time
POOL_SECONDS = 0.003
_run_ids = itertools.count(1)


class _Run:
    """The state of one run (shared by the scheduler and the worker threads)."""

    def __init__(self, doc: Document, result: RunResult, cancel: CancelToken, emit: Callable[[Event], None] | None,
                 scratch: Path):
        # no reference back to the RunResult: it keeps this run (to load values on demand), and a
        # cycle would leave every node's result to the garbage collector instead of freeing it at once
        self.doc, self.cancel, self.emit, self.scratch = doc, cancel, emit, scratch
        self.cancelled = False
        self.nodes = result.nodes
        self.last: dict[str, NodeResult] = {}
        self.dirty: set[str] = set()
        self.fresh: dict[str, None] = {}  # nodes decided afresh (not reused from the last run), in order
        self.types: dict[str, str] = {}
        self.planned: dict | None = None
        self.costs: Any = None  # the cost book (nodegraph.costs)
        self.locks: dict[str, threading.Lock] = {}
        self.locks_guard = threading.Lock()
        self.graph_text = _once(lambda: dumps(doc))

    def record(self, ev: "Evaluator", nid: str, type_id: str) -> tuple[dict, str]:
        """The provenance record of output node ``nid`` (``nodegraph.provenance``) and its text;
        made once per output node per run, when its writer first asks."""
        record = provenance.make_record(self.doc, ev.registry, ev.base_dir, nid, type_id, self.graph_text(),
                                        looks=getattr(self.doc, "looks_used", None),
                                        pins=ev.model_pins)
        return record, provenance.record_text(record)

    def node_lock(self, nid: str) -> threading.Lock:
        with self.locks_guard:
            return self.locks.setdefault(nid, threading.Lock())


class Scheduler:
    def __init__(self, ev: "Evaluator"):
        self.ev = weakref.proxy(ev)  # the evaluator owns its scheduler: no cycle between them
        self._owner = weakref.ref(ev)
        self._executor: ThreadPoolExecutor | None = None
        self._resource_locks: dict[str, threading.Lock] = {}
        self._types_memo: dict[str, dict] = {}

    def run(self, doc: Document, tlist: list[tuple[str, str | None]], on_event: Callable[[Event], None] | None,
            cancel: CancelToken, planned: dict | None) -> RunResult:
        ev = self.ev = self._owner()  # a plain reference while it runs (a weak proxy costs on every access)
        try:
            return self._run(ev, doc, tlist, on_event, cancel, planned)
        finally:
            self.ev = weakref.proxy(ev)

    def _run(self, ev: "Evaluator", doc: Document, tlist: list[tuple[str, str | None]],
             on_event: Callable[[Event], None] | None, cancel: CancelToken, planned: dict | None) -> RunResult:
        order, dependents, preds, types = ev.plan(doc, tlist)
        result = RunResult({}, tlist)  # node results are made as nodes are resolved
        scratch = Path(tempfile.gettempdir()) / f"nodegraph-run-{os.getpid()}-{next(_run_ids)}"  # made on first use
        run = _Run(doc, result, cancel, on_event, scratch)
        if ev.embed:  # what output files embed: no absolute path of this machine (nodegraph.paths)
            run.graph_text = _once(lambda: provenance_text(doc, ev.registry, ev.base_dir, ev.files.digest))
        run.types, run.planned = types, planned
        run.costs = costs.book(ev.cache.root if ev.use_cache else None)
        result.materialise = functools.partial(_materialise, self._owner(), run)  # keeps the evaluator alive
        run.last, run.dirty = ev.reusable(doc, order, dependents)
        t0 = time.perf_counter()
        _pause_gc()
        try:
            try:
                self._schedule(run, order, dependents, preds)
            finally:
                result.cancelled = result.cancelled or run.cancelled
            specs = ev.registry.specs
            for nid, port in tlist:  # the targets' values are what the caller asked for
                r = result.nodes[nid]
                if r.ok and not r.outputs and r.digests and specs[r.type].output:
                    for name in r.digests:
                        if port is None or name == port:
                            result.value(nid, name)
        finally:
            _resume_gc()
            run.costs.save()
            shutil.rmtree(scratch, ignore_errors=True)
            ev.remember(doc, result.nodes, list(run.fresh), run.last, result.cancelled)
        result.seconds = time.perf_counter() - t0
        return result

    # -- scheduling ----------------------------------------------------------------------------
    def _schedule(self, run: _Run, order: list[str], dependents: dict[str, list[str]], preds: dict[str, list[str]]) -> None:
        last, dirty, nodes, emit = run.last, run.dirty, run.nodes, run.emit
        if last:  # settle every clean node at once, in dependency order; schedule only the dirty ones
            for nid in order:
                if nid not in dirty:
                    old = last.get(nid)
                    if old is not None:  # a result that was already "cached" is shared as it is
                        nodes[nid] = old if old.status == "cached" else _cached_copy(old)
                        if emit is not None:
                            emit(Event("finished", nid, {"status": "cached", "seconds": 0.0}))
            order = [n for n in order if n not in nodes]
        waiting = {n: sum(1 for p in preds[n] if p not in nodes) for n in order}
        ready = deque(n for n in order if waiting[n] == 0)
        todo: deque[str] = deque()  # decided: must compute
        running: dict[Any, str] = {}
        inflight: dict[bytes, str] = {}  # key -> the node computing it on the pool (its result will be stored)
        same_key: dict[str, list[str]] = {}  # node -> nodes with its very key, waiting to find it cached
        made: set[bytes] = set()  # keys computed and stored in this run
        probing: dict[str, list[str]] = {}  # node type being measured -> its nodes waiting for that
        probe_of: dict[str, str] = {}  # probe node -> its type
        probed: set[str] = set()  # types whose probe ended without a measurement (it failed)
        stores = self.ev.use_cache
        specs, attrs = self.ev.registry.specs, run.doc.g._node
        cancel = run.cancel
        workers = self.ev.workers
        types = run.types

        def release(nid: str) -> None:
            for d in dependents[nid]:
                waiting[d] -= 1
                if waiting[d] == 0:
                    ready.append(d)

        placed: dict[str, str] = {}  # node type -> "inline" or "pool" in this run
        cost_of: dict[str, float] = {}  # node type -> its measured seconds (0: none yet), as this run began

        def longest_first(new: list[str]) -> list[str]:
            """Nodes that became ready together, the slowest measured types first: a slow node that
            waited behind quick ones would start late and hold up everything after it (stable: nodes
            of one type keep their order, so of two identical nodes the same one computes first)."""
            for nid in new:
                t = types[nid]
                if t not in cost_of:
                    cost_of[t] = run.costs.get(t) or 0.0
            if all(cost_of[types[n]] < POOL_SECONDS for n in new):
                return new  # all cheap: they run inline, in order
            return sorted(new, key=lambda n: -cost_of[types[n]])

        while ready or todo or running:
            new: list[str] = []
            while ready and not cancel.cancelled:
                nid = ready.popleft()
                if self._resolve(run, nid, preds[nid]):
                    release(nid)
                else:
                    new.append(nid)
            if new:
                todo.extend(longest_first(new) if len(new) > 1 and workers > 1 else new)
            while todo and not cancel.cancelled:
                nid = todo.popleft()
                key = nodes[nid].key
                policy = attrs[nid].get("cache", "default")
                if (key in inflight or key in made) and forced(specs[types[nid]], policy, stores) is None:
                    if key in inflight:  # computed once, by the first; this one waits to find it cached
                        same_key.setdefault(inflight[key], []).append(nid)
                    elif self._resolve(run, nid, preds[nid]):  # an identical node stored it meanwhile
                        release(nid)
                    else:
                        todo.appendleft(nid)
                        made.discard(key)
                    continue
                if workers == 1:
                    place = "inline"
                else:  # a type's place is found once per run (it changes only when a type is measured)
                    place = placed.get(types[nid])
                    if place is None:
                        place = self._placement(run, nid, probed)
                        if place != "probe":
                            placed[types[nid]] = place
                if place == "probe":  # the first node of a type never measured: measured on the pool
                    t = types[nid]
                    if t in probing:
                        probing[t].append(nid)  # placed once its probe has measured the type
                        continue
                    probing[t], probe_of[nid], place = [], t, "pool"
                if place == "inline":
                    self._compute(run, nid)  # cheap: here, no thread hand-off
                    if stores and policy != "never" and nodes[nid].status == "computed":
                        made.add(key)
                    release(nid)
                    if ready:
                        break  # decide what became ready before computing more
                else:
                    if stores and policy != "never":
                        inflight[key] = nid
                    running[self._pool().submit(self._compute, run, nid)] = nid
            if cancel.cancelled and not running:
                break
            if running:
                # nodes became ready (the todo loop broke off for them): decide and start them now,
                # collecting only what already finished; else block until a worker finishes one
                # (blocking here held a ready node back until the slowest running one was done)
                now = bool(ready) and not cancel.cancelled
                done, _ = wait(list(running), timeout=0 if now else None, return_when=FIRST_COMPLETED)
                for fut in done:
                    fut.result()
                    nid = running.pop(fut)
                    release(nid)
                    if nid in probe_of:  # the type is measured now (or its probe failed): place the rest
                        t = probe_of.pop(nid)
                        todo.extend(probing.pop(t, ()))
                        probed.add(t)
                    if inflight.get(nodes[nid].key) == nid:
                        del inflight[nodes[nid].key]
                        if nodes[nid].status == "computed":
                            made.add(nodes[nid].key)
                    for other in same_key.pop(nid, ()):  # decided again: now a cache hit
                        if self._resolve(run, other, preds[other]):
                            release(other)
                        else:
                            todo.append(other)
        undecided = [n for n in order if n not in nodes]
        if undecided and not cancel.cancelled:  # an engine bug: say so rather than lose nodes
            raise RuntimeError(f"the scheduler left {len(undecided)} node(s) undecided: {', '.join(undecided[:5])}")
        if cancel.cancelled:
            run.cancelled = True
            for nid in order:
                r = run.nodes.get(nid)
                if r is None:
                    r = run.nodes[nid] = NodeResult(nid, run.types[nid])
                if r.status == "pending":
                    r.status, r.error = "skipped", "cancelled"
                    self._emit(run, "skipped", r.node, {"reason": "cancelled"})

    def _placement(self, run: _Run, nid: str, probed: "set[str] | tuple" = ()) -> str:
        """"pool" when node ``nid`` is worth a worker thread: a cost hint (``gpu``, ``io``), or its
        node type's measured time (``nodegraph.costs``: this process's runs and earlier ones).
        "inline" for a cheap node (a thread hand-off costs more than most nodes do). "probe" for a
        type never measured: one node of it runs on the pool and is measured, so that a slow type
        does not hold up the scheduler's thread (and every ready node behind it) the first time."""
        spec = self.ev.registry.specs[run.types[nid]]
        if spec.cost in ("gpu", "io"):
            return "pool"
        seconds = run.costs.get(spec.id)
        if seconds is None:
            return "inline" if spec.id in probed else "probe"
        return "pool" if seconds >= POOL_SECONDS else "inline"

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.ev.workers, thread_name_prefix="nodegraph")
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def _emit(self, run: _Run, kind: str, nid: str, data: dict | None = None) -> None:
        if run.emit is not None:
            run.emit(Event(kind, nid, data or {}))

    # -- deciding ------------------------------------------------------------------------------
    def _resolve(self, run: _Run, nid: str, preds: list[str]) -> bool:
        """Decide a node in the scheduler's thread: True when it needs no computing (cached,
        pinned, skipped, failed), False when it must run."""
        if nid not in run.dirty:
            old = run.last.get(nid)
            if old is not None:
                run.nodes[nid] = _cached_copy(old)
                if run.emit is not None:
                    run.emit(Event("finished", nid, {"status": "cached", "seconds": 0.0}))
                return True
        r = run.nodes[nid] = NodeResult(nid, run.types[nid])
        run.fresh[nid] = None
        nodes = run.nodes
        for src in preds:
            if not nodes[src].ok:
                r.status, r.error = "skipped", f"upstream node {src!r} did not produce a value"
                self._emit(run, "skipped", nid, {"reason": r.error})
                return True
        spec = self.ev.registry.specs[r.type]
        r.types = self._out_types(spec)
        got = run.planned.get(nid) if run.planned is not None else None
        if got is not None and got[1] is not None:  # explain decided it with the same inputs
            mat, d = got[1]
        else:
            mat, d = self.ev.decide(run.doc, nid, lambda s, p: nodes[s].digests[p])
        r.material, r.key, r.reason = mat, mat.key(), d.reason
        if d.failed:
            r.status, r.error = "failed", d.failed
            self._emit(run, "failed", nid, {"message": r.error})
            return True
        if d.verdict == "no":
            r.status, r.digests = ("pinned" if d.reason == "pinned" else "cached"), d.digests
            if d.files:
                r.files = d.files
            self._emit(run, "finished", nid, {"status": r.status, "seconds": 0.0})
            return True
        return False

    def _out_types(self, spec: NodeSpec) -> dict:
        t = self._types_memo.get(spec.id)
        if t is None:
            t = self._types_memo[spec.id] = {o.name: o.type.vtype for o in spec.outputs}
        return t

    # -- computing -----------------------------------------------------------------------------
    def _compute(self, run: _Run, nid: str) -> None:
        """Run a node, store its outputs, record its action."""
        ev = self.ev
        r = run.nodes[nid]
        if run.emit is not None:
            run.emit(Event("started", nid, {"reason": r.reason}))
        spec = ev.registry.specs[r.type]
        try:
            outputs, digests, seconds, files = self._execute(run, nid, spec)
            r.outputs, r.digests, r.seconds = outputs, digests, seconds
            if files:
                r.files = [str(p) for p in files]
            if ev.use_cache and run.doc.node(nid).get("cache", "default") != "never":
                records = file_records(r.files, ev._out_str) if spec.output else []
                types = r.types
                ev.cache.put_result(r.key, spec.id, {digests[n]: (v, types[n].id) for n, v in outputs.items()},
                                    digests, records, seconds)
        except Cancelled:
            r.status, r.error = "skipped", "cancelled"
            run.cancelled = True
            run.cancel.cancel()
            self._emit(run, "skipped", nid, {"reason": "cancelled"})
            return
        except Exception as e:  # the node's fault is reported on the node; other branches go on
            r.status, r.error = "failed", format_error(e)
            self._emit(run, "failed", nid, {"message": r.error, "traceback": traceback.format_exc()})
            return
        r.status = "computed"
        if run.emit is not None:
            run.emit(Event("finished", nid, {"status": "computed", "seconds": r.seconds}))

    def _execute(self, run: _Run, nid: str, spec: NodeSpec) -> tuple[dict, dict, float, list]:
        ev = self.ev
        doc = run.doc
        if run.cancel.cancelled:
            raise Cancelled(f"node {nid!r} cancelled")
        ctx = record = None
        if spec.needs_context:  # most nodes take none: no Context to build for them
            record = _once(lambda: run.record(ev, nid, spec.id)) if spec.output and ev.embed else None
            ctx = Context(nid, spec.id, output_dir=ev.output_dir, base_dir=ev.base_dir, cancel=run.cancel,
                          emit=(lambda kind, data: self._emit(run, kind, nid, data)) if run.emit else None,
                          scratch_root=run.scratch, graph_text=run.graph_text,
                          cache=ev.cache if ev.use_cache else None, policy=ev.policy, embed=ev.embed,
                          models=Models(ev.base_dir, policy=ev.policy, pins=ev.model_pins) if ev.model_pins else None,
                          record=record)
        nodes = run.nodes

        def value_of(src: str, port: str) -> Any:  # this run's value (nearly always), else Scheduler.value
            v = nodes[src].outputs.get(port)
            return v if v is not None else self.value(run, src, port)

        kwargs = gather_inputs(doc, nid, spec, value_of, ev.registry, ctx)
        lock = self._resource_lock(spec.resource) if spec.resource is not None else None
        t = time.perf_counter()
        if doc.g._node[nid].get("bypass"):
            outputs = passthrough(spec, kwargs, doc.inputs(nid))
            return outputs, {o.name: o.type.vtype.fingerprint(outputs[o.name]) for o in spec.outputs}, 0.0, []
        if lock is None:
            outputs = spec.call(kwargs, ctx)
        else:
            with lock:
                outputs = spec.call(kwargs, ctx)
        if record is not None and ctx.files and ev.signer is not None:
            provenance.seal(ctx.files, record()[0], ev.signer)  # content credentials (C2PA): the user gave a key
        seconds = time.perf_counter() - t
        run.costs.record(spec.id, seconds)
        key = run.nodes[nid].key
        for name, value in outputs.items():  # a lazy video is identified by its recipe, not rendered to hash it
            if isinstance(value, Video) and value._digest is None:
                value._digest = blake3.blake3(b"video-recipe\0" + key + name.encode()).digest()
        digests = {o.name: o.type.vtype.fingerprint(outputs[o.name]) for o in spec.outputs}
        return outputs, digests, seconds, ctx.files if ctx is not None else []

    def _resource_lock(self, resource: str | None) -> threading.Lock | None:
        if resource is None:
            return None
        return self._resource_locks.setdefault(resource, threading.Lock())

    def value(self, run: _Run, nid: str, port: str) -> Any:
        """An upstream value: this run's, else the cache's, else (evicted, or found corrupt)
        recomputed from its own inputs, which then counts as computed."""
        r = run.nodes[nid]
        v = r.outputs.get(port)
        if v is not None:
            return v
        ev = self.ev
        v = ev.cache.get_value(r.digests[port])
        if v is not None:
            return v
        with run.node_lock(nid):
            v = r.outputs.get(port)
            if v is not None:
                return v
            v = ev.cache.get_value(r.digests[port])
            if v is not None:
                r.outputs[port] = v
                return v
            spec = ev.registry.specs[r.type]
            outputs, digests, seconds, _ = self._execute(run, nid, spec)
            if ev.use_cache and run.doc.node(nid).get("cache", "default") != "never":
                for name, value in outputs.items():
                    ev.cache.put_value(digests[name], value, r.types[name].id)
                ev.cache.flush()  # rare (an evicted or corrupt value), and maybe after the run ended
            if digests != r.digests:  # a node that is not really deterministic
                self._emit(run, "log", nid, {"message": "recomputed output differs from the cached digest"})
            r.outputs.update(outputs)
            if r.status in ("cached", "pinned"):
                r.status, r.seconds = "computed", seconds
                r.reason = "its cached value was not in the cache (evicted, or kept in memory only); needed downstream"
                self._emit(run, "finished", nid, {"status": "computed", "seconds": seconds})
            return outputs[port]


_gc_lock = threading.Lock()
_gc_holds = [0, False]  # runs going on, whether the collector was on when the first began


def _pause_gc() -> None:
    """No cyclic garbage collection while runs go on. A run of a thousand cheap nodes makes tens of
    thousands of small objects, which set off Python's full collections (a pass over every object
    of the process, 50-100 ms here) in the middle of it; reference counting still frees nearly
    everything at once, and the collector catches up on the cycles when the last run ends."""
    with _gc_lock:
        if _gc_holds[0] == 0:
            _gc_holds[1] = gc.isenabled()
            gc.disable()
        _gc_holds[0] += 1


def _resume_gc() -> None:
    with _gc_lock:
        _gc_holds[0] -= 1
        if _gc_holds[0] == 0 and _gc_holds[1]:
            gc.enable()


def _materialise(ev: "Evaluator", run: _Run, nid: str, port: str) -> Any:
    """A value a RunResult asks for after its run (the result holds the evaluator, not the other way)."""
    return ev.scheduler.value(run, nid, port)


def _cached_copy(old: NodeResult) -> NodeResult:
    return NodeResult(old.node, old.type, "cached", 0.0, "", "cached", old.key, old.digests, {}, old.types, [],
                      old.material)


def _once(fn: Callable[[], Any]) -> Callable[[], Any]:
    memo: list[str] = []

    def get() -> str:
        if not memo:
            memo.append(fn())
        return memo[0]

    return get


def gather_inputs(doc: Document, n: str, spec: NodeSpec, value_of: Callable[[str, str], Any],
                  registry: Registry, ctx: Context | None) -> dict[str, Any]:
    """The keyword arguments for a node: linked values (converted), else params, else defaults.
    Path params are resolved against the graph's folder (by ``ctx.input_path``)."""
    params = doc.params(n)
    linked = doc.inputs(n)
    kwargs: dict[str, Any] = {}
    nodes = doc.g._node
    specs = registry.specs
    for port in spec.inputs:
        name = port.name
        links = linked.get(name) if linked else None
        if links:
            vals = []
            vtype = port.type.vtype
            opts = port.type.opts
            for link in links:
                src_type = specs[nodes[link.src]["type"]]._outputs_by_name[link.src_port].type.vtype
                v = value_of(link.src, link.src_port)
                if src_type is vtype and not opts:
                    vals.append(v)  # checked against this very type when its node produced it
                    continue
                if src_type is not vtype:
                    v = convert(v, src_type, vtype)
                try:
                    vals.append(vtype.check(v, opts))
                except ValueError_ as e:
                    raise ValueError_(f"input {name!r} (from {link.src}.{link.src_port}): {e}") from None
            value = tuple(vals) if port.variadic else vals[0]
        elif port.variadic:
            value = ()
        elif name in params:
            value = port.type.from_json(params[name])
        elif port.default is not REQUIRED:
            value = port.default
        else:  # validate() reports this before a run; kept for direct callers
            raise ValueError_(f"required input {name!r} is not connected")
        if ctx is not None and isinstance(value, str) and value and port.type.vtype.id == "path" \
                and not str(port.type.opts.get("kind") or "").startswith("model:"):  # a model may be a name or a repo id
            value = str(ctx.input_path(value, name))
        kwargs[name] = value
    return kwargs
