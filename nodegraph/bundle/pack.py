"""Writing a bundle: ``pack(graph, out)`` (``nodegraph pack``).

Which files go in: every ``Path`` param of the graph that names a file (``nodegraph.paths.files``:
images, audio, subtitles, LUTs, character definitions...), including params promoted on Look
instances, and every file a Look's own inner nodes read (relative to the Look file). A
``character.json`` names no other file (its keys are values: anchor, cells, voice), so the params
are the whole list: each file a node reads is a param of some node. Models are not packed
(weights are large and often may not be passed on); they are recorded by sha256, size, source and
licence (``nodegraph.usage``), and a model param that names a file by path becomes
``models/<name>`` so no path of this machine travels.

Only files the graph may read are packed (``nodegraph.policy``: its folder tree, the shipped
assets, the model folders, ``allow_read``): a shared graph naming ``~/.ssh/id_rsa`` is refused,
naming the node and the param, instead of carrying the key away.
"""
from __future__ import annotations

import hashlib
import os
import time
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from .. import paths
from ..errors import NodegraphError
from ..models.digests import hash_file
from .manifest import FORMAT, FORMAT_VERSION, MANIFEST, NOTES, THUMBNAIL, BundleError

#: suffixes stored without compression (already compressed: deflate would only cost time)
STORED = (".png", ".jpg", ".jpeg", ".webp", ".mp4", ".mov", ".m4v", ".mkv", ".webm", ".flac", ".mp3", ".ogg",
          ".m4a", ".opus", ".zip", ".gz", ".xz", ".zst", ".safetensors")
#: every member's time stamp: the bundle's bytes depend on its content only (and the manifest's "created")
EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass
class PackResult:
    path: Path
    manifest: dict
    thumbnail_from: str  # a file name of the output folder, or "drawing"
    model_hash_seconds: float  # time spent hashing models (hashes are memoised: the next pack is instant)


def _member_name(name: str) -> str:
    """A file name as a member's last part: no separators, no control characters."""
    clean = "".join("_" if (c in "/\\:" or ord(c) < 32 or ord(c) == 127) else c for c in name).strip()
    clean = clean.lstrip(".") or "file"
    while len(os.fsencode(clean)) > 200:
        clean = clean[:-1]
    return clean


def _model_ref(value: str) -> str:
    """What a model param naming a path becomes in a bundle: ``models/<file name>`` (models are
    recorded, never packed; the receiver puts the model there, or has it found by its sha256)."""
    return f"models/{_member_name(Path(value).name)}"


class _Assets:
    """Files stored by content: one member per sha256 (the first name seen names it)."""

    def __init__(self, bundle: str, policy: Any):
        self.bundle, self.policy = bundle, policy
        self.by_sha: dict[str, dict] = {}
        self.sources: dict[str, Path] = {}  # member -> file on disk

    def add(self, path: Path, used_by: str, where: str, value: str, policy: Any = None) -> str:
        """Store the file ``path`` (param ``value``, read by ``used_by``: ``node.param``); ``where``
        names it in messages."""
        why = (policy or self.policy).why_not(str(path))
        if why is not None:
            raise BundleError(self.bundle, f"{where}: {why}; not packed")
        if not path.is_file():
            raise BundleError(self.bundle, f"{where}: {value!r} ({path}) does not exist or is not a file; a bundle "
                                           "carries every file the graph reads")
        try:
            sha, size = hash_file(path), path.stat().st_size  # _write checks the bytes it stores again
        except OSError as e:
            raise BundleError(self.bundle, f"{where}: cannot read {path}: {e.strerror or e}") from None
        rec = self.by_sha.get(sha)
        if rec is None:
            member = f"assets/{sha}/{_member_name(path.name)}"
            rec = self.by_sha[sha] = {"path": member, "name": path.name, "sha256": sha, "size": size, "used_by": []}
            self.sources[member] = path
        if used_by not in rec["used_by"]:
            rec["used_by"].append(used_by)
        return rec["path"]


def _linked_files(doc: Any, registry: Any) -> list[tuple[str, str, str, str]]:
    """File params fed by a link from a node that holds one value (a Text node typed with a
    path): (source node, its param, the value, where for messages). The source's value is what
    the file param reads, so it is packed and rewritten like a stored path."""
    out, seen = [], set()
    for nid in doc.node_ids():
        spec = registry.specs.get(doc.type_of(nid))
        if spec is None or not spec.reads_paths:
            continue
        linked = doc.inputs(nid)
        for port in spec.inputs:
            kind = str(port.type.opts.get("kind") or "")
            if port.type.id != "path" or kind.startswith("model:") or port.name not in linked:
                continue
            links = linked[port.name]
            if len(links) != 1:
                continue
            params = doc.params(links[0].src)
            if len(params) != 1:
                continue
            (sparam, value), = params.items()
            if isinstance(value, str) and value.strip() and (links[0].src, sparam) not in seen:
                seen.add((links[0].src, sparam))
                out.append((links[0].src, sparam, value, f"node {links[0].src!r} param {sparam!r} (read by node "
                                                         f"{nid!r} param {port.name!r})"))
    return out


def _looks_used(doc: Any, registry: Any) -> list[Any]:
    """The Looks the graph's instances use, nested ones too, each once."""
    from ..looks.model import TYPE_PREFIX

    look_of = getattr(registry, "look", None)
    todo = [doc.type_of(n) for n in doc.node_ids()]
    seen: dict[str, Any] = {}
    while todo:
        t = todo.pop()
        if not t.startswith(TYPE_PREFIX) or t in seen:
            continue
        look = look_of(t) if look_of else None
        if look is None:
            continue  # reported by the unknown-type check
        seen[t] = look
        todo += [look.graph.type_of(n) for n in look.graph.node_ids()]
    return [seen[t] for t in sorted(seen)]


def _pack_look(look: Any, registry: Any, assets: _Assets) -> bytes:
    """The Look file's text with its inner nodes' files stored as assets (``../assets/...`` from
    ``looks/``), read and re-written as data."""
    import copy

    from ..looks.model import Look

    folder = Path(look.path).resolve().parent if look.path else None
    inner = look.graph.copy()
    for ref in paths.files(inner, registry, folder or Path.cwd()):
        if ref.is_model:
            inner_value = _model_ref(ref.value)
        else:
            src = paths.resolve(ref.value, folder or Path.cwd())
            where = f"Look {look.label} node {ref.node!r} param {ref.param!r}"
            allowed = assets.policy.widened([folder] if folder else [])
            inner_value = "../" + assets.add(src, f"{look.type_id}:{ref.node}.{ref.param}", where, ref.value, allowed)
        paths.set_value(inner, ref.node, ref.param, inner_value)
    out = copy.copy(look)
    assert isinstance(out, Look)
    out.graph = inner
    return out.dumps().encode("utf-8")


def _notes(doc: Any, extra: str) -> str:
    meta = doc.meta if isinstance(doc.meta, dict) else {}
    parts = []
    for key in ("title", "description", "notes"):
        v = meta.get(key)
        if isinstance(v, str) and v.strip():
            parts.append(v.strip())
    if extra.strip():
        parts.append(extra.strip())
    return "\n\n".join(parts) + "\n" if parts else ""


def _safe_ref(ref: str, rewritten: dict[tuple[str, str], str], node: str, param: str) -> str:
    """A model reference as the manifest records it: a name or repo id as is, a path as the
    bundle's graph now names it (never a path of this machine)."""
    if (node, param) in rewritten:
        return rewritten[(node, param)]
    if paths.is_pathlike(ref) or paths.is_absolute(ref):
        return _model_ref(ref)
    return ref


def pack(graph: str | os.PathLike, out: str | os.PathLike, *, notes: str = "",
         output_dir: str | os.PathLike | None = None, registry: Any = None,
         allow_read: Iterable[str | os.PathLike] = (), digests: bool = True) -> PackResult:
    """Write the bundle ``out`` for the graph file ``graph`` (see the module docstring)."""
    from .. import __version__
    from ..embedded import load_graph_and_base
    from ..fileformat import dumps
    from ..policy import Policy, graph_root_for
    from ..usage import usage
    from .thumbnail import thumbnail

    graph = str(graph)
    out = Path(out)
    source = str(out)
    if registry is None:
        from ..looks import with_looks
        from ..registry import default_registry

        registry = with_looks(default_registry(), graph)
    doc, base = load_graph_and_base(graph)
    unknown = sorted({doc.type_of(n) for n in doc.node_ids() if doc.type_of(n) not in registry.specs})
    if unknown:
        raise BundleError(source, f"the graph uses node types that are not installed here ({', '.join(unknown)}); "
                                  "pack needs them to know which files the graph reads")
    policy = Policy(base, graph_root=graph_root_for(graph, base), allow_read=allow_read)
    assets = _Assets(source, policy)
    bundled = doc.copy()
    rewritten: dict[tuple[str, str], str] = {}
    for ref in paths.files(doc, registry, base):
        where = f"node {ref.node!r} param {ref.param!r}"
        if ref.is_model:
            new = _model_ref(ref.value)
        else:
            new = assets.add(Path(os.path.normpath(paths.resolve(ref.value, base))), f"{ref.node}.{ref.param}", where,
                             ref.value)
        rewritten[(ref.node, ref.param)] = new
        paths.set_value(bundled, ref.node, ref.param, new)
    for src, param, value, where in _linked_files(doc, registry):
        new = assets.add(Path(os.path.normpath(paths.resolve(value, base))), f"{src}.{param}", where, value)
        paths.set_value(bundled, src, param, new)

    t0 = time.perf_counter()
    try:
        use = usage(doc, registry, base, digests=digests)
    except NodegraphError as e:
        raise BundleError(source, f"cannot read what the graph uses: {e}") from None
    hash_seconds = time.perf_counter() - t0
    models = []
    for m in use.models:
        rec = m.manifest()
        rec["ref"] = _safe_ref(m.ref, rewritten, m.node, m.param)
        models.append(rec)

    members: dict[str, bytes | Path] = {}
    looks = []
    for look in _looks_used(doc, registry):
        name = f"looks/{look.file_name()}"
        members[name] = _pack_look(look, registry, assets)
        looks.append({"type": look.type_id, "path": name, "origin": look.origin or ""})
    for member, path in assets.sources.items():
        members[member] = path
    graph_name = _member_name(Path(graph).stem) + ".json"
    if graph_name in (MANIFEST,):
        graph_name = "graph.json"
    graph_bytes = dumps(bundled).encode("utf-8")
    members[graph_name] = graph_bytes
    thumb, thumb_from = thumbnail(doc, output_dir)
    members[THUMBNAIL] = thumb
    note_text = _notes(doc, notes)
    if note_text:
        members[NOTES] = note_text.encode("utf-8")

    listed: dict[str, dict] = {}
    for name, data in sorted(members.items()):
        if isinstance(data, Path):
            rec = assets.by_sha[name.split("/")[1]]
            listed[name] = {"sha256": rec["sha256"], "size": rec["size"]}
        else:
            listed[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    meta = doc.meta if isinstance(doc.meta, dict) else {}
    manifest: dict[str, Any] = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "nodegraph_version": __version__,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "title": str(meta.get("title") or Path(graph).stem), "graph": graph_name,
        "graph_sha256": listed[graph_name]["sha256"], "members": listed,
        "assets": sorted(assets.by_sha.values(), key=lambda r: r["path"]), "looks": looks,
        "packs": [p.manifest() for p in use.packs], "models": models,
        "licences": {"summary": use.licence_summary(),
                     "not_commercial": [f"{m.node}: {_safe_ref(m.ref, rewritten, m.node, m.param)}"
                                        for m in use.not_commercial()]},
        "seeds": use.seeds, "thumbnail": THUMBNAIL,
    }
    if note_text:
        manifest["notes"] = NOTES
    _write(out, manifest, members)
    return PackResult(out, manifest, thumb_from, hash_seconds)


def _write(out: Path, manifest: dict, members: dict[str, bytes | Path]) -> None:
    import json

    from ..fsio import open_atomic

    def info(name: str) -> zipfile.ZipInfo:
        zi = zipfile.ZipInfo(name, EPOCH)
        zi.compress_type = zipfile.ZIP_STORED if name.lower().endswith(STORED) else zipfile.ZIP_DEFLATED
        zi.external_attr = (0o100644 & 0xFFFF) << 16  # a regular file, rw-r--r--
        zi.create_system = 3
        return zi

    text = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    with open_atomic(out) as f:
        with zipfile.ZipFile(f, "w", allowZip64=True) as zf:
            zf.writestr(info(MANIFEST), text.encode("utf-8"))
            for name, data in sorted(members.items()):
                if isinstance(data, Path):
                    h = hashlib.sha256()
                    with open(data, "rb") as src, zf.open(info(name), "w", force_zip64=True) as dst:
                        while block := src.read(1 << 20):
                            h.update(block)
                            dst.write(block)
                    if h.hexdigest() != manifest["members"][name]["sha256"]:
                        raise BundleError(str(out), f"{data} changed while it was being packed; pack again")
                else:
                    zf.writestr(info(name), data)


__all__ = ["PackResult", "pack", "STORED"]
