"""The provenance record every output file carries: how it was made, in a form that is the same on
every machine.

For one output node of one run, :func:`make_record` gives::

    {"format": "nodegraph.provenance/1",
     "nodegraph": "0.1.0",                                   # the version that wrote the file
     "graph": {"sha256": "<hex>", "title": "..."},           # sha256 of the graph text the file embeds
     "output": {"node": "save", "type": "image.save_png"},
     "models": [{"node", "type", "param", "kind", "ref", "sha256", "size", "format", "source",
                 "licence": {"id", "name", "commercial", ...}}, ...],
     "seeds": [{"node", "param", "value"}, ...],
     "packs": [{"name", "distribution", "version", "namespaces", "licence"}, ...],
     "looks": ["look:studio/noir@1.0.0", ...],
     "licences": "commercial use: no (cc-by-nc-4.0)",
     "ai_generated": true,                                   # a node upstream used a model
     "digital_source_type": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"}

Only what the output needs counts (``nodegraph.usage`` with the output node as target): a model on
another branch of the graph is not in this file's record. ``graph.sha256`` is the sha256 of the
canonical graph text as files embed it (``nodegraph.paths.provenance_text``: no absolute path of
this machine), so the same graph gives the same hash on every machine, and ``nodegraph provenance``
can check it against the graph the file carries.

No path of the maker's machine is written: model references that are absolute paths are written
relative to the graph's folder when the model lies inside it, else by their file name (the sha256
says which file it was). There is no time of writing: the same graph run twice writes the same
bytes (a signed C2PA manifest, ``nodegraph.credentials``, carries its own signing time).

Records are made once per output node per run (the scheduler hands them to the node through
``Context.provenance``); model digests are memoised by path, size and mtime, so a model is hashed
once, not once per file or frame.
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import Any

FORMAT = "nodegraph.provenance/1"
#: IPTC digital source types (what C2PA's ``c2pa.actions`` assertion names)
IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"

__all__ = ["FORMAT", "IPTC", "make_record", "record_text", "graph_sha256", "digital_source_type", "describe",
           "seal"]


def graph_sha256(graph_text: str) -> str:
    """The hash a record gives the graph: sha256 of its canonical text (UTF-8)."""
    return hashlib.sha256(graph_text.encode("utf-8")).hexdigest()


def record_text(record: dict) -> str:
    """The record as files carry it: compact JSON with sorted keys (ASCII, so any text field holds it)."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"))


def digital_source_type(ai_generated: bool, has_inputs: bool) -> str:
    """The IPTC term for content made by a graph: with a model, ``trainedAlgorithmicMedia`` (or
    ``compositeWithTrainedAlgorithmicMedia`` when files the user gave went in too); without one,
    ``digitalCreation`` (or ``composite`` of the files given)."""
    if ai_generated:
        return IPTC + ("compositeWithTrainedAlgorithmicMedia" if has_inputs else "trainedAlgorithmicMedia")
    return IPTC + ("composite" if has_inputs else "digitalCreation")


def make_record(doc: Any, registry: Any, base_dir: str | os.PathLike, node: str, type_id: str, graph_text: str,
                looks: dict[str, str] | None = None, pins: Any = None) -> dict:
    """The provenance record of output node ``node`` (of type ``type_id``) of ``doc`` (flat or
    not), whose file embeds ``graph_text``. ``looks``: for a flat document, which no longer names
    its Looks, each expanded instance (its flat id) and its Look type; a Look counts when a node
    inside it is upstream of the output. Default: the Look types ``doc`` holds. ``pins``: the
    run's model pins (a model found by the sha256 a bundle manifest records), as the run found them."""
    from . import __version__
    from .paths import files
    from .usage import usage

    u = usage(doc, registry, base_dir, digests=True, targets=[node], pins=pins)
    models = []
    for m in u.models:
        entry = m.manifest(base_dir)  # a model inside the graph's folder by its relative path
        if not m.found:
            entry["missing"] = True
        models.append(entry)
    needed = set(u.nodes)
    has_inputs = any(r.node in needed and not r.is_model for r in files(u.doc, registry, base_dir))
    ai = bool(models)
    title = doc.meta.get("title", "") if isinstance(getattr(doc, "meta", None), dict) else ""
    return {
        "format": FORMAT,
        "nodegraph": __version__,
        "graph": {"sha256": graph_sha256(graph_text), "title": title if isinstance(title, str) else ""},
        "output": {"node": node, "type": type_id},
        "models": models,
        "seeds": u.seeds,
        "packs": [p.manifest() for p in u.packs],
        "looks": sorted({t for fid, t in looks.items() if any(n.startswith(fid + "/") for n in needed)})
        if looks else u.looks,
        "licences": u.licence_summary(),
        "ai_generated": ai,
        "digital_source_type": digital_source_type(ai, has_inputs),
    }


def seal(files: list, record: dict | None, signer: Any) -> None:
    """Sign each written file with a C2PA manifest holding ``record`` (the one place nodegraph
    does it; the scheduler calls it after an output node wrote its files, before the cache notes
    them). The signer is ``Evaluator.signer`` (``nodegraph.credentials``' identity, e.g. from
    ``nodegraph run --sign``). Nothing happens without a record (``--no-embed``) or a signer."""
    if record is None or signer is None or not files:
        return
    from .credentials import sign_file, supported  # only reached when a signer was given

    for path in files:
        if supported(path):
            sign_file(path, record, signer, ai_generated=bool(record.get("ai_generated")),
                      digital_source_type=record.get("digital_source_type"))


def describe(record: dict, *, graph_text: str | None = None) -> str:
    """The record as text for people (``nodegraph provenance FILE``). With ``graph_text`` (the
    graph the file carries) it says whether the recorded hash matches it."""
    lines = []
    g = record.get("graph") or {}
    out = record.get("output") or {}
    lines.append(f"made by nodegraph {record.get('nodegraph', '?')} (record {record.get('format', '?')})")
    title = f" \"{g['title']}\"" if g.get("title") else ""
    lines.append(f"graph{title}: sha256 {g.get('sha256', '?')}")
    if graph_text is not None:
        ok = graph_sha256(graph_text) == g.get("sha256")
        lines.append("  the graph embedded in the file matches this hash" if ok else
                     "  WARNING: the graph embedded in the file does not match this hash (edited after writing?)")
    lines.append(f"output node: {out.get('node', '?')} ({out.get('type', '?')})")
    models = record.get("models") or []
    lines.append(f"models ({len(models)}):" if models else "models: none")
    for m in models:
        lic = m.get("licence") or {}
        lines.append(f"  {m.get('node')}.{m.get('param')}: {m.get('ref')} [{m.get('kind')}]")
        if m.get("missing"):
            lines.append("    not found on the machine that wrote the file")
        if m.get("sha256"):
            lines.append(f"    sha256 {m['sha256']}" + (f", {m['size']} bytes" if m.get("size") else ""))
        if m.get("source"):
            lines.append(f"    source {m['source']}")
        lines.append(f"    licence {lic.get('id', 'unknown')} ({lic.get('name', '')}); commercial use: "
                     f"{lic.get('commercial', 'unknown')}")
    seeds = record.get("seeds") or []
    lines.append("seeds: " + (", ".join(f"{s.get('node')}.{s.get('param')}={s.get('value')}" for s in seeds)
                              if seeds else "none"))
    packs = record.get("packs") or []
    if packs:
        lines.append("node packs: " + ", ".join(
            f"{p.get('distribution') or p.get('name')} {p.get('version') or '?'} ({p.get('licence', 'unknown')}; "
            f"{', '.join(p.get('namespaces') or [])})" for p in packs))
    if record.get("looks"):
        lines.append("looks: " + ", ".join(record["looks"]))
    lines.append(f"licences: {record.get('licences', 'unknown')}")
    ai = record.get("ai_generated")
    lines.append("made with a generative model: " + ("yes" if ai else "no" if ai is False else "unknown"))
    return "\n".join(lines)
