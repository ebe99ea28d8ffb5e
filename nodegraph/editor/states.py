"""What the editor says about a graph's state, truthfully: each node's state as the cache decides it
(``Evaluator.explain``, which asks ``keys.decide``: nothing runs, no value is loaded) after every
edit and on open, and the files each run wrote, in one place, with a way to open their folder.

``StatesMixin`` is part of ``EditorSession``; it uses the session's ``doc``, ``registry``,
``log``, ``running``, ``_states``, ``_explain``, ``_explained_at`` and ``_evaluator_for``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import GraphInvalid, NodegraphError, format_error
from ..results import RunResult, run_files


class StatesMixin:
    doc: Any
    registry: Any
    log: list[str]
    running: bool
    _states: dict
    _explain: dict
    _explained_at: int
    last_output_dir: Path | None
    last_files: list[str]
    _evaluator_for: Any  # the session's method: its Evaluator

    # -- what each node's state is ----------------------------------------------------------------
    def _touch(self, nodes: Any) -> None:
        """An edit reached ``nodes``: they and everything below them are decided again (by the cache,
        through the evaluator's one decision path) instead of showing their last run's state."""
        doc = self.doc
        for n in {d for n in nodes for d in doc.downstream(n)}:
            st = self._states.get(n)
            if st is not None:
                st.touched = True

    def _explanations(self) -> dict[str, Any]:
        """What the evaluator decides for every node now (``Evaluator.explain``, which asks
        ``keys.decide``: the cache's verdict from each node's content key; nothing runs and no value
        is loaded), refreshed after each edit and each run. While a run goes on, the last answer."""
        if self.running or self._explained_at == self.doc.revision:
            return self._explain
        doc = self.doc.snapshot()
        ev = self._evaluator_for()
        specs = self.registry.specs
        sinks = [n for n in doc.node_ids() if doc.g.out_degree(n) == 0 and doc.type_of(n) in specs]
        try:
            self._explain = ev.explain(doc, sinks) if sinks else {}
        except GraphInvalid as e:  # decide what does not depend on a node with a problem
            self._explain = {}
            def outer(n: str | None) -> str | None:  # an inner node of a Look (``card/grain``): its instance
                return n.split("/", 1)[0] if n else n

            if all(outer(i.node) is not None and outer(i.node) in doc and i.code != "cycle" for i in e.issues):
                bad = {d for i in e.issues for d in doc.downstream(outer(i.node))}
                ok = {n for n in doc.node_ids() if n not in bad}
                targets = [n for n in sorted(ok) if not any(d in ok for d in doc.g.successors(n))]
                try:
                    self._explain = ev.explain(doc, targets) if targets else {}
                except NodegraphError:
                    pass
        except NodegraphError:
            self._explain = {}
        self._explained_at = self.doc.revision
        return self._explain

    def state(self, node_id: str) -> str:
        """What the node shows: its run's state (queued, running, computed, cached, failed, ...) until
        an edit reaches it or a node above it; then, and for a node no run of this session has
        reached, the cache's verdict on its content key: cached (or pinned) when the key is a hit,
        else stale. A node whose key an edit left unchanged keeps its computed or cached state."""
        st = self._states.get(node_id)
        raw = st.state if st is not None else "stale"
        if st is not None and (raw in ("queued", "running") or (raw != "stale" and not st.touched)):
            return raw
        ex = self._explanations().get(node_id)
        if ex is not None and ex.key_cached:  # its result is known: only its value is made again
            return raw if raw in ("computed", "cached") else "cached"
        if ex is None or ex.will_run != "no":
            return "stale"
        if ex.reason == "pinned":
            return "pinned"
        if ex.reason.startswith("fails"):
            return "failed"
        if ex.reason.startswith("skipped"):
            return "skipped"
        if ex.reason.startswith("same result as"):  # another node computes it first
            return "stale"
        return raw if raw in ("computed", "cached") else "cached"

    def _done(self, node_id: str) -> bool:
        """Whether a run of this session finished the node and no edit reached it since."""
        st = self._states.get(node_id)
        return st is not None and not st.touched and st.state in ("computed", "cached", "pinned", "failed")

    def _reason(self, node_id: str) -> str:
        """Why the node would run now (the evaluator's explain, refreshed after edits)."""
        if self.running:
            return ""
        ex = self._explanations().get(node_id)
        return "" if ex is None else ("cached" if ex.will_run == "no" else ex.reason)

    # -- the files a run wrote ---------------------------------------------------------------------
    def _log_files(self, result: RunResult) -> None:
        """The run's files in one place: the output folder, then each file (written or found cached)."""
        out = self._evaluator_for().output_dir.resolve()
        files = run_files(result)
        self.last_files, self.last_output_dir = [f for f, _ in files], out
        if not files:
            self.log.append(f"output folder: {out} (no files written)")
            return
        self.log.append(f"output folder: {out}")
        for f, how in files:
            try:
                shown = str(Path(f).resolve().relative_to(out))
            except ValueError:
                shown = f
            self.log.append(f"  {how} {shown}")

    def open_folder(self) -> str:
        """Show the output folder in the desktop's file manager (xdg-open, open or startfile, when
        there is one); without one, or if it fails, say where the folder is. Never raises."""
        import shutil
        import subprocess
        import sys

        out = self.last_output_dir or self._evaluator_for().output_dir.resolve()
        if not out.is_dir():
            msg = f"output folder {out} does not exist yet: run the graph first"
            self.log.append(msg)
            return msg
        opener = "open" if sys.platform == "darwin" else "xdg-open"
        try:
            if sys.platform.startswith("win"):
                os.startfile(out)  # type: ignore[attr-defined]
            elif shutil.which(opener):
                subprocess.Popen([opener, str(out)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, start_new_session=True)
            else:
                msg = f"output folder: {out} (no {opener} here to open it)"
                self.log.append(msg)
                return msg
        except OSError as e:
            msg = f"output folder: {out} (could not open it: {format_error(e)})"
            self.log.append(msg)
            return msg
        msg = f"opened {out}"
        self.log.append(msg)
        return msg


__all__ = ["StatesMixin"]
