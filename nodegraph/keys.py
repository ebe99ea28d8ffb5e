"""Cache keys from content, and the reasons a node will run.

key = BLAKE3(type id, node version, determinism, params by name (defaults included), the content
digests of every input value, the content digests of files a reads-files node reads, and for a
node that writes files, the output folder). Layout, labels and notes are not in it, so moving
or renaming a node changes no key; an upstream node that re-ran but produced the same output
gives the same digest, so everything below it is a cache hit (early cutoff).
"""
from __future__ import annotations

import os
import threading
from typing import Any

import blake3
import msgpack

from .graph import Document
from .node import REQUIRED, NodeSpec
from .types import ValueError_

MISSING_FILE = b"\0missing"


class FileDigests:
    """Content digests of input files, memoised by (path, size, mtime, inode) in RAM and in the
    disk cache's index, so an unchanged large file is hashed once, ever."""

    def __init__(self, disk: Any = None):
        self.disk = disk
        self._memo: dict[tuple, bytes] = {}
        self._lock = threading.Lock()

    def digest(self, path: str) -> bytes:
        try:
            st = os.stat(path)
        except OSError:
            return MISSING_FILE + path.encode("utf-8", "surrogateescape")
        if not os.path.isfile(path):
            return MISSING_FILE + path.encode("utf-8", "surrogateescape")
        memo = (path, st.st_size, st.st_mtime_ns, st.st_ino)
        d = self._memo.get(memo)
        if d is None and self.disk is not None:
            d = self.disk.get_file_digest(*memo)
        if d is None:
            h = blake3.blake3()
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            d = h.digest()
            if self.disk is not None:
                self.disk.put_file_digest(*memo, d)
        with self._lock:
            self._memo[memo] = d
        return d


    def model(self, ref: str, kind: str, base_dir: str) -> bytes:
        """The identity of a model reference: the sha256 of the file or folder it resolves to
        (memoised by the model manager), or why it does not resolve (the node then runs and says so)."""
        from .models import ModelError, resolve

        try:
            m = resolve(ref, kind, base_dir)
            return f"{m.format}:{m.digest()}".encode()
        except (ModelError, OSError) as e:
            return MISSING_FILE + str(e).encode("utf-8", "surrogateescape")


def material(doc: Document, nid: str, spec: NodeSpec, out_digests: dict[str, dict[str, bytes]],
             files: FileDigests, base_dir: str, output_dir: str) -> list:
    """What the key of node ``nid`` is made of. ``out_digests[src][port]`` are the digests of
    upstream outputs (already resolved)."""
    rec = doc.node(nid)
    params = rec["params"]
    linked = doc.inputs(nid)
    p_items: list = []
    i_items: list = []
    f_items: list = []
    reads_files = spec.determinism == "reads-files"
    for port in spec.inputs:
        links = linked.get(port.name)
        if links:
            i_items.append([port.name, [out_digests[l.src][l.src_port] for l in links]])
            continue
        if port.variadic:
            continue
        if port.name in params:
            value = params[port.name]
        elif port.default is not REQUIRED:
            value = port.type.vtype.to_json(port.default) if port.default is not None else None
        else:
            value = None
        if reads_files and port.type.id == "path" and isinstance(value, str) and value:
            kind = str(port.type.opts.get("kind") or "")
            if kind.startswith("model:"):  # the reference (the handle records where) and what it names
                p_items.append([port.name, value])
                f_items.append([port.name, files.model(value, kind[6:], base_dir)])
            else:
                path = os.path.join(base_dir, os.path.expanduser(value))
                f_items.append([port.name, files.digest(os.path.normpath(path))])
        else:
            p_items.append([port.name, value])
    return [spec.id, spec.version, spec.determinism, output_dir if spec.output else "", p_items, i_items, f_items,
            spec.code]


def key_of(mat: list) -> bytes:
    return blake3.blake3(msgpack.packb(mat, use_bin_type=True)).digest()


def why_changed(doc: Document, nid: str, old: list | None, new: list) -> str:
    """A user-facing reason a node's key differs from its last run's."""
    if old is None:
        return "not yet computed"
    try:
        o_type, o_ver, _, o_out, o_params, o_inputs, o_files = old[:7]
    except (TypeError, ValueError):
        return "not yet computed"
    n_type, n_ver, _, n_out, n_params, n_inputs, n_files = new[:7]
    if o_type != n_type:
        return f"node type changed ({o_type} -> {n_type})"
    if o_ver != n_ver:
        return f"node version changed ({o_ver} -> {n_ver})"
    reasons = []
    op, np_ = dict(map(tuple, o_params)), dict(map(tuple, n_params))
    changed = sorted(k for k in set(op) | set(np_) if op.get(k) != np_.get(k))
    if changed:
        reasons.append("param " + ", ".join(repr(c) for c in changed) + " changed")
    oi = {a: list(b) for a, b in o_inputs}
    ni = {a: list(b) for a, b in n_inputs}
    ups: list[str] = []
    for port in sorted(set(oi) | set(ni)):
        before, after = oi.get(port), ni.get(port)
        if before == after:
            continue
        links = doc.inputs(nid).get(port, [])
        if before is not None and after is not None and len(before) == len(after) == len(links):
            ups.extend(l.src for l, b, a in zip(links, before, after) if b != a)
        elif links:
            ups.extend(l.src for l in links)
        else:
            ups.append(f"(input {port})")
    if ups:
        reasons.append("upstream " + ", ".join(repr(u) for u in dict.fromkeys(ups)) + " changed")
    of, nf = dict(map(tuple, o_files)), dict(map(tuple, n_files))
    fchanged = sorted(k for k in set(of) | set(nf) if of.get(k) != nf.get(k))
    if fchanged:
        reasons.append("file of " + ", ".join(repr(c) for c in fchanged) + " changed")
    if o_out != n_out:
        reasons.append("output folder changed")
    if (old[7] if len(old) > 7 else "") != (new[7] if len(new) > 7 else ""):
        reasons.append("node code changed")
    return "; ".join(reasons) or "not in the cache (evicted or cleared)"


def check_files_exist(entry_files: list, output_dir: str) -> bool:
    """Whether the files an output node wrote are still there, unchanged (size and mtime)."""
    for item in entry_files:
        try:
            rel, size, mtime = item
            st = os.stat(os.path.join(output_dir, rel))
        except (OSError, ValueError, TypeError):
            return False
        if st.st_size != size or st.st_mtime_ns != mtime:
            return False
    return True


def file_records(paths: list, output_dir: str) -> list:
    out = []
    for p in paths:
        try:
            st = os.stat(p)
        except OSError:
            raise ValueError_(f"the node reported writing {p}, which does not exist") from None
        out.append([os.path.relpath(p, output_dir), st.st_size, st.st_mtime_ns])
    return out
