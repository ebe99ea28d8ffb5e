"""Finding a model by its sha256 (as a bundle's manifest records it), wherever this machine keeps it.

Searched, in order: models registered with that sha256 (``models.json``; re-hashed through the
memo, so a registry entry that no longer matches its file is not trusted), the kind's folders under
the model roots, then the Hugging Face cache (each repo snapshot, and the files in it of the
kind's extensions). When the manifest gives the size, only candidates of that size are hashed, so a
search costs a ``stat`` per candidate and hashes only the likely ones; hashes are remembered by
path, size and mtime (``digests``), so the next search is instant.
"""
from __future__ import annotations

import os
from pathlib import Path

from .config import check_kind, read_config
from .digests import path_digest
from .errors import ModelError
from .lookup import EXTRA_EXTS, SAFE_EXTS, WEIGHTS_ONLY_EXTS, ResolvedModel, _local, hf_hub_cache, tree_size
from .registry import scan_roots

_HEX = set("0123456789abcdef")


def _sha_ok(sha256: str) -> str:
    s = (sha256 or "").strip().lower()
    if len(s) != 64 or not set(s) <= _HEX:
        raise ValueError(f"{sha256!r} is not a sha256 (64 hexadecimal digits)")
    return s


def _candidates(kind: str) -> list[tuple[str, Path, str]]:
    """(name, path, how) of every model of ``kind`` this machine has, cheapest places first."""
    out: list[tuple[str, Path, str]] = []
    for name, e in sorted(read_config().get("models", {}).items()):
        if isinstance(e, dict) and e.get("path") and e.get("kind", kind) == kind:
            out.append((name, Path(e["path"]), "registered"))
    for row in scan_roots(kind):
        if row.get("format") != "refused":
            out.append((row["name"], Path(row["path"]), "root"))
    hub = hf_hub_cache()
    exts = SAFE_EXTS + WEIGHTS_ONLY_EXTS.get(kind, ()) + EXTRA_EXTS.get(kind, ())
    if hub.is_dir():
        for repo_dir in sorted(hub.glob("models--*")):
            snaps = repo_dir / "snapshots"
            if not snaps.is_dir():
                continue
            repo = repo_dir.name[len("models--"):].replace("--", "/")
            for snap in sorted(snaps.iterdir()):
                if not snap.is_dir():
                    continue
                out.append((repo, snap, "hub-cache"))
                for dirpath, dirnames, filenames in os.walk(snap):
                    dirnames[:] = [d for d in dirnames if not d.startswith(".")]
                    for f in filenames:
                        if f.lower().endswith(exts):
                            p = Path(dirpath) / f
                            out.append((f"{repo}/{p.relative_to(snap).as_posix()}", p, "hub-cache"))
    return out


def find_by_sha256(sha256: str, kind: str, *, size: int | None = None) -> ResolvedModel | None:
    """The local model of ``kind`` whose sha256 (file, or folder as ``digests`` defines it) is
    ``sha256``, or None. ``size`` (bytes, as the manifest records it) skips candidates of another
    size without hashing them."""
    want = _sha_ok(sha256)
    check_kind(kind)
    seen: set[str] = set()
    for name, path, how in _candidates(kind):
        try:
            real = os.path.realpath(path)
            if real in seen or not os.path.exists(real):
                continue
            seen.add(real)
            if size is not None and tree_size(path) != size:
                continue
            if path_digest(path) != want:
                continue
            found = _local(path, kind, name, how)
        except (OSError, ValueError, ModelError):
            continue
        if how == "hub-cache":
            repo = name.split("/", 2)
            from dataclasses import replace

            found = replace(found, repo_id="/".join(repo[:2]))
        return found
    return None


__all__ = ["find_by_sha256"]
