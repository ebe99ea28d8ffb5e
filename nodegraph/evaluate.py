"""The cached incremental evaluator.

``Evaluator.run`` computes only what the requested targets need (every output node by default,
or any node: "run to here"), in dependency order, on a worker pool. Each node gets a key from
content (``nodegraph.keys``): a key already in the cache is a hit and the node does not run; a
node that re-runs and produces the same output digest stops the wave there (early cutoff).
Values live in a RAM tier and a persistent disk tier (``nodegraph.cache``), so a new process
over a warm cache computes nothing. A failing node skips only what depends on it. Observers get
``Event``s; ``explain`` says, before running, which nodes will run and why.
"""
from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import threading
import time
import traceback
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import blake3
import networkx as nx

from .cache import Cache
from .context import CancelToken, Context
from .errors import Cancelled, GraphInvalid, NodegraphError
from .fileformat import dumps
from .graph import Document
from .keys import FileDigests, check_files_exist, file_records, key_of, material, why_changed
from .node import REQUIRED, NodeSpec
from .registry import Registry
from .results import OK, Event, NodeResult, RunResult, Target, parse_targets
from .types import ValueError_, Video, convert
from .policy import Policy
from .validate import scope, validate


@dataclass(frozen=True)
class Explanation:
    will_run: str  # "yes" | "no" | "maybe" (an upstream re-runs; an unchanged output stops it)
    reason: str


class _Run:
    """The state of one run (shared by the scheduler and the worker threads)."""

    def __init__(self, doc: Document, result: RunResult, cancel: CancelToken, emit: Callable[[Event], None] | None,
                 scratch: Path):
        self.doc, self.result, self.cancel, self.emit, self.scratch = doc, result, cancel, emit, scratch
        self.nodes = result.nodes
        self.last: dict[str, NodeResult] = {}
        self.dirty: set[str] = set()
        self.fresh: list[str] = []  # nodes resolved afresh (not reused from the last run)
        self.types: dict[str, str] = {}
        self.locks: dict[str, threading.Lock] = {}
        self.locks_guard = threading.Lock()
        self.graph_text = _once(lambda: dumps(doc))

    def node_lock(self, nid: str) -> threading.Lock:
        with self.locks_guard:
            return self.locks.setdefault(nid, threading.Lock())


class Evaluator:
    """Runs graphs against a cache.

    cache: a ``Cache`` (disk + RAM), or None for a RAM-only cache private to this evaluator.
    use_cache: False re-runs every node (``--no-cache``); results are not stored.
    workers: size of the worker pool for independent branches (1 = run in the calling thread).
    graph_id: names the graph in the cache's history, so ``explain`` can say what changed since
    the last run even in a new process (the CLI uses the graph file's absolute path).
    """

    def __init__(self, registry: Registry, *, output_dir: str | Path = "output", base_dir: str | Path = ".",
                 cache: Cache | None = None, use_cache: bool = True, workers: int | None = None,
                 graph_id: str | None = None, policy: Any = None) -> None:
        from .memory import tune_malloc

        tune_malloc()
        self.registry = registry
        self.output_dir, self.base_dir = Path(output_dir), Path(base_dir)
        #: what graphs may read and the memory budget (nodegraph.policy); default: the graph's folder tree
        self.policy = policy if policy is not None else Policy(self.base_dir, output_dir=self.output_dir)
        self.cache = cache if cache is not None else Cache.memory_only()
        self.use_cache = use_cache
        self.workers = max(1, workers if workers is not None else min(4, os.cpu_count() or 1))
        self.graph_id = graph_id
        self.files = FileDigests(self.cache.disk)
        self._resource_locks: dict[str, threading.Lock] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._types_memo: dict[str, dict] = {}
        self._checked: tuple | None = None
        self._plans: dict[tuple, tuple] = {}
        self._history: dict[tuple[str, str], tuple[list, bytes]] = {}
        #: per document: (revision, structure revision, node results) of its last finished run
        self._last: dict[str, tuple[int, int, dict[str, NodeResult], set[str]]] = {}
        self._out_str = str(self.output_dir.resolve())
        self._base_str = str(self.base_dir.resolve())

    # -- validation and planning -------------------------------------------------------------
    def check(self, doc: Document, source: str = "", targets: Iterable[Target] | None = None) -> None:
        """Validate; with targets, only problems in what they need count (run to here works while an
        unrelated node is unfinished). Remembered per document: an unchanged graph is not checked
        again, and after edits that added or removed no node or link only the edited nodes are."""
        stamp = (doc.uid, doc.structure_revision, id(self.registry), len(self.registry))
        known = self._checked
        if known is not None and known[0] == stamp and known[1] == doc.revision:
            per_node, general = known[2], known[3]
        else:
            only = doc.changed_since(known[1]) if known is not None and known[0] == stamp else None
            only = scope(doc, self.registry, only) if only is not None else None  # output names clash across nodes
            fresh = validate(doc, self.registry, only, policy=self.policy)
            if only is None:
                per_node, general = {}, []
            else:
                per_node, general = {n: v for n, v in known[2].items() if n not in only}, list(known[3])
            for issue in fresh:  # a cycle concerns every run; the rest belongs to its node
                if issue.node is None or issue.code == "cycle":
                    general.append(issue)
                else:
                    per_node.setdefault(issue.node, []).append(issue)
            self._checked = (stamp, doc.revision, per_node, general)
        if not general and not per_node:
            return
        if targets is not None:  # only problems in what the targets need count
            needed = doc.upstream([n for n, _ in parse_targets(doc, self.registry, targets)])
            issues = list(general) + [i for n in sorted(needed) for i in per_node.get(n, [])]
        else:
            issues = list(general) + [i for n in sorted(per_node) for i in per_node[n]]
        if issues:
            raise GraphInvalid(issues, source)

    def _plan(self, doc: Document, tlist: list[tuple[str, str | None]]) -> tuple[list[str], dict[str, list[str]], dict[str, set[str]], dict[str, str]]:
        stamp = (doc.uid, doc.structure_revision, tuple(tlist))
        plan = self._plans.get(stamp)
        if plan is None:
            needed = doc.upstream([n for n, _ in tlist])
            g = doc.g
            order = [n for n in nx.lexicographical_topological_sort(g) if n in needed]
            dependents = {n: sorted({d for d in g.successors(n) if d in needed}) for n in order}
            preds = {n: set(g.predecessors(n)) for n in order}
            types = {n: g.nodes[n]["type"] for n in order}
            plan = (order, dependents, preds, types)
            if len(self._plans) > 64:
                self._plans.clear()
            self._plans[stamp] = plan
        return plan

    def _gid(self, doc: Document) -> str:
        return self.graph_id or f"memory:{doc.uid}"

    # -- running -----------------------------------------------------------------------------
    def run(self, doc: Document, targets: Iterable[Target] | None = None, *,
            on_event: Callable[[Event], None] | None = None, cancel: CancelToken | None = None) -> RunResult:
        targets = list(targets) if targets is not None else None
        self.check(doc, targets=targets)
        tlist = parse_targets(doc, self.registry, targets)
        order, dependents, preds, types = self._plan(doc, tlist)
        if on_event is not None:
            for nid, ex in self.explain(doc, tlist).items():
                on_event(Event("planned", nid, {"will_run": ex.will_run, "reason": ex.reason}))
        cancel = cancel or CancelToken()
        result = RunResult({}, tlist)  # node results are made as nodes are resolved
        scratch = Path(tempfile.gettempdir()) / f"nodegraph-run-{os.getpid()}-{next(_run_ids)}"  # made on first use
        run = _Run(doc, result, cancel, on_event, scratch)
        run.types = types
        result.materialise = lambda nid, port: self._value(run, nid, port)
        run.last, run.dirty = self._reusable(doc, order, dependents)
        t0 = time.perf_counter()
        try:
            self._schedule(run, order, dependents, preds)
            for nid, port in tlist:  # the targets' values are what the caller asked for
                r = result.nodes[nid]
                if r.ok and not r.outputs and r.digests and self.registry.specs[r.type].output:
                    for name in r.digests:
                        if port is None or name == port:
                            result.value(nid, name)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
            self._remember(doc, run)
            self.cache.flush()
            if self.use_cache and not result.cancelled:
                if len(self._last) > 16:
                    self._last.clear()
                prev = self._last.get(doc.uid)
                volatile = self._volatile(doc, {n: result.nodes[n] for n in run.fresh})
                if prev is not None and run.last is prev[2]:  # reused nodes keep what they were
                    volatile |= {n for n in prev[3] if n in result.nodes and n not in run.fresh}
                self._last[doc.uid] = (doc.revision, doc.structure_revision, result.nodes, volatile)
        result.seconds = time.perf_counter() - t0
        return result

    def _volatile(self, doc: Document, nodes: dict[str, NodeResult]) -> set[str]:
        """Nodes whose last result cannot be trusted without looking again: they failed, were
        pinned, write or read files (which may have changed on disk), or run every time."""
        specs, g = self.registry.specs, doc.g
        out = set()
        for nid, r in nodes.items():
            rec = g.nodes[nid]
            spec = specs[r.type]
            if (r.status not in ("computed", "cached") or spec.output or spec.determinism not in ("pure", "seeded")
                    or rec.get("cache", "default") != "default" or rec.get("pinned")):
                out.add(nid)
        return out

    def _reusable(self, doc: Document, order: list[str], dependents: dict[str, list[str]]) -> tuple[dict[str, NodeResult], set[str]]:
        """The last run's results, and the nodes of this plan whose result may differ from it:
        those edited since (``Document.change_log``), the volatile ones, and everything below
        them. Edits only mark dirty; every other node keeps its key without recomputing it."""
        prev = self._last.get(doc.uid)
        if prev is None or prev[1] != doc.structure_revision or not self.use_cache:
            return {}, set()
        changed = doc.changed_since(prev[0])
        if changed is None:
            return {}, set()
        last = prev[2]
        stack = [n for n in changed | prev[3] if n in dependents]
        dirty: set[str] = set()
        while stack:
            n = stack.pop()
            if n not in dirty:
                dirty.add(n)
                stack.extend(dependents[n])
        return last, dirty

    def _schedule(self, run: _Run, order: list[str], dependents: dict[str, list[str]], preds: dict[str, set[str]]) -> None:
        last, dirty, nodes = run.last, run.dirty, run.nodes
        if last and run.emit is None:  # settle every clean node at once; schedule only the dirty ones
            for nid in order:
                if nid not in dirty:
                    old = last.get(nid)
                    if old is not None:  # a result that was already "cached" is shared as it is
                        nodes[nid] = old if old.status == "cached" else NodeResult(
                            nid, old.type, "cached", 0.0, "", "cached", old.key, old.digests, {}, old.types, [], old.material)
            order = [n for n in order if n not in nodes]
        waiting = {n: sum(1 for p in preds[n] if p not in nodes) for n in order}
        ready = deque(n for n in order if waiting[n] == 0)
        running: dict[Any, str] = {}
        todo: deque[str] = deque()  # nodes that must compute, waiting for a worker
        cancel = run.cancel
        while ready or running or todo:
            while ready and not cancel.cancelled:
                nid = ready.popleft()
                if self._resolve(run, nid, preds[nid]):
                    for d in dependents[nid]:
                        waiting[d] -= 1
                        if waiting[d] == 0:
                            ready.append(d)
                else:
                    todo.append(nid)
            if cancel.cancelled:
                todo.clear()
                if not running:
                    break
            if todo and not running and len(todo) == 1 or self.workers == 1 and todo:
                nid = todo.popleft()  # nothing to overlap with: compute here, no thread hand-off
                self._compute(run, nid)
                done_nodes = [nid]
            else:
                pool = self._pool()
                while todo and len(running) < self.workers:
                    nid = todo.popleft()
                    running[pool.submit(self._compute, run, nid)] = nid
                if not running:
                    continue
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                done_nodes = []
                for fut in done:
                    fut.result()
                    done_nodes.append(running.pop(fut))
            for nid in done_nodes:
                for d in dependents[nid]:
                    waiting[d] -= 1
                    if waiting[d] == 0:
                        ready.append(d)
        if cancel.cancelled:
            run.result.cancelled = True
            for nid in order:
                r = run.nodes.get(nid)
                if r is None:
                    r = run.nodes[nid] = NodeResult(nid, run.types[nid])
                if r.status == "pending":
                    r.status, r.error = "skipped", "cancelled"
                    self._emit(run, "skipped", r.node, {"reason": "cancelled"})

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="nodegraph")
        return self._executor

    def close(self) -> None:
        """Stop the worker threads (the evaluator can still run afterwards; it starts new ones)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def _emit(self, run: _Run, kind: str, nid: str, data: dict | None = None) -> None:
        if run.emit is not None:
            run.emit(Event(kind, nid, data or {}))

    def _resolve(self, run: _Run, nid: str, preds: set[str]) -> bool:
        """Decide a node in the scheduler's thread: True when it needs no computing (cached,
        pinned, skipped), False when it must run."""
        if nid not in run.dirty:
            old = run.last.get(nid)
            if old is not None:
                run.nodes[nid] = NodeResult(nid, old.type, "cached", 0.0, "", "cached", old.key, old.digests, {},
                                            old.types, [], old.material)
                if run.emit is not None:
                    run.emit(Event("finished", nid, {"status": "cached", "seconds": 0.0}))
                return True
        r = run.nodes[nid] = NodeResult(nid, run.types[nid])
        run.fresh.append(nid)
        for src in preds:
            if not run.nodes[src].ok:
                r.status, r.error = "skipped", f"upstream node {src!r} did not produce a value"
                self._emit(run, "skipped", nid, {"reason": r.error})
                return True
        doc = run.doc
        spec = self.registry.specs[r.type]
        rec = doc.node(nid)
        r.types = self._out_types(spec)
        mat = material(doc, nid, spec, {s: run.nodes[s].digests for s in preds}, self.files,
                       self._base_str, self._out_str)
        r.key = key_of(mat)
        r.material = mat
        pinned = rec.get("pinned")
        if pinned:
            return self._use_pin(run, r, spec, pinned)
        forced = self._forced(spec, rec)
        if forced is None:
            entry = self.cache.get_action(r.key)
            if entry is not None and set(entry["outputs"]) == set(r.types) and (
                    not spec.output or check_files_exist(entry["files"], self._out_str)):
                r.status, r.digests, r.reason = "cached", entry["outputs"], "cached"
                r.files = [os.path.join(self._out_str, f[0]) for f in entry["files"]]
                self._emit(run, "finished", nid, {"status": "cached", "seconds": 0.0})
                return True
            r.reason = self._why(doc, nid, mat)
        else:
            r.reason = forced
        return False

    def _out_types(self, spec: NodeSpec) -> dict:
        t = self._types_memo.get(spec.id)
        if t is None:
            t = self._types_memo[spec.id] = {o.name: o.type.vtype for o in spec.outputs}
        return t

    def _forced(self, spec: NodeSpec, rec: dict) -> str | None:
        if not self.use_cache:
            return "cache disabled"
        policy = rec.get("cache", "default")
        if policy == "always":
            return "always recompute (cache policy)"
        if policy == "never":
            return "never cached (cache policy)"
        if spec.determinism == "nondeterministic":
            return "nondeterministic (pin a result to keep it)"
        return None

    def _previous_material(self, doc: Document, nid: str) -> list | None:
        """What node ``nid``'s key was made of at its last run (this process, or the cache's history)."""
        prev = self._history.get((self._gid(doc), nid))
        if prev is not None:
            return prev[0]
        if self.cache.disk is not None and self.graph_id:
            got = self.cache.disk.get_history(self.graph_id, nid)
            return got[0] if got else None
        return None

    def _why(self, doc: Document, nid: str, mat: list) -> str:
        old = self._previous_material(doc, nid)
        if old is not None and key_of(old) == key_of(mat):
            return "not in the cache (evicted or cleared)"
        return why_changed(doc, nid, old, mat)

    def _use_pin(self, run: _Run, r: NodeResult, spec: NodeSpec, pinned: dict) -> bool:
        try:
            digests = {name: bytes.fromhex(pinned[name]) for name in r.types}
        except KeyError as e:
            r.status, r.error = "failed", f"pinned result has no output {e.args[0]!r}; unpin the node"
        else:
            missing = [n for n, d in digests.items() if not self.cache.has_value(d)]
            if missing:
                r.status, r.error = "failed", (f"pinned result of output {missing[0]!r} is not in the cache "
                                               f"(cleared, or pinned on another machine); unpin the node to recompute it")
            else:
                r.status, r.digests, r.reason = "pinned", digests, "pinned"
                self._emit(run, "finished", r.node, {"status": "pinned", "seconds": 0.0})
                return True
        self._emit(run, "failed", r.node, {"message": r.error})
        return True

    def _compute(self, run: _Run, nid: str) -> None:
        """Run a node (in a worker), store its outputs, record its action."""
        r = run.nodes[nid]
        self._emit(run, "started", nid, {"reason": r.reason})
        spec = self.registry.specs[r.type]
        policy = run.doc.node(nid).get("cache", "default")
        try:
            outputs, digests, seconds, files = self._execute(run, nid)
            r.outputs, r.digests, r.seconds = outputs, digests, seconds
            r.files = [str(p) for p in files]
            if self.use_cache and policy != "never":
                records = file_records(r.files, self._out_str) if spec.output else []
                self.cache.put_result(r.key, spec.id, {digests[n]: (v, r.types[n].id) for n, v in outputs.items()},
                                      digests, records, seconds)
        except Cancelled:
            r.status, r.error = "skipped", "cancelled"
            run.result.cancelled = True
            run.cancel.cancel()
            self._emit(run, "skipped", nid, {"reason": "cancelled"})
            return
        except Exception as e:  # the node's fault is reported on the node; other branches go on
            r.status, r.error = "failed", describe_error(e)
            self._emit(run, "failed", nid, {"message": r.error, "traceback": traceback.format_exc()})
            return
        r.status = "computed"
        self._emit(run, "finished", nid, {"status": "computed", "seconds": r.seconds})

    def _execute(self, run: _Run, nid: str) -> tuple[dict, dict, float, list]:
        doc = run.doc
        spec = self.registry.specs[doc.type_of(nid)]
        ctx = Context(nid, spec.id, output_dir=self.output_dir, base_dir=self.base_dir, cancel=run.cancel,
                      emit=(lambda kind, data: self._emit(run, kind, nid, data)) if run.emit else None,
                      scratch_root=run.scratch, graph_text=run.graph_text,
                      cache=self.cache if self.use_cache else None, policy=self.policy)
        ctx.check_cancelled()
        kwargs = gather_inputs(doc, nid, spec, lambda s, p: self._value(run, s, p), self.registry, ctx)
        lock = self._resource_lock(spec.resource)
        t = time.perf_counter()
        if lock is None:
            outputs = spec.call(kwargs, ctx)
        else:
            with lock:
                outputs = spec.call(kwargs, ctx)
        seconds = time.perf_counter() - t
        key = run.nodes[nid].key
        for name, value in outputs.items():  # a lazy video is identified by its recipe, not rendered to hash it
            if isinstance(value, Video) and value._digest is None:
                value._digest = blake3.blake3(b"video-recipe\0" + key + name.encode()).digest()
        digests = {o.name: o.type.vtype.fingerprint(outputs[o.name]) for o in spec.outputs}
        return outputs, digests, seconds, list(ctx.files)

    def _resource_lock(self, resource: str | None) -> threading.Lock | None:
        if resource is None:
            return None
        return self._resource_locks.setdefault(resource, threading.Lock())

    def _value(self, run: _Run, nid: str, port: str) -> Any:
        """An upstream value: this run's, else the RAM tier, else the disk tier, else (evicted or
        corrupt) recomputed from its own inputs."""
        r = run.nodes[nid]
        v = r.outputs.get(port)
        if v is not None:
            return v
        v = self.cache.memory.get(r.digests[port])  # fast path, no lock: already in RAM
        if v is not None:
            return v
        with run.node_lock(nid):
            v = r.outputs.get(port)
            if v is not None:
                return v
            v = self.cache.get_value(r.digests[port])
            if v is None:
                outputs, digests, _, _ = self._execute(run, nid)
                if self.use_cache and run.doc.node(nid).get("cache", "default") != "never":
                    for name, value in outputs.items():
                        self.cache.put_value(digests[name], value, r.types[name].id)
                if digests != r.digests:  # a node that is not really deterministic
                    self._emit(run, "log", nid, {"message": "recomputed output differs from the cached digest"})
                r.outputs.update(outputs)
                return outputs[port]
            r.outputs[port] = v
            return v

    def _remember(self, doc: Document, run: _Run) -> None:
        gid = self._gid(doc)
        fresh = []
        for nid in run.fresh:
            r = run.nodes[nid]
            mat = r.material
            if mat is None or not r.ok:
                continue
            prev = self._history.get((gid, nid))
            if prev is None or prev[1] != r.key:
                self._history[(gid, nid)] = (mat, r.key)
                fresh.append((nid, mat, r.key))
        if fresh and self.graph_id and self.cache.disk is not None:
            self.cache.disk.put_history(self.graph_id, fresh)

    # -- explaining --------------------------------------------------------------------------
    def explain(self, doc: Document, targets: Iterable[Target] | None = None) -> dict[str, Explanation]:
        """For each node the targets need: will it run, and why. Nothing is run."""
        targets = list(targets) if targets is not None else None
        self.check(doc, targets=targets)
        tlist = parse_targets(doc, self.registry, targets)
        order, dependents, preds, _ = self._plan(doc, tlist)
        out: dict[str, Explanation] = {}
        digests: dict[str, dict[str, bytes] | None] = {}
        for nid in order:
            spec = self.registry.specs[doc.type_of(nid)]
            rec = doc.node(nid)
            if rec.get("pinned"):
                out[nid] = Explanation("no", "pinned")
                digests[nid] = {k: bytes.fromhex(v) for k, v in rec["pinned"].items()}
                continue
            unknown = [s for s in sorted(preds[nid]) if digests.get(s) is None]
            forced = self._forced(spec, rec)
            if unknown:
                digests[nid] = None
                if forced:
                    out[nid] = Explanation("yes", forced)
                else:
                    own = self._own_change(doc, nid, spec)
                    out[nid] = Explanation("yes", own) if own else Explanation(
                        "maybe", f"upstream {', '.join(repr(u) for u in unknown)} will re-run; "
                                 "if its output is unchanged this node stays cached")
                continue
            mat = material(doc, nid, spec, {s: digests[s] for s in preds[nid]}, self.files, self._base_str, self._out_str)
            if forced:
                out[nid], digests[nid] = Explanation("yes", forced), None
                continue
            entry = self.cache.get_action(key_of(mat))
            if entry is not None and (not spec.output or check_files_exist(entry["files"], self._out_str)):
                out[nid], digests[nid] = Explanation("no", "cached"), entry["outputs"]
            elif entry is not None:
                out[nid], digests[nid] = Explanation("yes", "its output files were deleted or changed"), None
            else:
                out[nid], digests[nid] = Explanation("yes", self._why(doc, nid, mat)), None
        # a cached value that a running node (or the caller) needs but that was evicted must be recomputed
        for nid in order:
            if out[nid].will_run == "no" and digests[nid]:
                needed = any(out[d].will_run != "no" for d in dependents[nid])
                if needed and not all(self.cache.has_value(d) for d in digests[nid].values()):
                    out[nid] = Explanation("yes", "cached result was evicted and is needed downstream")
        return out

    def _own_change(self, doc: Document, nid: str, spec: NodeSpec) -> str:
        """Why a node whose inputs are not known yet will run anyway (its own params changed)."""
        old = self._previous_material(doc, nid)
        if old is None:
            return "not yet computed"
        cur = material(doc, nid, spec, _AnyDigests(), self.files, self._base_str, self._out_str)
        old_own = old[:5] + [[], old[6]] + list(old[7:8])
        cur_own = cur[:5] + [[], cur[6]] + list(cur[7:8])
        return why_changed(doc, nid, old_own, cur_own) if key_of(old_own) != key_of(cur_own) else ""

    # -- pinning -----------------------------------------------------------------------------
    def pin(self, result: RunResult, nid: str):
        """The command that pins ``nid`` to its result in ``result`` (and protects its blobs)."""
        from .commands import SetPin

        r = result.nodes[nid]
        if not r.ok:
            raise NodegraphError(f"node {nid!r} has no result to pin: it {r.status}")
        for name, d in r.digests.items():
            if not self.cache.has_value(d):
                self.cache.put_value(d, result.value(nid, name), r.types[name].id)
            self.cache.pin(d)
        return SetPin(nid, {name: d.hex() for name, d in r.digests.items()})


_run_ids = itertools.count(1)


class _AnyDigests(dict):
    """Stands in for unknown upstream digests when only a node's own params are compared."""

    def __missing__(self, key: str) -> dict:
        return _Zero()


class _Zero(dict):
    def __missing__(self, key: str) -> bytes:
        return b""


def _once(fn: Callable[[], str]) -> Callable[[], str]:
    memo: list[str] = []

    def get() -> str:
        if not memo:
            memo.append(fn())
        return memo[0]

    return get


def describe_error(e: BaseException) -> str:
    msg = str(e).strip() or type(e).__name__
    # the exceptions nodes raise on purpose carry a message meant for the user as it is
    if isinstance(e, (NodegraphError, ValueError, FileNotFoundError, PermissionError, IsADirectoryError)):
        return msg
    return f"{type(e).__name__}: {msg}"


def gather_inputs(doc: Document, n: str, spec: NodeSpec, value_of: Callable[[str, str], Any],
                  registry: Registry, ctx: Context) -> dict[str, Any]:
    """The keyword arguments for a node: linked values (converted), else params, else defaults.
    Path params are resolved against the graph's folder."""
    params = doc.params(n)
    linked = doc.inputs(n)
    kwargs: dict[str, Any] = {}
    nodes = doc.g.nodes
    for port in spec.inputs:
        links = linked.get(port.name)
        if links:
            vals = []
            dst_type, check, opts = port.type.vtype, port.type.vtype.check, port.type.opts
            for link in links:
                src_spec = registry.specs[nodes[link.src]["type"]]
                src_type = src_spec.output_port(link.src_port).type.vtype
                v = value_of(link.src, link.src_port)
                if src_type is dst_type and not opts:
                    vals.append(v)  # checked against this very type when its node produced it
                    continue
                if src_type is not dst_type:
                    v = convert(v, src_type, dst_type)
                try:
                    vals.append(check(v, opts))
                except ValueError_ as e:
                    raise ValueError_(f"input {port.name!r} (from {link.src}.{link.src_port}): {e}") from None
            kwargs[port.name] = tuple(vals) if port.variadic else vals[0]
        elif port.variadic:
            kwargs[port.name] = ()
        elif port.name in params:
            kwargs[port.name] = port.type.from_json(params[port.name])
        elif port.default is not REQUIRED:
            kwargs[port.name] = port.default
        else:  # validate() reports this before a run; kept for direct callers
            raise ValueError_(f"required input {port.name!r} is not connected")
        if port.type.id == "path" and isinstance(kwargs[port.name], str) and kwargs[port.name] \
                and not str(port.type.opts.get("kind") or "").startswith("model:"):  # a model may be a name or a repo id
            kwargs[port.name] = str(ctx.input_path(kwargs[port.name], port.name))
    return kwargs




__all__ = ["Evaluator", "Explanation", "Event", "NodeResult", "RunResult", "OK", "parse_targets", "gather_inputs"]
