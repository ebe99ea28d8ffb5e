"""Teaching mode, without a screen: step through a graph one node at a time in the order a run
computes it, say what every wire carries, and export the walkthrough as one HTML page.

``Teaching(session)`` walks ``order`` (the engine's order of what a run of every output computes):
``forward`` runs the next node through the session (cached like any run, in the background: the
editor keeps polling the session), ``back`` only moves the highlight. ``wire_value`` is what the
canvas prints on a wire (a thumbnail, a waveform, a number, the first words of a text); it never
raises and is cheap on every frame. ``export_html`` writes the walkthrough page
(``nodegraph.walkthrough``).

What a node computed stays known after later steps: every run's results are kept per node (the
latest only) until an edit of that node or of anything above it makes them out of date.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import NodegraphError, format_error
from ..walkthrough import SHORT, clip, execution_order, export_html, glance, picture, rgba_float

THUMB = 64            # long side of a wire's picture, in pixels
WAVE = (64, 24)       # a wire's waveform picture
SCALES = (1.5, 2.0, 2.5)  # presenter scales the editor offers


@dataclass(frozen=True)
class WireValue:
    """What a wire carries, at a glance. kind: "image" | "audio" | "video" | "number" | "text" |
    "other" | "none" (not computed yet, or out of date, or failed); text: at most 24 characters;
    rgba: float32 (h, w, 4) in 0..1, at most 64 px on its long side (an image's thumbnail, a
    video's first frame, a sound's waveform), or None."""

    kind: str
    text: str
    rgba: np.ndarray | None = field(default=None, compare=False, repr=False)


NOT_YET = WireValue("none", "")


# -- what every run computed, per session ------------------------------------------------------------
class _Known:
    """The latest result of every node a run of this session computed, and whether it is still
    true: a node's result holds until an edit of the node or of anything upstream of it."""

    def __init__(self) -> None:
        self.uid: str | None = None
        self.seen: Any = None             # the RunResult last taken in
        self.runs_seen = -1
        self.run_revision = 0             # document revision when the run now going started
        self.results: dict[str, tuple[Any, int]] = {}   # node -> (RunResult, revision it ran at)
        self.glances: dict[tuple[str, str | None], tuple[tuple, WireValue]] = {}
        self._valid_at = -1
        self._valid: dict[str, bool] = {}

    def take_in(self, session: Any) -> None:
        """Take in what the session's last run computed (call often: every frame, every step)."""
        doc = session.doc
        if doc.uid != self.uid:
            self.__init__()  # another document
            self.uid = doc.uid
        if session.runs != self.runs_seen:  # a run started since: it runs the document as it is now
            self.runs_seen = session.runs
            self.run_revision = doc.revision
        result = getattr(session, "_result", None)
        if result is None or result is self.seen or session.running:
            return
        self.seen = result
        for nid, r in result.nodes.items():
            if r.status in ("computed", "cached", "pinned", "failed"):
                self.results[nid] = (result, self.run_revision)
        self._valid_at = -1

    def entry(self, doc: Any, nid: str) -> tuple[Any, Any] | None:
        """(RunResult, NodeResult) of the node's latest run, if it is still true for ``doc``."""
        got = self.results.get(nid)
        if got is None or nid not in doc:
            return None
        if self._valid_at != doc.revision:
            self._valid_at, self._valid = doc.revision, {}
        ok = self._valid.get(nid)
        if ok is None:
            changed = doc.changed_since(got[1])
            ok = changed is not None and not (changed & doc.upstream([nid]))
            self._valid[nid] = ok
        return (got[0], got[0].nodes[nid]) if ok else None


_known: "weakref.WeakKeyDictionary[Any, _Known]" = weakref.WeakKeyDictionary()


def known(session: Any) -> _Known:
    k = _known.get(session)
    if k is None:
        k = _known[session] = _Known()
    k.take_in(session)
    return k


def _port_value(entry: tuple[Any, Any], nid: str, port: str | None) -> tuple[Any, str | None]:
    result, r = entry
    names = list(r.digests) or list(r.outputs)
    port = port if port is not None else (names[0] if names else None)
    if port is None or port not in names:
        raise NodegraphError(f"node {nid!r} has no output {port!r}")
    t = r.types.get(port)
    return result.value(nid, port), (t.id if t is not None else None)


def wire_value(session: Any, node_id: str, port: str | None = None) -> WireValue:
    """What output ``port`` of ``node_id`` (None: its first) carries now. Never raises; the
    picture is made once per result (and once per in-progress picture of a running node)."""
    try:
        k = known(session)
        serial = session.live_serial(node_id)
        running = session.state(node_id) == "running"
        entry = None if running else k.entry(session.doc, node_id)
        stamp = (serial, running, id(entry[0]) if entry else 0, entry[1].key if entry else b"")
        hit = k.glances.get((node_id, port))
        if hit is not None and hit[0] == stamp:
            return hit[1]
        wv = _make(session, node_id, port, entry, running)
        if len(k.glances) > 4096:
            k.glances.clear()
        k.glances[(node_id, port)] = (stamp, wv)
        return wv
    except Exception as e:  # a value that cannot be shown is said, never raised into a frame
        return WireValue("none", clip(f"error: {format_error(e)}", SHORT))


def _make(session: Any, nid: str, port: str | None, entry: Any, running: bool) -> WireValue:
    if running:
        st = session._states.get(nid)
        live = getattr(st, "live", None)
        text = f"running {getattr(st, 'progress', 0.0):.0%}"
        pic = picture(live, THUMB, WAVE) if live is not None else None
        return WireValue("image" if pic is not None else "none", text, rgba_float(pic, THUMB) if pic is not None else None)
    if entry is None:
        return NOT_YET
    r = entry[1]
    if not r.ok:
        return WireValue("none", clip(f"{r.status}: {r.error}" if r.error else r.status))
    value, type_id = _port_value(entry, nid, port)
    g = glance(value, type_id)
    pic = picture(value, THUMB, WAVE) if g.kind in ("image", "video", "audio", "other") else None
    return WireValue(g.kind, g.text, rgba_float(pic, THUMB) if pic is not None else None)


# -- stepping ----------------------------------------------------------------------------------------
class Teaching:
    """Steps through the session's document in execution order (see the module docstring).

    order: node ids in the order a run of every output computes them (follows edits that add or
    remove nodes and links); index: the current step (-1 before the first); current: its node;
    message: why the last step could not run, or ""; scale: the presenter scale (1.5 to 2.5)
    the canvas draws fonts and pins with in teaching mode."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.index = -1
        self.message = ""
        self.scale = 2.0
        self._order: list[str] = []
        self._order_key: tuple | None = None

    # -- the order and where we are -----------------------------------------------------------------
    @property
    def order(self) -> list[str]:
        doc = self.session.doc
        key = (doc.uid, doc.structure_revision)
        if key != self._order_key:
            was = self._order[self.index] if 0 <= self.index < len(self._order) else None
            same_doc = self._order_key is not None and self._order_key[0] == doc.uid
            try:
                order = execution_order(self.session._evaluator_for(), doc)
            except NodegraphError as e:  # a cycle: nothing to step through until it is broken
                order, self.message = [], str(e)
            self._order, self._order_key = order, key
            if not same_doc:
                self.index = -1
            elif was in order:
                self.index = order.index(was)
            else:
                self.index = min(self.index, len(order) - 1)
        return self._order

    @property
    def current(self) -> str | None:
        order = self.order
        return order[self.index] if 0 <= self.index < len(order) else None

    def reset(self) -> None:
        """Back to before the first step (nothing highlighted)."""
        _ = self.order
        self.index, self.message = -1, ""

    def forward(self) -> str | None:
        """Compute the next node (a run to it, in the background, cached like any run) and make it
        current. Returns it, or None at the end or while a run is going (``message`` says so). A
        node that cannot run still becomes current, with why in ``message``."""
        s = self.session
        if s.running:
            self.message = "a run is going: wait for it to end (or cancel it)"
            return None
        order = self.order
        if self.index + 1 >= len(order):
            self.message = "that was the last node" if order else "there is nothing to run"
            return None
        known(s)  # keep what the last run computed before the next one replaces it
        self.index += 1
        nid = order[self.index]
        refused = s.run([nid])
        self.message = f"{nid} cannot run: {refused}" if refused else ""
        known(s)  # the run's start: its results belong to the document as it is now
        return nid

    def back(self) -> str | None:
        """Make the previous node current (nothing is recomputed). Returns it, or None at the first."""
        order = self.order
        if self.index <= 0 or not order:
            self.message = "this is the first node"
            return None
        self.index = min(self.index, len(order)) - 1
        self.message = ""
        return order[self.index]

    def go(self, node_id: str) -> None:
        """Make ``node_id`` current without computing it (a click on a node while teaching)."""
        order = self.order
        if node_id not in order:
            raise NodegraphError(f"node {node_id!r} is not computed by a run of the outputs, so it has no step")
        self.index = order.index(node_id)

    # -- what the current node takes and makes -----------------------------------------------------------
    def inputs_of(self, node_id: str) -> dict[str, WireValue]:
        """What comes into ``node_id`` over wires, by input name (a second wire into a list input
        is ``name[1]``, and so on)."""
        doc = self.session.doc
        out: dict[str, WireValue] = {}
        if node_id not in doc:
            return out
        for port, links in doc.inputs(node_id).items():
            for i, l in enumerate(links):
                out[port if i == 0 else f"{port}[{i}]"] = wire_value(self.session, l.src, l.src_port)
        return out

    def output_of(self, node_id: str) -> dict[str, WireValue]:
        """What ``node_id`` makes, by output name ("none" where it has not run yet)."""
        doc = self.session.doc
        if node_id not in doc:
            return {}
        spec = self.session.registry.specs.get(doc.type_of(node_id))
        ports = [o.name for o in spec.outputs] if spec is not None else []
        return {p: wire_value(self.session, node_id, p) for p in ports}

    def value_of(self, node_id: str, port: str | None = None) -> Any:
        """The value output ``port`` (None: the first) of ``node_id`` holds now, from whichever run
        computed it last (the session's own ``value_of`` knows only the latest run); None when it
        is not computed or out of date."""
        entry = known(self.session).entry(self.session.doc, node_id)
        if entry is None or not entry[1].ok:
            return None
        try:
            return _port_value(entry, node_id, port)[0]
        except NodegraphError:
            return None

    def note(self, node_id: str) -> str:
        """The node's note (its ``notes`` in the document), shown as a callout while teaching."""
        doc = self.session.doc
        return str(doc.node(node_id).get("notes") or "") if node_id in doc else ""

    def set_note(self, node_id: str, text: str) -> None:
        """Write the node's note (an undoable edit; notes change no result)."""
        from ..commands import SetNotes

        if text != self.note(node_id):
            self.session._do(SetNotes(node_id, str(text)))

    def set_scale(self, scale: float) -> float:
        self.scale = float(min(2.5, max(1.5, scale)))
        return self.scale

    # -- the walkthrough page -----------------------------------------------------------------------
    def missing(self) -> list[str]:
        """The nodes of ``order`` whose output is not known (a run of the outputs fills them in)."""
        k = known(self.session)
        return [n for n in self.order if k.entry(self.session.doc, n) is None]

    def export_html(self, path: str | Path, title: str | None = None) -> Path:
        """Write the walkthrough (one self-contained HTML file: a section per node in ``order`` with
        its note, settings, inputs and output preview) to ``path``. Nodes not computed yet say so:
        run the graph first for a complete page (the editor does)."""
        s = self.session
        k = known(s)

        def values(nid: str):
            entry = k.entry(s.doc, nid)
            if entry is None:
                return "not computed yet: run the graph, then export again"
            result, r = entry
            if not r.ok:
                return f"{r.status}" + (f": {r.error}" if r.error else "")
            return {port: result.value(nid, port) for port in (list(r.digests) or list(r.outputs))}

        name = s.path.name if getattr(s, "path", None) else ""
        return export_html(path, s.doc, s.registry, list(self.order), values, title, name)


__all__ = ["WireValue", "wire_value", "Teaching", "SCALES", "known"]
