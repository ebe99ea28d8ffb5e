"""``nodegraph walkthrough GRAPH -o walk.html``: run a graph (with the cache) and write its
walkthrough, one self-contained HTML page with a section per node in execution order
(``nodegraph.walkthrough``)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def cmd_walkthrough(args: argparse.Namespace) -> int:
    from .cli import _registry, apply_sets, make_evaluator, open_cache
    from .embedded import load_graph_and_base
    from .progress import RunProgress
    from .walkthrough import execution_order, export_html, result_values

    registry = _registry()
    doc, args.base_dir = load_graph_and_base(args.graph)
    apply_sets(doc, args.set or [], registry)
    ev = make_evaluator(args, registry, open_cache(args))
    try:
        ev.check(doc, args.graph)
        with RunProgress(enabled=not args.quiet) as progress:
            result = ev.run(doc, None, on_event=progress.on_event, cancel=progress.cancel)
        if result.cancelled:
            print("error: cancelled", file=sys.stderr)
            return 130
        order = execution_order(ev, doc)
        html = Path(args.html) if args.html else Path(f"{Path(args.graph).stem}-walkthrough.html")
        out = export_html(html, doc, registry, order, result_values(result, doc), args.title, Path(args.graph).name)
    finally:
        ev.close()
    failed = [r for r in result.nodes.values() if r.status == "failed"]
    for r in failed:
        print(f"error: node {r.node!r} ({r.type}) failed: {r.error} (its section says so)", file=sys.stderr)
    print(f"wrote {out}: {len(order)} steps, {result.count('computed')} computed, {result.count('cached')} cached, "
          f"{len(failed)} failed")
    return 1 if failed else 0


def add_cli(sub: argparse._SubParsersAction) -> None:
    from .cli import _cache_args, _policy_args

    w = sub.add_parser("walkthrough", help="run a graph and write its walkthrough as one HTML page",
                       description="Run the graph (cached results are reused) and write one self-contained HTML "
                                   "page: a section per node in execution order with its note, settings, inputs "
                                   "and a preview of its output. Students open it in any browser.")
    w.add_argument("graph", help="graph file (.json), or a PNG/MP4/FLAC that nodegraph made")
    w.add_argument("-o", "--html", metavar="FILE.html", help="the page to write (default: GRAPH-walkthrough.html here)")
    w.add_argument("--output-dir", dest="output", default="output", metavar="DIR",
                   help="folder for the files the graph writes (default: ./output)")
    w.add_argument("--title", help="the page's title (default: 'Walkthrough: ' and the graph's title)")
    w.add_argument("--set", action="append", metavar="NODE.PARAM=VALUE", help="override a param (repeatable)")
    w.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    w.add_argument("--workers", type=int, metavar="N", help="as for run")
    _cache_args(w)
    _policy_args(w)
    w.set_defaults(fn=cmd_walkthrough)


__all__ = ["add_cli", "cmd_walkthrough"]
