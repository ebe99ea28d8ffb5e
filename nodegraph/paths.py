"""File paths in graphs: which params name files, and how those paths travel with the graph file.

A param of type ``Path`` names a file; a relative path is taken from the graph file's folder, the
graph's *base* (``Policy.resolve``, ``Context.input_path``). A model reference
(``Path(kind="model:...")``) names a file only when it looks like one (absolute, ``./``, ``../``,
``~``, or an existing path under the base); otherwise it is a model name or a Hugging Face repo id
and is left alone. One rule set, used by the editor's Save and Save As, by ``nodegraph new`` and
``nodegraph validate``, and by what output files embed:

- **saving** (``portable``): a path inside the graph's folder tree is written relative to the
  graph file, with forward slashes; a path outside it stays as it was typed (absolute stays
  absolute, relative stays relative);
- **Save As into another folder** (``rebase``): a relative path is rewritten so it names the same
  file from the new folder; it stays relative while the new folder lies inside the folder the path
  climbs to (``../assets/x.png`` keeps working from a sibling folder), else it becomes absolute;
- **templates** (``nodegraph.templates``): the files a template reads are copied beside the new
  graph and its paths point at the copies;
- **shipped files** (``shipped_dir``): the templates and assets that come with nodegraph, found in
  a source checkout and in an installed wheel (``nodegraph.templates`` copies them);
- **provenance** (``provenance_text``): the graph a PNG, MP4 or FLAC embeds names no absolute path
  of the maker's machine: paths inside the graph's folder are relative, a file outside it is named
  by its file name, with its content digest in the graph's meta (``file:NODE.PARAM``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from .graph import Document
    from .registry import Registry

#: the meta key prefix under which provenance names a file outside the graph's folder
META_FILE = "file:"


@dataclass(frozen=True)
class FileParam:
    """A stored path param of a node (not fed by a link)."""

    node: str
    param: str
    value: str
    kind: str  # the Path type's ``kind`` option: "image", "audio", "model:checkpoints", ...

    @property
    def is_model(self) -> bool:
        return self.kind.startswith("model:")


def path_params(doc: "Document", registry: "Registry") -> list[FileParam]:
    """Every non-empty stored value of a ``Path`` param whose node type is installed and which no
    link feeds (a link wins over the stored value), in node order."""
    out: list[FileParam] = []
    for nid in doc.node_ids():
        spec = registry.specs.get(doc.type_of(nid))
        if spec is None or not spec.reads_paths:
            continue
        stored, linked = doc.params(nid), doc.inputs(nid)
        for port in spec.inputs:
            if port.type.id != "path" or port.name in linked:
                continue
            value = stored.get(port.name)
            if isinstance(value, str) and value.strip():
                out.append(FileParam(nid, port.name, value, str(port.type.opts.get("kind") or "")))
    return out


def is_pathlike(value: str) -> bool:
    """Whether a model reference can only be meant as a path (never a name or repo id)."""
    expanded = os.path.expanduser(value)
    return (os.path.isabs(expanded) or value.startswith(("./", "../", "~", ".\\", "..\\"))
            or ".." in value.replace("\\", "/").split("/"))


def names_file(ref: FileParam, base: str | os.PathLike) -> bool:
    """Whether the param's value is a file path (always, except for a model name or repo id)."""
    if not ref.is_model:
        return True
    return is_pathlike(ref.value) or os.path.lexists(resolve(ref.value, base))


def files(doc: "Document", registry: "Registry", base: str | os.PathLike) -> list[FileParam]:
    """The path params that name files (``path_params`` without model names)."""
    return [r for r in path_params(doc, registry) if names_file(r, base)]


# -- one path --------------------------------------------------------------------------------------

def is_absolute(value: str) -> bool:
    """Absolute, or from the home folder (``~``): not relative to the graph."""
    return value.startswith("~") or os.path.isabs(value)


def resolve(value: str, base: str | os.PathLike) -> Path:
    """The file ``value`` names for a graph whose folder is ``base`` (as ``Policy.resolve``)."""
    p = Path(os.path.expanduser(value))
    return p if p.is_absolute() else Path(base) / p


def _norm(p: str | os.PathLike) -> str:
    return os.path.normpath(os.path.abspath(os.path.expanduser(os.fspath(p))))


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _posix(rel: str) -> str:
    return Path(rel).as_posix()


def relative_inside(path: str | os.PathLike, folder: str | os.PathLike) -> str | None:
    """``path`` relative to ``folder`` (forward slashes) when it lies inside ``folder``'s tree, else
    None. Compared as written first (a link inside the folder stays a link), then with symbolic
    links resolved (a folder reached through a link)."""
    p, f = _norm(path), _norm(folder)
    for pp, ff in ((p, f), (os.path.realpath(p), os.path.realpath(f))):
        if _inside(pp, ff):
            return _posix(os.path.relpath(pp, ff))
    return None


def portable(value: str, base: str | os.PathLike) -> str:
    """``value`` as a graph in ``base`` saves it: relative when it lies inside ``base``'s tree,
    else unchanged."""
    if not is_absolute(value):
        return value
    rel = relative_inside(value, base)
    return rel if rel is not None else value


def _climb(value: str) -> int:
    """How many folders up a relative path goes before it goes down (``../../a`` -> 2)."""
    n = 0
    for part in PurePosixPath(os.path.normpath(value).replace("\\", "/")).parts:
        if part != "..":
            break
        n += 1
    return n


def rebase(value: str, old_base: str | os.PathLike, new_base: str | os.PathLike) -> str:
    """``value`` (relative to ``old_base``) rewritten to name the same file from ``new_base``:
    relative when the file lies inside ``new_base``; a relative path stays relative while
    ``new_base`` lies inside the folder it climbs to, else it becomes absolute; an absolute path
    outside ``new_base`` is kept as it was typed."""
    target = _norm(resolve(value, old_base))
    rel = relative_inside(target, new_base)
    if rel is not None:
        return rel
    if is_absolute(value):
        return value
    anchor = _norm(Path(old_base).joinpath(*([".."] * _climb(value))))
    if _inside(_norm(new_base), anchor):
        return _posix(os.path.relpath(target, _norm(new_base)))
    return target


def set_value(doc: "Document", node: str, param: str, value: str) -> None:
    from .commands import SetParam

    SetParam(node, param, value)(doc)


def rewrite(doc: "Document", registry: "Registry", old_base: str | os.PathLike,
            new_base: str | os.PathLike) -> list[tuple[str, str, str, str]]:
    """Rewrite the document's file paths for a graph file that moves from ``old_base`` to
    ``new_base`` (the same folder: only ``portable``). Returns (node, param, old, new) for each
    change. The edit is not an undo step: it is what saving there means."""
    same = _norm(old_base) == _norm(new_base)
    changes = []
    for ref in files(doc, registry, old_base):
        new = portable(ref.value, new_base) if same else rebase(ref.value, old_base, new_base)
        if new != ref.value:
            set_value(doc, ref.node, ref.param, new)
            changes.append((ref.node, ref.param, ref.value, new))
    return changes


# -- checks ----------------------------------------------------------------------------------------

def missing(doc: "Document", registry: "Registry", base: str | os.PathLike) -> list[tuple[FileParam, Path]]:
    """The path params whose file does not exist (for a model: neither file nor folder), with the
    path looked for."""
    out = []
    for ref in files(doc, registry, base):
        path = resolve(ref.value, base)
        ok = path.exists() if ref.is_model else path.is_file()
        if not ok:
            out.append((ref, path))
    return out


# -- provenance ------------------------------------------------------------------------------------

def provenance_text(doc: "Document", registry: "Registry", base: str | os.PathLike,
                    digest: Callable[[str], bytes | None] | None = None) -> str:
    """The canonical JSON of ``doc`` as an output file embeds it: every file path is relative to
    the graph's folder when the file lies inside it; a file elsewhere is named by its file name
    only, and ``meta["file:NODE.PARAM"]`` holds ``"NAME blake3:HEX"`` (``digest(path)``: the
    file's 32-byte content digest, or None when unknown)."""
    from .fileformat import dumps

    refs = files(doc, registry, base)
    if not any(is_absolute(r.value) for r in refs):
        return dumps(doc)
    out = doc.copy()
    for ref in refs:
        if not is_absolute(ref.value):
            continue
        rel = relative_inside(ref.value, base)
        if rel is not None:
            set_value(out, ref.node, ref.param, rel)
            continue
        path = resolve(ref.value, base)
        name = path.name
        set_value(out, ref.node, ref.param, name)
        d = digest(str(path)) if digest is not None and path.is_file() else None
        out.meta[f"{META_FILE}{ref.node}.{ref.param}"] = f"{name} blake3:{d.hex()}" if d and len(d) == 32 else name
    return dumps(out)


def _package_root() -> Path:
    return Path(str(resources.files("nodegraph")))


def shipped_dir(name: str) -> Path | None:
    """The shipped folder ``name`` ("graphs" or "assets"): ``nodegraph/_data/NAME`` when installed,
    ``NAME/`` beside the package in a source checkout, or None."""
    root = _package_root()
    installed = root / "_data" / name
    if installed.is_dir():
        return installed
    checkout = root.parent / name
    if checkout.is_dir() and (root.parent / "pyproject.toml").is_file():
        return checkout
    return None


def base_for(output_file: str | os.PathLike, base: str | os.PathLike) -> str:
    """The graph's folder as an output file records it: relative to the file's own folder
    (``..`` for ``output/x.png`` under the graph's folder), or "" on another drive."""
    try:
        return _posix(os.path.relpath(os.path.realpath(base), os.path.realpath(Path(output_file).parent)))
    except ValueError:  # another drive (Windows)
        return ""


__all__ = ["FileParam", "path_params", "files", "names_file", "is_pathlike", "is_absolute", "resolve",
           "relative_inside", "portable", "rebase", "rewrite", "missing", "provenance_text", "base_for",
           "shipped_dir", "META_FILE"]
