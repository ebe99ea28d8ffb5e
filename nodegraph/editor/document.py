"""An open graph document for the editor, without a screen: the document and its undo history,
files (open, save, recent, templates), autosave and recovery, every edit as a command object, and
the clipboard.

``EditorSession`` (``nodegraph.editor.session``) builds on this with runs in the background and
what the view shows; the view never changes the document except through these methods, which go
through the command objects (so everything is undoable and autosave is a dump of the document).
"""
from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path
from typing import Any

from ..commands import (
    UNSET, AddNode, Batch, Collapse, Command, Connect, Disconnect, History, Move, RemoveNode,
    SetBypass, SetCachePolicy, SetGroup, SetParam,
)
from ..embedded import load_graph_and_base
from ..errors import CommandError, NodegraphError
from ..fileformat import dumps, loads, save, write_atomic
from ..graph import Document
from ..registry import Registry, default_registry
from ..types import ValueError_
from ..validate import check_link
from .history_session import HistorySessionMixin


def _templates_dir() -> Path | None:
    """The shipped templates' folder, installed or in a source checkout (``nodegraph.templates``)."""
    from ..templates import shipped_dir

    return shipped_dir("graphs")


class DocumentSession(HistorySessionMixin):
    """One open document, its history and files, and every edit of it (no runs, no screen)."""

    AUTOSAVE_SUFFIX = ".autosave.json"

    def __init__(self, registry: Registry | None = None, config_dir: str | os.PathLike | None = None):
        self.registry = registry or default_registry()
        if config_dir is None:
            from platformdirs import user_config_dir

            config_dir = os.environ.get("NODEGRAPH_CONFIG_DIR") or user_config_dir("nodegraph", appauthor=False)
        self.config_dir = Path(config_dir)
        self.log: list[str] = []
        self.revision = 0
        self._set_document(Document(), None)

    # -- document and files --------------------------------------------------------------------
    def _set_document(self, doc: Document, path: Path | None) -> None:
        """Another document is open (subclasses forget what they knew of the old one)."""
        self.doc, self.path = doc, path
        self._media_base = self._media_source = None  # open() and open_template() set them after
        self._template_base: Path | None = None  # the folder of the template this untitled graph came from
        self.allowed_read: list[Path] = []  # folders of files picked with Browse (see allow_read)
        self.history = History(doc)
        self.history.listeners.append(self._changed)
        self._saved = dumps(doc)
        self._autosaved = self._saved
        self.revision += 1

    def _changed(self, change: Any) -> None:
        """A command changed the document (``change.nodes``: the nodes it dirtied)."""
        self.revision += 1

    def _stop_run(self) -> None:
        """Stop a background run before another document is opened (none here)."""

    def _base_moved(self) -> None:
        """The graph's folder changed (save as elsewhere): what ran from the old folder is stale."""
        ev = getattr(self, "_evaluator", None)  # EditorSession's: built for the old folder
        if ev is not None and not getattr(self, "running", False):
            ev.close()
            self._evaluator = None

    def portable_path(self, value: str) -> str:
        """A path the user picked (Browse) as the graph stores it: relative when the file lies in
        the graph's folder tree, else as given (``nodegraph.paths.portable``)."""
        from ..paths import portable

        return portable(value, self._run_base()) if self.path is not None else value

    @property
    def dirty(self) -> bool:
        return dumps(self.doc) != self._saved

    @property
    def title(self) -> str:
        name = self.path.name if self.path else "untitled"
        return f"{name}{'*' if self.dirty else ''} - nodegraph"

    @property
    def base_dir(self) -> Path:
        return self.path.resolve().parent if self.path else Path.cwd()

    def new(self) -> None:
        self._stop_run()
        self._set_document(Document(), None)

    def open(self, path: str | os.PathLike) -> None:
        """Open a graph file, or the graph a nodegraph PNG/MP4 embeds. On any error the current
        document stays open and the error says what is wrong with which file."""
        p = Path(path)
        doc, base = load_graph_and_base(str(p))  # raises GraphFileError, leaving everything as it was
        self._stop_run()
        graph_path = p if p.suffix.lower() == ".json" else None
        self._set_document(doc, graph_path)
        if graph_path is None:  # a graph taken out of a picture or movie: "save as" gives it a file
            self._media_base, self._media_source = base, p
        self._add_recent(p)
        self.log.append(f"opened {p}")

    def open_template(self, path: str | os.PathLike) -> None:
        """Start a new, untitled graph from a template (the template file itself is not touched)."""
        p = Path(path)
        from ..fileformat import load

        doc = load(p)
        self._stop_run()
        self._set_document(doc, None)
        self._media_base = p.resolve().parent  # its relative asset paths still resolve
        self._template_base = self._media_base  # save as copies the files it reads beside the new graph
        self._saved = ""  # untitled: unsaved until saved somewhere
        self.log.append(f"new graph from template {p.name}")

    def save(self) -> Path:
        if self.path is None:
            raise NodegraphError("this graph has no file yet: use save as")
        return self.save_as(self.path)

    def save_as(self, path: str | os.PathLike) -> Path:
        """Save to ``path``. File paths travel with the graph (``nodegraph.paths``): those inside
        the new graph's folder are saved relative to it, relative ones are rewritten to resolve from
        the new folder, and a graph started from a template gets copies of the files it reads
        beside it (``assets/...``), as ``nodegraph new --template`` does."""
        from .. import paths, templates

        p = Path(path)
        if p.suffix.lower() != ".json":
            p = p.with_suffix(".json")
        packs, before = dict(self.doc.packs), paths.path_params(self.doc, self.registry)
        if not self.doc.packs:
            self.doc.packs = self.registry.pack_of_namespace()
        old_base, new_base = self._run_base(), p.resolve().parent
        try:
            if self._template_base is not None:
                copied = templates.copy_files(self.doc, self.registry, self._template_base, new_base,
                                              allow_read=self.allowed_read)
                if copied:
                    self.log.append(f"copied {len(copied)} files the template reads beside {p.name}")
            else:
                paths.rewrite(self.doc, self.registry, old_base, new_base)
            save(self.doc, p)
        except BaseException:  # not saved: the document goes back to what it was for the old folder
            self.doc.packs = packs
            for ref in before:
                if self.doc.params(ref.node).get(ref.param) != ref.value:
                    paths.set_value(self.doc, ref.node, ref.param, ref.value)
            raise
        self.path = p
        self._template_base = self._media_base = self._media_source = None
        if Path(old_base) != new_base:
            self._base_moved()
        self._saved = dumps(self.doc)
        self._drop_autosave()
        self._add_recent(p)
        self.revision += 1
        self.log.append(f"saved {p}")
        self._keep_version(p)  # every save is a version (history_session.py); never stops the save
        return p

    @property
    def recent(self) -> list[str]:
        try:
            data = json.loads((self.config_dir / "recent.json").read_text(encoding="utf-8"))
            return [str(x) for x in data if isinstance(x, str)][:12]
        except (OSError, ValueError):
            return []

    def _add_recent(self, p: Path) -> None:
        items = [str(p.resolve())] + [r for r in self.recent if r != str(p.resolve())]
        try:
            write_atomic(self.config_dir / "recent.json", json.dumps(items[:12], indent=1).encode())
        except OSError:
            pass

    def templates(self) -> list[tuple[str, Path, str, str]]:
        """The graph templates that ship with nodegraph: (name, path, title, description)."""
        from ..templates import list_templates

        return [(t.name, t.path, t.title, t.description) for t in list_templates()]

    # -- autosave and recovery ------------------------------------------------------------------
    def autosave_path(self, path: Path | None = None) -> Path:
        path = path if path is not None else self.path
        if path is None:
            return self.config_dir / f"untitled{self.AUTOSAVE_SUFFIX}"
        return path.with_name(f".{path.name}{self.AUTOSAVE_SUFFIX}")

    def autosave(self) -> Path | None:
        """Write unsaved work to a side file (nothing when there is nothing new to keep)."""
        text = dumps(self.doc)
        if text == self._saved or text == self._autosaved:
            return None
        target = self.autosave_path()
        write_atomic(target, text.encode("utf-8"))
        self._autosaved = text
        return target

    def discard_autosave(self) -> None:
        """Forget unsaved work on purpose ("discard" when closing): no recovery will be offered."""
        self._drop_autosave()

    def _drop_autosave(self) -> None:
        try:
            self.autosave_path().unlink()
        except OSError:
            pass

    def recovery_for(self, path: str | os.PathLike | None) -> Path | None:
        """An autosave side file newer than ``path`` (work a crash left unsaved), if any."""
        p = Path(path) if path else None
        side = self.autosave_path(p)
        if not side.exists():
            return None
        if p is not None and p.exists() and side.stat().st_mtime < p.stat().st_mtime:
            return None
        return side

    def recover(self, path: str | os.PathLike | None) -> None:
        """Open ``path`` and replace its content by the autosaved work (left unsaved: marked dirty)."""
        side = self.recovery_for(path)
        if side is None:
            raise NodegraphError(f"there is no autosaved work for {path or 'an untitled graph'}")
        doc = loads(side.read_bytes(), source=str(side))
        p = Path(path) if path else None
        self._stop_run()
        self._set_document(doc, p)
        self._saved = p.read_text(encoding="utf-8") if p is not None and p.exists() else ""  # unsaved until saved
        self.log.append(f"recovered unsaved work from {side}")

    # -- edits ------------------------------------------------------------------------------------
    def _do(self, command: Command) -> Any:
        return self.history.do(command)

    def node_ids(self) -> list[str]:
        return self.doc.node_ids()

    def add_node(self, type_id: str, pos: tuple[float, float] = (0.0, 0.0)) -> str:
        spec = self.registry.get(type_id)
        cmd = AddNode(type_id, None, {}, version=spec.version, pos=pos)
        self._do(cmd)
        return cmd.id  # type: ignore[return-value]

    def remove_nodes(self, ids: list[str]) -> None:
        ids = [i for i in ids if i in self.doc]
        if ids:
            self._do(Batch([RemoveNode(i) for i in ids], "delete"))

    def connect(self, src: str, src_port: str, dst: str, dst_port: str) -> str | None:
        """Link two pins; returns None, or the reason the link is refused (shown to the user)."""
        why = check_link(self.registry, self.doc, src, src_port, dst, dst_port)
        if why:
            return why
        port = self.registry.get(self.doc.type_of(dst)).input(dst_port)
        try:
            self._do(Connect(src, src_port, dst, dst_port, append=port.variadic))
        except CommandError as e:
            return str(e)
        return None

    def disconnect(self, src: str, src_port: str, dst: str, dst_port: str) -> None:
        self._do(Disconnect(src, src_port, dst, dst_port))

    def set_param(self, node_id: str, name: str, value: Any) -> str | None:
        """Set a param from a widget; returns None, or why the value is refused (kept as it was)."""
        spec = self.registry.get(self.doc.type_of(node_id))
        port = spec.input(name)
        if port is None or not port.is_param:
            return f"node {node_id!r} has no param {name!r}"
        try:
            checked = port.type.from_json(value)
        except ValueError_ as e:
            return f"{name}: {e}"
        current = self.doc.params(node_id).get(name, UNSET)
        new = port.type.vtype.to_json(checked)
        if current is UNSET and port.default is not None and new == port.type.vtype.to_json(port.default):
            return None
        if new != current:
            self._do(SetParam(node_id, name, new))
        return None

    def randomize_seed(self, node_id: str, name: str) -> int:
        value = random.SystemRandom().randrange(0, 2**31)
        self.set_param(node_id, name, value)
        return value

    def _moved(self, node_id: str, pos: tuple[float, float]) -> bool:
        """Whether ``pos`` is a real move (half a pixel or more: view shifts leave fractions behind)."""
        cur = self.doc.layout.get(node_id, {}).get("pos")
        return cur is None or abs(cur[0] - pos[0]) >= 0.5 or abs(cur[1] - pos[1]) >= 0.5

    def move(self, node_id: str, pos: tuple[float, float]) -> None:
        if self._moved(node_id, pos):
            self._do(Move(node_id, (round(pos[0]), round(pos[1]))))

    def move_many(self, positions: dict[str, tuple[float, float]]) -> None:
        """Move several nodes as one undo step (dragging a selection)."""
        moves = [Move(nid, (round(pos[0]), round(pos[1]))) for nid, pos in positions.items()
                 if nid in self.doc and self._moved(nid, pos)]
        if moves:
            self._do(Batch(moves, "move"))

    def set_label(self, node_id: str, text: str) -> None:
        from ..commands import SetLabel

        if text != self.doc.node(node_id).get("label", ""):
            self._do(SetLabel(node_id, text))

    # an edit that changes nothing is no command: no undo step, no unsaved marker, no stale node
    def rename_group(self, group_id: str, title: str) -> None:
        g = self.doc.groups[group_id]
        if g.get("title", "") != title:
            self._do(SetGroup(group_id, {**g, "title": title}))

    def set_reroutes(self, node_id: str, port: str, points: list) -> None:
        """Reroute points of the wire into ``node_id``.``port`` (layout only: one undo step)."""
        from ..commands import SetReroute

        current = dict(self.doc.layout.get(node_id, {}).get("reroute", {}))
        if points:
            current[port] = [[float(x), float(y)] for x, y in points]
        else:
            current.pop(port, None)
        self._do(SetReroute(node_id, current))

    def set_collapsed(self, node_id: str, collapsed: bool) -> None:
        if bool(self.doc.layout.get(node_id, {}).get("collapsed", False)) != bool(collapsed):
            self._do(Collapse(node_id, True if collapsed else UNSET))  # unfolded is the default: not written

    def set_bypass(self, node_id: str, on: bool) -> None:
        """Bypass a node (its outputs take its inputs of the same type, untouched) or run it again."""
        if bool(self.doc.node(node_id).get("bypass")) != bool(on):
            self._do(SetBypass(node_id, bool(on)))

    def set_cache_policy(self, node_id: str, policy: str) -> None:
        if self.doc.node(node_id).get("cache", "default") != policy:
            self._do(SetCachePolicy(node_id, policy))

    def undo(self) -> bool:
        return self.history.undo() is not None

    def redo(self) -> bool:
        return self.history.redo() is not None

    def group(self, ids: list[str], title: str) -> str:
        n = 1
        while f"group_{n}" in self.doc.groups:
            n += 1
        gid = f"group_{n}"
        self._do(SetGroup(gid, {"title": title, "nodes": [i for i in ids if i in self.doc]}))
        return gid

    def ungroup(self, group_id: str) -> None:
        self._do(SetGroup(group_id, None))

    def groups_view(self) -> list[tuple[str, str, list[str]]]:
        return [(gid, g.get("title", ""), list(g["nodes"])) for gid, g in sorted(self.doc.groups.items())]

    # -- clipboard --------------------------------------------------------------------------------
    def copy(self, ids: list[str]) -> str:
        """The selected nodes and the links between them, as text (paste into any graph)."""
        ids = [i for i in ids if i in self.doc]
        nodes = {}
        for nid in ids:
            rec = self.doc.node(nid)
            nodes[nid] = {"type": rec["type"], "version": rec["version"], "params": rec["params"],
                          "label": rec.get("label", ""), "pos": self.doc.layout.get(nid, {}).get("pos", [0, 0])}
        links = [[l.src, l.src_port, l.dst, l.dst_port] for l in self.doc.links() if l.src in nodes and l.dst in nodes]
        return json.dumps({"nodegraph-clipboard": 1, "nodes": nodes, "links": links})

    def paste(self, text: str, pos: tuple[float, float] | None = None) -> list[str]:
        try:
            data = json.loads(text)
            nodes, links = data["nodes"], data["links"]
            if data.get("nodegraph-clipboard") != 1 or not isinstance(nodes, dict) or not isinstance(links, list):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            raise NodegraphError("the clipboard does not hold nodegraph nodes") from None
        if not nodes:
            return []
        xs = [n.get("pos", [0, 0]) for n in nodes.values()]
        ox, oy = min(p[0] for p in xs), min(p[1] for p in xs)
        px, py = pos if pos is not None else (ox + 40, oy + 40)
        mapping: dict[str, str] = {}
        cmds: list[Command] = []
        taken = set(self.doc.node_ids())
        for old, n in nodes.items():
            if n.get("type") not in self.registry:
                raise NodegraphError(self.registry.explain_unknown(str(n.get("type")), self.doc.packs))
            new = self._fresh_id(str(old), taken)
            taken.add(new)
            mapping[old] = new
            p = n.get("pos", [0, 0])
            cmds.append(AddNode(n["type"], new, dict(n.get("params", {})), version=n.get("version", "1.0.0"),
                                pos=(px + p[0] - ox, py + p[1] - oy), label=str(n.get("label", ""))))
        for src, sport, dst, dport in links:
            if src in mapping and dst in mapping:
                port = self.registry.get(nodes[dst]["type"]).input(dport)
                cmds.append(Connect(mapping[src], sport, mapping[dst], dport, append=bool(port and port.variadic)))
        self._do(Batch(cmds, "paste"))
        return list(mapping.values())

    def duplicate(self, ids: list[str]) -> list[str]:
        return self.paste(self.copy(ids))

    def _fresh_id(self, base: str, taken: set[str]) -> str:
        if base not in taken:
            return base
        stem = re.sub(r"_\d+$", "", base)
        n = 2
        while f"{stem}_{n}" in taken:
            n += 1
        return f"{stem}_{n}"

    def resolve_path(self, value: str) -> Path:
        p = Path(os.path.expanduser(value))
        return p if p.is_absolute() else self._run_base() / p

    def _run_base(self) -> Path:
        return getattr(self, "_media_base", None) or self.base_dir
