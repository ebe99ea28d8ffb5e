"""Registered models (``models.json`` ``"models"``) and what the roots contain."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from .config import KIND_FOLDERS, _lock, check_kind, kind_folders, model_roots, read_config, write_config
from .digests import path_digest, verify
from .errors import DigestMismatch, ModelError
from .lookup import (EXTRA_EXTS, PICKLE_EXTS, SAFE_EXTS, WEIGHTS_ONLY_EXTS,
                      looks_like_path, resolve, tree_size)


def add(path_or_repo: str, kind: str, name: str | None = None, base_dir: str | os.PathLike | None = None,
        *, replace: bool = True, licence: str | None = None) -> dict:
    """Register a local file/folder or a repo id under ``name``; records sha256, size, kind, format and,
    when given, the licence id (``nodegraph.models.licences``).

    A repo id must be present locally (HF cache) for a sha256 to be recorded; online, an uncached
    repo id is recorded without one (the node downloads it on first use).
    """
    check_kind(kind)
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    r = resolve(path_or_repo, kind, base)
    name = (name or (r.repo_id if r.repo_id and not looks_like_path(path_or_repo, base) else r.name)).strip()
    if not name or name.startswith(".") or "\\" in name:
        raise ModelError(f"{name!r} is not a usable model name")
    entry: dict = {"kind": kind, "format": r.format, "size": r.size, "added": int(time.time())}
    if r.repo_id and r.found_by in ("hub", "hub-cache"):
        entry["repo_id"] = r.repo_id
    else:
        entry["path"] = str(r.path)
    entry["sha256"] = path_digest(r.path) if r.path is not None else None
    if licence is not None and licence.strip():
        from .licences import licence as licence_of

        entry["licence"] = licence_of(licence).id
    with _lock:
        data = read_config()
        old = data["models"].get(name)
        if old and not replace and (old.get("path"), old.get("repo_id")) != (entry.get("path"), entry.get("repo_id")):
            raise ModelError(f"a model named {name!r} is already registered ({old.get('path') or old.get('repo_id')}); "
                             f"choose another --name")
        if "licence" not in entry and old and old.get("licence") and \
                (old.get("path"), old.get("repo_id")) == (entry.get("path"), entry.get("repo_id")):
            entry["licence"] = old["licence"]  # adding the same model again keeps what was recorded
        data["models"][name] = entry
        write_config(data)
    return {"name": name, **entry}


def remove(name: str) -> None:
    with _lock:
        data = read_config()
        if name not in data["models"]:
            raise ModelError(f"no registered model named {name!r}")
        del data["models"][name]
        write_config(data)


def scan_roots(kind: str | None = None, roots: list[Path] | None = None) -> list[dict]:
    """Models found in the roots' kind folders (files at any depth; model folders as one unit)."""
    roots = model_roots() if roots is None else roots
    out = []
    for k in ([check_kind(kind)] if kind else list(KIND_FOLDERS)):
        exts = SAFE_EXTS + WEIGHTS_ONLY_EXTS.get(k, ()) + EXTRA_EXTS.get(k, ())
        for folder in kind_folders(k, roots):
            for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
                d = Path(dirpath)
                if d != folder and ((d / "model_index.json").is_file() or (d / "config.json").is_file()):
                    fmt = "diffusers" if (d / "model_index.json").is_file() else "transformers"
                    out.append(_scanned(k, d.relative_to(folder).as_posix(), d, fmt, tree_size(d)))
                    dirnames[:] = []
                    continue
                dirnames[:] = sorted(x for x in dirnames if not x.startswith("."))
                for f in sorted(filenames):
                    p = d / f
                    ext = p.suffix.lower()
                    rel = p.relative_to(folder).as_posix()
                    if ext in exts:
                        out.append(_scanned(k, rel[: -len(ext)] if ext in SAFE_EXTS else rel, p, "single_file",
                                            p.stat().st_size))
                    elif ext in PICKLE_EXTS:
                        out.append(_scanned(k, rel, p, "refused", p.stat().st_size,
                                            note="pickled checkpoint: not loaded for safety"))
    return out


def _scanned(kind: str, name: str, path: Path, fmt: str, size: int, note: str = "") -> dict:
    d = {"name": name, "kind": kind, "path": str(path), "format": fmt, "size": size, "source": "root"}
    if note:
        d["note"] = note
    return d


def list_models(kind: str | None = None) -> list[dict]:
    """Registered models (``source: registered``) then what the roots contain (``source: root``)."""
    out = []
    for name, e in sorted(read_config()["models"].items()):
        if isinstance(e, dict) and (kind is None or e.get("kind") == kind):
            out.append({"name": name, **e, "source": "registered"})
    return out + scan_roots(kind)


@dataclass
class VerifyResult:
    name: str
    target: str
    expected: str | None
    actual: str | None
    ok: bool
    error: str = ""


def verify_all(names: list[str] | None = None) -> list[VerifyResult]:
    """Re-hash registered models (all, or ``names``) and compare with the recorded sha256."""
    models = read_config()["models"]
    unknown = [n for n in names or [] if n not in models]
    if unknown:
        raise ModelError(f"no registered model named {', '.join(map(repr, unknown))} "
                         f"(registered: {', '.join(sorted(models)) or 'none'})")
    results = []
    for name in names or sorted(models):
        e = models[name]
        target = e.get("path") or e.get("repo_id") or ""
        expected = e.get("sha256")
        try:
            path = Path(e["path"]) if e.get("path") else resolve(name, e.get("kind", "checkpoints")).path
            if path is None:
                results.append(VerifyResult(name, target, expected, None, False, "not downloaded yet"))
                continue
            actual = verify(path, expected)
            results.append(VerifyResult(name, target, expected, actual, True))
            if not expected:                          # e.g. a repo id added before it was downloaded
                _record_sha(name, actual)
                results[-1].error = "sha256 recorded now"
        except DigestMismatch as err:
            results.append(VerifyResult(name, target, err.expected, err.actual, False, "sha256 mismatch"))
        except ModelError as err:
            results.append(VerifyResult(name, target, expected, None, False, str(err)))
    return results


def _record_sha(name: str, sha: str) -> None:
    with _lock:
        data = read_config()
        if name in data["models"]:
            data["models"][name]["sha256"] = sha
            write_config(data)
