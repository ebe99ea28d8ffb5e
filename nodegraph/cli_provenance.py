"""``nodegraph provenance FILE [--json]``: how a file nodegraph wrote was made.

Prints the provenance record the file carries (``nodegraph.provenance``: graph hash and title,
nodegraph version, output node, models with sha256, source and licence, seeds, node packs, Looks,
the licence summary, whether a generative model made the content), whether the graph the file
embeds still matches the recorded hash, and, when the file has content credentials (a C2PA
manifest, ``nodegraph.credentials``: ``nodegraph run --sign``), the manifest's state. Any other
file with nodegraph's content credentials (a text or subtitle file with its ``FILE.c2pa``) is
read through them: the manifest holds the same record. Exit status 0 when the file carries a
record, 1 when it carries none or cannot be read (the message names the file).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .embedded import MEDIA_WITH_GRAPHS, MEDIA_WITH_PROVENANCE, read_embedded_graph, read_provenance
from .errors import GraphFileError


def _manifest(path: str) -> dict | None:
    """The file's C2PA manifest as ``nodegraph.credentials.read_manifest`` reads it (embedded, or
    the ``FILE.c2pa`` beside it), ``{"error": ...}`` when it cannot be read, None when there is none."""
    try:
        from .credentials import read_manifest
    except ImportError:  # content credentials are not part of this installation
        return None
    try:
        return read_manifest(path) or None
    except Exception as e:  # a damaged manifest is worth saying, not a crash
        return {"error": str(e)}


def _credentials(info: dict | None) -> dict | None:
    """What ``nodegraph provenance`` shows of a manifest."""
    if not info:
        return None
    return {k: info.get(k) for k in ("error", "validation_state", "failures", "signature", "ai_generated",
                                     "digital_source_type", "claim_generator", "sidecar", "trusted") if k in info}


def _describe_credentials(c: dict) -> str:
    if "error" in c:
        return f"content credentials (C2PA): cannot be read: {c['error']}"
    sig = c.get("signature") or {}
    who = sig.get("common_name") or sig.get("issuer") or "unknown signer"
    state = c.get("validation_state") or "unknown"
    failures = c.get("failures") or []
    text = f"content credentials (C2PA): {state}, signed by {who}"
    if sig.get("time"):
        text += f" at {sig['time']}"
    if c.get("trusted") is False:  # intact, but nobody this reader trusts vouches for the signer
        text += " (untrusted signer: no trust list vouches for it, as for a `nodegraph keys new` test identity)"
    if failures:
        text += "; problems: " + ", ".join(str(f.get("code", f)) if isinstance(f, dict) else str(f) for f in failures)
    if c.get("record_matches") is False:
        text += "\n  WARNING: the signed manifest holds another provenance record than the file's metadata"
    return text


def cmd_provenance(args: argparse.Namespace) -> int:
    from .provenance import describe, graph_sha256

    path = args.file
    info = None
    if path.lower().endswith(MEDIA_WITH_PROVENANCE):
        record = read_provenance(path)  # GraphFileError names the file
    else:  # another kind of output (a subtitle or text file): its content credentials hold the record
        if not Path(path).is_file():
            raise GraphFileError(path, "no such file")
        info = _manifest(path)
        record = info.get("record") if info and isinstance(info.get("record"), dict) else None
        if record is None:
            raise GraphFileError(path, "nodegraph reads provenance from PNG, MP4, M4V, MOV, FLAC, WAV and OTIO files, "
                                       "and from files with nodegraph's content credentials (FILE.c2pa); this one has "
                                       "neither")
    graph = None
    if path.lower().endswith(MEDIA_WITH_GRAPHS):
        try:
            found = read_embedded_graph(path)
        except Exception:
            found = None
        graph = found[0] if found else None
    info = info if info is not None else _manifest(path)
    creds = _credentials(info)
    if creds is not None and "error" not in creds and record is not None:  # the signed copy says the same?
        creds["record_matches"] = info.get("record") == record
    if record is None:
        print(f"{path}: carries no nodegraph provenance record (written with --no-embed, by an older "
              f"nodegraph, or not by nodegraph)", file=sys.stderr)
        if creds:
            print(_describe_credentials(creds), file=sys.stderr)
        return 1
    if args.json:
        out = {"file": path, "record": record}
        if graph is not None:
            out["graph_matches"] = graph_sha256(graph) == (record.get("graph") or {}).get("sha256")
        if creds is not None:
            out["credentials"] = creds
        print(json.dumps(out, indent=2, sort_keys=True))
        return 0
    print(f"{path}")
    print(describe(record, graph_text=graph))
    if creds is not None:
        print(_describe_credentials(creds))
    return 0


def add_cli(sub) -> None:
    pv = sub.add_parser("provenance", help="how a PNG, MP4, FLAC, WAV or OTIO file nodegraph wrote was made",
                        description="Print the provenance record the file carries: graph hash, nodegraph version, "
                                    "models with sha256 and licence, seeds, node packs and the licence summary, "
                                    "and the state of its content credentials (C2PA) when it has them.")
    pv.add_argument("file", metavar="FILE", help="a PNG, MP4/M4V/MOV, FLAC, WAV or OTIO file nodegraph wrote (or "
                                                 "any output signed with --sign)")
    pv.add_argument("--json", action="store_true", help="print the record as JSON")
    pv.set_defaults(fn=cmd_provenance)


__all__ = ["add_cli", "cmd_provenance"]
