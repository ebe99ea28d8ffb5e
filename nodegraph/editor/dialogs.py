"""The editor window's dialogs, as parts of ``GraphView``.

``FilesMixin``: new / open / save (file dialogs), the template gallery, the "unsaved changes"
question before work would be lost (closing included), the error box, recovery of work a crash
left unsaved, the periodic autosave, and the window title and recent-files menu.

``SearchMixin``: the add-node palette and "go to node", both driven from the keyboard. A wire
dropped on empty canvas opens the palette filtered to the node types with a pin that wire can
link to; the chosen node is added where the wire was dropped and linked.
"""
from __future__ import annotations

import glob
import time
from pathlib import Path
from typing import Any, Callable

import dearpygui.dearpygui as dpg

from ..errors import NodegraphError
from .theme import ERROR, INFO, OK

MODALS = ("ng_confirm", "ng_error", "ng_recover", "ng_open_dialog", "ng_save_dialog", "ng_path_dialog")


def chosen_file(data: dict | None) -> str:
    """The file a person chose in a dearpygui file dialog, from the ``app_data`` its callback gets.

    ``file_path_name`` is not it: dearpygui builds it from the typed or clicked name with the
    dialog's current filter as the extension, so a click on ``body.png`` under the filter ``.*``
    gives ``.../body.*`` (dearpygui issues #1491, #2139). ``selections`` maps each clicked file's
    name to its full path; it can be stale when a name was typed after a click, so a selection
    counts only when its name matches the typed one. A typed name without a selection is taken as
    typed, less the filter's wildcard suffix (a file of that name in the folder, if exactly one
    exists with some extension, is taken instead)."""
    data = data or {}
    path = str(data.get("file_path_name") or "")
    selections = data.get("selections") or {}
    name = str(data.get("file_name") or Path(path).name)
    folder = str(data.get("current_path") or (str(Path(path).parent) if path else ""))
    wild = name.endswith(".*")
    stem = name[:-2] if wild else name
    picked = [str(full) for key, full in selections.items() if isinstance(full, str)
              and (str(key) == name or (wild and (Path(str(key)).stem == stem or str(key) == stem)))]
    if picked:
        return picked[0]
    if not stem:
        return ""
    if not wild:
        return path if path else str(Path(folder) / stem)
    base = Path(folder) / stem
    if base.is_file():
        return str(base)
    try:
        same = [p for p in base.parent.glob(glob.escape(stem) + ".*") if p.is_file() and p.stem == stem]
    except OSError:
        same = []
    return str(same[0]) if len(same) == 1 else str(base)


class FilesMixin:
    """Files, templates, closing, recovery and autosave for ``GraphView``.

    Uses from the view: ``s``, ``width``, ``height``, ``autosave_every``, ``_nodes``, ``_links``,
    ``_guard``, ``message``, ``_reset_view_state``, ``_set_param`` (a path param's Browse)."""

    _pending: Callable[[], None] | None
    _after_save: Callable[[], None] | None
    _path_target: tuple[str, str] | None
    _recover_path: str | None
    _last_autosave: float
    _autosave_rev: int
    _title: str
    _recent: list[str] | None
    _recent_path: Any

    # -- building -----------------------------------------------------------------------------
    def _build_dialogs(self) -> None:
        with dpg.window(label="Unsaved changes", tag="ng_confirm", modal=True, show=False, no_collapse=True,
                        width=420, autosize=True, no_saved_settings=True, no_resize=True, min_size=[300, 40],
                        on_close=lambda: self._confirm("cancel")):
            dpg.add_text("This graph has unsaved changes. Save them first?", tag="ng_confirm_text", wrap=400)
            dpg.add_spacer(height=6)
            with dpg.group(horizontal=True):
                dpg.add_button(label="Save", tag="ng_confirm_save", width=120, callback=lambda: self._confirm("save"))
                dpg.add_button(label="Discard", tag="ng_confirm_discard", width=120, callback=lambda: self._confirm("discard"))
                dpg.add_button(label="Cancel", tag="ng_confirm_cancel", width=120, callback=lambda: self._confirm("cancel"))
        with dpg.window(label="Error", tag="ng_error", modal=True, show=False, no_collapse=True, width=520,
                        no_saved_settings=True, autosize=True, min_size=[300, 40]):
            dpg.add_text("", tag="ng_error_text", wrap=500, color=ERROR)
            dpg.add_spacer(height=4)
            dpg.add_button(label="OK", tag="ng_error_ok", width=100, callback=lambda: dpg.configure_item("ng_error", show=False))
        with dpg.window(label="Recover unsaved work?", tag="ng_recover", modal=True, show=False, no_collapse=True,
                        width=480, autosize=True, no_saved_settings=True, no_resize=True, min_size=[300, 40],
                        on_close=lambda: self._recover(False)):
            dpg.add_text("", tag="ng_recover_text", wrap=460)
            dpg.add_spacer(height=6)
            with dpg.group(horizontal=True):
                dpg.add_button(label="Recover", tag="ng_recover_yes", width=150, callback=lambda: self._recover(True))
                dpg.add_button(label="Open the saved file", tag="ng_recover_no", width=180, callback=lambda: self._recover(False))
        kinds = (".json", ".png", ".mp4", ".*")
        with dpg.file_dialog(tag="ng_open_dialog", show=False, modal=True, width=760, height=460,
                             callback=lambda s, a: self._dialog_done("open", a), directory_selector=False):
            for ext in kinds:
                dpg.add_file_extension(ext, custom_text="graph" if ext == ".json" else "")
        with dpg.file_dialog(tag="ng_save_dialog", show=False, modal=True, width=760, height=460,
                             callback=lambda s, a: self._dialog_done("save", a), directory_selector=False,
                             default_filename="untitled"):
            dpg.add_file_extension(".json")
        with dpg.file_dialog(tag="ng_path_dialog", show=False, modal=True, width=760, height=460,
                             callback=lambda s, a: self._dialog_done("path", a), directory_selector=False):
            dpg.add_file_extension(".*")
        with dpg.window(label="Templates", tag="ng_templates", show=False, width=620, height=480, no_collapse=True,
                        no_saved_settings=True):
            dpg.add_text("Start from a template (it opens as a new, untitled graph).", color=(170, 170, 180))
            with dpg.child_window(tag="ng_templates_list", border=False):
                pass

    def _center(self, win: str, w: int, h: int) -> None:
        dpg.set_item_pos(win, [max(0, (self.width - w) // 2), max(0, (self.height - h) // 3)])

    def _modal_open(self) -> bool:
        return any(dpg.is_item_shown(w) for w in MODALS)

    def show_error(self, title: str, text: str) -> None:
        self.message(text, ERROR)
        dpg.configure_item("ng_error", label=title)
        dpg.set_value("ng_error_text", text)
        self._center("ng_error", 520, 140)
        dpg.configure_item("ng_error", show=True)

    # -- files --------------------------------------------------------------------------------
    def new_file(self) -> None:
        self._unless_unsaved(lambda: (self.s.new(), self._reset_view_state(), self.message("new graph", INFO, log=False)))

    def open_file(self, path: str) -> bool:
        """Open ``path``; on failure show why and keep the current document."""
        try:
            self.s.open(path)
        except (NodegraphError, OSError) as e:
            self.show_error("Cannot open the file", str(e))
            return False
        self._reset_view_state()
        self.message(f"opened {path}", OK, log=False)
        self.offer_recovery(path)
        return True

    def open_template(self, path: Any) -> bool:
        """Open a template as a new, untitled graph (saving never overwrites the template)."""
        try:
            self.s.open_template(path)
        except (NodegraphError, OSError) as e:
            self.show_error("Cannot open the template", str(e))
            return False
        self._reset_view_state()
        dpg.configure_item("ng_templates", show=False)
        self.message(f"new graph from the template {Path(path).stem}", OK, log=False)
        return True

    def open_dialog(self) -> None:
        self._unless_unsaved(lambda: dpg.configure_item("ng_open_dialog", show=True))

    def save(self) -> bool:
        if self.s.path is None:
            self.save_as_dialog()
            return False
        p = self._guard(self.s.save, "save")
        if p:
            self.message(f"saved {p}", OK, log=False)
        return bool(p)

    def save_as_dialog(self) -> None:
        dpg.configure_item("ng_save_dialog", show=True)

    def save_as(self, path: str) -> bool:
        p = self._guard(lambda: self.s.save_as(path), "save")
        if p:
            self.message(f"saved {p}", OK, log=False)
            self._recent = None
        return bool(p)

    def _dialog_done(self, kind: str, data: dict) -> None:
        """A file dialog's callback (``app_data``: see ``chosen_file``)."""
        path = chosen_file(data)
        if not path:
            return
        if kind == "open":
            self.open_file(path)
        elif kind == "save":
            if self.save_as(path) and self._after_save is not None:
                after, self._after_save = self._after_save, None
                after()
        elif kind == "path" and self._path_target is not None:
            nid, name = self._path_target
            self._guard(lambda: self.s.allow_read(path), "allow reading")  # the user picked it: it may be read
            self._set_param(nid, name, self.s.portable_path(path))  # relative inside the graph's folder

    def show_templates(self) -> None:
        dpg.delete_item("ng_templates_list", children_only=True)
        for name, path, title, desc in self._guard(self.s.templates, "templates") or []:
            with dpg.group(parent="ng_templates_list"):
                with dpg.group(horizontal=True):
                    dpg.add_button(label="Open", width=60, user_data=path,
                                   callback=lambda s, a, u: self._unless_unsaved(lambda: self.open_template(u)))
                    dpg.add_text(title, color=(220, 220, 235))
                    dpg.add_text(f"({name})", color=(130, 130, 140))
                dpg.add_text(desc, wrap=500, indent=68, color=(165, 165, 175))
                dpg.add_separator()
        self._center("ng_templates", 620, 480)
        dpg.configure_item("ng_templates", show=True)

    # -- unsaved work and closing -------------------------------------------------------------
    def _unless_unsaved(self, then: Callable[[], Any]) -> None:
        """Do ``then``, after asking what to do with unsaved work (Save / Discard / Cancel)."""
        if not self.s.dirty:
            then()
            return
        self._pending = then
        self._center("ng_confirm", 420, 130)
        dpg.configure_item("ng_confirm", show=True)

    def _confirm(self, choice: str) -> None:
        dpg.configure_item("ng_confirm", show=False)
        then, self._pending = self._pending, None
        if choice == "cancel" or then is None:
            return
        if choice == "save":
            if self.s.path is None:
                self._after_save = then
                self.save_as_dialog()
                return
            if not self.save():
                return
        elif choice == "discard":
            self.s.discard_autosave()
        then()

    def request_close(self) -> None:
        """The window's close button (and Ctrl+Q): ask first when work is unsaved."""
        self._unless_unsaved(dpg.stop_dearpygui)

    # -- recovery and autosave ----------------------------------------------------------------
    def offer_recovery(self, path: str | None) -> bool:
        side = self._guard(lambda: self.s.recovery_for(path), "recovery")
        if not side:
            return False
        self._recover_path = path
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(Path(side).stat().st_mtime))
        name = Path(path).name if path else "an untitled graph"
        dpg.set_value("ng_recover_text", f"Unsaved work on {name} was kept at {when} (the editor was not closed "
                                         f"normally). Recover it? You can still save or discard it afterwards.")
        self._center("ng_recover", 480, 140)
        dpg.configure_item("ng_recover", show=True)
        return True

    def _recover(self, yes: bool) -> None:
        dpg.configure_item("ng_recover", show=False)
        if yes:
            try:
                self.s.recover(self._recover_path)
            except (NodegraphError, OSError) as e:
                self.show_error("Cannot recover", str(e))
                return
            self._reset_view_state()
            self.message("recovered the unsaved work (not saved yet)", OK, log=False)

    def _tick_autosave(self) -> None:
        now = time.monotonic()
        if now - self._last_autosave < self.autosave_every:
            return
        self._last_autosave = now
        if self._autosave_rev == self.s.revision:
            return
        self._autosave_rev = self.s.revision
        p = self._guard(self.s.autosave, "autosave")
        if p:
            self.message(f"autosaved to {p}", INFO, log=False)

    # -- title, counts and recent files --------------------------------------------------------
    def _refresh_title(self) -> None:
        title = self.s.title
        if title != self._title:
            self._title = title
            if dpg.is_viewport_ok():
                dpg.set_viewport_title(title)
            dpg.set_value("ng_doc_title", "    " + title.replace(" - nodegraph", ""))
        dpg.set_value("ng_info", f"{len(self._nodes)} nodes, {len(self._links)} links   {self._title.replace(' - nodegraph', '')}")
        if self._recent is None or self._recent_path != self.s.path:
            self._recent_path = self.s.path
            self._recent = list(self.s.recent)
            dpg.delete_item("ng_recent_menu", children_only=True)
            for r in self._recent:
                dpg.add_menu_item(label=r, parent="ng_recent_menu", user_data=r,
                                  callback=lambda s, a, u: self._unless_unsaved(lambda: self.open_file(u)))
            if not self._recent:
                dpg.add_menu_item(label="(none yet)", parent="ng_recent_menu", enabled=False)


class SearchMixin:
    """The add-node palette (search node types, Up/Down, Enter adds one where the mouse was) and
    "go to node" (search the graph's nodes) for ``GraphView``.

    Uses from the view: ``s``, ``width``, ``height``, ``_nodes``, ``_guard``, ``message``,
    ``_center``, ``mouse_grid_pos``, ``inspect``, ``go_to``."""

    _palette_items: list[tuple[int, str]]
    _palette_specs: dict[str, Any]
    _palette_index: int
    _palette_pos: tuple[float, float]
    _goto_items: list[tuple[int, str]]
    _goto_index: int

    def _build_search(self) -> None:
        with dpg.window(label="Add node", tag="ng_palette", show=False, width=440, height=360, no_collapse=True,
                        no_saved_settings=True, on_close=lambda: self.close_palette()):
            dpg.add_input_text(tag="ng_palette_query", hint="type to search nodes, Up/Down, Enter", width=-1,
                               callback=lambda: self._fill_palette())
            with dpg.child_window(tag="ng_palette_list", height=-46, border=False):
                pass
            dpg.add_text("", tag="ng_palette_desc", wrap=420, color=(160, 160, 170))
        with dpg.window(label="Go to node", tag="ng_goto", show=False, width=380, height=300, no_collapse=True,
                        no_saved_settings=True, on_close=lambda: self.close_goto()):
            dpg.add_input_text(tag="ng_goto_query", hint="node id or label", width=-1, callback=lambda: self._fill_goto())
            with dpg.child_window(tag="ng_goto_list", height=-1, border=False):
                pass

    # -- palette (add node) ---------------------------------------------------------------------
    def open_palette(self, pos: tuple[float, float] | None = None, want: tuple[str, str, str] | None = None) -> None:
        """Open the add-node search; the node lands at graph point ``pos`` (the mouse by default).
        ``want`` = (side, node, port): list only node types that can link to that pin, and link
        the chosen one to it."""
        self._palette_pos = pos if pos is not None else self.mouse_grid_pos()
        self._palette_want = want
        mx, my = dpg.get_mouse_pos(local=False)
        dpg.set_item_pos("ng_palette", [int(min(max(0, mx - 40), self.width - 450)), int(min(max(40, my - 20), self.height - 370))])
        dpg.configure_item("ng_palette", label="Add node" if want is None else
                           f"Add a node {'fed by' if want[0] == 'out' else 'feeding'} {want[1]}.{want[2]}")
        dpg.set_value("ng_palette_query", "")
        self._fill_palette()
        dpg.configure_item("ng_palette", show=True)
        dpg.focus_item("ng_palette_query")

    def close_palette(self) -> None:
        dpg.configure_item("ng_palette", show=False)

    def palette_types(self) -> list[str]:
        """The node type ids the palette lists now (tests read them)."""
        return [tid for _item, tid in self._palette_items]

    def _palette_specs_for(self, query: str) -> list:
        specs = self.s.search_nodes(query)
        want = self._palette_want
        if want is not None:
            side, nid, port = want
            specs = [sp for sp in specs if self.compatible_port(sp.id, side, nid, port) is not None]
        return specs[:30] if want is None else specs  # a wire's search lists every type that fits

    def _fill_palette(self) -> None:
        specs = self._palette_specs_for(dpg.get_value("ng_palette_query") or "")
        dpg.delete_item("ng_palette_list", children_only=True)
        self._palette_items = []
        with dpg.table(header_row=False, parent="ng_palette_list", policy=dpg.mvTable_SizingStretchProp):
            dpg.add_table_column(init_width_or_weight=1.0)
            dpg.add_table_column(init_width_or_weight=0.55)
            dpg.add_table_column(init_width_or_weight=1.0)
            for spec in specs:
                with dpg.table_row():
                    item = dpg.add_selectable(label=spec.title, span_columns=True, user_data=spec.id,
                                              callback=lambda s, a, u: self._palette_choose(u))
                    dpg.add_text(spec.category, color=(150, 170, 210))
                    dpg.add_text(spec.id, color=(140, 140, 150))
                self._palette_items.append((item, spec.id))
        self._palette_specs = {spec.id: spec for spec in specs}
        self._palette_index = 0
        self._palette_highlight()

    def _palette_highlight(self) -> None:
        for i, (item, _) in enumerate(self._palette_items):
            dpg.set_value(item, i == self._palette_index)
        if self._palette_items:
            tid = self._palette_items[self._palette_index][1]
            dpg.set_value("ng_palette_desc", self._palette_specs[tid].description or tid)
            n = len(self._palette_items)
            dpg.set_y_scroll("ng_palette_list", max(0.0, (self._palette_index - 5) * 24.0) if n > 10 else 0.0)
        else:
            dpg.set_value("ng_palette_desc", "no node matches")

    def _palette_key(self, key: int) -> None:
        if key == dpg.mvKey_Escape:
            self.close_palette()
        elif key in (dpg.mvKey_Down, dpg.mvKey_Up) and self._palette_items:
            step = 1 if key == dpg.mvKey_Down else -1
            self._palette_index = (self._palette_index + step) % len(self._palette_items)
            self._palette_highlight()
        elif key in (dpg.mvKey_Return, dpg.mvKey_NumPadEnter) and self._palette_items:
            self._palette_choose(self._palette_items[self._palette_index][1])

    def _palette_choose(self, type_id: str) -> None:
        self.close_palette()
        want, self._palette_want = self._palette_want, None
        pos = self._palette_pos
        if want is not None and want[0] == "in":  # the new node feeds the input: put it to the left
            pos = (pos[0] - 220, pos[1] - 20)
        nid = self._guard(lambda: self.s.add_node(type_id, pos), "add node")
        if not nid:
            return
        self.inspect(nid)
        self.message(f"added {nid} ({type_id})", OK, log=False)
        if want is not None:
            side, other, port = want
            mine = self.compatible_port(type_id, side, other, port)
            if mine is not None:
                if side == "out":
                    self.link(other, port, nid, mine)
                else:
                    self.link(nid, mine, other, port)

    # -- go to node -----------------------------------------------------------------------------
    def open_goto(self) -> None:
        dpg.set_value("ng_goto_query", "")
        self._fill_goto()
        self._center("ng_goto", 380, 300)
        dpg.configure_item("ng_goto", show=True)
        dpg.focus_item("ng_goto_query")

    def close_goto(self) -> None:
        dpg.configure_item("ng_goto", show=False)

    def _fill_goto(self) -> None:
        q = (dpg.get_value("ng_goto_query") or "").lower().strip()
        dpg.delete_item("ng_goto_list", children_only=True)
        self._goto_items = []
        hits = []
        for nid in self.s.node_ids():
            label = self.node_title(nid)
            text = f"{nid} {label}".lower()
            if not q or q in text:
                hits.append((0 if nid.lower().startswith(q) else 1, nid, label))
        with dpg.table(header_row=False, parent="ng_goto_list", policy=dpg.mvTable_SizingStretchProp):
            dpg.add_table_column(init_width_or_weight=0.8)
            dpg.add_table_column(init_width_or_weight=1.2)
            for _, nid, label in sorted(hits)[:40]:
                with dpg.table_row():
                    item = dpg.add_selectable(label=nid, span_columns=True, user_data=nid,
                                              callback=lambda s, a, u: (self.close_goto(), self.go_to(u)))
                    dpg.add_text(label, color=(150, 150, 160))
                self._goto_items.append((item, nid))
        self._goto_index = 0
        self._goto_highlight()

    def _goto_highlight(self) -> None:
        for i, (item, _) in enumerate(self._goto_items):
            dpg.set_value(item, i == self._goto_index)

    def _goto_key(self, key: int) -> None:
        if key == dpg.mvKey_Escape:
            self.close_goto()
        elif key in (dpg.mvKey_Down, dpg.mvKey_Up) and self._goto_items:
            self._goto_index = (self._goto_index + (1 if key == dpg.mvKey_Down else -1)) % len(self._goto_items)
            self._goto_highlight()
        elif key in (dpg.mvKey_Return, dpg.mvKey_NumPadEnter) and self._goto_items:
            self.close_goto()
            self.go_to(self._goto_items[self._goto_index][1])


__all__ = ["FilesMixin", "SearchMixin", "MODALS"]
