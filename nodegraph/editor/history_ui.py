"""The History panel: the versions kept of the open graph (one at every save), newest first, each
with its time and a one-line summary of what changed in it; the changes from a selected version
to the document as it is now (``nodegraph.diff``, one coloured line per change; layout changes on
request); and Restore, which makes the document hold that version as one undo step (Ctrl+Z takes
it back; saving keeps it as a new version).

``HistoryUIMixin`` is part of ``GraphView``: File > History... or Ctrl+H opens it. Everything it
changes goes through the session (``history_session.py``) and its command objects.
"""
from __future__ import annotations

from typing import Any

import dearpygui.dearpygui as dpg

from ..errors import NodegraphError, format_error
from .theme import DIM, ERROR, OK, WARN, font_file

HISTORY = "ng_history"
ADDED, REMOVED, CHANGED = (120, 215, 140), (240, 120, 110), (235, 200, 110)
DIFF_FONT_PX = 19
MAX_LINES = 400  # a diff longer than this is cut (the panel says how many lines are left out)


def line_color(line: str) -> tuple[int, int, int]:
    """The colour of a diff line: added green, removed red, changed amber."""
    head = line.lstrip()[:1]
    return ADDED if head == "+" else REMOVED if head == "-" else CHANGED if head == "~" else DIM


class HistoryUIMixin:
    """The History panel (a part of ``GraphView``)."""

    _hist_rows: dict
    _hist_selected: str | None
    _hist_key: tuple
    _hist_seen: tuple
    _hist_diff_key: tuple | None

    def _build_history(self) -> None:
        self._hist_rows, self._hist_selected, self._hist_seen, self._hist_diff_key = {}, None, (), None
        self._hist_key = (None, "")
        w, h = 900, 640
        with dpg.window(label="History", tag=HISTORY, show=False, width=w, height=h, no_collapse=True,
                        no_saved_settings=True, pos=(max(0, (self.width - w) // 2), 70),
                        on_close=lambda: self.show_history(False)):
            with dpg.group(horizontal=True):
                dpg.add_text("", tag="ng_history_what", color=(200, 200, 210))
            dpg.add_text("Every save keeps a version. Pick one to see what changed since; Restore brings it back "
                         "(Ctrl+Z undoes it).", color=DIM, wrap=w - 30)
            with dpg.child_window(tag="ng_history_list", height=220, border=True):
                pass
            with dpg.group(horizontal=True):
                dpg.add_text("", tag="ng_history_diff_title", color=(200, 200, 210))
            with dpg.child_window(tag="ng_history_diff", height=-44, border=True):
                pass
            with dpg.group(horizontal=True):
                dpg.add_button(label="Restore this version", tag="ng_history_restore", width=190, enabled=False,
                               callback=lambda: self.restore_selected())
                dpg.add_checkbox(label="Show layout changes", tag="ng_history_layout", default_value=False,
                                 callback=lambda: self._refresh_history_diff(force=True))
                dpg.add_button(label="Close", tag="ng_history_close", width=90, callback=lambda: self.show_history(False))
        font = font_file()
        if font:  # the changes in a larger size: read from the back of a classroom
            with dpg.font_registry():
                dpg.bind_item_font("ng_history_diff", dpg.add_font(font, DIFF_FONT_PX))
        dpg.add_key_press_handler(dpg.mvKey_H, parent="ng_handlers", callback=self._on_ctrl_h)

    def _on_ctrl_h(self, sender: Any, key: Any) -> None:
        ctrl = dpg.is_key_down(dpg.mvKey_ModCtrl) or dpg.is_key_down(dpg.mvKey_LControl) or dpg.is_key_down(dpg.mvKey_RControl)
        if not ctrl or self._modal_open() or self._editing_text() or dpg.is_item_shown("ng_palette") \
                or dpg.is_item_shown("ng_goto") or self._rename_target is not None:
            return
        self.show_history(not dpg.is_item_shown(HISTORY))

    def show_history(self, show: bool = True) -> None:
        if show:
            self._hist_seen = ()
            self.refresh_history()
        dpg.configure_item(HISTORY, show=bool(show))
        if show:
            dpg.focus_item(HISTORY)

    # == the list ==========================================================================================
    def refresh_history(self) -> None:
        """Draw the list of versions again (the selection is kept when that version still is)."""
        s = self.s
        self._hist_seen = self._history_state()
        dpg.delete_item("ng_history_list", children_only=True)
        self._hist_rows = {}
        if s.path is None:
            dpg.set_value("ng_history_what", "History of this graph")
            dpg.add_text("This graph has no file yet. Save it (Ctrl+S): every save keeps a version here.",
                         parent="ng_history_list", color=WARN, wrap=840)
            self._select_version(None)
            return
        dpg.set_value("ng_history_what", f"History of {s.path.name}")
        try:
            versions = s.graph_versions()
        except NodegraphError as e:
            dpg.add_text(str(e), parent="ng_history_list", color=ERROR, wrap=840)
            self._select_version(None)
            return
        if not versions:
            dpg.add_text("No versions kept yet: the next save keeps the first one.", parent="ng_history_list",
                         color=DIM, wrap=840)
            self._select_version(None)
            return
        with dpg.table(parent="ng_history_list", header_row=True, policy=dpg.mvTable_SizingStretchProp,
                       row_background=False, borders_innerH=False, tag="ng_history_table"):
            dpg.add_table_column(label="Saved", width_fixed=True, init_width_or_weight=160)
            dpg.add_table_column(label="What changed", width_stretch=True)
            dpg.add_table_column(label="Version", width_fixed=True, init_width_or_weight=135)
            for i, v in enumerate(versions):
                with dpg.table_row():
                    sel = dpg.add_selectable(label=v.local_time(), span_columns=True, user_data=(v.id, v.time),
                                             callback=lambda sender, a, u: self._select_version(*u))
                    self._hist_rows[sel] = (v.id, v.time)
                    dpg.add_text(v.summary, wrap=0, color=(225, 225, 235) if i == 0 else (200, 200, 210))
                    dpg.add_text(v.short[:8] + ("  latest" if i == 0 else ""), color=DIM)
        dpg.bind_item_theme("ng_history_table", self._history_theme())
        keys = list(self._hist_rows.values())
        keep = self._hist_key if self._hist_key in keys else keys[1] if len(keys) > 1 else keys[0]
        self._select_version(*keep)

    def _history_theme(self) -> Any:
        """The picked row in the buttons' blue, strong enough to see on a projector."""
        if not dpg.does_item_exist("ng_history_theme"):
            with dpg.theme(tag="ng_history_theme"):
                with dpg.theme_component(dpg.mvAll):
                    dpg.add_theme_color(dpg.mvThemeCol_Header, (52, 86, 140))
                    dpg.add_theme_color(dpg.mvThemeCol_HeaderHovered, (64, 100, 160))
                    dpg.add_theme_color(dpg.mvThemeCol_HeaderActive, (76, 116, 180))
                    dpg.add_theme_style(dpg.mvStyleVar_CellPadding, 6, 5)
        return "ng_history_theme"

    def history_row(self, index: int) -> Any:
        """The list's row (a selectable) ``index`` (0: the newest; tests click it)."""
        return list(self._hist_rows)[index] if index < len(self._hist_rows) else None

    def _select_version(self, version_id: str | None, time: str = "") -> None:
        """Pick the row of version ``version_id`` saved at ``time`` (a text saved twice has two rows)."""
        self._hist_selected, self._hist_key = version_id, (version_id, time)
        for row, key in self._hist_rows.items():
            if dpg.does_item_exist(row):
                dpg.set_value(row, key == self._hist_key)
        dpg.configure_item("ng_history_restore", enabled=version_id is not None)
        self._refresh_history_diff(force=True)

    # == the diff ==========================================================================================
    def _refresh_history_diff(self, force: bool = False) -> None:
        vid = self._hist_selected
        layout = bool(dpg.get_value("ng_history_layout"))
        key = (vid, self.s.revision, layout)
        if not force and key == self._hist_diff_key:
            return
        self._hist_diff_key = key
        dpg.delete_item("ng_history_diff", children_only=True)
        if vid is None:
            dpg.set_value("ng_history_diff_title", "")
            return
        from ..diff import format_text, summary

        try:
            changes = self.s.version_changes(vid, layout=layout)
        except NodegraphError as e:
            dpg.set_value("ng_history_diff_title", f"Version {vid[:8]}")
            dpg.add_text(str(e), parent="ng_history_diff", color=ERROR, wrap=840)
            dpg.configure_item("ng_history_restore", enabled=False)
            return
        except Exception as e:  # never into the UI
            dpg.add_text(f"cannot compare: {format_error(e)}", parent="ng_history_diff", color=ERROR, wrap=840)
            return
        dpg.set_value("ng_history_diff_title", f"From version {vid[:8]} to the graph as it is now: {summary(changes)}")
        lines = format_text(changes).splitlines()
        if not lines:
            dpg.add_text("No changes: the graph is the same as this version" + ("" if layout else
                         " (layout aside: tick 'Show layout changes')"), parent="ng_history_diff", color=DIM, wrap=840)
            return
        for line in lines[:MAX_LINES]:
            dpg.add_text(line, parent="ng_history_diff", color=line_color(line))
        if len(lines) > MAX_LINES:
            dpg.add_text(f"... and {len(lines) - MAX_LINES} more lines (`nodegraph diff` prints them all)",
                         parent="ng_history_diff", color=DIM)

    def history_lines(self) -> list[str]:
        """The diff view's lines as shown (tests read them)."""
        return [dpg.get_value(t) for t in dpg.get_item_children("ng_history_diff", 1) or []]

    # == restoring =========================================================================================
    def restore_selected(self) -> str | None:
        vid = self._hist_selected
        if vid is None:
            self.message("pick a version to restore first", WARN, log=False)
            return None
        what = self._guard(lambda: self.s.restore_version(vid), "restore")
        if what:
            self.message(f"restored version {vid[:8]}: {what} (Ctrl+Z undoes it; save to keep it)", OK, log=False)
            self._refresh_history_diff(force=True)
        return what

    def _history_state(self) -> tuple:
        """What the list shows depends on: the file, the versions kept, the last save's problem."""
        return (self.s.path, self.s.versions_kept, self.s.history_problem)

    # == per frame =========================================================================================
    def _history_tick(self) -> None:
        """Per frame: a save that kept no version says why; the open panel follows saves and edits."""
        problem = getattr(self.s, "history_problem", None)
        if problem and problem != getattr(self, "_hist_problem_shown", None):
            self.message(problem, WARN, log=False)
        self._hist_problem_shown = problem
        if not dpg.is_item_shown(HISTORY):
            return
        if self._hist_seen != self._history_state():
            self.refresh_history()
        elif self._rev == self.s.revision:  # the canvas caught up: compare with the edited document
            self._refresh_history_diff()


__all__ = ["HistoryUIMixin", "line_color"]
