"""Checking a document against the installed node types. Every problem is an ``Issue`` whose
message names the node and port at fault; ``validate`` collects them all rather than stopping
at the first.

Besides types and links, it enforces what an untrusted graph may do (``nodegraph.policy``):
output file names (params declared ``Text(output_file=...)``) must be safe and distinct between
output nodes, path params must lie inside the folders the graph may read, and a node's memory
estimate (``@node(memory=...)``) must fit the memory budget.
"""
from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from typing import Any, Iterable

from .errors import UnsafePath
from .fsio import check_name, name_key
from .graph import Document
from .node import REQUIRED, NodeSpec
from .registry import Registry
from .types import ValueError_, can_connect


@dataclass(frozen=True)
class Issue:
    code: str  # unknown_type | node_version | unknown_param | missing_input | bad_value | type_mismatch
    #            | cycle | dangling_link | unknown_port | too_many_links
    #            | unsafe_output | duplicate_output | read_outside | memory | missing_file
    message: str
    node: str | None = None
    port: str | None = None


def _hint(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f" (it has: {', '.join(options)})" if options else " (it has none)"


def validate(doc: Document, registry: Registry, only: set[str] | None = None, *, policy: Any = None,
             check_files: bool = False) -> list[Issue]:
    """Every problem of the document; with ``only``, just those nodes' own problems (params,
    required inputs, links into them). The evaluator uses that after edits that added or removed
    no node or link, when cycles and dangling links cannot have appeared (widen ``only`` with
    ``scope`` first: a file name edited on one output node concerns every output node).

    ``policy`` (``nodegraph.policy.Policy``) gives the folders the graph may read and the memory
    budget; without one, paths are not checked and the budget is the default one. ``check_files``
    (``nodegraph validate``) also reports every path param whose file does not exist (relative
    paths taken from the policy's graph folder); a run leaves that to the node, which fails with
    its own message while the other branches go on."""
    issues: list[Issue] = []
    add = issues.append
    specs: dict[str, NodeSpec] = {}
    if only is not None:
        only = scope(doc, registry, only)

    for nid in (doc.node_ids() if only is None else sorted(n for n in only if n in doc)):
        rec = doc.node(nid)
        type_id = rec["type"]
        spec = registry.specs.get(type_id)
        if spec is None:
            add(Issue("unknown_type", f"node {nid!r}: {registry.explain_unknown(type_id, doc.packs)}", nid))
            continue
        specs[nid] = spec
        version = rec["version"]
        major = _majors.get(version)
        if major is None:
            major = _majors[version] = int(version.split(".", 1)[0])
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
                code = "unsafe_output" if port.type.opts.get("output_file") else "bad_value"
                add(Issue(code, f"node {nid!r} ({type_id}) param {pname!r}: {e}", nid, pname))
        for port in spec.required_inputs:
            if port.name not in linked and port.name not in rec["params"]:
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

    issues += _duplicate_outputs(doc, registry, only)
    if policy is None:
        from .policy import Policy

        policy = Policy(defaults=False)
    check_reads = policy.base_dir is not None
    for nid, spec in specs.items():
        reads = check_reads and spec.reads_paths
        if not reads and spec.memory is None:
            continue
        params = _literal_params(doc, nid, spec)
        if reads:
            issues += _reads(nid, spec, params, policy)
        if spec.memory is not None:
            issues += _memory(nid, spec, params, policy)
    if check_files and check_reads:
        issues += missing_files(doc, registry, policy.base_dir, only, {(i.node, i.port) for i in issues})
    return issues


def missing_files(doc: Document, registry: Registry, base: Any, only: set[str] | None = None,
                  skip: Iterable[tuple] = ()) -> list[Issue]:
    """An issue naming the node, the param and the path for every path param whose file does not
    exist (``skip``: (node, param) pairs already reported, say as outside the readable folders)."""
    from .paths import missing

    skip = set(skip)
    out = []
    for ref, path in missing(doc, registry, base):
        if (only is not None and ref.node not in only) or (ref.node, ref.param) in skip:
            continue
        where = "" if str(path) == ref.value else f" (looked for {path})"
        what = "model file or folder" if ref.is_model else "file"
        out.append(Issue("missing_file", f"node {ref.node!r} ({doc.type_of(ref.node)}) param {ref.param!r}: the {what} "
                                         f"{ref.value!r} does not exist{where}", ref.node, ref.param))
    return out


# -- what an untrusted graph may do ------------------------------------------------------------------

_majors: dict[str, int] = {}  # a version string -> its major number


def scope(doc: Document, registry: Registry, only: Iterable[str]) -> set[str]:
    """``only`` widened to every node that writes a named output file when one of them is in it:
    two outputs clash by their file names, so an edit to one concerns all."""
    only = set(only)
    writers = {n for n in doc.node_ids() if (s := registry.specs.get(doc.type_of(n))) is not None and s.output_file_ports}
    return only | writers if only & writers else only


def final_output_name(name: str, opt: Any) -> str:
    """The name a node declared ``Text(output_file=(".png", ...))`` writes: the first extension is
    added when the name ends with none of them."""
    if isinstance(opt, tuple) and not name.lower().endswith(opt):
        return name + opt[0]
    return name


def _literal_params(doc: Document, nid: str, spec: NodeSpec) -> dict[str, Any]:
    """The node's params that are literals (stored, else the default), read by their types; a
    param fed by a link or holding a bad value is absent."""
    stored, linked = doc.params(nid), doc.inputs(nid)
    out: dict[str, Any] = {}
    for port in spec.inputs:
        if not port.is_param or port.name in linked:
            continue
        if port.name in stored:
            try:
                out[port.name] = port.type.from_json(stored[port.name])
            except ValueError_:
                continue
        elif port.default is not REQUIRED:
            out[port.name] = port.default
    return out


def _duplicate_outputs(doc: Document, registry: Registry, only: set[str] | None) -> list[Issue]:
    seen: dict[str, list[tuple[str, str, str]]] = {}
    issues: list[Issue] = []
    for nid in doc.node_ids():
        spec = registry.specs.get(doc.type_of(nid))
        if spec is None:
            continue
        ports = spec.output_file_ports
        if not ports:
            continue
        params = _literal_params(doc, nid, spec)
        for port in ports:
            value = params.get(port.name)
            if not isinstance(value, str):
                continue
            name = final_output_name(value, port.type.opts.get("output_file"))
            try:
                check_name(value)
            except UnsafePath:
                continue  # reported with the param's value
            try:
                key = name_key(check_name(name))
            except UnsafePath as e:  # fine as typed, too long once the node adds its extension
                if only is None or nid in only:
                    issues.append(Issue("unsafe_output", f"node {nid!r} ({spec.id}) param {port.name!r}: {e}", nid, port.name))
                continue
            seen.setdefault(key, []).append((nid, port.name, name))
    for writers in seen.values():
        first_node, first_param, first_name = writers[0]
        for nid, pname, name in writers[1:]:
            if only is not None and nid not in only and first_node not in only:
                continue
            same = f"{name!r}" if name == first_name else f"{name!r} and {first_name!r} (the same file where case does not count)"
            issues.append(Issue(
                "duplicate_output",
                f"node {nid!r} ({doc.type_of(nid)}) param {pname!r} and node {first_node!r} param {first_param!r} both write the output "
                f"file {same}; give each output its own file name", nid, pname))
    return issues


def _reads(nid: str, spec: NodeSpec, params: dict[str, Any], policy: Any) -> list[Issue]:
    issues = []
    for port in spec.inputs:
        value = params.get(port.name)
        if port.type.id != "path" or not isinstance(value, str) or not value.strip():
            continue
        kind = str(port.type.opts.get("kind") or "")
        if kind.startswith("model:") and not _model_ref_is_path(value, policy):
            continue  # a model name or repo id: looked up in the model folders and the HF cache only
        why = policy.why_not(value)
        if why is not None:
            issues.append(Issue("read_outside", f"node {nid!r} ({spec.id}) param {port.name!r}: {why}", nid, port.name))
    return issues


def _model_ref_is_path(value: str, policy: Any) -> bool:
    """Whether a model reference is taken as a file path (the first rule of ``models.lookup.resolve``)."""
    from .paths import is_pathlike

    return is_pathlike(value) or os.path.lexists(policy.resolve(value))


def _memory(nid: str, spec: NodeSpec, params: dict[str, Any], policy: Any) -> list[Issue]:
    budget = policy.memory_budget
    if budget is None:
        return []
    try:
        estimate = spec.memory(params)
    except (KeyError, TypeError, ValueError, ArithmeticError):
        return []  # a param it needs comes over a link: nothing to say before the run
    if not estimate:
        return []
    need, names = estimate
    names = (names,) if isinstance(names, str) else tuple(names)
    if need <= budget:
        return []
    from .cache import format_size

    what = " x ".join(f"param {n!r} = {params[n]!r}" if n in params else f"param {n!r}" for n in names)
    them = "it" if len(names) == 1 else "them"
    return [Issue("memory", f"node {nid!r} ({spec.id}): {what} would need about {format_size(need)} of memory, over "
                            f"the budget of {format_size(budget)} ({policy.memory_budget_source}); lower {them}, or "
                            f"raise the budget with --memory-budget SIZE or $NODEGRAPH_MEMORY_BUDGET",
                  nid, names[0] if names else None)]


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
