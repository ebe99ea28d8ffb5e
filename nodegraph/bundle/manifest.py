"""A bundle's ``manifest.json``: what it holds and what running it needs, and its checks.

::

    {"format": "nodegraph-bundle", "format_version": 1,
     "nodegraph_version": "0.9.0", "created": "2026-12-08T00:20:00Z",
     "title": "Talking character", "graph": "talking_character.json", "graph_sha256": "…",
     "members": {"assets/<sha256>/body.png": {"sha256": "…", "size": 123}, …},
     "assets": [{"path": "assets/<sha256>/body.png", "name": "body.png", "sha256": "…", "size": 123,
                 "used_by": ["mira_body.path"]}],
     "looks": [{"type": "look:studio/noir@1.0.0", "path": "looks/studio.noir-1.0.0.look.json"}],
     "packs": [{"name": "nodegraph", "distribution": "nodegraph", "version": "0.9.0",
                "namespaces": ["core", …], "licence": "GPL-3.0-or-later"}],
     "models": [{"node": "dub", "type": "voiceclone.xtts", "param": "model", "kind": "audio",
                 "ref": "xtts_v2", "sha256": "…", "size": 1870000000, "source": "coqui/XTTS-v2",
                 "licence": {"id": "cpml", "commercial": "no", …}}],
     "licences": {"summary": "commercial use: no (cpml)"},
     "seeds": [{"node": "music", "param": "seed", "value": 7}],
     "thumbnail": "thumbnail.png", "notes": "notes.txt"}

``members`` lists every member but the manifest itself; unpacking refuses a member not listed
there, a listed one that is missing, and one whose bytes do not hash to what is listed.
"""
from __future__ import annotations

import re
from typing import Any

from ..errors import NodegraphError

FORMAT = "nodegraph-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SUFFIX = ".ngpack"
THUMBNAIL = "thumbnail.png"
NOTES = "notes.txt"
#: the largest manifest read (bytes)
MAX_MANIFEST = 16 * 1024 * 1024
SHA256 = re.compile(r"^[0-9a-f]{64}\Z")


class BundleError(NodegraphError):
    """A bundle that cannot be written or is refused; the message names the bundle, the member
    and the rule."""

    def __init__(self, bundle: str, message: str):
        self.bundle, self.detail = str(bundle), message
        super().__init__(f"{self.bundle}: {message}")


def _fail(source: str, where: str, message: str) -> BundleError:
    return BundleError(source, f"{MANIFEST}: {where} {message}")


def _str(source: str, d: dict, key: str, where: str, *, required: bool = True) -> str:
    v = d.get(key)
    if v is None and not required:
        return ""
    if not isinstance(v, str):
        raise _fail(source, f"{where}{key!r}", f"must be text, got {type(v).__name__}")
    return v


def _sha(source: str, v: Any, where: str) -> str:
    if not (isinstance(v, str) and SHA256.match(v)):
        raise _fail(source, where, "must be a sha256 (64 lowercase hexadecimal digits)")
    return v


def _size(source: str, v: Any, where: str) -> int:
    if not (isinstance(v, int) and not isinstance(v, bool) and v >= 0):
        raise _fail(source, where, "must be a whole number of bytes >= 0")
    return v


def _list_of_dicts(source: str, data: dict, key: str) -> list[dict]:
    v = data.get(key, [])
    if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
        raise _fail(source, repr(key), "must be a list of objects")
    return v


def check(data: Any, source: str) -> dict:
    """``data`` (parsed JSON) if it is a manifest this nodegraph reads, else ``BundleError``
    naming the key at fault. A format version from the future is refused with what to do."""
    if not isinstance(data, dict):
        raise BundleError(source, f"{MANIFEST} must be a JSON object, got {type(data).__name__}")
    if data.get("format") != FORMAT:
        raise _fail(source, "'format'", f"must be {FORMAT!r}: this is not a nodegraph bundle")
    version = data.get("format_version")
    if not (isinstance(version, int) and not isinstance(version, bool) and version >= 1):
        raise _fail(source, "'format_version'", "must be a whole number >= 1")
    if version > FORMAT_VERSION:
        made = data.get("nodegraph_version")
        by = f" by nodegraph {made}" if isinstance(made, str) else ""
        raise BundleError(source, f"bundle format version {version} (made{by}) is newer than this nodegraph reads "
                                  f"(up to {FORMAT_VERSION}); upgrade nodegraph to unpack it")
    for key in ("nodegraph_version", "created", "graph"):
        _str(source, data, key, "")
    _sha(source, data.get("graph_sha256"), "'graph_sha256'")
    members = data.get("members")
    if not isinstance(members, dict) or not members:
        raise _fail(source, "'members'", "must be an object naming every member")
    for name, rec in members.items():
        where = f"'members'[{name!r}]"
        if not isinstance(rec, dict):
            raise _fail(source, where, "must be an object with sha256 and size")
        _sha(source, rec.get("sha256"), where + "['sha256']")
        _size(source, rec.get("size"), where + "['size']")
    graph = data["graph"]
    if graph not in members or "/" in graph or not graph.endswith(".json") or graph == MANIFEST:
        raise _fail(source, "'graph'", f"{graph!r} must name a top-level .json member listed in 'members'")
    if members[graph]["sha256"] != data["graph_sha256"]:
        raise _fail(source, "'graph_sha256'", "differs from the graph's entry in 'members'")
    for key in ("thumbnail", "notes"):
        v = _str(source, data, key, "", required=False)
        if v and v not in members:
            raise _fail(source, repr(key), f"{v!r} is not listed in 'members'")
    for i, rec in enumerate(_list_of_dicts(source, data, "assets")):
        path = _str(source, rec, "path", f"'assets'[{i}]")
        if path not in members:
            raise _fail(source, f"'assets'[{i}]['path']", f"{path!r} is not listed in 'members'")
    for i, rec in enumerate(_list_of_dicts(source, data, "looks")):
        _str(source, rec, "type", f"'looks'[{i}]")
        path = _str(source, rec, "path", f"'looks'[{i}]")
        if path not in members:
            raise _fail(source, f"'looks'[{i}]['path']", f"{path!r} is not listed in 'members'")
    for i, rec in enumerate(_list_of_dicts(source, data, "packs")):
        for key in ("name", "distribution", "version"):
            _str(source, rec, key, f"'packs'[{i}]")
        ns = rec.get("namespaces", [])
        if not (isinstance(ns, list) and all(isinstance(n, str) for n in ns)):
            raise _fail(source, f"'packs'[{i}]['namespaces']", "must be a list of names")
    for i, rec in enumerate(_list_of_dicts(source, data, "models")):
        for key in ("node", "param", "kind", "ref"):
            _str(source, rec, key, f"'models'[{i}]")
        if "sha256" in rec:
            _sha(source, rec["sha256"], f"'models'[{i}]['sha256']")
        if "size" in rec:
            _size(source, rec["size"], f"'models'[{i}]['size']")
        _str(source, rec, "source", f"'models'[{i}]", required=False)
        lic = rec.get("licence", {})
        if not isinstance(lic, dict):
            raise _fail(source, f"'models'[{i}]['licence']", "must be an object")
    lic = data.get("licences", {})
    if not isinstance(lic, dict):
        raise _fail(source, "'licences'", "must be an object")
    return data


def licence_line(rec: dict) -> str:
    """A model entry's licence for people: ``cpml (commercial use: no)``."""
    lic = rec.get("licence") if isinstance(rec.get("licence"), dict) else {}
    ident = lic.get("id") if isinstance(lic.get("id"), str) else "unknown"
    verdict = lic.get("commercial") if isinstance(lic.get("commercial"), str) else "unknown"
    return f"{ident} (commercial use: {verdict})"


__all__ = ["FORMAT", "FORMAT_VERSION", "MANIFEST", "SUFFIX", "THUMBNAIL", "NOTES", "MAX_MANIFEST", "BundleError",
           "check", "licence_line"]
