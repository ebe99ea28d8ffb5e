"""Looks in the editor, without a screen: the open graph's node registry knows every installed
Look (``nodegraph.looks.with_looks``), and the session makes Looks from a selection, inserts them
(on a wire or on the canvas), upgrades and unlocks instances, and says what state an instance is
in from its inner nodes.

A run and the cache's verdicts name inner nodes by path (``card/draw_subtitle``); an instance
shows one state made from them: running or queued while one is, failed if one failed, stale if
one will run, computed if one was computed, else cached. An edit that reaches an instance (or a
node above it) reaches its inner nodes.

``LooksSessionMixin`` is part of ``EditorSession``; it uses the session's ``doc``, ``path``,
``registry``, ``log``, ``_states``, ``_result``, ``_evaluator``, ``_do`` and ``node_view``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ..commands import AddNode, Batch, Connect, _SetPortLinks
from ..errors import NodegraphError, format_error
from ..graph import Link
from ..looks import LookRegistry, model as look_model, with_looks
from ..looks.model import TYPE_PREFIX, Look, split_type, version_key

#: the order an instance's inner states are looked at: the first one found is what it shows
_AGGREGATE = ("running", "queued", "failed", "stale", "computed", "cached", "pinned", "skipped")
LOOK_OUTLINE = (176, 120, 230)


@dataclass
class ParamChoice:
    """A param of the selection that can be promoted, as the Make Look dialog shows it."""

    node: str
    param: str
    kind: str
    label: str
    group: str
    min: float | None = None
    max: float | None = None
    value: Any = None


@dataclass
class InnerNode:
    """One inner node of an instance, as the read-only inside view lists it."""

    path: str  # flat id, ``card/draw_subtitle``
    type: str
    title: str
    state: str
    params: list[tuple[str, Any, str]] = field(default_factory=list)  # (name, value, "promoted as X" or "")
    inputs: list[tuple[str, str]] = field(default_factory=list)  # (port, "from ...")


def is_instance_type(type_id: str) -> bool:
    return type_id.startswith(TYPE_PREFIX)


class LooksSessionMixin:
    doc: Any
    path: Path | None
    registry: Any
    log: list[str]
    _states: dict
    _result: Any
    _evaluator: Any

    # -- the registry of the open graph -------------------------------------------------------------
    def _set_document(self, doc: Any, path: Path | None) -> None:
        super()._set_document(doc, path)  # type: ignore[misc]
        self.refresh_looks(quiet=True)

    def refresh_looks(self, quiet: bool = False) -> LookRegistry:
        """Find the Looks again (the graph's ``looks/`` folder, the user's, packages) and rebuild
        the registry from them; the evaluator is built anew with it."""
        base = getattr(self, "base_registry", None)
        if base is None:
            reg = self.registry
            base = self.base_registry = reg.base if isinstance(reg, LookRegistry) else reg
        self.registry = with_looks(base, self.path)
        ev = getattr(self, "_evaluator", None)
        if ev is not None and not getattr(self, "running", False):
            ev.close()
            self._evaluator = None
        self._explained_at = -1
        self.revision = getattr(self, "revision", 0) + 1
        if not quiet:
            for p in self.registry.library.problems:
                self.log.append(f"warning: {p}")
        return self.registry

    def save_as(self, path: Any) -> Path:
        before = self.path.resolve().parent if self.path is not None else None
        p = super().save_as(path)  # type: ignore[misc]
        if before is None or before != p.resolve().parent:
            self.refresh_looks(quiet=True)  # the graph's own looks/ folder is (another) one now
        return p

    @property
    def looks(self) -> list[Look]:
        """Every installed Look the open graph can use, by id then version."""
        return self.registry.library.all() if isinstance(self.registry, LookRegistry) else []

    def look_of(self, nid: str) -> Look | None:
        """The Look of instance ``nid`` (None for an ordinary node, or one not installed)."""
        t = self.doc.type_of(nid)
        return self.registry.look(t) if is_instance_type(t) and isinstance(self.registry, LookRegistry) else None

    def is_instance(self, nid: str) -> bool:
        return nid in self.doc and is_instance_type(self.doc.type_of(nid))

    # -- making a Look ---------------------------------------------------------------------------
    def promotable(self, ids: Iterable[str]) -> list[ParamChoice]:
        """The params of the selected nodes that can go on a Look's face (not fed by a wire),
        each with its label, group and range from its node type."""
        from ..node import REQUIRED

        out: list[ParamChoice] = []
        for nid in ids:
            if nid not in self.doc:
                continue
            spec = self.registry.specs.get(self.doc.type_of(nid))
            if spec is None:
                continue
            linked = self.doc.inputs(nid)
            group = self.doc.node(nid).get("label") or nid
            for p in spec.inputs:
                if not p.is_param or p.name in linked:
                    continue
                opts = p.type.opts or {}
                default = None if p.default is REQUIRED or p.default is None else p.type.vtype.to_json(p.default)
                label = f"{nid} {p.name}".replace("_", " ").capitalize()
                out.append(ParamChoice(nid, p.name, p.type.id, label, str(group), _num(opts.get("min")),
                                       _num(opts.get("max")), self.doc.params(nid).get(p.name, default)))
        return out

    def make_look(self, ids: list[str], ident: str, version: str = "1.0.0", promote: Iterable[Any] = (),
                  title: str = "", description: str = "") -> tuple[Look, Path]:
        """Make a Look of the nodes ``ids``, save it (with a thumbnail of the default sample
        picture when it takes and makes an image) to the user's looks folder, and put an instance
        in place of the nodes (one undo step). Raises ``NodegraphError`` saying what is wrong."""
        from ..looks.library import user_looks_dir
        from ..looks.make import make_look, replace_with_instance

        ids = [i for i in dict.fromkeys(ids) if i in self.doc]
        if not ids:
            raise NodegraphError("select the nodes to make a Look of first")
        bad = [i for i in ids if self.is_instance(i) and self.look_of(i) is None]
        if bad:
            raise NodegraphError(f"node {bad[0]!r} is a Look that is not installed: it cannot go inside another")
        look = make_look(self.doc, ids, ident, version, self.registry, promote=list(promote), title=title,
                         description=description)
        folder = user_looks_dir()
        dest = folder / look.file_name()
        if dest.exists():
            raise NodegraphError(f"{dest} already holds Look {look.label}: give this one another version "
                                 f"(installed: {', '.join(self.registry.library.versions(look.id)) or 'none'})")
        look.thumbnail = self._thumbnail(look)
        folder.mkdir(parents=True, exist_ok=True)
        look_model.save(look, dest)
        self.refresh_looks()
        look = self.registry.library.get(look.id, look.version) or look
        self._do(replace_with_instance(self.doc, look, ids))
        self.log.append(f"made Look {look.label} of {', '.join(ids)}: saved to {dest}")
        return look, dest

    def _thumbnail(self, look: Look) -> bytes:
        """The Look on the default sample picture (PNG), or b"" saying why in the log."""
        from ..looks import render

        if look.image_port("inputs") is None or look.image_port("outputs") is None:
            self.log.append(f"Look {look.label}: no thumbnail (it does not take and make an image)")
            return b""
        sample = render.default_sample()
        if sample is None:
            self.log.append(f"Look {look.label}: no thumbnail (the sample picture is not installed)")
            return b""
        lib_reg = LookRegistry(self.registry.base, self.registry.library)
        lib_reg.library.add(look)
        try:
            return render.thumbnail_png(look, lib_reg, render.load_sample(sample))
        except Exception as e:  # a Look that needs more than a picture: saved without one
            self.log.append(f"Look {look.label}: no thumbnail ({format_error(e)})")
            return b""
        finally:
            lib_reg.library.looks.pop((look.id, look.version), None)

    # -- using a Look ---------------------------------------------------------------------------
    def add_look(self, type_id: str, pos: tuple[float, float] = (0.0, 0.0),
                 wire: tuple[str, str, str, str] | None = None) -> str:
        """Add an instance of Look ``type_id`` at ``pos``; with ``wire`` (src, port, dst, port) it
        goes into that wire: the wire's value into its first input of the same type, its first
        output of the wire's type on to where the wire went (one undo step)."""
        look = self.registry.look(type_id) if isinstance(self.registry, LookRegistry) else None
        if look is None:
            raise NodegraphError(self.registry.explain_unknown(type_id, self.doc.packs))
        spec = self.registry.get(type_id)  # raises the reason a Look cannot be used (a missing inner node)
        nid = self.doc.new_id(type_id)
        add = AddNode(type_id, nid, {}, version=look.version, pos=(round(pos[0]), round(pos[1])))
        if wire is None:
            self._do(add)
            self.log.append(f"added Look {look.label} as {nid}")
            return nid
        src, sport, dst, dport = wire
        out = self.registry.get(self.doc.type_of(src)).output_port(sport)
        into = self.registry.get(self.doc.type_of(dst)).input(dport)
        if out is None or into is None:
            raise NodegraphError(f"there is no wire {src}.{sport} -> {dst}.{dport}")
        from ..types import can_connect

        wtype, need = out.type.id, into.type.id
        ins = sorted((p for p in spec.inputs if not p.is_param and can_connect(out.type.vtype, p.type.vtype)),
                     key=lambda p: p.type.id != wtype)
        outs = sorted((o for o in spec.outputs if can_connect(o.type.vtype, into.type.vtype)),
                      key=lambda o: o.type.id != need)
        inp = ins[0].name if ins else None
        outp = outs[0].name if outs else None
        if inp is None or outp is None:
            ins = ", ".join(f"{p.name} ({p.type.id})" for p in spec.inputs if not p.is_param) or "none"
            outs = ", ".join(f"{o.name} ({o.type.id})" for o in spec.outputs) or "none"
            raise NodegraphError(f"Look {look.label} cannot go into the {wtype} wire {src}.{sport} -> {dst}.{dport}: "
                                 f"it needs an input taking {wtype} and an output giving {need} "
                                 f"(inputs: {ins}; outputs: {outs})")
        links = [Link(dst, dport, l.order, nid, outp) if (l.src, l.src_port) == (src, sport) else l
                 for l in self.doc.links_into(dst, dport)]
        self._do(Batch([add, Connect(src, sport, nid, inp), _SetPortLinks(dst, dport, links)],
                       f"insert Look {look.id}"))
        self.log.append(f"inserted Look {look.label} as {nid} into {src}.{sport} -> {dst}.{dport}")
        return nid

    def newer_version(self, nid: str) -> str | None:
        """The newest installed version of instance ``nid``'s Look when it is newer than its own."""
        parsed = split_type(self.doc.type_of(nid)) if nid in self.doc else None
        if parsed is None or not isinstance(self.registry, LookRegistry):
            return None
        vs = self.registry.library.versions(parsed[0])
        return vs[-1] if vs and version_key(vs[-1]) > version_key(parsed[1]) else None

    def upgrade_instance(self, nid: str, version: str | None = None) -> list[str]:
        """Move instance ``nid`` to ``version`` (default: the newest installed), keeping its values;
        the notes (renamed or dropped params) go to the log and are returned."""
        from ..looks.make import upgrade

        old = self.doc.node(nid)["version"]
        cmd, notes = upgrade(self.doc, nid, self.registry.library, version)
        self._do(cmd)
        self.log.append(f"upgraded {nid} from {old} to {self.doc.node(nid)['version']}")
        self.log.extend(f"  {nid}: {n}" for n in notes)
        return notes

    def unlock_instance(self, nid: str) -> list[str]:
        """Replace instance ``nid`` by a copy of its inside, as ordinary nodes in a group (one undo
        step). Returns the new node ids."""
        from ..looks.make import unlock

        look = self.look_of(nid)
        if look is None:
            raise NodegraphError(f"node {nid!r} is not an installed Look's instance")
        before = set(self.doc.node_ids())
        self._do(unlock(self.doc, nid, look))
        new = sorted(set(self.doc.node_ids()) - before)
        self.log.append(f"unlocked {nid} ({look.label}): its inside is now nodes {', '.join(new)}")
        return new

    def inside(self, nid: str) -> list[InnerNode]:
        """What instance ``nid`` holds, read-only: each inner node (by path) with its state, its
        params as the instance sets them and where its inputs come from."""
        look = self.look_of(nid)
        if look is None:
            raise NodegraphError(f"node {nid!r} is not an installed Look's instance")
        import networkx as nx

        g = look.graph
        promoted: dict[tuple[str, str], str] = {}
        values = dict(self.doc.params(nid))
        for name, pro in look.params.items():
            for n, p in pro.to:
                promoted[(n, p)] = name
        feeds: dict[tuple[str, str], str] = {}
        for name, port in look.inputs.items():
            for n, p in port.to:
                feeds[(n, p)] = f"the Look's input {name}"
        out = []
        for n in nx.lexicographical_topological_sort(g.g):
            spec = self.registry.specs.get(g.type_of(n))
            fid = f"{nid}/{n}"
            node = InnerNode(fid, g.type_of(n), g.node(n).get("label") or (spec.title if spec else n),
                             self.state(fid))  # type: ignore[attr-defined]
            params = dict(g.params(n))
            wired = {l.dst_port for l in g.links_into(n)} | {fp for (fn, fp) in feeds if fn == n}
            for p in (spec.inputs if spec else ()):
                if not p.is_param or p.name in wired:
                    continue
                name = promoted.get((n, p.name))
                v = values.get(name, look.params[name].default) if name else params.get(p.name, p.default_json)
                node.params.append((p.name, v, f"promoted as {name}" if name else ""))
            for l in g.links_into(n):
                node.inputs.append((l.dst_port, f"{l.src}.{l.src_port}"))
            for (fn, fp), what in feeds.items():
                if fn == n:
                    node.inputs.append((fp, what))
            out.append(node)
        return out

    # -- states of instances ---------------------------------------------------------------------------
    def _members(self, nid: str) -> list[str]:
        """The inner nodes' paths of instance ``nid`` the session knows of (runs and verdicts)."""
        prefix = nid + "/"
        found = {k for k in self._states if k.startswith(prefix)}
        found.update(k for k in self._explanations() if k.startswith(prefix))  # type: ignore[attr-defined]
        return sorted(found)

    def state(self, node_id: str) -> str:
        if not self.is_instance(node_id):
            return super().state(node_id)  # type: ignore[misc]
        own = self._states.get(node_id)
        members = self._members(node_id)
        states = {super(LooksSessionMixin, self).state(m) for m in members}  # type: ignore[misc]
        if own is not None and own.state == "queued" and not states & {"running", "computed", "cached", "failed"}:
            return "queued"
        return next((s for s in _AGGREGATE if s in states), "stale")

    def run(self, targets: list[str] | None = None) -> str | None:
        why = super().run(targets)  # type: ignore[misc]
        if why is None:  # inner nodes of the instances it runs start afresh (their events follow)
            queued = {n for n, st in self._states.items() if st.state == "queued" and "/" not in n}
            for key in [k for k in self._states if "/" in k and k.split("/", 1)[0] in queued]:
                del self._states[key]
        return why

    def _done(self, node_id: str) -> bool:
        if not self.is_instance(node_id):
            return super()._done(node_id)  # type: ignore[misc]
        members = self._members(node_id)
        return bool(members) and all(super(LooksSessionMixin, self)._done(m) for m in members)  # type: ignore[misc]

    def _touch(self, nodes: Any) -> None:
        """An edit reached ``nodes``: they, what is below them and the inner nodes of the
        instances among them are decided again."""
        nodes = list(nodes)
        super()._touch(nodes)  # type: ignore[misc]
        if not any("/" in k for k in self._states):
            return
        doc = self.doc
        below = {d for n in nodes for d in doc.downstream(n)}
        for key, st in self._states.items():
            if "/" in key and key.split("/", 1)[0] in below:
                st.touched = True

    def instance_status(self, nid: str) -> tuple[float, str]:
        """(seconds its inner nodes computed for, the first inner failure named by path)."""
        secs, msg = 0.0, ""
        for m in self._members(nid):
            st = self._states.get(m)
            if st is None:
                continue
            if st.state == "computed":
                secs += st.seconds
            if st.state == "failed" and not msg:
                msg = f"{m.split('/', 1)[1]}: {st.message}"
        return secs, msg

    def _flat_output(self, nid: str, port: str) -> tuple[str, str]:
        flat = getattr(self._result, "looks", None) if self._result is not None else None
        return flat.source(nid, port) if flat is not None else (nid, port)

    def output_preview(self, node_id: str, port: str) -> Any:
        return super().output_preview(*self._flat_output(node_id, port))  # type: ignore[misc]

    def preview(self, node_id: str) -> Any:
        if self.is_instance(node_id) and self._result is not None:
            spec = self.registry.specs.get(self.doc.type_of(node_id))
            first = spec.outputs[0].name if spec is not None and spec.outputs else None
            if first is not None:
                flat_id, port = self._flat_output(node_id, first)
                self.previewed = node_id
                return super().output_preview(flat_id, port)  # type: ignore[misc]
        return super().preview(node_id)  # type: ignore[misc]

    def value_of(self, node_id: str) -> Any:
        if self.is_instance(node_id) and self._result is not None:
            spec = self.registry.specs.get(self.doc.type_of(node_id))
            if spec is not None and spec.outputs:
                flat_id, _port = self._flat_output(node_id, spec.outputs[0].name)
                return super().value_of(flat_id)  # type: ignore[misc]
        return super().value_of(node_id)  # type: ignore[misc]

    def pin(self, node_id: str) -> str | None:
        if self.is_instance(node_id):
            return f"node {node_id!r} is a Look instance: its inner nodes are cached one by one (unlock it to pin them)"
        return super().pin(node_id)  # type: ignore[misc]

    def inspector(self, node_id: str) -> Any:
        iv = super().inspector(node_id)  # type: ignore[misc]
        if self.is_instance(node_id) and iv.status in ("computed", "failed"):
            secs, msg = self.instance_status(node_id)
            iv.seconds, iv.message = iv.seconds or secs, iv.message or msg
        return iv

    def node_view(self, node_id: str) -> Any:
        v = super().node_view(node_id)  # type: ignore[misc]
        if is_instance_type(v.type):
            parsed = split_type(v.type)
            v.look = parsed  # (id, version): the canvas draws its badge and version
            if v.color is None:
                v.color = LOOK_OUTLINE
            if v.state in ("computed", "failed"):
                secs, msg = self.instance_status(node_id)
                v.seconds = v.seconds or secs
                v.message = v.message or msg
        return v


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


__all__ = ["LooksSessionMixin", "ParamChoice", "InnerNode", "LOOK_OUTLINE", "is_instance_type"]
