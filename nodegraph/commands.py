"""Edits as command objects. Each ``apply`` changes the document, returns what it dirtied, and
leaves behind the command that undoes it (``inverse``). ``History`` keeps undo/redo stacks.

What a command dirtied is a ``Change``: ``nodes`` whose results may change (semantic edits)
and ``layout`` ids that only moved, folded or changed colour (nothing to recompute).
A command that cannot apply raises ``CommandError`` and leaves the document as it was.
"""
from __future__ import annotations

import abc
import copy
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import CommandError
from .graph import CACHE_POLICIES, NODE_ID, Document, Link

class _Unset:
    """Marks "no value": SetParam(..., UNSET) removes a param so the default applies."""

    def __repr__(self) -> str:
        return "UNSET"

    def __copy__(self) -> "_Unset":
        return self

    def __deepcopy__(self, memo: dict) -> "_Unset":
        return self


UNSET: Any = _Unset()


@dataclass(frozen=True)
class Change:
    nodes: frozenset[str] = frozenset()
    layout: frozenset[str] = frozenset()
    #: nodes or links were added or removed (the evaluation order may have changed)
    structure: bool = False

    def __or__(self, other: "Change") -> "Change":
        return Change(self.nodes | other.nodes, self.layout | other.layout, self.structure or other.structure)

    @property
    def semantic(self) -> bool:
        return bool(self.nodes)


class Command(abc.ABC):
    title = "edit"
    inverse: "Command | None" = None

    @abc.abstractmethod
    def apply(self, doc: Document) -> Change:
        """Change ``doc``, set ``self.inverse``, and say what was dirtied."""

    def __call__(self, doc: Document) -> Change:
        change = self.apply(doc)
        if change.semantic:
            doc.revision += 1
            doc.record_change(change.nodes)
        if change.structure:
            doc.structure_revision += 1
        return change


def _need(doc: Document, node_id: str) -> None:
    if node_id not in doc:
        raise CommandError(f"no node {node_id!r} in the graph")


@dataclass
class AddNode(Command):
    type: str
    id: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    version: str = "1.0.0"
    pos: tuple[float, float] | None = None
    label: str = ""
    notes: str = ""
    cache: str = "default"
    title = "add node"

    def apply(self, doc: Document) -> Change:
        nid = self.id or doc.new_id(self.type)
        if not NODE_ID.match(nid):
            raise CommandError(f"node id {nid!r} must start with a letter or _ and hold only letters, digits, _ and -")
        if nid in doc:
            raise CommandError(f"a node {nid!r} already exists")
        if self.cache not in CACHE_POLICIES:
            raise CommandError(f"cache policy {self.cache!r} must be one of {list(CACHE_POLICIES)}")
        self.id = nid
        doc.g.add_node(nid, type=self.type, version=self.version, params=copy.deepcopy(self.params),
                       label=self.label, notes=self.notes, cache=self.cache, pinned=None, bypass=False)
        if self.pos is not None:
            doc.layout[nid] = {"pos": [float(self.pos[0]), float(self.pos[1])]}
        self.inverse = RemoveNode(nid)
        return Change(frozenset({nid}), frozenset({nid}), True)


@dataclass
class RemoveNode(Command):
    id: str
    title = "delete node"

    def apply(self, doc: Document) -> Change:
        _need(doc, self.id)
        data = copy.deepcopy(dict(doc.node(self.id)))
        links = doc.links_into(self.id) + doc.links_from(self.id)
        layout = copy.deepcopy(doc.layout.get(self.id))
        groups = {gid: g["nodes"].index(self.id) for gid, g in doc.groups.items() if self.id in g["nodes"]}
        affected = {l.dst for l in links if l.dst != self.id}
        doc.g.remove_node(self.id)
        doc.links_changed()
        doc.layout.pop(self.id, None)
        for gid in groups:
            doc.groups[gid]["nodes"].remove(self.id)
        self.inverse = _RestoreNode(self.id, data, links, layout, groups)
        return Change(frozenset(affected | {self.id}), frozenset({self.id}), True)


@dataclass
class _RestoreNode(Command):
    """Inverse of RemoveNode: puts back the node, its links, layout and group places exactly."""

    id: str
    data: dict
    links: list[Link]
    layout: dict | None
    groups: dict[str, int]
    title = "restore node"

    def apply(self, doc: Document) -> Change:
        if self.id in doc:
            raise CommandError(f"a node {self.id!r} already exists")
        doc.g.add_node(self.id, **copy.deepcopy(self.data))
        doc.links_changed()
        for link in self.links:
            doc._add_link(link)
        if self.layout is not None:
            doc.layout[self.id] = copy.deepcopy(self.layout)
        for gid, idx in self.groups.items():
            if gid in doc.groups:
                doc.groups[gid]["nodes"].insert(idx, self.id)
        self.inverse = RemoveNode(self.id)
        return Change(frozenset({self.id} | {l.dst for l in self.links}), frozenset({self.id}), True)


@dataclass
class Connect(Command):
    """Link ``src.src_port`` to ``dst.dst_port``. For an ordinary input, an existing link into the
    port is replaced; with ``append=True`` (variadic inputs) the link is inserted at ``index``
    (default: last)."""

    src: str
    src_port: str
    dst: str
    dst_port: str
    append: bool = False
    index: int | None = None
    title = "connect"

    def apply(self, doc: Document) -> Change:
        _need(doc, self.src)
        _need(doc, self.dst)
        if self.src == self.dst:
            raise CommandError(f"cannot link node {self.src!r} to itself")
        existing = doc.links_into(self.dst, self.dst_port)
        if any((l.src, l.src_port) == (self.src, self.src_port) for l in existing) and not self.append:
            raise CommandError(f"{self.src}.{self.src_port} is already linked to {self.dst}.{self.dst_port}")
        import networkx as nx

        if nx.has_path(doc.g, self.dst, self.src):
            raise CommandError(f"linking {self.src}.{self.src_port} -> {self.dst}.{self.dst_port} would make a cycle")
        if not self.append:
            removed = list(existing)
            for l in removed:
                doc._remove_link(l)
            new = Link(self.dst, self.dst_port, 0, self.src, self.src_port)
            doc._add_link(new)
            self.inverse = _SetPortLinks(self.dst, self.dst_port, removed)
        elif self.index is None or self.index >= len(existing):  # the common case: add at the end
            doc._add_link(Link(self.dst, self.dst_port, len(existing), self.src, self.src_port))
            self.inverse = Disconnect(self.src, self.src_port, self.dst, self.dst_port, last=True)
        else:
            idx = max(0, self.index)
            srcs = [(l.src, l.src_port) for l in existing]
            srcs.insert(idx, (self.src, self.src_port))
            self.inverse = _SetPortLinks(self.dst, self.dst_port, existing)
            _SetPortLinks(self.dst, self.dst_port,
                          [Link(self.dst, self.dst_port, i, s, p) for i, (s, p) in enumerate(srcs)]).apply(doc)
        return Change(frozenset({self.dst}), structure=True)


@dataclass
class Disconnect(Command):
    """Remove the link ``src.src_port -> dst.dst_port`` (the first one, for a variadic input)."""

    src: str
    src_port: str
    dst: str
    dst_port: str
    last: bool = False  # remove the last such link rather than the first (undo of an append)
    title = "disconnect"

    def apply(self, doc: Document) -> Change:
        existing = doc.links_into(self.dst, self.dst_port) if self.dst in doc else []
        matches = [i for i, l in enumerate(existing) if (l.src, l.src_port) == (self.src, self.src_port)]
        if not matches:
            raise CommandError(f"there is no link {self.src}.{self.src_port} -> {self.dst}.{self.dst_port}")
        at = matches[-1] if self.last else matches[0]
        if at == len(existing) - 1:  # the last link: nothing to renumber
            doc._remove_link(existing[at])
            self.inverse = Connect(self.src, self.src_port, self.dst, self.dst_port, append=True)
            return Change(frozenset({self.dst}), structure=True)
        keep = existing[:at] + existing[at + 1:]
        self.inverse = _SetPortLinks(self.dst, self.dst_port, existing)
        _SetPortLinks(self.dst, self.dst_port,
                      [Link(self.dst, self.dst_port, i, l.src, l.src_port) for i, l in enumerate(keep)]).apply(doc)
        return Change(frozenset({self.dst}), structure=True)


@dataclass
class _SetPortLinks(Command):
    """Replace every link into one input port with ``links`` (used for exact undo)."""

    dst: str
    dst_port: str
    links: list[Link]
    title = "relink"

    def apply(self, doc: Document) -> Change:
        _need(doc, self.dst)
        for l in self.links:
            _need(doc, l.src)
        old = doc.links_into(self.dst, self.dst_port)
        for l in old:
            doc._remove_link(l)
        for l in self.links:
            doc._add_link(l)
        self.inverse = _SetPortLinks(self.dst, self.dst_port, old)
        return Change(frozenset({self.dst}), structure=True)


@dataclass
class SetParam(Command):
    """Set a param by name; ``UNSET`` removes it so the node's default applies."""

    node: str
    name: str
    value: Any
    title = "set param"

    def apply(self, doc: Document) -> Change:
        _need(doc, self.node)
        params = doc.params(self.node)
        old = copy.deepcopy(params.get(self.name, UNSET))
        if self.value is UNSET:
            params.pop(self.name, None)
        else:
            params[self.name] = copy.deepcopy(self.value)
        self.inverse = SetParam(self.node, self.name, old)
        return Change(frozenset({self.node}))


@dataclass
class _SetNodeField(Command):
    node: str
    value: Any
    key = ""
    default: Any = None  # what a record without the field holds (files from before the field)

    def apply(self, doc: Document) -> Change:
        _need(doc, self.node)
        self.check(self.value)
        old = doc.node(self.node).get(self.key, self.default)
        doc.node(self.node)[self.key] = self.value
        self.inverse = type(self)(self.node, old)
        return self.change()

    def check(self, value: Any) -> None:
        if not isinstance(value, str):
            raise CommandError(f"{self.key} must be text, got {type(value).__name__}")

    def change(self) -> Change:
        return Change(layout=frozenset({self.node}))


class SetLabel(_SetNodeField):
    key, title = "label", "rename"


class SetNotes(_SetNodeField):
    key, title = "notes", "edit notes"


class SetCachePolicy(_SetNodeField):
    key, title = "cache", "cache policy"

    def check(self, value: Any) -> None:
        if value not in CACHE_POLICIES:
            raise CommandError(f"cache policy {value!r} must be one of {list(CACHE_POLICIES)}")

    def change(self) -> Change:
        return Change(frozenset({self.node}))


class SetBypass(_SetNodeField):
    """Bypass a node (True): it hands each output the first input of that type, untouched, instead
    of running; False runs it again. A semantic edit: results below it change."""

    key, title, default = "bypass", "bypass", False

    def check(self, value: Any) -> None:
        if not isinstance(value, bool):
            raise CommandError(f"bypass must be true or false, got {type(value).__name__}")

    def change(self) -> Change:
        return Change(frozenset({self.node}))


class SetPin(_SetNodeField):
    """Pin a node's result: ``value`` maps output names to content digests (hex) that the
    evaluator returns instead of running the node; ``None`` unpins."""

    key, title = "pinned", "pin"

    def check(self, value: Any) -> None:
        if value is None:
            return
        if not (isinstance(value, dict) and value and all(
                isinstance(k, str) and isinstance(v, str) and len(v) == 64 for k, v in value.items())):
            raise CommandError(f"a pin maps output names to 64-character digests, got {value!r}")

    def change(self) -> Change:
        return Change(frozenset({self.node}))


@dataclass
class _SetLayout(Command):
    node: str
    value: Any
    key = ""

    def apply(self, doc: Document) -> Change:
        _need(doc, self.node)
        self.value = self.normalise(self.value)
        entry = doc.layout.get(self.node)
        old = copy.deepcopy(entry.get(self.key, UNSET)) if entry else UNSET
        if self.value is UNSET:
            if entry:
                entry.pop(self.key, None)
                if not entry:
                    del doc.layout[self.node]
        else:
            doc.layout.setdefault(self.node, {})[self.key] = self.value
        self.inverse = type(self)(self.node, old)
        return Change(layout=frozenset({self.node}))

    def normalise(self, value: Any) -> Any:
        return value


class Move(_SetLayout):
    """Move a node to ``value`` = (x, y)."""

    key, title = "pos", "move"

    def normalise(self, value: Any) -> Any:
        if value is UNSET:
            return value
        try:
            x, y = value
            return [float(x), float(y)]
        except (TypeError, ValueError):
            raise CommandError(f"a position is (x, y), got {value!r}") from None


class Collapse(_SetLayout):
    key, title = "collapsed", "collapse"

    def normalise(self, value: Any) -> Any:
        return value if value is UNSET else bool(value)


class SetReroute(_SetLayout):
    """Reroute points of the wires into node ``node``: ``value`` maps an input name to a list
    of (x, y) points the wire passes through, in order (an empty mapping removes them)."""

    key, title = "reroute", "reroute"

    def normalise(self, value: Any) -> Any:
        if value is UNSET:
            return value
        try:
            out = {str(port): [[float(x), float(y)] for x, y in pts] for port, pts in dict(value).items() if pts}
        except (TypeError, ValueError):
            raise CommandError(f"reroute points map an input to a list of (x, y), got {value!r}") from None
        return out or UNSET


class SetColor(_SetLayout):
    key, title = "color", "colour"

    def normalise(self, value: Any) -> Any:
        if value is UNSET:
            return value
        if not (isinstance(value, (list, tuple)) and len(value) in (3, 4)
                and all(isinstance(c, int) and 0 <= c <= 255 for c in value)):
            raise CommandError(f"a colour is [r, g, b] with 0..255 each, got {value!r}")
        return list(value)


@dataclass
class SetGroup(Command):
    """Create, change or (with ``value=None``) delete group ``id``: {"title", "nodes", "color"?}."""

    id: str
    value: dict | None
    title = "group"

    def apply(self, doc: Document) -> Change:
        old = copy.deepcopy(doc.groups.get(self.id))
        if self.value is None:
            if old is None:
                raise CommandError(f"there is no group {self.id!r}")
            del doc.groups[self.id]
            touched = set(old["nodes"])
        else:
            if not NODE_ID.match(self.id):
                raise CommandError(f"group id {self.id!r} is not valid")
            title, nodes = self.value.get("title", ""), list(self.value.get("nodes", []))
            for n in nodes:
                _need(doc, n)
            g = {"title": str(title), "nodes": nodes}
            if self.value.get("color") is not None:
                g["color"] = list(self.value["color"])
            doc.groups[self.id] = g
            touched = set(nodes) | set(old["nodes"] if old else [])
        self.inverse = SetGroup(self.id, old)
        return Change(layout=frozenset(touched))


@dataclass
class Batch(Command):
    """Several commands applied as one undo step (paste, duplicate, delete selection)."""

    commands: list[Command]
    title: str = "edit"  # type: ignore[assignment]

    def apply(self, doc: Document) -> Change:
        done: list[Command] = []
        change = Change()
        try:
            for c in self.commands:
                change = change | c.apply(doc)
                done.append(c)
        except Exception:
            for c in reversed(done):
                c.inverse.apply(doc)  # type: ignore[union-attr]
            raise
        self.inverse = Batch([c.inverse for c in reversed(done)], self.title)  # type: ignore[misc]
        return change


class History:
    """Undo/redo stacks over one document. ``listeners`` are told every Change."""

    def __init__(self, doc: Document, limit: int = 1000):
        self.doc, self.limit = doc, limit
        self.undo_stack: list[Command] = []
        self.redo_stack: list[Command] = []
        self.listeners: list[Callable[[Change], None]] = []

    def do(self, command: Command) -> Change:
        change = command(self.doc)
        self.undo_stack.append(command)
        del self.undo_stack[:-self.limit]
        self.redo_stack.clear()
        self._tell(change)
        return change

    def undo(self) -> Change | None:
        if not self.undo_stack:
            return None
        command = self.undo_stack.pop()
        change = command.inverse(self.doc)  # type: ignore[misc]
        self.redo_stack.append(command.inverse)  # type: ignore[arg-type]
        self._tell(change)
        return change

    def redo(self) -> Change | None:
        if not self.redo_stack:
            return None
        inverse = self.redo_stack.pop()
        change = inverse.inverse(self.doc)  # type: ignore[misc]
        self.undo_stack.append(inverse.inverse)  # type: ignore[arg-type]
        self._tell(change)
        return change

    def _tell(self, change: Change) -> None:
        for fn in self.listeners:
            fn(change)
