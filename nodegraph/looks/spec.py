"""A Look's face as a node type: the ``NodeSpec`` the editor, ``validate`` and ``describe`` see
for an instance (typed inputs, promoted params with their ranges, outputs). The instance is
never called: the evaluator expands it into its inner nodes (``nodegraph.looks.expand``)."""
from __future__ import annotations

from typing import Any, Callable

from ..node import NodeSpec, OutPort, Port
from ..types import ValueError_
from ..types.base import PortType
from .model import Look


class LookBroken(ValueError):
    """A Look that cannot be used here (an inner node type is missing, a port does not exist)."""


def _never(*_: Any, **__: Any) -> Any:
    raise RuntimeError("a Look instance is evaluated through its inner nodes, never called")


def build_spec(look: Look, inner_spec: Callable[[str], NodeSpec]) -> NodeSpec:
    """The node type of ``look``'s instances; ``inner_spec(type_id)`` gives an inner node's type
    (raising ``LookBroken`` or ``KeyError`` when it is not installed)."""
    g = look.graph

    def spec_of(nid: str) -> NodeSpec:
        t = g.type_of(nid)
        try:
            return inner_spec(t)
        except (KeyError, LookBroken) as e:
            raise LookBroken(f"Look {look.label}: inner node {nid!r}: {e}") from None

    inputs: list[Port] = []
    for name, port in look.inputs.items():
        first: Port | None = None
        for nid, pname in port.to:
            p = spec_of(nid).input(pname)
            if p is None:
                raise LookBroken(f"Look {look.label}: input {name!r} feeds {nid}.{pname}, which node type "
                                 f"{g.type_of(nid)} does not have")
            first = first or p
        assert first is not None
        if first.type.id != port.type:
            raise LookBroken(f"Look {look.label}: input {name!r} is declared {port.type} but feeds a "
                             f"{first.type.id} ({port.to[0][0]}.{port.to[0][1]})")
        inputs.append(Port(name, first.type, default=first.default, variadic=first.variadic, doc=first.doc))
    for name, pro in look.params.items():
        nid, pname = pro.to[0]
        inner = spec_of(nid).input(pname)
        if inner is None or not inner.is_param:
            raise LookBroken(f"Look {look.label}: param {name!r} sets {nid}.{pname}, which is not a param of "
                             f"{g.type_of(nid)}")
        for onid, opname in pro.to[1:]:
            other = spec_of(onid).input(opname)
            if other is None or other.type.id != inner.type.id:
                raise LookBroken(f"Look {look.label}: param {name!r} also sets {onid}.{opname}, which is not a "
                                 f"{inner.type.id} param")
        opts = dict(inner.type.opts)
        if pro.min is not None:
            opts["min"] = pro.min
        if pro.max is not None:
            opts["max"] = pro.max
        if pro.label:
            opts["label"] = pro.label
        if pro.group:
            opts["group"] = pro.group
        ptype = PortType(inner.type.vtype, tuple(sorted(opts.items())))
        default: Any = inner.default
        stored = pro.default if pro.default is not None else g.params(nid).get(pname)
        if stored is not None:
            try:
                default = ptype.from_json(stored)
            except ValueError_ as e:
                raise LookBroken(f"Look {look.label}: param {name!r}: default {stored!r}: {e}") from None
        inputs.append(Port(name, ptype, default=default, doc=pro.doc or inner.doc))
    outputs: list[OutPort] = []
    output = any(spec_of(nid).output for nid in g.node_ids())  # a Look that saves a file is an output
    for name, port in look.outputs.items():
        nid, pname = port.source
        o = spec_of(nid).output_port(pname)
        if o is None:
            raise LookBroken(f"Look {look.label}: output {name!r} comes from {nid}.{pname}, which node type "
                             f"{g.type_of(nid)} does not have")
        if o.type.id != port.type:
            raise LookBroken(f"Look {look.label}: output {name!r} is declared {port.type} but {nid}.{pname} is a {o.type.id}")
        outputs.append(OutPort(name, o.type))
    desc = look.description or f"Look {look.id}"
    return NodeSpec(
        id=look.type_id, title=look.title or look.name.replace("-", " ").replace("_", " ").capitalize(),
        category="Looks", description=desc, version=look.version, determinism="pure", cost="cpu",
        resource=None, output=output, inputs=tuple(inputs), outputs=tuple(outputs), fn=_never,
        single_output=len(outputs) == 1, source=look.path, pack=f"look {look.id}", pack_version=look.version,
        code_version=f"look {look.id}@{look.version}")

