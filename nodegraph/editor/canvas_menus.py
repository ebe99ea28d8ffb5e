"""The canvas's right-click menus, renaming node labels and group titles in place, and a node
type's help window. ``CanvasMenusMixin`` is part of ``GraphView``.

Menus by what is under the mouse: the canvas (add node, paste, fit all, reset view, group), a
node (rename, duplicate, fold, pin result, bypass, run to here, help, delete), a pin (disconnect), a wire
(add a reroute point, delete) and a reroute point (remove). There is no "bypass": the session
has no bypass command (a node cannot be switched off without removing it).
"""
from __future__ import annotations

from typing import Any, Callable

import dearpygui.dearpygui as dpg

from .theme import INFO, OK, WARN


class CanvasMenusMixin:
    """Right-click menus, in-place renaming and node help (a part of ``GraphView``)."""

    def _build_canvas_popups(self) -> None:
        with dpg.window(tag="ng_ctx", show=False, no_title_bar=True, autosize=True, no_move=True, no_resize=True,
                        no_saved_settings=True, no_collapse=True, no_scrollbar=True, min_size=[120, 20]):
            pass
        with dpg.window(tag="ng_rename", show=False, no_title_bar=True, no_move=True, no_resize=True, autosize=True,
                        no_saved_settings=True, no_collapse=True, no_scrollbar=True, min_size=[60, 20]):
            dpg.add_input_text(tag="ng_rename_text", width=240, on_enter=True,
                               callback=lambda: self._finish_rename(commit=True))
        with dpg.window(tag="ng_pin_tip", show=False, no_title_bar=True, autosize=True, no_move=True, no_resize=True,
                        no_saved_settings=True, no_collapse=True, no_scrollbar=True, no_focus_on_appearing=True,
                        min_size=[40, 20]):
            pass
        with dpg.window(label="Node help", tag="ng_node_help", show=False, width=480, height=360, no_saved_settings=True,
                        no_collapse=True):
            pass

    # == menus ========================================================================================
    def _ctx_open(self) -> bool:
        try:
            return bool(dpg.is_item_shown("ng_ctx"))
        except Exception:
            return False

    def close_menu(self) -> None:
        dpg.configure_item("ng_ctx", show=False)
        self._menu_items = []

    def menu_labels(self) -> list[str]:
        """The labels of the open menu (tests read them)."""
        return [label for label, _fn in self._menu_items]

    def menu_choose(self, label: str) -> bool:
        """Do what the open menu's item ``label`` does (as a click on it would)."""
        for lab, fn in self._menu_items:
            if lab == label:
                self.close_menu()
                fn()
                return True
        return False

    def open_menu_for(self, what: tuple, mouse: tuple[float, float]) -> None:
        """Open the right-click menu for ``what`` (a ``hit`` result) at screen point ``mouse``."""
        self._hide_tip()
        g = self.to_graph(mouse)
        items: list[tuple[str, Callable[[], Any]]] = []
        kind = what[0]
        if kind in ("node", "title", "fold"):
            nid = what[1]
            if nid not in self._sel:
                self.select([nid])
            ids = self.selected_ids()
            nv = self.s.node_view(nid)
            pinned = bool(self.s.doc.node(nid).get("pinned"))
            items = [("Rename", lambda: self.rename_node_in_place(nid)),
                     ("Duplicate", lambda: self.duplicate_selected()),
                     ("Unfold" if nv.collapsed else "Fold", lambda: self._guard(
                         lambda: self.s.set_collapsed(nid, not nv.collapsed), "fold")),
                     ("Unpin result" if pinned else "Pin result", lambda: self._menu_pin(nid, not pinned)),
                     ("Run it again (stop bypassing)" if nv.bypass else "Bypass (hand the inputs on)",
                      lambda: self._guard(lambda: self.s.set_bypass(nid, not nv.bypass), "bypass")),
                     ("Run to here", lambda: self.run_to_here()),
                     ("Help", lambda: self.show_node_help(nid))]
            if len(ids) > 1:
                items.append(("Group selected", lambda: self.group_selected()))
            items += self._look_menu_items(nid, ids)  # View inside, Unlock, Upgrade, Make Look (looks_ui.py)
            items.append(("Delete" if len(ids) < 2 else f"Delete {len(ids)} nodes", lambda: self.delete_selected()))
        elif kind == "pin":
            nid, side, port = what[1], what[2], what[3]
            links = [k for k in self._wires if (k[2], k[3]) == (nid, port)] if side == "in" else \
                [k for k in self._wires if (k[0], k[1]) == (nid, port)]
            if links:
                items.append(("Disconnect" if len(links) == 1 else f"Disconnect {len(links)} wires",
                              lambda: self._disconnect(links)))
            items.append(("Add a node here", lambda: self.open_palette(want=(side, nid, port))))
        elif kind == "wire":
            key = what[1]
            items = [("Add reroute point", lambda: self.add_reroute(key, g)),
                     ("Delete wire", lambda: self._disconnect([key]))]
        elif kind == "reroute":
            key, i = what[1], what[2]
            items = [("Remove reroute point", lambda: self.remove_reroute(key, i))]
        elif kind == "group":
            gid = what[1]
            items = [("Rename group", lambda: self.rename_group_in_place(gid)),
                     ("Ungroup", lambda: self._guard(lambda: self.s.ungroup(gid), "ungroup"))]
        elif kind in ("empty",):
            pos = (round(g[0]), round(g[1]))
            items = [("Add node...", lambda: self.open_palette(pos=pos)),
                     ("Paste", lambda: self.paste()),
                     ("Fit all", lambda: self.fit_all()),
                     ("Reset view", lambda: self.reset_view())]
            if self.selected_ids():
                items.insert(3, ("Fit selection", lambda: self.fit_selection()))
                items += self._look_menu_items(None, self.selected_ids())
        if not items:
            return
        self._menu_items = items
        dpg.delete_item("ng_ctx", children_only=True)
        for label, _fn in items:
            dpg.add_selectable(label=label, parent="ng_ctx", user_data=label, width=170,
                               callback=lambda s, a, u: self.menu_choose(u))
        dpg.set_item_pos("ng_ctx", [int(min(mouse[0] + 2, self.width - 200)), int(min(mouse[1] + 2, self.height - 30 * len(items) - 20))])
        dpg.configure_item("ng_ctx", show=True)
        dpg.focus_item("ng_ctx")

    def _menu_pin(self, nid: str, on: bool) -> None:
        if on:
            why = self._guard(lambda: self.s.pin(nid), "pin")
            if why:
                self.message(why, WARN, log=False)
        else:
            self._guard(lambda: self.s.unpin(nid), "unpin")

    def _disconnect(self, links: list) -> None:
        for k in links:
            self._guard(lambda k=k: self.s.disconnect(*k), "unlink")
        self.message(f"disconnected {len(links)} wire(s)", INFO, log=False)

    def show_node_help(self, nid: str) -> None:
        """A node type's documentation: what it does, its inputs and params, its outputs."""
        spec = self.s.registry.specs.get(self.s.doc.type_of(nid))
        dpg.delete_item("ng_node_help", children_only=True)
        if spec is None:
            dpg.add_text(f"{self.s.doc.type_of(nid)} is not installed", parent="ng_node_help", wrap=440)
        else:
            dpg.configure_item("ng_node_help", label=f"Help: {spec.title}")
            dpg.add_text(f"{spec.title}   {spec.id}   ({spec.category})", parent="ng_node_help", color=(220, 220, 235))
            dpg.add_text(spec.description or "(no description)", parent="ng_node_help", wrap=440, color=(180, 180, 190))
            dpg.add_separator(parent="ng_node_help")
            for p in spec.inputs:
                d = "" if p.default_json is None else f" = {p.default_json!r}"
                dpg.add_text(f"in  {p.name}: {p.type.id}{d}", parent="ng_node_help", color=(150, 190, 255))
                if p.doc:
                    dpg.add_text(p.doc, parent="ng_node_help", wrap=420, indent=20, color=(165, 165, 175))
            for o in spec.outputs:
                dpg.add_text(f"out {o.name}: {o.type.id}", parent="ng_node_help", color=(150, 230, 170))
        self._center("ng_node_help", 480, 360)
        dpg.configure_item("ng_node_help", show=True)
        self._help_for = nid

    # == renaming in place ============================================================================
    def rename_node_in_place(self, nid: str) -> None:
        """An entry over the node's title: Enter (or a click elsewhere) sets the label, Esc keeps it."""
        it = self._nodes.get(nid)
        if it is None:
            return
        label = self.s.doc.node(nid).get("label") or self.s.node_view(nid).title
        x0, y0, x1, _ = self.node_screen_rect(nid)
        self._start_rename(("node", nid), label, (x0, y0), max(160, x1 - x0))

    def rename_group_in_place(self, gid: str) -> None:
        box = self._group_boxes.get(gid)
        if box is None:
            return
        title, (x0, y0, x1, _y1) = box
        a, b = self.to_screen((x0, y0)), self.to_screen((x1, y0))
        self._start_rename(("group", gid), self.s.doc.groups.get(gid, {}).get("title", title), a, max(160, b[0] - a[0]))

    def _start_rename(self, target: tuple, text: str, at: tuple[float, float], width: float) -> None:
        self._hide_tip()
        self._rename_target = target
        dpg.set_value("ng_rename_text", text)
        dpg.configure_item("ng_rename_text", width=int(min(width, 420)))
        dpg.set_item_pos("ng_rename", [int(at[0]), int(at[1])])
        dpg.configure_item("ng_rename", show=True)
        dpg.focus_item("ng_rename_text")
        self._text_widgets.add(dpg.get_alias_id("ng_rename_text"))

    def _finish_rename(self, commit: bool) -> None:
        target, self._rename_target = self._rename_target, None
        dpg.configure_item("ng_rename", show=False)
        if target is None or not commit:
            return
        text = (dpg.get_value("ng_rename_text") or "").strip()
        if target[0] == "node" and target[1] in self.s.doc:
            self._guard(lambda: self.s.set_label(target[1], text), "rename")
            self.message(f"renamed {target[1]}", OK, log=False)
        elif target[0] == "group" and target[1] in self.s.doc.groups and text:
            self._guard(lambda: self.s.rename_group(target[1], text), "rename group")
            self.message(f"renamed the group to {text}", OK, log=False)


__all__ = ["CanvasMenusMixin"]
