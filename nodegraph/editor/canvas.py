"""The editor's canvas: our own node editor drawn on a dearpygui drawlist, kept in step with the
session (nodes, pins, wires, group frames), with zoom and pan.

``CanvasMixin`` is part of ``GraphView`` (``view.py``): it reads ``self.s`` (the session) and
changes the document only through the session. Everything in the graph is drawn once, in graph
coordinates, under one draw node (``ng_world``) whose transform is the view (zoom and pan,
``canvas_geom.ViewXform``): panning and zooming is one ``apply_transform`` call. Each node is a
draw node translated to its position, so moving it is one call too. dearpygui does not scale
text sizes or line widths with a transform, so a zoom change resizes the texts of the current
level of detail (far: title bar and state colour; middle: pins and names; near: param values and
wrapped multi-line text). Zoom, pan, fitting and the overview are ``canvas_view.py``; the mouse
is ``canvas_input.py``; menus, in-place
renaming and the wire-drop search ``canvas_menus.py``; teaching-mode drawing ``canvas_teach.py``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import dearpygui.dearpygui as dpg

from .canvas_geom import (
    FAR, MID, NEAR, ROW_H, STATUS_H, TITLE_H, NodeGeom, ViewXform, bbox, node_geom, shown_inputs,
    shown_outputs, wire_controls, wire_path,
)
from .licence_ui import draw_licence_badge
from .panels import short
from .theme import STATE_COLORS, lighter

NODE_BG, NODE_OUTLINE, SELECTED = (44, 45, 52), (80, 82, 92), (240, 200, 90)
TEXT, DIM_TEXT = (228, 228, 236), (170, 170, 182)
GROUP_TITLE_H = 26.0


@dataclass
class _NodeItem:
    root: int
    geom: NodeGeom
    sig: tuple
    pos: tuple[float, float]
    body: int = 0
    title_bar: int = 0
    title: int = 0
    status: int = 0
    prog_bg: int = 0
    prog_fg: int = 0
    fold: int = 0
    mid: int = 0
    near: int = 0
    glow: int = 0
    texts: list[tuple[int, float, int]] = field(default_factory=list)  # (item, base size, level)
    pins: dict[tuple[str, str], int] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)  # input name -> "name  value" as shown
    shown: dict[str, Any] = field(default_factory=dict)

    def rect(self) -> tuple[float, float, float, float]:
        return (self.pos[0], self.pos[1], self.pos[0] + self.geom.w, self.pos[1] + self.geom.h)


class CanvasMixin:
    """Canvas items (``_nodes``, ``_links``), their sync with the session, the view transform,
    level of detail, group frames, selection and fitting (a part of ``GraphView``)."""

    # == building ===================================================================================
    def _build_canvas(self, parent: str, width: int, height: int) -> None:
        self.xf = ViewXform()
        with dpg.drawlist(width=width, height=height, tag="ng_canvas", parent=parent):
            with dpg.draw_node(tag="ng_world"):
                dpg.add_draw_node(tag="ng_groups_layer")
                dpg.add_draw_node(tag="ng_wires_layer")
                dpg.add_draw_node(tag="ng_nodes_layer")
                dpg.add_draw_node(tag="ng_notes_layer")
                dpg.add_draw_node(tag="ng_badges_layer")
            dpg.add_draw_node(tag="ng_overlay")  # canvas pixels: hint, box, dragged wire, zoom label, overview
            dpg.add_draw_node(tag="ng_minimap")
            dpg.add_draw_node(tag="ng_drag_layer")  # the dragged wire, the selection box
        self._canvas_size = (float(width), float(height))
        self._apply_view()

    def _scale_node(self, it: _NodeItem, lod_changed: bool = True) -> None:
        s, lod = self.xf.scale, self._lod
        if lod_changed or it.shown.get("lod") != lod:
            dpg.configure_item(it.mid, show=lod >= MID)
            dpg.configure_item(it.near, show=lod >= NEAR)
            dpg.configure_item(it.status, show=lod >= MID)
            dpg.configure_item(it.fold, show=lod >= MID)
            it.shown["lod"] = lod
        for item, base, level in it.texts:
            if level <= lod:
                size = base * s
                if item == it.title and size < 10.0:  # far out: a readable title, cut to the node's width
                    fit = int(it.geom.w * s / 5.6) - 1
                    title = it.sig[0]
                    text = title if len(title) <= fit else title[: max(0, fit - 1)] + "…"
                    dpg.configure_item(item, size=10.0, text=text, show=fit >= 3)
                    it.shown["title_cut"] = True
                    continue
                if item == it.title and it.shown.pop("title_cut", False):
                    dpg.configure_item(item, text=it.sig[0])
                dpg.configure_item(item, size=size, show=True)
        dpg.configure_item(it.body, thickness=self._outline_px(it))

    def _outline_px(self, it: _NodeItem) -> float:
        hl = it.shown.get("hl") or it.shown.get("selected")
        return (3.0 if hl else 1.0) * max(1.0, self.xf.presenter)

    # == sync =======================================================================================
    def sync(self, states_only: bool = False) -> None:
        """Bring the canvas in line with the session. ``states_only``: only a run's progress
        changed (skip the title, which serialises the document, wires and groups)."""
        s = self.s
        self._rev = s.revision
        ids = s.node_ids()
        views = {i: s.node_view(i) for i in ids}
        auto = self._auto_layout(ids)
        gone = set(self._nodes) - set(views)
        for nid in gone:
            self._drop_node_items(self._nodes.pop(nid))
        moved = False
        for nid, v in views.items():
            it = self._nodes.get(nid)
            title = self._node_label(v)
            sig = self._sig(v, title)
            if it is None or it.sig != sig:
                if it is not None:
                    self._drop_node_items(it)
                self._add_node(v, title, sig, auto.get(nid))
                moved = True
            it = self._nodes[nid]
            pos = tuple(auto[nid]) if nid in auto else tuple(float(x) for x in v.pos)
            if it.pos != pos and nid not in self._dragging_nodes():
                it.pos = pos  # type: ignore[assignment]
                dpg.apply_transform(it.root, dpg.create_translation_matrix([pos[0], pos[1]]))
                self._cull_node(it)
                moved = True
            self._update_node(v)
        if self._sel and any(n not in views for n in self._sel):
            self.select([n for n in self._sel if n in views])
        if not states_only or moved or gone:
            self._sync_wires(s.links_view())
            self._groups_cache = None
            self._draw_groups()
            self._draw_minimap()
        if self._inspected is not None and self._inspected not in views:
            self.inspect(None)
        self._inspector_pending = True
        self._draw_hint()
        if not states_only:
            self._refresh_title()
            self.groups_tab.refresh(self._groups)
        self._teach_sync(views, states_only)

    def _dragging_nodes(self) -> set[str]:
        d = self._drag
        return set(d["ids"]) if d and d.get("kind") == "move" else set()

    def _multiline(self, v: Any) -> frozenset:
        spec = self.s.registry.specs.get(v.type)
        if spec is None:
            return frozenset()
        return frozenset(p.name for p in spec.inputs if p.is_param and (p.type.opts or {}).get("multiline"))

    def _sig(self, v: Any, title: str) -> tuple:
        """What a node's items are built from: when it changes, the node is drawn again."""
        ins = tuple((p.name, p.type_id, p.is_param, p.linked, repr(p.value)) for p in v.inputs)
        outs = tuple((p.name, p.type_id, p.linked) for p in v.outputs)
        thumb = self._thumb(v) if self.show_previews else None
        return (title, v.collapsed, ins, outs, v.known, v.color, self.xf.presenter, thumb[0] if thumb else None,
                getattr(v, "licence", None))

    PREVIEW_IMAGE_TYPES = ("image", "video")

    def _thumb(self, v: Any) -> tuple | None:
        """(key, picture) of the node's last result when it is a picture (kept per run and state;
        nothing is recomputed: the session's last run result), else None."""
        key = (v.state, self._run_serial)
        old = self._thumbs.get(v.id)
        if old is not None and old[0] == key:
            return old if old[1] is not None else None
        img = None
        port = next((p.name for p in v.outputs if p.type_id in self.PREVIEW_IMAGE_TYPES), None)
        if port is not None and v.state in ("computed", "cached", "pinned"):
            fn = getattr(self.s, "output_preview", None)
            try:
                pv = fn(v.id, port) if fn is not None else None
            except Exception:
                pv = None
            if pv is not None and pv.image is not None:
                import numpy as np

                a = np.asarray(pv.image)
                k = max(1, int(np.ceil(max(a.shape[0], a.shape[1]) / 160)))
                img = np.ascontiguousarray(a[::k, ::k])
        self._thumbs[v.id] = (key, img)
        return self._thumbs[v.id] if img is not None else None

    def _drop_node_items(self, it: _NodeItem) -> None:
        dpg.delete_item(it.root)
        tex = it.shown.pop("tex", None)
        if tex:
            dpg.delete_item(tex)

    def _auto_layout(self, ids: list[str]) -> dict[str, tuple[float, float]]:
        """View positions for nodes the document never placed (columns by depth)."""
        missing = [i for i in ids if "pos" not in self.s.doc.layout.get(i, {})]
        if not missing:
            return {}
        g = self.s.doc.g
        depth: dict[str, int] = {}
        try:
            import networkx as nx

            for n in nx.topological_sort(g):
                depth[n] = max((depth[p] + 1 for p in g.predecessors(n)), default=0)
        except Exception:
            depth = {n: 0 for n in ids}
        rows: dict[int, int] = {}
        out = {}
        for n in ids:
            d = depth.get(n, 0)
            r = rows.get(d, 0)
            rows[d] = r + 1
            if n in missing:
                out[n] = (40.0 + 300 * d, 40.0 + 190 * r)
        return out

    # -- nodes --------------------------------------------------------------------------------------
    def _node_label(self, v: Any) -> str:
        flat = v.title.lower().replace(" ", "_")
        label = v.title if flat == v.id.lower() else f"{v.title}  ({v.id})"
        look = getattr(v, "look", None)  # a Look instance: its badge and version (looks_session.py)
        if look:
            label = f"[Look] {label}  v{look[1]}"
        return f"{label}  [bypassed]" if getattr(v, "bypass", False) else label

    def node_title(self, nid: str) -> str:
        it = self._nodes.get(nid)
        return it.sig[0] if it is not None else nid

    def node_text(self, nid: str, name: str) -> str:
        """What the node shows for input ``name`` ("name  value" for an unlinked param)."""
        return self._nodes[nid].labels.get(name, "")

    def _pin_label(self, p: Any) -> str:
        if p.is_param and not p.linked and p.value is not None and p.value != "":
            return f"{p.name}  {short(p.value)}"
        return p.name

    def _add_node(self, v: Any, title: str, sig: tuple, auto: tuple[float, float] | None) -> None:
        ml = self._multiline(v)
        geom = node_geom(v, title, ml, lambda p: short(p.value) if p.value not in (None, "") else "")
        pos = tuple(auto) if auto is not None else tuple(float(x) for x in v.pos)
        thumb = self._thumb(v) if self.show_previews else None
        img_box = None
        if thumb is not None:  # the last result as a picture, under the pins (drawn when near)
            ih, iw = thumb[1].shape[:2]
            tw = geom.w - 16
            th = min(120.0, tw * ih / max(1, iw))
            tw = th * iw / max(1, ih)
            img_box = ((geom.w - tw) / 2, geom.h, (geom.w + tw) / 2, geom.h + th)
            geom.h += th + 8
        w, h = geom.w, geom.h
        ps = self.xf.presenter
        it = _NodeItem(0, geom, sig, pos)  # type: ignore[arg-type]
        texts = it.texts
        with dpg.draw_node(parent="ng_nodes_layer") as root:
            it.root = root
            it.glow = dpg.draw_rectangle((-6, -6), (w + 6, h + 6), color=(255, 255, 255, 0), fill=(255, 255, 255, 0),
                                         thickness=0)
            it.body = dpg.draw_rectangle((0, 0), (w, h), color=v.color or NODE_OUTLINE, fill=NODE_BG, thickness=1)
            it.title_bar = dpg.draw_rectangle((1, 1), (w - 1, TITLE_H), color=(0, 0, 0, 0), fill=STATE_COLORS["stale"])
            it.fold = dpg.draw_triangle(*self._fold_points(v.collapsed), color=(0, 0, 0, 0), fill=(230, 230, 236))
            it.title = dpg.draw_text((22, 4), title, size=15, color=(245, 245, 250))  # far out: drawn from x=22 too
            texts.append((it.title, 15.0, FAR))
            it.status = dpg.draw_text((8, TITLE_H + 2), "", size=13, color=DIM_TEXT)
            texts.append((it.status, 13.0, MID))
            if getattr(v, "licence", None):  # a model that stops commercial use: a tag over the node
                texts.append(draw_licence_badge(v.licence[0], w))
            y_bar = TITLE_H + STATUS_H - 4
            it.prog_bg = dpg.draw_rectangle((8, y_bar), (w - 8, y_bar + 3), color=(0, 0, 0, 0), fill=(20, 20, 24), show=False)
            it.prog_fg = dpg.draw_rectangle((8, y_bar), (8, y_bar + 3), color=(0, 0, 0, 0), fill=STATE_COLORS["running"],
                                            show=False)
            with dpg.draw_node() as mid:
                it.mid = mid
                for p in shown_inputs(v):
                    x, y = geom.inputs[p.name]
                    it.pins[("in", p.name)] = self._draw_pin(x, y, p, True, ps)
                    t = dpg.draw_text((10, y - 8), p.name, size=13, color=TEXT)
                    texts.append((t, 13.0, MID))
                    it.labels[p.name] = self._pin_label(p)
                for p in shown_outputs(v):
                    x, y = geom.outputs[p.name]
                    it.pins[("out", p.name)] = self._draw_pin(x, y, p, False, ps)
                    t = dpg.draw_text((w - 10 - len(p.name) * 7.0, y - 8), p.name, size=13, color=TEXT)
                    texts.append((t, 13.0, MID))
            with dpg.draw_node() as near:
                it.near = near
                for p in shown_inputs(v):
                    if not (p.is_param and not p.linked and p.value not in (None, "")):
                        continue
                    x, y = geom.inputs[p.name]
                    if p.name in geom.wrapped:
                        for k, line in enumerate(geom.wrapped[p.name]):
                            t = dpg.draw_text((14, y + 8 + k * ROW_H * 0.8), line, size=12, color=(200, 205, 170))
                            texts.append((t, 12.0, NEAR))
                    else:
                        t = dpg.draw_text((12 + len(p.name) * 7.0 + 8, y - 8), short(p.value), size=13,
                                          color=(150, 190, 255))
                        texts.append((t, 13.0, NEAR))
            if img_box is not None:
                from .outputs import rgba

                img = thumb[1]
                tex = dpg.add_static_texture(img.shape[1], img.shape[0], rgba(img), parent="ng_textures")
                it.shown["tex"] = tex
                dpg.draw_image(tex, img_box[:2], img_box[2:], parent=near)
        dpg.apply_transform(root, dpg.create_translation_matrix([pos[0], pos[1]]))
        self._cull_node(it)
        self._nodes[v.id] = it
        it.shown["selected"] = v.id in self._sel
        self._scale_node(it, True)

    def _fold_points(self, folded: bool) -> tuple:
        return ((7, 8), (15, 12), (7, 16)) if folded else ((6, 9), (16, 9), (11, 16))

    def _draw_pin(self, x: float, y: float, p: Any, inp: bool, ps: float) -> int:
        r = 5.0  # graph units: pins grow with zoom and presenter scale
        fill = tuple(p.color) if p.linked else NODE_BG
        if not inp:
            return dpg.draw_triangle((x - r * 0.6, y - r), (x + r, y), (x - r * 0.6, y + r), color=tuple(p.color),
                                     fill=fill, thickness=1.5)
        if p.is_param:
            return dpg.draw_quad((x, y - r), (x + r, y), (x, y + r), (x - r, y), color=tuple(p.color), fill=fill,
                                 thickness=1.5)
        return dpg.draw_rectangle((x - r * 0.85, y - r * 0.85), (x + r * 0.85, y + r * 0.85), color=tuple(p.color),
                                  fill=fill, thickness=1.5)

    def _update_node(self, v: Any) -> None:
        it = self._nodes[v.id]
        sh = it.shown
        state = v.state
        hl = bool(self._step_hl) and self._step_hl[0] == v.id
        text = self._status_line(v, state)
        if sh.get("status") != text:
            dpg.configure_item(it.status, text=text)
            sh["status"] = text
        if sh.get("state") != state or sh.get("hl") != hl:
            c = STATE_COLORS.get(state, (90, 90, 96))
            dpg.configure_item(it.title_bar, fill=c)
            dpg.configure_item(it.status, color=lighter(c, 0.45) if state != "failed" else (255, 140, 130))
            dpg.configure_item(it.glow, color=(255, 255, 255, 230) if hl else (255, 255, 255, 0),
                               fill=(255, 255, 255, 40) if hl else (255, 255, 255, 0), thickness=3 if hl else 0)
            sh["state"], sh["hl"] = state, hl
            self._style_body(it)
        running = state == "running"
        if sh.get("running") != running:
            dpg.configure_item(it.prog_bg, show=running)
            dpg.configure_item(it.prog_fg, show=running)
            sh["running"] = running
        if running:
            frac = max(0.0, min(1.0, float(v.progress or 0.0)))
            if sh.get("progress") != frac:
                y0 = TITLE_H + STATUS_H - 4
                dpg.configure_item(it.prog_fg, pmax=(8 + (it.geom.w - 16) * frac, y0 + 3))
                sh["progress"] = frac
        sh["tip"] = self._tooltip(v, state)

    def _style_body(self, it: _NodeItem) -> None:
        sh = it.shown
        color = (255, 255, 255) if sh.get("hl") else SELECTED if sh.get("selected") else (it.sig[5] or NODE_OUTLINE)
        dpg.configure_item(it.body, color=color, thickness=self._outline_px(it))

    def _status_line(self, v: Any, state: str) -> str:
        if state == "running":
            return f"running {int(round((v.progress or 0) * 100))}%"
        if state == "computed":
            return f"computed  {v.seconds:.2f} s"
        if state == "failed":
            return "failed: " + short(v.message or "error", 34)
        if state == "skipped":
            return "skipped"
        group = self._group_of(v.id)
        return state + (f"   [{group}]" if group else "")

    def _tooltip(self, v: Any, state: str) -> str:
        lines = [f"{v.type}   ({v.category})"]
        if v.message:
            lines.append(v.message)
        if v.reason and state not in ("running", "queued"):
            lines.append(("will run: " if v.reason != "cached" else "") + v.reason)
        if state == "computed":
            lines.append(f"computed in {v.seconds:.3f} s")
        return "\n".join(lines)

    # -- wires ---------------------------------------------------------------------------------------
    def _sync_wires(self, links: list) -> None:
        want = {(l.src, l.src_port, l.dst, l.dst_port): l for l in links}
        for key in list(self._wires):
            if key not in want:
                gone = self._wires.pop(key)
                for item in [gone["item"], *gone.get("handles", ())]:
                    if item:
                        dpg.delete_item(item)
        for key, lv in want.items():
            w = self._wires.get(key)
            if w is None:
                self._wires[key] = {"item": 0, "color": tuple(lv.color), "pts": None, "drawn": None}
            else:
                w["color"] = tuple(lv.color)
            self._draw_wire(key)

    def wire_ends(self, key: tuple[str, str, str, str]) -> tuple[tuple[float, float], tuple[float, float]] | None:
        a, b = self._nodes.get(key[0]), self._nodes.get(key[2])
        if a is None or b is None:
            return None
        po = a.geom.outputs.get(key[1])
        pi = b.geom.inputs.get(key[3])
        if po is None:  # folded away: the wire leaves the title bar
            po = (a.geom.w, TITLE_H / 2)
        if pi is None:
            pi = (0.0, TITLE_H / 2)
        return (a.pos[0] + po[0], a.pos[1] + po[1]), (b.pos[0] + pi[0], b.pos[1] + pi[1])

    def wire_points(self, key: tuple[str, str, str, str]) -> list[tuple[float, float]]:
        ends = self.wire_ends(key)
        if ends is None:
            return []
        return wire_path(ends[0], ends[1], self._reroutes(key), n=12)

    def _reroutes(self, key: tuple[str, str, str, str]) -> list:
        return list(self.s.doc.layout.get(key[2], {}).get("reroute", {}).get(key[3], []))

    def _draw_wire(self, key: tuple[str, str, str, str]) -> None:
        w = self._wires[key]
        ends = self.wire_ends(key)
        if ends is None:
            return
        via = tuple(tuple(p) for p in self._reroutes(key))
        hl = bool(self._step_hl) and self._step_hl[1] is not None and tuple(self._step_hl[1]) == key
        sel = key in self._sel_links
        s = self.xf.scale
        far = self._lod == FAR
        px = max(1.0, min(8.0 * self.xf.presenter, 2.5 * s)) * (2 if hl or sel else 1)
        color = (255, 255, 255) if hl else lighter(w["color"], 0.5) if sel else w["color"]
        drawn = (ends, via, far, round(px, 1), color)
        if w["drawn"] == drawn:
            return
        if w["item"]:
            dpg.delete_item(w["item"])
        p0, p3 = ends
        if via or far:
            pts = [p0, *via, p3] if far else wire_path(p0, p3, via, n=10)
            w["item"] = dpg.draw_polyline([list(p) for p in pts], color=color, thickness=px, parent="ng_wires_layer")
        else:
            c1, c2 = wire_controls(p0, p3)
            w["item"] = dpg.draw_bezier_cubic(p0, c1, c2, p3, color=color, thickness=px, segments=16,
                                              parent="ng_wires_layer")
        w["drawn"] = drawn
        xs = [p0[0], p3[0], p0[0] + 40, p3[0] - 40] + [r[0] for r in via]
        ys = [p0[1], p3[1]] + [r[1] for r in via]
        w["box"], w["on"] = (min(xs), min(ys), max(xs), max(ys)), True
        for h in w.get("handles", ()):
            dpg.delete_item(h)
        w["handles"] = [dpg.draw_rectangle((r[0] - 5, r[1] - 5), (r[0] + 5, r[1] + 5), color=(20, 20, 24), fill=color,
                                           parent="ng_wires_layer") for r in via] if not far else []
        self._cull_wire(w)

    def _redraw_wires_of(self, ids: set[str]) -> None:
        for key in self._wires:
            if key[0] in ids or key[2] in ids:
                self._draw_wire(key)

    # -- groups ----------------------------------------------------------------------------------
    @property
    def _groups(self) -> list:
        """(id, title, node ids) of every group (asked of the session once per revision)."""
        if self._groups_cache is None or self._groups_cache[0] != self.s.revision:
            self._groups_cache = (self.s.revision, self.s.groups_view())
        return self._groups_cache[1]

    def _group_of(self, nid: str) -> str:
        for _gid, title, nodes in self._groups:
            if nid in nodes:
                return title
        return ""

    def _draw_groups(self) -> None:
        """A titled frame around each group's nodes (graph coordinates, under the wires)."""
        dpg.delete_item("ng_groups_layer", children_only=True)
        self._group_boxes = {}
        if not self.show_group_frames:
            return
        s = self.xf.scale
        for gid, title, nodes in self._groups:
            box = bbox(self._nodes[n].rect() for n in nodes if n in self._nodes)
            if box is None:
                continue
            x0, y0, x1, y1 = box[0] - 14, box[1] - 14 - GROUP_TITLE_H, box[2] + 14, box[3] + 14
            self._group_boxes[gid] = (title or gid, (x0, y0, x1, y1))
            dpg.draw_rectangle((x0, y0), (x1, y1), color=(150, 160, 210, 150), thickness=1.5,
                               parent="ng_groups_layer")  # no fill: a software renderer pays for every pixel
            dpg.draw_rectangle((x0, y0), (x1, y0 + GROUP_TITLE_H), color=(0, 0, 0, 0), fill=(120, 130, 200, 60),
                               parent="ng_groups_layer")
            dpg.draw_text((x0 + 8, y0 + 4), title or gid, size=max(17 * s, 12.0), color=(190, 200, 245),
                          parent="ng_groups_layer")

    def group_title_at(self, g: tuple[float, float]) -> str | None:
        """The group whose title bar is at graph point ``g``."""
        for gid, (_title, (x0, y0, x1, _y1)) in self._group_boxes.items():
            if x0 <= g[0] <= x1 and y0 <= g[1] <= y0 + GROUP_TITLE_H:
                return gid
        return None

    # == selection ====================================================================================
    def selected_ids(self) -> list[str]:
        return [n for n in self._sel if n in self._nodes]

    def select(self, ids: list[str], links: list | None = None) -> None:
        """Select nodes ``ids`` (and wires ``links``), in that order; the first is inspected."""
        new = list(dict.fromkeys(ids))
        old = set(self._sel)
        self._sel = new
        for nid in old ^ set(new):
            it = self._nodes.get(nid)
            if it is not None:
                it.shown["selected"] = nid in new
                self._style_body(it)
        old_links = set(self._sel_links)
        self._sel_links = list(links or [])
        for key in old_links ^ set(self._sel_links):
            if key in self._wires:
                self._draw_wire(key)
        if new:
            self.inspect(new[0])


__all__ = ["CanvasMixin"]
