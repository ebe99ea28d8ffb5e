"""Cache keys from content, and the one decision: does this node compute, and why.

A node's key is the BLAKE3 of its ``KeyMaterial``: node type and version, the code that computes
it (``nodegraph.codeid``: its function and the modules of its own pack it calls, or a declared
``code_version``), the pack's version, determinism, params by name (defaults included), the
content digests of every input value, the content digests of the files a reads-files node reads,
the output ports it promises, and for a node that writes files, the output folder. Layout, labels
and notes are not in it, so moving or renaming a node changes no key; an upstream node that re-ran
but produced the same output gives the same digest, so everything below it is a cache hit (early
cutoff). A cache hit is an exact match of the whole record (as in Bazel's action cache).

``decide`` is the only place that says whether a node computes. ``Evaluator.run`` calls it as
nodes become ready, ``Evaluator.explain`` calls it before anything runs; they cannot disagree.
"""
from __future__ import annotations

import os
import threading
from typing import Any, Callable, NamedTuple

import blake3
import msgpack

from .graph import Document
from .node import NodeSpec
from .types import ValueError_

MISSING_FILE = b"\0missing"
_local = threading.local()


def _pack(obj: Any) -> bytes:
    """msgpack with one packer per thread (no per-call setup; a packer is not thread-safe)."""
    packer = getattr(_local, "packer", None)
    if packer is None:
        packer = _local.packer = msgpack.Packer(use_bin_type=True)
    return packer.pack(obj)
_NONE = object()
WIRE = 3  # the layout of ``KeyMaterial.wire()`` (the history of older layouts reads as unknown)


class KeyMaterial:
    """Everything that determines a node's result (its key is the digest of this record), plus
    its pin, which is not part of the key but decides whether the key is looked up at all.

    Immutable by contract (nothing assigns to a record once made); a plain class with slots
    rather than a frozen dataclass, whose checked assignments cost a microsecond per node (a
    fifth of the engine's whole overhead on a cheap node). Equal records compare and hash equal."""

    __slots__ = ("type", "version", "code", "pack", "determinism", "output_dir", "params", "inputs", "files",
                 "outputs", "pin", "_key")
    type: str
    version: str
    code: str
    pack: str
    determinism: str
    output_dir: str
    params: tuple  # ((name, JSON value), ...) in port order
    inputs: tuple  # ((port, (upstream digest, ...)), ...) for linked ports
    files: tuple  # ((port, content digest of what the path names), ...)
    outputs: tuple  # the output port names the result must hold
    pin: tuple | None  # ((output, digest hex), ...) of a pinned result

    def __init__(self, type: str, version: str, code: str, pack: str, determinism: str, output_dir: str,
                 params: tuple, inputs: tuple, files: tuple, outputs: tuple, pin: tuple | None = None) -> None:
        self.type, self.version, self.code, self.pack, self.determinism = type, version, code, pack, determinism
        self.output_dir, self.params, self.inputs, self.files, self.outputs = output_dir, params, inputs, files, outputs
        self.pin = pin
        self._key: bytes | None = None

    def _fields(self) -> tuple:
        return (self.type, self.version, self.code, self.pack, self.determinism, self.output_dir, self.params,
                self.inputs, self.files, self.outputs, self.pin)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        names = self.__slots__[:-1]
        return "KeyMaterial(" + ", ".join(f"{n}={v!r}" for n, v in zip(names, self._fields())) + ")"

    def key(self) -> bytes:
        k = self._key
        if k is None:
            k = self._key = blake3.blake3(_pack(
                (self.type, self.version, self.code, self.pack, self.determinism, self.output_dir, self.params,
                 self.inputs, self.files, self.outputs))).digest()
        return k

    def wire(self) -> list:
        """The record as plain data (kept in the cache's history, so ``explain`` in a later process
        can say what changed)."""
        return [WIRE, self.type, self.version, self.code, self.pack, self.determinism, self.output_dir,
                self.params, self.inputs, self.files, self.outputs]

    @staticmethod
    def from_wire(data: Any) -> "KeyMaterial | None":
        if not isinstance(data, (list, tuple)) or len(data) != 11 or data[0] != WIRE:
            return None
        try:
            _, t, v, code, pack, det, out, params, inputs, files, outputs = data
            return KeyMaterial(t, v, code, pack, det, out, _tup(params), _tup(inputs), _tup(files), _tup(outputs))
        except (TypeError, ValueError):
            return None

    def own(self) -> "KeyMaterial":
        """The record without input digests: what a node's own edits change."""
        return KeyMaterial(self.type, self.version, self.code, self.pack, self.determinism, self.output_dir,
                           self.params, tuple((p, ()) for p, _ in self.inputs), self.files, self.outputs)


def _tup(x: Any) -> Any:
    return tuple(_tup(i) for i in x) if isinstance(x, (list, tuple)) else x


class FileDigests:
    """Content digests of input files, memoised by (path, size, mtime, inode) in RAM and in the
    cache's metadata, so an unchanged large file is hashed once, ever."""

    def __init__(self, cache: Any = None, pins: Any = None):
        self.cache = cache
        self.pins = pins  # nodegraph.models.pins.ModelPins: a model found only by its pinned sha256
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
        if d is None and self.cache is not None:
            d = self.cache.get_file_digest(*memo)
        if d is None:
            h = blake3.blake3()
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            d = h.digest()
            if self.cache is not None:
                self.cache.put_file_digest(*memo, d)
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
            found = self.pins.find(ref, kind) if self.pins else None
            if found is not None:
                return f"{found.format}:{found.digest()}".encode()
            return MISSING_FILE + str(e).encode("utf-8", "surrogateescape")


def material(doc: Document, nid: str, spec: NodeSpec, upstream: Callable[[str, str], bytes | None],
             files: FileDigests, base_dir: str, output_dir: str, code: str) -> KeyMaterial:
    """The key material of node ``nid``; ``upstream(src, port)`` gives an upstream output's digest
    (None while that output is not known: then the record is only good for ``decide``'s "maybe")."""
    rec = doc.g._node[nid]
    params = rec["params"]
    linked = doc.inputs(nid)
    p_items: list = []
    i_items: list = []
    f_items: list = []
    reads_files = spec.determinism == "reads-files"
    for port in spec.inputs:
        name = port.name
        links = linked.get(name) if linked else None
        if links:
            i_items.append((name, tuple([upstream(l.src, l.src_port) for l in links])))
            continue
        if port.variadic:
            continue
        value = params.get(name, _NONE)
        if value is _NONE:
            value = port.default_json
        elif isinstance(value, list):
            value = _tup(value)
        if reads_files and isinstance(value, str) and value and port.type.id == "path":
            kind = str(port.type.opts.get("kind") or "")
            if kind.startswith("model:"):  # the reference (the handle records where) and what it names
                p_items.append((name, value))
                f_items.append((name, files.model(value, kind[6:], base_dir)))
            else:
                path = os.path.join(base_dir, os.path.expanduser(value))
                f_items.append((name, files.digest(os.path.normpath(path))))
        else:
            p_items.append((name, value))
    pin = rec.get("pinned")
    return KeyMaterial(spec.id, spec.version, code, spec.pack_label, spec.determinism,
                       output_dir if spec.output else "", tuple(p_items), tuple(i_items), tuple(f_items),
                       spec.output_names, tuple(sorted(pin.items())) if pin else None)


# -- the decision ------------------------------------------------------------------------------
class Decision(NamedTuple):
    """verdict: "yes" (computes), "no" (its result is known: cached or pinned), or "maybe" (an
    upstream node computes first; if its output is unchanged this node is a cache hit). A named
    tuple: one is made per node decided, and a frozen dataclass costs four times as much to make."""

    verdict: str
    reason: str
    digests: dict | None = None  # the output digests when they are known ("no")
    files: list | None = None  # files an output node wrote (cached)
    failed: str = ""  # "no" that is a failure: the pinned result is gone


def forced(spec: NodeSpec, policy: str, use_cache: bool) -> str | None:
    """Why a node computes whatever the cache holds, or None."""
    if not use_cache:
        return "cache disabled"
    if policy == "always":
        return "always recompute (cache policy)"
    if policy == "never":
        return "never cached (cache policy)"
    if spec.determinism == "nondeterministic":
        return "nondeterministic (pin a result to keep it)"
    return None


def decide(spec: NodeSpec, mat: KeyMaterial, *, policy: str, use_cache: bool, cache: Any, output_dir: str,
           unknown: tuple | list = (), previous: Callable[[], KeyMaterial | None] | None = None,
           doc: Document | None = None, nid: str = "") -> Decision:
    """Does this node compute, and why. ``unknown`` names the upstream nodes whose outputs are not
    known yet (their digests in ``mat`` are None): only ``explain`` asks then. ``previous()`` gives
    the node's key material at its last run, to say what changed.

    In order: a pinned result is used (or, gone from the cache, the node fails until unpinned); a
    cache policy, nondeterminism or a disabled cache make it compute; an upstream that is still to
    compute makes it "maybe"; else the key is looked up: a hit whose outputs are all there (and,
    for a node that writes files, whose files are unchanged) is "no", anything else is "yes"."""
    if mat.pin:
        pin = dict(mat.pin)
        digests = {}
        for name in mat.outputs:
            if not isinstance(pin.get(name), str):
                return Decision("no", "pinned", failed=f"pinned result has no output {name!r}; unpin the node")
            digests[name] = bytes.fromhex(pin[name])
        missing = [n for n, d in digests.items() if not cache.has_value(d)]
        if missing:
            return Decision("no", "pinned", failed=(
                f"pinned result of output {missing[0]!r} is not in the cache (cleared, or pinned on another "
                "machine); unpin the node to recompute it"))
        return Decision("no", "pinned", digests)
    reason = forced(spec, policy, use_cache)
    if reason is not None:
        return Decision("yes", reason)
    if unknown:
        ups = ", ".join(repr(u) for u in unknown)
        old = previous() if previous is not None else None
        own = ""
        if old is not None:
            old_own, new_own = old.own(), mat.own()
            if old_own.key() != new_own.key():
                own = why_changed(doc, nid, old_own, new_own)
        if old is None:
            return Decision("maybe", f"not yet computed (unless upstream {ups}, which run first, reproduce "
                                     "a result already cached)")
        if own:
            return Decision("maybe", f"{own}, and upstream {ups} will re-run: whether the result is "
                                     "already cached is known only then")
        return Decision("maybe", f"upstream {ups} will re-run; if its output is unchanged this node stays cached")
    entry = cache.get_action(mat.key())
    if entry is not None and set(entry["outputs"]) == set(mat.outputs):
        if not spec.output or check_files_exist(entry["files"], output_dir):
            return Decision("no", "cached", entry["outputs"],
                            [os.path.join(output_dir, f[0]) for f in entry["files"]] if spec.output else [])
        return Decision("yes", "its output files were deleted or changed")
    old = previous() if previous is not None else None
    if old is not None and old.key() == mat.key():
        return Decision("yes", "not in the cache (evicted or cleared)")
    return Decision("yes", why_changed(doc, nid, old, mat))


def why_changed(doc: Document | None, nid: str, old: KeyMaterial | None, new: KeyMaterial) -> str:
    """A user-facing reason a node's key differs from its last run's (each part of the record is
    compared whole first: most are unchanged)."""
    if old is None:
        return "not yet computed"
    if old.type != new.type:
        return f"node type changed ({old.type} -> {new.type})"
    if old.version != new.version:
        return f"node version changed ({old.version} -> {new.version})"
    reasons = []
    changed = _changed(old.params, new.params)
    if changed:
        reasons.append("param " + ", ".join(repr(c) for c in changed) + " changed")
    if old.inputs != new.inputs:
        oi, ni = dict(old.inputs), dict(new.inputs)
        ups: list[str] = []
        for port in sorted(set(oi) | set(ni)):
            before, after = oi.get(port), ni.get(port)
            if before == after:
                continue
            links = doc.inputs(nid).get(port, []) if doc is not None else []
            if before is not None and after is not None and len(before) == len(after) == len(links):
                ups.extend(l.src for l, b, a in zip(links, before, after) if b != a)
            elif links:
                ups.extend(l.src for l in links)
            else:
                ups.append(f"(input {port})")
        if ups:
            reasons.append("upstream " + ", ".join(repr(u) for u in dict.fromkeys(ups)) + " changed")
    changed = _changed(old.files, new.files)
    if changed:
        reasons.append("file of " + ", ".join(repr(c) for c in changed) + " changed")
    if old.output_dir != new.output_dir:
        reasons.append("output folder changed")
    if old.code != new.code:
        reasons.append("bypassed" if new.code == "bypass" else "bypass turned off" if old.code == "bypass"
                       else "node code changed")
    if old.pack != new.pack:
        reasons.append(f"pack version changed ({old.pack or '?'} -> {new.pack or '?'})")
    if old.outputs != new.outputs or old.determinism != new.determinism:
        reasons.append("node declaration changed")
    return "; ".join(reasons) or "not in the cache (evicted or cleared)"


def _changed(old: tuple, new: tuple) -> list[str]:
    """The names whose values differ between two ((name, value), ...) records."""
    if old == new:
        return []
    a, b = dict(old), dict(new)
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


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
