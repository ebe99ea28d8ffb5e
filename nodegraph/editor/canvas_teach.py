"""The canvas side of teaching mode: the presenter scale (fonts, pins and wire width for a
projector), node notes drawn as callouts beside their nodes, and small value badges on wires
(a number, the first words of a text, a thumbnail) while teaching mode is on. The step
highlight itself is drawn by ``canvas.py`` (``_step_hl``).

The canvas only *reads* the teaching state, the contract of ``teaching_ui.TeachingMixin``:
``teaching_on`` (bool) and ``presenter_scale`` (1.0 outside teaching mode); each frame it follows
them. Wire values come from
``nodegraph.editor.teaching.wire_value(session, node_id, port)``, which returns a ``WireValue``
(``kind``, ``text`` of at most 24 characters, ``rgba``: a float32 HxWx4 thumbnail in 0..1 or
None). Without that module there are no badges. Textures are kept per (node, port, live serial,
state, run serial) and dropped when the key changes.
"""
from __future__ import annotations

from typing import Any

import dearpygui.dearpygui as dpg
import numpy as np

from .canvas_geom import MID, wrap

NOTE_BG, NOTE_FG = (250, 226, 140, 235), (40, 36, 20)


def _wire_value_fn() -> Any:
    try:
        from .teaching import wire_value  # built by the teaching-mode work; absent: no badges
    except ImportError:
        return None
    return wire_value


def _badge_spot(pts: list, w: float, h: float, gap: float, taken: list) -> tuple[float, float] | None:
    """Where a ``w`` x ``h`` badge goes on a wire drawn through ``pts``: just above the first point
    along it (middle first, then towards either end) where it covers no node and no other badge;
    None when the wire has no free spot."""
    n = len(pts)
    order = sorted(range(n), key=lambda i: (abs(i - n // 2), i))
    for i in order[:: max(1, n // 24)]:
        mx, my = pts[i]
        x0, y0 = mx - w / 2, my - h - gap
        if not any(x0 < b[2] and b[0] < x0 + w and y0 < b[3] and b[1] < y0 + h for b in taken):
            return x0, y0
    return None


class CanvasTeachMixin:
    """Presenter scale, note callouts and wire value badges (a part of ``GraphView``)."""

    # -- what the canvas follows (TeachingMixin's state) -----------------------------------------
    def _wanted_presenter(self) -> float:
        ps = getattr(self, "presenter_scale", None)  # TeachingMixin: the teacher's scale in teaching mode
        return float(ps) if isinstance(ps, (int, float)) else 1.0

    def _teach_frame(self) -> None:
        """Once per frame: follow the presenter scale and teaching mode."""
        want = min(2.5, max(1.0, self._wanted_presenter()))
        if want != self.xf.presenter:
            self._apply_presenter(want)
        on = bool(getattr(self, "teaching_on", False))
        if on != self._teach_drawn_on:
            self._teach_drawn_on = on
            self._teach_key = self._notes_key = None
            self._teach_sync(None, False)

    def _apply_presenter(self, scale: float) -> None:
        """Fonts, pins and wires bigger by ``scale`` (1.0 to 2.5) at the same zoom, around the
        middle of the canvas (F fits the whole graph again, as large as the screen allows)."""
        w, h = self._canvas_size
        mid = (w / 2, h / 2)
        g = self.xf.to_graph(mid)
        self.xf.presenter = scale
        s = self.xf.scale
        self.xf.pan = (mid[0] - g[0] * s, mid[1] - g[1] * s)
        try:
            dpg.set_global_font_scale(scale)
        except Exception:
            pass
        self._drawn_scale = -1.0
        self._inspector_key, self._inspector_pending = None, True  # its label column grows with the fonts
        self.sync()  # nodes are drawn again at the new scale (pins, outlines)
        self._apply_view()

    # == notes and badges ===========================================================================
    def _notes_of(self, nid: str) -> str:
        try:
            return str(self.s.doc.node(nid).get("notes") or "")
        except Exception:
            return ""

    def _teach_sync(self, views: Any, states_only: bool) -> None:
        """Draw note callouts and (teaching mode) wire badges again when what they show changed."""
        notes = {nid: self._notes_of(nid) for nid in self._nodes} if self.show_notes else {}
        notes = {k: v for k, v in notes.items() if v.strip()}
        pos = tuple((nid, self._nodes[nid].pos) for nid in sorted(notes))
        key = (tuple(sorted(notes.items())), pos, self.xf.scale)
        if key != self._notes_key:
            self._notes_key = key
            self._draw_notes(notes)
        self._draw_badges()

    def _teach_rescale(self) -> None:
        self._notes_key = None
        self._teach_key = None
        if getattr(self, "s", None) is not None:
            self._teach_sync(None, False)

    def _draw_notes(self, notes: dict[str, str]) -> None:
        dpg.delete_item("ng_notes_layer", children_only=True)
        s = self.xf.scale
        if self._lod < MID and not self.teaching_on:
            return
        size = 13.0 * s
        if size < 6:
            return
        from .canvas_geom import overlaps

        taken = [it.rect() for it in self._nodes.values()]
        for nid, text in notes.items():
            it = self._nodes.get(nid)
            if it is None:
                continue
            lines = wrap(text, 34, 6)
            w = 34 * 6.9 + 16
            h = len(lines) * 16 + 12
            nx0, ny0, nx1, ny1 = it.rect()
            spots = [(nx1 + 24, ny0), (nx0, ny0 - h - 18), (nx0 - w - 24, ny0), (nx0, ny1 + 18)]
            x0, y0 = next(((x, y) for x, y in spots if not any(overlaps((x, y, x + w, y + h), r) for r in taken)),
                          spots[0])  # the first side with room; crowded all round: the right
            taken.append((x0, y0, x0 + w, y0 + h))
            dpg.draw_rectangle((x0, y0), (x0 + w, y0 + h), color=(200, 170, 60), fill=NOTE_BG, parent="ng_notes_layer")
            cx, cy = min(max(x0 + w / 2, nx0), nx1), min(max(y0 + h / 2, ny0), ny1)  # the node's nearest edge point
            ax, ay = min(max(cx, x0), x0 + w), min(max(cy, y0), y0 + h)
            dpg.draw_line((ax, ay), (cx, cy), color=(250, 226, 140, 200), thickness=2, parent="ng_notes_layer")
            for k, line in enumerate(lines):
                dpg.draw_text((x0 + 8, y0 + 6 + 16 * k), line, size=size, color=NOTE_FG, parent="ng_notes_layer")

    def _draw_badges(self) -> None:
        fn = _wire_value_fn() if self.teaching_on else None
        sources = sorted({(k[0], k[1]) for k in self._wires}) if fn is not None else []
        state_key = tuple((n, p, self.s.live_serial(n), self._nodes[n].shown.get("state") if n in self._nodes else None)
                          for n, p in sources)
        key = (state_key, self._run_serial, tuple(sorted((k, self._wires[k]["drawn"] and self._wires[k]["drawn"][0])
                                                        for k in self._wires)) if fn else (), self.xf.scale)
        if key == self._teach_key:
            return
        self._teach_key = key
        dpg.delete_item("ng_badges_layer", children_only=True)
        if fn is None:
            for t in self._badge_textures.values():
                dpg.delete_item(t[1]) if t[1] else None
            self._badge_textures = {}
            return
        values = {}
        keep: dict = {}
        for (n, p, serial, state) in state_key:
            ck = (n, p, serial, state, self._run_serial)
            old = self._badge_textures.get((n, p))
            if old is not None and old[0] == ck:
                values[(n, p)] = old[2]
                keep[(n, p)] = old
                continue
            try:
                wv = fn(self.s, n, p)
            except Exception:
                wv = None
            tex = 0
            rgba = getattr(wv, "rgba", None) if wv is not None else None
            if rgba is not None:
                arr = np.ascontiguousarray(np.asarray(rgba, dtype=np.float32)[:64, :64, :4])
                if arr.ndim == 3 and arr.shape[2] == 4:
                    tex = dpg.add_static_texture(arr.shape[1], arr.shape[0], arr.ravel(), parent="ng_textures")
            if old is not None and old[1]:
                dpg.delete_item(old[1])
            keep[(n, p)] = (ck, tex, wv, rgba.shape[:2] if rgba is not None else None)
            values[(n, p)] = wv
        for k, old in self._badge_textures.items():
            if k not in keep and old[1]:
                dpg.delete_item(old[1])
        self._badge_textures = keep
        s = self.xf.scale
        size = max(11.0, 12.0 * s)
        boxes = [it.rect() for it in self._nodes.values()]
        placed: list[tuple[float, float, float, float]] = []
        for wkey in self._wires:
            wv = values.get((wkey[0], wkey[1]))
            if wv is None or getattr(wv, "kind", "none") == "none":
                continue
            pts = self.wire_points(wkey)
            if not pts:
                continue
            text = str(getattr(wv, "text", ""))[:24]
            ent = keep.get((wkey[0], wkey[1]))
            tw = (len(text) * size * 0.55 + 10) / s
            th = (size + 6) / s
            img_w = img_h = 0.0
            if ent and ent[1]:
                h0, w0 = ent[3]
                img_h = 40.0 / s * self.xf.presenter
                img_w = img_h * w0 / max(1, h0)
            bw, bh = max(tw, img_w), th + img_h
            spot = _badge_spot(pts, bw, bh, 6 / s, boxes + placed)
            if spot is None and img_h:  # no room for the picture: the words alone, where they fit
                img_w = img_h = 0.0
                bw, bh = tw, th
                spot = _badge_spot(pts, bw, bh, 6 / s, boxes + placed)
            if spot is None:  # a crowded wire: at its middle all the same
                mx, my = pts[len(pts) // 2]
                spot = (mx - bw / 2, my - bh - 6 / s)
            x0, y0 = spot
            placed.append((x0, y0, x0 + bw, y0 + bh))
            dpg.draw_rectangle((x0 - 2 / s, y0 - 2 / s), (x0 + max(tw, img_w) + 2 / s, y0 + th + img_h + 2 / s),
                               color=(90, 95, 110), fill=(20, 21, 26, 230), parent="ng_badges_layer")
            if ent and ent[1] and img_h:
                dpg.draw_image(ent[1], (x0, y0), (x0 + img_w, y0 + img_h), parent="ng_badges_layer")
            dpg.draw_text((x0 + 5 / s, y0 + img_h + 3 / s), text, size=size, color=(235, 235, 200),
                          parent="ng_badges_layer")


__all__ = ["CanvasTeachMixin"]
