"""The ``nodegraph`` command. Thin: parsing, printing, exit codes; the engine does the work.

Errors print one line (``error: ...``) and exit 1; ``--verbose`` adds the traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any, Sequence

from . import __version__
from .cache import format_size as _size
from .cli_common import _registry, apply_sets  # noqa: F401  (used by the commands below and tests)
from .cli_describe import did_you_mean
from .embedded import load_graph_and_base
from .errors import NodegraphError, format_error
from .graph import Document


# -- commands ------------------------------------------------------------------------------------
def open_cache(args: argparse.Namespace):
    from .cache import Cache

    if getattr(args, "no_cache", False):
        return Cache.memory_only()
    return Cache(args.cache_dir) if args.cache_dir else Cache()


def make_policy(args: argparse.Namespace, graph: str, base_dir: Path, output_dir: str | None = None):
    """What the graph may read (its folder tree, model folders, shipped assets, ``--allow-read``)
    and the memory budget (``--memory-budget``); see ``nodegraph.policy``."""
    from .policy import Policy, graph_root_for

    try:
        return Policy(base_dir, graph_root=graph_root_for(graph, base_dir), allow_read=getattr(args, "allow_read", None) or (),
                      output_dir=output_dir, memory_budget=getattr(args, "memory_budget", None))
    except ValueError as e:
        raise NodegraphError(f"--memory-budget: {e}") from None


def make_evaluator(args: argparse.Namespace, registry, cache):
    from .evaluate import Evaluator

    graph = Path(args.graph).resolve()
    base = getattr(args, "base_dir", None) or graph.parent
    from .models.pins import ModelPins

    return Evaluator(registry, output_dir=args.output, base_dir=base, cache=cache,
                     use_cache=not getattr(args, "no_cache", False), graph_id=str(graph),
                     workers=getattr(args, "workers", None), policy=make_policy(args, args.graph, base, args.output),
                     embed=not getattr(args, "no_embed", False), model_pins=ModelPins.beside(args.graph) or None)


def cmd_run(args: argparse.Namespace) -> int:
    from .progress import RunProgress

    registry = _registry(args.graph)
    doc, args.base_dir = load_graph_and_base(args.graph)
    apply_sets(doc, args.set or [], registry)
    cache = open_cache(args)
    ev = make_evaluator(args, registry, cache)
    ev.check(doc, args.graph)
    from .cli_keys import signer_for_args

    ev.signer = signer_for_args(args)  # checked before anything runs; outputs are sealed as they are written
    if ev.signer is not None and not ev.embed:
        print("note: --no-embed writes no provenance, so the outputs are not signed", file=sys.stderr)
    if args.commercial:  # before anything runs
        from .cli_licences import check_commercial

        for line in check_commercial(args):
            print(f"note: --commercial: {line}", file=sys.stderr)
    from .costs import book

    flat = ev.flatten(doc, None)[0]  # Look instances are run as their inner nodes (card/grain)
    types = {n: flat.type_of(n) for n in flat.node_ids()}
    with RunProgress(enabled=not args.quiet, types=types, cost_of=book(ev.cache.root if ev.use_cache else None).get) as progress:
        result = ev.run(doc, args.target or None, on_event=progress.on_event, cancel=progress.cancel)
    report = result.report()
    if args.report:
        from .fsio import write_json

        write_json(Path(args.report), report)
    failed = [r for r in result.nodes.values() if r.status == "failed"]
    if not args.quiet:
        from .results import run_files

        for nid, level, message in result.warnings:  # params whose value came from a link or a file
            print(f"{level}: node {nid!r}: {message}")
        out_dir = ev.output_dir.resolve()
        files = run_files(result)
        print(f"output folder: {out_dir}" + ("" if files else " (no files written)"))
        for f, how in files:  # every file in one place: written now, or cached from an earlier run
            try:
                shown = str(Path(f).resolve().relative_to(out_dir))
            except ValueError:
                shown = f
            print(f"  {how} {shown}")
        pinned = f", {result.count('pinned')} pinned" if result.count("pinned") else ""
        print(f"{result.count('computed')} computed, {result.count('cached')} cached{pinned}, "
              f"{len(failed)} failed, {result.count('skipped')} skipped in {result.seconds:.2f} s")
    for r in failed:
        print(f"error: node {r.node!r} ({r.type}) failed: {r.error}", file=sys.stderr)
    if result.cancelled:
        print("error: cancelled", file=sys.stderr)
        return 130
    return 0 if result.ok else 1


def cmd_walkthrough(args: argparse.Namespace) -> int:
    """Run the graph, then write its walkthrough page (``nodegraph.walkthrough``)."""
    from .progress import RunProgress
    from .walkthrough import execution_order, export_html, result_values

    registry = _registry(args.graph)
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
        doc = ev.flatten(doc, None)[0]  # a Look instance is shown as its inner nodes, step by step
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


def cmd_explain(args: argparse.Namespace) -> int:
    registry = _registry(args.graph)
    doc, args.base_dir = load_graph_and_base(args.graph)
    apply_sets(doc, args.set or [], registry)
    ev = make_evaluator(args, registry, open_cache(args))
    ev.check(doc, args.graph)
    plan = ev.explain(doc, args.target or None)
    if args.json:
        print(json.dumps({n: {"will_run": e.will_run, "reason": e.reason} for n, e in plan.items()}, indent=2))
        return 0
    print("\n".join(explain_lines(plan, cli_width())))
    counts = {k: sum(1 for e in plan.values() if e.will_run == k) for k in ("yes", "maybe", "no")}
    print(f"{counts['yes']} will run, {counts['maybe']} may run, {counts['no']} cached")
    return 0


def explain_lines(plan: dict, cols: int) -> list[str]:
    """``node  yes  reason``, the reason wrapped under itself so that no line passes ``cols``."""
    import textwrap

    from .cli_describe import fit

    width = min(max((len(n) for n in plan), default=4), max(8, cols // 3))
    lines = []
    for nid, e in plan.items():
        head = f"{fit(nid, width):<{width}}  {e.will_run:<5}  "
        body = textwrap.wrap(e.reason, max(20, cols - len(head))) or [""]
        lines += [fit((head if i == 0 else " " * len(head)) + part, cols) for i, part in enumerate(body)]
    return lines


def cli_width() -> int:
    from .cli_describe import width

    return width()


def cmd_cache(args: argparse.Namespace) -> int:
    from .cache import Cache, parse_size

    cache = Cache(args.cache_dir) if args.cache_dir else Cache()
    disk = cache.disk
    if args.action == "info":
        info = disk.info()
        print(f"cache folder: {info['root']}")
        print(f"{info['actions']} results, {info['blobs']} values, {_size(info['bytes'])} of {_size(info['max_bytes'])}"
              f" ({info['pinned']} pinned)")
    elif args.action == "clear":
        disk.clear()
        print(f"cleared {disk.root}")
    else:
        try:
            budget = parse_size(args.max_size) if args.max_size else None
        except ValueError as e:
            raise NodegraphError(f"--max-size: {e}") from None
        out = disk.gc(budget)
        print(f"evicted {out['evicted']} values ({_size(out['freed_bytes'])}), removed {out['strays_removed']} stray files;"
              f" {_size(out['bytes'])} remain")
    cache.close()
    return 0


def cmd_edit(args: argparse.Namespace) -> int:
    try:
        from .editor.app import run_editor
    except ImportError as e:
        raise NodegraphError(f"the editor needs dearpygui: pip install -c requirements.lock -e '.[editor]' ({e})") from None
    return run_editor(args.graph, screenshot=args.screenshot, frames=args.frames or 0)


def cmd_nodes(args: argparse.Namespace) -> int:
    registry = _registry().base  # node types only: `nodegraph looks list` lists the Looks
    specs = list(registry)
    if args.json:
        data = {"nodes": [s.describe() for s in specs],
                "packs": {name: {"distribution": p.distribution, "version": p.version, "target": p.target,
                                 **({"error": p.error} if p.error else {}),
                                 **({"broken": dict(p.broken)} if p.broken else {})}
                          for name, p in sorted(registry.packs.items())}}
        print(json.dumps(data, indent=2, sort_keys=True))
        return 0
    from .cli_describe import list_nodes
    from .progress import wrapped

    cols = cli_width()
    for line in registry.problems():  # wrapped, never cut: the cause is at the end
        print("\n".join(wrapped(f"problem: {line}", cols)), file=sys.stderr)
    print("\n".join(list_nodes(registry, cols, args.word)))
    return 0


def cmd_describe(args: argparse.Namespace) -> int:
    from .cli_describe import describe, example_graph

    registry = _registry()
    spec = registry.specs.get(args.type)
    if spec is None:
        raise NodegraphError(f"{registry.explain_unknown(args.type, {})} (nodegraph nodes lists them all)")
    if args.example or args.json:
        from .fileformat import render

        example = example_graph(spec, registry)
        print(render(example) if args.example else json.dumps({**spec.describe(), "example": example}, indent=2))
        return 0
    print("\n".join(describe(spec, registry, cli_width())))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from .errors import GraphFileError
    from .looks.expand import validate_all

    bad = 0
    for path in args.graphs:
        registry = _registry(path)
        try:
            doc, base = load_graph_and_base(path)
        except GraphFileError as e:
            print(f"error: {e}", file=sys.stderr)
            bad += 1
            continue
        issues = validate_all(doc, registry, policy=make_policy(args, path, base), check_files=True)
        if issues:
            bad += 1
            for i in issues:
                print(f"error: {path}: {i.message}", file=sys.stderr)
            for line in registry.problems():  # a skipped node may be why a type is unknown
                print(f"note: {line}", file=sys.stderr)
        else:
            print(f"ok: {path} ({len(doc.node_ids())} nodes, {len(doc.links())} links)")
    return 1 if bad else 0


def cmd_new(args: argparse.Namespace) -> int:
    from .fileformat import save

    path = Path(args.graph)
    if path.exists() and not args.force:
        raise NodegraphError(f"{path} already exists (use --force to replace it)")
    if args.template:
        from .templates import instantiate

        from .templates import find_template

        # the template's own Looks (its looks/ folder) are known while its files are copied
        _, written = instantiate(args.template, path, _registry(str(find_template(args.template))), force=args.force,
                                 title=args.title, allow_read=args.allow_read or ())
        copied = written[:-1]
        folders = sorted({str(Path(os.path.relpath(f, path.resolve().parent)).parts[0]) for f in copied})
        more = f" and {len(copied)} file{'s' if len(copied) != 1 else ''} it reads ({', '.join(folders)})" if copied else ""
        print(f"created {path} from the template {args.template}{more}")
        return 0
    doc = Document()
    doc.meta = {"title": args.title or path.stem}
    save(doc, path)
    print(f"created {path}")
    return 0


def cmd_templates(args: argparse.Namespace) -> int:
    import textwrap

    from .templates import list_templates

    found = list_templates()
    if args.json:
        print(json.dumps([{"name": t.name, "title": t.title, "description": t.description, "path": str(t.path)}
                          for t in found], indent=2))
        return 0
    if not found:
        print("no templates installed")
        return 1
    for t in found:
        print(f"{t.name}  ({t.title})")
        if t.description:
            print(textwrap.fill(t.description, width=78, initial_indent="    ", subsequent_indent="    "))
    print(f"\nstart one with: nodegraph new scene.json --template {found[0].name}")
    return 0


def _policy_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--allow-read", action="append", metavar="DIR",
                   help="let the graph read files in DIR too (repeatable); by default it reads only its own folder, "
                        "the model folders and nodegraph's shipped assets ($NODEGRAPH_ALLOW_READ adds more)")
    p.add_argument("--memory-budget", metavar="SIZE",
                   help="refuse a node whose params would make it need more RAM than SIZE (6G, 500M, 50%%, off; "
                        "default: $NODEGRAPH_MEMORY_BUDGET, else a quarter of this machine's RAM)")


def _cache_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-cache", action="store_true", help="compute every node again and store nothing")
    p.add_argument("--cache-dir", metavar="DIR", help="cache folder (default: $NODEGRAPH_CACHE_DIR or the user cache folder)")


class Parser(argparse.ArgumentParser):
    """argparse with "did you mean" for a mistyped command or choice."""

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        choices = action.choices
        if choices is not None and isinstance(value, str) and value not in choices:
            hint = did_you_mean(value, [c for c in choices if isinstance(c, str)])
            if hint:
                self.error(f"argument {argparse._get_action_name(action) or 'COMMAND'}: invalid choice: "
                           f"{value!r}{hint}")
        super()._check_value(action, value)


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="nodegraph", description="Node-graph engine for AI-assisted audiovisual production.")
    p.add_argument("--version", action="version", version=f"nodegraph {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="print tracebacks with errors")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("run", help="run a graph and write its outputs")
    r.add_argument("graph", help="graph file (.json), or a PNG/MP4/FLAC that nodegraph made (its graph is re-opened)")
    r.add_argument("--set", action="append", metavar="NODE.PARAM=VALUE", help="override a param (repeatable)")
    r.add_argument("-o", "--output", default="output", metavar="DIR", help="output folder (default: ./output)")
    r.add_argument("--report", metavar="FILE.json", help="write a JSON report of every node's status and time")
    r.add_argument("--target", action="append", metavar="NODE[.PORT]", help="compute only this node and what it needs (repeatable)")
    r.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    _cache_args(r)
    r.add_argument("--workers", type=int, metavar="N", help="run up to N independent nodes at once (default: cores, at most 4)")
    r.add_argument("--no-embed", action="store_true",
                   help="write output files without the graph that made them (PNG, MP4 and FLAC embed it by default)")
    r.add_argument("--commercial", action="store_true",
                   help="refuse to run when a model the render uses is not licensed for commercial use, or its "
                        "licence is unknown (see `nodegraph licences GRAPH`)")
    from .cli_keys import add_sign_args

    add_sign_args(r)
    _policy_args(r)
    r.set_defaults(fn=cmd_run)

    e = sub.add_parser("explain", help="say, without running, which nodes a run would compute and why")
    e.add_argument("graph")
    e.add_argument("--set", action="append", metavar="NODE.PARAM=VALUE", help="as for run")
    e.add_argument("-o", "--output", default="output", metavar="DIR", help="as for run")
    e.add_argument("--target", action="append", metavar="NODE[.PORT]", help="as for run")
    e.add_argument("--json", action="store_true", help="print JSON")
    e.add_argument("--no-embed", action="store_true", help="as for run")
    _cache_args(e)
    _policy_args(e)
    e.set_defaults(fn=cmd_explain)

    c = sub.add_parser("cache", help="inspect or trim the result cache")
    c.add_argument("action", choices=["info", "clear", "gc"])
    c.add_argument("--cache-dir", metavar="DIR", help="cache folder (default: $NODEGRAPH_CACHE_DIR or the user cache folder)")
    c.add_argument("--max-size", metavar="SIZE", help="gc: evict least recently used values until the cache fits (e.g. 5G)")
    c.set_defaults(fn=cmd_cache)

    ed = sub.add_parser("edit", help="open the graph editor (a desktop window)")
    ed.add_argument("graph", nargs="?", help="graph file to open (or a PNG/MP4 nodegraph made)")
    ed.add_argument("--screenshot", metavar="FILE.png", help="render, save a screenshot and exit (docs, tests)")
    ed.add_argument("--frames", type=int, metavar="N", help="with --screenshot: frames to render first (default 30)")
    ed.set_defaults(fn=cmd_edit)

    n = sub.add_parser("nodes", help="list every installed node type, by category")
    n.add_argument("word", nargs="?", help="only the types whose id, title, category or description hold WORD")
    n.add_argument("--json", action="store_true", help="full description as JSON: ports, params, defaults, docs")
    n.set_defaults(fn=cmd_nodes)

    d = sub.add_parser("describe", help="one node type: its inputs, params, outputs, docs and an example graph")
    d.add_argument("type", metavar="TYPE", help="node type id, e.g. voice.speak (nodegraph nodes lists them)")
    d.add_argument("--example", action="store_true", help="print only the example graph (save it and edit it)")
    d.add_argument("--json", action="store_true", help="the description and the example as JSON")
    d.set_defaults(fn=cmd_describe)

    v = sub.add_parser("validate", help="check graph files: node types, links, values, and that every file they read exists")
    v.add_argument("graphs", nargs="+", metavar="GRAPH")
    _policy_args(v)
    v.set_defaults(fn=cmd_validate)

    w = sub.add_parser("new", help="create a new graph file")
    w.add_argument("graph")
    w.add_argument("--template", metavar="NAME", help="start from a template (see `nodegraph templates`) or a copy of a graph "
                                                      "file; the files it reads are copied beside the new graph")
    w.add_argument("--title", help="title stored in the graph's meta")
    w.add_argument("--force", action="store_true", help="replace an existing file (and copied files)")
    w.add_argument("--allow-read", action="append", metavar="DIR",
                   help="let the template's files in DIR be copied too (repeatable); by default only files in its "
                        "own folder, nodegraph's shipped assets and the model folders are")
    w.set_defaults(fn=cmd_new)

    wt = sub.add_parser("walkthrough", help="run a graph and write its walkthrough as one HTML page",
                        description="Run the graph (cached results are reused) and write one self-contained HTML "
                                    "page: a section per node in execution order with its note, settings, inputs "
                                    "and a preview of its output. Students open it in any browser.")
    wt.add_argument("graph", help="graph file (.json), or a PNG/MP4/FLAC that nodegraph made")
    wt.add_argument("-o", "--html", metavar="FILE.html", help="the page to write (default: GRAPH-walkthrough.html here)")
    wt.add_argument("--output-dir", dest="output", default="output", metavar="DIR",
                    help="folder for the files the graph writes (default: ./output)")
    wt.add_argument("--title", help="the page's title (default: 'Walkthrough: ' and the graph's title)")
    wt.add_argument("--set", action="append", metavar="NODE.PARAM=VALUE", help="override a param (repeatable)")
    wt.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    wt.add_argument("--workers", type=int, metavar="N", help="as for run")
    _cache_args(wt)
    _policy_args(wt)
    wt.set_defaults(fn=cmd_walkthrough)

    tl = sub.add_parser("templates", help="list the graph templates that ship with nodegraph")
    tl.add_argument("--json", action="store_true", help="print JSON (name, title, description, path)")
    tl.set_defaults(fn=cmd_templates)
    from .cli_diff import add_cli as add_diff_cli  # diff, history
    add_diff_cli(sub)

    from .cli_bundle import add_cli as add_bundle_cli
    from .cli_keys import add_cli as add_keys_cli
    from .cli_licences import add_cli as add_licences_cli
    from .cli_looks import add_cli as add_looks_cli
    from .cli_models import add_cli

    add_cli(sub)
    add_looks_cli(sub)
    add_licences_cli(sub)
    add_keys_cli(sub)
    add_bundle_cli(sub)
    from .cli_provenance import add_cli as add_provenance_cli
    add_provenance_cli(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.fn(args) or 0)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `nodegraph nodes | head`: the reader has what it wanted
        sys.stderr.close()
        return 0
    except (NodegraphError, KeyError, OSError) as e:
        if args.verbose:
            traceback.print_exc()
        msg = e.message if hasattr(e, "message") else format_error(e)
        print(f"error: {msg}", file=sys.stderr)
        return 1
    except Exception as e:  # an engine bug: still one line unless --verbose
        if args.verbose:
            traceback.print_exc()
        print(f"error: internal error: {format_error(e)} (run with --verbose for the traceback)", file=sys.stderr)
        return 2
