"""Code identity: which code computes a node, as a digest that ignores comments and formatting.

A node's cache key covers the code that computes it, so a fix in the node's function *or in a
helper module of its own pack* re-runs what it computed before, while a comment, a docstring or
a re-indentation re-runs nothing. The identity is a BLAKE3 digest over the normalised syntax trees
(docstrings dropped, compiled, the bytecode taken without line numbers) of:

* the node function itself (without its ``@node(...)`` decorator: title, category and the like
  are presentation; the version is in the key anyway);
* transitively, every function, class and module-level value of the same pack that it
  references by name: ``helper(x)``, ``dsp.mix(a, b)`` after ``from . import dsp`` (at module
  level or inside the function), ``mix(a, b)`` after ``from .dsp import mix``; a module used as
  a whole (passed around rather than used through an attribute) counts whole.

The pack is the top-level package of the node's module (``nodes`` for ``nodes.audio``), or the
module alone when it is not in a package. Code outside the pack (the engine, numpy, torch) is not
followed: the pack's version stands for it. A node that reaches its code in ways no name shows
(``getattr`` with a string, plugins) declares ``code_version="..."`` and takes the decision by hand.

Finding the identity parses the pack's modules (tens of milliseconds each), so it is remembered:
in the process, and across processes in a small memo (``IdentityMemo``, kept by the disk cache)
that is valid while the sources of every module the walk read are unchanged. Nothing here imports
a module: sources are located and read, never executed.
"""
from __future__ import annotations

import ast
import importlib.machinery
import sys
import threading
from typing import Any, Callable, Protocol

import blake3

VERSION = b"nodegraph-code-3\0"
_lock = threading.RLock()
_texts: dict[str, tuple[str, str, str] | None] = {}  # module -> (source, blake3 of it, its package)
_parsed: dict[str, "_ModuleInfo | None"] = {}
_memo: dict[Any, str] = {}


class IdentityMemo(Protocol):
    """Where identities are remembered between processes (the disk cache implements it)."""

    def get_code(self, name: str) -> tuple[list, str] | None: ...

    def put_code(self, name: str, sources: list, identity: str) -> None: ...


def pack_of(module_name: str) -> str:
    """The pack a module belongs to: its top-level package, or the module itself."""
    return module_name.split(".", 1)[0]


def code_identity(fn: Callable[..., Any], memo: IdentityMemo | None = None) -> str:
    """The digest of the code that computes ``fn`` (see the module docstring)."""
    key = getattr(fn, "__code__", None) or fn
    got = _memo.get(key)
    if got is not None:
        return got
    with _lock:
        got = _memo.get(key)
        if got is None:
            got = _from_memo(fn, memo)
        if got is None:
            got, sources = _compute(fn)
            if memo is not None and sources:
                try:
                    memo.put_code(_name(fn), sources, got)
                except Exception:  # a read-only or busy cache: the identity is still right
                    pass
        _memo[key] = got
        return got


def _name(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', getattr(fn, '__name__', '?'))}"


def _from_memo(fn: Callable[..., Any], memo: IdentityMemo | None) -> str | None:
    if memo is None:
        return None
    try:
        got = memo.get_code(_name(fn))
    except Exception:
        return None
    if not got:
        return None
    sources, identity = got
    for mod, digest in sources:  # valid only while every source the walk read is unchanged
        text = _text(mod)
        if text is None or text[1] != digest:
            return None
    return identity


# -- the walk ----------------------------------------------------------------------------------
def _compute(fn: Callable[..., Any]) -> tuple[str, list]:
    modname = getattr(fn, "__module__", None) or ""
    pack = pack_of(modname)
    info = _module(modname)
    h = blake3.blake3(VERSION)
    tree = info.function(fn) if info is not None else None
    if tree is None:  # no source (built in a REPL, exec, a frozen app): the compiled code stands in
        h.update(_bytecode_identity(getattr(fn, "__code__", None)).encode())
        return h.hexdigest()[:32], []
    read = {modname}
    parts: dict[tuple[str, str], str] = {}
    todo: list[tuple[str, _Refs]] = [(modname, _references(tree, info))]
    h.update(_dump(tree, drop_decorators=True).encode())
    while todo:
        mod, refs = todo.pop()
        minfo = _module(mod)
        if minfo is None:
            continue
        for name in sorted(refs.names):
            for target in minfo.resolve(name, pack, refs.local):
                _visit(target, parts, todo, read)
        for base, attr in sorted(refs.attrs):
            for target in minfo.resolve_attr(base, attr, pack, refs.local):
                _visit(target, parts, todo, read)
    for (mod, name), dump in sorted(parts.items()):
        h.update(f"\0{mod}:{name}\0".encode())
        h.update(dump.encode())
    sources = [[m, _texts[m][1]] for m in sorted(read) if _texts.get(m)]
    return h.hexdigest()[:32], sources


def _visit(target: tuple[str, str], parts: dict, todo: list, read: set[str]) -> None:
    """Add one (module, top-level name) to the identity; ``name == '*'`` means the whole module."""
    if target in parts:
        return
    mod, name = target
    info = _module(mod)
    read.add(mod)
    if info is None:
        parts[target] = "?"
        return
    if name == "*":
        parts[target] = info.whole
        todo.append((mod, _Refs(set(info.defs), set(), {})))
        return
    stmts = info.defs.get(name)
    if not stmts:
        return
    parts[target] = info.dump(name)
    for stmt in stmts:
        todo.append((mod, _references(stmt, info)))


class _Refs:
    __slots__ = ("names", "attrs", "local")

    def __init__(self, names: set[str], attrs: set[tuple[str, str]], local: dict[str, tuple[str, str | None]]):
        self.names, self.attrs, self.local = names, attrs, local


_refs_memo: dict[int, tuple[ast.AST, _Refs]] = {}


def _references(tree: ast.AST, info: "_ModuleInfo") -> _Refs:
    """Names read in ``tree``, ``name.attr`` pairs (a module's member used through it), and the
    imports made inside it (``from . import helper`` in a function body)."""
    got = _refs_memo.get(id(tree))
    if got is not None and got[0] is tree:
        return got[1]
    refs = _Refs(set(), set(), {})
    through: set[int] = set()  # `mod` in `mod.attr`: a member used, not the whole module
    names: list[ast.Name] = []
    Attribute, Name, ImportFrom, Import = ast.Attribute, ast.Name, ast.ImportFrom, ast.Import
    for node in _nodes(tree):
        cls = type(node)
        if cls is Name:
            names.append(node)
        elif cls is Attribute:
            if type(node.value) is Name:
                refs.attrs.add((node.value.id, node.attr))
                through.add(id(node.value))
        elif cls is ImportFrom and node is not tree:
            base = info.absolute(node.module, node.level)
            for a in node.names:
                if a.name != "*":
                    refs.local[a.asname or a.name] = (base, a.name)
        elif cls is Import and node is not tree:
            for a in node.names:
                local = a.asname or a.name.split(".", 1)[0]
                refs.local[local] = (a.name if a.asname else local, None)
    refs.names.update(n.id for n in names if id(n) not in through)
    _refs_memo[id(tree)] = (tree, refs)
    return refs


class _ModuleInfo:
    """One module's top-level bindings: what each name is defined as, or imported from."""

    def __init__(self, name: str, tree: ast.Module, package: str):
        self.name, self.package = name, package
        self.defs: dict[str, list[ast.stmt]] = {}  # name -> the top-level statements binding it
        self.dumps: dict[str, str] = {}
        self.imports: dict[str, tuple[str, str | None]] = {}  # local name -> (module, attr or None)
        self.star: list[str] = []
        self.functions: dict[int, ast.AST] = {}  # a def's first line (or decorator's) -> the def
        self._tree = tree
        self._whole: str | None = None
        for stmt in tree.body:
            self._bind(stmt)

    @property
    def whole(self) -> str:
        if self._whole is None:
            self._whole = "".join(_dump(s) for s in self._tree.body if not _is_doc(s))
        return self._whole

    def dump(self, name: str) -> str:
        got = self.dumps.get(name)
        if got is None:
            got = self.dumps[name] = "".join(_dump(s) for s in self.defs[name])
        return got

    def _bind(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self._bind_value(stmt.name, stmt)
            self.functions[stmt.lineno] = stmt
            for d in stmt.decorator_list:
                self.functions.setdefault(d.lineno, stmt)
            return
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            self._bind_import(stmt)
            return
        # assignments and compound statements (if/try/with at module level): every name they bind
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                self._bind_value(node.id, stmt)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self._bind_value(node.name, stmt)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                self._bind_import(node)

    def _bind_import(self, stmt: ast.Import | ast.ImportFrom) -> None:
        if isinstance(stmt, ast.Import):
            for a in stmt.names:
                if a.asname:
                    self.imports[a.asname] = (a.name, None)
                else:  # `import a.b` binds `a`
                    top = a.name.split(".", 1)[0]
                    self.imports[top] = (top, None)
            return
        base = self.absolute(stmt.module, stmt.level)
        for a in stmt.names:
            if a.name == "*":
                self.star.append(base)
            else:
                self.imports[a.asname or a.name] = (base, a.name)

    def _bind_value(self, name: str, stmt: ast.stmt) -> None:
        stmts = self.defs.setdefault(name, [])  # bound twice (if/else, redefinition): every statement
        if not any(s is stmt for s in stmts):
            stmts.append(stmt)

    def absolute(self, module: str | None, level: int) -> str:
        if not level:
            return module or ""
        parts = self.package.split(".") if self.package else []
        if level > 1:
            parts = parts[: len(parts) - (level - 1)]
        return ".".join(parts + ([module] if module else []))

    def function(self, fn: Callable[..., Any]) -> ast.AST | None:
        code = getattr(fn, "__code__", None)
        if code is None:
            return None
        stmt = self.functions.get(code.co_firstlineno)
        if stmt is None or getattr(stmt, "name", None) != fn.__name__:
            stmt = (self.defs.get(fn.__name__) or [None])[-1]
        return stmt if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) else None

    def resolve(self, name: str, pack: str, local: dict) -> list[tuple[str, str]]:
        """What a bare name read in this module stands for, inside ``pack`` only."""
        imp = local.get(name)
        if imp is not None:
            return _imported(imp, pack)
        if name in self.defs:
            return [(self.name, name)]
        imp = self.imports.get(name)
        if imp is not None:
            return _imported(imp, pack)
        out = []
        for star in self.star:  # `from .x import *`: the name may come from there
            if pack_of(star) == pack:
                info = _module(star)
                if info is not None and name in info.defs:
                    out.append((star, name))
        return out

    def resolve_attr(self, base: str, attr: str, pack: str, local: dict) -> list[tuple[str, str]]:
        """``base.attr``: when ``base`` names a module of the pack, just that member of it;
        otherwise (a class, a value) whatever ``base`` itself stands for."""
        imp = local.get(base)
        if imp is None and base not in self.defs:
            imp = self.imports.get(base)
        if imp is not None:
            mod, member = imp
            target = f"{mod}.{member}" if member else mod
            if pack_of(target) == pack and _text(target) is not None:
                if _text(f"{target}.{attr}") is not None:  # `pkg.submodule`
                    return [(f"{target}.{attr}", "*")]
                return [(target, attr)]
        return self.resolve(base, pack, local)


def _imported(imp: tuple[str, str | None], pack: str) -> list[tuple[str, str]]:
    mod, member = imp
    if pack_of(mod) != pack:
        return []
    if member is None:  # `import pack.mod as m` used bare: the whole module
        return [(mod, "*")] if _text(mod) is not None else []
    if _text(f"{mod}.{member}") is not None:  # `from . import helper` used bare
        return [(f"{mod}.{member}", "*")]
    return [(mod, member)]


def _module(name: str) -> _ModuleInfo | None:
    if name in _parsed:
        return _parsed[name]
    info = None
    text = _text(name)
    if text is not None:
        try:
            info = _ModuleInfo(name, ast.parse(text[0]), text[2])
        except (SyntaxError, ValueError):
            info = None
    _parsed[name] = info
    return info


def _text(name: str) -> tuple[str, str, str] | None:
    """(source, its BLAKE3, its package) of a module, located without importing anything."""
    if name in _texts:
        return _texts[name]
    got = None
    try:
        spec = _find_spec(name)
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "get_source"):
            source = spec.loader.get_source(name)
            if source is not None:
                package = name if spec.submodule_search_locations is not None else name.rpartition(".")[0]
                got = (source, blake3.blake3(source.encode("utf-8", "surrogateescape")).hexdigest(), package)
    except (ImportError, OSError, ValueError, AttributeError, UnicodeDecodeError):
        got = None
    _texts[name] = got
    return got


def _find_spec(name: str):
    mod = sys.modules.get(name)
    spec = getattr(mod, "__spec__", None) if mod is not None else None
    if spec is not None:
        return spec
    parent, _, leaf = name.rpartition(".")
    if not parent:
        return importlib.machinery.PathFinder.find_spec(name)
    pspec = _find_spec(parent)
    locations = getattr(pspec, "submodule_search_locations", None) if pspec is not None else None
    if not locations:  # the parent is a plain module: `parent.leaf` is a member, not a module
        return None
    return importlib.machinery.PathFinder.find_spec(name, list(locations))


# -- normalising ---------------------------------------------------------------------------------
def _nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of ``tree`` (``ast.walk``'s set, in another order, several times faster)."""
    out = [tree]
    AST = ast.AST
    for node in out:  # grows while it is read
        for field in node._fields:
            v = getattr(node, field, None)
            if type(v) is list:
                out.extend(x for x in v if isinstance(x, AST))
            elif isinstance(v, AST):
                out.append(v)
    return out


_BODIES = ("body", "orelse", "finalbody", "handlers", "cases")


def _strip(tree: ast.AST) -> None:
    """Drop docstrings and other bare string statements, in place (they compute nothing). They
    stand only in statement lists, so only statements are visited."""
    todo = [tree]
    for node in todo:
        for field in _BODIES:
            body = getattr(node, field, None)
            if type(body) is not list or not body:
                continue
            if any(_is_doc(s) for s in body):
                body = [s for s in body if not _is_doc(s)] or [ast.Pass()]
                setattr(node, field, body)
            todo.extend(body)


def _is_doc(stmt: ast.AST) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def _dump(tree: ast.AST, drop_decorators: bool = False) -> str:
    """The statement ``tree`` without positions or docstrings: the digest of the bytecode it
    compiles to, line numbers left out (``compile`` is C: several times faster than
    ``ast.dump``, and it leaves out what computes nothing, such as bare string statements)."""
    _strip(tree)
    decorators = getattr(tree, "decorator_list", None)
    if drop_decorators and decorators:
        tree.decorator_list = []
    try:
        code = compile(ast.Module(body=[tree], type_ignores=[]), "<code identity>", "exec", dont_inherit=True)
        return _bytecode_identity(code)
    except (SyntaxError, ValueError, TypeError):  # not compilable alone: the tree itself
        return ast.dump(tree, annotate_fields=False, include_attributes=False)
    finally:
        if drop_decorators and decorators:
            tree.decorator_list = decorators


def _bytecode_identity(code: Any) -> str:
    """Compiled code without positions (line numbers and the file are left out)."""
    if code is None:
        return ""
    h = blake3.blake3(code.co_code)
    h.update(code.co_exceptiontable)
    h.update(repr((code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars, code.co_argcount,
                   code.co_posonlyargcount, code.co_kwonlyargcount, code.co_flags, code.co_name)).encode())
    for c in code.co_consts:
        if hasattr(c, "co_code"):
            h.update(b"\0code\0" + _bytecode_identity(c).encode())
        else:
            h.update(b"\0" + _const(c).encode())
    return h.hexdigest()


def _const(c: Any) -> str:
    """A constant's text, the same in every process (a frozenset's order follows string hashing,
    which differs from process to process)."""
    if isinstance(c, frozenset):
        return "frozenset(" + ",".join(sorted(_const(x) for x in c)) + ")"
    if isinstance(c, tuple):
        return "(" + ",".join(_const(x) for x in c) + ")"
    return f"{type(c).__name__}:{c!r}"
