"""Run the editor window: one dearpygui context and one viewport per process.

dearpygui 2.3 cannot make a second viewport in a process (the first OS window lives on and its
events crash the next one), so tests and benchmarks start a fresh process per window. Callbacks
are run by hand after every frame (``manual_callback_management``), so every session call
happens on this thread, in order, between frames.

``EditorApp`` is the frame loop in pieces (``start``, ``frame``, ``close``) so a test can drive
the window one frame at a time; ``run_editor`` is what ``nodegraph edit`` calls.
Timing is observable: ``frame_times`` holds each frame's wall time, ``cpu_times`` the editor's
own CPU time in it (Python work on this thread, rendering excluded) and ``render_cpu_times``
this thread's CPU time inside dearpygui's render call.
"""
from __future__ import annotations

import inspect
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg

from ..errors import format_error
from .view import GraphView


def display_problem() -> str | None:
    """Why no window can open here (None when one can)."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "no display: run the editor on a desktop, or under a virtual one (xvfb-run nodegraph edit ...)"
    return None


class EditorApp:
    """One editor window over one ``EditorSession``."""

    def __init__(self, path: str | os.PathLike | None = None, session: Any = None, *, width: int = 1400,
                 height: int = 900, autosave_every: float = 30.0, vsync: bool = True):
        if session is None:
            from .session import EditorSession

            session = EditorSession()
        self.session = session
        self.path = str(path) if path is not None else None
        self.width, self.height, self.vsync = width, height, vsync
        self.view = GraphView(session, autosave_every=autosave_every, width=width, height=height)
        self.frame_times: list[float] = []
        self.cpu_times: list[float] = []
        #: CPU time of this thread inside dearpygui's render call (ImGui layout and draw
        #: lists; the rasteriser's own threads are not counted)
        self.render_cpu_times: list[float] = []
        self.started = False
        self._last_error = ""

    def start(self) -> "EditorApp":
        dpg.create_context()
        dpg.configure_app(manual_callback_management=True)
        self.view.build()
        dpg.create_viewport(title="nodegraph", width=self.width, height=self.height, x_pos=0, y_pos=0,
                            vsync=self.vsync, disable_close=True, clear_color=(30, 31, 36, 255))
        dpg.set_exit_callback(lambda: self.view.request_close())
        dpg.set_viewport_resize_callback(
            lambda: self.view.on_resize(dpg.get_viewport_client_width(), dpg.get_viewport_client_height()))
        dpg.setup_dearpygui()
        dpg.show_viewport()
        self.started = True
        if self.path is not None:
            if Path(self.path).exists():
                self.view.open_file(self.path)
            else:
                self.view.show_error("Cannot open the file", f"{self.path}: no such file")
        else:
            self.view.offer_recovery(None)
        self.view.update()
        return self

    @property
    def running(self) -> bool:
        return self.started and dpg.is_dearpygui_running()

    def frame(self) -> float:
        """Render one frame, run its callbacks and the view's per-frame work; returns its seconds."""
        t0 = time.perf_counter()
        r0 = time.thread_time()
        dpg.render_dearpygui_frame()
        c0 = time.thread_time()
        self.render_cpu_times.append(c0 - r0)
        self._run_callbacks(dpg.get_callback_queue())
        try:
            self.view.update()
        except Exception as e:  # keep the window (and the user's work) alive; say what broke, once
            text = f"internal error: {format_error(e)}"
            if text != self._last_error:
                self._last_error = text
                traceback.print_exc()
                self.view.message(text, (235, 110, 100))
        cpu = time.thread_time() - c0
        dt = time.perf_counter() - t0
        self.frame_times.append(dt)
        self.cpu_times.append(cpu)
        return dt

    def _run_callbacks(self, jobs: Any) -> None:
        """``dpg.run_callbacks``, except that one failing callback is reported (status bar, log,
        stderr) instead of ending the window and dropping the rest of the frame's callbacks."""
        for job in jobs or ():
            fn = job[0]
            if fn is None:
                continue
            try:
                n = len(inspect.signature(fn).parameters)
                fn(*job[1:n + 1])
            except Exception as e:  # a bug in a callback must not take the user's work down
                traceback.print_exc()
                try:
                    self.view.message(f"internal error: {format_error(e)}", (235, 110, 100))
                except Exception:
                    pass

    def frames(self, n: int) -> None:
        for _ in range(n):
            self.frame()

    def screenshot(self, path: str | os.PathLike, max_frames: int = 120) -> bool:
        """Write the window as a PNG (written by dearpygui during a later frame)."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.exists():
            p.unlink()
        dpg.output_frame_buffer(file=str(p))
        for _ in range(max_frames):
            self.frame()
            if p.exists() and p.stat().st_size > 0:
                self.frames(2)  # let the writer finish
                return True
        return False

    def loop(self) -> None:
        while dpg.is_dearpygui_running():
            self.frame()

    def close(self) -> None:
        try:
            self.session.close()
        finally:
            if self.started:
                dpg.destroy_context()
                self.started = False


def run_editor(path: str | None, screenshot: str | None = None, frames: int = 0, session: Any = None) -> int:
    """Open the editor on ``path`` (None: a new graph). With ``screenshot``, render ``frames``
    frames (30 when 0), write the window to that PNG and return; otherwise run until closed."""
    why = display_problem()
    if why:
        print(f"nodegraph edit: {why}", file=sys.stderr)
        return 2
    app = EditorApp(path, session=session)
    try:
        app.start()
        if screenshot:
            app.frames(frames or 30)
            ok = app.screenshot(screenshot)
            if not ok:
                print(f"nodegraph edit: could not write the screenshot {screenshot}", file=sys.stderr)
                return 1
            return 0
        app.loop()
        return 0
    finally:
        app.close()


__all__ = ["EditorApp", "run_editor", "display_problem"]
