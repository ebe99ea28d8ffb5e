"""Looks in the editor window: the Make Look dialog, what an instance offers (its menu items,
the inspector's Look line, the read-only view of its inside) and the Ctrl+L shortcut.

``LooksUIMixin`` is part of ``GraphView``; every change goes through the session
(``looks_session.py``). The inside of a locked instance is shown as a read-only listing (each
inner node by path with its state, its params as the instance sets them, marked where a
promoted param sets them, and where its inputs come from) rather than a second canvas: it shows
every value and which inner nodes a run recomputed, as text that can be read and copied, and it
cannot be edited by mistake. "Unlock" makes the inside ordinary, editable nodes.
"""
from __future__ import annotations

from typing import Any

import dearpygui.dearpygui as dpg

from ..errors import NodegraphError, format_error
from .theme import DIM, ERROR, OK, STATE_COLORS, WARN

MAKE = "ng_make_look"
INSIDE = "ng_look_inside"
RANGE_KINDS = ("int", "number")


class LooksUIMixin:
    """Make Look, instance menus, the inside view (a part of ``GraphView``)."""

    _look_rows: list
    _make_ids: list[str]
    _inside_of: str | None
    _inside_key: Any

    # == building ======================================================================================
    def _build_looks(self) -> None:
        self._look_rows, self._make_ids = [], []
        self._inside_of, self._inside_key, self._inside_rev = None, None, -1
        with dpg.window(label="Make Look", tag=MAKE, modal=True, show=False, no_collapse=True, width=760, height=520,
                        no_saved_settings=True):
            dpg.add_text("", tag="ng_look_what", wrap=720, color=(190, 190, 200))
            with dpg.table(header_row=False, policy=dpg.mvTable_SizingStretchProp):
                dpg.add_table_column(width_fixed=True, init_width_or_weight=110)
                dpg.add_table_column(width_stretch=True)
                for label, tag, hint in (("Name", "ng_look_name", "namespace/name, like studio/noir"),
                                         ("Version", "ng_look_version", "1.0.0"),
                                         ("Title", "ng_look_title", "shown in the gallery and on the node")):
                    with dpg.table_row():
                        dpg.add_text(label)
                        self._text_input(dpg.add_input_text(tag=tag, hint=hint, width=-1))
                with dpg.table_row():
                    dpg.add_text("Description")
                    self._text_input(dpg.add_input_text(tag="ng_look_desc", multiline=True, height=48, width=-1))
            dpg.add_text("Params to promote (the Look's face shows them; the rest stays locked inside):",
                         color=(170, 170, 180))
            with dpg.child_window(tag="ng_look_params", height=250, border=True):
                pass
            dpg.add_text("", tag="ng_look_error", wrap=720, color=ERROR)
            with dpg.group(horizontal=True):
                dpg.add_button(label="Make Look", tag="ng_look_ok", width=140, callback=lambda: self.confirm_make_look())
                dpg.add_button(label="Cancel", tag="ng_look_cancel", width=110,
                               callback=lambda: dpg.configure_item(MAKE, show=False))
        with dpg.window(label="Inside the Look (read-only)", tag=INSIDE, show=False, no_collapse=True, width=560,
                        height=520, no_saved_settings=True):
            pass
        dpg.add_key_press_handler(dpg.mvKey_L, parent="ng_handlers", callback=self._on_ctrl_l)

    def _modal_open(self) -> bool:
        return super()._modal_open() or bool(dpg.is_item_shown(MAKE))  # type: ignore[misc]

    def _on_ctrl_l(self, sender: Any, key: Any) -> None:
        ctrl = dpg.is_key_down(dpg.mvKey_ModCtrl) or dpg.is_key_down(dpg.mvKey_LControl) or dpg.is_key_down(dpg.mvKey_RControl)
        if not ctrl or self._modal_open() or self._editing_text() or dpg.is_item_shown("ng_palette") \
                or dpg.is_item_shown("ng_goto") or self._rename_target is not None:
            return
        self.open_make_look()

    # == Make Look ======================================================================================
    def open_make_look(self, ids: list[str] | None = None) -> bool:
        """Open the Make Look dialog for the selected nodes (or ``ids``); with none, it says to
        select some first. Returns whether there are nodes to make a Look of."""
        ids = [i for i in (ids if ids is not None else self.selected_ids()) if i in self.s.doc]
        self._make_ids = ids
        if ids:
            dpg.set_value("ng_look_error", "")
            dpg.set_value("ng_look_what", f"A Look of {len(ids)} node{'s' if len(ids) > 1 else ''}: {', '.join(ids)}. "
                                          "The wires into and out of them become its inputs and outputs.")
        else:  # said in the dialog: what to do first
            dpg.set_value("ng_look_what", "No nodes are selected.")
            dpg.set_value("ng_look_error", "select the nodes to make a Look of first (click, Shift+click or drag a "
                                           "box on the canvas), then choose Make Look again")
        if not dpg.get_value("ng_look_version"):
            dpg.set_value("ng_look_version", "1.0.0")
        dpg.delete_item("ng_look_params", children_only=True)
        self._look_rows = []
        choices = self.s.promotable(ids)
        if ids and not choices:
            dpg.add_text("(no params to promote: every one is fed by a wire)", parent="ng_look_params", color=DIM)
        with dpg.table(parent="ng_look_params", header_row=True, policy=dpg.mvTable_SizingStretchProp,
                       borders_innerH=True):
            for name, w in (("", 26), ("node.param", 160), ("label", 170), ("group", 110), ("min", 70), ("max", 70)):
                dpg.add_table_column(label=name, width_fixed=True, init_width_or_weight=w)
            for i, c in enumerate(choices):
                with dpg.table_row():
                    box = dpg.add_checkbox(tag=f"ng_promote_{c.node}.{c.param}")
                    t = dpg.add_text(f"{c.node}.{c.param}")
                    with dpg.tooltip(t):
                        dpg.add_text(f"{c.kind}, now {c.value!r}")
                    lab = self._text_input(dpg.add_input_text(default_value=c.label, width=-1))
                    grp = self._text_input(dpg.add_input_text(default_value=c.group, width=-1))
                    lo = hi = None
                    if c.kind in RANGE_KINDS:
                        lo = self._text_input(dpg.add_input_text(default_value=_fmt(c.min), width=-1))
                        hi = self._text_input(dpg.add_input_text(default_value=_fmt(c.max), width=-1))
                    else:
                        dpg.add_text("")
                        dpg.add_text("")
                    self._look_rows.append((c, box, lab, grp, lo, hi))
        self._center(MAKE, 760, 520)
        dpg.configure_item(MAKE, show=True)
        dpg.focus_item("ng_look_name")
        return bool(ids)

    def promote_row(self, node: str, param: str) -> Any:
        """The checkbox of ``node.param`` in the Make Look dialog (tests click it)."""
        return next((r[1] for r in self._look_rows if (r[0].node, r[0].param) == (node, param)), None)

    def _promotions(self) -> list:
        from ..looks.make import Promote, slug

        out = []
        for c, box, lab, grp, lo, hi in self._look_rows:
            if not dpg.get_value(box):
                continue
            label = str(dpg.get_value(lab)).strip()
            bounds = []
            for what, item in (("min", lo), ("max", hi)):
                text = str(dpg.get_value(item)).strip() if item is not None else ""
                try:
                    bounds.append(float(text) if text else None)
                except ValueError:
                    raise NodegraphError(f"{what} of {c.node}.{c.param}: {text!r} is not a number") from None
            if c.kind == "int":
                bounds = [None if b is None else int(b) for b in bounds]
            out.append(Promote(c.node, c.param, name=slug(label) or c.param, label=label,
                               group=str(dpg.get_value(grp)).strip(), min=bounds[0], max=bounds[1]))
        return out

    def confirm_make_look(self) -> bool:
        """Make the Look the dialog describes; a problem is shown in the dialog, which stays open."""
        name = str(dpg.get_value("ng_look_name")).strip()
        version = str(dpg.get_value("ng_look_version")).strip() or "1.0.0"
        try:
            if not self._make_ids:
                raise NodegraphError("select the nodes to make a Look of first, then choose Make Look again")
            if not name:
                raise NodegraphError("give the Look a name: namespace/name, like studio/noir")
            look, dest = self.s.make_look(self._make_ids, name, version, self._promotions(),
                                          title=str(dpg.get_value("ng_look_title")).strip(),
                                          description=str(dpg.get_value("ng_look_desc")).strip())
        except NodegraphError as e:
            dpg.set_value("ng_look_error", str(e))
            return False
        except Exception as e:  # never a traceback: the dialog says what went wrong
            dpg.set_value("ng_look_error", format_error(e))
            return False
        dpg.configure_item(MAKE, show=False)
        for k in ("ng_look_name", "ng_look_title", "ng_look_desc"):
            dpg.set_value(k, "")
        new = [n for n in self.s.node_ids() if self.s.doc.type_of(n) == look.type_id and n not in self._make_ids]
        self.select(new[-1:])
        self.message(f"made Look {look.label}: saved to {dest}", OK, log=False)
        self.refresh_gallery()
        return True

    # == instances ======================================================================================
    def _look_menu_items(self, nid: str | None, ids: list[str]) -> list[tuple[str, Any]]:
        """Right-click menu items about Looks for node ``nid`` (None: the empty canvas)."""
        items: list[tuple[str, Any]] = []
        if nid is not None and self.s.is_instance(nid) and self.s.look_of(nid) is not None:
            items.append(("View inside (read-only)", lambda: self.show_inside(nid)))
            items.append(("Unlock (copy inside into the graph)", lambda: self.unlock(nid)))
            newer = self.s.newer_version(nid)
            if newer:
                items.append((f"Upgrade to {newer}", lambda: self.upgrade(nid, newer)))
        if ids:
            items.append(("Make Look..." if len(ids) > 1 or nid is None else "Make Look of this node...",
                          lambda: self.open_make_look(ids)))
        return items

    def unlock(self, nid: str) -> None:
        new = self._guard(lambda: self.s.unlock_instance(nid), "unlock")
        if new:
            self.select(new)
            self.message(f"unlocked {nid}: its inside is now {len(new)} ordinary nodes (one undo step)", OK, log=False)
            if self._inside_of == nid:
                dpg.configure_item(INSIDE, show=False)

    def upgrade(self, nid: str, version: str) -> None:
        notes = self._guard(lambda: self.s.upgrade_instance(nid, version), "upgrade")
        if notes is not None:
            extra = f" ({len(notes)} note{'s' if len(notes) != 1 else ''} in the log)" if notes else ""
            self.message(f"upgraded {nid} to {version}{extra}", OK, log=False)

    def _on_double_click(self, sender: Any, button: Any) -> None:
        if isinstance(button, (list, tuple)):
            button = button[0]
        if button == 0 and self._canvas_hovered():
            what = self.hit(tuple(dpg.get_mouse_pos(local=False)))  # type: ignore[arg-type]
            if what[0] in ("title", "node") and self.s.is_instance(what[1]):
                self._drag = None
                dpg.delete_item("ng_drag_layer", children_only=True)
                self.show_inside(what[1])
                return
        super()._on_double_click(sender, button)  # type: ignore[misc]

    def show_inside(self, nid: str) -> None:
        """The read-only view of an instance's inside (kept up to date while it is open)."""
        self._inside_of, self._inside_key = nid, None
        self._inside_rev = self.s.revision
        self._refresh_inside()
        self._center(INSIDE, 560, 520)
        dpg.configure_item(INSIDE, show=True)

    def _refresh_inside(self) -> None:
        nid = self._inside_of
        if nid is None or nid not in self.s.doc or not self.s.is_instance(nid):
            dpg.configure_item(INSIDE, show=False)
            self._inside_of = None
            return
        try:
            inner = self.s.inside(nid)
        except NodegraphError as e:
            inner, err = [], str(e)
        else:
            err = ""
        key = (nid, repr(inner), err)
        if key == self._inside_key:
            return
        self._inside_key = key
        look = self.s.look_of(nid)
        dpg.delete_item(INSIDE, children_only=True)
        dpg.configure_item(INSIDE, label=f"Inside {nid} (read-only)")
        if look is not None:
            dpg.add_text(f"{look.title or look.id}   Look {look.id} {look.version}", parent=INSIDE, color=(220, 200, 250))
            if look.description:
                dpg.add_text(look.description, parent=INSIDE, wrap=520, color=(175, 175, 185))
            dpg.add_text(f"from {look.path or look.origin}", parent=INSIDE, wrap=520, color=DIM)
        dpg.add_text("Locked: this is a view. Unlock copies the inside into the graph as ordinary nodes.",
                     parent=INSIDE, wrap=520, color=WARN)
        if err:
            dpg.add_text(err, parent=INSIDE, wrap=520, color=ERROR)
        for n in inner:
            dpg.add_separator(parent=INSIDE)
            dpg.add_text(f"{n.path}   {n.title} ({n.type})   [{n.state}]", parent=INSIDE,
                         color=STATE_COLORS.get(n.state, (200, 200, 210)) if n.state != "stale" else (200, 200, 210))
            for port, src in n.inputs:
                dpg.add_text(f"    {port} <- {src}", parent=INSIDE, color=(150, 190, 255))
            for name, value, how in n.params:
                dpg.add_text(f"    {name} = {value!r}" + (f"   ({how})" if how else ""), parent=INSIDE,
                             color=(230, 200, 120) if how else (185, 185, 195))
        with dpg.group(horizontal=True, parent=INSIDE):
            dpg.add_button(label="Unlock (copy inside into the graph)", callback=lambda: self.unlock(nid))
            dpg.add_button(label="Close", callback=lambda: dpg.configure_item(INSIDE, show=False))

    def inside_lines(self) -> list[str]:
        """The texts of the inside view (tests read them)."""
        out = []
        for item in dpg.get_item_children(INSIDE, 1) or []:
            if dpg.get_item_type(item).endswith("mvText"):
                out.append(str(dpg.get_value(item)))
        return out

    def _inspector_look_line(self, nid: str) -> None:
        """The inspector's lines for a Look instance: which Look, locked, and what can be done."""
        look = self.s.look_of(nid)
        if look is None:
            return
        newer = self.s.newer_version(nid)
        dpg.add_text(f"Look {look.id} {look.version}, locked" + (f"  (version {newer} is installed)" if newer else ""),
                     color=(200, 170, 245))
        with dpg.group(horizontal=True):
            dpg.add_button(label="View inside", tag="ng_look_view_inside", callback=lambda: self.show_inside(nid))
            dpg.add_button(label="Unlock", callback=lambda: self.unlock(nid))
            if newer:
                dpg.add_button(label=f"Upgrade to {newer}", callback=lambda: self.upgrade(nid, newer))

    def _looks_tick(self) -> None:
        """Per frame: the inside view follows the session; the gallery follows the registry."""
        if self._inside_of is not None and dpg.is_item_shown(INSIDE) and self._rev == self.s.revision \
                and self._inside_rev != self.s.revision:
            self._inside_rev = self.s.revision
            self._refresh_inside()
        self._gallery_tick()


def _fmt(v: float | None) -> str:
    if v is None:
        return ""
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


__all__ = ["LooksUIMixin"]
