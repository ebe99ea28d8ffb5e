"""The canvas's view: zoom and pan (the world draw node's transform), fitting, going to a node,
the canvas following the window's size, screen/graph coordinates, the empty-graph hint and the
overview (a small map of every node, bottom right; a click there moves the view). All of it is
view state: nothing here changes the document. ``CanvasViewMixin`` is part of ``GraphView``.
"""
from __future__ import annotations

from typing import Any

import dearpygui.dearpygui as dpg

from .canvas_geom import bbox, lod_of
from .theme import STATE_COLORS


class CanvasViewMixin:
    """Zoom, pan, fit, coordinates, hint and overview (a part of ``GraphView``)."""

    # == view ======================================================================================
    @property
    def zoom(self) -> float:
        return self.xf.zoom

    def _apply_view(self) -> None:
        """Push the view transform to the world draw node; resize texts and wires when the scale
        changed; switch the level of detail."""
        s = self.xf.scale
        dpg.apply_transform("ng_world", dpg.create_translation_matrix([self.xf.pan[0], self.xf.pan[1]])
                            * dpg.create_scale_matrix([s, s, 1.0]))
        if s != self._drawn_scale:
            self._drawn_scale = s
            lod = lod_of(s)
            lod_changed = lod != self._lod
            self._lod = lod
            for it in self._nodes.values():
                self._scale_node(it, lod_changed)
            for key in self._wires:
                self._draw_wire(key)
            self._draw_groups()
            self._teach_rescale()
        self._view_serial += 1
        self._cull()
        self._draw_minimap()

    def _visible_box(self, margin: float = 40.0) -> tuple[float, float, float, float]:
        x0, y0, x1, y1 = self.xf.visible(self._canvas_size)
        m = margin / self.xf.scale
        return x0 - m, y0 - m, x1 + m, y1 + m

    def _cull(self) -> None:
        """Hide nodes and wires wholly outside the view: dearpygui then skips them entirely."""
        vis = self._visible_box()
        for it in self._nodes.values():
            self._cull_node(it, vis)
        for key, w in self._wires.items():
            self._cull_wire(w, vis)

    def _cull_node(self, it: Any, vis: tuple | None = None) -> None:
        vis = vis or self._visible_box()
        r = it.rect()
        on = r[0] < vis[2] and vis[0] < r[2] and r[1] < vis[3] and vis[1] < r[3]
        if it.shown.get("on") != on:
            dpg.configure_item(it.root, show=on)
            it.shown["on"] = on

    def _cull_wire(self, w: dict, vis: tuple | None = None) -> None:
        box = w.get("box")
        if box is None or not w["item"]:
            return
        vis = vis or self._visible_box()
        on = box[0] < vis[2] and vis[0] < box[2] and box[1] < vis[3] and vis[1] < box[3]
        if w.get("on") != on:
            dpg.configure_item(w["item"], show=on)
            for h in w.get("handles", ()):
                dpg.configure_item(h, show=on)
            w["on"] = on

    def canvas_rect(self) -> tuple[float, float, float, float]:
        """(x, y, width, height) of the canvas on screen."""
        x, y = self._canvas_origin()
        return x, y, self._canvas_size[0], self._canvas_size[1]

    def _canvas_origin(self) -> tuple[float, float]:
        try:
            x, y = dpg.get_item_rect_min("ng_canvas")
        except Exception:
            x, y = 0, 0
        return float(x), float(y)

    def _follow_size(self) -> None:
        """The canvas fills the left column above the log, whatever the window's size."""
        try:
            w, h = dpg.get_item_rect_size("ng_left")
        except Exception:
            return
        if not w or not h:
            return
        size = (float(max(50, w)), float(max(50, h - self.log_h - 6)))
        if size != self._canvas_size:
            self._canvas_size = size
            dpg.configure_item("ng_canvas", width=int(size[0]), height=int(size[1]))
            self._backdrop_key = None
            self._draw_minimap()

    def to_screen(self, g: tuple[float, float]) -> tuple[float, float]:
        """Screen pixel of graph point ``g``."""
        ox, oy = self._canvas_origin()
        lx, ly = self.xf.to_local(g)
        return ox + lx, oy + ly

    def to_graph(self, screen: tuple[float, float]) -> tuple[float, float]:
        ox, oy = self._canvas_origin()
        return self.xf.to_graph((screen[0] - ox, screen[1] - oy))

    def set_zoom(self, zoom: float, at: tuple[float, float] | None = None) -> None:
        """Zoom to ``zoom`` around canvas-local point ``at`` (the canvas middle by default)."""
        at = at if at is not None else (self._canvas_size[0] / 2, self._canvas_size[1] / 2)
        self.xf.zoom_at(at, zoom)
        self._apply_view()

    def pan_by(self, dx: float, dy: float) -> None:
        self.xf.pan = (self.xf.pan[0] + dx, self.xf.pan[1] + dy)
        self._apply_view()

    def fit_all(self) -> None:
        self._fit([it.rect() for it in self._nodes.values()] + [g[1] for g in self._group_boxes.values()], "all nodes")

    def fit_selection(self) -> None:
        ids = self.selected_ids()
        if not ids:
            self.message("select nodes to fit them (F fits all)", (230, 190, 90), log=False)
            return
        self._fit([self._nodes[i].rect() for i in ids if i in self._nodes], f"{len(ids)} selected node(s)")

    def _fit(self, rects: list, what: str) -> None:
        self.xf.fit(bbox(rects), self._canvas_size, max_zoom=1.5)
        self._apply_view()
        self.message(f"fitted {what} ({self.xf.zoom:.0%})", (200, 200, 205), log=False)

    def reset_view(self) -> None:
        """100%, with the graph's top-left corner near the canvas's."""
        box = bbox(it.rect() for it in self._nodes.values())
        self.xf.zoom = 1.0
        s = self.xf.scale
        self.xf.pan = (30 - box[0] * s, 40 - box[1] * s) if box else (0.0, 0.0)
        self._apply_view()

    def _initial_view(self) -> None:
        """A newly opened graph: at 100% when it fits, otherwise fitted whole."""
        box = bbox([it.rect() for it in self._nodes.values()] + [g[1] for g in self._group_boxes.values()])
        if box is None:
            self.xf.zoom, self.xf.pan = 1.0, (0.0, 0.0)
            self._apply_view()
            return
        w, h = self._canvas_size
        if (box[2] - box[0]) * self.xf.presenter <= w - 60 and (box[3] - box[1]) * self.xf.presenter <= h - 60:
            self.reset_view()
        else:
            self.xf.fit(box, self._canvas_size, max_zoom=1.0)
            self._apply_view()

    def go_to(self, nid: str) -> bool:
        """Centre node ``nid`` (zoomed to at least 80%) and select it."""
        it = self._nodes.get(nid)
        if it is None:
            return False
        self.xf.zoom = max(self.xf.zoom, 0.8)
        s = self.xf.scale
        cx, cy = (it.pos[0] + it.geom.w / 2) * s, (it.pos[1] + it.geom.h / 2) * s
        self.xf.pan = (self._canvas_size[0] / 2 - cx, self._canvas_size[1] / 2 - cy)
        self._apply_view()
        self.select([nid])
        self.message(f"went to {nid}", (200, 200, 205), log=False)
        return True

    def mouse_grid_pos(self) -> tuple[float, float]:
        """Where the mouse is, in graph coordinates (the canvas middle when it is elsewhere)."""
        mx, my = dpg.get_mouse_pos(local=False)
        ox, oy = self._canvas_origin()
        w, h = self._canvas_size
        if not (ox <= mx <= ox + w and oy <= my <= oy + h):
            mx, my = ox + w * 0.4, oy + h * 0.4
        g = self.to_graph((mx, my))
        return (round(g[0]), round(g[1]))


    # -- hint, overview ------------------------------------------------------------------------------
    def _draw_hint(self) -> None:
        empty = not self._nodes
        if self._backdrop_key == (empty, self._canvas_size):
            return
        self._backdrop_key = (empty, self._canvas_size)
        dpg.delete_item("ng_overlay", children_only=True)
        if empty:  # an empty graph says how to start
            w, h = self._canvas_size
            for i, line in enumerate(("An empty graph.", "Tab, Ctrl+Space or a right click adds a node;",
                                      "File > Templates opens a ready-made graph.")):
                dpg.draw_text((w / 2 - 170, h / 2 - 40 + 22 * i), line, size=17, color=(120, 122, 135), parent="ng_overlay")

    MINIMAP_W, MINIMAP_H = 180.0, 120.0

    def minimap_rect(self) -> tuple[float, float, float, float]:
        """The overview's rectangle, canvas-local (bottom-right corner)."""
        w, h = self._canvas_size
        return (w - self.MINIMAP_W - 10, h - self.MINIMAP_H - 10, w - 10, h - 10)

    def _minimap_map(self) -> tuple[Any, Any] | None:
        box = bbox([it.rect() for it in self._nodes.values()] + [self.xf.visible(self._canvas_size)])
        if box is None:
            return None
        mx0, my0, mx1, my1 = self.minimap_rect()
        k = min((mx1 - mx0 - 8) / max(1.0, box[2] - box[0]), (my1 - my0 - 8) / max(1.0, box[3] - box[1]))

        def to_map(g: tuple[float, float]) -> tuple[float, float]:
            return mx0 + 4 + (g[0] - box[0]) * k, my0 + 4 + (g[1] - box[1]) * k

        def to_graph(p: tuple[float, float]) -> tuple[float, float]:
            return (p[0] - mx0 - 4) / k + box[0], (p[1] - my0 - 4) / k + box[1]

        return to_map, to_graph

    def _draw_minimap(self) -> None:
        if not self.show_minimap or not self._nodes:
            if self._minimap_drawn:
                dpg.delete_item("ng_minimap", children_only=True)
                self._minimap_drawn = False
            return
        dpg.delete_item("ng_minimap", children_only=True)
        self._minimap_drawn = True
        m = self._minimap_map()
        if m is None:
            return
        to_map = m[0]
        x0, y0, x1, y1 = self.minimap_rect()
        dpg.draw_rectangle((x0, y0), (x1, y1), color=(70, 72, 82), fill=(16, 17, 20, 220), parent="ng_minimap")
        for it in self._nodes.values():
            a, b = to_map(it.pos), to_map((it.pos[0] + it.geom.w, it.pos[1] + it.geom.h))
            c = STATE_COLORS.get(it.shown.get("state", "stale"), (90, 90, 96))
            dpg.draw_rectangle(a, (max(b[0], a[0] + 2), max(b[1], a[1] + 2)), color=(0, 0, 0, 0), fill=c,
                               parent="ng_minimap")
        vx0, vy0, vx1, vy1 = self.xf.visible(self._canvas_size)
        a, b = to_map((vx0, vy0)), to_map((vx1, vy1))
        dpg.draw_rectangle((max(a[0], x0), max(a[1], y0)), (min(b[0], x1), min(b[1], y1)), color=(230, 230, 240),
                           thickness=1, parent="ng_minimap")

    def minimap_jump(self, local: tuple[float, float]) -> None:
        """Centre the view on the graph point under canvas-local point ``local`` of the overview."""
        m = self._minimap_map()
        if m is None:
            return
        g = m[1](local)
        s = self.xf.scale
        self.xf.pan = (self._canvas_size[0] / 2 - g[0] * s, self._canvas_size[1] / 2 - g[1] * s)
        self._apply_view()


__all__ = ["CanvasViewMixin"]
