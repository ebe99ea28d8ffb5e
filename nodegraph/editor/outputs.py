"""The editor window's result panels: the preview (image, text, video with a frame scrubber,
audio waveform with a Play button) and the log under the canvas, small objects the view owns and
calls once per frame.
"""
from __future__ import annotations

import math
import re
import time
from typing import Any

import dearpygui.dearpygui as dpg
import numpy as np

from .theme import DIM, ERROR, WARN


def audio_output() -> tuple[Any, str]:
    """(sounddevice module, "") when sound can play here, else (None, why not)."""
    try:
        import sounddevice as sd  # optional
    except Exception as e:  # ImportError, or OSError when PortAudio is missing
        return None, "no sounddevice" if isinstance(e, ImportError) else "no PortAudio"
    try:
        sd.query_devices(kind="output")
    except Exception:
        return None, "no audio output device"
    return sd, ""


# == inspector ======================================================================================


def rgba(img: np.ndarray) -> np.ndarray:
    """An image (grey, RGB or RGBA; uint8 or float) as the flat float RGBA a texture takes."""
    img = np.asarray(img)
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    if img.shape[2] == 3:
        img = np.concatenate([img, np.full(img.shape[:2] + (1,), 255, img.dtype)], axis=-1)
    data = img.astype(np.float32)
    if img.dtype == np.uint8:
        data /= 255.0
    return np.ascontiguousarray(data).ravel()


class PreviewPanel:
    """The preview under the tabs: the inspected node's last result, redrawn when the node, its
    state or the run count changes. Videos get Play and a frame slider (``tick`` plays them),
    sounds a waveform and a Play button (when sound can play here)."""

    def __init__(self, view: Any) -> None:
        self.view = view
        self._key: Any = None
        self._textures: list[int] = []
        self._video: dict[str, Any] | None = None
        self.sd, self.sd_why = audio_output()

    def reset(self) -> None:
        """Redraw at the next ``refresh`` (another node, another document)."""
        self._key = None
        self._video = None

    @staticmethod
    def _earlier(s: Any, nid: str) -> Any:
        """The preview of what an earlier run of this session computed for ``nid``, while still
        true for the document (teaching mode steps back to nodes the last step did not run)."""
        from .teaching import known

        entry = known(s).entry(s.doc, nid)
        if entry is None or not entry[1].ok:
            return None
        result, r = entry
        names = list(r.digests or r.outputs)
        t = r.types.get(names[0]) if names else None
        return t.preview(result.value(nid, names[0])) if t is not None else None

    def refresh(self) -> None:
        v, s = self.view, self.view.s
        nid = v.inspected
        state = v._nodes[nid].shown.get("state") if nid in v._nodes else None
        key = (nid, state, v._run_serial, s.live_serial(nid) if nid is not None else 0)
        if key == self._key:
            return
        self._key = key
        self._video = None
        dpg.delete_item("ng_preview", children_only=True)
        for t in self._textures:
            dpg.delete_item(t)
        self._textures = []
        if nid is None:
            dpg.add_text("Select a node to preview its result.", parent="ng_preview", color=DIM)
            return
        pv = v._guard(lambda: s.preview(nid), "preview")
        if pv is None and state in ("computed", "cached", "pinned"):  # not in the last run (a step back)
            pv = v._guard(lambda: self._earlier(s, nid), "preview")
        if pv is None and state == "failed":
            msg = s.node_view(nid).message if nid in s.doc else ""
            dpg.add_text(f"This node failed: {msg}", parent="ng_preview", color=ERROR, wrap=380)
            return
        if pv is None:
            hint = ("running..." if state in ("running", "queued") else
                    "Cached from an earlier run: run to here (F6) to show it (cached results are reused)."
                    if state in ("cached", "pinned") else "No result yet: run the graph (F5) or run to here (F6).")
            dpg.add_text(hint, parent="ng_preview", color=DIM, wrap=380)
            return
        dpg.add_text(pv.text, parent="ng_preview", wrap=380, color=(200, 200, 210))
        if pv.kind == "video":
            self._video_player(nid, pv)
        elif pv.image is not None:
            self._add_image(pv.image)
        if pv.waveform is not None:
            self._waveform(nid, pv.waveform)
        if pv.kind in ("text", "record", "number") and pv.image is None:
            full = v._guard(lambda: s.value_of(nid), "preview")
            if isinstance(full, str) and len(full) > len(pv.text):
                w = dpg.add_input_text(default_value=full, multiline=True, readonly=True, width=-1, height=160,
                                       parent="ng_preview")
                v._text_widgets.add(w)

    def _add_image(self, img: np.ndarray, dynamic: bool = False) -> int:
        h, w = img.shape[:2]
        add = dpg.add_dynamic_texture if dynamic else dpg.add_static_texture
        tex = add(w, h, rgba(img), parent="ng_textures")
        self._textures.append(tex)
        scale = min(380 / w, 300 / h, 2.0)
        dpg.add_image(tex, width=int(w * scale), height=int(h * scale), parent="ng_preview")
        return tex

    # -- video ------------------------------------------------------------------------------------
    def _video_player(self, nid: str, pv: Any) -> None:
        v, s = self.view, self.view.s
        video = v._guard(lambda: s.value_of(nid), "preview")
        n = int(getattr(video, "n_frames", 0) or 0)
        first = v._guard(lambda: s.frame_of(nid, 0), "preview") if n else None
        if first is None:
            if pv.image is not None:
                self._add_image(pv.image)
            return
        k = max(1, math.ceil(max(first.shape[1] / 380, first.shape[0] / 300)))
        tex = self._add_image(first[::k, ::k], dynamic=True)
        fps = float(getattr(video, "fps", 24) or 24)
        self._video = {"nid": nid, "tex": tex, "k": k, "n": n, "fps": fps, "i": 0, "playing": False, "t": 0.0}
        with dpg.group(horizontal=True, parent="ng_preview"):
            dpg.add_button(label="Play", tag="ng_video_play", width=60, callback=lambda: self._video_toggle())
            dpg.add_slider_int(tag="ng_video_frame", min_value=0, max_value=max(0, n - 1), width=-1,
                               callback=lambda s, a: self._video_seek(int(a)))

    def _video_toggle(self) -> None:
        if self._video:
            self._video["playing"] = not self._video["playing"]
            self._video["t"] = time.monotonic()
            dpg.configure_item("ng_video_play", label="Pause" if self._video["playing"] else "Play")

    def _video_seek(self, i: int) -> None:
        v = self._video
        if not v:
            return
        v["i"] = max(0, min(i, v["n"] - 1))
        fr = self.view._guard(lambda: self.view.s.frame_of(v["nid"], v["i"]), "preview")
        if fr is not None:
            dpg.set_value(v["tex"], rgba(fr[:: v["k"], :: v["k"]]))

    def tick(self) -> None:
        """Advance a playing video (once per frame)."""
        v = self._video
        if not v or not v["playing"]:
            return
        now = time.monotonic()
        if now - v["t"] >= 1.0 / v["fps"]:
            v["t"] = now
            nxt = (v["i"] + 1) % v["n"]
            self._video_seek(nxt)
            if dpg.does_item_exist("ng_video_frame"):
                dpg.set_value("ng_video_frame", nxt)

    # -- audio ------------------------------------------------------------------------------------
    def _waveform(self, nid: str, wf: np.ndarray) -> None:
        audio = self.view._guard(lambda: self.view.s.audio_of(nid), "preview")
        dur = float(getattr(audio, "duration", 0) or 0) or 1.0
        wf = np.asarray(wf, dtype=np.float64)
        xs = list(np.linspace(0, dur, len(wf)))
        with dpg.plot(height=110, width=-1, parent="ng_preview", no_menus=True, no_box_select=True, no_mouse_pos=True):
            x = dpg.add_plot_axis(dpg.mvXAxis, label="seconds")
            with dpg.plot_axis(dpg.mvYAxis, no_tick_labels=True) as y:
                dpg.add_shade_series(xs, list(wf[:, 1]), y2=list(wf[:, 0]))
            dpg.set_axis_limits(y, -1.05, 1.05)
            dpg.set_axis_limits(x, 0, dur)
        if self.sd is None:
            dpg.add_button(label=f"Play ({self.sd_why})", enabled=False, parent="ng_preview", tag="ng_audio_play")
        else:
            dpg.add_button(label="Play sound", parent="ng_preview", tag="ng_audio_play",
                           callback=lambda: self._play_audio(audio))

    def _play_audio(self, audio: Any) -> None:
        if audio is None or self.sd is None:
            return
        try:
            self.sd.stop()
            samples = np.asarray(audio.samples, dtype=np.float32)
            self.sd.play(samples, int(audio.rate))
        except Exception as e:
            self.view.message(f"cannot play: {e}", ERROR)


# == log ============================================================================================
class LogPanel:
    """The log under the canvas: the session's log lines (errors in red, warnings in amber), the
    newest 300 kept, scrolled to the end when lines arrive. The output folder a run ends with gets
    an "Open folder" button (``EditorSession.open_folder``)."""

    def __init__(self, session: Any) -> None:
        self.s = session
        self._seen = 0
        self._items: list[int] = []
        self._scroll = 0

    def tick(self) -> None:
        if self._scroll:
            self._scroll -= 1
            if not self._scroll:  # scroll once the new lines are laid out
                dpg.set_y_scroll("ng_log", dpg.get_y_scroll_max("ng_log"))
        log = self.s.log
        if len(log) == self._seen:
            return
        if len(log) < self._seen:
            self._seen = 0
        for line in log[self._seen:][-200:]:
            err = line.startswith("error") or bool(re.search(r"(?<!\b0 )\bfailed\b", line))
            color = ERROR if err else WARN if line.startswith("warning") else (175, 175, 185)
            if line.startswith("output folder: "):  # the end of a run: where its files are, and a way there
                with dpg.group(horizontal=True, parent="ng_log") as row:
                    dpg.add_text(line, color=(150, 190, 255))
                    dpg.add_button(label="Open folder", small=True, callback=lambda: self.s.open_folder(),
                                   tag=f"ng_open_folder_{self._seen}_{len(self._items)}")
                self._items.append(row)
                continue
            self._items.append(dpg.add_text(line, parent="ng_log", color=color, wrap=0))
        self._seen = len(log)
        while len(self._items) > 300:
            dpg.delete_item(self._items.pop(0))
        self._scroll = 2


__all__ = ["PreviewPanel", "LogPanel", "audio_output", "rgba"]
