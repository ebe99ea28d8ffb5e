"""``nodegraph models list|add|verify``. Wired into ``nodegraph/cli.py`` by ``add_cli(sub)``; the work is
in ``nodegraph.models`` (and, for ``verify GRAPH``, ``nodegraph.cli_licences``)."""
from __future__ import annotations

import argparse
import json

from .cache import format_size as _size
from .models.config import KINDS, add_root
from .models.errors import ModelError


def add_cli(subparsers) -> argparse.ArgumentParser:
    """Register the ``models`` sub-command on the main parser's sub-parsers."""
    m = subparsers.add_parser("models", help="list, register and verify AI models (checkpoints, LoRAs, audio models...)")
    acts = m.add_subparsers(dest="models_action", required=True, metavar="ACTION")

    ls = acts.add_parser("list", help="registered models, then what the model roots contain")
    ls.add_argument("--kind", choices=KINDS, help="only this kind")
    ls.add_argument("--json", action="store_true", help="print JSON")

    ad = acts.add_parser("add", help="register a model file/folder or a Hugging Face repo id (records its sha256)")
    ad.add_argument("target", metavar="PATH_OR_REPO")
    ad.add_argument("--kind", choices=KINDS, help="model kind (required unless --root)")
    ad.add_argument("--name", help="name to use in graphs (default: file or folder name, or the repo id)")
    ad.add_argument("--root", action="store_true", help="add PATH as a model root folder (e.g. a ComfyUI install)")
    ad.add_argument("--licence", "--license", dest="licence", metavar="ID",
                    help="the model's licence, from its model card (e.g. apache-2.0, mit, cc-by-nc-4.0, "
                         "creativeml-openrail-m, cpml); shown by `nodegraph licences` and checked by run --commercial")

    ve = acts.add_parser("verify", help="hash registered models again and compare with the recorded sha256; "
                                        "or, given a graph, check every model it uses",
                         description="With NAMEs (or none): hash registered models again and compare with the "
                                     "sha256 recorded when they were added. With a graph file: check every model "
                                     "a render of it uses: found on this machine, and its sha256 equal to the one "
                                     "the graph's bundle manifest (--manifest, or the manifest.json an unpacked "
                                     "bundle leaves beside the graph) or the model registry records. A model "
                                     "missing under its name is looked for by sha256. Exit status 1 when a model "
                                     "is missing or differs.")
    ve.add_argument("names", nargs="*", metavar="NAME_OR_GRAPH", help="registered names (default: all), or one graph file")
    ve.add_argument("--manifest", metavar="FILE", help="with a graph: the bundle manifest whose sha256s to expect")
    ve.add_argument("--json", action="store_true", help="with a graph: print JSON")

    m.set_defaults(fn=cmd_models)
    return m


def cmd_models(args: argparse.Namespace) -> int:
    from .models import registry

    if args.models_action == "list":
        rows = registry.list_models(args.kind)
        if args.json:
            from .models.licences import identify

            for r in rows:
                r["licence"] = identify(r["name"], r["kind"], path=r.get("path"), repo_id=r.get("repo_id"),
                                        recorded=r.get("licence")).to_json()
            print(json.dumps(rows, indent=2))
            return 0
        if not rows:
            from .models.config import config_path

            print(f"no models: register one with `nodegraph models add PATH --kind KIND`, or add model roots "
                  f"(NODEGRAPH_MODELS or {config_path()})")
            return 0
        width = max(len(r["name"]) for r in rows)
        from .models.licences import identify

        for r in rows:
            where = r.get("path") or r.get("repo_id") or ""
            note = f"  ({r['note']})" if r.get("note") else ""
            lic = identify(r["name"], r["kind"], path=r.get("path"), repo_id=r.get("repo_id"), recorded=r.get("licence"))
            note += f"  [{lic.licence.id}]"
            print(f"{r['name']:<{width}}  {r['kind']:<14} {r['format']:<12} {_size(r.get('size') or 0):>10}  "
                  f"{r['source']:<10}  {where}{note}")
        return 0

    if args.models_action == "add":
        if args.root:
            print(f"added model root {add_root(args.target)}")
            return 0
        if not args.kind:
            raise ModelError("models add: --kind is required (kinds: " + ", ".join(KINDS) + ")")
        e = registry.add(args.target, args.kind, args.name, licence=args.licence)
        sha = e["sha256"] or "no sha256 yet (not downloaded)"
        print(f"added {e['name']!r} ({e['kind']}, {e['format']}, {_size(e['size'])}): {e.get('path') or e.get('repo_id')}"
              f"  sha256 {sha}")
        if args.licence:
            from .models.licences import licence

            lic = licence(args.licence)
            known = "" if lic.commercial != "unknown" else " (not a licence nodegraph knows: shown as unknown)"
            print(f"licence: {lic.name}{known}")
        return 0

    if len(args.names) == 1 and _is_graph(args.names[0]):
        from .cli_licences import verify_graph

        return verify_graph(args.names[0], args.manifest, args.json)
    if args.manifest:
        raise ModelError("models verify: --manifest goes with a graph file")
    results = registry.verify_all(args.names or None)
    if not results:
        print("no registered models to verify")
        return 0
    bad = 0
    for r in results:
        if r.ok:
            print(f"ok        {r.name}  {r.actual}")
        else:
            bad += 1
            detail = f": expected {r.expected}, got {r.actual}" if r.error == "sha256 mismatch" else f": {r.error}"
            print(f"FAILED    {r.name}  {r.target}{detail}")
    if bad:
        raise ModelError(f"{bad} of {len(results)} model(s) failed verification")
    return 0


def _is_graph(arg: str) -> bool:
    """A graph file (or a PNG/MP4/FLAC nodegraph made) rather than a registered model's name."""
    import os

    from .embedded import MEDIA_WITH_GRAPHS

    return os.path.isfile(arg) and arg.lower().endswith((".json",) + MEDIA_WITH_GRAPHS)
