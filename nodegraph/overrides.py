"""Where a param's value really comes from, when not from the value the node shows.

Two cases, both said in the editor's inspector and in the run log, never silently:

- a param port that is linked takes the linked value; a value typed on the node is then unused
  (level "warning"; a linked param with no typed value is level "linked");
- a param a node declares with ``defaults_from`` (``nodegraph.node``), left at its default, takes
  its value from its source: a linked input (a Speak node's pitch from the linked Character) or
  the file a path param names (a Character's mouth anchor from its character.json) (level "note").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .graph import Document
from .node import NodeSpec


@dataclass(frozen=True)
class Override:
    node: str
    param: str
    source: str  # "the link from 'a.text'", "the linked character ('mira')", "definition 'x/character.json'"
    level: str  # "warning" | "note" | "linked"


def _short(value: Any, n: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= n else text[: n - 3] + "..."


def overrides(doc: Document, nid: str, spec: NodeSpec) -> list[Override]:
    """The params of node ``nid`` whose value comes from elsewhere than what the node shows."""
    params = doc.params(nid)
    linked = doc.inputs(nid)
    by_name = {p.name: p for p in spec.inputs}
    out: list[Override] = []
    for p in spec.inputs:
        links = linked.get(p.name)
        if p.is_param and links:
            src = ", ".join(f"'{l.src}.{l.src_port}'" for l in links)
            typed = params.get(p.name)
            out.append(Override(nid, p.name, f"the link from {src}",
                                "warning" if typed is not None and typed != p.default_json else "linked"))
    for param, source in spec.defaults_from:
        port = by_name[param]
        if linked.get(param) or params.get(param, port.default_json) != port.default_json:
            continue  # linked (said above), or set on the node: the node's own value is used
        links = linked.get(source)
        if links:
            out.append(Override(nid, param, f"the linked {source} ({', '.join(repr(l.src) for l in links)})", "note"))
            continue
        src = by_name[source]
        value = params.get(source, src.default_json)
        if src.is_param and value not in (None, "") and value != src.default_json:
            out.append(Override(nid, param, f"{source} {_short(value, 100)}", "note"))
    return out


def run_notices(doc: Document, nodes: list[str], specs: dict[str, NodeSpec]) -> list[tuple[str, str, str]]:
    """(node, level, message) for the run log: one line per node and source."""
    out = []
    attrs = doc.g._node
    for nid in nodes:
        rec = attrs[nid]
        spec = specs.get(rec["type"])
        if spec is None:
            continue
        if not spec.defaults_from:  # most nodes: nothing to say unless a typed value sits under a link
            params = rec["params"]
            if not params or not any(p in params for p in doc.inputs(nid)):
                continue
        grouped: dict[tuple[str, str], list[str]] = {}
        for o in overrides(doc, nid, spec):
            if o.level != "linked":
                grouped.setdefault((o.level, o.source), []).append(o.param)
        params = doc.params(nid)
        for (level, source), names in grouped.items():
            if level == "warning":
                for name in names:
                    out.append((nid, level, f"param {name!r} = {_short(params.get(name))} set on the node is not "
                                            f"used: {source} overrides it"))
            else:
                what = ", ".join(names)
                where = " where that file sets them" if not source.startswith("the linked") else ""
                out.append((nid, level, f"{what}: left unset here, so taken from {source}{where} "
                                        "(a value set on the node wins)"))
    return out


__all__ = ["Override", "overrides", "run_notices"]
