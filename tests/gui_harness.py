"""Fixtures and helpers for the editor's GUI tests (dearpygui under Xvfb, driven with xdotool).

Two rules from research/feas-gui.md shape this:
- one dearpygui viewport per process (a second one segfaults), so every scenario runs in a
  *spawned* child process (``run_gui``); a child that crashes gives BrokenProcessPool, not a hang;
- ImGui must see a button press and the motion that follows in different frames, so the helpers
  render frames between xdotool steps. The scenario (in the child) calls xdotool synchronously.

Fixtures: ``xvfb`` (session: a private X server; the GUI tests skip with the reason when Xvfb or
xdotool is missing), ``run_gui`` (run a top-level scenario function in a fresh process),
``spawn_gui`` (start one that keeps running, to be killed by the test), ``run_headless`` (a fresh
process with no display at all: dearpygui items without a window, for the view's bookkeeping).
Helpers for scenarios: ``use(app)``, ``frames``, ``xdo``, ``click``, ``drag``, ``type_text``,
``key``, ``wheel``, ``node_box``, ``pin_xy``, ``title_xy``, ``item_center``, ``wait_until``. The
canvas is our own drawing (no dearpygui items per node), so node and pin positions on screen come
from the view's geometry (``GraphView.node_screen_rect``, ``pin_screen``).
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
import shutil
import subprocess
import time
from typing import Any, Callable

import pytest

SCREEN = "1600x1000x24"

# == fixtures (test process) =========================================================================
GUI_APT = "xvfb xdotool libgl1-mesa-dri libglx-mesa0 libxrandr2 libxinerama1 libxcursor1 libxi6 libxxf86vm1"


@pytest.fixture(scope="session")
def xvfb():
    """A private X display for the whole session (its number in $DISPLAY while it runs)."""
    missing = [t for t in ("Xvfb", "xdotool") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"GUI tests need {' and '.join(missing)} (apt-get install {GUI_APT})")
    try:
        import dearpygui  # noqa: F401  (only: is it installed?)
    except ImportError:
        pytest.skip("GUI tests need dearpygui (pip install dearpygui)")
    r, w = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", SCREEN, "-nolisten", "tcp"],
                            pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(w)
    try:
        number = b""
        deadline = time.monotonic() + 20
        while not number.endswith(b"\n") and time.monotonic() < deadline:
            chunk = os.read(r, 16)
            if not chunk:
                break
            number += chunk
    finally:
        os.close(r)
    sock = f"/tmp/.X11-unix/X{number.decode().strip()}"
    deadline = time.monotonic() + 10
    while number.strip() and not os.path.exists(sock) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if not number.strip() or proc.poll() is not None:
        proc.kill()
        pytest.skip("Xvfb did not start")
    old = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = ":" + number.decode().strip()
    try:
        yield os.environ["DISPLAY"]
    finally:
        if old is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = old
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _kill_pool(ex: cf.ProcessPoolExecutor) -> None:
    for p in list((getattr(ex, "_processes", None) or {}).values()):
        if p.is_alive():
            p.kill()


def _run_spawned(fn: Callable[..., Any], *args: Any, timeout: float = 60) -> Any:
    """``fn(*args)`` in a fresh spawned process (one dearpygui viewport per process); its result.
    A child that crashes or hangs is killed, never left behind."""
    ex = cf.ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"))
    ok = False
    try:
        out = ex.submit(fn, *args).result(timeout)
        ok = True
        return out
    finally:
        if not ok:
            _kill_pool(ex)
        ex.shutdown(wait=True, cancel_futures=True)


@pytest.fixture
def run_gui(xvfb):
    """``run_gui(fn, *args, timeout=60)``: ``fn(*args)`` in a fresh spawned process; its result."""

    return _run_spawned


@pytest.fixture
def run_headless():
    """Like ``run_gui`` but with no display: dearpygui items without a viewport (no frames)."""
    try:
        import dearpygui  # noqa: F401  (only: is it installed?)
    except ImportError:
        pytest.skip("needs dearpygui (pip install dearpygui)")

    return _run_spawned


@pytest.fixture
def spawn_gui(xvfb):
    """``spawn_gui(fn, *args)`` -> (process, queue): ``fn(*args, queue)`` keeps running in its own
    process until the test kills it (killed at teardown at the latest)."""
    started: list[mp.Process] = []
    ctx = mp.get_context("spawn")

    def spawn(fn: Callable[..., Any], *args: Any) -> tuple[Any, Any]:
        q = ctx.Queue()
        p = ctx.Process(target=fn, args=(*args, q), daemon=True)
        p.start()
        started.append(p)
        return p, q

    yield spawn
    for p in started:
        if p.is_alive():
            p.kill()
        p.join(10)


# == helpers (scenario process) =======================================================================
_APP: Any = None


def use(app: Any) -> Any:
    """Make ``app`` (an ``EditorApp``) the one the helpers render frames with."""
    global _APP
    _APP = app
    return app


def frames(n: int = 1) -> None:
    _APP.frames(n)


def xdo(*args: Any) -> None:
    subprocess.run(["xdotool", *map(str, args)], check=True, timeout=20)


def wait_until(pred: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Render frames until ``pred()`` is truthy (returns it) or raise after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        frames(1)
    raise TimeoutError(f"condition not met in {timeout} s: {pred}")


_last_press = [0.0, (0.0, 0.0), 0]
DOUBLE_CLICK_S = 0.45  # Dear ImGui: two presses within 0.30 s and 6 px of each other are a double click


def _press(x: float, y: float, button: int) -> None:
    """Press ``button`` at (x, y). A press near the last one waits out the double-click time first
    (the canvas renames a node on a double-clicked title, adds a reroute point on a double-clicked
    wire): on a fast machine two separate clicks or drags of a test would be a double click."""
    t, (px, py), pb = _last_press
    wait = t + DOUBLE_CLICK_S - time.monotonic()
    if pb == button and abs(px - x) <= 8 and abs(py - y) <= 8 and wait > 0:
        time.sleep(wait)
    xdo("mousemove", int(x), int(y))
    frames(3)
    xdo("mousedown", button)
    _last_press[:] = [time.monotonic(), (float(x), float(y)), button]


def click(x: float, y: float, button: int = 1) -> None:
    _press(x, y, button)
    frames(2)
    xdo("mouseup", button)
    frames(4)


def drag(p0: tuple[float, float], p1: tuple[float, float], steps: int = 10, button: int = 1) -> None:
    _press(p0[0], p0[1], button)
    frames(3)
    for i in range(1, steps + 1):
        xdo("mousemove", int(p0[0] + (p1[0] - p0[0]) * i / steps), int(p0[1] + (p1[1] - p0[1]) * i / steps))
        frames(1)
    frames(3)
    xdo("mouseup", button)
    frames(5)


def type_text(text: str) -> None:
    # ImGui trickles input: about one key event per frame, so render plenty of frames after
    xdo("type", "--delay", "15", text)
    frames(3 * len(text) + 6)


def key(*names: str) -> None:
    xdo("key", "--delay", "20", *names)
    frames(8)


def wheel(x: float, y: float, clicks: int) -> None:
    """Turn the mouse wheel at (x, y): ``clicks`` > 0 up (zoom in), < 0 down."""
    xdo("mousemove", int(x), int(y))
    frames(3)
    for _ in range(abs(clicks)):
        xdo("click", 4 if clicks > 0 else 5)
        frames(2)
    frames(3)


def node_box(nid: str) -> tuple[float, float, float, float]:
    """Screen rectangle (x0, y0, x1, y1) of node ``nid`` (the title bar is at the top)."""
    return _APP.view.node_screen_rect(nid)


def pin_xy(nid: str, side: str, port: str) -> tuple[float, float]:
    """Screen point of a pin (``side`` "in": left edge, "out": right edge)."""
    return _APP.view.pin_screen(nid, side, port)


def item_center(item: Any) -> tuple[float, float]:
    import dearpygui.dearpygui as dpg

    (x, y), (w, h) = dpg.get_item_rect_min(item), dpg.get_item_rect_size(item)
    return x + w / 2, y + h / 2


def title_xy(nid: str) -> tuple[float, float]:
    """A point on a node's title bar (click it to select the node, drag it to move it)."""
    x0, y0, x1, y1 = node_box(nid)
    s = _APP.view.xf.scale
    return x0 + max(30 * s, min(60, (x1 - x0) / 2)), y0 + 12 * s
