"""The editor's canvas: the dearpygui node editor kept in step with the session (nodes, pins,
links, group frames), node positions and the view offset, selection, and what the node editor
calls back when the user links, unlinks, folds or drags.

``CanvasMixin`` is part of ``GraphView`` (``view.py``): it reads ``self.s`` (the session) and
the view's state, and changes the document only through the session. ``sync`` deletes stale
links first, then stale nodes (deleting a linked node segfaults dearpygui 2.3), then adds what
is new and updates labels, colours and positions. There is no pan or zoom API in dearpygui, so
"go to node" shifts every node's *view* position by the same offset (``offset``); positions
written back to the document subtract it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import dearpygui.dearpygui as dpg

from .panels import short
from .theme import CANVAS, ERROR, INFO, OK, STATE_COLORS, lighter

FOLD = {False: "\u25be", True: "\u25b8"}  # small triangles: folded or not
PAD = 8  # imnodes' default node padding (node rect = content rect grown by PAD)


def _norm(x: Any) -> int:
    """dearpygui hands out aliases (str) or ids (int) for the same item: use ids."""
    return dpg.get_alias_id(x) if isinstance(x, str) else int(x)


@dataclass
class _NodeItem:
    item: int
    sig: tuple
    pins: dict[tuple[str, str], int]
    status: int
    progress: int
    tip: int
    labels: dict[str, int]
    fold: int
    gui_pos: tuple[float, float] = (0.0, 0.0)
    doc_pos: tuple[float, float] | None = None
    shown: dict[str, Any] = field(default_factory=dict)


class CanvasMixin:
    """The node editor's items (``_nodes``, ``_links``), their sync with the session, positions,
    selection and the editor's callbacks (a part of ``GraphView``)."""

    # == sync =======================================================================================
    def sync(self, states_only: bool = False) -> None:
        """Bring the node editor in line with the session (links out first, then nodes).
        ``states_only``: only a run's progress changed (skip the title, which serialises the
        document to know whether it is saved, and the groups)."""
        s = self.s
        self._rev = s.revision
        ids = s.node_ids()
        views = {i: s.node_view(i) for i in ids}
        links = {(l.src, l.src_port, l.dst, l.dst_port): l for l in s.links_view()}
        auto = self._auto_layout(ids)
        rebuild = {i for i, v in views.items() if i in self._nodes and self._nodes[i].sig != self._sig(v)}
        gone = set(self._nodes) - set(views)
        drop = rebuild | gone
        keep = {nid: (self._nodes[nid].gui_pos, self._nodes[nid].doc_pos) for nid in rebuild}
        for key in list(self._links):  # 1. links (deleting a linked node segfaults dearpygui)
            if key not in links or key[0] in drop or key[2] in drop:
                self._delete_link(key)
        for nid in drop:  # 2. nodes
            item = self._nodes.pop(nid)
            self._node_of_item.pop(item.item, None)
            dpg.delete_item(item.item)
        for nid, v in views.items():  # 3. new nodes, updated nodes
            if nid not in self._nodes:
                self._add_node(v, auto.get(nid))
                if nid in keep:  # a rebuilt node (folded, new pins) stays where it was on screen
                    it = self._nodes[nid]
                    it.gui_pos, it.doc_pos = keep[nid]
                    dpg.set_item_pos(it.item, list(it.gui_pos))
            self._update_node(v, auto.get(nid))
        step_link = self._step_hl[1] if self._step_hl else None
        for key, lv in links.items():  # 4. new links, step highlight
            if key not in self._links:
                self._add_link(key, lv.color)
            theme = self.themes.link(lv.color, key == tuple(step_link or ()))
            if key in self._links and self._link_theme.get(key) != theme:
                dpg.bind_item_theme(self._links[key], theme)
                self._link_theme[key] = theme
        if self._inspected is not None and self._inspected not in views:
            self.inspect(None)
        self._inspector_pending = True
        if not states_only:
            self._refresh_title()
            self.groups_tab.refresh(self._groups)

    def _sig(self, v: Any) -> tuple:
        """What a node's widgets are built from: when it changes, the node is built again."""
        ins = tuple((p.name, p.type_id, p.is_param, p.linked if v.collapsed else None) for p in v.inputs)
        outs = tuple((p.name, p.type_id, p.linked if v.collapsed else None) for p in v.outputs)
        return (v.collapsed, ins, outs, v.known)

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
                out[n] = (40.0 + 300 * d, 40.0 + 170 * r)
        return out

    # -- nodes --------------------------------------------------------------------------------------
    def _node_label(self, v: Any) -> str:
        flat = v.title.lower().replace(" ", "_")
        return v.title if flat == v.id.lower() else f"{v.title}  ({v.id})"

    def _add_node(self, v: Any, auto: tuple[float, float] | None) -> None:
        pos = auto if auto is not None else v.pos
        gpos = (pos[0] + self.offset[0], pos[1] + self.offset[1])
        pins: dict[tuple[str, str], int] = {}
        labels: dict[str, int] = {}
        with dpg.node(label=self._node_label(v), parent="ng_editor", pos=gpos, user_data=v.id) as node:
            with dpg.node_attribute(attribute_type=dpg.mvNode_Attr_Static):
                with dpg.group(horizontal=True):
                    fold = dpg.add_button(label=FOLD[v.collapsed], small=True, width=18,
                                          callback=self._on_fold, user_data=v.id)
                    dpg.bind_item_theme(fold, "ng_small_button")
                    status = dpg.add_text("stale", color=lighter(STATE_COLORS["stale"], 0.5))
                progress = dpg.add_progress_bar(default_value=0.0, width=150, height=6, show=False)
                with dpg.tooltip(status):
                    tip = dpg.add_text("", wrap=340)
            for p in v.inputs:
                if v.collapsed and not p.linked:
                    continue
                shape = self._pin_shape(p, inp=True)
                with dpg.node_attribute(attribute_type=dpg.mvNode_Attr_Input, shape=shape, user_data=(v.id, p.name)) as a:
                    labels[p.name] = dpg.add_text(self._pin_label(p), color=(205, 205, 212))
                dpg.bind_item_theme(a, self.themes.pin(p.color))
                pins[("in", p.name)] = a
            widest = max([len(self._pin_label(p)) for p in v.inputs] + [len(self._node_label(v)) - 2, 10])
            for p in v.outputs:
                if v.collapsed and not p.linked and len(v.outputs) > 1:
                    continue
                with dpg.node_attribute(attribute_type=dpg.mvNode_Attr_Output, shape=self._pin_shape(p, inp=False),
                                        user_data=(v.id, p.name)) as a:
                    dpg.add_text(p.name, indent=max(0, int((widest - len(p.name)) * 7.2)), color=(225, 225, 232))
                dpg.bind_item_theme(a, self.themes.pin(p.color))
                pins[("out", p.name)] = a
        self._nodes[v.id] = _NodeItem(node, self._sig(v), pins, status, progress, tip, labels, fold, gpos, None)
        self._node_of_item[node] = v.id

    def _pin_shape(self, p: Any, inp: bool) -> int:
        if not inp:
            return dpg.mvNode_PinShape_TriangleFilled if p.linked else dpg.mvNode_PinShape_Triangle
        if p.is_param:
            return dpg.mvNode_PinShape_QuadFilled if p.linked else dpg.mvNode_PinShape_Quad
        return dpg.mvNode_PinShape_CircleFilled if p.linked else dpg.mvNode_PinShape_Circle

    def _pin_label(self, p: Any) -> str:
        """An input's name, and for an unlinked param its value (set, or the default)."""
        if p.is_param and not p.linked and p.value is not None and p.value != "":
            return f"{p.name}  {short(p.value)}"
        return p.name

    def _update_node(self, v: Any, auto: tuple[float, float] | None) -> None:
        it = self._nodes[v.id]
        sh = it.shown
        label = self._node_label(v)
        if sh.get("label") != label:
            dpg.configure_item(it.item, label=label)
            sh["label"] = label
        state = v.state
        text = self._status_line(v, state)
        if sh.get("status") != text:
            dpg.set_value(it.status, text)
            sh["status"] = text
        hl = bool(self._step_hl) and self._step_hl[0] == v.id
        if sh.get("state") != state or sh.get("color") != v.color or sh.get("hl") != hl:
            dpg.configure_item(it.status, color=lighter(STATE_COLORS.get(state, (90, 90, 96)), 0.45))
            dpg.bind_item_theme(it.item, self.themes.node(state, v.color, hl))
            sh["state"], sh["color"], sh["hl"] = state, v.color, hl
        running = state == "running"
        if sh.get("running") != running:
            dpg.configure_item(it.progress, show=running)
            sh["running"] = running
        if running:
            dpg.set_value(it.progress, float(v.progress or 0.0))
        tip = self._tooltip(v, state)
        if sh.get("tip") != tip:
            dpg.set_value(it.tip, tip)
            sh["tip"] = tip
        for p in v.inputs:
            lab = it.labels.get(p.name)
            if lab is None:
                continue
            t = self._pin_label(p)
            if sh.get(("pin", p.name)) != t:
                dpg.set_value(lab, t)
                sh[("pin", p.name)] = t
            shape = self._pin_shape(p, True)
            if sh.get(("shape", p.name)) != shape:
                dpg.configure_item(it.pins[("in", p.name)], shape=shape)
                sh[("shape", p.name)] = shape
        for p in v.outputs:
            a = it.pins.get(("out", p.name))
            shape = self._pin_shape(p, False)
            if a is not None and sh.get(("oshape", p.name)) != shape:
                dpg.configure_item(a, shape=shape)
                sh[("oshape", p.name)] = shape
        pos = tuple(v.pos) if auto is None else auto
        if it.doc_pos != pos:
            gpos = (pos[0] + self.offset[0], pos[1] + self.offset[1])
            if it.doc_pos is not None or tuple(dpg.get_item_pos(it.item)) != gpos:
                dpg.set_item_pos(it.item, list(gpos))
            it.gui_pos, it.doc_pos = gpos, pos
        fold = FOLD[bool(v.collapsed)]
        if sh.get("fold") != fold:
            dpg.configure_item(it.fold, label=fold)
            sh["fold"] = fold

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

    # -- links ---------------------------------------------------------------------------------------
    def _add_link(self, key: tuple[str, str, str, str], color: tuple[int, int, int]) -> None:
        src, dst = self._nodes.get(key[0]), self._nodes.get(key[2])
        if src is None or dst is None:
            return
        a, b = src.pins.get(("out", key[1])), dst.pins.get(("in", key[3]))
        if a is None or b is None:
            return
        link = dpg.add_node_link(a, b, parent="ng_editor")
        self._links[key] = link
        self._link_of_item[link] = key

    def _delete_link(self, key: tuple[str, str, str, str]) -> None:
        item = self._links.pop(key)
        self._link_of_item.pop(item, None)
        self._link_theme.pop(key, None)
        dpg.delete_item(item)

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

    def _draw_group_frames(self) -> None:
        """The canvas background, and titled frames around each group's nodes (clipped to the
        canvas), drawn behind the node editor."""
        dl = "ng_backdrop"
        ex, ey, ew, eh = self.canvas_rect()
        groups = self._groups if self.show_group_frames else []
        key = (ex, ey, ew, eh, not self._nodes)
        if not groups and self._backdrop_key == key:
            return  # nothing moves: keep what is drawn
        self._backdrop_key = key if not groups else None
        dpg.delete_item(dl, children_only=True)
        dpg.draw_rectangle((ex, ey), (ex + ew, ey + eh), color=(0, 0, 0, 0), fill=CANVAS, parent=dl)
        if not self._nodes:  # an empty graph says how to start
            for i, line in enumerate(("An empty graph.", "Tab or Ctrl+Space adds a node;",
                                      "File > Templates opens a ready-made graph.")):
                dpg.draw_text((ex + ew / 2 - 150, ey + eh / 2 - 40 + 22 * i), line, size=17,
                              color=(120, 122, 135), parent=dl)
        for gid, title, nodes in groups:
            boxes = []
            for nid in nodes:
                it = self._nodes.get(nid)
                if it is None:
                    continue
                st = dpg.get_item_state(it.item)
                if st.get("rect_min") is None:
                    continue
                (x0, y0), (w, h) = st["rect_min"], st["rect_size"]
                boxes.append((x0 - PAD - 10, y0 - PAD - 30, x0 - PAD + w + 10, y0 - PAD + h + 10))
            if not boxes:
                continue
            x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
            x1, y1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
            cx0, cy0, cx1, cy1 = max(x0, ex), max(y0, ey), min(x1, ex + ew), min(y1, ey + eh)
            if cx0 >= cx1 or cy0 >= cy1:
                continue
            dpg.draw_rectangle((cx0, cy0), (cx1, cy1), color=(150, 160, 210, 140), fill=(120, 130, 200, 18),
                               thickness=1.5, rounding=6, parent=dl)
            if y0 >= ey and x0 >= ex:
                dpg.draw_text((x0 + 8, y0 + 4), title or gid, size=15, color=(175, 185, 235, 220), parent=dl)

    # == editor callbacks ===========================================================================
    def _pin_of(self, attr: Any) -> tuple[str, str] | None:
        try:
            data = dpg.get_item_user_data(_norm(attr))
        except Exception:
            return None
        return tuple(data) if isinstance(data, (tuple, list)) and len(data) == 2 else None  # type: ignore[return-value]

    def _on_link(self, sender: Any, app_data: Any) -> None:
        a, b = self._pin_of(app_data[0]), self._pin_of(app_data[1])
        if a is None or b is None:
            return
        # the link appears when the session says so (the next sync draws it)
        why = self._guard(lambda: self.s.connect(a[0], a[1], b[0], b[1]), "link")
        if why:
            self.message(f"link refused: {why}", ERROR)
            self.toast(f"Not linked: {why}")
        else:
            self.message(f"linked {a[0]}.{a[1]} -> {b[0]}.{b[1]}", OK)

    def _on_delink(self, sender: Any, app_data: Any) -> None:
        key = self._link_of_item.get(_norm(app_data))
        if key is not None:
            self._guard(lambda: self.s.disconnect(*key), "unlink")
            self.message(f"unlinked {key[0]}.{key[1]} -> {key[2]}.{key[3]}", INFO, log=False)

    def _on_fold(self, sender: Any, app_data: Any, nid: str) -> None:
        if nid in self.s.doc:
            self._guard(lambda: self.s.set_collapsed(nid, not self.s.node_view(nid).collapsed), "fold")

    def _on_mouse_release(self, sender: Any, app_data: Any) -> None:
        self._pull_positions = 2  # positions settle in the frame after the release

    # == positions and selection ====================================================================
    def declutter(self) -> bool:
        """Push overlapping nodes apart, on screen only: the document keeps its positions until the
        user moves a node (layouts written by hand or by scripts often assume smaller nodes).
        False when the nodes have not been drawn yet (sizes unknown)."""
        GAP = 14
        if len(self._nodes) != len(self.s.doc.g):
            return False  # not synced yet
        items = []
        for nid, it in self._nodes.items():
            w, h = dpg.get_item_state(it.item).get("rect_size") or (0, 0)
            if not w or not h:
                return False
            items.append((it.gui_pos[0], it.gui_pos[1], nid, w, h))
        placed: list[tuple[float, float, float, float]] = []
        for x, y, nid, w, h in sorted(items):
            y0 = y
            moved = True
            while moved:
                moved = False
                for px, py, pw, ph in placed:
                    if x < px + pw + GAP and px < x + w + GAP and y < py + ph + GAP and py < y + h + GAP:
                        y, moved = py + ph + GAP, True
            placed.append((x, y, w, h))
            if y != y0:
                it = self._nodes[nid]
                it.gui_pos = (x, y)
                dpg.set_item_pos(it.item, [x, y])
        if items:  # keep a margin between the canvas edge and the first nodes
            mx, my = min(i[0] for i in items), min(i[1] for i in items)
            if mx < 20 or my < 20:
                self.shift_view(max(0.0, 20 - mx), max(0.0, 20 - my))
        return True

    def pull_positions(self) -> list[str]:
        """Write nodes the user dragged back to the document (view offset removed), as one undo step."""
        moved = []
        for nid, it in list(self._nodes.items()):
            pos = tuple(float(x) for x in dpg.get_item_pos(it.item))
            if abs(pos[0] - it.gui_pos[0]) > 0.5 or abs(pos[1] - it.gui_pos[1]) > 0.5:
                it.gui_pos = pos
                it.doc_pos = (pos[0] - self.offset[0], pos[1] - self.offset[1])
                moved.append(nid)
        if moved:
            self.s.move_many({nid: self._nodes[nid].doc_pos for nid in moved})
        return moved

    def selected_ids(self) -> list[str]:
        return [self._node_of_item[i] for i in dpg.get_selected_nodes("ng_editor") if i in self._node_of_item]

    def reset_view(self) -> None:
        self.shift_view(-self.offset[0], -self.offset[1])

    def shift_view(self, dx: float, dy: float) -> None:
        """Move every node on screen by (dx, dy) without changing the document."""
        self.offset = (self.offset[0] + dx, self.offset[1] + dy)
        for it in self._nodes.values():
            x, y = dpg.get_item_pos(it.item)
            it.gui_pos = (x + dx, y + dy)
            dpg.set_item_pos(it.item, list(it.gui_pos))

    def go_to(self, nid: str) -> bool:
        """Bring node ``nid`` to the middle of the canvas and inspect it."""
        it = self._nodes.get(nid)
        if it is None:
            return False
        delta = self._canvas_delta()
        ex, ey, ew, eh = self.canvas_rect()
        want = (ex + ew * 0.4, ey + eh * 0.35)  # screen point where the node's corner should land
        cur = (it.gui_pos[0] + delta[0], it.gui_pos[1] + delta[1])
        self.shift_view(want[0] - cur[0], want[1] - cur[1])
        self.inspect(nid)
        self.message(f"went to {nid}", INFO, log=False)
        return True

    def canvas_rect(self) -> tuple[float, float, float, float]:
        """(x, y, width, height) of the node editor on screen (the editor item reports no rect of
        its own: it fills the top of its child window)."""
        wx, wy = dpg.get_item_pos("ng_main")
        st = dpg.get_item_state("ng_left")
        x, y = st.get("pos") or (0, 0)
        w, h = dpg.get_item_state("ng_editor").get("rect_size") or st.get("rect_size") or (0, 0)
        return float(wx + x), float(wy + y), float(w), float(h)

    def _canvas_delta(self) -> tuple[float, float]:
        """screen = grid + delta (delta = canvas origin + the user's panning)."""
        for it in self._nodes.values():
            st = dpg.get_item_state(it.item)
            if st.get("rect_min") is not None and st.get("visible", True) and st.get("rect_size", [0, 0])[0] > 0:
                x, y = dpg.get_item_pos(it.item)
                return st["rect_min"][0] - PAD - x, st["rect_min"][1] - PAD - y
        x, y, _, _ = self.canvas_rect()
        return float(x), float(y)

    def mouse_grid_pos(self) -> tuple[float, float]:
        """Where the mouse is, in document coordinates (the canvas middle when it is elsewhere)."""
        mx, my = dpg.get_mouse_pos(local=False)
        ex, ey, ew, eh = self.canvas_rect()
        if not (ex <= mx <= ex + ew and ey <= my <= ey + eh):
            mx, my = ex + ew * 0.4, ey + eh * 0.4
        dx, dy = self._canvas_delta()
        return (round(mx - dx - self.offset[0]), round(my - dy - self.offset[1]))
