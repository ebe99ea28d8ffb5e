"""``nodegraph diff A B`` (what changed between two graphs) and ``nodegraph history GRAPH`` (the
versions the editor kept of a graph file). Thin: the work is in ``nodegraph.diff`` and
``nodegraph.history``."""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from .errors import NodegraphError, format_error
from .graph import Document

DIFF_HELP = """\
Compare two graphs and print what changed from A to B, one line per change:
  + node blur (image.blur)            a node added (- removed)
  ~ blur.radius: 2 -> 4               a param changed ("(default)": not set in the file)
  + link blur.image -> save.image     a link added (- removed, ~ re-linked)
Layout changes (node positions, sizes, colours) are listed only with --layout.

A and B are graph files, PNG/MP4/FLAC files nodegraph made (the graph they carry), or a version
the editor kept of a graph file: GRAPH@ID, with ID a version id (at least 4 of its hex digits;
`nodegraph history GRAPH` lists them).

Exit status (as diff(1)): 0 when no change is listed, 1 when some are, 2 on an error (a file
that cannot be read: the message names it).
"""
VERSION_REF = re.compile(r"^(?P<path>.+)@(?P<id>[0-9a-fA-F]{4,64})\Z")


def _registry(graph: str | None):
    """The installed node types (for their params' defaults) and the Looks the graph can use;
    None when the packs cannot be loaded (the diff then compares what the files hold)."""
    try:
        from .looks import with_looks
        from .registry import default_registry

        return with_looks(default_registry(), graph)
    except Exception:
        return None


def load_side(ref: str) -> tuple[Document, str | None]:
    """A graph from a file, a nodegraph PNG/MP4/FLAC, or ``GRAPH@ID`` (a kept version); and the
    graph file it belongs to (for its Looks), when there is one."""
    from .embedded import load_graph
    from .history import GraphHistory

    p = Path(ref)
    m = VERSION_REF.match(ref)
    if m and not p.exists() and Path(m["path"]).is_file():
        graph = m["path"]
        return GraphHistory(graph).read(m["id"]), graph
    doc = load_graph(ref)  # GraphFileError naming the file: missing, not JSON, not a graph, ...
    return doc, ref if p.suffix.lower() == ".json" else None


def cmd_diff(args: argparse.Namespace) -> int:
    from .diff import diff, format_text, summary, to_json

    try:
        old, ga = load_side(args.a)
        new, gb = load_side(args.b)
        registry = None if args.no_defaults else _registry(gb or ga)
        changes = diff(old, new, registry, layout=args.layout)
    except (NodegraphError, OSError) as e:
        print(f"error: {e if isinstance(e, NodegraphError) else format_error(e)}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"a": args.a, "b": args.b, "equal": not changes, "summary": summary(changes),
                          "changes": to_json(changes)}, indent=2, ensure_ascii=False))
    else:
        text = format_text(changes)
        if text:
            print(text)
        if not args.layout and not args.quiet:
            hidden = diff(old, new, registry, layout=True)
            moved = len({(c.node, c.group) for c in hidden if c.layout})
            if moved:
                print(f"({moved} {'node' if moved == 1 else 'nodes'} moved or restyled: --layout lists it)", file=sys.stderr)
    return 1 if changes else 0


def cmd_history(args: argparse.Namespace) -> int:
    from .history import GraphHistory

    h = GraphHistory(args.graph)
    if not Path(args.graph).exists() and not h.folder.exists():
        raise NodegraphError(f"{args.graph}: no such file")
    versions = h.versions()
    if args.json:
        print(json.dumps([v.to_json() for v in versions], indent=2, ensure_ascii=False))
        return 0
    if not versions:
        print(f"no versions kept of {args.graph} yet (the editor keeps one at every save, in {h.folder})")
        return 0
    for v in reversed(versions):  # newest first
        print(f"{v.short}  {v.local_time()}  {v.summary}")
    return 0


def add_cli(sub) -> None:
    d = sub.add_parser("diff", help="what changed between two graphs (params, nodes, links; layout with --layout)",
                       description=DIFF_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("a", metavar="A", help="the old graph: FILE.json, a PNG/MP4/FLAC nodegraph made, or GRAPH@VERSION")
    d.add_argument("b", metavar="B", help="the new graph (as A)")
    d.add_argument("--json", action="store_true", help="print JSON: {summary, equal, changes: [{kind, node, param, old, new}]}")
    d.add_argument("--layout", action="store_true", help="also list layout changes (positions, sizes, folding, colours)")
    d.add_argument("--no-defaults", action="store_true",
                   help="compare only what the files hold (a param set to its default then counts as a change)")
    d.add_argument("-q", "--quiet", action="store_true", help="no note about layout changes left out")
    d.set_defaults(fn=cmd_diff)

    h = sub.add_parser("history", help="the versions of a graph file the editor kept (newest first)",
                       description="List the versions kept of GRAPH (one at every save in the editor, in the hidden "
                                   "folder .GRAPH.history beside it): id, time, what changed. Compare one with "
                                   "`nodegraph diff GRAPH@ID GRAPH`.")
    h.add_argument("graph", metavar="GRAPH")
    h.add_argument("--json", action="store_true", help="print JSON: [{id, time, summary, bytes}] oldest first")
    h.set_defaults(fn=cmd_history)


__all__ = ["add_cli", "cmd_diff", "cmd_history", "load_side"]
