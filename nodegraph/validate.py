"""Checking a document against the installed node types. Every problem is an ``Issue`` whose
message names the node and port at fault; ``validate`` collects them all rather than stopping
at the first."""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from .graph import Document
from .node import NodeSpec
from .registry import Registry
from .types import ValueError_, can_connect


@dataclass(frozen=True)
class Issue:
    code: str  # unknown_type | node_version | unknown_param | missing_input | bad_value | type_mismatch
    #            | cycle | dangling_link | unknown_port | too_many_links
    message: str
    node: str | None = None
    port: str | None = None


def _hint(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f" (it has: {', '.join(options)})" if options else " (it has none)"


def validate(doc: Document, registry: Registry, only: set[str] | None = None) -> list[Issue]:
    """Every problem of the document; with ``only``, just those nodes' own problems (params,
    required inputs, links into them). The evaluator uses that after edits that added or removed
    no node or link, when cycles and dangling links cannot have appeared."""
    issues: list[Issue] = []
    add = issues.append
    specs: dict[str, NodeSpec] = {}

    for nid in (doc.node_ids() if only is None else sorted(n for n in only if n in doc)):
        rec = doc.node(nid)
        type_id = rec["type"]
        spec = registry.specs.get(type_id)
        if spec is None:
            add(Issue("unknown_type", f"node {nid!r}: {registry.explain_unknown(type_id, doc.packs)}", nid))
            continue
        specs[nid] = spec
        major = int(rec["version"].split(".", 1)[0])
        if major > spec.major:
            add(Issue("node_version", f"node {nid!r} ({type_id}) was saved with version {rec['version']}, "
                                      f"newer than the installed {spec.version}; update the pack {spec.pack or ''}".rstrip(), nid))
        elif major < spec.major and spec.migrate is None:
            add(Issue("node_version", f"node {nid!r} ({type_id}) was saved with version {rec['version']}; "
                                      f"the installed {spec.version} has no migration from it", nid))
        linked = doc.inputs(nid)
        for pname, value in rec["params"].items():
            port = spec.input(pname)
            if port is None or not port.is_param:
                names = [p.name for p in spec.inputs if p.is_param]
                add(Issue("unknown_param", f"node {nid!r} ({type_id}): unknown param {pname!r}{_hint(pname, names)}", nid, pname))
                continue
            if pname in linked:
                continue  # the link wins over the stored value
            try:
                port.type.from_json(value)
            except ValueError_ as e:
                add(Issue("bad_value", f"node {nid!r} ({type_id}) param {pname!r}: {e}", nid, pname))
        for port in spec.inputs:
            if port.required and port.name not in linked and port.name not in rec["params"]:
                what = "param" if port.is_param else "input"
                verb = "has no value" if port.is_param else "is not connected"
                add(Issue("missing_input", f"node {nid!r} ({type_id}): required {what} {port.name!r} {verb}", nid, port.name))

    for link in doc.dangling if only is None else ():
        add(Issue("dangling_link", f"node {link.dst!r} input {link.dst_port!r} is linked to {link.src}.{link.src_port}, "
                                   f"but there is no node {link.src!r}", link.dst, link.dst_port))

    for nid, spec in specs.items():
        for port_name, links in doc.inputs(nid).items():
            port = spec.input(port_name)
            if port is None:
                add(Issue("unknown_port", f"node {nid!r} ({spec.id}) has no input {port_name!r}"
                                          f"{_hint(port_name, [p.name for p in spec.inputs])}", nid, port_name))
                continue
            if len(links) > 1 and not port.variadic:
                add(Issue("too_many_links", f"node {nid!r} input {port_name!r} takes one link, has {len(links)}", nid, port_name))
            for link in links:
                src_spec = specs.get(link.src) if only is None else registry.specs.get(doc.type_of(link.src))
                if src_spec is None:
                    continue  # its own unknown_type issue says why
                out = src_spec.output_port(link.src_port)
                if out is None:
                    add(Issue("dangling_link", f"link {link}: node {link.src!r} ({src_spec.id}) has no output "
                                               f"{link.src_port!r}{_hint(link.src_port, [o.name for o in src_spec.outputs])}",
                              nid, port_name))
                elif not can_connect(out.type.vtype, port.type.vtype):
                    add(Issue("type_mismatch", f"link {link}: a {out.type.id} output cannot feed the "
                                               f"{port.type.id} input {port_name!r} of node {nid!r}", nid, port_name))

    cycle = doc.find_cycle() if only is None else None
    if cycle:
        add(Issue("cycle", "the graph has a cycle: " + " -> ".join(cycle), cycle[0]))
    return issues


def check_link(registry: Registry, doc: Document, src: str, src_port: str, dst: str, dst_port: str) -> str | None:
    """Why a new link would be refused, or None if it is fine (for the editor)."""
    try:
        s, d = registry.get(doc.type_of(src)), registry.get(doc.type_of(dst))
    except KeyError as e:
        return str(e)
    out, port = s.output_port(src_port), d.input(dst_port)
    if out is None:
        return f"node {src!r} has no output {src_port!r}"
    if port is None:
        return f"node {dst!r} has no input {dst_port!r}"
    if not can_connect(out.type.vtype, port.type.vtype):
        return f"a {out.type.id} output cannot feed the {port.type.id} input {dst_port!r}"
    return None


def coerce_param(spec: NodeSpec, name: str, value: Any) -> Any:
    port = spec.input(name)
    if port is None:
        raise ValueError_(f"unknown param {name!r}")
    return port.type.from_json(value)
