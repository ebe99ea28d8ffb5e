"""The canvas's mouse: hit-testing in graph coordinates, clicks, drags (move nodes, link pins,
detach wires, box select, pan), the wheel (zoom around the cursor) and hover tooltips on pins.

``CanvasInputMixin`` is part of ``GraphView``. The mouse handlers only record what happened;
``_canvas_frame`` (called once per frame) follows a drag with the mouse. Selection, zoom, pan
and fitting change only the view; the document changes only through session calls when a drag
ends (one ``move_many`` per node drag: one undo step) or a wire is dropped.
"""
from __future__ import annotations

import time
from typing import Any

import dearpygui.dearpygui as dpg

from .canvas_geom import MID, TITLE_H, dist_to_polyline, inside, overlaps
from .theme import ERROR, INFO, OK

DRAG_PX = 4.0  # a press that moves less than this is a click
TIP_DELAY = 0.35


class CanvasInputMixin:
    """Mouse handling of the canvas (a part of ``GraphView``)."""

    # == hit-testing ===================================================================================
    def hit(self, screen: tuple[float, float]) -> tuple:
        """What is under screen point ``screen``: ("minimap",), ("pin", node, "in"|"out", port),
        ("fold", node), ("title", node), ("node", node), ("group", gid), ("wire", key),
        ("empty",), or ("outside",)."""
        ox, oy = self._canvas_origin()
        local = (screen[0] - ox, screen[1] - oy)
        w, h = self._canvas_size
        if not (0 <= local[0] <= w and 0 <= local[1] <= h):
            return ("outside",)
        if self.show_minimap and self._nodes and inside(local, self.minimap_rect()):
            return ("minimap",)
        g = self.xf.to_graph(local)
        s = self.xf.scale
        r = max(7.0, 9.0 / s)  # pins: at least 9 screen pixels around
        if self._lod >= MID:  # the nearest pin: an output and the input beside it can both be in reach
            best: tuple | None = None
            for nid, it in reversed(list(self._nodes.items())):
                x0, y0, x1, y1 = it.rect()
                if not (x0 - r <= g[0] <= x1 + r and y0 - r <= g[1] <= y1 + r):
                    continue
                for side, pins in (("in", it.geom.inputs), ("out", it.geom.outputs)):
                    for port, (px, py) in pins.items():
                        dx, dy = abs(g[0] - (x0 + px)), abs(g[1] - (y0 + py))
                        if dx <= r and dy <= r and (best is None or dx * dx + dy * dy < best[0]):
                            best = (dx * dx + dy * dy, ("pin", nid, side, port))
            if best is not None:
                return best[1]
        for nid, it in reversed(list(self._nodes.items())):
            x0, y0, x1, y1 = it.rect()
            if x0 <= g[0] <= x1 and y0 <= g[1] <= y1:
                if g[1] <= y0 + TITLE_H:
                    return ("fold", nid) if g[0] <= x0 + 20 and self._lod >= MID else ("title", nid)
                return ("node", nid)
        for key in self._wires:
            via = self._reroutes(key)
            for i, p in enumerate(via):
                if abs(g[0] - p[0]) <= r and abs(g[1] - p[1]) <= r:
                    return ("reroute", key, i)
        tol = max(5.0, 6.0 / s)
        for key in self._wires:
            pts = self.wire_points(key)
            if pts and dist_to_polyline(g, pts) <= tol:
                return ("wire", key)
        gid = self.group_title_at(g)
        if gid is not None:
            return ("group", gid)
        return ("empty",)

    def pin_screen(self, nid: str, side: str, port: str) -> tuple[float, float]:
        """Screen point of a pin (tests and the dragged wire use it)."""
        it = self._nodes[nid]
        px, py = (it.geom.inputs if side == "in" else it.geom.outputs)[port]
        return self.to_screen((it.pos[0] + px, it.pos[1] + py))

    def node_screen_rect(self, nid: str) -> tuple[float, float, float, float]:
        x0, y0, x1, y1 = self._nodes[nid].rect()
        a, b = self.to_screen((x0, y0)), self.to_screen((x1, y1))
        return a[0], a[1], b[0], b[1]

    def _canvas_hovered(self) -> bool:
        try:
            return bool(dpg.is_item_hovered("ng_canvas"))
        except Exception:
            return False

    # == handlers ====================================================================================
    def _on_mouse_down(self, sender: Any, button: Any) -> None:
        if isinstance(button, (list, tuple)):
            button = button[0]
        if button == 0 and dpg.is_mouse_button_double_clicked(0):
            return  # the second press of a double click: ``_on_double_click`` has it
        if self._ctx_open() and button in (0, 1, 2):
            if not dpg.is_item_hovered("ng_ctx") and not self._mouse_over("ng_ctx"):
                self.close_menu()
            return
        if self._rename_target is not None and not self._mouse_over("ng_rename"):
            self._finish_rename(commit=True)
        if self._drag is not None or not self._canvas_hovered():
            return
        mouse = tuple(dpg.get_mouse_pos(local=False))
        what = self.hit(mouse)  # type: ignore[arg-type]
        if what[0] == "outside":
            return
        shift = dpg.is_key_down(dpg.mvKey_LShift) or dpg.is_key_down(dpg.mvKey_RShift) or dpg.is_key_down(dpg.mvKey_ModShift)
        space = dpg.is_key_down(dpg.mvKey_Spacebar) and not self._editing_text()
        base = {"start": mouse, "moved": False, "shift": shift, "what": what}
        if button == 2 or (button == 0 and space):
            self._drag = {**base, "kind": "pan", "pan0": self.xf.pan}
        elif button == 1:
            self.open_menu_for(what, mouse)
        elif button == 0:
            self._press_left(what, base)

    def _press_left(self, what: tuple, base: dict) -> None:
        kind = what[0]
        if kind == "minimap":
            self._drag = {**base, "kind": "minimap"}
            ox, oy = self._canvas_origin()
            self.minimap_jump((base["start"][0] - ox, base["start"][1] - oy))
        elif kind == "pin" and what[2] == "out":
            self._drag = {**base, "kind": "wire", "src": (what[1], what[3])}
        elif kind == "pin":
            nid, port = what[1], what[3]
            links = [k for k in self._wires if k[2] == nid and k[3] == port]
            if links:  # pick the wire up by its end: it follows the mouse from its source
                self._drag = {**base, "kind": "wire", "src": (links[-1][0], links[-1][1]), "detach": links[-1]}
            else:
                self._drag = {**base, "kind": "wire_back", "dst": (nid, port)}
        elif kind == "fold":
            nid = what[1]
            self._guard(lambda: self.s.set_collapsed(nid, not self.s.node_view(nid).collapsed), "fold")
        elif kind in ("title", "node"):
            nid = what[1]
            if base["shift"]:
                sel = [n for n in self._sel if n != nid] if nid in self._sel else self._sel + [nid]
                self.select(sel)
            elif nid not in self._sel:
                self.select([nid])
            else:
                self.inspect(nid)
            ids = [n for n in self._sel if n in self._nodes]
            self._drag = {**base, "kind": "move", "ids": ids, "orig": {n: self._nodes[n].pos for n in ids}}
        elif kind == "group":
            nodes = next((n for g, _t, n in self._groups if g == what[1]), [])
            self.select([n for n in nodes if n in self._nodes])
            ids = self.selected_ids()
            self._drag = {**base, "kind": "move", "ids": ids, "orig": {n: self._nodes[n].pos for n in ids}}
        elif kind == "reroute":
            key, i = what[1], what[2]
            self._drag = {**base, "kind": "reroute", "key": key, "index": i}
        elif kind == "wire":
            key = what[1]
            links = (self._sel_links + [key]) if base["shift"] else [key]
            self.select(self._sel if base["shift"] else [], links)
        else:
            self._drag = {**base, "kind": "box"}

    def _on_mouse_up(self, sender: Any, button: Any) -> None:
        if isinstance(button, (list, tuple)):
            button = button[0]
        d = self._drag
        if d is None:
            return
        if d["kind"] == "pan" and button not in (0, 2):
            return
        self._drag = None
        dpg.delete_item("ng_drag_layer", children_only=True)
        mouse = tuple(dpg.get_mouse_pos(local=False))
        kind = d["kind"]
        if kind == "move":
            if d["moved"]:
                self._guard(lambda: self.s.move_many({n: self._nodes[n].pos for n in d["ids"] if n in self._nodes}),
                            "move")
        elif kind in ("wire", "wire_back"):
            self._drop_wire(d, mouse)  # type: ignore[arg-type]
        elif kind == "box":
            if d["moved"]:
                a, b = self.to_graph(d["start"]), self.to_graph(mouse)  # type: ignore[arg-type]
                box = (min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1]))
                hit = [n for n, it in self._nodes.items() if overlaps(box, it.rect())]
                self.select((self._sel + hit) if d["shift"] else hit)
            elif not d["shift"]:
                self.select([])
        elif kind == "reroute" and d["moved"]:
            g = self.to_graph(mouse)  # type: ignore[arg-type]
            self._set_reroute(d["key"], d["index"], (round(g[0]), round(g[1])))

    def _on_wheel(self, sender: Any, delta: Any) -> None:
        if not self._canvas_hovered() or self._ctx_open():
            return
        try:
            steps = float(delta)
        except (TypeError, ValueError):
            return
        ox, oy = self._canvas_origin()
        mx, my = dpg.get_mouse_pos(local=False)
        self.set_zoom(self.xf.zoom * (1.15 ** steps), (mx - ox, my - oy))

    def _on_double_click(self, sender: Any, button: Any) -> None:
        if isinstance(button, (list, tuple)):
            button = button[0]
        if button != 0 or not self._canvas_hovered():
            return
        self._drag = None
        dpg.delete_item("ng_drag_layer", children_only=True)
        what = self.hit(tuple(dpg.get_mouse_pos(local=False)))  # type: ignore[arg-type]
        if what[0] == "title":
            self.rename_node_in_place(what[1])
        elif what[0] == "group":
            self.rename_group_in_place(what[1])
        elif what[0] == "wire":
            g = self.to_graph(tuple(dpg.get_mouse_pos(local=False)))  # type: ignore[arg-type]
            self.add_reroute(what[1], g)
        elif what[0] == "empty":
            self.open_palette()

    # == per frame ====================================================================================
    def _canvas_frame(self) -> None:
        """Follow the mouse: the current drag, and the pin tooltip."""
        self._follow_size()
        d = self._drag
        mouse = tuple(dpg.get_mouse_pos(local=False))
        if d is not None:
            if d["kind"] == "pan" and not (dpg.is_mouse_button_down(dpg.mvMouseButton_Middle)
                                           or dpg.is_mouse_button_down(dpg.mvMouseButton_Left)):
                self._on_mouse_up(None, 2)  # the release happened where no handler saw it
                return
            dx, dy = mouse[0] - d["start"][0], mouse[1] - d["start"][1]
            if not d["moved"] and abs(dx) + abs(dy) < DRAG_PX:
                return
            d["moved"] = True
            self._follow_drag(d, mouse, dx, dy)  # type: ignore[arg-type]
            return
        if mouse != self._last_mouse:
            self._last_mouse = mouse  # type: ignore[assignment]
            self._hover_since = time.monotonic()
            self._hide_tip()
        elif (self._tip_for is None and time.monotonic() - self._hover_since > TIP_DELAY and self._canvas_hovered()
              and not self._ctx_open() and self._rename_target is None):
            self._show_tip(self.hit(mouse), mouse)  # type: ignore[arg-type]

    def _follow_drag(self, d: dict, mouse: tuple[float, float], dx: float, dy: float) -> None:
        kind = d["kind"]
        s = self.xf.scale
        if kind == "pan":
            self.xf.pan = (d["pan0"][0] + dx, d["pan0"][1] + dy)
            self._apply_view()
        elif kind == "minimap":
            ox, oy = self._canvas_origin()
            self.minimap_jump((mouse[0] - ox, mouse[1] - oy))
        elif kind == "move":
            for n in d["ids"]:
                it = self._nodes.get(n)
                if it is None:
                    continue
                o = d["orig"][n]
                it.pos = (round(o[0] + dx / s), round(o[1] + dy / s))
                dpg.apply_transform(it.root, dpg.create_translation_matrix([it.pos[0], it.pos[1]]))
                self._cull_node(it)
            self._redraw_wires_of(set(d["ids"]))
            self._draw_groups()
        elif kind in ("wire", "wire_back", "reroute"):
            dpg.delete_item("ng_drag_layer", children_only=True)
            ox, oy = self._canvas_origin()
            m = (mouse[0] - ox, mouse[1] - oy)
            if kind == "reroute":
                a = (m[0] - 5, m[1] - 5)
                dpg.draw_rectangle(a, (a[0] + 10, a[1] + 10), color=(255, 255, 255), parent="ng_drag_layer")
                return
            if kind == "wire":
                p = self.pin_screen(d["src"][0], "out", d["src"][1]) if d["src"][0] in self._nodes else d["start"]
            else:
                p = self.pin_screen(d["dst"][0], "in", d["dst"][1])
            p = (p[0] - ox, p[1] - oy)
            a, b = (p, m) if kind == "wire" else (m, p)
            k = max(30.0, abs(b[0] - a[0]) * 0.5)
            dpg.draw_bezier_cubic(a, (a[0] + k, a[1]), (b[0] - k, b[1]), b, color=(235, 235, 245), thickness=2.5,
                                  parent="ng_drag_layer")
        elif kind == "box":
            ox, oy = self._canvas_origin()
            a = (d["start"][0] - ox, d["start"][1] - oy)
            b = (mouse[0] - ox, mouse[1] - oy)
            dpg.delete_item("ng_drag_layer", children_only=True)
            dpg.draw_rectangle((min(a[0], b[0]), min(a[1], b[1])), (max(a[0], b[0]), max(a[1], b[1])),
                               color=(150, 180, 255), fill=(120, 150, 255, 40), parent="ng_drag_layer")

    # == wires =========================================================================================
    def _drop_wire(self, d: dict, mouse: tuple[float, float]) -> None:
        what = self.hit(mouse)
        detach = d.get("detach")
        if d["kind"] == "wire_back":
            if what[0] == "pin" and what[2] == "out":
                self.link(what[1], what[3], *d["dst"])
            elif what[0] in ("empty",) and d["moved"]:
                self.open_palette(want=("in", d["dst"][0], d["dst"][1]))
            return
        src = d["src"]
        if what[0] == "pin" and what[2] == "in":
            if detach is not None and (what[1], what[3]) == (detach[2], detach[3]):
                return  # put back where it was
            if detach is not None:
                self._guard(lambda: self.s.disconnect(*detach), "unlink")
            self.link(src[0], src[1], what[1], what[3])
        elif what[0] in ("node", "title") and what[1] != src[0] and detach is None:
            self._link_to_node(src, what[1])
        elif detach is not None:
            if d["moved"]:
                self._guard(lambda: self.s.disconnect(*detach), "unlink")
                self.message(f"unlinked {detach[0]}.{detach[1]} -> {detach[2]}.{detach[3]}", INFO, log=False)
        elif what[0] in ("empty", "group") and d["moved"]:
            self.open_palette(want=("out", src[0], src[1]))

    def link(self, src: str, src_port: str, dst: str, dst_port: str) -> bool:
        """Link two pins through the session; a refused link is explained in the status bar."""
        why = self._guard(lambda: self.s.connect(src, src_port, dst, dst_port), "link")
        if why:
            self.message(f"link refused: {why}", ERROR)
            self.toast(f"Not linked: {why}")
            return False
        self.message(f"linked {src}.{src_port} -> {dst}.{dst_port}", OK)
        return True

    def _link_to_node(self, src: tuple[str, str], dst: str) -> None:
        """A wire dropped on a node's body: its first free input that takes the value."""
        port = self.compatible_port(self.s.doc.type_of(dst), "out", src[0], src[1], free_on=dst)
        if port is None:
            self.message(f"link refused: {dst} has no free input that takes {src[0]}.{src[1]}", ERROR)
            self.toast("Not linked: no free input of that type")
            return
        self.link(src[0], src[1], dst, port)

    def compatible_port(self, type_id: str, side: str, nid: str, port: str, free_on: str | None = None) -> str | None:
        """The port of node type ``type_id`` that pin (``nid``, ``port``, ``side``) can link to:
        an input of the same type first, then any input that takes it (``side`` "out"), or an
        output the input takes (``side`` "in"); None when there is none."""
        from ..types import can_connect

        reg = self.s.registry
        spec = reg.specs.get(type_id)
        other = reg.specs.get(self.s.doc.type_of(nid))
        if spec is None or other is None:
            return None
        if side == "out":
            out = other.output_port(port)
            if out is None:
                return None
            taken = set(self.s.doc.inputs(free_on)) if free_on else set()
            cands = [p for p in spec.inputs if can_connect(out.type.vtype, p.type.vtype)
                     and (p.name not in taken or p.variadic)]
            cands.sort(key=lambda p: (p.type.id != out.type.id, p.is_param))
            return cands[0].name if cands else None
        inp = other.input(port)
        if inp is None:
            return None
        cands2 = [o for o in spec.outputs if can_connect(o.type.vtype, inp.type.vtype)]
        cands2.sort(key=lambda o: o.type.id != inp.type.id)
        return cands2[0].name if cands2 else None

    # == reroute points ================================================================================
    def add_reroute(self, key: tuple[str, str, str, str], g: tuple[float, float]) -> None:
        """Add a reroute point at graph point ``g`` on wire ``key`` (in path order)."""
        via = [tuple(p) for p in self._reroutes(key)]
        ends = self.wire_ends(key)
        if ends is None:
            return
        stops = [ends[0], *via, ends[1]]
        best, at = None, len(via)
        from .canvas_geom import wire_path

        for i, (a, b) in enumerate(zip(stops, stops[1:])):
            dd = dist_to_polyline(g, wire_path(a, b, (), n=10))
            if best is None or dd < best:
                best, at = dd, i
        via.insert(at, (round(g[0]), round(g[1])))
        self._set_reroutes(key, via)

    def _set_reroute(self, key: tuple, index: int, g: tuple[float, float]) -> None:
        via = [tuple(p) for p in self._reroutes(key)]
        if 0 <= index < len(via):
            via[index] = g
            self._set_reroutes(key, via)

    def remove_reroute(self, key: tuple, index: int) -> None:
        via = [tuple(p) for p in self._reroutes(key)]
        if 0 <= index < len(via):
            del via[index]
            self._set_reroutes(key, via)

    def _set_reroutes(self, key: tuple, via: list) -> None:
        fn = getattr(self.s, "set_reroutes", None)
        if fn is None:
            self.message("reroute points need a newer session", ERROR, log=False)
            return
        self._guard(lambda: fn(key[2], key[3], [list(p) for p in via]), "reroute")

    # == tooltips ======================================================================================
    def _hide_tip(self) -> None:
        if self._tip_for is not None:
            self._tip_for = None
            dpg.configure_item("ng_pin_tip", show=False)
            for t in self._tip_textures:
                dpg.delete_item(t)
            self._tip_textures = []

    def _show_tip(self, what: tuple, mouse: tuple[float, float]) -> None:
        lines: list[str] = []
        image = None
        if what[0] == "pin":
            lines, image = self.pin_info(what[1], what[2], what[3])
        elif what[0] in ("title", "node"):
            it = self._nodes.get(what[1])
            if it is None or (what[0] == "node" and self._lod >= MID):
                lines = []  # over a node's pins and values: no card (pins have their own)
            else:
                lines = [it.shown.get("tip", "")]
                thumb = self._thumb(self.s.node_view(what[1]))
                image = thumb[1] if thumb is not None else None
        if not lines:
            self._tip_for = ("none",)
            return
        self._tip_for = what
        dpg.delete_item("ng_pin_tip", children_only=True)
        dpg.add_text("\n".join(lines), parent="ng_pin_tip", wrap=360)
        if image is not None:
            from .outputs import rgba

            h, w = image.shape[:2]
            k = max(1, int(max(w, h) // 128))
            img = image[::k, ::k]
            tex = dpg.add_static_texture(img.shape[1], img.shape[0], rgba(img), parent="ng_textures")
            self._tip_textures.append(tex)
            dpg.add_image(tex, parent="ng_pin_tip")
        dpg.set_item_pos("ng_pin_tip", [int(min(mouse[0] + 18, self.width - 380)), int(min(mouse[1] + 18, self.height - 200))])
        dpg.configure_item("ng_pin_tip", show=True)

    def pin_info(self, nid: str, side: str, port: str) -> tuple[list[str], Any]:
        """A pin's tooltip: name and type, its description, and its current value (a param's
        value, or the last result of an output, as text or a small picture)."""
        from .panels import short

        reg = self.s.registry
        spec = reg.specs.get(self.s.doc.type_of(nid))
        if spec is None:
            return [port], None
        lines: list[str] = []
        image = None
        if side == "in":
            p = spec.input(port)
            if p is None:
                return [port], None
            lines.append(f"{port}: {p.type.id}{'  (many)' if p.variadic else ''}")
            if p.doc:
                lines.append(p.doc)
            src = [f"{k[0]}.{k[1]}" for k in self._wires if k[2] == nid and k[3] == port]
            if src:
                lines.append("from " + ", ".join(src))
            elif p.is_param:
                v = self.s.doc.params(nid).get(port, p.default_json)
                lines.append(f"value: {short(v, 60)}")
        else:
            o = spec.output_port(port)
            if o is None:
                return [port], None
            lines.append(f"{port}: {o.type.id} (output)")
            pv = self._output_preview(nid, port)
            if pv is not None:
                lines.append(pv.text)
                image = pv.image
            else:
                lines.append("no value yet: run the graph (F5)")
        return lines, image

    def _output_preview(self, nid: str, port: str) -> Any:
        fn = getattr(self.s, "output_preview", None)
        if fn is None:
            return None
        try:
            return fn(nid, port)
        except Exception:
            return None

    def _mouse_over(self, item: str) -> bool:
        try:
            if not dpg.is_item_shown(item):
                return False
            (x, y), (w, h) = dpg.get_item_pos(item), dpg.get_item_rect_size(item)
            mx, my = dpg.get_mouse_pos(local=False)
            return x <= mx <= x + w and y <= my <= y + h
        except Exception:
            return False


__all__ = ["CanvasInputMixin"]
