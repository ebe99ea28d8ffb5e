"""The editor's brain, without a screen: one open document, its history, files, clipboard, palette,
inspector, what every node and wire shows, and runs in the background.

The view (``nodegraph.editor.view``) draws what this says and sends every user action here; it
never evaluates anything and never changes the document except through these methods, which go
through the command objects (so everything is undoable and autosave is a dump of the document).
All of it is testable without a display. The document, its files, edits and clipboard are
``DocumentSession`` (``document.py``); each node's state as the cache decides it and the files a
run wrote are ``StatesMixin`` (``states.py``); this module adds runs, previews and what the view
shows.
"""
from __future__ import annotations

import os
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cache import Cache
from ..commands import SetPin
from ..context import CancelToken
from ..errors import NodegraphError, format_error
from ..evaluate import Evaluator, Event
from ..graph import Document
from ..node import REQUIRED
from ..overrides import overrides
from ..registry import Registry
from ..results import RunResult
from ..types import Preview, find_type
from .document import DocumentSession
from .licence_session import LicenceSessionMixin
from .looks_session import LooksSessionMixin
from .states import StatesMixin

STATES = ("stale", "queued", "running", "cached", "computed", "failed", "pinned", "skipped")
STATE_COLORS = {
    "stale": (90, 90, 96), "queued": (70, 110, 190), "running": (200, 170, 40), "cached": (60, 150, 90),
    "computed": (40, 150, 150), "failed": (190, 60, 60), "pinned": (140, 90, 190), "skipped": (110, 110, 110),
}


@dataclass
class PinView:
    name: str
    type_id: str
    color: tuple[int, int, int]
    linked: bool = False
    is_param: bool = False
    value: Any = None  # a param's value (set, or its default), to print on the pin
    #: a param left unset whose value comes from elsewhere (value is then None): says from where
    overridden_by: str = ""


@dataclass
class NodeView:
    id: str
    title: str
    type: str
    category: str
    pos: tuple[float, float]
    collapsed: bool
    color: tuple[int, int, int] | None
    inputs: list[PinView]
    outputs: list[PinView]
    state: str = "stale"
    progress: float = 0.0
    seconds: float = 0.0
    message: str = ""
    reason: str = ""
    known: bool = True  # False: its type is not installed (the node is drawn, marked failed)
    bypass: bool = False  # its inputs are handed on untouched instead of running it


@dataclass
class LinkView:
    src: str
    src_port: str
    dst: str
    dst_port: str
    color: tuple[int, int, int]


@dataclass
class ParamView:
    name: str
    kind: str
    value: Any
    default: Any
    opts: dict
    doc: str
    linked: bool
    #: where the value really comes from when not from ``value`` (a link, a linked input, a file)
    overridden_by: str = ""


@dataclass
class InspectorView:
    node_id: str
    title: str
    doc: str
    params: list[ParamView]
    cache_policy: str
    pinned: bool
    status: str
    seconds: float
    message: str


@dataclass
class NodeState:
    state: str = "stale"
    progress: float = 0.0
    seconds: float = 0.0
    message: str = ""
    live: Any = None          # the latest picture a running node sent with its progress
    live_serial: int = 0
    #: an edit reached this node (or one above it) since a run set ``state``: the cache decides anew
    touched: bool = False


@dataclass
class _Runner:
    thread: threading.Thread
    cancel: CancelToken
    events: "queue.Queue[Any]" = field(default_factory=queue.Queue)


class EditorSessionBase(StatesMixin, DocumentSession):
    """One open document and everything the editor does with it: the document, files, edits and
    clipboard (``DocumentSession``), plus runs in the background, the palette and what every node
    and wire shows (``EditorSession`` adds Looks)."""

    def __init__(self, registry: Registry | None = None, cache: Cache | None = None,
                 config_dir: str | os.PathLike | None = None, output_dir: str | os.PathLike | None = None):
        self.cache = cache
        self.output_dir = Path(output_dir) if output_dir else None
        self.auto_run = False
        self.previewed: str | None = None
        self.step_node: str | None = None
        self.step_link: tuple[str, str, str, str] | None = None
        self._states: dict[str, NodeState] = {}
        self._result: RunResult | None = None
        self._runner: _Runner | None = None
        self._evaluator: Evaluator | None = None
        self._explain: dict[str, Any] = {}
        self._explained_at = -1
        self._step_order: list[str] = []
        self.runs = 0  # runs started: a short run can begin and end between two frames
        self._run_rev = -1
        #: the files the last run wrote or found cached (absolute paths), and the folder they are in
        self.last_files: list[str] = []
        self.last_output_dir: Path | None = None
        super().__init__(registry, config_dir)

    def _set_document(self, doc: Document, path: Path | None) -> None:
        self._states.clear()
        self._result = None
        self._evaluator = None
        self._explain, self._explained_at = {}, -1
        self._step_order, self.step_node, self.step_link = [], None, None
        super()._set_document(doc, path)

    def _changed(self, change: Any) -> None:
        super()._changed(change)
        self._touch(n for n in change.nodes if n in self.doc)
        if change.nodes and self.auto_run and self.previewed and self.previewed in self.doc and not self.running:
            self.run([self.previewed])

    # -- pins ---------------------------------------------------------------------------------------
    def pin(self, node_id: str) -> str | None:
        r = self._result.nodes.get(node_id) if self._result else None
        if r is None or not r.ok:
            return f"node {node_id!r} has no result to pin yet: run it first"
        self._do(self._evaluator_for().pin(self._result, node_id))
        return None

    def unpin(self, node_id: str) -> None:
        self._do(SetPin(node_id, None))

    # -- palette ----------------------------------------------------------------------------------
    def search_nodes(self, query: str) -> list:
        """Node types matching every word of ``query`` in their title, id, category or description,
        best first (title matches, then id, then category, then description)."""
        words = query.lower().split()
        scored = []
        for spec in self.registry:
            fields = [spec.title.lower(), spec.id.lower(), spec.category.lower(), spec.description.lower()]
            score = 0
            for w in words:
                hits = [i for i, f in enumerate(fields) if w in f]
                if not hits:
                    break
                score += (4 - hits[0]) + (2 if fields[0].startswith(w) else 0)
            else:
                scored.append((-score, spec.category, spec.title, spec))
        return [s[-1] for s in sorted(scored, key=lambda t: t[:3])]

    # -- what the view shows ----------------------------------------------------------------------
    def node_view(self, node_id: str) -> NodeView:
        rec = self.doc.node(node_id)
        lay = self.doc.layout.get(node_id, {})
        spec = self.registry.specs.get(rec["type"])
        linked = self.doc.inputs(node_id)
        used_out = {l.src_port for l in self.doc.links_from(node_id)}
        st = self._states.get(node_id) or NodeState()
        reason = self._reason(node_id)
        if spec is None:
            return NodeView(node_id, rec.get("label") or node_id, rec["type"], "?", tuple(lay.get("pos", (0, 0))),
                            bool(lay.get("collapsed")), None, [], [], "failed", 0.0, 0.0,
                            self.registry.explain_unknown(rec["type"], self.doc.packs), reason, False)
        params = rec["params"]
        ins = [PinView(p.name, p.type.id, p.type.vtype.color, p.name in linked, p.is_param,
                       params.get(p.name, None if p.default is REQUIRED or p.default is None
                                  else p.type.vtype.to_json(p.default)) if p.is_param else None)
               for p in spec.inputs]
        if spec.defaults_from:  # unset params filled from a linked input or a file: no misleading default
            for o in overrides(self.doc, node_id, spec):
                if o.level == "note":
                    pin = next(p for p in ins if p.name == o.param)
                    pin.value, pin.overridden_by = None, o.source
        outs = [PinView(o.name, o.type.id, o.type.vtype.color, o.name in used_out) for o in spec.outputs]
        state = self.state(node_id)
        state = "pinned" if rec.get("pinned") and state in ("stale", "cached") else state
        fresh = state == st.state
        return NodeView(node_id, rec.get("label") or spec.title, spec.id, spec.category, tuple(lay.get("pos", (0, 0))),
                        bool(lay.get("collapsed")), tuple(lay["color"][:3]) if lay.get("color") else None, ins, outs,
                        state, st.progress if fresh else 0.0, st.seconds if fresh else 0.0,
                        st.message if fresh else "", reason, bypass=bool(rec.get("bypass")))

    def links_view(self) -> list[LinkView]:
        out = []
        for l in self.doc.links():
            spec = self.registry.specs.get(self.doc.type_of(l.src))
            port = spec.output_port(l.src_port) if spec else None
            out.append(LinkView(l.src, l.src_port, l.dst, l.dst_port, port.type.vtype.color if port else (150, 150, 150)))
        return out

    def inspector(self, node_id: str) -> InspectorView:
        rec = self.doc.node(node_id)
        spec = self.registry.get(rec["type"], self.doc.packs)
        linked = self.doc.inputs(node_id)
        by = {o.param: o for o in overrides(self.doc, node_id, spec)}
        params = []
        for p in spec.inputs:
            if not p.is_param:
                continue
            default = None if p.default is REQUIRED or p.default is None else p.type.vtype.to_json(p.default)
            value = rec["params"].get(p.name, default)
            o = by.get(p.name)
            params.append(ParamView(p.name, p.type.id, value, default, dict(p.type.opts), p.doc, p.name in linked,
                                    o.source if o is not None else ""))
        st = self._states.get(node_id) or NodeState()
        state = self.state(node_id)
        fresh = state == st.state
        return InspectorView(node_id, rec.get("label") or spec.title, spec.description, params,
                             rec.get("cache", "default"), bool(rec.get("pinned")), state,
                             st.seconds if fresh else 0.0, st.message if fresh else "")

    # -- runs -------------------------------------------------------------------------------------
    def allow_read(self, path: str | os.PathLike) -> Path:
        """Let this graph read the folder of ``path``, a file the user picked with a file dialog
        (graphs read only inside their own folder, the model folders and folders allowed so)."""
        folder = Path(path).expanduser().resolve()
        folder = folder if folder.is_dir() else folder.parent
        if folder not in self.allowed_read:
            self.allowed_read.append(folder)
            if self._evaluator is not None and not self.running:
                self._evaluator.close()
            self._evaluator = None  # the next one reads with the new folder allowed
        return folder

    def _evaluator_for(self) -> Evaluator:
        from ..models.pins import ModelPins
        from ..policy import Policy, graph_root_for

        out = self.output_dir or (self._run_base() / "output")
        if self._evaluator is None or self._evaluator.output_dir != out:
            base = self._run_base()
            root = graph_root_for(self._media_source, base) if self._media_source is not None else base
            self._evaluator = Evaluator(self.registry, output_dir=out, base_dir=base,
                                        cache=self.cache if self.cache is not None else Cache(),
                                        graph_id=str(self.path.resolve()) if self.path else None,
                                        policy=Policy(base, graph_root=root, allow_read=self.allowed_read, output_dir=out),
                                        model_pins=ModelPins.beside(self.path) or None)
        return self._evaluator

    def _signer(self) -> Any:
        """The identity runs sign outputs with (content credentials, C2PA): as for ``nodegraph
        run``, only when ``$NODEGRAPH_SIGN_KEY`` names one (checked at each run: a bad key stops
        the run with a message naming the file)."""
        from ..credentials import ENV_SIGN_KEY, signer_from

        return signer_from(required=False) if os.environ.get(ENV_SIGN_KEY) else None

    @property
    def running(self) -> bool:
        return self._runner is not None and self._runner.thread.is_alive()

    def run(self, targets: list[str] | None = None) -> str | None:
        """Start a run in the background (None: every output; [node]: run to here). Returns None,
        or why it cannot start (invalid graph, a run already going)."""
        if self.running:
            return "a run is already going: cancel it first"
        ev = self._evaluator_for()
        snapshot = self.doc.snapshot()
        try:
            ev.check(snapshot, targets=targets)
            ev.signer = self._signer()
        except NodegraphError as e:
            self.log.append(f"error: {e}")
            return str(e)
        token = CancelToken()
        events: queue.Queue = queue.Queue()

        def work() -> None:
            try:
                result = ev.run(snapshot, targets, on_event=events.put, cancel=token)
                events.put(("done", result))
            except Exception as e:  # reported in the log, never raised into the UI thread
                events.put(("error", format_error(e)))

        self._runner = _Runner(threading.Thread(target=work, name="nodegraph-run", daemon=True), token, events)
        self._run_rev = snapshot.revision
        for nid in snapshot.upstream(targets) if targets else snapshot.node_ids():
            self._states[nid] = NodeState("queued")
        self.runs += 1
        self._runner.thread.start()
        return None

    def cancel(self) -> None:
        if self._runner is not None:
            self._runner.cancel.cancel()

    def _stop_run(self) -> None:
        if self._runner is not None:
            self._runner.cancel.cancel()
            self._runner.thread.join(timeout=30)
            self.poll()
            self._runner = None

    def wait(self, timeout: float = 60.0) -> bool:
        """Block until the background run ends (for scripts and tests; the UI polls instead)."""
        if self._runner is None:
            return True
        self._runner.thread.join(timeout)
        self.poll()
        return not self.running

    def poll(self) -> bool:
        """Apply what the background run reported since the last call (never blocks). True when
        something changed."""
        if self._runner is None:
            return False
        changed = False
        while True:
            try:
                item = self._runner.events.get_nowait()
            except queue.Empty:
                break
            changed = True
            if isinstance(item, Event):
                self._on_event(item)
            elif item[0] == "done":
                self._result = item[1]
                self._explained_at = -1  # what will re-run has changed: ask the evaluator again
                r = self._result
                self.log.append(f"run finished: {r.count('computed')} computed, {r.count('cached')} cached, "
                                f"{r.count('failed')} failed{', cancelled' if r.cancelled else ''} in {r.seconds:.2f} s")
                self._log_files(r)
                self.step_node = self.step_link = None
                edited = self.doc.changed_since(self._run_rev)  # edits made while it ran
                self._touch(self.doc.node_ids() if edited is None else [n for n in edited if n in self.doc])
            elif item[0] == "error":
                self.log.append(f"error: {item[1]}")
            if not isinstance(item, Event):  # the run ended: a node it never reached is not queued
                for nid in [n for n, st in self._states.items() if st.state == "queued"]:
                    del self._states[nid]  # (no output needs it, or cancelled): the cache's verdict
        if changed:
            self.revision += 1
        return changed

    def _on_event(self, e: Event) -> None:
        if e.node is None:
            return
        st = self._states.setdefault(e.node, NodeState())
        if e.kind == "started":
            st.state, st.progress, st.live = "running", 0.0, None
        elif e.kind == "progress":
            st.progress = float(e.data.get("fraction", 0.0))
            if e.data.get("preview") is not None:
                st.live, st.live_serial = e.data["preview"], st.live_serial + 1
        elif e.kind == "finished":
            st.state, st.seconds, st.progress, st.message = e.data.get("status", "computed"), float(e.data.get("seconds", 0.0)), 1.0, ""
        elif e.kind == "failed":
            st.state, st.message = "failed", str(e.data.get("message", ""))
            self.log.append(f"error: node {e.node!r} failed: {st.message}")
        elif e.kind == "skipped":
            st.state, st.message = "skipped", str(e.data.get("reason", ""))
        elif e.kind == "log":
            self.log.append(f"{e.node}: {e.data.get('message', '')}")
        elif e.kind == "warning":  # a param whose value comes from a link or a file
            self.log.append(f"{e.data.get('level', 'warning')}: node {e.node!r}: {e.data.get('message', '')}")

    def step(self) -> str | None:
        """Teaching mode: compute the next node in order (with what it needs), highlighting it and
        the wire it feeds. Returns the node computed, or None when every node is done."""
        if self.running:
            return None
        if not self._step_order or self.step_node is None and all(
                self._done(n) for n in self._step_order):
            import networkx as nx

            self._step_order = list(nx.lexicographical_topological_sort(self.doc.g))
        for nid in self._step_order:
            if nid in self.doc and not self._done(nid):
                self.step_node = nid
                out = self.doc.links_from(nid)
                self.step_link = (out[0].src, out[0].src_port, out[0].dst, out[0].dst_port) if out else None
                refused = self.run([nid])
                if refused is None:
                    return nid
                # a node that cannot run (unfinished, invalid) is marked with why, and the step moves on
                self._states[nid] = NodeState("failed", message=refused)
                self.log.append(f"step: {nid} cannot run: {refused}")
        self.step_node = self.step_link = None
        self._step_order = []
        return None

    def live_serial(self, node_id: str) -> int:
        """Changes whenever a running node sends a new in-progress picture."""
        st = self._states.get(node_id)
        return st.live_serial if st is not None else 0

    def preview(self, node_id: str) -> Preview | None:
        """A small view of the node's last output (from the run's results; nothing is recomputed);
        while it runs, the last in-progress picture it sent (a diffusion node's latents)."""
        self.previewed = node_id
        st = self._states.get(node_id)
        if st is not None and st.state == "running" and st.live is not None:
            t = find_type(st.live)
            if t is not None:
                pv = t.preview(st.live)
                return Preview(pv.kind, f"in progress, {st.progress:.0%}", image=pv.image)
        r = self._result.nodes.get(node_id) if self._result else None
        if r is None or not r.ok:
            return None
        names = list(r.digests or r.outputs)
        if not names:
            return None
        try:
            value = self._result.value(node_id, names[0])
        except NodegraphError:
            return None
        t = r.types.get(names[0])
        return t.preview(value) if t is not None else None

    def value_of(self, node_id: str) -> Any:
        r = self._result.nodes.get(node_id) if self._result else None
        if r is None or not r.ok or not (r.digests or r.outputs):
            return None
        try:
            return self._result.value(node_id, next(iter(r.digests or r.outputs)))
        except NodegraphError:
            return None

    def output_preview(self, node_id: str, port: str) -> Preview | None:
        """A small view of output ``port`` of the node's last result (nothing is recomputed)."""
        r = self._result.nodes.get(node_id) if self._result else None
        if r is None or not r.ok or port not in (r.digests or r.outputs):
            return None
        try:
            value = self._result.value(node_id, port)
        except NodegraphError:
            return None
        t = r.types.get(port)
        return t.preview(value) if t is not None else None

    def frame_of(self, node_id: str, index: int):
        from ..types import Video

        v = self.value_of(node_id)
        if not isinstance(v, Video) or v.n_frames == 0:
            return None
        return v.rgb_frame(max(0, min(index, v.n_frames - 1)))

    def audio_of(self, node_id: str):
        from ..types import Audio, Speech, Video

        v = self.value_of(node_id)
        if isinstance(v, Speech):
            return v.audio
        if isinstance(v, Video):
            return v.audio
        return v if isinstance(v, Audio) else None

    def close(self) -> None:
        self._stop_run()
        if self._evaluator is not None:
            self._evaluator.close()


class EditorSession(LicenceSessionMixin, LooksSessionMixin, EditorSessionBase):
    """The editor's session: ``EditorSessionBase`` with Looks (the open graph's registry knows
    the installed Looks; making, inserting, upgrading and unlocking them; an instance's state from
    its inner nodes: ``LooksSessionMixin``, looks_session.py) and licence badges on nodes whose
    models stop commercial use (``LicenceSessionMixin``, licence_session.py)."""


__all__ = ["EditorSession", "EditorSessionBase", "DocumentSession", "NodeView", "PinView", "LinkView", "ParamView", "InspectorView",
           "STATE_COLORS"]
