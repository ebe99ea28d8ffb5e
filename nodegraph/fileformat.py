"""Graph files: canonical JSON, versioned, migrated, saved atomically, read as untrusted input.

Canonical form: keys sorted, two-space indent, one node per block, params by name, links written
in the node that receives them (``"inputs": {"port": "node.port"}``), short lists of scalars on
one line. A change of one param, one link or one position is a one-line diff. Reading a file
never executes anything; every structural fault raises ``GraphFileError`` naming the file and
the place in it, and nothing is changed until the whole file has been read.
"""
from __future__ import annotations

import copy
import json
import math
import os
import re
from pathlib import Path
from typing import Any, Callable

from .errors import GraphFileError
from .fsio import write_bytes
from .graph import CACHE_POLICIES, NODE_ID, Document, Link

FORMAT = "nodegraph"
VERSION = 1
MAX_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 48
MAX_NODES = 100_000
TYPE_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+\Z"
                     r"|^look:[a-z][a-z0-9_-]{0,63}/[a-z][a-z0-9_-]{0,63}@\d{1,9}\.\d{1,9}\.\d{1,9}(?:-[0-9A-Za-z.-]{1,64})?\Z")
PORT = re.compile(r"^[a-z_][a-z0-9_]*\Z")
DIGEST = re.compile(r"^[0-9a-f]{64}\Z")
SEMVER = re.compile(r"^\d{1,9}\.\d{1,9}\.\d{1,9}(?:-[0-9A-Za-z.-]{1,64})?\Z")

#: format version -> function upgrading a parsed document of that version to the next one.
MIGRATIONS: dict[int, Callable[[dict], dict]] = {}


def migration(from_version: int) -> Callable[[Callable[[dict], dict]], Callable[[dict], dict]]:
    """Register a function that upgrades a parsed file of ``from_version`` to the next version."""

    def wrap(fn: Callable[[dict], dict]) -> Callable[[dict], dict]:
        MIGRATIONS[from_version] = fn
        return fn

    return wrap


@migration(0)
def _v0_to_v1(data: dict) -> dict:
    """Version 0 (pre-release sketches) kept links in a top-level list of
    ``{"from": "a.out", "to": "b.in"}``; version 1 keeps them in the receiving node."""
    data = copy.deepcopy(data)
    links = data.pop("links", [])
    if not isinstance(links, list):
        raise ValueError("'links' must be a list")
    nodes = data.get("nodes")
    if isinstance(nodes, dict):
        for i, link in enumerate(links):
            if not isinstance(link, dict) or not isinstance(link.get("to"), str) or "." not in link["to"]:
                raise ValueError(f"links[{i}] must be {{'from': 'node.port', 'to': 'node.port'}}")
            dst, port = link["to"].split(".", 1)
            if dst in nodes and isinstance(nodes[dst], dict):
                inputs = nodes[dst].setdefault("inputs", {})
                if not isinstance(inputs, dict):
                    raise ValueError(f"nodes.{dst}.inputs must be an object")
                prev = inputs.get(port)
                inputs[port] = link["from"] if prev is None else ([prev] if isinstance(prev, str) else prev) + [link["from"]]
    data["nodes"] = nodes
    data["version"] = 1
    return data


# -- writing ---------------------------------------------------------------------------------
def to_data(doc: Document) -> dict:
    return {"format": FORMAT, "version": VERSION, **doc.content()}


def dumps(doc: Document) -> str:
    return render(to_data(doc)) + "\n"


def render(value: Any, indent: int = 0) -> str:
    """Canonical JSON text: sorted keys, 2-space indent, scalar lists inline."""
    pad = "  " * (indent + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{pad}{json.dumps(str(k), ensure_ascii=False)}: {render(value[k], indent + 1)}"
                 for k in sorted(value, key=str)]
        return "{\n" + ",\n".join(items) + "\n" + "  " * indent + "}"
    if isinstance(value, (list, tuple)):
        if all(not isinstance(v, (dict, list, tuple)) for v in value):
            return "[" + ", ".join(render(v) for v in value) + "]"
        return "[\n" + ",\n".join(pad + render(v, indent + 1) for v in value) + "\n" + "  " * indent + "]"
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"cannot write the non-finite number {value!r} in a graph file")
    return json.dumps(value, ensure_ascii=False)


def save(doc: Document, path: str | os.PathLike) -> None:
    """Write atomically (``nodegraph.fsio``): an exclusive temp file in the same folder, fsync,
    rename, fsync the folder. A crash at any moment leaves either the old file or the new one."""
    write_bytes(path, dumps(doc).encode("utf-8"))


#: the project's one atomic writer (``nodegraph.fsio``), under the name older code imports from here
write_atomic = write_bytes


# -- reading ---------------------------------------------------------------------------------
def load(path: str | os.PathLike) -> Document:
    p = Path(path)
    return loads(read_limited(p), source=str(p))


def read_limited(p: Path, limit: int = MAX_BYTES, what: str = "a graph") -> bytes:
    """A file's bytes, refused (naming the file) when it is larger than ``limit``."""
    try:
        size = p.stat().st_size
        if size > limit:
            raise GraphFileError(str(p), f"file is {size} bytes, more than the {limit} {what} may have")
        return p.read_bytes()
    except GraphFileError:
        raise
    except OSError as e:
        raise GraphFileError(str(p), e.strerror or str(e)) from None


def _parse_float(text: str) -> float:
    v = float(text)
    if not math.isfinite(v):
        raise ValueError(f"number {text[:20]} is too large")
    return v


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in a graph file")


def loads(text: str | bytes, source: str = "<graph>") -> Document:
    """Parse a graph file's text into a new Document (structural checks only; node types are
    checked by ``validate``)."""
    return from_data(parse_json(text, source), source)


def parse_json(text: str | bytes, source: str, limit: int = MAX_BYTES, what: str = "a graph") -> Any:
    """Untrusted JSON text -> data, with the graph file's rules: UTF-8, at most ``limit`` bytes, no
    NaN or Infinity, numbers of at most 400 digits, at most MAX_DEPTH levels, no lone surrogates."""
    if isinstance(text, bytes):
        if len(text) > limit:
            raise GraphFileError(source, f"file is {len(text)} bytes, more than the {limit} {what} may have")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise GraphFileError(source, f"not UTF-8 text (byte {e.start})") from None
    if len(text) > limit:
        raise GraphFileError(source, f"file is {len(text)} characters, more than the {limit} {what} may have")
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        data = json.loads(text, parse_float=_parse_float, parse_int=_parse_int, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        raise GraphFileError(source, f"not valid JSON: {e.msg}", f"line {e.lineno} column {e.colno}") from None
    except RecursionError:
        raise GraphFileError(source, f"nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as e:
        raise GraphFileError(source, f"not a valid {what.split()[-1]} file: {e}") from None
    _check_depth(data, source)
    if _SURROGATE.search(text):
        try:  # an escaped lone surrogate would load but could never be saved as UTF-8
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise GraphFileError(source, "contains an escaped lone surrogate (\\ud800-\\udfff), which is not text") from None
    return data


_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > 400:
        raise ValueError(f"a number has {len(text.lstrip('-'))} digits; graph files allow at most 400")
    return int(text)


def _check_depth(data: Any, source: str) -> None:
    """Refuse structures nested deeper than MAX_DEPTH (walked without recursion)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise GraphFileError(source, f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values() if isinstance(v, (dict, list)))
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value if isinstance(v, (dict, list)))


class _Reader:
    def __init__(self, source: str):
        self.source = source

    def fail(self, where: str, message: str) -> GraphFileError:
        return GraphFileError(self.source, message, where)

    def obj(self, value: Any, where: str, allowed: set[str], required: set[str] = frozenset()) -> dict:
        if not isinstance(value, dict):
            raise self.fail(where, f"expected an object, got {_kind(value)}")
        for k in value:
            if not isinstance(k, str):
                raise self.fail(where, f"field names must be text, got {_short(k)}")
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise self.fail(where, f"unknown field {_short(unknown[0])} (allowed: {', '.join(sorted(allowed))})")
        missing = sorted(required - set(value))
        if missing:
            raise self.fail(where, f"missing field {missing[0]!r}")
        return value

    def string(self, value: Any, where: str, pattern: re.Pattern | None = None, what: str = "text",
               limit: int = 1_000_000) -> str:
        if not isinstance(value, str):
            raise self.fail(where, f"expected {what}, got {_kind(value)}")
        if len(value) > limit:
            raise self.fail(where, f"{what} is longer than {limit} characters")
        if pattern is not None and not pattern.match(value):
            raise self.fail(where, f"{_short(value)} is not a valid {what}")
        return value

    def ref(self, value: Any, where: str) -> tuple[str, str]:
        s = self.string(value, where, what="link 'node.port'", limit=300)
        node, _, port = s.rpartition(".")
        if not node or not NODE_ID.match(node) or not PORT.match(port):
            raise self.fail(where, f"link {_short(s)} must be 'node.port'")
        return node, port


def from_data(data: Any, source: str = "<graph>") -> Document:
    r = _Reader(source)
    if not isinstance(data, dict):
        raise r.fail("", f"a graph file is a JSON object, got {_kind(data)}")
    if data.get("format") != FORMAT:
        raise r.fail("format", f"not a nodegraph file (format is {_short(data.get('format'))}, expected {FORMAT!r})")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise r.fail("version", f"version must be a whole number, got {_short(version)}")
    if version > VERSION:
        raise r.fail("version", f"written by a newer nodegraph (file format {version}, this one reads up to {VERSION}); upgrade nodegraph")
    if version < 0:
        raise r.fail("version", f"version must be 0 or more, got {version}")
    while version < VERSION:
        try:
            data = MIGRATIONS[version](data)
        except (KeyError, ValueError, TypeError, AttributeError) as e:
            raise r.fail("", f"cannot migrate from format {version}: {e}") from None
        version = data["version"]

    r.obj(data, "", {"format", "version", "meta", "packs", "nodes", "groups", "layout"}, {"nodes"})
    doc = Document()
    meta = data.get("meta", {})
    r.obj(meta, "meta", set(meta) if isinstance(meta, dict) else set())
    for k, v in meta.items():
        r.string(v, f"meta.{k}", what="text")
    doc.meta = dict(meta)
    packs = data.get("packs", {})
    r.obj(packs, "packs", set(packs) if isinstance(packs, dict) else set())
    for k, v in packs.items():
        r.string(v, f"packs.{k}", what="package name", limit=200)
    doc.packs = dict(packs)

    nodes = data["nodes"]
    r.obj(nodes, "nodes", set(nodes) if isinstance(nodes, dict) else set())
    if len(nodes) > MAX_NODES:
        raise r.fail("nodes", f"{len(nodes)} nodes is more than the {MAX_NODES} a graph may have")
    pending: list[Link] = []
    for nid, entry in nodes.items():
        where = f"nodes.{_name(nid)}"
        if not NODE_ID.match(nid):
            raise r.fail(where, f"node id {_short(nid)} must start with a letter or _ and hold only letters, digits, _ and -")
        r.obj(entry, where, {"type", "version", "params", "inputs", "label", "notes", "cache", "pinned", "bypass"}, {"type"})
        type_id = r.string(entry["type"], f"{where}.type", TYPE_ID, "node type id (or look:namespace/name@version)", 200)
        version_s = r.string(entry.get("version", "1.0.0"), f"{where}.version", SEMVER, "semantic version", 100)
        params = entry.get("params", {})
        r.obj(params, f"{where}.params", set(params) if isinstance(params, dict) else set())
        for pname in params:
            if not PORT.match(pname):
                raise r.fail(f"{where}.params", f"param name {_short(pname)} is not valid")
        cache = entry.get("cache", "default")
        if cache not in CACHE_POLICIES:
            raise r.fail(f"{where}.cache", f"cache policy {_short(cache)} must be one of {list(CACHE_POLICIES)}")
        label = r.string(entry.get("label", ""), f"{where}.label", limit=1000)
        notes = r.string(entry.get("notes", ""), f"{where}.notes")
        pinned = entry.get("pinned")
        if pinned is not None:
            r.obj(pinned, f"{where}.pinned", set(pinned) if isinstance(pinned, dict) else set())
            for port, digest in pinned.items():
                if not PORT.match(port):
                    raise r.fail(f"{where}.pinned", f"output name {_short(port)} is not valid")
                r.string(digest, f"{where}.pinned.{port}", DIGEST, "content digest (64 hex digits)", 64)
            pinned = dict(pinned) or None
        bypass = entry.get("bypass", False)
        if not isinstance(bypass, bool):
            raise r.fail(f"{where}.bypass", f"bypass must be true or false, got {_short(bypass)}")
        doc.g.add_node(nid, type=type_id, version=version_s, params=dict(params), label=label, notes=notes,
                       cache=cache, pinned=pinned, bypass=bypass)
        inputs = entry.get("inputs", {})
        r.obj(inputs, f"{where}.inputs", set(inputs) if isinstance(inputs, dict) else set())
        for port, refs in inputs.items():
            pw = f"{where}.inputs.{_name(port)}"
            if not PORT.match(port):
                raise r.fail(pw, f"input name {_short(port)} is not valid")
            refs = [refs] if isinstance(refs, str) else refs
            if not isinstance(refs, list) or not refs:
                raise r.fail(pw, "expected 'node.port' or a non-empty list of them")
            for i, ref in enumerate(refs):
                src, sport = r.ref(ref, f"{pw}[{i}]" if len(refs) > 1 else pw)
                pending.append(Link(nid, port, i, src, sport))
    # links from nodes that do not exist are kept (and saved back) for validate() to report
    for link in pending:
        if link.src in doc.g:
            doc._add_link(link)
        else:
            doc.dangling.append(link)

    groups = data.get("groups", {})
    r.obj(groups, "groups", set(groups) if isinstance(groups, dict) else set())
    for gid, g in groups.items():
        gw = f"groups.{_name(gid)}"
        if not NODE_ID.match(gid):
            raise r.fail(gw, f"group id {_short(gid)} is not valid")
        r.obj(g, gw, {"title", "nodes", "color"}, {"nodes"})
        members = g["nodes"]
        if not isinstance(members, list) or not all(isinstance(m, str) and m in doc.g for m in members):
            raise r.fail(f"{gw}.nodes", "expected a list of ids of nodes in this graph")
        entry = {"title": r.string(g.get("title", ""), f"{gw}.title", limit=1000), "nodes": list(members)}
        if "color" in g:
            entry["color"] = _color(r, g["color"], f"{gw}.color")
        doc.groups[gid] = entry

    layout = data.get("layout", {})
    r.obj(layout, "layout", set(layout) if isinstance(layout, dict) else set())
    for nid, lay in layout.items():
        lw = f"layout.{_name(nid)}"
        if nid not in doc.g:
            raise r.fail(lw, f"layout for node {_short(nid)}, which is not in the graph")
        r.obj(lay, lw, {"pos", "collapsed", "color", "size", "reroute"})
        entry = {}
        for key in ("pos", "size"):
            if key in lay:
                v = lay[key]
                if not (isinstance(v, list) and len(v) == 2 and all(_finite_num(x) for x in v)):
                    raise r.fail(f"{lw}.{key}", f"expected [x, y] numbers, got {_short(v)}")
                entry[key] = [float(x) for x in v]
        if "collapsed" in lay:
            if not isinstance(lay["collapsed"], bool):
                raise r.fail(f"{lw}.collapsed", "expected true or false")
            entry["collapsed"] = lay["collapsed"]
        if "color" in lay:
            entry["color"] = _color(r, lay["color"], f"{lw}.color")
        if "reroute" in lay:  # points the wires into this node pass through, by input name
            rr = lay["reroute"]
            if not isinstance(rr, dict):
                raise r.fail(f"{lw}.reroute", "expected {input name: [[x, y], ...]}")
            for port, pts in rr.items():
                if not (isinstance(pts, list) and len(pts) <= 64 and all(
                        isinstance(p, list) and len(p) == 2 and all(_finite_num(x) for x in p) for p in pts)):
                    raise r.fail(f"{lw}.reroute.{_name(port)}", f"expected a list of at most 64 [x, y] points, got {_short(pts)}")
            entry["reroute"] = {str(k): [[float(x), float(y)] for x, y in v] for k, v in rr.items() if v}
        if entry:
            doc.layout[nid] = entry
    return doc


def _color(r: _Reader, v: Any, where: str) -> list[int]:
    if not (isinstance(v, list) and len(v) in (3, 4) and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in v)):
        raise r.fail(where, f"a colour is [r, g, b] with 0..255 each, got {_short(v)}")
    return list(v)


def _finite_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and abs(x) < 1e12


def _kind(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null",
            int: "a number", float: "a number"}.get(type(v), type(v).__name__)


def _short(v: Any) -> str:
    t = repr(v)
    return t if len(t) <= 40 else t[:37] + "..."


def _name(v: Any) -> str:
    """A name for a place in the file: plain when it is a simple id, quoted and cut otherwise."""
    return v if isinstance(v, str) and NODE_ID.match(v) else _short(v)
