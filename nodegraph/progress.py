"""CLI run progress: one status line that fits the terminal, with an ETA; Ctrl-C as cooperative
cancellation.

On a terminal the line is rewritten in place (``[12/32] speak_2 45% step 9/20  0:12 elapsed  ETA
0:30``) and never passes the terminal's width, read again at every redraw so a resized window is
followed; when stderr is not a terminal (a log, CI) it prints plain lines instead, one per node
that computes, fails or is skipped, and one per quarter of a long node's own progress.

The ETA adds up what is left: for each node still to run, the seconds its type took in earlier runs
(``nodegraph.costs``, what the scheduler measures), or, for a type never measured, the mean time of
the nodes computed so far in this run; for a running node, its type's cost less the time it has run,
blended into its own progress (time so far / fraction done) as that grows (fully from a third
on). Costs are scaled by how this run's nodes compare with their measured costs so far (a busy
machine). Nodes the plan says
are cached count nothing. Nodes that run side by side are summed, so the ETA errs long.

The first Ctrl-C asks the run to stop at the next cancellation point (between nodes, or inside
a long node that reports progress); a second one interrupts at once.
"""
from __future__ import annotations

import shutil
import signal
import sys
import threading
import time
from typing import Any, Callable, TextIO

from rich.cells import cell_len

from .context import CancelToken
from .results import Event


# -- the line (pure functions) -----------------------------------------------------------------------

def clock(seconds: float | None) -> str:
    """``0:07``, ``12:30``, ``1:02:03``; ``--:--`` when unknown."""
    if seconds is None:
        return "--:--"
    s = max(0, int(round(seconds)))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _fit(text: str, cells: int) -> str:
    from .cli_describe import fit

    return fit(text, cells)


def status_line(done: int, total: int, node: str | None = None, fraction: float | None = None,
                elapsed: float = 0.0, eta: float | None = None, width: int = 80, message: str = "",
                others: int = 0) -> str:
    """The status line, at most ``width`` terminal cells: nodes done of total, the running node
    (``others``: how many more run beside it) with its own progress and message, the time so far
    and the ETA. What does not fit goes first: the message, then the node's name is cut, then the
    words around the times."""
    width = max(1, width)
    head = f"[{done}/{total}]"
    pct = f" {int(fraction * 100)}%" if fraction is not None else ""
    more = f" +{others}" if others > 0 else ""
    tails = [f"  {clock(elapsed)} elapsed  ETA {clock(eta)}", f"  {clock(elapsed)}  ETA {clock(eta)}",
             f"  ETA {clock(eta)}", ""]
    wanted = [(tail, need) for need in (20, 8) for tail in tails]  # the name's first 20 cells before the words
    for tail, need in wanted:
        fixed = cell_len(head) + cell_len(pct) + cell_len(more) + cell_len(tail)
        if node is None:
            if fixed <= width:
                return head + tail
            continue
        room = width - fixed - 1  # the space after the count
        if room < min(need, cell_len(node)):
            continue
        name = _fit(node, room)
        line = f"{head} {name}{more}{pct}"
        left = width - cell_len(line) - cell_len(tail) - 1
        if message and left >= 8:
            line += " " + _fit(message, left)
        return line + tail
    return _fit(f"{head} {node or ''}{pct}", width)


def wrapped(text: str, width: int) -> list[str]:
    """A message that stays on screen, wrapped (never cut) to ``width`` cells, its later lines
    indented; a word longer than the line is broken."""
    import textwrap

    lines = []
    for para in text.splitlines() or [""]:
        lines += textwrap.wrap(para, max(8, width), subsequent_indent="  ", break_on_hyphens=False) or [""]
    return [_fit(line, width) for line in lines]  # wide characters: textwrap counts code points


def event_line(done: int, total: int, node: str, what: str, elapsed: float, eta: float | None,
               width: int = 80) -> str:
    """A plain line for logs: ``[5/32] speak_1 computed in 1.2 s  0:04 elapsed  ETA 0:20``."""
    tail = f"  {clock(elapsed)} elapsed  ETA {clock(eta)}"
    if cell_len(tail) > width // 2:
        tail = ""
    return _fit(f"[{done}/{total}] {node} {what}", max(1, width - cell_len(tail))) + tail


# -- the ETA ---------------------------------------------------------------------------------------

class Estimate:
    """What is left of a run, in seconds (see the module docstring)."""

    def __init__(self, types: dict[str, str], cost_of: Callable[[str], float | None]):
        self.types = types
        self.cost_of = cost_of
        self.pending: dict[str, str] = {}  # node -> will_run (yes | maybe), not started yet
        self.running: dict[str, tuple[float, float | None]] = {}  # node -> (start, fraction)
        self.measured: list[float] = []  # seconds of the nodes computed in this run
        self.expected: list[tuple[float, float]] = []  # (measured cost, took) of those with a cost

    def planned(self, node: str, will_run: str) -> None:
        if will_run != "no":
            self.pending[node] = will_run

    def started(self, node: str, now: float) -> None:
        self.pending.pop(node, None)
        self.running[node] = (now, None)

    def progress(self, node: str, fraction: float) -> None:
        if node in self.running:
            self.running[node] = (self.running[node][0], fraction)

    def ended(self, node: str, seconds: float | None = None) -> None:
        """A node settled (computed with its seconds, cached, failed or skipped)."""
        self.pending.pop(node, None)
        self.running.pop(node, None)
        if seconds is not None and seconds > 0:
            self.measured.append(seconds)
            cost = self.cost_of(self.types.get(node, ""))
            if cost is not None and cost > 0:
                self.expected.append((cost, seconds))

    def _cost(self, node: str, ratio: float) -> float | None:
        """Its type's measured cost times ``ratio``, else the mean time of this run's nodes."""
        cost = self.cost_of(self.types.get(node, ""))
        if cost is not None:
            return cost * ratio
        return sum(self.measured) / len(self.measured) if self.measured else None

    def left(self, now: float) -> float | None:
        """Seconds left, or None while nothing tells (no type measured, nothing computed yet)."""
        total = 0.0
        ratio = 1.0
        expected = sum(c for c, _ in self.expected)
        if expected >= 0.5:  # enough measured in this run to tell how this machine compares today
            ratio = min(4.0, max(0.25, sum(t for _, t in self.expected) / expected))
        total = 0.0
        for node, (start, fraction) in self.running.items():
            ran = max(0.0, now - start)
            cost = self._cost(node, ratio)
            by_cost = max(cost - ran, 0.0) if cost is not None else None
            by_progress = ran * (1 - fraction) / fraction if fraction is not None and fraction >= 0.02 else None
            if by_cost is None and by_progress is None:
                return None
            if by_cost is None or by_progress is None:
                total += by_progress if by_progress is not None else by_cost
            else:  # trust the node's own progress more as it goes (its first steps are often slower)
                w = min(1.0, 3 * fraction)
                total += w * by_progress + (1 - w) * by_cost
        for node in self.pending:
            cost = self._cost(node, ratio)
            if cost is None:
                return None
            total += cost
        return total


# -- the display -----------------------------------------------------------------------------------

class RunProgress:
    """Progress of one run for the CLI. ``types``: node -> type id (for the ETA); ``cost_of``: a
    type id -> measured seconds (``CostBook.get``); ``tty``: rewrite one line in place (default:
    whether ``stream`` is a terminal)."""

    def __init__(self, enabled: bool = True, *, types: dict[str, str] | None = None,
                 cost_of: Callable[[str], float | None] | None = None, stream: TextIO | None = None,
                 tty: bool | None = None, width: Callable[[], int] | None = None) -> None:
        self.enabled = enabled
        self.cancel = CancelToken()
        self.stream = stream if stream is not None else sys.stderr
        self.tty = tty if tty is not None else bool(getattr(self.stream, "isatty", lambda: False)())
        self._width = width or (lambda: shutil.get_terminal_size((80, 24)).columns)
        self.estimate = Estimate(types or {}, cost_of or (lambda t: None))
        self.total = 0
        self.done = 0
        self._order: list[str] = []  # running nodes, oldest first
        self._info: dict[str, tuple[float | None, str]] = {}  # running node -> (fraction, message)
        self._quarter: dict[str, int] = {}
        self._t0 = time.perf_counter()
        self._lock = threading.Lock()
        self._shown = False
        self._last_draw = 0.0
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._old_handler: Any = None

    def __enter__(self) -> "RunProgress":
        if threading.current_thread() is threading.main_thread():
            self._old_handler = signal.signal(signal.SIGINT, self._on_sigint)
        self._t0 = time.perf_counter()
        if self.enabled and self.tty:
            self._ticker = threading.Thread(target=self._tick, name="nodegraph-progress", daemon=True)
            self._ticker.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=2)
        with self._lock:
            if self._shown:
                self._write("\r\x1b[K")
                self._shown = False
        if self._old_handler is not None:
            signal.signal(signal.SIGINT, self._old_handler)

    def _on_sigint(self, signum: int, frame: Any) -> None:
        if self.cancel.cancelled:
            raise KeyboardInterrupt
        self.cancel.cancel()
        self.say("cancelling after the current step (Ctrl-C again to stop at once)")

    # -- output --------------------------------------------------------------------------------
    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken stream: progress is not worth failing a run
            pass

    def width(self) -> int:
        return max(1, self._width() - (1 if self.tty else 0))  # the last column would wrap on some terminals

    def line(self, now: float | None = None) -> str:
        """The status line as it would be drawn now."""
        now = time.perf_counter() if now is None else now
        node, fraction, message = None, None, ""
        if self._order:
            node = self._order[0]
            fraction, message = self._info.get(node, (None, ""))
        return status_line(self.done, self.total, node, fraction, now - self._t0, self.estimate.left(now),
                           self.width(), message, max(0, len(self._order) - 1))

    def _draw(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        self._write("\r" + self.line(now) + "\x1b[K")
        self._shown = True

    def say(self, text: str) -> None:
        """Lines that stay (above the status line on a terminal), wrapped to the width."""
        with self._lock:
            self._say_locked(text)

    def _plain(self, node: str, what: str) -> None:
        now = time.perf_counter()
        self._write(event_line(self.done, self.total, node, what, now - self._t0, self.estimate.left(now),
                               max(1, self._width())) + "\n")

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            with self._lock:
                self._draw(force=True)

    # -- events --------------------------------------------------------------------------------
    def on_event(self, e: Event) -> None:
        if not self.enabled or e.node is None:
            return
        with self._lock:
            self._on_event(e)

    def _on_event(self, e: Event) -> None:
        nid, kind, data, now = e.node, e.kind, e.data, time.perf_counter()
        est = self.estimate
        if kind == "planned":
            self.total += 1
            est.planned(nid, data.get("will_run", "yes"))
            return
        if kind == "started":
            est.started(nid, now)
            self._order.append(nid)
            self._info[nid] = (None, "")
        elif kind == "progress":
            fraction = float(data.get("fraction", 0.0))
            est.progress(nid, fraction)
            self._info[nid] = (fraction, str(data.get("message") or ""))
            if not self.tty:
                quarter = int(fraction * 4)
                if 0 < quarter < 4 and quarter > self._quarter.get(nid, 0):
                    self._quarter[nid] = quarter
                    self._plain(nid, f"{quarter * 25}%" + (f" {data['message']}" if data.get("message") else ""))
            else:
                self._draw()
            return
        elif kind in ("finished", "failed", "skipped"):
            status = data.get("status", "done") if kind == "finished" else kind
            seconds = data.get("seconds") if status == "computed" else None
            est.ended(nid, seconds)
            self.done += 1
            if nid in self._info:
                self._order.remove(nid)
                del self._info[nid]
            if kind == "failed":
                self._say_locked(f"{nid} failed: {data.get('message', '')}")
            elif not self.tty and status != "cached":
                what = f"computed in {seconds:.2f} s" if seconds is not None else status
                if kind == "skipped":
                    what = f"skipped ({data.get('reason', '')})"
                self._plain(nid, what)
        elif kind == "log":
            self._say_locked(f"{nid}: {data.get('message', '')}")
            return
        if self.tty:
            self._draw(force=kind == "started")

    def _say_locked(self, text: str) -> None:
        lines = wrapped(text, self.width())
        if self.tty:
            self._write("\r\x1b[K" + "\n".join(lines) + "\n")
            self._shown = False
            if self.enabled and not self._stop.is_set():
                self._draw(force=True)
        else:
            self._write("\n".join(lines) + "\n")
