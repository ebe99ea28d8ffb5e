"""What the CLI says about node types: ``nodegraph nodes`` (grouped by category, one line per type,
within the terminal's width) and ``nodegraph describe TYPE`` (ports, params, docs, and an example
graph made from the declaration), plus the "did you mean" hints the CLI gives for names.

Widths are counted in terminal cells (``rich.cells``), so wide characters in a description never
push a line past the terminal.
"""
from __future__ import annotations

import difflib
import shutil
import textwrap
from typing import Any, Iterable

from rich.cells import cell_len, set_cell_size

from .node import NodeSpec, Port
from .registry import Registry
from .types import can_connect

ELLIPSIS = "..."


def width() -> int:
    """Columns to print in: the terminal's, else ``$COLUMNS``, else 80."""
    return max(20, shutil.get_terminal_size((80, 24)).columns)


def fit(text: str, cells: int) -> str:
    """``text`` (one line) cut to at most ``cells`` terminal cells, marked with "..." when cut."""
    text = text.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    if cell_len(text) <= cells:
        return text
    if cells <= len(ELLIPSIS):
        return set_cell_size(text, max(cells, 0)).rstrip() if cells > 0 else ""
    cut = set_cell_size(text, cells - len(ELLIPSIS))
    if cell_len(cut) > cells - len(ELLIPSIS):  # a wide character split at the edge becomes a space
        cut = cut[:-1]
    return cut.rstrip() + ELLIPSIS


def did_you_mean(name: str, options: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``options``, or ``""``."""
    close = difflib.get_close_matches(name, list(options), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def summary(spec: NodeSpec) -> str:
    """One line for a type: its title, then its description's first sentence."""
    first = " ".join(spec.description.split("\n\n", 1)[0].split())
    end = first.find(". ")
    if end >= 0:
        first = first[:end + 1]
    if not first:
        return spec.title
    if first.lower().startswith(spec.title.lower()):
        return first
    return f"{spec.title} - {first}"


# -- nodegraph nodes -------------------------------------------------------------------------------

def list_nodes(registry: Registry, cols: int, word: str | None = None) -> list[str]:
    """The lines of ``nodegraph nodes``: a heading per category, then ``  type.id  summary`` per
    type, each line at most ``cols`` cells. ``word`` keeps the types whose id, title, category or
    description contain it."""
    specs = list(registry)
    if word:
        w = word.lower()
        specs = [s for s in specs if any(w in t.lower() for t in (s.id, s.title, s.category, s.description))]
    if not specs:
        return [f"no node type matches {word!r}" if word else "no node types are installed"]
    by_cat: dict[str, list[NodeSpec]] = {}
    for s in specs:
        by_cat.setdefault(s.category, []).append(s)
    id_w = min(max(len(s.id) for s in specs), max(12, cols // 2 - 2))
    cats = len(by_cat)
    lines = [fit(f"{len(specs)} node type{'s' if len(specs) != 1 else ''} in {cats} categor{'ies' if cats != 1 else 'y'}"
                 " (nodegraph describe TYPE tells more about one)", cols)]
    for cat in sorted(by_cat):
        lines += ["", fit(cat, cols)]
        for s in by_cat[cat]:
            head = f"  {s.id:<{id_w}}  "
            if cell_len(head) >= cols - 8:  # a very long id: the id alone, cut to fit
                lines.append(fit(f"  {s.id}", cols))
                continue
            lines.append(head + fit(summary(s), cols - cell_len(head)))
    return lines


# -- nodegraph describe ----------------------------------------------------------------------------

def _value(v: Any) -> str:
    import json

    return json.dumps(v, ensure_ascii=False)


def port_facts(p: Port) -> str:
    """``int = 50, 0 to 99`` / ``choice = "add": add, subtract`` / ``text, required``."""
    d = p.describe()
    out = [d["type"] + (" (many links)" if p.variadic else "")]
    if "default" in d:
        out[0] += f" = {_value(d['default'])}" if d["default"] is not None else ", optional"
    elif p.required:
        out[0] += ", required"
    lo, hi = d.get("min"), d.get("max")
    if lo is not None and hi is not None:
        out.append(f"{lo} to {hi}")
    elif lo is not None:
        out.append(f"at least {lo}")
    elif hi is not None:
        out.append(f"at most {hi}")
    if d.get("choices"):
        out.append("one of " + ", ".join(str(c) for c in d["choices"]))
    if d.get("extensions"):
        out.append(" ".join(d["extensions"]))
    elif d.get("kind"):
        out.append(f"kind {d['kind']}")
    return "; ".join(out)


def _block(rows: list[tuple[str, str, str]], cols: int) -> list[str]:
    """``  name  facts`` then the doc wrapped under it, every line within ``cols``."""
    lines = []
    name_w = min(max((len(r[0]) for r in rows), default=4), 20)
    for name, facts, doc in rows:
        head = f"  {name:<{name_w}}  "
        if len(head) > cols // 2:
            lines.append(fit(f"  {name}", cols))
            head = " " * 6
        for i, line in enumerate(textwrap.wrap(facts, max(10, cols - len(head))) or [""]):
            lines.append(fit((head if i == 0 else " " * len(head)) + line, cols))
        if doc:
            lines += [fit(line, cols) for line in textwrap.wrap(doc, max(16, cols), initial_indent=" " * 6,
                                                                subsequent_indent=" " * 6)]
    return lines


def _labelled(p: Any) -> str:
    """A promoted param of a Look shows its label (and group) before its doc."""
    label, group = p.type.opts.get("label"), p.type.opts.get("group")
    head = f"{label}" + (f" [{group}]" if group else "") + ": " if label else ""
    return head + (p.doc or "")


def describe(spec: NodeSpec, registry: Registry, cols: int) -> list[str]:
    """The lines of ``nodegraph describe TYPE``, each at most ``cols`` cells."""
    wrap = lambda text, indent="": [fit(line, cols) for line in textwrap.wrap(  # noqa: E731
        text, max(10, cols), initial_indent=indent, subsequent_indent=indent)] if text.strip() else []
    lines = [fit(f"{spec.id}  {spec.title}", cols)]
    facts = [f"category {spec.category}", f"version {spec.version}"]
    if spec.pack:
        from .usage import pack_licence

        lic = pack_licence(spec.pack)
        facts.append(f"pack {spec.pack}" + (f" ({lic})" if lic else " (no licence declared)"))
    facts.append({"pure": "same inputs, same result", "seeded": "same seed, same result",
                  "nondeterministic": "may differ from run to run",
                  "reads-files": "re-runs when its files change"}.get(spec.determinism, spec.determinism))
    if spec.cost != "cpu":
        facts.append(f"runs on {'the GPU when there is one' if spec.cost == 'gpu' else 'files (I/O)'}")
    if spec.output:
        facts.append("writes files to the output folder")
    if spec.pointwise:
        facts.append("per-pixel colour (can be baked into a 3D LUT)")
    lines += wrap(", ".join(facts))
    for para in spec.description.split("\n\n"):
        lines += [""] + wrap(" ".join(para.split()))
    wired = [p for p in spec.inputs if not p.is_param]
    params = [p for p in spec.inputs if p.is_param]
    if wired:
        lines += ["", "Inputs (linked from another node's output):"]
        lines += _block([(p.name, port_facts(p), p.doc) for p in wired], cols)
    if params:
        lines += ["", "Params (in the graph file, the editor, or run --set NODE.PARAM=VALUE;", "a link can feed them too):"]
        lines += _block([(p.name, port_facts(p), _labelled(p)) for p in params], cols)
    lines += ["", "Outputs:"]
    if spec.outputs:
        lines += _block([(o.name, o.type.id, "") for o in spec.outputs], cols)
    else:
        lines.append("  (none: it writes files)")
    from .fileformat import render

    graph = example_graph(spec, registry)
    lines += [""] + wrap("Example: a graph with this node" + (" and the nodes it needs" if len(graph["nodes"]) > 1 else "")
                         + f" (nodegraph describe {spec.id} --example > example.json; nodegraph validate example.json):")
    paths = [f"{n}.{k}" for n, rec in graph["nodes"].items() for k, v in rec.get("params", {}).items()
             if (s := registry.specs.get(rec["type"])) and (pp := s.input(k)) is not None and pp.type.id == "path"]
    lines += render(graph).splitlines()  # JSON: long values are not cut, so it stays valid to paste
    if paths:
        lines += wrap("Put your own files in " + ", ".join(paths) + " (relative to the graph file).")
    return lines


# -- the example graph -----------------------------------------------------------------------------

def _sample(p: Port) -> Any:
    """A value for a required param, valid for its type."""
    opts = p.type.opts
    tid = p.type.id
    if tid == "path":
        kind = str(opts.get("kind") or "file")
        exts = opts.get("extensions") or ()
        if kind.startswith("model:"):
            return f"my_{kind.split(':', 1)[1].rstrip('s') or 'model'}.safetensors"
        return f"my_{kind}{exts[0] if exts else '.txt'}"
    candidates: list[Any] = []
    if opts.get("choices"):
        candidates.append(list(opts["choices"])[0])
    if tid == "text":
        candidates.append("Hello from nodegraph")
    candidates += [opts.get("min"), 0, 0.0, False, ""]
    for c in candidates:
        if c is None:
            continue
        try:
            p.type.from_json(c)
            return c
        except Exception:  # noqa: BLE001 - not this one; try the next
            continue
    return None


def _needs(spec: NodeSpec) -> list[Port]:
    """The inputs that must be linked (required and not a literal param)."""
    return [p for p in spec.inputs if p.required and not p.is_param]


def _producers(registry: Registry) -> dict[str, tuple[float, str, str]]:
    """value type id -> (cost, producer type id, its output port): the cheapest chain of nodes that
    makes a value of that type from nothing (each node costs 1, a file to supply 0.5 more)."""
    types = {p.type.id: p.type.vtype for s in registry for p in s.inputs}
    best: dict[str, tuple[float, str, str]] = {}
    for _ in range(6):  # chains longer than this are not worth showing as an example
        changed = False
        for s in registry:
            if s.output or not s.outputs:
                continue
            need = _needs(s)
            if any(p.type.id not in best for p in need):
                continue
            cost = 1 + sum(best[p.type.id][0] for p in need) + 0.5 * sum(
                1 for p in s.inputs if p.required and p.type.id == "path")
            for o in s.outputs:
                for tid, vt in types.items():
                    if can_connect(o.type.vtype, vt):
                        old = best.get(tid)
                        if old is None or (cost, s.id) < (old[0], old[1]):
                            best[tid] = (cost, s.id, o.name)
                            changed = True
        if not changed:
            break
    return best


def example_graph(spec: NodeSpec, registry: Registry) -> dict:
    """A whole graph file (as data) with one node of ``spec``, its required params filled with
    valid values, and the fewest nodes needed to feed its required inputs."""
    producers = _producers(registry)
    nodes: dict[str, dict] = {}

    def add(s: NodeSpec, depth: int) -> str:
        from .graph import base_id

        base = base_id(s.id)
        nid, i = base, 2
        while nid in nodes:
            nid, i = f"{base}_{i}", i + 1
        rec: dict[str, Any] = {"type": s.id, "version": s.version}
        nodes[nid] = rec
        params = {p.name: _sample(p) for p in s.inputs if p.is_param and p.required}
        if params:
            rec["params"] = params
        links = {}
        for p in _needs(s):
            got = producers.get(p.type.id)
            if got is None or depth > 6:
                continue  # no node makes it: the example says so by failing validate, never by a fake link
            src = add(registry.specs[got[1]], depth + 1)
            links[p.name] = f"{src}.{got[2]}"
        if links:
            rec["inputs"] = links
        return nid

    add(spec, 0)
    return {"format": "nodegraph", "version": 1, "nodes": nodes}
