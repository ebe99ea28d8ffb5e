"""Where Looks are found, and the node registry that knows them.

A graph's Looks come from, in this order (the first of the same id and version wins):

1. the ``looks/`` folder beside the graph file (a shared project carries its own);
2. the user's looks folder (``nodegraph looks install`` copies files there): ``$NODEGRAPH_LOOKS_DIR``,
   or ``looks/`` in the user data folder (``~/.local/share/nodegraph/looks`` on Linux);
3. installed packages that declare the ``nodegraph.looks`` entry point, like node packs::

       [project.entry-points."nodegraph.looks"]
       mystudio = "mystudio.looks"     # a package folder holding *.look.json files

A file that cannot be read, or a Look whose inner nodes are not installed, is reported by name and
skipped; the other Looks load. ``LookRegistry`` is the node registry plus one node type per Look
version (``look:studio/noir@1.0.0``), so the editor, ``validate`` and ``describe`` treat an
instance like any node.
"""
from __future__ import annotations

import importlib.util
import os
from importlib import metadata
from pathlib import Path
from typing import Iterable

from ..errors import GraphFileError, NodegraphError
from ..node import NodeSpec
from ..registry import Registry, UnknownNodeType
from . import model
from .model import SUFFIX, Look, split_type, version_key
from .spec import LookBroken, build_spec

GROUP = "nodegraph.looks"
MAX_FILES = 2000


def user_looks_dir() -> Path:
    env = os.environ.get("NODEGRAPH_LOOKS_DIR")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("nodegraph", appauthor=False)) / "looks"


def package_roots() -> list[tuple[str, Path]]:
    """(origin, folder) of every ``nodegraph.looks`` entry point (found without running it)."""
    out = []
    for ep in sorted(metadata.entry_points(group=GROUP), key=lambda e: e.name):
        dist = getattr(ep, "dist", None)
        label = f"package {dist.name if dist else ep.name}"
        try:
            found = importlib.util.find_spec(ep.value)
        except (ImportError, ValueError):
            found = None
        locs = list(found.submodule_search_locations or []) if found is not None else []
        if not locs and found is not None and found.origin:
            locs = [str(Path(found.origin).parent)]
        for loc in locs:
            out.append((label, Path(loc)))
    return out


class LookLibrary:
    """Every Look found in ``roots`` (origin, folder), by id and version."""

    def __init__(self, roots: Iterable[tuple[str, Path]]):
        self.roots = [(o, Path(p)) for o, p in roots]
        self.looks: dict[tuple[str, str], Look] = {}
        #: one line per file that could not be read (named), for ``nodegraph looks list`` and validate
        self.problems: list[str] = []
        for origin, folder in self.roots:
            self._scan(origin, folder)

    @classmethod
    def for_graph(cls, graph: str | os.PathLike | None = None, packages: bool = True) -> "LookLibrary":
        roots: list[tuple[str, Path]] = []
        if graph is not None:
            roots.append(("graph", Path(graph).resolve().parent / "looks"))
        roots.append(("user", user_looks_dir()))
        if packages:
            roots += package_roots()
        return cls(roots)

    def _scan(self, origin: str, folder: Path) -> None:
        try:
            names = sorted(p for p in folder.iterdir() if p.name.endswith(SUFFIX))[:MAX_FILES]
        except OSError:
            return
        for path in names:
            try:
                if not path.is_file():
                    continue
                look = model.load(path, origin)
            except GraphFileError as e:
                self.problems.append(f"Look file {e}")
                continue
            key = (look.id, look.version)
            if key in self.looks:
                continue  # an earlier root (the graph's own folder first) wins
            self.looks[key] = look

    def add(self, look: Look) -> None:
        self.looks[(look.id, look.version)] = look

    def get(self, ident: str, version: str) -> Look | None:
        return self.looks.get((ident, version))

    def versions(self, ident: str) -> list[str]:
        return sorted((v for i, v in self.looks if i == ident), key=version_key)

    def latest(self, ident: str) -> Look | None:
        vs = self.versions(ident)
        return self.looks[(ident, vs[-1])] if vs else None

    def all(self) -> list[Look]:
        return [self.looks[k] for k in sorted(self.looks, key=lambda k: (k[0], version_key(k[1])))]

    def where(self) -> str:
        return ", ".join(f"{p}" for _, p in self.roots)


class LookRegistry(Registry):
    """The node types of ``base`` and one per Look in ``library``."""

    def __init__(self, base: Registry, library: LookLibrary):
        super().__init__()
        self.base, self.library = base, library
        self.packs = base.packs
        self.specs = dict(base.specs)
        #: look type id -> why it cannot be used (an inner node type missing ...)
        self.broken: dict[str, str] = {}
        self._building: set[str] = set()
        for look in library.all():
            try:
                self._spec(look.type_id)
            except (LookBroken, UnknownNodeType):
                pass  # recorded in self.broken; an instance of it says why

    def _spec(self, type_id: str) -> NodeSpec:
        spec = self.specs.get(type_id)
        if spec is not None:
            return spec
        if type_id in self.broken:
            raise LookBroken(self.broken[type_id])
        parsed = split_type(type_id)
        look = self.library.get(*parsed) if parsed else None
        if look is None:
            raise UnknownNodeType(self.explain_unknown(type_id, {}))
        if type_id in self._building:
            raise LookBroken(f"Look {look.label} contains itself")
        self._building.add(type_id)
        try:
            spec = build_spec(look, self._spec)
        except LookBroken as e:
            self.broken[type_id] = str(e)
            raise
        finally:
            self._building.discard(type_id)
        self.specs[type_id] = spec
        return spec

    def pack_of_namespace(self) -> dict[str, str]:
        """As ``Registry``'s, plus where each Look comes from (saved in graphs that use it)."""
        out = self.base.pack_of_namespace()
        for look in self.library.all():
            out[look.type_id] = look.source or f"the Look file {Path(look.path).name or look.file_name()}"
        return out

    def look(self, type_id: str) -> Look | None:
        parsed = split_type(type_id)
        return self.library.get(*parsed) if parsed else None

    def problems(self) -> list[str]:
        return self.base.problems() + self.library.problems + sorted(set(self.broken.values()))

    def explain_unknown(self, type_id: str, known_packs: dict[str, str]) -> str:
        parsed = split_type(type_id)
        if parsed is None:
            return self.base.explain_unknown(type_id, known_packs)
        if type_id in self.broken:
            return f"cannot use {type_id!r}: {self.broken[type_id]}"
        ident, version = parsed
        have = self.library.versions(ident)
        other = self.library.latest(ident)
        source = known_packs.get(type_id) or (other.source if other is not None else "")
        where = f" Get it from: {source}." if source else ""
        if have:
            head = (f"Look {ident} {version} is not installed (installed: {', '.join(have)}; "
                    f"upgrade the node to one of them, or install {version})")
        else:
            head = f"Look {ident} {version} is not installed"
        unread = self.library.problems
        broken = (f" {len(unread)} Look file(s) there could not be read: " + "; ".join(unread[:2])) if unread else ""
        return (f"{head}. Looks are searched in {self.library.where()}; install its file with "
                f"`nodegraph looks install FILE.look.json`.{where}{broken}")


def with_looks(base: Registry, graph: str | os.PathLike | None = None,
               library: LookLibrary | None = None) -> LookRegistry:
    """``base`` plus the Looks a graph at ``graph`` can use (see the module docs)."""
    return LookRegistry(base, library if library is not None else LookLibrary.for_graph(graph))


def install(path: str | os.PathLike, registry: Registry | None = None, folder: Path | None = None,
            force: bool = False) -> tuple[Look, Path]:
    """Copy a Look file into the user's looks folder after reading it (and, with ``registry``,
    checking that its inner nodes are installed). Refuses to replace a different file of the same
    id and version unless ``force``."""
    look = model.load(path)
    if registry is not None:
        lib = LookLibrary([])
        lib.add(look)
        try:
            LookRegistry(registry, lib)._spec(look.type_id)
        except (LookBroken, UnknownNodeType) as e:
            raise NodegraphError(f"{path}: {e}") from None
    folder = folder or user_looks_dir()
    dest = folder / look.file_name()
    text = look.dumps().encode("utf-8")
    if dest.exists() and not force:
        try:
            same = dest.read_bytes() == text
        except OSError:
            same = False
        if not same:
            raise NodegraphError(f"{dest} already holds Look {look.label} with other content; "
                                 "give the new one a new version, or use --force")
    folder.mkdir(parents=True, exist_ok=True)
    model.save(look, dest)
    return look, dest
