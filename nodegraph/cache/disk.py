"""The persistent tier: a content-addressed blob store plus an SQLite index.

    <root>/index.sqlite     actions: key -> output digests (+ files written, compute time)
                            blobs:   digest -> type, size, checksum, last use, pinned
                            history: (graph, node) -> last key material (for ``explain``)
    <root>/blobs/ab/<digest>.blob   header (magic, msgpack meta) + payload (raw array bytes)

Blobs are written to a temp file and renamed into place, then indexed, so a reader never sees a
partial blob. Every read checks the blob's BLAKE3 checksum; a corrupt, truncated or missing
blob is deleted from the index and reported as absent, so the caller recomputes it. An index
that cannot be opened is moved aside and rebuilt. Values whose type is not persistent (model
handles) are never written here.
"""
from __future__ import annotations

import mmap
import os
import sqlite3
import struct
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import blake3
import msgpack

from ..fsio import open_atomic
from ..types import TYPES, find_type
from .writer import BatchWriter

MAGIC = b"NGB1"
SCHEMA = 2
INLINE_MAX = 32 * 1024  # smaller values live in the index itself: no file per tiny value
#: a result that took longer than this (seconds) is committed before the node counts as finished,
#: so a crash right after (a native library's segfault, the OOM killer) loses nothing expensive;
#: cheaper ones are committed in batches (a crash loses at most a few milliseconds of work)
DURABLE_SECONDS = 0.005


class DiskTier:
    def __init__(self, root: str | os.PathLike, max_bytes: int = 20 * 1024**3):
        self.root = Path(root)
        self.max_bytes = int(max_bytes)
        self.blob_dir = self.root / "blobs"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self.db = self._open()
        self._touched_blobs: set[bytes] = set()
        self._touched_actions: set[bytes] = set()
        self.corrupt_found = 0
        # write-behind (see writer.py): what is queued is answered from here until committed
        self._plock = threading.Lock()
        self._pending_values: dict[bytes, tuple[Any, str | None]] = {}
        self._pending_actions: dict[bytes, dict] = {}
        self._writer = BatchWriter(self._commit)
        self._wdb: sqlite3.Connection | None = None

    # -- index -------------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        path = self.root / "index.sqlite"
        for attempt in range(2):
            try:
                db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if version not in (0, SCHEMA):
                    raise sqlite3.DatabaseError(f"index schema {version} is not {SCHEMA}")
                db.executescript("""
                    CREATE TABLE IF NOT EXISTS actions (
                        key BLOB PRIMARY KEY, node_type TEXT, outputs BLOB NOT NULL,
                        files BLOB, seconds REAL, created REAL, used REAL);
                    CREATE TABLE IF NOT EXISTS blobs (
                        digest BLOB PRIMARY KEY, type TEXT NOT NULL, size INTEGER NOT NULL,
                        checksum BLOB NOT NULL, used REAL, pinned INTEGER DEFAULT 0, data BLOB);
                    CREATE TABLE IF NOT EXISTS history (
                        graph TEXT, node TEXT, material BLOB, key BLOB, at REAL,
                        PRIMARY KEY (graph, node));
                    CREATE TABLE IF NOT EXISTS files (
                        path TEXT PRIMARY KEY, size INTEGER, mtime INTEGER, inode INTEGER, digest BLOB);
                    CREATE TABLE IF NOT EXISTS code (name TEXT PRIMARY KEY, sources BLOB, identity TEXT);
                    CREATE INDEX IF NOT EXISTS blobs_used ON blobs (pinned, used);
                """)
                db.execute(f"PRAGMA user_version={SCHEMA}")
                db.execute("SELECT count(*) FROM actions").fetchone()
                return db
            except sqlite3.DatabaseError:
                if attempt:
                    raise
                try:
                    db.close()
                except Exception:
                    pass
                stamp = time.strftime("%Y%m%d-%H%M%S")
                for suffix in ("", "-wal", "-shm"):
                    p = Path(str(path) + suffix)
                    if p.exists():
                        p.replace(p.with_name(f"{p.name}.corrupt-{stamp}"))
        raise AssertionError("unreachable")

    def _exec(self, sql: str, args: tuple = ()) -> list:
        with self._lock:
            return self.db.execute(sql, args).fetchall()

    # -- actions -----------------------------------------------------------------------------
    def get_action(self, key: bytes) -> dict | None:
        pending = self._pending_actions.get(key)
        if pending is not None:
            return pending
        rows = self._exec("SELECT outputs, files, seconds FROM actions WHERE key=?", (key,))
        if not rows:
            return None
        try:
            outputs = msgpack.unpackb(rows[0][0], raw=False)
            files = msgpack.unpackb(rows[0][1], raw=False) if rows[0][1] else []
            if not isinstance(outputs, dict) or not all(
                    isinstance(k, str) and isinstance(v, bytes) and len(v) == 32 for k, v in outputs.items()):
                raise ValueError("bad outputs")
            if not isinstance(files, list):
                raise ValueError("bad files")
        except Exception:  # a truncated or garbled entry: forget it, the node will recompute
            self.corrupt_found += 1
            self._exec("DELETE FROM actions WHERE key=?", (key,))
            return None
        self._touched_actions.add(key)
        return {"outputs": outputs, "files": files, "seconds": rows[0][2] or 0.0}

    def put_action(self, key: bytes, node_type: str, entry: dict) -> None:
        now = time.time()
        self._exec("INSERT OR REPLACE INTO actions VALUES (?,?,?,?,?,?,?)",
                   (key, node_type, msgpack.packb(entry["outputs"], use_bin_type=True),
                    msgpack.packb(entry["files"], use_bin_type=True), entry["seconds"], now, now))

    def forget_action(self, key: bytes) -> None:
        self._writer.flush()
        self._exec("DELETE FROM actions WHERE key=?", (key,))

    # -- blobs -------------------------------------------------------------------------------
    def blob_path(self, digest: bytes) -> Path:
        h = digest.hex()
        return self.blob_dir / h[:2] / f"{h}.blob"

    def has(self, digest: bytes) -> bool:
        return digest in self._pending_values or self._stored(digest)

    contains = has

    def _stored(self, digest: bytes) -> bool:
        return bool(self._exec("SELECT 1 FROM blobs WHERE digest=?", (digest,)))

    def put(self, digest: bytes, value: Any, type_id: str | None = None) -> bool:
        """Store a value under its content digest (queued, see writer.py); False if its type is
        not persistent."""
        t = TYPES.get(type_id) if type_id else find_type(value)
        if t is None or not t.can_persist(value):
            return False
        with self._plock:
            self._pending_values[digest] = (value, t.id)
        self._writer.submit((digest, value, t.id))
        return True

    def put_result(self, key: bytes, node_type: str, values: dict[bytes, tuple[Any, str]], entry: dict) -> None:
        """A node's output values and its action entry, committed together (values first; queued,
        see writer.py)."""
        with self._plock:
            for digest, (value, type_id) in values.items():
                self._pending_values[digest] = (value, type_id)
            self._pending_actions[key] = entry
        self._writer.submit((key, node_type, values, entry))
        if entry["seconds"] >= DURABLE_SECONDS:  # worth keeping through a crash: wait for the commit
            self._writer.flush()

    def _commit(self, batch: list) -> None:
        """One transaction for a batch of queued values and results (in the writer's thread)."""
        blobs: list = []
        actions: list = []
        now = time.time()
        for item in batch:
            if len(item) == 3:  # a value
                digest, value, type_id = item
                row = self._prepare(digest, value, type_id)
                if row not in (None, True):
                    blobs.append(row)
                continue
            key, node_type, values, entry = item
            blobs += [r for r in (self._prepare(d, v, t) for d, (v, t) in values.items()) if r not in (None, True)]
            actions.append((key, node_type, msgpack.packb(entry["outputs"], use_bin_type=True),
                            msgpack.packb(entry["files"], use_bin_type=True), entry["seconds"], now, now))
        try:
            if self._wdb is None:  # the writer's own connection: readers never wait for its commits (WAL)
                self._wdb = sqlite3.connect(self.root / "index.sqlite", isolation_level=None, timeout=30,
                                            check_same_thread=False)
                self._wdb.execute("PRAGMA synchronous=NORMAL")
            db = self._wdb
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("INSERT OR REPLACE INTO blobs VALUES (?,?,?,?,?,0,?)", blobs)
                db.executemany("INSERT OR REPLACE INTO actions VALUES (?,?,?,?,?,?,?)", actions)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        finally:
            with self._plock:  # committed, or dropped: either way no longer pending
                for item in batch:
                    if len(item) == 3:
                        self._pending_values.pop(item[0], None)
                    else:
                        self._pending_actions.pop(item[0], None)
                        for d in item[2]:
                            self._pending_values.pop(d, None)

    def flush(self) -> None:
        """Commit everything queued, and the last-use times of what was read. A batch that could not
        be written (a full disk, a read-only folder) is said once, as a warning: the results stay in
        RAM for this process and are computed again by the next one."""
        self._writer.flush()
        error, self._writer.error = self._writer.error, ""
        if error:
            warnings.warn(f"nodegraph cache {self.root}: results could not be stored ({error}); "
                          "they are kept in memory for this process only", RuntimeWarning, stacklevel=2)
        self.flush_usage()

    def _prepare(self, digest: bytes, value: Any, type_id: str | None) -> tuple | bool | None:
        """Encode a value: small ones become a row to insert, large ones a verified file first.
        None: not persistent; True: already stored."""
        t = TYPES[type_id] if type_id else find_type(value)
        if t is None or not t.can_persist(value):
            return None
        enc = t.encode(value)
        header = msgpack.packb({"type": t.id, "meta": enc.meta, "size": enc.size}, use_bin_type=True)
        head = MAGIC + struct.pack("<I", len(header)) + header
        if len(head) + enc.size <= INLINE_MAX:  # a row (written again if already there: cheaper than asking)
            data = head + b"".join(bytes(c) for c in enc.chunks)
            if len(data) != len(head) + enc.size:
                raise ValueError(f"{t.id} encoder wrote {len(data) - len(head)} bytes, announced {enc.size}")
            return (digest, t.id, len(data), blake3.blake3(data).digest(), time.time(), data)
        if self._stored(digest):  # a file: never written twice
            return True
        path = self.blob_path(digest)
        if not path.parent.is_dir():
            path.parent.mkdir(parents=True, exist_ok=True)
        h = blake3.blake3()
        # the project's atomic writer without fsync: a blob torn by a power cut fails its checksum
        # when read and is recomputed, and an fsync would cost about 5 ms per blob
        with open_atomic(path, sync=False) as f:
            f.write(head)
            h.update(head)
            written = 0
            for chunk in enc.chunks:
                f.write(chunk)
                h.update(chunk)
                written += len(chunk) if isinstance(chunk, (bytes, bytearray)) else memoryview(chunk).nbytes
            if written != enc.size:
                raise ValueError(f"{t.id} encoder wrote {written} bytes, announced {enc.size}")
        return (digest, t.id, len(head) + enc.size, h.digest(), time.time(), None)

    def get(self, digest: bytes) -> Any | None:
        """The value stored under ``digest``, or None if absent or corrupt (then it is removed)."""
        pending = self._pending_values.get(digest)
        if pending is not None:
            return pending[0]
        try:
            rows = self._exec("SELECT type, size, checksum, data FROM blobs WHERE digest=?", (digest,))
        except sqlite3.Error:  # a garbled row (say, text where bytes belong)
            self.corrupt_found += 1
            self.discard(digest)
            return None
        if not rows:
            return None
        type_id, size, checksum, inline = rows[0]
        path = self.blob_path(digest)
        try:
            if inline is not None:
                if len(inline) != size:
                    raise ValueError("size differs from the index")
                view = memoryview(inline)
            else:
                with open(path, "rb") as f:
                    if os.fstat(f.fileno()).st_size != size:
                        raise ValueError("size differs from the index")
                    mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
                view = memoryview(mm)
            if blake3.blake3(view, max_threads=blake3.blake3.AUTO if size > 8 << 20 else 1).digest() != checksum:
                raise ValueError("checksum mismatch")
            if bytes(view[:4]) != MAGIC:
                raise ValueError("bad magic")
            (hlen,) = struct.unpack("<I", view[4:8])
            header = msgpack.unpackb(view[8:8 + hlen], raw=False)
            if header.get("type") != type_id:
                raise ValueError("type differs from the index")
            payload = view[8 + hlen:]
            value = TYPES[type_id].decode(header["meta"], payload)
        except (OSError, ValueError, KeyError, struct.error, msgpack.UnpackException, TypeError):
            self.corrupt_found += 1
            self.discard(digest)
            return None
        self._touched_blobs.add(digest)
        return value

    def discard(self, digest: bytes) -> None:
        self._writer.flush()
        self._exec("DELETE FROM blobs WHERE digest=?", (digest,))
        try:
            self.blob_path(digest).unlink()
        except FileNotFoundError:
            pass

    def evict(self, digest: bytes) -> None:
        self.discard(digest)

    def pin(self, digest: bytes, pinned: bool = True) -> None:
        self._exec("UPDATE blobs SET pinned=? WHERE digest=?", (1 if pinned else 0, digest))

    # -- digests of input files (path+size+mtime memo, so unchanged big files are not re-hashed)
    def get_file_digest(self, path: str, size: int, mtime: int, inode: int) -> bytes | None:
        rows = self._exec("SELECT digest FROM files WHERE path=? AND size=? AND mtime=? AND inode=?",
                          (path, size, mtime, inode))
        return rows[0][0] if rows else None

    def put_file_digest(self, path: str, size: int, mtime: int, inode: int, digest: bytes) -> None:
        self._exec("INSERT OR REPLACE INTO files VALUES (?,?,?,?,?)", (path, size, mtime, inode, digest))

    # -- history (for explain) ---------------------------------------------------------------
    def get_history(self, graph: str) -> dict[str, tuple[Any, bytes]]:
        """node -> (its last key material, its key), for every node of one graph (one query)."""
        out = {}
        for node, material, key in self._exec("SELECT node, material, key FROM history WHERE graph=?", (graph,)):
            try:
                out[node] = (msgpack.unpackb(material, raw=False), key)
            except Exception:  # garbled: as if never recorded
                continue
        return out

    def put_history(self, graph: str, entries: list[tuple[str, Any, bytes]]) -> None:
        now = time.time()
        with self._lock:
            self.db.execute("BEGIN")
            try:
                self.db.executemany("INSERT OR REPLACE INTO history VALUES (?,?,?,?,?)",
                                    [(graph, n, msgpack.packb(m, use_bin_type=True), k, now) for n, m, k in entries])
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    # -- code identities (see nodegraph.codeid: valid while the sources they list are unchanged)
    def get_code(self, name: str) -> tuple[list, str] | None:
        rows = self._exec("SELECT sources, identity FROM code WHERE name=?", (name,))
        if not rows:
            return None
        try:
            sources = msgpack.unpackb(rows[0][0], raw=False)
            return (sources, rows[0][1]) if isinstance(sources, list) and isinstance(rows[0][1], str) else None
        except Exception:
            return None

    def put_code(self, name: str, sources: list, identity: str) -> None:
        self._exec("INSERT OR REPLACE INTO code VALUES (?,?,?)", (name, msgpack.packb(sources, use_bin_type=True), identity))

    # -- housekeeping ------------------------------------------------------------------------
    def flush_usage(self) -> None:
        """Record last-use times of what this process read (batched: hits stay cheap)."""
        now = time.time()
        with self._lock:
            blobs, actions = list(self._touched_blobs), list(self._touched_actions)
            self._touched_blobs.clear()
            self._touched_actions.clear()
            if not blobs and not actions:
                return
            self.db.execute("BEGIN")
            self.db.executemany("UPDATE blobs SET used=? WHERE digest=?", [(now, d) for d in blobs])
            self.db.executemany("UPDATE actions SET used=? WHERE key=?", [(now, k) for k in actions])
            self.db.execute("COMMIT")

    def info(self) -> dict:
        self._writer.flush()
        (n_actions,) = self._exec("SELECT count(*) FROM actions")[0]
        n_blobs, size, pinned = self._exec("SELECT count(*), coalesce(sum(size),0), coalesce(sum(pinned),0) FROM blobs")[0]
        return {"root": str(self.root), "actions": n_actions, "blobs": n_blobs, "bytes": size,
                "pinned": pinned, "max_bytes": self.max_bytes}

    def gc(self, max_bytes: int | None = None) -> dict:
        """Evict least-recently-used unpinned blobs until the store fits ``max_bytes``; remove
        stray temp files and blob files the index does not know."""
        self.flush()
        budget = self.max_bytes if max_bytes is None else int(max_bytes)
        (total,) = self._exec("SELECT coalesce(sum(size),0) FROM blobs")[0]
        evicted = freed = 0
        if total > budget:
            for digest, size in self._exec("SELECT digest, size FROM blobs WHERE pinned=0 ORDER BY used ASC"):
                if total <= budget:
                    break
                self.discard(digest)
                total -= size
                freed += size
                evicted += 1
        known = {r[0].hex() for r in self._exec("SELECT digest FROM blobs WHERE data IS NULL")}
        strays = 0
        for sub in self.blob_dir.iterdir() if self.blob_dir.exists() else []:
            for f in sub.iterdir() if sub.is_dir() else []:
                stale_tmp = f.name.endswith(".tmp") and time.time() - f.stat().st_mtime > 3600
                unknown = f.name.endswith(".blob") and f.name[:-5] not in known
                if stale_tmp or unknown:
                    f.unlink(missing_ok=True)
                    strays += 1
        return {"evicted": evicted, "freed_bytes": freed, "strays_removed": strays, "bytes": total}

    def clear(self) -> None:
        self._writer.flush()
        with self._lock:
            self.db.executescript("DELETE FROM actions; DELETE FROM blobs; DELETE FROM history; DELETE FROM files; "
                                  "DELETE FROM code;")
        for sub in self.blob_dir.iterdir():
            if sub.is_dir():
                for f in sub.iterdir():
                    f.unlink(missing_ok=True)

    def close(self) -> None:
        try:
            self._writer.close()
            self.flush_usage()
        finally:
            if self._wdb is not None:
                self._wdb.close()
            self.db.close()
