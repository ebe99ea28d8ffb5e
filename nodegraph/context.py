"""What a running node can reach: progress, cancellation, log, input and output files, scratch
space, and models (``ctx.models``). A node reaches every service through its Context."""
from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable

from .errors import Cancelled, UnsafePath
from .fsio import check_name
from .models.facade import Models


class CancelToken:
    """Cooperative cancellation shared by a run and its nodes."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


def safe_join(root: Path, relative: str, what: str = "output file name") -> Path:
    """``root / relative``, refusing anything that would land outside ``root``.

    The name must pass ``fsio.check_name`` (relative, no ``..``, no NUL, no drive letter, each part
    at most 255 bytes); a folder on the way that is a symbolic link out of ``root``, or a final
    name that is a link, is refused too. Every refusal is an ``UnsafePath`` naming the path.
    """
    parts = check_name(relative, what)
    root_real = Path(os.path.realpath(root))
    target = root_real.joinpath(*parts)
    real_parent = Path(os.path.realpath(target.parent))
    if real_parent != root_real and root_real not in real_parent.parents:
        raise UnsafePath(f"{what} {relative!r} resolves outside the output folder {root} (through a symbolic link)")
    if target.is_symlink():
        raise UnsafePath(f"{what} {relative!r} is a symbolic link; refusing to write through it")
    return target


class Context:
    """Handed to a node that declares a ``Context`` parameter: the node's only door to services.

    ``ctx.models`` finds and loads models (:class:`~nodegraph.models.facade.Models`, relative
    paths taken from the graph's folder, loaded once per process); ``progress``, ``cancelled`` /
    ``check_cancelled``, ``log``, ``scratch_dir``, ``input_path``, ``output_path`` and
    ``artifact`` are the rest.
    """

    def __init__(self, node_id: str, type_id: str, *, output_dir: Path, base_dir: Path,
                 cancel: CancelToken | None = None,
                 emit: Callable[[str, dict], None] | None = None,
                 scratch_root: Path | None = None, graph_text: Callable[[], str] | None = None,
                 cache: Any = None, policy: Any = None, models: Models | None = None, embed: bool = True,
                 record: Callable[[], tuple[dict, str] | None] | None = None):
        self.node_id, self.type_id = node_id, type_id
        self.output_dir, self.base_dir = Path(output_dir), Path(base_dir)
        self._cancel = cancel or CancelToken()
        self._emit = emit or (lambda kind, data: None)
        self._scratch_root = scratch_root
        self._scratch: Path | None = None
        self.files: list[Path] = []
        self._graph_text = graph_text
        self._cache = cache
        self._policy = policy
        self._models = models
        #: whether output files embed how they were made (``nodegraph run --no-embed`` turns it off)
        self.embed = embed
        self._record = record

    @property
    def models(self) -> Models:
        """Models: resolve, download, device and dtype choice, loaded once per process (relative
        paths from the graph's folder; made when first asked for, so nodes without models pay nothing)."""
        if self._models is None:
            self._models = Models(base_dir=self.base_dir, policy=self._policy)
        return self._models

    @property
    def graph_text(self) -> str:
        """The canonical JSON of the graph being run as saved files embed it (provenance: no
        absolute path of this machine, see ``nodegraph.paths.provenance_text``); "" when
        embedding is off."""
        return self._graph_text() if self._graph_text and self.embed else ""

    def provenance(self, target: str | os.PathLike) -> dict[str, Any] | None:
        """What the output file ``target`` embeds about how it was made: ``node`` and ``type``;
        when the graph is known ``graph`` (``graph_text``) and ``base``, the graph's folder
        relative to ``target``'s folder; when the run made one, ``record``, the provenance record
        (a dict, see ``nodegraph.provenance``: graph hash, nodegraph version, models with sha256
        and licence, seeds, packs, licence summary) and ``record_text``, its compact JSON (what
        the writers store under ``GraphKeys``' provenance names). None when embedding is off
        (``--no-embed``): write none."""
        if not self.embed:
            return None
        made: dict[str, Any] = {"node": self.node_id, "type": self.type_id}
        graph = self.graph_text
        if graph:
            from .paths import base_for

            made.update(graph=graph, base=base_for(target, self.base_dir))
        made_by = self._record() if self._record is not None else None
        if made_by is not None:
            made["record"], made["record_text"] = made_by
        return made

    # -- progress and cancellation ------------------------------------------------------------
    def progress(self, fraction: float, message: str = "", preview: Any = None) -> None:
        """Report progress in [0, 1]; also a cancellation point."""
        self._emit("progress", {"fraction": max(0.0, min(1.0, float(fraction))), "message": message,
                                "preview": preview})
        self.check_cancelled()

    @property
    def cancelled(self) -> bool:
        return self._cancel.cancelled

    def check_cancelled(self) -> None:
        if self._cancel.cancelled:
            raise Cancelled(f"node {self.node_id!r} cancelled")

    def artifact(self, key: bytes, make: Callable[[], bytes]) -> bytes:
        """Bytes identified by a recipe ``key`` a node computes (say, the digests of the frames
        of one video segment plus the encoder settings): ``make()`` runs only when no run, in
        this process or an earlier one, made them already. Without a cache it just calls make."""
        if self._cache is None:
            return make()
        return self._cache.artifact(key, make)

    def log(self, message: str) -> None:
        self._emit("log", {"message": message})

    # -- files --------------------------------------------------------------------------------
    @property
    def policy(self) -> Any:
        """What this graph may read (``nodegraph.policy.Policy``); by default: the graph's folder
        tree, the model folders, nodegraph's shipped assets and the output folder."""
        if self._policy is None:
            from .policy import Policy

            self._policy = Policy(self.base_dir, output_dir=self.output_dir)
        return self._policy

    def input_path(self, path: str, param: str | None = None) -> Path:
        """A path from a param, resolved against the graph file's folder. A path outside the
        folders the graph may read, or a FIFO or device, raises ``UnsafePath`` naming ``param``."""
        return self.policy.check_read(path, param)

    def output_path(self, name: str, param: str | None = None) -> Path:
        """Where to write an output file ``name`` (relative, inside the output folder); write it
        with ``nodegraph.fsio`` (``write_bytes``, ``open_atomic`` or ``atomic_path``). A name that
        is absolute, goes up with ``..``, holds a NUL or a part over 255 bytes, or reaches out
        through a symbolic link raises ``UnsafePath`` naming ``param``."""
        what = f"param {param!r}: output file name" if param else "output file name"
        target = safe_join(self.output_dir, name, what)  # before creating any folder
        try:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            safe_join(self.output_dir, name, what).parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            from .fsio import WriteFailed, reason_of

            why = "a file is in the way of a folder" if isinstance(e, (FileExistsError, NotADirectoryError)) else reason_of(e)
            raise WriteFailed(target, f"cannot make its folder ({why})", param) from None
        target = safe_join(self.output_dir, name, what)  # again, now that parents exist (symlinked folders)
        from .fsio import WriteFailed, refusal

        try:
            why = refusal(os.lstat(target))
        except OSError:
            why = None
        if why:  # said here, where the param is known; the writer checks again when it renames
            raise WriteFailed(target, why, param)
        self.files.append(target)
        return target

    def scratch_dir(self) -> Path:
        """A private temporary folder for this node, removed after the run."""
        if self._scratch is None:
            root = self._scratch_root or Path(tempfile.gettempdir())
            root.mkdir(parents=True, exist_ok=True)
            self._scratch = Path(tempfile.mkdtemp(prefix=f"{self.node_id}-", dir=root))
        return self._scratch
