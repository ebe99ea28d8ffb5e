"""The Look file (``*.look.json``): a versioned group of nodes with a face.

A Look is identified by ``namespace/name`` and a semantic version (Houdini's
``namespace::name::version``). Its file, in the same canonical JSON as graph files::

    {
      "format": "nodegraph-look", "version": 1,
      "look": "studio/noir", "look_version": "1.1.0",
      "title": "Noir", "description": "...", "source": "where to get it",
      "inputs":  {"image": {"type": "image", "to": ["grade.image"]}},
      "outputs": {"image": {"type": "image", "from": "grain.image"}},
      "params":  {"grain": {"to": ["grain.amount"], "label": "Grain", "group": "Texture",
                            "default": 0.3, "min": 0, "max": 1}},
      "migrations": {"1.1.0": {"rename": {"amount": "grain"}}},
      "thumbnail": "<PNG, base64>",
      "graph": {"nodes": {...}, "layout": {...}}      # an ordinary graph's content
    }

An input into a variadic port (a contact sheet's pictures) also says the place its wire had among
that port's wires: ``"order": {"sheet.images": 2}``; the inner wires take the other places.
The inputs and outputs are the wires the selection cut; ``params`` are the inner params the
artist promoted to the Look's face, each with a label, group, default and range; ``migrations``
say which params were renamed at which version, so upgrading an instance keeps its values.
Reading a Look never executes anything; every fault names the file and the place in it.
"""
from __future__ import annotations

import base64
import binascii
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import GraphFileError
from ..fileformat import SEMVER, _Reader, _short, from_data, parse_json, read_limited, render
from ..fsio import write_bytes
from ..graph import NODE_ID, Document

FORMAT = "nodegraph-look"
VERSION = 1
SUFFIX = ".look.json"
MAX_BYTES = 16 * 1024 * 1024
MAX_THUMB = 2 * 1024 * 1024
PART = r"[a-z][a-z0-9_-]{0,63}"
LOOK_ID = re.compile(rf"^{PART}/{PART}\Z")
PORT = re.compile(r"^[a-z_][a-z0-9_]*\Z")
#: the type id of an instance node in a graph: ``look:studio/noir@1.0.0``
TYPE_PREFIX = "look:"


def type_id(look_id: str, version: str) -> str:
    return f"{TYPE_PREFIX}{look_id}@{version}"


def split_type(type_id_: str) -> tuple[str, str] | None:
    """``look:studio/noir@1.0.0`` -> ("studio/noir", "1.0.0"); None for a node type."""
    if not type_id_.startswith(TYPE_PREFIX):
        return None
    ident, _, version = type_id_[len(TYPE_PREFIX):].rpartition("@")
    return (ident, version) if ident else None


def version_key(v: str) -> tuple:
    """Sort key of a semantic version (a pre-release sorts before its release)."""
    core, _, pre = v.partition("-")
    nums = tuple(int(x) for x in core.split("."))
    return nums + ((0, pre) if pre else (1, ""))


@dataclass
class Promoted:
    """An inner param on the Look's face: ``to`` lists the (inner node, param) it sets."""

    name: str
    to: tuple[tuple[str, str], ...]
    label: str = ""
    group: str = ""
    default: Any = None  # JSON value; None: the inner node's own value
    min: float | None = None
    max: float | None = None
    doc: str = ""

    def to_data(self) -> dict:
        d: dict[str, Any] = {"to": [f"{n}.{p}" for n, p in self.to]}
        for k in ("label", "group", "doc"):
            if getattr(self, k):
                d[k] = getattr(self, k)
        for k in ("default", "min", "max"):
            if getattr(self, k) is not None:
                d[k] = getattr(self, k)
        return d


@dataclass
class LookPort:
    """A typed input (feeding the inner ports ``to``) or output (taken from ``source``)."""

    name: str
    type: str
    to: tuple[tuple[str, str], ...] = ()
    source: tuple[str, str] | None = None
    #: (node, port) -> the place the cut wire had among that port's wires (a variadic input)
    orders: dict[tuple[str, str], int] = field(default_factory=dict)

    def to_data(self) -> dict:
        if self.source is not None:
            return {"type": self.type, "from": f"{self.source[0]}.{self.source[1]}"}
        d: dict[str, Any] = {"type": self.type, "to": [f"{n}.{p}" for n, p in self.to]}
        order = {f"{n}.{p}": k for (n, p), k in self.orders.items()}
        if order:
            d["order"] = order
        return d


@dataclass
class Look:
    id: str  # namespace/name
    version: str
    graph: Document
    title: str = ""
    description: str = ""
    source: str = ""
    inputs: dict[str, LookPort] = field(default_factory=dict)
    outputs: dict[str, LookPort] = field(default_factory=dict)
    params: dict[str, Promoted] = field(default_factory=dict)
    #: version -> {"rename": {old name: new name}}: what changed at that version
    migrations: dict[str, dict] = field(default_factory=dict)
    thumbnail: bytes = b""  # PNG
    #: where it was found (a file path) and by which library root ("user", "graph", "package NAME")
    path: str = ""
    origin: str = ""

    @property
    def namespace(self) -> str:
        return self.id.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.id.split("/", 1)[1]

    @property
    def type_id(self) -> str:
        return type_id(self.id, self.version)

    @property
    def label(self) -> str:
        return f"{self.id} {self.version}"

    def image_port(self, kind: str) -> str | None:
        """The first image port of ``kind`` ("inputs" or "outputs"), or None."""
        return next((n for n, p in getattr(self, kind).items() if p.type == "image"), None)

    def inner_places(self) -> dict[tuple[str, str], dict[int, int]]:
        """For an inner variadic port fed both by cut wires (each with its recorded place) and by
        inner wires: inner wire order -> its place (the places the cut wires do not take, in turn)."""
        taken: dict[tuple[str, str], set[int]] = {}
        for port in self.inputs.values():
            for target, k in port.orders.items():
                taken.setdefault(target, set()).add(k)
        out: dict[tuple[str, str], dict[int, int]] = {}
        for (n, p), used in taken.items():
            inner = sorted(l.order for l in self.graph.links_into(n, p)) if n in self.graph else []
            free = (k for k in range(len(used) + len(inner)) if k not in used)
            out[(n, p)] = {old: next(free) for old in inner}
        return out

    def to_data(self) -> dict:
        from ..fileformat import to_data as graph_data

        graph = graph_data(self.graph)
        graph.pop("format"), graph.pop("version")
        data: dict[str, Any] = {
            "format": FORMAT, "version": VERSION, "look": self.id, "look_version": self.version,
            "inputs": {k: p.to_data() for k, p in self.inputs.items()},
            "outputs": {k: p.to_data() for k, p in self.outputs.items()},
            "params": {k: p.to_data() for k, p in self.params.items()},
            "graph": graph,
        }
        for k in ("title", "description", "source"):
            if getattr(self, k):
                data[k] = getattr(self, k)
        if self.migrations:
            data["migrations"] = self.migrations
        if self.thumbnail:
            data["thumbnail"] = base64.b64encode(self.thumbnail).decode("ascii")
        return data

    def dumps(self) -> str:
        return render(self.to_data()) + "\n"

    def file_name(self) -> str:
        """``noir-1.0.0.look.json`` (namespace in the file, not the name: folders hold many)."""
        return f"{self.namespace}.{self.name}-{self.version}{SUFFIX}"


def save(look: Look, path: str | os.PathLike) -> Path:
    """Write a Look file atomically (the project's one writer)."""
    return write_bytes(path, look.dumps().encode("utf-8"))


def load(path: str | os.PathLike, origin: str = "") -> Look:
    p = Path(path)
    look = loads(read_limited(p, MAX_BYTES, "a Look"), source=str(p))
    look.path, look.origin = str(p), origin
    return look


def loads(text: str | bytes, source: str = "<look>") -> Look:
    """Parse a Look file's text (read as untrusted input, with the graph file's JSON rules)."""
    return from_look_data(parse_json(text, source, MAX_BYTES, "a Look"), source)


def _ref(r: _Reader, value: Any, where: str, nodes: Document) -> tuple[str, str]:
    s = r.string(value, where, what="'node.port'", limit=300)
    node, _, port = s.rpartition(".")
    if not node or not NODE_ID.match(node) or not PORT.match(port):
        raise r.fail(where, f"{_short(s)} must be 'node.port'")
    if node not in nodes:
        raise r.fail(where, f"names node {node!r}, which is not in the Look's graph")
    return node, port


def _refs(r: _Reader, value: Any, where: str, nodes: Document) -> tuple[tuple[str, str], ...]:
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list) or not value or len(value) > 256:
        raise r.fail(where, "expected 'node.port' or a non-empty list of them")
    return tuple(_ref(r, v, f"{where}[{i}]", nodes) for i, v in enumerate(value))


def _number(r: _Reader, value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise r.fail(where, f"expected a number, got {_short(value)}")
    return value


def from_look_data(data: Any, source: str = "<look>") -> Look:
    r = _Reader(source)
    if not isinstance(data, dict):
        raise r.fail("", "a Look file is a JSON object")
    if data.get("format") != FORMAT:
        raise r.fail("format", f"not a Look file (format is {_short(data.get('format'))}, expected {FORMAT!r})")
    v = data.get("version")
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise r.fail("version", f"version must be a whole number from 1, got {_short(v)}")
    if v > VERSION:
        raise r.fail("version", f"written by a newer nodegraph (Look format {v}, this one reads up to {VERSION}); upgrade nodegraph")
    r.obj(data, "", {"format", "version", "look", "look_version", "title", "description", "source", "inputs",
                     "outputs", "params", "migrations", "thumbnail", "graph"}, {"look", "look_version", "graph", "outputs"})
    ident = r.string(data["look"], "look", LOOK_ID, "Look id 'namespace/name' (lower case letters, digits, _ and -)", 130)
    version = r.string(data["look_version"], "look_version", SEMVER, "semantic version", 100)
    graph = data["graph"]
    r.obj(graph, "graph", {"nodes", "groups", "layout", "meta", "packs"}, {"nodes"})
    try:
        inner = from_data({"format": "nodegraph", "version": 1, **graph}, f"{source} (graph)")
    except GraphFileError as e:
        raise GraphFileError(source, e.reason, "graph" + (f".{e.where}" if e.where else "")) from None
    if inner.dangling:
        d = inner.dangling[0]
        raise r.fail(f"graph.nodes.{d.dst}.inputs.{d.dst_port}", f"links from node {d.src!r}, which is not in the Look")
    look = Look(ident, version, inner)
    for k in ("title", "description", "source"):
        setattr(look, k, r.string(data.get(k, ""), k, limit=10_000))
    for kind in ("inputs", "outputs"):
        ports = data.get(kind, {})
        r.obj(ports, kind, set(ports) if isinstance(ports, dict) else set())
        for name, entry in ports.items():
            w = f"{kind}.{_short(name) if not PORT.match(name) else name}"
            if not PORT.match(name):
                raise r.fail(w, f"port name {_short(name)} is not valid")
            r.obj(entry, w, {"type", "to", "order"} if kind == "inputs" else {"type", "from"}, {"type"})
            t = r.string(entry["type"], f"{w}.type", PORT, "type id", 64)
            if kind == "inputs":
                port = LookPort(name, t, to=_refs(r, entry.get("to"), f"{w}.to", inner))
                order = entry.get("order", {})
                r.obj(order, f"{w}.order", {f"{n}.{p}" for n, p in port.to})
                for ref, k in order.items():
                    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= 100_000:
                        raise r.fail(f"{w}.order", f"the place of {_short(ref)} must be a whole number from 0")
                    n, _, p = ref.rpartition(".")
                    port.orders[(n, p)] = k
                look.inputs[name] = port
            else:
                getattr(look, kind)[name] = LookPort(name, t, source=_ref(r, entry.get("from"), f"{w}.from", inner))
    if not look.outputs:
        raise r.fail("outputs", "a Look needs at least one output")
    params = data.get("params", {})
    r.obj(params, "params", set(params) if isinstance(params, dict) else set())
    for name, entry in params.items():
        w = f"params.{name}"
        if not PORT.match(name):
            raise r.fail("params", f"param name {_short(name)} is not valid")
        if name in look.inputs:
            raise r.fail(w, f"{name!r} is both an input and a param")
        r.obj(entry, w, {"to", "label", "group", "default", "min", "max", "doc"}, {"to"})
        p = Promoted(name, _refs(r, entry["to"], f"{w}.to", inner))
        p.label = r.string(entry.get("label", ""), f"{w}.label", limit=200)
        p.group = r.string(entry.get("group", ""), f"{w}.group", limit=200)
        p.doc = r.string(entry.get("doc", ""), f"{w}.doc", limit=2000)
        p.default = entry.get("default")
        p.min, p.max = _number(r, entry.get("min"), f"{w}.min"), _number(r, entry.get("max"), f"{w}.max")
        if p.min is not None and p.max is not None and p.min > p.max:
            raise r.fail(w, f"min {p.min} is above max {p.max}")
        look.params[name] = p
    migrations = data.get("migrations", {})
    r.obj(migrations, "migrations", set(migrations) if isinstance(migrations, dict) else set())
    for ver, m in migrations.items():
        w = f"migrations.{_short(ver)}"
        r.string(ver, w, SEMVER, "semantic version", 100)
        r.obj(m, w, {"rename"})
        rename = m.get("rename", {})
        r.obj(rename, f"{w}.rename", set(rename) if isinstance(rename, dict) else set())
        for old, new in rename.items():
            if not PORT.match(old) or not isinstance(new, str) or not PORT.match(new):
                raise r.fail(f"{w}.rename", f"expected {{old param name: new param name}}, got {_short({old: new})}")
        look.migrations[ver] = {"rename": dict(rename)}
    thumb = data.get("thumbnail")
    if thumb is not None:
        r.string(thumb, "thumbnail", what="PNG in base64", limit=MAX_THUMB)
        try:
            look.thumbnail = base64.b64decode(thumb, validate=True)
        except (binascii.Error, ValueError):
            raise r.fail("thumbnail", "is not valid base64") from None
        if not look.thumbnail.startswith(b"\x89PNG\r\n\x1a\n"):
            raise r.fail("thumbnail", "is not a PNG image")
    return look


def renames_between(look_migrations: dict[str, dict], old: str, new: str) -> list[dict[str, str]]:
    """The renames of every version after ``old`` up to ``new``, oldest first."""
    lo, hi = version_key(old), version_key(new)
    steps = sorted((version_key(v), m.get("rename", {})) for v, m in look_migrations.items()
                   if lo < version_key(v) <= hi)
    return [r for _, r in steps]
