"""CLI progress: one bar per node (rich), and Ctrl-C as cooperative cancellation.

The first Ctrl-C asks the run to stop at the next cancellation point (between nodes, or inside
a long node that reports progress); a second one interrupts at once.
"""
from __future__ import annotations

import signal
import sys
import threading
from typing import Any

from .context import CancelToken
from .evaluate import Event


class RunProgress:
    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.cancel = CancelToken()
        self._tasks: dict[str, Any] = {}
        self._progress = None
        self._old_handler: Any = None

    def __enter__(self) -> "RunProgress":
        if threading.current_thread() is threading.main_thread():
            self._old_handler = signal.signal(signal.SIGINT, self._on_sigint)
        if self.enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                      TextColumn("{task.fields[status]}"), TimeElapsedColumn(),
                                      transient=False, disable=not sys.stderr.isatty(),
                                      console=None)
            self._progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
        if self._old_handler is not None:
            signal.signal(signal.SIGINT, self._old_handler)

    def _on_sigint(self, signum: int, frame: Any) -> None:
        if self.cancel.cancelled:
            raise KeyboardInterrupt
        self.cancel.cancel()
        print("\ncancelling after the current step (Ctrl-C again to stop at once)", file=sys.stderr)

    def on_event(self, e: Event) -> None:
        p = self._progress
        if p is None or e.node is None:
            return
        if e.kind == "planned":
            self._tasks[e.node] = p.add_task(e.node, total=1.0, status="queued")
        task = self._tasks.get(e.node)
        if task is None:
            return
        if e.kind == "started":
            p.update(task, status="running")
        elif e.kind == "progress":
            p.update(task, completed=e.data.get("fraction", 0.0), status=e.data.get("message") or "running")
        elif e.kind == "finished":
            p.update(task, completed=1.0, status=f"{e.data.get('status', 'done')} {e.data.get('seconds', 0):.2f}s")
        elif e.kind == "failed":
            p.update(task, status=f"[red]failed: {str(e.data.get('message', ''))[:60]}[/red]")
        elif e.kind == "skipped":
            p.update(task, status=f"skipped ({e.data.get('reason', '')[:40]})")
