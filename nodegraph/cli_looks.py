"""``nodegraph looks ...`` (also ``nodegraph look ...``): make, list, show, install, export, bake,
upgrade and unlock Looks. Thin: the work is in ``nodegraph.looks``."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import NodegraphError


def _library(args: argparse.Namespace):
    from .looks import LookLibrary

    return LookLibrary.for_graph(getattr(args, "graph", None))


def _registry(graph: str | None):
    from .looks import with_looks
    from .registry import default_registry

    return with_looks(default_registry(), graph)


def find_look(library, ref: str):
    """``studio/noir`` (its newest version) or ``studio/noir@1.0.0``."""
    ident, _, version = ref.partition("@")
    look = library.get(ident, version) if version else library.latest(ident)
    if look is None:
        have = library.versions(ident)
        if have:
            raise NodegraphError(f"Look {ident} {version} is not installed (installed: {', '.join(have)})")
        from .cli_describe import did_you_mean

        hint = did_you_mean(ident, sorted({i for i, _ in library.looks})) or ""
        raise NodegraphError(f"no Look {ident!r} is installed{hint} (`nodegraph looks list` shows them; searched "
                             f"{library.where()})")
    return look


def cmd_make(args: argparse.Namespace) -> int:
    from .embedded import load_graph_and_base
    from .looks import model
    from .looks.make import Promote, make_look, replace_with_instance
    from .looks.library import user_looks_dir

    if args.replace:
        _writable(args.graph)
    registry = _registry(args.graph)
    doc, _ = load_graph_and_base(args.graph)
    ids = [n.strip() for part in args.nodes for n in part.split(",") if n.strip()]
    look = make_look(doc, ids, args.name, args.version, registry, promote=[Promote.parse(p) for p in args.promote or []],
                     title=args.title or "", description=args.description or "", source=args.source or "")
    note = _thumbnail(look, registry, args.sample)
    out = Path(args.output) if args.output else user_looks_dir()
    if out.is_dir() or not out.name.endswith(model.SUFFIX):
        out = out / look.file_name()
    if out.exists() and not args.force:
        raise NodegraphError(f"{out} already exists (give the Look a new --version, or use --force)")
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(look, out)
    print(f"wrote {out}: Look {look.label}, inputs {', '.join(look.inputs) or 'none'}; outputs "
          f"{', '.join(look.outputs)}; params {', '.join(look.params) or 'none'}")
    if note:
        print(note)
    if args.replace:
        registry.library.add(look)
        registry._spec(look.type_id)
        batch = replace_with_instance(doc, look, ids)
        batch(doc)
        _rewrite(doc, args.graph, registry)
        print(f"{args.graph}: nodes {', '.join(ids)} replaced by the instance {batch.commands[len(ids)].id!r}")
    return 0


def _thumbnail(look, registry, sample: str | None) -> str:
    from .looks.render import default_sample, load_sample, thumbnail_png

    if look.image_port("inputs") is None or look.image_port("outputs") is None:
        return "no thumbnail: the Look does not take and make a picture"
    path = Path(sample) if sample else default_sample()
    if path is None:
        return "no thumbnail: give a sample picture with --sample FILE"
    try:
        look.thumbnail = thumbnail_png(look, registry, load_sample(path))
    except NodegraphError as e:
        if sample:
            raise
        return f"no thumbnail: {e}"
    return f"thumbnail rendered from {path}"


def cmd_list(args: argparse.Namespace) -> int:
    lib = _library(args)
    looks = lib.all()
    if args.json:
        print(json.dumps([{"look": l.id, "version": l.version, "title": l.title, "origin": l.origin, "path": l.path,
                           "inputs": {k: p.type for k, p in l.inputs.items()},
                           "outputs": {k: p.type for k, p in l.outputs.items()}, "params": sorted(l.params)}
                          for l in looks], indent=2))
        return 0
    for line in lib.problems:
        print(f"problem: {line}", file=sys.stderr)
    if not looks:
        print(f"no Looks installed (searched {lib.where()}); make one with `nodegraph look make`")
        return 0
    width = max(len(l.id) for l in looks)
    for l in looks:
        print(f"{l.id:<{width}}  {l.version:<8} {l.title or '':<24} ({l.origin})")
    print(f"{len(looks)} Looks; `nodegraph looks show NAME` for one")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    look = find_look(_library(args), args.look)
    print(f"{look.title or look.id}  ({look.label}, {look.origin}: {look.path})")
    if look.description:
        print(f"  {look.description}")
    if look.source:
        print(f"  from: {look.source}")
    print("inputs:  " + (", ".join(f"{k} ({p.type})" for k, p in look.inputs.items()) or "none"))
    print("outputs: " + ", ".join(f"{k} ({p.type})" for k, p in look.outputs.items()))
    if look.params:
        print("params:")
        for k, p in look.params.items():
            rng = f" range {p.min}..{p.max}" if p.min is not None or p.max is not None else ""
            grp = f" [{p.group}]" if p.group else ""
            print(f"  {k}{grp}: {p.label or k}, default {json.dumps(p.default)}{rng} -> "
                  + ", ".join(f"{n}.{q}" for n, q in p.to))
    print("inside: " + ", ".join(f"{n} ({look.graph.type_of(n)})" for n in look.graph.node_ids()))
    for v, m in sorted(look.migrations.items()):
        print(f"at {v}: renamed " + ", ".join(f"{a} -> {b}" for a, b in m.get("rename", {}).items()))
    if args.thumbnail:
        if not look.thumbnail:
            raise NodegraphError(f"Look {look.label} has no thumbnail")
        from .fsio import write_bytes

        write_bytes(args.thumbnail, look.thumbnail)
        print(f"wrote {args.thumbnail}")
    return 0


def cmd_install(args: argparse.Namespace) -> int:
    from .looks import install
    from .registry import default_registry

    for f in args.files:
        look, dest = install(f, default_registry(), force=args.force)
        print(f"installed Look {look.label} to {dest}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .looks import save

    look = find_look(_library(args), args.look)
    out = Path(args.output)
    if out.is_dir():
        out = out / look.file_name()
    save(look, out)
    print(f"wrote {out} ({look.label})")
    return 0


def cmd_bake(args: argparse.Namespace) -> int:
    from .cube import write_cube
    from .looks.render import bake

    registry = _registry(args.graph)
    look = find_look(registry.library, args.look)
    params = {}
    for item in args.set or []:
        k, eq, v = item.partition("=")
        if not eq or k not in look.params:
            raise NodegraphError(f"--set {item!r}: expected PARAM=VALUE with PARAM one of {', '.join(look.params) or 'none'}")
        try:
            params[k] = json.loads(v)
        except json.JSONDecodeError:
            params[k] = v
    table, skipped = bake(look, registry, args.size, params)
    write_cube(args.output, table, f"{look.title or look.id} {look.version}")
    print(f"wrote {args.output}: {args.size}-point 3D LUT of {look.label}")
    if skipped:
        print("left out (not per-pixel colour): " + ", ".join(skipped))
    return 0


def cmd_gallery(args: argparse.Namespace) -> int:
    from .fileformat import save as save_graph
    from .looks.gallery import gallery_graph, takes_pictures
    from .looks.render import default_sample

    lib = _library(args)
    looks = [l for l in lib.all() if takes_pictures(l)]
    if args.latest:
        looks = [l for l in looks if lib.latest(l.id) is l]
    if not looks:
        raise NodegraphError(f"no Look that takes and makes a picture is installed (searched {lib.where()})")
    out = Path(args.output)
    sample = args.sample or (str(default_sample()) if default_sample() else None)
    if sample is None:
        raise NodegraphError("give the frame to show them on with --sample IMAGE")
    if out.exists() and not args.force:
        raise NodegraphError(f"{out} already exists (use --force to replace it)")
    from .paths import portable

    save_graph(gallery_graph(looks, portable(str(Path(sample).resolve()), out.resolve().parent)), out)
    print(f"wrote {out}: {len(looks)} Looks on {sample}; run it with: nodegraph run {out}")
    return 0


def _writable(graph: str) -> None:
    """A command that rewrites a graph needs a graph file, not a picture or movie carrying one."""
    from .embedded import MEDIA_WITH_GRAPHS

    if graph.lower().endswith(MEDIA_WITH_GRAPHS):
        raise NodegraphError(f"{graph} is a media file carrying a graph; this command rewrites the graph, so save it "
                             f"as a graph file first (nodegraph new scene.json --template {graph})")


def _rewrite(doc, graph: str, registry) -> None:
    """Save the changed graph, keeping the file before and after as versions (nodegraph.history)."""
    from .history import save_keeping_versions

    problem = save_keeping_versions(doc, graph, registry)
    if problem:
        print(f"note: {graph} saved, but no version was kept: {problem}", file=sys.stderr)


def _edit_graph(args: argparse.Namespace, build) -> int:
    from .embedded import load_graph_and_base

    _writable(args.graph)
    registry = _registry(args.graph)
    doc, _ = load_graph_and_base(args.graph)
    if args.node not in doc:
        raise NodegraphError(f"{args.graph}: there is no node {args.node!r}")
    cmd, notes = build(doc, registry)
    cmd(doc)
    _rewrite(doc, args.graph, registry)
    for n in notes:
        print(n)
    return 0


def cmd_upgrade(args: argparse.Namespace) -> int:
    from .looks.make import upgrade

    def build(doc, registry):
        old = doc.node(args.node)["version"]
        cmd, notes = upgrade(doc, args.node, registry.library, args.to)
        return cmd, [f"{args.graph}: node {args.node!r} upgraded from {old} to {cmd.version}"] + notes

    return _edit_graph(args, build)


def cmd_unlock(args: argparse.Namespace) -> int:
    from .looks.make import unlock

    def build(doc, registry):
        look = registry.look(doc.type_of(args.node))
        if look is None:
            raise NodegraphError(f"node {args.node!r} is not an instance of an installed Look "
                                 f"({doc.type_of(args.node)})")
        batch = unlock(doc, args.node, look)
        return batch, [f"{args.graph}: node {args.node!r} unlocked into {len(look.graph.node_ids())} nodes (a group)"]

    return _edit_graph(args, build)


def add_cli(sub) -> None:
    lk = sub.add_parser("looks", aliases=["look"], help="make, list, show, install, export, bake Looks (reusable node groups)")
    ls = lk.add_subparsers(dest="looks_command", required=True, metavar="ACTION")

    m = ls.add_parser("make", help="make a Look from nodes of a graph")
    m.add_argument("graph")
    m.add_argument("--nodes", action="append", required=True, metavar="ID,ID,...", help="the nodes to put inside")
    m.add_argument("--name", required=True, metavar="NAMESPACE/NAME", help="e.g. studio/noir")
    m.add_argument("--version", default="1.0.0", help="semantic version (default 1.0.0)")
    m.add_argument("--promote", action="append", metavar="NODE.PARAM[=Label]", help="put an inner param on the Look's face (repeatable)")
    m.add_argument("--title")
    m.add_argument("--description")
    m.add_argument("--source", help="where others get it (a URL or a pip package), shown when it is missing")
    m.add_argument("--sample", metavar="IMAGE", help="picture its thumbnail is rendered from (default: nodegraph's sample)")
    m.add_argument("-o", "--output", metavar="FILE|DIR", help="where to write it (default: the user's looks folder)")
    m.add_argument("--force", action="store_true", help="replace an existing file")
    m.add_argument("--replace", action="store_true", help="also put an instance in place of the nodes in GRAPH")
    m.set_defaults(fn=cmd_make)

    li = ls.add_parser("list", help="the Looks installed (for GRAPH: with its looks/ folder)")
    li.add_argument("--graph")
    li.add_argument("--json", action="store_true")
    li.set_defaults(fn=cmd_list)

    sh = ls.add_parser("show", help="one Look: inputs, outputs, params, inside")
    sh.add_argument("look", metavar="NAME[@VERSION]")
    sh.add_argument("--graph")
    sh.add_argument("--thumbnail", metavar="FILE.png", help="write its thumbnail")
    sh.set_defaults(fn=cmd_show)

    ins = ls.add_parser("install", help="copy Look files into the user's looks folder")
    ins.add_argument("files", nargs="+", metavar="FILE.look.json")
    ins.add_argument("--force", action="store_true", help="replace a different file of the same name and version")
    ins.set_defaults(fn=cmd_install)

    ex = ls.add_parser("export", help="write an installed Look to a file")
    ex.add_argument("look", metavar="NAME[@VERSION]")
    ex.add_argument("-o", "--output", required=True, metavar="FILE|DIR")
    ex.add_argument("--graph")
    ex.set_defaults(fn=cmd_export)

    b = ls.add_parser("bake", help="write the colour part of a Look as a .cube 3D LUT")
    b.add_argument("look", metavar="NAME[@VERSION]")
    b.add_argument("-o", "--output", required=True, metavar="FILE.cube")
    b.add_argument("--size", type=int, default=33, choices=[17, 33, 65], help="lattice points per axis (default 33)")
    b.add_argument("--set", action="append", metavar="PARAM=VALUE", help="a promoted param's value (repeatable)")
    b.add_argument("--graph")
    b.set_defaults(fn=cmd_bake)

    ga = ls.add_parser("gallery", help="write a graph showing every installed Look on one frame (a contact sheet)")
    ga.add_argument("-o", "--output", default="looks_gallery.json", metavar="GRAPH.json")
    ga.add_argument("--sample", metavar="IMAGE", help="the frame (default: nodegraph's sample from the demo)")
    ga.add_argument("--latest", action="store_true", help="only the newest version of each Look")
    ga.add_argument("--graph", help="also the Looks in this graph's looks/ folder")
    ga.add_argument("--force", action="store_true")
    ga.set_defaults(fn=cmd_gallery)

    up = ls.add_parser("upgrade", help="move an instance in GRAPH to another version of its Look, keeping its values")
    up.add_argument("graph")
    up.add_argument("node")
    up.add_argument("--to", metavar="VERSION", help="default: the newest installed")
    up.set_defaults(fn=cmd_upgrade)

    un = ls.add_parser("unlock", help="replace an instance in GRAPH by a copy of its inside (an ordinary group)")
    un.add_argument("graph")
    un.add_argument("node")
    un.set_defaults(fn=cmd_unlock)
