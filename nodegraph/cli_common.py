"""What several command modules share: the registry a graph runs with, and ``--set``. (Its own
module, so the command modules need not import ``nodegraph.cli``, which imports them.)"""
from __future__ import annotations

from typing import Sequence

from .cli_describe import did_you_mean
from .errors import NodegraphError
from .graph import Document


def _registry(graph: str | None = None):
    """Every installed node type, plus the Looks a graph at ``graph`` can use (its ``looks/``
    folder, the user's looks folder, packages; ``nodegraph.looks``)."""
    from .looks import with_looks
    from .registry import default_registry

    return with_looks(default_registry(), graph)


def apply_sets(doc: Document, sets: Sequence[str], registry) -> None:
    """``--set NODE.PARAM=VALUE``: VALUE is read by the param's type (JSON or plain text)."""
    from .commands import SetParam
    from .types import ValueError_

    for item in sets:
        target, eq, raw = item.partition("=")
        nid, dot, pname = target.partition(".")
        if not eq or not dot or not nid or not pname:
            raise NodegraphError(f"--set {item!r}: expected NODE.PARAM=VALUE")
        if nid not in doc:
            hint = did_you_mean(nid, doc.node_ids()) or f" (nodes: {', '.join(doc.node_ids())})"
            raise NodegraphError(f"--set {item!r}: there is no node {nid!r}{hint}")
        spec = registry.get(doc.type_of(nid), doc.packs)
        port = spec.input(pname)
        if port is None or not port.is_param:
            names = [p.name for p in spec.inputs if p.is_param]
            hint = did_you_mean(pname, names) or f" (params: {', '.join(names)})"
            raise NodegraphError(f"--set {item!r}: node {nid!r} ({spec.id}) has no param {pname!r}{hint}")
        try:
            value = port.type.vtype.parse_cli(raw, port.type.opts)
        except ValueError_ as e:
            raise NodegraphError(f"--set {item!r}: {e}") from None
        SetParam(nid, pname, port.type.vtype.to_json(value))(doc)


__all__ = ["_registry", "apply_sets"]
