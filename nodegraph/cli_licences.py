"""``nodegraph licences GRAPH``: the models, node packs and Looks a render of a graph uses, with
their licences and whether commercial use is allowed; and the ``--commercial`` check of
``nodegraph run``. Thin: the work is in ``nodegraph.usage`` and ``nodegraph.models.licences``."""
from __future__ import annotations

import argparse
import json
import textwrap

from .errors import NodegraphError

VERDICT = {"yes": "commercial use allowed", "no": "NON-COMMERCIAL", "conditional": "commercial use under conditions",
           "unknown": "LICENCE UNKNOWN"}


def graph_usage(args: argparse.Namespace, digests: bool = False, pins=None):
    """(usage, doc, base) of ``args.graph`` with ``--set`` applied; ``pins``: the model pins a run
    of it finds models with (default: the bundle manifest beside it)."""
    from .cli_common import _registry, apply_sets
    from .embedded import load_graph_and_base
    from .models.pins import ModelPins
    from .usage import usage

    registry = _registry(args.graph)
    doc, base = load_graph_and_base(args.graph)
    apply_sets(doc, getattr(args, "set", None) or [], registry)
    return usage(doc, registry, base, digests=digests, targets=getattr(args, "target", None) or None,
                 pins=(pins if pins is not None else ModelPins.beside(args.graph)) or None), doc, base


def check_commercial(args: argparse.Namespace) -> list[str]:
    """``run --commercial``: raise naming every node whose model may not be used commercially (or
    whose licence is unknown); return the conditions of the models allowed under conditions."""
    from .usage import commercial_check

    u = graph_usage(args)[0]
    refusals, conditions = commercial_check(u)
    if refusals:
        raise NodegraphError(f"--commercial: {args.graph} uses {len(refusals)} model(s) that may not be used "
                             "commercially; nothing was run:\n  " + "\n  ".join(refusals))
    return conditions


def cmd_licences(args: argparse.Namespace) -> int:
    from .cli_describe import width as cli_width

    u, doc, _ = graph_usage(args)
    if args.json:
        print(json.dumps({"graph": args.graph, "models": [dict(m.manifest(), found=m.found) for m in u.models],
                          "packs": [p.manifest() for p in u.packs], "looks": u.looks,
                          "summary": u.licence_summary()}, indent=2))
        return 0
    width = max(60, min(cli_width(), 100))
    wrap = lambda text, indent: textwrap.fill(text, width, initial_indent=indent, subsequent_indent=indent)  # noqa: E731
    print(f"What a render of {args.graph} uses")
    print()
    if u.models:
        print(f"Models ({len(u.models)})")
        for m in u.models:
            print(f"  {m.node} ({m.type}) {m.param}: {m.ref}")
            lic = m.licence
            head = lic.licence.name if lic.licence.id != "unknown" else "unknown licence"
            how = f", from its {lic.how}" if lic.how else ""
            print(wrap(f"{head}: {VERDICT[lic.commercial]}{how}", "      "))
            if lic.looks_like:
                print(wrap(f"looks like {lic.looks_like}", "      "))
            if lic.licence.conditions:
                print(wrap(lic.licence.conditions, "      "))
            elif lic.note and lic.commercial == "unknown":
                print(wrap(lic.note, "      "))
            where = "on this machine" if m.found else "not on this machine"
            print(wrap(f"{where}" + (f"; source: {m.source}" if m.source else ""), "      "))
    else:
        print("Models: none (nothing to download, nothing under a model licence)")
    print()
    print("Node packs")
    for p in u.packs:
        lic = p.licence or "no licence declared"
        ver = f" {p.version}" if p.version else " (not installed)"
        print(wrap(f"{p.distribution or p.name}{ver}: {lic} ({', '.join(sorted(p.namespaces))})", "  "))
    if u.looks:
        print()
        print("Looks: " + ", ".join(t[5:] for t in u.looks))
    print()
    print(u.licence_summary())
    return 0


def add_cli(sub) -> None:
    lc = sub.add_parser("licences", aliases=["licenses"],
                        help="the models, node packs and Looks a render of a graph uses, with their licences",
                        description="List what a render of GRAPH uses (models with their licence and whether "
                                    "commercial use is allowed, node packs with their licence, Looks), without "
                                    "running it. An unknown licence is shown as unknown, never as allowed. "
                                    "`nodegraph run --commercial` refuses a graph with a non-commercial or unknown one.")
    lc.add_argument("graph", help="graph file (.json), or a PNG/MP4/FLAC that nodegraph made")
    lc.add_argument("--set", action="append", metavar="NODE.PARAM=VALUE", help="as for run")
    lc.add_argument("--target", action="append", metavar="NODE[.PORT]", help="as for run")
    lc.add_argument("--json", action="store_true", help="print JSON")
    lc.set_defaults(fn=cmd_licences)


def verify_graph(graph: str, manifest: str | None = None, as_json: bool = False) -> int:
    """``nodegraph models verify GRAPH``: every model a render uses, found and hashed from its bytes."""
    from .models.byhash import find_by_sha256
    from .models.digests import verify
    from .models.errors import DigestMismatch, ModelError

    from .models.pins import ModelPins

    beside = ModelPins.beside(graph)  # what a run of the graph finds models with
    try:
        expected = ModelPins.read(manifest) if manifest else beside
    except ValueError as e:
        raise NodegraphError(str(e)) from None
    mpath = expected.source
    u = graph_usage(argparse.Namespace(graph=graph, set=None, target=None), pins=beside)[0]
    rows, bad = [], 0
    for m in u.models:
        want_rec = expected.records.get((m.node, m.param), {})
        want = want_rec.get("sha256") if isinstance(want_rec.get("sha256"), str) else None
        want = want or m.recorded_sha256
        row = {"node": m.node, "param": m.param, "ref": m.ref, "kind": m.kind, "expected": want,
               "licence": m.licence.licence.id}
        if m.path is None:
            row["status"], row["detail"] = "missing", m.error
            if want:
                try:
                    found = find_by_sha256(want, m.kind, size=want_rec.get("size") if isinstance(want_rec.get("size"), int) else None)
                except ValueError:
                    found = None
                if found is not None:
                    row["status"] = "elsewhere"
                    row["detail"] = (f"not found as {m.ref!r}, but the same bytes are at {found.path}; register them "
                                     f"with `nodegraph models add {found.path} --kind {m.kind} --name {m.ref}`")
            if row["status"] == "missing" and (m.source or want):
                row["detail"] = f"get it from {m.source or 'its maker'}" + (f" (sha256 {want})" if want else "")
        else:
            try:
                row["actual"] = verify(m.path, want)
                row["status"] = "ok" if want else "unpinned"
                if m.found_by == "sha256":
                    row["detail"] = f"not found as {m.ref!r}; a run uses the same bytes, found by their sha256 at {m.path}"
                if not want:
                    row["detail"] = "no sha256 to compare with (no manifest and not registered); hashed now"
            except DigestMismatch as e:
                row["status"], row["actual"] = "differs", e.actual
                row["detail"] = f"{m.path} has sha256 {e.actual}, expected {want}"
            except (ModelError, OSError) as e:
                row["status"], row["detail"] = "unreadable", str(e)
        bad += row["status"] in ("missing", "differs", "unreadable", "elsewhere")
        rows.append(row)
    if as_json:
        print(json.dumps({"graph": graph, "manifest": mpath or None, "models": rows, "ok": not bad}, indent=2))
    else:
        if mpath:
            print(f"expected sha256s from {mpath}")
        if not rows:
            print(f"{graph}: a render uses no models")
        for r in rows:
            print(f"{r['status']:<10} {r['node']}.{r['param']}  {r['ref']}  ({r['kind']}, {r['licence']})")
            if r.get("actual") and r["status"] == "ok":
                print(f"           sha256 {r['actual']}")
            if r.get("detail"):
                print(f"           {r['detail']}")
    if bad:
        raise NodegraphError(f"{bad} of {len(rows)} model(s) of {graph} are missing or differ")
    return 0
