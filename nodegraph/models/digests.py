"""sha256 of model files and folders, streamed, with a memo keyed by (path, size, mtime_ns).

The memo lives in ``<config dir>/digests.json`` so a 7 GB checkpoint is hashed once, not at every
run; a file whose size or mtime changed is hashed again. A folder's digest is the sha256 of
``relative/path\\0<file sha256>\\n`` lines over its files sorted by relative path (hidden files and
folders, such as ``.cache/`` left by ``hf download --local-dir``, are skipped).
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

from .config import config_dir, write_json_atomic
from .errors import DigestMismatch, ModelNotFound

MEMO_FILE = "digests.json"
CHUNK = 4 << 20
_lock = threading.RLock()


def hash_file(path: Path) -> str:
    """Plain streaming sha256 of one file (no memo)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


class DigestMemo:
    """``{abs path: {"size", "mtime_ns", "sha256"}}`` persisted as JSON; thread-safe."""

    def __init__(self, path: Path):
        self.path = path
        self._data: dict[str, dict] | None = None

    def _load(self) -> dict[str, dict]:
        if self._data is None:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                self._data = data if isinstance(data, dict) else {}
            except (OSError, ValueError):
                self._data = {}                     # a missing or damaged memo only costs re-hashing
        return self._data

    def file_digest(self, path: Path, use_memo: bool = True) -> tuple[str, bool]:
        """``(sha256, changed)``: changed when the memo was updated."""
        key = str(path.resolve())
        st = path.stat()
        with _lock:
            entry = self._load().get(key)
            if use_memo and isinstance(entry, dict) and entry.get("size") == st.st_size \
                    and entry.get("mtime_ns") == st.st_mtime_ns and isinstance(entry.get("sha256"), str):
                return entry["sha256"], False
        digest = hash_file(path)
        with _lock:
            self._load()[key] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
        return digest, True

    def save(self) -> None:
        with _lock:
            if self._data is None:
                return
            data = {k: v for k, v in self._data.items() if len(self._data) < 5000 or os.path.exists(k)}
            try:
                write_json_atomic(self.path, data)
            except OSError:
                pass                                 # a read-only config folder: memo stays in memory


_memos: dict[Path, DigestMemo] = {}


def memo() -> DigestMemo:
    """The memo of the current config folder (one per folder per process)."""
    p = config_dir() / MEMO_FILE
    with _lock:
        if p not in _memos:
            _memos[p] = DigestMemo(p)
        return _memos[p]


def _files(folder: Path) -> list[tuple[str, Path]]:
    out = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for f in filenames:
            if not f.startswith("."):
                p = Path(dirpath) / f
                out.append((p.relative_to(folder).as_posix(), p))
    return sorted(out)


def file_digest(path: str | os.PathLike, use_memo: bool = True) -> str:
    path = Path(path)
    if not path.is_file():
        raise ModelNotFound(f"{path}: no such file")
    m = memo()
    digest, changed = m.file_digest(path, use_memo)
    if changed:
        m.save()
    return digest


def folder_digest(path: str | os.PathLike, use_memo: bool = True) -> str:
    path = Path(path)
    if not path.is_dir():
        raise ModelNotFound(f"{path}: no such folder")
    m = memo()
    h = hashlib.sha256()
    any_changed = False
    for rel, p in _files(path):
        digest, changed = m.file_digest(p, use_memo)
        any_changed |= changed
        h.update(rel.encode("utf-8") + b"\0" + digest.encode("ascii") + b"\n")
    if any_changed:
        m.save()
    return h.hexdigest()


def path_digest(path: str | os.PathLike, use_memo: bool = True) -> str:
    """sha256 of a file, or of a folder as described in the module docstring."""
    path = Path(path)
    if path.is_dir():
        return folder_digest(path, use_memo)
    return file_digest(path, use_memo)


def verify(path: str | os.PathLike, expected: str | None = None) -> str:
    """Hash ``path`` again from its bytes (the memo is refreshed, not trusted); raise on a mismatch."""
    actual = path_digest(path, use_memo=False)
    if expected and actual != expected.lower():
        raise DigestMismatch(str(path), expected.lower(), actual)
    return actual
