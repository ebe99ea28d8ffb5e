"""A semantic diff of two graph documents: what a person changed, not which lines moved.

``diff(old, new, registry=None, layout=False)`` compares two :class:`~nodegraph.graph.Document`
objects (each as the graph file would hold it, ``Document.content()``) and returns a list of
:class:`Change` records in a stable order: the graph's meta and packs, then node by node (sorted
by id) whether it was added, removed or changed type, its version, label, notes, cache policy,
bypass and pins, its params (old -> new) and the links into it (by input port), then groups, and
last, only when ``layout=True``, layout (positions, sizes, folding, colours, reroute points).

Params are compared with defaults in mind: given a registry (``registry.specs``), a param set
explicitly to its node type's default is the same as one left at the default; without a registry
(or for a type it does not know) only what the files hold is compared. Look instances
(``look:ns/name@1.2.0``) are nodes like any other; a new version of the same Look is a type
change marked ``upgrade`` (or ``downgrade``).

``format_text(changes)`` gives one line per change (``+ node blur (image.blur)``,
``~ blur.radius: 2 -> 4``, ``- link blur.image -> save.image``); ``to_json(changes)`` a list of
records (kind, node, param, old, new, and a few optional fields); ``summary(changes)`` one line
for a history list ("2 nodes added, 3 params changed").
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterable

from .graph import Document

#: the kinds of change, in the order ``summary`` counts them
KINDS = ("node-added", "node-removed", "type-changed", "version-changed", "field-changed", "param-changed",
         "link-added", "link-removed", "link-changed", "group-added", "group-removed", "group-changed",
         "meta-changed", "pack-changed", "layout-changed")
#: node fields besides params, in the order they are listed
FIELDS = ("label", "notes", "cache", "bypass", "pinned")
LAYOUT_KEYS = ("pos", "size", "collapsed", "color", "reroute")
_LOOK = re.compile(r"^look:(?P<ident>[^@]+)@(?P<version>\d+\.\d+\.\d+)(?P<pre>-.*)?\Z")


class _Missing:
    """No value: the param is not set and its node type gives no default (or is unknown)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Change:
    """One change from the old document to the new one.

    ``kind``: one of KINDS. ``node``: the node it is about (for links: the node whose input it
    is). ``param``: the param, input port, node field, layout key, meta key or pack namespace.
    ``old``/``new``: the values (``None`` when there is none on that side). ``group``: the group
    id for group changes. ``old_default``/``new_default``: that side's value is the node type's
    default (the file does not set it). ``note``: ``upgrade``/``downgrade`` for a Look's version,
    ``order`` for links reordered in a variadic input."""

    kind: str
    node: str | None = None
    param: str | None = None
    old: Any = None
    new: Any = None
    group: str | None = None
    old_default: bool = False
    new_default: bool = False
    note: str = ""

    @property
    def layout(self) -> bool:
        return self.kind == "layout-changed"

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "node": self.node, "param": self.param, "old": self.old, "new": self.new}
        if self.group is not None:
            d["group"] = self.group
        if self.old_default:
            d["old_default"] = True
        if self.new_default:
            d["new_default"] = True
        if self.note:
            d["note"] = self.note
        return d

    def text(self) -> str:
        k, n, p = self.kind, self.node, self.param
        if k == "node-added":
            return f"+ node {n} ({self.new})"
        if k == "node-removed":
            return f"- node {n} ({self.old})"
        if k == "type-changed":
            return f"~ node {n} type: {self.old} -> {self.new}" + (f" ({self.note})" if self.note else "")
        if k == "version-changed":
            return f"~ node {n} version: {self.old} -> {self.new}"
        if k == "field-changed":
            return f"~ node {n} {p}: {_field(p, self.old)} -> {_field(p, self.new)}"
        if k == "param-changed":
            return f"~ {n}.{p}: {_side(self.old, self.old_default)} -> {_side(self.new, self.new_default)}"
        if k == "link-added":
            return f"+ link {self.new} -> {n}.{p}"
        if k == "link-removed":
            return f"- link {self.old} -> {n}.{p}"
        if k == "link-changed":
            if self.note == "order":
                return f"~ link order into {n}.{p}: {', '.join(self.old)} -> {', '.join(self.new)}"
            return f"~ link into {n}.{p}: {self.old} -> {self.new}"
        if k == "group-added":
            return f"+ group {self.group} {_value(self.new.get('title', ''))} ({', '.join(self.new.get('nodes', []))})"
        if k == "group-removed":
            return f"- group {self.group} {_value(self.old.get('title', ''))}"
        if k == "group-changed":
            if p == "nodes":
                return f"~ group {self.group} nodes: {', '.join(self.old) or '(none)'} -> {', '.join(self.new) or '(none)'}"
            return f"~ group {self.group} {p}: {_value(self.old)} -> {_value(self.new)}"
        if k in ("meta-changed", "pack-changed"):
            where = "meta" if k == "meta-changed" else "packs"
            p = p if p is not None and p.isprintable() else json.dumps(p)  # keys of an untrusted file: no escapes
            if self.old is None:
                return f"+ {where}.{p}: {_value(self.new)}"
            if self.new is None:
                return f"- {where}.{p}: {_value(self.old)}"
            return f"~ {where}.{p}: {_value(self.old)} -> {_value(self.new)}"
        if k == "layout-changed":
            what = f"group {self.group}" if self.group is not None else n
            return f"~ layout {what} {p}: {_layout_value(self.old)} -> {_layout_value(self.new)}"
        return f"? {k} {n} {p}"  # not reached: every kind is written above


# -- comparing ---------------------------------------------------------------------------------
def diff(old: Document | dict, new: Document | dict, registry: Any = None, layout: bool = False) -> list[Change]:
    """Every change from ``old`` to ``new`` (see the module's doc), in a stable order. Each is a
    Document, or what ``Document.content()`` gives for one (the parsed text nodegraph wrote)."""
    a, b = (d.content() if isinstance(d, Document) else d for d in (old, new))
    specs = getattr(registry, "specs", None) or {}
    out: list[Change] = []
    out += _mapping_changes("meta-changed", a.get("meta", {}), b.get("meta", {}))
    out += _mapping_changes("pack-changed", a.get("packs", {}), b.get("packs", {}))
    na, nb = a["nodes"], b["nodes"]
    for nid in sorted(set(na) | set(nb)):
        out += _node_changes(nid, na.get(nid), nb.get(nid), specs)
    ga, gb = a.get("groups", {}), b.get("groups", {})
    for gid in sorted(set(ga) | set(gb)):
        out += _group_changes(gid, ga.get(gid), gb.get(gid), layout)
    if layout:
        la, lb = a.get("layout", {}), b.get("layout", {})
        for nid in sorted((set(la) | set(lb)) & set(na) & set(nb)):  # added or removed nodes' places are no news
            ea, eb = la.get(nid, {}), lb.get(nid, {})
            for key in LAYOUT_KEYS:
                va, vb = ea.get(key), eb.get(key)
                if not _same(va, vb):
                    out.append(Change("layout-changed", nid, key, va, vb))
    return out


def _mapping_changes(kind: str, a: dict, b: dict) -> list[Change]:
    return [Change(kind, None, k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if not _same(a.get(k), b.get(k))]


def _node_changes(nid: str, ea: dict | None, eb: dict | None, specs: dict) -> list[Change]:
    out: list[Change] = []
    if ea is None:
        out.append(Change("node-added", nid, new=eb["type"]))  # type: ignore[index]
    elif eb is None:
        out.append(Change("node-removed", nid, old=ea["type"]))
    else:
        if ea["type"] != eb["type"]:
            out.append(Change("type-changed", nid, old=ea["type"], new=eb["type"], note=_look_step(ea["type"], eb["type"])))
        if ea.get("version") != eb.get("version"):
            out.append(Change("version-changed", nid, old=ea.get("version"), new=eb.get("version")))
        for f in FIELDS:
            va, vb = _field_value(ea, f), _field_value(eb, f)
            if not _same(va, vb):
                out.append(Change("field-changed", nid, f, va, vb))
        out += _param_changes(nid, ea, eb, specs)
    out += _link_changes(nid, (ea or {}).get("inputs", {}), (eb or {}).get("inputs", {}))
    return out


def _field_value(entry: dict, f: str) -> Any:
    if f == "bypass":
        return bool(entry.get("bypass", False))
    if f == "cache":
        return entry.get("cache", "default")
    if f == "pinned":
        return entry.get("pinned") or None
    return entry.get(f, "")


def _param_changes(nid: str, ea: dict, eb: dict, specs: dict) -> list[Change]:
    pa, pb = ea.get("params", {}), eb.get("params", {})
    sa, sb = specs.get(ea["type"]), specs.get(eb["type"])
    out = []
    for name in sorted(set(pa) | set(pb)):
        da, db = name not in pa, name not in pb
        va = _default(sa, name) if da else pa[name]
        vb = _default(sb, name) if db else pb[name]
        if va is not MISSING and vb is not MISSING and _same(va, vb):
            continue
        if va is MISSING and vb is MISSING:
            continue
        out.append(Change("param-changed", nid, name, None if va is MISSING else va, None if vb is MISSING else vb,
                          old_default=da, new_default=db))
    return out


def _default(spec: Any, name: str) -> Any:
    """The value a param left unset has: its node type's default as the file would store it, or
    MISSING (type unknown, no such param, or no default)."""
    if spec is None:
        return MISSING
    port = spec.input(name)
    if port is None or not port.is_param or port.required:
        return MISSING
    try:
        return port.default_json
    except Exception:  # a default that cannot be written as JSON: compare what the files hold
        return MISSING


def _refs(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _link_changes(nid: str, ia: dict, ib: dict) -> list[Change]:
    out = []
    for port in sorted(set(ia) | set(ib)):
        ra, rb = _refs(ia.get(port)), _refs(ib.get(port))
        if ra == rb:
            continue
        if len(ra) == 1 and len(rb) == 1:
            out.append(Change("link-changed", nid, port, ra[0], rb[0]))
        elif sorted(ra) == sorted(rb):
            out.append(Change("link-changed", nid, port, ra, rb, note="order"))
        else:
            left = list(rb)
            for r in ra:  # as multisets: one source may feed a variadic input twice
                if r in left:
                    left.remove(r)
                else:
                    out.append(Change("link-removed", nid, port, old=r))
            out += [Change("link-added", nid, port, new=r) for r in left]
    return out


def _group_changes(gid: str, ga: dict | None, gb: dict | None, layout: bool) -> list[Change]:
    if ga is None:
        return [Change("group-added", new=gb, group=gid)]
    if gb is None:
        return [Change("group-removed", old=ga, group=gid)]
    out = []
    if ga.get("title", "") != gb.get("title", ""):
        out.append(Change("group-changed", param="title", old=ga.get("title", ""), new=gb.get("title", ""), group=gid))
    if list(ga.get("nodes", [])) != list(gb.get("nodes", [])):
        out.append(Change("group-changed", param="nodes", old=list(ga.get("nodes", [])), new=list(gb.get("nodes", [])), group=gid))
    if layout and not _same(ga.get("color"), gb.get("color")):
        out.append(Change("layout-changed", param="color", old=ga.get("color"), new=gb.get("color"), group=gid))
    return out


def _look_step(ta: str, tb: str) -> str:
    """``upgrade`` or ``downgrade`` when both are versions of the same Look."""
    ma, mb = _LOOK.match(ta), _LOOK.match(tb)
    if not (ma and mb) or ma["ident"] != mb["ident"]:
        return ""
    ka = tuple(int(x) for x in ma["version"].split(".")) + ((0,) if ma["pre"] else (1,))
    kb = tuple(int(x) for x in mb["version"].split(".")) + ((0,) if mb["pre"] else (1,))
    return "upgrade" if kb > ka else "downgrade" if kb < ka else ""


def _same(a: Any, b: Any) -> bool:
    """Equal as graph-file values: 2 and 2.0 are the same number, true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


# -- writing ---------------------------------------------------------------------------------------
MAX_VALUE_CHARS = 60


def _value(v: Any) -> str:
    """A value as one short line of JSON (long text is cut, with its length)."""
    if v is None:
        return "(none)"
    text = json.dumps(v, ensure_ascii=False)
    text = text.replace("\n", "\\n")
    if len(text) > MAX_VALUE_CHARS:
        size = f" ({len(v)} characters)" if isinstance(v, str) else ""
        text = text[: MAX_VALUE_CHARS - 4].rstrip("\\") + "..." + ('"' if isinstance(v, str) else "") + size
    return text


def _side(v: Any, default: bool) -> str:
    if default:
        return "(default)" if v is None else f"{_value(v)} (default)"
    return _value(v)


def _field(name: str | None, v: Any) -> str:
    if name == "bypass":
        return "on" if v else "off"
    if name == "pinned":
        return ", ".join(f"{k}={str(d)[:12]}" for k, d in sorted(v.items())) if isinstance(v, dict) else "(none)"
    return _value(v)


def _layout_value(v: Any) -> str:
    if v is None:
        return "(none)"
    if isinstance(v, list) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v):
        return f"({_num(v[0])}, {_num(v[1])})"
    return _value(v)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def format_text(changes: Iterable[Change]) -> str:
    """One line per change, in the order given (``diff``'s order), layout changes after a
    ``layout:`` line; "" when there is none."""
    changes = list(changes)
    lines = [c.text() for c in changes if not c.layout]
    moved = [c.text() for c in changes if c.layout]
    if moved:
        lines += ["layout:"] + ["  " + line.replace("~ layout ", "~ ", 1) for line in moved]
    return "\n".join(lines)


def to_json(changes: Iterable[Change]) -> list[dict[str, Any]]:
    return [c.to_json() for c in changes]


_WORDS = (  # (kinds, singular, plural): the summary's parts, in this order
    (("node-added",), "node added", "nodes added"),
    (("node-removed",), "node removed", "nodes removed"),
    (("type-changed",), "node changed type", "nodes changed type"),
    (("param-changed",), "param changed", "params changed"),
    (("link-added",), "link added", "links added"),
    (("link-removed",), "link removed", "links removed"),
    (("link-changed",), "link changed", "links changed"),
    (("version-changed", "field-changed"), "node setting changed", "node settings changed"),
    (("group-added", "group-removed", "group-changed"), "group change", "group changes"),
    (("meta-changed", "pack-changed"), "graph info change", "graph info changes"),
)


def summary(changes: Iterable[Change]) -> str:
    """One line: "2 nodes added, 3 params changed, 1 node moved" ("no changes" when empty).
    Looks upgraded are counted as such; layout changes count the nodes (and groups) touched."""
    changes = list(changes)
    parts = []
    upgrades = sum(1 for c in changes if c.kind == "type-changed" and c.note == "upgrade")
    for kinds, one, many in _WORDS:
        n = sum(1 for c in changes if c.kind in kinds and not (c.kind == "type-changed" and c.note == "upgrade"))
        if n:
            parts.append(f"{n} {one if n == 1 else many}")
        if kinds == ("node-removed",) and upgrades:
            parts.append(f"{upgrades} Look{'s' if upgrades > 1 else ''} upgraded")
    moved = {(c.node, c.group) for c in changes if c.layout}
    if moved:
        things = f"{len(moved)} {'node' if len(moved) == 1 else 'nodes'}"
        only_pos = all(c.param == "pos" for c in changes if c.layout)
        parts.append(f"{things} moved" if only_pos else f"layout of {things} changed")
    return ", ".join(parts) if parts else "no changes"


__all__ = ["Change", "KINDS", "MISSING", "diff", "format_text", "to_json", "summary"]
