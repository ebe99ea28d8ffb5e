"""Write-behind for the disk tier: results are committed in batches by one background thread.

A commit of SQLite's write-ahead log costs tens of microseconds of CPU and, on a busy disk,
hundreds of wall-clock microseconds; one per node made the disk tier the slowest part of a run of
cheap nodes. Batching many results into one transaction costs a few microseconds each. Nothing
is lost for the running process: the RAM tier in front holds every result, and the disk tier
answers reads of what is still queued from the queue itself. ``flush`` waits until everything
queued is committed (the evaluator calls it at the end of every run), so what a run produced is
on disk when it returns; a result that took more than a few milliseconds to compute is committed
before its node counts as finished (``disk.DURABLE_SECONDS``). A process killed mid-run loses only
its last uncommitted batch of cheap results: each batch is one transaction, so the index never
holds an action without its values.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

from ..errors import format_error

MAX_BATCH = 2000  # results per transaction at most
GATHER = 0.05  # seconds a batch waits for more results before it is committed


class BatchWriter:
    def __init__(self, commit: Callable[[list], None], name: str = "nodegraph-cache-writer"):
        self._commit = commit
        self._name = name
        self._items: list = []
        self._cond = threading.Condition()
        self._busy = False  # a batch is being committed
        self._thread: threading.Thread | None = None
        self._closed = False
        self._flushing = 0  # callers waiting in flush(): the writer commits at once, without gathering
        #: the last error a batch met (a full disk, a read-only cache): the batch is dropped, the
        #: run goes on (its results stay in RAM), and ``DiskTier.flush`` warns once
        self.error: str = ""

    def submit(self, item: Any) -> None:
        with self._cond:
            if self._closed:
                raise RuntimeError("the cache is closed")
            self._items.append(item)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
            if len(self._items) == 1 or len(self._items) >= MAX_BATCH:
                self._cond.notify_all()

    def flush(self) -> None:
        """Return when everything submitted so far is committed (or failed)."""
        with self._cond:
            self._flushing += 1
            try:
                self._cond.notify_all()
                while self._items or self._busy:
                    self._cond.wait(0.5)
            finally:
                self._flushing -= 1

    def close(self) -> None:
        self.flush()
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._items and not self._closed:
                    self._cond.wait()
                if not self._items and self._closed:
                    return
                # let a burst gather (one node after another) before committing: one commit per
                # GATHER seconds at most while results keep coming. A flush() cuts the wait short,
                # also one that came before this thread got here (its notify is then long gone:
                # waiting out GATHER held every node finishing meanwhile for up to 50 ms)
                self._cond.wait_for(lambda: self._flushing or self._closed or len(self._items) >= MAX_BATCH, GATHER)
                batch, self._items = self._items, []
                self._busy = True
            try:
                self._commit(batch)
            except Exception as e:  # noqa: BLE001 - reported, never raised into a run
                self.error = format_error(e)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
