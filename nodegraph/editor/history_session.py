"""Versions of the open graph in the editor, without a screen: every save keeps a version
(``nodegraph.history``: content-addressed, in ``.NAME.json.history/`` beside the graph), the
history panel lists them, shows what changed since one (``nodegraph.diff``), and restores one as
a single undo step (``RestoreVersion``, a command object like every edit).

Keeping a version never stops a save: a history folder that cannot be written or read is reported
in the log and the status (``history_problem``), and the graph file is saved all the same.

``HistorySessionMixin`` is part of ``DocumentSession`` (whose ``save_as`` calls ``_keep_version``
after every save); it uses the session's ``doc``, ``path``, ``registry``, ``log``, ``_saved`` (the
text just saved) and ``_do``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..diff import Change, diff, summary
from ..errors import NodegraphError, format_error
from ..history import GraphHistory, RestoreVersion, Version


class HistorySessionMixin:
    doc: Any
    path: Path | None
    registry: Any
    log: list[str]
    _saved: str

    #: why the last save kept no version (None when it did, or there was nothing new)
    history_problem: str | None = None
    #: counts versions kept by this session (the panel redraws when it changes)
    versions_kept: int = 0

    def _keep_version(self, p: Path) -> Version | None:
        """Keep the text just saved to ``p`` as a version (None when it is the newest already, or
        when it cannot be kept: ``history_problem`` says why)."""
        self.history_problem = None
        try:
            v = GraphHistory(p).record(self._saved, self.registry, doc=self.doc)
        except (NodegraphError, OSError) as e:
            self.history_problem = f"saved, but no version was kept: {e}"
            self.log.append(f"warning: {self.history_problem}")
            return None
        except Exception as e:  # a bug in the history must never lose a save
            self.history_problem = f"saved, but no version was kept: {format_error(e)}"
            self.log.append(f"warning: {self.history_problem}")
            return None
        if v is not None:
            self.versions_kept += 1
            self.log.append(f"kept version {v.short} of {p.name}: {v.summary}")
        return v

    def graph_history(self) -> GraphHistory | None:
        """The store of the open graph's versions (None for a graph not saved yet)."""
        return GraphHistory(self.path) if self.path is not None else None

    def graph_versions(self) -> list[Version]:
        """The versions kept of the open graph, newest first (HistoryError: a damaged index)."""
        h = self.graph_history()
        return list(reversed(h.versions())) if h is not None else []

    def version_changes(self, ident: str, layout: bool = False) -> list[Change]:
        """What changed from version ``ident`` to the document as it is now (the version is read
        once: the panel compares again after every edit)."""
        h = self._need_history()
        key = (str(h.graph.resolve()), h.find(ident).id)
        memo = self.__dict__.setdefault("_version_docs", {})
        old = memo.get(key)
        if old is None:
            old = memo[key] = h.read(key[1])
            while len(memo) > 8:
                del memo[next(iter(memo))]
        return diff(old, self.doc, self.registry, layout=layout)

    def restore_version(self, ident: str) -> str:
        """Make the document hold version ``ident`` (one undo step; unsaved until saved).
        Returns a one-line summary of what the restore changed."""
        h = self._need_history()
        v = h.find(ident)
        old = h.read(v.id)
        what = summary(diff(self.doc, old, self.registry, layout=True))
        if what == "no changes":
            return "the document already holds this version"
        self._do(RestoreVersion(old, v.short))  # type: ignore[attr-defined]
        self.log.append(f"restored version {v.short} of {self.path.name if self.path else 'the graph'} "
                        f"({v.local_time()}): {what}")
        return what

    def _need_history(self) -> GraphHistory:
        h = self.graph_history()
        if h is None:
            raise NodegraphError("this graph has no file yet, so no versions: save it first")
        return h


__all__ = ["HistorySessionMixin"]
