"""``nodegraph pack`` and ``nodegraph unpack``: a graph, its files, its Looks and what it needs, in
one ``.ngpack`` file (``nodegraph.bundle``).

Exit status of ``unpack``: 0 unpacked and ready to run, 3 unpacked but a node pack or a model is
missing (the report says which), 1 refused (nothing written into DIR).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from .errors import NodegraphError


def _size(n: int) -> str:
    from .cache import format_size

    return format_size(n)


def cmd_pack(args: argparse.Namespace) -> int:
    from .bundle import SUFFIX, pack

    out = Path(args.output) if args.output else Path(Path(args.graph).stem + SUFFIX)
    if out.exists() and not args.force:
        raise NodegraphError(f"{out} already exists (use --force to replace it)")
    if args.thumbnail_from and not Path(args.thumbnail_from).is_dir():
        raise NodegraphError(f"--output {args.thumbnail_from}: no such folder")
    r = pack(args.graph, out, notes=args.notes or "", output_dir=args.thumbnail_from,
             allow_read=args.allow_read or ())
    m = r.manifest
    total = sum(v["size"] for v in m["members"].values())
    print(f"wrote {out} ({_size(out.stat().st_size)}; {len(m['members'])} files, {_size(total)} unpacked)")
    print(f"  graph {m['graph']}, {len(m['assets'])} asset file(s), {len(m['looks'])} Look(s), "
          f"thumbnail from {'a drawing of the graph' if r.thumbnail_from == 'drawing' else r.thumbnail_from}")
    packs = ", ".join(sorted({f"{p['distribution']} {p['version']}" for p in m["packs"]}))
    print(f"  node packs: {packs or 'none'}")
    for rec in m["models"]:
        sha = rec.get("sha256", "")
        print(f"  model {rec['node']}.{rec['param']}: {rec['ref']} ({rec['kind']})"
              + (f" sha256 {sha[:16]}" if sha else " (not on this machine: no sha256 recorded)"))
    if m["models"]:
        print(f"  models hashed in {r.model_hash_seconds:.1f} s (hashes are remembered)")
    print(f"  licences: {m['licences']['summary']}")
    return 0


def _print_report(report, as_json: bool, head: str) -> None:
    if as_json:
        print(json.dumps(report.to_json(), indent=2, sort_keys=True))
        return
    print(head)
    print("\n".join(report.lines()))


def cmd_unpack(args: argparse.Namespace) -> int:
    from .bundle import check, inspect, unpack
    from .bundle.report import EXIT_MISSING

    if args.list:
        manifest = inspect(args.bundle)
        report = check(manifest, None)
        if args.json:
            data = report.to_json()
            data["members"] = manifest["members"]
            print(json.dumps(data, indent=2, sort_keys=True))
        else:
            _print_report(report, False, f"{args.bundle}: checked, nothing written")
            print("members:")
            for name, rec in sorted(manifest["members"].items()):
                print(f"  {rec['size']:>12}  {rec['sha256'][:16]}  {name}")
        return 0 if report.ready else EXIT_MISSING
    if not args.dir:
        raise NodegraphError("unpack: give the folder to unpack into (nodegraph unpack BUNDLE DIR), or --list")
    done = unpack(args.bundle, args.dir, force=args.force)
    report = check(done.manifest, done.dest)
    _print_report(report, args.json, f"unpacked {args.bundle} into {done.dest} ({len(done.files)} files)")
    return 0 if report.ready else EXIT_MISSING


def add_cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pack", help="write a graph, the files it reads, its Looks and what it needs into one .ngpack file",
                       description="Write GRAPH into one bundle: the graph (its file paths pointing at the packed "
                                   "files), every file it reads stored by content hash, the Looks it uses, a "
                                   "thumbnail, notes and a manifest (node packs and versions, models with sha256, "
                                   "size, source and licence). Models are recorded, never packed.")
    p.add_argument("graph", help="graph file (.json), or a PNG/MP4/FLAC nodegraph made")
    p.add_argument("-o", dest="output", metavar="FILE.ngpack", help="the bundle to write (default: GRAPH.ngpack here)")
    p.add_argument("--notes", metavar="TEXT",
                   help="notes for whoever unpacks it (notes.txt holds the graph's title and description, then these)")
    p.add_argument("--output", dest="thumbnail_from", metavar="DIR",
                   help="the graph's output folder: its newest PNG or MP4 gives the thumbnail (default: a drawing "
                        "of the graph)")
    p.add_argument("--force", action="store_true", help="replace an existing bundle")
    p.add_argument("--allow-read", action="append", metavar="DIR",
                   help="let files in DIR be packed too (repeatable); by default only files the graph may read are")
    p.set_defaults(fn=cmd_pack)

    u = sub.add_parser("unpack", help="check a .ngpack bundle, unpack it into a folder and say what is missing to run it",
                       description="Check BUNDLE whole (names, file types, sizes, compression, hashes, manifest, "
                                   "graph) and only then write it into DIR; print which node packs (with their pip "
                                   "names) and models (with source and sha256) this machine lacks. Exit status: 0 "
                                   "ready to run, 3 something is missing, 1 refused (nothing written).")
    u.add_argument("bundle", metavar="BUNDLE.ngpack")
    u.add_argument("dir", nargs="?", metavar="DIR", help="the folder to unpack into (new, or empty)")
    u.add_argument("--force", action="store_true", help="unpack into a folder that is not empty (replacing files of "
                                                         "the same names)")
    u.add_argument("--list", action="store_true", help="check the bundle and print its manifest and report; write "
                                                       "nothing")
    u.add_argument("--json", action="store_true", help="print the report as JSON")
    u.set_defaults(fn=cmd_unpack)


__all__ = ["add_cli", "cmd_pack", "cmd_unpack"]
