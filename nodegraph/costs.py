"""How long each node type takes on this machine: what the scheduler places work by.

A node runs in the scheduler's own thread unless its cost hint (``cost="gpu"`` or ``"io"``) or
its node type's measured time says a worker thread is worth the hand-off (see
``nodegraph.scheduler``). The measurements are a running average per node type, shared by every
run of the process and kept in ``costs.json`` in the result cache's folder (nothing is written
anywhere else: a run touches only its output and cache folders), so the next process over that
cache places work well from its first node; within a process, what one run measured serves every
other run, whatever its cache. Only the cost of a type is kept, never anything about a graph, and
a type never measured simply runs inline once. A cache without a folder (RAM only) keeps its book
for the process.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path

_books: dict[str, "CostBook"] = {}
_process: dict[str, float] = {}  # the latest measurement of each type in this process, whatever the cache
_books_lock = threading.Lock()


def book(folder: Path | None) -> "CostBook":
    """The cost book kept in ``folder`` (a result cache's folder), or the process's own (None)."""
    key = str(folder) if folder is not None else ""
    got = _books.get(key)
    if got is None:
        with _books_lock:
            got = _books.setdefault(key, CostBook(folder / "costs.json" if folder is not None else None))
    return got


class CostBook:
    def __init__(self, path: Path | None):
        self.path = path
        self._lock = threading.Lock()
        self._seconds: dict[str, float] | None = None
        self._saved: dict[str, float] = {}

    def _load(self) -> dict[str, float]:
        if self._seconds is None:
            try:
                if self.path is None:
                    raise OSError("kept in memory only")
                data = json.loads(self.path.read_text(encoding="utf-8"))
                self._saved = {str(k): float(v) for k, v in data.items()
                               if isinstance(v, (int, float)) and 0 <= v < 1e6} if isinstance(data, dict) else {}
            except (OSError, ValueError, TypeError):  # none yet, or unreadable: measure again
                self._saved = {}
            self._seconds = dict(self._saved)
        return self._seconds

    def get(self, type_id: str) -> float | None:
        got = (self._seconds if self._seconds is not None else self._load()).get(type_id)
        return got if got is not None else _process.get(type_id)  # measured in this process, any cache

    def record(self, type_id: str, seconds: float) -> None:
        costs = self._seconds if self._seconds is not None else self._load()
        old = costs.get(type_id)
        costs[type_id] = seconds if old is None else 0.7 * old + 0.3 * seconds
        _process[type_id] = costs[type_id]

    def save(self) -> None:
        """Write what changed much (a new type, or twice or half its cost) since the last write."""
        if self.path is None:
            return
        with self._lock:
            costs = self._load()
            changed = [t for t, s in costs.items()
                       if t not in self._saved or not 0.5 <= (s + 1e-4) / (self._saved[t] + 1e-4) <= 2.0]
            if not changed:
                return
            from .fsio import write_json

            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                write_json(self.path, costs, indent=1, sync=False)
                self._saved = dict(costs)
            except OSError:  # a read-only cache folder: measure again next time
                pass
