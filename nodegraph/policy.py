"""What a graph may do: which folders it may read, and how much memory one node may plan for.

Graphs are untrusted (shared templates, a PNG or MP4 from someone else), so a graph reads files
only inside the folders it is allowed (its *read roots*):

- the folder tree of the graph file itself (for a graph embedded in a PNG, MP4 or FLAC: the
  folder it was made in, when the file still lies inside that tree, else the file's own folder);
- the user's model folders (``$NODEGRAPH_MODELS``, ``models.json`` roots, the Hugging Face cache);
- nodegraph's own shipped ``assets/`` folder (read only; the templates in ``graphs/`` use it);
- the output folder of the run (what the graph wrote itself);
- folders the user allows: ``--allow-read DIR`` (run, validate, explain), ``$NODEGRAPH_ALLOW_READ``
  (``os.pathsep``-separated), ``"allow_read": [...]`` in ``models.json``, and in the editor the
  folder of every file picked with a file dialog.

A path param outside them (absolute, through ``..``, or through a symbolic link that resolves
outside) is a validation error naming the node, the param and the path; ``Context.input_path``
checks the same at run time for paths that arrive over a link. A FIFO, socket or device is never
read (it could hang the run).

The memory budget caps what one node may plan to hold, estimated from its params before the run
(``@node(memory=...)``): ``--memory-budget SIZE``, else ``$NODEGRAPH_MEMORY_BUDGET``, else a quarter
of the machine's RAM. ``SIZE`` is bytes with a unit (``6G``, ``500M``), a share of RAM (``50%``),
or ``off``.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .errors import UnsafePath

ENV_ALLOW_READ = "NODEGRAPH_ALLOW_READ"
ENV_MEMORY_BUDGET = "NODEGRAPH_MEMORY_BUDGET"
#: the key in models.json (the user's nodegraph config) listing more folders graphs may read
CONFIG_ALLOW_READ = "allow_read"
MEDIA_WITH_GRAPHS = (".png", ".mp4", ".m4v", ".mov", ".flac")


class ReadNotAllowed(UnsafePath):
    """A path a graph may not read (outside its read roots, or not a regular file)."""


@dataclass(frozen=True)
class Root:
    path: str   # the real path (symbolic links resolved)
    why: str    # for messages: "the graph's folder", "--allow-read", ...

    def holds(self, real: str) -> bool:
        return real == self.path or real.startswith(self.path if self.path.endswith(os.sep) else self.path + os.sep)


def shipped_assets() -> Path | None:
    """nodegraph's own ``assets/`` folder (installed, or in a source checkout), if there is one."""
    from .paths import shipped_dir

    return shipped_dir("assets")


def graph_root_for(source: str | os.PathLike, base_dir: str | os.PathLike) -> Path:
    """The folder tree a graph may read by default. For a graph file: its folder. For a graph
    embedded in a PNG/MP4/FLAC, whose ``base_dir`` comes from the file itself (and so could name
    any folder): that folder only when the media file lies inside it, else the file's own folder."""
    src = Path(source)
    base = Path(base_dir)
    if not str(src).lower().endswith(MEDIA_WITH_GRAPHS):
        return base
    here = Path(os.path.realpath(src)).parent
    real_base = os.path.realpath(base)
    return base if Root(real_base, "").holds(str(here)) else here


def _real(p: str | os.PathLike) -> str:
    return os.path.realpath(os.path.expanduser(os.fspath(p)))


class Policy:
    """The read roots and memory budget of one graph (see the module docstring)."""

    def __init__(self, base_dir: str | os.PathLike | None = None, *, graph_root: str | os.PathLike | None = None,
                 allow_read: Iterable[str | os.PathLike] = (), output_dir: str | os.PathLike | None = None,
                 memory_budget: str | int | None = None, defaults: bool = True):
        self.base_dir = Path(base_dir) if base_dir is not None else None
        roots: list[Root] = []

        def add(p: str | os.PathLike | None, why: str) -> None:
            if p is not None and str(p).strip():
                r = Root(_real(p), why)
                if r.path not in (x.path for x in roots):
                    roots.append(r)

        root = graph_root if graph_root is not None else self.base_dir
        add(root, "the graph's folder")
        for p in allow_read:
            add(p, "--allow-read")
        if defaults:
            for p in os.environ.get(ENV_ALLOW_READ, "").split(os.pathsep):
                add(p, f"${ENV_ALLOW_READ}")
            for p, why in _configured():
                add(p, why)
            add(shipped_assets(), "nodegraph's shipped assets")
        add(output_dir, "the output folder")
        self.roots = tuple(roots)
        self.memory_budget, self.memory_budget_source = resolve_memory_budget(memory_budget)

    # -- reading -----------------------------------------------------------------------------------
    def resolve(self, value: str) -> Path:
        """``value`` as the path a node would open (relative to the graph's folder)."""
        p = Path(os.path.expanduser(value))
        if p.is_absolute() or self.base_dir is None:
            return p
        return self.base_dir / p

    def why_not(self, value: str) -> str | None:
        """None when the graph may read ``value``, else why not (naming the path)."""
        path = self.resolve(value)
        real = os.path.realpath(path)
        if not any(r.holds(real) for r in self.roots):
            shown = repr(value) if os.path.normpath(str(path)) == real and str(path) == value \
                else f"{value!r} ({real})"
            return f"{shown} is outside the folders this graph may read. {self.rule()}"
        try:
            st = os.stat(real)
        except OSError:
            return None  # missing: the node says "not found" with its own words
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            return f"{value!r} is not a regular file (a FIFO, socket or device); nodegraph does not read those"
        return None

    def check_read(self, value: str, param: str | None = None) -> Path:
        """The path to open for ``value``, or ``ReadNotAllowed`` saying why not."""
        why = self.why_not(value)
        if why is not None:
            raise ReadNotAllowed(f"param {param!r}: {why}" if param else why)
        return self.resolve(value)

    def rule(self) -> str:
        """The rule in one sentence, naming the graph's own folder and the folders allowed by hand."""
        own = [r.path for r in self.roots if r.why == "the graph's folder"]
        extra = [r.path for r in self.roots if r.why in ("--allow-read", f"${ENV_ALLOW_READ}", "picked in the file dialog")
                 or r.why.startswith("models.json")]
        places = [f"its own folder {own[0]}" if own else "its own folder", "the model folders",
                  "nodegraph's shipped assets", "the output folder"]
        if extra:
            places.append(f"the folders allowed ({', '.join(extra)})")
        return (f"A graph reads only inside {', '.join(places[:-1])} and {places[-1]}; to allow another folder "
                f"pass --allow-read DIR or set ${ENV_ALLOW_READ} (the editor allows the folder of a file you pick "
                "with Browse)")

    def widened(self, folders: Iterable[str | os.PathLike]) -> "Policy":
        """This policy with more folders allowed (the editor's file dialog)."""
        new = object.__new__(Policy)
        new.__dict__.update(self.__dict__)
        extra = [Root(_real(f), "picked in the file dialog") for f in folders]
        new.roots = self.roots + tuple(r for r in extra if r.path not in (x.path for x in self.roots))
        return new


def _configured() -> list[tuple[str, str]]:
    """The user's model folders and the ``allow_read`` folders of models.json."""
    out: list[tuple[str, str]] = []
    try:
        from .models.config import model_roots, read_config
        from .models.lookup import hf_hub_cache

        out += [(str(p), "a model folder") for p in model_roots()]
        data = read_config()
        for entry in data.get("models", {}).values():  # models registered by hand live anywhere
            if isinstance(entry, dict) and isinstance(entry.get("path"), str):
                out.append((entry["path"], "a registered model"))
        extra = data.get(CONFIG_ALLOW_READ, [])
        out += [(p, f"models.json {CONFIG_ALLOW_READ}") for p in extra if isinstance(p, str)] if isinstance(extra, list) else []
        out.append((str(hf_hub_cache()), "the Hugging Face cache"))
    except Exception:  # noqa: BLE001 - a damaged models.json: `nodegraph models` reports it; no extra roots
        pass
    return out


# -- memory ------------------------------------------------------------------------------------------

def machine_memory() -> int | None:
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, OSError, ValueError):
        return None


def parse_budget(text: str | int) -> int | None:
    """``6G``, ``500M``, ``1.5GiB``, ``8000000``, ``50%`` (of RAM) -> bytes; ``off`` -> None (no limit)."""
    if isinstance(text, int):
        return text if text > 0 else None
    t = str(text).strip()
    if t.lower() in ("off", "none", "unlimited", "0"):
        return None
    if t.endswith("%"):
        try:
            share = float(t[:-1])
        except ValueError:
            raise ValueError(f"memory budget {text!r}: expected a size (6G, 500M), a share of RAM (50%) or off") from None
        if not 0 < share <= 100:
            raise ValueError(f"memory budget {text!r}: a share of RAM is between 0% and 100%")
        total = machine_memory()
        if total is None:
            raise ValueError(f"memory budget {text!r}: this machine does not say how much RAM it has; give a size")
        return int(total * share / 100)
    from .cache import parse_size

    try:
        return parse_size(t) or None
    except (ValueError, IndexError):
        raise ValueError(f"memory budget {text!r}: expected a size (6G, 500M), a share of RAM (50%) or off") from None


def resolve_memory_budget(value: str | int | None = None) -> tuple[int | None, str]:
    """(bytes or None for no limit, where the figure comes from)."""
    if value is not None:
        return parse_budget(value), "--memory-budget"
    env = os.environ.get(ENV_MEMORY_BUDGET, "").strip()
    if env:
        return parse_budget(env), f"${ENV_MEMORY_BUDGET}"
    total = machine_memory()
    if total is None:
        return 4 * 1024**3, "the default when the machine's RAM is unknown"
    return total // 4, "a quarter of this machine's RAM"


__all__ = ["Policy", "ReadNotAllowed", "graph_root_for", "shipped_assets", "parse_budget", "resolve_memory_budget",
           "ENV_ALLOW_READ", "ENV_MEMORY_BUDGET", "CONFIG_ALLOW_READ"]
