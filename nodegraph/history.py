"""Versions of a graph file: every save kept, content-addressed, in a folder beside the graph.

For ``scene.json`` the versions live in ``.scene.json.history/`` next to it (hidden, named like
the editor's autosave side file ``.scene.json.autosave.json``, so file pickers and ``*.json``
globs do not show it and two graphs in one folder never share a store)::

    .scene.json.history/
        index.json                 {"format": "nodegraph-history", "version": 1, "graph": "scene.json",
                                    "versions": [{"id", "time", "summary", "bytes"}, ...]}  (oldest first)
        versions/<sha256>.json     the graph file's canonical text, named by the sha256 of its bytes

``GraphHistory(path).record(text)`` adds the text just saved as a version, with the time and a
one-line summary of what changed since the previous version (``nodegraph.diff.summary``); saving
the same text twice in a row adds nothing, and the same text saved again later is one more index
entry over the same file. The store is bounded: the newest ``max_versions`` (200) entries whose
files together take at most ``max_bytes`` (256 MiB) are kept (the newest always), and files no
entry names are deleted. Every write is atomic (``nodegraph.fsio``).

The folder is untrusted like any file: the index is parsed with the graph file's limits and
checked entry by entry; a version's file is read only when it is a regular file (no link, FIFO or
device) of bounded size and is refused when its sha256 does not match its name; a version's text
goes through the graph file loader. A damaged index does not stop saving: ``record`` keeps it as
``index.json.bad`` and starts a new index from the version files that are intact.

``RestoreVersion(document)`` is the command (``nodegraph.commands``) that makes the open document
hold a version's content: one undo step; the document is then saved like after any edit.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import stat
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .commands import Change, Command
from .errors import GraphFileError, NodegraphError
from .fileformat import MAX_BYTES, loads, parse_json
from .fsio import write_bytes, write_json
from .graph import Document

FORMAT = "nodegraph-history"
VERSION = 1
MAX_VERSIONS = 200
MAX_STORE_BYTES = 256 * 1024 * 1024
INDEX_LIMIT = 8 * 1024 * 1024  # an index of MAX_VERSIONS entries takes about 40 KB
DIGEST = re.compile(r"^[0-9a-f]{64}\Z")
PREFIX = re.compile(r"^[0-9a-f]{4,64}\Z")
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z\Z")
MAX_SUMMARY = 500


class HistoryError(NodegraphError):
    """A version that cannot be read or found, or a history folder that cannot be used; the
    message names the file and says why."""


@dataclass(frozen=True)
class Version:
    id: str  # sha256 of the graph file's bytes (64 hex digits)
    time: str  # UTC, ISO 8601 (2026-12-08T00:25:31Z)
    summary: str  # what changed since the version before it
    bytes: int

    @property
    def short(self) -> str:
        return self.id[:12]

    def local_time(self) -> str:
        """The time in this machine's time zone, as ``2026-12-08 01:25:31``."""
        try:
            t = datetime.strptime(self.time[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
        except ValueError:
            return self.time
        return t.astimezone().strftime("%Y-%m-%d %H:%M:%S")

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "time": self.time, "summary": self.summary, "bytes": self.bytes}


def history_dir(graph: str | os.PathLike) -> Path:
    """The folder that keeps the versions of graph file ``graph``."""
    p = Path(graph)
    return p.with_name(f".{p.name}.history")


def digest(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


class GraphHistory:
    """The versions of one graph file (see the module's doc)."""

    def __init__(self, graph: str | os.PathLike, max_versions: int = MAX_VERSIONS, max_bytes: int = MAX_STORE_BYTES):
        self.graph = Path(graph)
        self.folder = history_dir(self.graph)
        self.index_path = self.folder / "index.json"
        self.blobs = self.folder / "versions"
        self.max_versions, self.max_bytes = max(1, int(max_versions)), int(max_bytes)

    # -- reading ---------------------------------------------------------------------------------
    def versions(self) -> list[Version]:
        """Every version kept, oldest first ([] when there is none yet). A damaged index raises
        ``HistoryError`` saying so (the next save starts a new one)."""
        self._check_folder()
        try:
            st = os.stat(self.index_path, follow_symlinks=False)
        except FileNotFoundError:
            return []
        except OSError as e:
            raise HistoryError(f"cannot read {self.index_path}: {e.strerror or e}") from None
        if not stat.S_ISREG(st.st_mode):
            raise self._damaged("it is not a regular file")
        try:
            data = parse_json(_read_regular(self.index_path, INDEX_LIMIT), str(self.index_path), INDEX_LIMIT,
                              "history index")
        except GraphFileError as e:
            raise self._damaged(e.reason + (f" at {e.where}" if e.where else "")) from None
        return self._entries(data)

    def _damaged(self, why: str) -> HistoryError:
        return HistoryError(f"the history index {self.index_path} is damaged ({why}); the next save of "
                            f"{self.graph.name} keeps it as index.json.bad and starts a new index")

    def _entries(self, data: Any) -> list[Version]:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise self._damaged(f"not a {FORMAT} file")
        if data.get("version") != VERSION:
            raise self._damaged(f"format version {data.get('version')!r}, this nodegraph reads {VERSION}")
        rows = data.get("versions")
        if not isinstance(rows, list):
            raise self._damaged("'versions' is not a list")
        out = []
        for i, row in enumerate(rows):
            if not (isinstance(row, dict) and isinstance(row.get("id"), str) and DIGEST.match(row["id"])
                    and isinstance(row.get("time"), str) and TIME.match(row["time"])
                    and isinstance(row.get("summary", ""), str) and len(row.get("summary", "")) <= MAX_SUMMARY
                    and isinstance(row.get("bytes"), int) and not isinstance(row.get("bytes"), bool)
                    and 0 <= row["bytes"] <= MAX_BYTES):
                raise self._damaged(f"entry {i} is not {{id: sha256, time, summary, bytes}}")
            summary = "".join(c if c.isprintable() else "?" for c in row.get("summary", ""))  # no terminal escapes
            out.append(Version(row["id"], row["time"], summary, row["bytes"]))
        return out

    def find(self, ident: str) -> Version:
        """The newest version whose id is ``ident`` or starts with it (at least 4 hex digits)."""
        ident = str(ident).strip().lower()
        if not PREFIX.match(ident):
            raise HistoryError(f"{ident!r} is not a version id (the hex digits `nodegraph diff` and the history panel show)")
        versions = self.versions()
        hits = {v.id for v in versions if v.id.startswith(ident)}
        if not hits:
            raise HistoryError(f"{self.graph.name} has no version {ident} ({len(versions)} versions kept in {self.folder})")
        if len(hits) > 1:
            raise HistoryError(f"version id {ident} of {self.graph.name} is ambiguous: give more digits")
        return next(v for v in reversed(versions) if v.id in hits)

    def text(self, ident: str) -> str:
        """A version's graph text, checked against its sha256."""
        v = self.find(ident)
        return self._blob_text(v.id)

    def read(self, ident: str) -> Document:
        """A version as a document (through the graph file loader)."""
        v = self.find(ident)
        return loads(self._blob_text(v.id), source=f"{self.graph.name} version {v.short} ({self._blob(v.id)})")

    def _blob(self, ident: str) -> Path:
        return self.blobs / f"{ident}.json"

    def _blob_text(self, ident: str) -> str:
        path = self._blob(ident)
        data = _read_regular(path, MAX_BYTES)
        if digest(data) != ident:
            raise HistoryError(f"{path} does not match its sha256 (the file was changed or damaged): refused")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:  # a planted file named by the sha256 of bytes that are not text
            raise HistoryError(f"{path} is not UTF-8 text: refused") from None

    # -- writing ---------------------------------------------------------------------------------
    def record(self, text: str, registry: Any = None, when: datetime | None = None,
               doc: Document | None = None) -> Version | None:
        """Keep ``text`` (a graph file's canonical text, as just saved) as the newest version.
        Returns it, or None when it is the same as the newest version already kept. ``doc``: the
        document ``text`` was written from (``fileformat.dumps(doc)``), to skip parsing it again."""
        data = text.encode("utf-8")
        ident = digest(data)
        self._check_folder()
        try:
            versions = self.versions()
        except HistoryError:
            versions = self._start_again()
        self._put_blob(ident, data)  # first: a damaged file of the same version is written again
        if versions and versions[-1].id == ident:
            return None
        summary = self._summary(versions[-1] if versions else None, ident, text, doc, registry)
        again = next((v for v in reversed(versions) if v.id == ident), None)
        if again is not None:  # a version restored and saved, or an edit taken back by hand
            summary = f"same as {again.short[:8]} again: {summary}"
        t = (when or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        v = Version(ident, t, summary[:MAX_SUMMARY], len(data))
        kept = self._bound(versions + [v])
        self._write_index(kept)
        self._collect(kept)
        return v

    def _summary(self, prev: Version | None, ident: str, text: str, doc: Document | None, registry: Any) -> str:
        from .diff import diff, summary

        try:  # what the graph holds, as Document.content() gives it
            new = doc.content() if doc is not None else loads(text, source=str(self.graph)).content()
        except GraphFileError as e:
            return f"saved (cannot be compared: {e})"
        old = _recent_get((str(self.folder), prev.id)) if prev is not None else None
        if prev is not None and old is None:
            try:
                old = loads(self._blob_text(prev.id), source=f"{self.graph.name} version {prev.short}").content()
            except (HistoryError, GraphFileError):
                old = None
        # the text was written by nodegraph just now (a Document's dumps): its parse is the content
        _recent_put((str(self.folder), ident), json.loads(text) if doc is not None else new)
        if prev is None:
            links = sum(len(v) if isinstance(v, list) else 1 for rec in new["nodes"].values()
                        for v in rec.get("inputs", {}).values())
            return f"first version kept ({len(new['nodes'])} nodes, {links} links)"
        if old is None:
            return "saved (the previous version cannot be read)"
        return summary(diff(old, new, registry, layout=True))

    def _bound(self, versions: list[Version]) -> list[Version]:
        """The newest versions within max_versions and max_bytes (the newest is always kept)."""
        kept: list[Version] = []
        seen: set[str] = set()
        total = 0
        for v in reversed(versions):
            size = 0 if v.id in seen else v.bytes
            if kept and (len(kept) >= self.max_versions or total + size > self.max_bytes):
                break
            kept.append(v)
            seen.add(v.id)
            total += size
        return kept[::-1]

    def _write_index(self, versions: list[Version]) -> None:
        write_json(self.index_path, {"format": FORMAT, "version": VERSION, "graph": self.graph.name,
                                     "versions": [v.to_json() for v in versions]})

    def _put_blob(self, ident: str, data: bytes) -> None:
        path = self._blob(ident)
        try:
            if digest(_read_regular(path, MAX_BYTES)) == ident:
                return  # kept already (the same text saved before)
        except HistoryError:
            pass  # missing, or damaged: written again below
        self._check_folder(self.blobs)
        write_bytes(path, data)

    def _collect(self, versions: list[Version]) -> None:
        """Delete version files no entry names (only names a version file can have)."""
        keep = {v.id for v in versions}
        try:
            names = os.listdir(self.blobs)
        except OSError:
            return
        for name in names:
            stem = name[:-5] if name.endswith(".json") else ""
            if DIGEST.match(stem) and stem not in keep:
                try:
                    os.unlink(self.blobs / name)  # a link is removed, never what it points to
                except OSError:
                    pass

    def _start_again(self) -> list[Version]:
        """The index is damaged: keep it as index.json.bad and list the intact version files,
        oldest first, as a new index."""
        try:
            os.replace(self.index_path, self.folder / "index.json.bad")
        except OSError:
            pass
        found = []
        try:
            names = sorted(os.listdir(self.blobs))
        except OSError:
            names = []
        for name in names:
            stem = name[:-5] if name.endswith(".json") else ""
            if not DIGEST.match(stem):
                continue
            path = self.blobs / name
            try:
                data = _read_regular(path, MAX_BYTES)
                mtime = os.stat(path, follow_symlinks=False).st_mtime
            except (HistoryError, OSError):
                continue
            if digest(data) == stem:
                t = datetime.fromtimestamp(mtime, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                found.append((mtime, Version(stem, t, "recovered after the history index was damaged", len(data))))
        return [v for _, v in sorted(found, key=lambda x: x[0])]

    def _check_folder(self, folder: Path | None = None) -> None:
        """Refuse a history folder (or its versions folder) that is a link or not a folder."""
        for f in ([folder] if folder is not None else [self.folder, self.blobs]):
            try:
                st = os.stat(f, follow_symlinks=False)
            except FileNotFoundError:
                continue
            except OSError as e:
                raise HistoryError(f"cannot use {f}: {e.strerror or e}") from None
            if stat.S_ISLNK(st.st_mode):
                raise HistoryError(f"{f} is a symbolic link: refused (history is kept only in a real folder)")
            if not stat.S_ISDIR(st.st_mode):
                raise HistoryError(f"{f} is not a folder: refused")


#: the content of the versions this process recorded last ((history folder, id) -> content): the
#: next save compares with it without reading and checking the file again
_RECENT: "OrderedDict[tuple[str, str], dict]" = OrderedDict()


def _recent_get(key: tuple[str, str]) -> dict | None:
    return _RECENT.get(key)


def _recent_put(key: tuple[str, str], content: dict) -> None:
    _RECENT[key] = content
    _RECENT.move_to_end(key)
    while len(_RECENT) > 4:
        _RECENT.popitem(last=False)


def _read_regular(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; never through a link, never a
    FIFO or device (``HistoryError`` naming the file otherwise)."""
    from .fsio import ReadRefused, read_regular

    try:
        return read_regular(path, limit)
    except ReadRefused as e:
        raise HistoryError(f"{path} is missing" if e.missing else f"{path}: {e.reason}: refused") from None


# -- restoring ---------------------------------------------------------------------------------------
_PARTS = ("g", "meta", "packs", "layout", "groups", "dangling")


@dataclass
class RestoreVersion(Command):
    """Make the document hold ``version``'s content (its nodes, links, params, meta, packs,
    groups and layout); undone in one step. The document object stays the same one."""

    version: Document
    label: str = ""
    title = "restore version"

    def apply(self, doc: Document) -> Change:
        before = Document()
        for part in _PARTS:
            setattr(before, part, getattr(doc, part))
        touched = set(doc.g.nodes) | set(self.version.g.nodes)
        for part in _PARTS:
            setattr(doc, part, copy.deepcopy(getattr(self.version, part)))
        doc.links_changed()
        self.inverse = RestoreVersion(before, "what was there before the restore")
        return Change(frozenset(touched), frozenset(touched), True)


def save_keeping_versions(doc: Document, graph: str | os.PathLike, registry: Any = None) -> str | None:
    """Save ``doc`` over the graph file ``graph`` as a command that rewrites it does (``look make
    --replace``, ``look upgrade``, ``look unlock``), keeping the file as it was before and as it
    is after as versions, so the History panel and ``nodegraph diff GRAPH@ID`` can take the
    change back. Returns why no version was kept, or None; the graph is saved either way."""
    from .fileformat import dumps, save

    path = Path(graph)
    problem = None
    h = GraphHistory(path)
    try:
        if path.is_file():
            h.record(_read_regular(path, MAX_BYTES).decode("utf-8"), registry)  # the graph before the change
    except (HistoryError, OSError, UnicodeDecodeError) as e:
        problem = str(e)
    save(doc, path)
    try:
        h.record(dumps(doc), registry, doc=doc)
    except (HistoryError, OSError) as e:
        problem = problem or str(e)
    return problem


__all__ = ["save_keeping_versions", "GraphHistory", "HistoryError", "RestoreVersion", "Version", "digest", "history_dir",
           "MAX_VERSIONS", "MAX_STORE_BYTES"]
