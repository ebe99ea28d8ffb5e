"""Declaring nodes: a decorated function is a node.

    from nodegraph import node, Int, Image

    @node("image.blur", title="Blur", category="Image", version="1.0.0")
    def blur(image: Image, radius: Int(min=0, max=64) = 2) -> Image:
        "Gaussian blur."
        ...

Every parameter is a port. One with a literal type (text, numbers, choices, paths, seeds) is
also a param that the graph file can set; any param can instead be wired from another node.
A parameter without a default is a required input. ``Variadic[T]`` takes many ordered links.
A parameter annotated ``Context`` receives the run context (progress, cancellation, files).
The return annotation is one type (output named after it) or ``Outputs(name=Type, ...)``.
The declaration is checked once, here, with a message naming the function and the problem.
"""
from __future__ import annotations

import functools
import inspect
import re
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Callable, Union, get_args, get_origin

from .types import PortType, ValueError_, port_type
from .types.base import OptionalPort

DETERMINISM = ("pure", "seeded", "nondeterministic", "reads-files")
COSTS = ("cpu", "gpu", "io")
TYPE_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+\Z")
PORT_NAME = re.compile(r"^[a-z_][a-z0-9_]*\Z")
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?\Z")
REQUIRED = inspect.Parameter.empty


class DeclarationError(TypeError):
    """A node declaration that cannot be registered; the message names the node and the fault."""


class Variadic:
    """``parts: Variadic[Text]``: one input port that takes many ordered links (a tuple)."""

    def __init__(self, item: Any):
        self.item = item

    def __class_getitem__(cls, item: Any) -> "Variadic":
        return cls(item)


class Outputs:
    """``-> Outputs(image=Image, mask=Image)``: several named outputs, returned as a dict or a
    tuple in this order."""

    def __init__(self, **ports: Any):
        self.ports = ports


@dataclass(frozen=True)
class Port:
    name: str
    type: PortType
    default: Any = REQUIRED
    variadic: bool = False
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED and not self.variadic

    @functools.cached_property
    def default_json(self) -> Any:
        """The default as the graph file would store it (None when there is none)."""
        if self.default is REQUIRED or self.default is None:
            return None
        return self.type.vtype.to_json(self.default)

    @property
    def is_param(self) -> bool:
        """Can the graph file hold a literal value for this port?"""
        return self.type.vtype.literal and not self.variadic

    def describe(self) -> dict:
        d: dict[str, Any] = {"name": self.name, **self.type.describe()}
        if self.variadic:
            d["variadic"] = True
        if self.default is not REQUIRED:
            d["default"] = self.type.vtype.to_json(self.default) if self.default is not None else None
        elif self.required:
            d["required"] = True
        if self.doc:
            d["doc"] = self.doc
        return d


@dataclass(frozen=True)
class OutPort:
    name: str
    type: PortType


@dataclass(frozen=True)
class NodeSpec:
    """Everything the engine knows about a node type."""

    id: str
    title: str
    category: str
    description: str
    version: str
    determinism: str
    cost: str
    resource: str | None
    output: bool
    inputs: tuple[Port, ...]
    outputs: tuple[OutPort, ...]
    fn: Callable[..., Any] = field(compare=False, repr=False)
    context_arg: str | None = None
    single_output: bool = True
    migrate: Callable[[dict, str], dict] | None = field(default=None, compare=False, repr=False)
    source: str = ""
    pack: str = ""
    #: the installed version of the pack (distribution) that registered the node
    pack_version: str = ""
    #: set by hand with ``@node(code_version=...)``: then only this string stands for the code
    code_version: str | None = None
    #: ``memory(params) -> (bytes, param or params) | None``: the RAM the node will need, estimated
    #: from its literal params before the run (see ``node()``); validation refuses a node over budget
    memory: Callable[[dict], Any] | None = field(default=None, compare=False, repr=False)
    #: ((param, source port), ...): a param left at its default takes its value from the source
    #: (a linked input, or a file a path param names) when there is one (see ``node()``)
    defaults_from: tuple[tuple[str, str], ...] = ()
    #: a per-pixel colour transform (each output pixel depends only on the same input pixel):
    #: it can be baked into a 3D LUT (see ``node()``)
    pointwise: bool = False

    def code(self, memo: Any = None) -> str:
        """The code identity in this node's cache key: its declared ``code_version``, or the
        digest of its function and the code of its own pack that it uses (``nodegraph.codeid``)."""
        if self.code_version is not None:
            return "v:" + self.code_version
        from .codeid import code_identity

        return code_identity(self.fn, memo)

    @property
    def namespace(self) -> str:
        return self.id.split(".", 1)[0]

    @functools.cached_property
    def pack_label(self) -> str:
        """``pack@version`` in the cache key: a new release of the pack re-runs its nodes."""
        return f"{self.pack}@{self.pack_version}" if self.pack else ""

    @functools.cached_property
    def output_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.outputs)

    @functools.cached_property
    def needs_context(self) -> bool:
        """Whether running it needs a Context: it takes one, or a path param is resolved by one."""
        return self.context_arg is not None or self.reads_paths

    def input(self, name: str) -> Port | None:
        return self._inputs_by_name.get(name)

    def output_port(self, name: str) -> OutPort | None:
        return self._outputs_by_name.get(name)

    @functools.cached_property
    def _inputs_by_name(self) -> dict[str, Port]:
        return {p.name: p for p in self.inputs}

    @functools.cached_property
    def _outputs_by_name(self) -> dict[str, OutPort]:
        return {p.name: p for p in self.outputs}

    @functools.cached_property
    def required_inputs(self) -> tuple[Port, ...]:
        return tuple(p for p in self.inputs if p.required)

    @functools.cached_property
    def reads_paths(self) -> bool:
        """Whether it has a path param (whose file the graph must be allowed to read)."""
        return any(p.type.id == "path" for p in self.inputs)

    @functools.cached_property
    def output_file_ports(self) -> tuple[Port, ...]:
        """The params that name a file it writes (declared ``Text(output_file=...)``)."""
        return tuple(p for p in self.inputs if p.is_param and p.type.opts.get("output_file")) if self.output else ()

    @functools.cached_property
    def major(self) -> int:
        return int(self.version.split(".", 1)[0])

    def describe(self) -> dict:
        return {
            "id": self.id, "title": self.title, "category": self.category,
            "description": self.description, "version": self.version,
            "determinism": self.determinism, "cost": self.cost, "output": self.output,
            "pack": self.pack, "inputs": [p.describe() for p in self.inputs],
            "outputs": [{"name": o.name, **o.type.describe()} for o in self.outputs],
            "pointwise": self.pointwise,
        }

    def call(self, kwargs: dict, ctx: Any) -> dict[str, Any]:
        """Run the function and return its outputs by name, each checked against its type."""
        if self.context_arg:
            kwargs = {**kwargs, self.context_arg: ctx}
        result = self.fn(**kwargs)
        if not self.outputs:
            return {}
        if self.single_output:
            values = {self.outputs[0].name: result}
        elif isinstance(result, dict):
            missing = [o.name for o in self.outputs if o.name not in result]
            extra = sorted(set(result) - {o.name for o in self.outputs})
            if missing or extra:
                raise ValueError_(f"returned outputs {sorted(result)}, declared {[o.name for o in self.outputs]}")
            values = result
        elif isinstance(result, tuple) and len(result) == len(self.outputs):
            values = {o.name: v for o, v in zip(self.outputs, result)}
        else:
            raise ValueError_(f"must return a dict or a {len(self.outputs)}-tuple, returned {type(result).__name__}")
        out = {}
        for o in self.outputs:
            try:
                out[o.name] = o.type.check(values[o.name])
            except ValueError_ as e:
                raise ValueError_(f"output {o.name!r}: {e}") from None
        return out


def passthrough(spec: "NodeSpec", kwargs: dict, linked: Any) -> dict[str, Any]:
    """The outputs of a bypassed node: each output takes the first linked input of its type that
    holds a value (a bypassed colour grade hands its picture on untouched; a value typed on the
    node itself is never handed on), or the run says why not."""
    out = {}
    for o in spec.outputs:
        for port in spec.inputs:
            value = kwargs.get(port.name)
            if value is None or port.name not in linked:
                continue
            if port.variadic:
                value = next((v for v in value if v is not None), None) if isinstance(value, (list, tuple)) else None
                if value is None:
                    continue
            try:
                out[o.name] = o.type.check(value)
                break
            except ValueError_:
                continue
        else:
            raise ValueError_(f"bypassed, but no linked input holds a {o.type.id} to pass on to output "
                              f"{o.name!r}: link one, or turn bypass off")
    return out


def node(id: str, *, title: str | None = None, category: str = "General", version: str = "1.0.0",
         determinism: str = "pure", cost: str = "cpu", resource: str | None = None,
         output: bool = False, migrate: Callable[[dict, str], dict] | None = None,
         description: str | None = None, code_version: str | None = None,
         memory: Callable[[dict], Any] | None = None,
         defaults_from: dict[str, str] | None = None,
         pointwise: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a node type. The function stays an ordinary function (call it in tests).

    ``memory``: an estimate of the RAM the node needs, from its params, so that validation can
    refuse a graph that would exhaust the machine before anything runs. It gets a dict of the
    node's literal params (stored value or default; a param fed by a link is absent) and returns
    ``(bytes, "param")`` or ``(bytes, ("width", "height"))`` naming the params that drive the
    figure, or None when it cannot tell::

        @node("image.solid", memory=lambda p: (p["width"] * p["height"] * 3, ("width", "height")))

    ``defaults_from``: ``{"pitch": "character"}`` says that param ``pitch``, left at its default,
    takes its value from port ``character`` when that is linked (or, for a path param, set): the
    editor's inspector and the run log then say where the value comes from, never silently.

    ``pointwise=True``: a per-pixel colour transform (each output pixel depends only on the same
    input pixel, as a LUT, curves or saturation do; not grain, blur or a vignette): it can be baked
    into a 3D LUT (``nodegraph look bake`` keeps such nodes and names the others it leaves out).

    ``code_version``: by default a node's cached results are keyed by its code (its function and
    the modules of its own pack it calls; comments and formatting do not count). A node whose code
    is reached in ways that cannot be seen (plugins, ``getattr`` by name) sets a string here and
    changes it when its results change.

    A declaration that is wrong raises ``DeclarationError``, except while the registry loads a
    pack: then the node is reported and skipped, and the rest of the pack loads."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        try:
            fn.__nodegraph__ = build_spec(  # type: ignore[attr-defined]
                fn, id=id, title=title, category=category, version=version, determinism=determinism, cost=cost,
                resource=resource, output=output, migrate=migrate, description=description,
                code_version=code_version, memory=memory, defaults_from=defaults_from, pointwise=pointwise)
        except DeclarationError as e:
            broken = _collecting.get()
            if broken is None:
                raise
            broken.append((id if isinstance(id, str) else repr(id), str(e)))
        return fn

    return wrap


#: while a pack loads, declaration errors are collected here instead of raised (see Registry)
_collecting: ContextVar[list[tuple[str, str]] | None] = ContextVar("nodegraph_collecting", default=None)


def build_spec(fn: Callable[..., Any], *, id: str, title: str | None, category: str, version: str,
               determinism: str, cost: str, resource: str | None, output: bool,
               migrate: Callable[[dict, str], dict] | None, description: str | None,
               code_version: str | None = None, memory: Callable[[dict], Any] | None = None,
               defaults_from: dict[str, str] | None = None, pointwise: bool = False) -> NodeSpec:
    where = _where(fn)

    def fail(msg: str) -> DeclarationError:
        return DeclarationError(f"node {id!r} ({where}): {msg}")

    if not isinstance(id, str) or not TYPE_ID.match(id):
        raise fail("type id must look like 'namespace.name' (lower case letters, digits, _)")
    if not isinstance(version, str) or not SEMVER.match(version):
        raise fail(f"version {version!r} is not semantic (MAJOR.MINOR.PATCH)")
    if determinism not in DETERMINISM:
        raise fail(f"determinism {determinism!r} must be one of {list(DETERMINISM)}")
    if cost not in COSTS:
        raise fail(f"cost {cost!r} must be one of {list(COSTS)}")
    if migrate is not None and not callable(migrate):
        raise fail("migrate must be a function (params, old_version) -> params")
    if not isinstance(pointwise, bool):
        raise fail(f"pointwise must be True or False, got {pointwise!r}")
    if memory is not None and not callable(memory):
        raise fail("memory must be a function (params) -> (bytes, param) or None")
    if code_version is not None and (not isinstance(code_version, str) or not code_version.strip()):
        raise fail(f"code_version {code_version!r} must be a non-empty string")
    try:
        annotations = inspect.get_annotations(fn, eval_str=True)
    except Exception as e:  # a name in an annotation string that does not exist
        raise fail(f"cannot read the annotations: {e}") from None
    doc = inspect.getdoc(fn) or ""
    summary, port_docs = _parse_doc(doc)

    from .context import Context

    inputs: list[Port] = []
    context_arg = None
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
            raise fail(f"parameter {p.name!r}: *args, **kwargs and positional-only parameters cannot be ports")
        ann = annotations.get(p.name, REQUIRED)
        if ann is Context:
            context_arg = p.name
            continue
        if ann is REQUIRED:
            raise fail(f"parameter {p.name!r} has no type annotation")
        if not PORT_NAME.match(p.name):
            raise fail(f"parameter {p.name!r}: port names are lower case letters, digits and _")
        variadic = isinstance(ann, Variadic)
        if variadic:
            ann = ann.item
            if p.default is not REQUIRED:
                raise fail(f"variadic input {p.name!r} cannot have a default (no links means an empty tuple)")
        optional = False
        if isinstance(ann, OptionalPort):  # Int(min=0) | None
            ann, optional = ann.item, True
        elif get_origin(ann) is Union or type(ann).__name__ == "UnionType":
            args = [a for a in get_args(ann) if a is not type(None)]
            if len(args) != 1 or len(get_args(ann)) != 2:
                raise fail(f"parameter {p.name!r}: only 'T | None' unions are supported, got {ann!r}")
            ann, optional = args[0], True
        pt = port_type(ann)
        if pt is None:
            raise fail(f"parameter {p.name!r}: {ann!r} is not a nodegraph value type")
        default = p.default
        if optional and default is not None:
            raise fail(f"parameter {p.name!r} is 'T | None' so its default must be None")
        if default is not REQUIRED and default is not None:
            if not pt.vtype.literal:
                raise fail(f"parameter {p.name!r}: a {pt.id} input can only default to None")
            try:
                default = pt.check(default)
            except ValueError_ as e:
                raise fail(f"parameter {p.name!r}: default {default!r} is invalid: {e}") from None
        elif default is None and not optional and pt.vtype.literal:
            raise fail(f"parameter {p.name!r} defaults to None, so annotate it '{pt.id} | None'")
        inputs.append(Port(p.name, pt, default, variadic, port_docs.get(p.name, "")))

    ret = annotations.get("return", REQUIRED)
    single = True
    if ret is REQUIRED:
        raise fail("the return annotation is missing (a type, Outputs(...), or None for an output node)")
    if ret is None or ret is type(None):
        if not output:
            raise fail("returns None, so it must be declared output=True (a node that writes files)")
        outputs: list[OutPort] = []
    elif isinstance(ret, Outputs):
        single = False
        if not ret.ports:
            raise fail("Outputs() needs at least one output")
        outputs = []
        for name, a in ret.ports.items():
            pt = port_type(a)
            if pt is None:
                raise fail(f"output {name!r}: {a!r} is not a nodegraph value type")
            if not PORT_NAME.match(name):
                raise fail(f"output {name!r}: port names are lower case letters, digits and _")
            outputs.append(OutPort(name, pt))
    else:
        pt = port_type(ret)
        if pt is None:
            raise fail(f"return annotation {ret!r} is not a nodegraph value type")
        outputs = [OutPort(pt.id, pt)]

    if determinism == "seeded" and not any(p.type.id == "seed" for p in inputs):
        raise fail("determinism 'seeded' needs a Seed input")
    if determinism == "reads-files" and not any(p.type.id == "path" for p in inputs):
        raise fail("determinism 'reads-files' needs a Path input (the file is keyed by its content)")
    if resource is None and cost == "gpu":
        resource = "gpu"
    by_name = {p.name: p for p in inputs}
    for param, source in (defaults_from or {}).items():
        if param not in by_name or not by_name[param].is_param or by_name[param].required:
            raise fail(f"defaults_from: {param!r} is not a param with a default")
        if source not in by_name or source == param:
            raise fail(f"defaults_from: the source of {param!r}, {source!r}, is not another input of the node")
    return NodeSpec(
        id=id, title=title or fn.__name__.replace("_", " ").capitalize(), category=category,
        description=description if description is not None else summary, version=version,
        determinism=determinism, cost=cost, resource=resource, output=output,
        inputs=tuple(inputs), outputs=tuple(outputs), fn=fn, context_arg=context_arg,
        single_output=single, migrate=migrate, source=where, code_version=code_version, memory=memory,
        defaults_from=tuple((defaults_from or {}).items()), pointwise=bool(pointwise),
    )


def _where(fn: Callable[..., Any]) -> str:
    try:
        file = inspect.getsourcefile(fn) or "?"
        line = inspect.getsourcelines(fn)[1]
        parts = file.replace("\\", "/").split("/")
        return f"{'/'.join(parts[-2:])}:{line}, function {fn.__name__}"
    except (OSError, TypeError):
        return f"function {getattr(fn, '__name__', fn)!r}"


def _parse_doc(doc: str) -> tuple[str, dict[str, str]]:
    """Description and per-port docs from a docstring with an ``Args:`` section."""
    lines = doc.splitlines()
    ports: dict[str, str] = {}
    body: list[str] = []
    in_args, current = False, None
    for line in lines:
        stripped = line.strip()
        if stripped in ("Args:", "Arguments:", "Ports:"):
            in_args = True
            continue
        if in_args:
            m = re.match(r"^\s+([a-z_][a-z0-9_]*)\s*:\s*(.*)$", line)
            if m:
                current = m.group(1)
                ports[current] = m.group(2).strip()
            elif stripped and current and line.startswith((" " * 8, "\t\t")):
                ports[current] += " " + stripped
            elif stripped:
                in_args = False
                body.append(line)
            continue
        body.append(line)
    return "\n".join(body).strip(), ports
