"""The graphs and assets that ship with nodegraph, and new graphs made from a template.

In a source checkout they are the top-level ``graphs/`` and ``assets/`` folders; an installed
nodegraph (a wheel) carries the same folders as ``nodegraph/_data/graphs`` and
``nodegraph/_data/assets`` (``pyproject.toml``/``setup.py`` map them there), so a template's
``../assets/...`` paths resolve the same way in both.

``instantiate`` copies a template to a new graph file and copies the files it reads beside it
(``../assets/characters/mira/body.png`` becomes ``assets/characters/mira/body.png`` next to the
new graph, with the ``character.json`` beside it), so the new graph resolves, runs and travels
with its folder.
"""
from __future__ import annotations

import difflib
import filecmp
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Iterable

from . import paths
from .errors import NodegraphError
from .paths import shipped_dir

if TYPE_CHECKING:
    from .graph import Document
    from .registry import Registry

#: files that describe the file beside them and are read from there (a Character's art folder):
#: copied along with a referenced file when a template is copied
COMPANIONS = ("character.json",)


@dataclass(frozen=True)
class Template:
    name: str
    path: Path
    title: str
    description: str


def list_templates() -> list[Template]:
    """The shipped templates, by name."""
    folder = shipped_dir("graphs")
    out = []
    for p in sorted(folder.glob("*.json")) if folder else []:
        try:
            meta = json.loads(p.read_text(encoding="utf-8")).get("meta", {})
        except (OSError, ValueError, AttributeError):
            continue
        meta = meta if isinstance(meta, dict) else {}
        out.append(Template(p.stem, p, str(meta.get("title", p.stem)), str(meta.get("description", ""))))
    return out


def find_template(name: str) -> Path:
    """A shipped template by name (``talking_character``), or a graph file by path."""
    for t in list_templates():
        if name in (t.name, t.name + ".json"):
            return t.path
    p = Path(name).expanduser()
    if p.is_file():
        return p
    names = [t.name for t in list_templates()]
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f" (templates: {', '.join(names) or 'none installed'})"
    raise NodegraphError(f"there is no template {name!r} and no graph file {str(p)!r}{hint}")


# -- copying ---------------------------------------------------------------------------------------

def _local_name(value: str) -> str:
    """Where a template's relative path lands beside the copy: the path without the folders it
    climbs (``../assets/a/b.png`` -> ``assets/a/b.png``)."""
    parts = [p for p in PurePosixPath(os.path.normpath(value).replace("\\", "/")).parts if p not in ("..", ".")]
    return "/".join(parts)


def _copy(src: Path, dest: Path) -> None:
    from .fsio import atomic_path

    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dest) as tmp:
        shutil.copyfile(src, tmp)


def copy_files(doc: "Document", registry: "Registry", src_base: str | os.PathLike, dest_base: str | os.PathLike,
               force: bool = False, allow_read: Iterable[str | os.PathLike] = ()) -> list[Path]:
    """Copy the files ``doc`` reads through relative paths from ``src_base`` (a template's folder)
    into ``dest_base`` (beside the new graph) and point the paths at the copies; a file already
    inside ``dest_base``'s tree is used where it is, and absolute paths are rebased
    (``paths.rebase``). A file already there with other content is an error unless ``force``.
    A template is untrusted like any graph: only files it may read (``nodegraph.policy``: its own
    folder tree, the shipped assets, the model folders, ``allow_read``) are copied, else the error
    names the node, the param and the path; nothing is written through a symbolic link out of
    ``dest_base``. Returns the files written."""
    from .context import safe_join
    from .errors import UnsafePath
    from .policy import Policy

    src_base, dest_base = Path(src_base), Path(dest_base)
    policy = Policy(src_base, allow_read=allow_read)
    plan: dict[Path, Path] = {}  # destination -> source
    changes: list[tuple[str, str, str]] = []
    for ref in paths.files(doc, registry, src_base):
        source = Path(os.path.normpath(paths.resolve(ref.value, src_base)))
        inside = paths.relative_inside(source, dest_base)
        if paths.is_absolute(ref.value) or not source.is_file() or inside is not None:
            new = inside if inside is not None else paths.rebase(ref.value, src_base, dest_base)
        else:
            why = policy.why_not(ref.value)
            if why is not None:
                raise NodegraphError(f"node {ref.node!r} param {ref.param!r}: {why}; not copied")
            new = _local_name(ref.value)
            try:
                dest = safe_join(dest_base, new, "copied file")
            except UnsafePath as e:
                raise NodegraphError(f"node {ref.node!r} param {ref.param!r}: {e}") from None
            stem, n = dest, 2
            while dest in plan and plan[dest] != source:  # two files with one name: number the second
                dest = stem.with_name(f"{stem.stem}-{n}{stem.suffix}")
                n += 1
            new = paths.relative_inside(dest, dest_base) or new
            plan[dest] = source
            for extra in COMPANIONS:
                if (source.parent / extra).is_file() and source.name != extra:
                    plan.setdefault(dest.parent / extra, source.parent / extra)
        if new != ref.value:
            changes.append((ref.node, ref.param, new))
    clashes = [d for d, s in plan.items() if d.exists() and not (d.is_file() and filecmp.cmp(d, s, shallow=False))]
    if clashes and not force:
        raise NodegraphError(f"{clashes[0]} already exists with other content (use --force to replace it)")
    written = []
    for dest, source in plan.items():
        if dest.exists() and dest.is_file() and filecmp.cmp(dest, source, shallow=False):
            continue
        try:
            _copy(source, dest)
        except OSError as e:
            raise NodegraphError(f"cannot copy {source} to {dest}: {e.strerror or e}") from None
        written.append(dest)
    for nid, param, value in changes:
        paths.set_value(doc, nid, param, value)
    return written


def instantiate(template: str | os.PathLike, dest: str | os.PathLike, registry: "Registry", *,
                force: bool = False, title: str | None = None,
                allow_read: Iterable[str | os.PathLike] = ()) -> tuple["Document", list[Path]]:
    """Write a new graph ``dest`` from a template (a shipped name or a graph file) with the files it
    reads copied beside it. Returns the document and the files written (the graph file last)."""
    from .fileformat import load, save

    src = find_template(str(template))
    dest = Path(dest)
    if dest.exists() and not force:
        raise NodegraphError(f"{dest} already exists (use --force to replace it)")
    doc = load(src)
    if title:
        doc.meta["title"] = title
    dest_base = dest.resolve().parent
    dest_base.mkdir(parents=True, exist_ok=True)
    written = copy_files(doc, registry, src.resolve().parent, dest_base, force=force, allow_read=allow_read)
    written += copy_looks(doc, src.resolve().parent, dest_base, force=force)
    save(doc, dest)
    return doc, written + [dest]


def copy_looks(doc: "Document", src_base: Path, dest_base: Path, force: bool = False) -> list[Path]:
    """The Looks the graph uses (nested ones too) that come from the ``looks/`` folder beside it,
    written to ``looks/`` beside the copy (read and re-written as data, never run). Looks from the
    user's folder or from packages are found there again and are not copied."""
    from .looks.library import LookLibrary
    from .looks.model import TYPE_PREFIX, save as save_look

    local = LookLibrary([("graph", src_base / "looks")])
    if not local.looks:
        return []
    by_type = {look.type_id: look for look in local.all()}
    todo = [t for t in (doc.type_of(n) for n in doc.node_ids()) if t.startswith(TYPE_PREFIX)]
    seen: set[str] = set()
    written = []
    while todo:
        t = todo.pop()
        if t in seen or t not in by_type:
            continue
        seen.add(t)
        look = by_type[t]
        todo += [look.graph.type_of(n) for n in look.graph.node_ids() if look.graph.type_of(n).startswith(TYPE_PREFIX)]
        target = dest_base / "looks" / Path(look.path).name
        if target.resolve() == Path(look.path).resolve():
            continue
        if target.exists() and not force:
            raise NodegraphError(f"{target} already exists (use --force to replace it)")
        target.parent.mkdir(parents=True, exist_ok=True)
        save_look(look, target)
        written.append(target)
    return written


__all__ = ["Template", "COMPANIONS", "shipped_dir", "list_templates", "find_template", "copy_files", "copy_looks",
           "instantiate"]
