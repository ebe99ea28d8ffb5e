"""The editor window: a thin dearpygui mirror of an ``EditorSession``.

The view draws what the session says and sends every user action to it; it never evaluates
anything and never changes the document itself. Whenever ``session.revision`` moves, ``sync``
(``canvas.py``) brings the canvas in line: nodes, pins, wires and group frames.

Layout (1400x900 by default; the canvas follows the window's size)::

    menu bar
    toolbar: Run, Run to here, Cancel, Step, Auto-run | Undo, Redo | Save, Add node, Templates
    +------------------------------------------+------------------------+
    | canvas (overview bottom-right)           | Inspector | Groups     |
    |                                          |                        |
    |                                          +------------------------+
    +------------------------------------------+ Preview                |
    | Log                                      |                        |
    +------------------------------------------+------------------------+
    status bar: last message                               file, counts

The canvas is our own, drawn on a dearpygui drawlist (dearpygui's node editor has no zoom and
no pan API): zoom, pan and fitting are view state only and never touch the document.
Call ``update()`` once per frame after ``dpg.run_callbacks`` (the app runs callbacks manually, so
every callback and every session call happens on the UI thread).

This module builds the window and runs each frame. Beside it: ``canvas.py`` (drawing the graph,
sync, view, selection), ``canvas_view.py`` (zoom, pan, fit, overview), ``canvas_geom.py`` (geometry and hit-test maths,
no dearpygui),
``canvas_input.py`` (mouse: clicks, drags, wheel, tooltips), ``canvas_menus.py`` (right-click
menus, renaming in place, node help), ``canvas_teach.py`` (presenter scale, notes, wire values),
``looks_ui.py`` (Make Look, Look instances), ``gallery.py`` (the Looks gallery), ``history_ui.py``
(the History panel),
``actions.py`` (keyboard shortcuts and the actions of keys, menus and toolbar), ``panels.py``
(inspector, Groups tab), ``outputs.py`` (preview, log), ``dialogs.py`` (files, templates, unsaved/recovery/error
modals, add-node palette, go to node) and ``theme.py`` (colours, font, themes).
"""
from __future__ import annotations

import time
from typing import Any, Callable

import dearpygui.dearpygui as dpg

from ..errors import NodegraphError, format_error
from .actions import ActionsMixin
from .bundle_ui import BundleUIMixin
from .canvas import CanvasMixin, _NodeItem
from .canvas_geom import ViewXform
from .canvas_input import CanvasInputMixin
from .canvas_menus import CanvasMenusMixin
from .canvas_teach import CanvasTeachMixin
from .canvas_view import CanvasViewMixin
from .dialogs import FilesMixin, SearchMixin
from .gallery import GalleryMixin
from .history_ui import HistoryUIMixin
from .looks_ui import LooksUIMixin
from .outputs import LogPanel, PreviewPanel, audio_output
from .panels import GroupsTab, InspectorMixin
from .teaching_ui import TeachingMixin
from .theme import (
    DIM, ERROR, INFO, OK, STATE_COLORS, bind_toast_theme, bind_window_themes, setup_font_and_theme,
)

RIGHT_W = 410  # width of the right column (inspector, groups, preview)
LOG_H = 130
SHORTCUTS = [("Ctrl+Space / Tab", "add a node (palette)"), ("Ctrl+F", "go to node"),
             ("Delete", "delete selected nodes and links"), ("Ctrl+D", "duplicate"),
             ("Ctrl+C / Ctrl+V", "copy / paste (also between graphs)"), ("Ctrl+Z / Ctrl+Y", "undo / redo"),
             ("Ctrl+G", "group selected nodes"), ("Ctrl+L", "make a Look of the selected nodes"), ("Ctrl+N / Ctrl+O / Ctrl+S", "new / open / save"),
             ("Ctrl+H", "history: the versions every save kept"),
             ("F5 / F6 / F10", "run / run to here / step"), ("Esc", "cancel a run, close a window"),
             ("F / Shift+F", "fit all / fit the selection"), ("Wheel", "zoom around the mouse (10% to 400%)"),
             ("Middle drag, Space + drag", "pan the canvas"), ("Drag from an output", "link (drop on empty canvas: add a node)"),
             ("Drag a wire's input end", "detach it (drop elsewhere: re-link)"), ("Right click", "menu of what is under the mouse"),
             ("Double-click a title", "rename a node or a group"), ("Double-click a wire", "add a reroute point")]


class GraphView(HistoryUIMixin, BundleUIMixin, LooksUIMixin, GalleryMixin, CanvasMixin, CanvasViewMixin, CanvasInputMixin,
                CanvasMenusMixin, CanvasTeachMixin, ActionsMixin, InspectorMixin,
                FilesMixin, SearchMixin, TeachingMixin):
    """The dearpygui widgets of one editor window, kept in step with ``session``.

    This class builds the window (menus, toolbar, panels' frames), holds the state all its parts
    share and runs each frame (``update``). The canvas (nodes, links, group frames, the view
    offset, selection and moves) is ``CanvasMixin`` (canvas.py), keyboard shortcuts and the
    actions they call ``ActionsMixin`` (actions.py), the inspector ``InspectorMixin``
    (panels.py), files and modal dialogs ``FilesMixin`` and the add-node palette and go-to-node
    ``SearchMixin`` (dialogs.py); the preview, log and Groups tab are the ``preview_panel``,
    ``log_panel`` (outputs.py) and ``groups_tab`` (panels.py) objects."""

    def __init__(self, session: Any, *, autosave_every: float = 30.0, width: int = 1400, height: int = 900):
        self.s = session
        self.autosave_every = autosave_every
        self.width, self.height = width, height
        self.xf = ViewXform()  # zoom and pan: view state, never in the document
        self.show_group_frames = True
        self.show_minimap = True
        self.show_notes = True
        self.show_previews = False  # result pictures inside nodes (they make nodes taller)
        self.teaching_on = False  # teaching mode (TeachingMixin's flag when it is part of the view)
        self.log_h = LOG_H
        # canvas
        self._nodes: dict[str, _NodeItem] = {}
        self._wires: dict[tuple[str, str, str, str], dict] = {}
        self._thumbs: dict[str, tuple] = {}  # node -> ((state, run serial), picture or None)
        self._rev = -1
        self._groups_cache: tuple[int, list] | None = None
        self._group_boxes: dict[str, tuple[str, tuple[float, float, float, float]]] = {}
        self._backdrop_key: Any = None
        self._canvas_size = (float(width - RIGHT_W - 16), float(height - LOG_H - 110))
        self._drawn_scale = -1.0
        self._lod = -1
        self._view_serial = 0
        self._fit_pending = 0  # frames until the view is fitted to the document (0: never)
        self._minimap_drawn = False
        self._step_hl: tuple[str, tuple | None] | None = None
        self._sel: list[str] = []
        self._sel_links: list[tuple[str, str, str, str]] = []
        self._drag: dict | None = None
        self._last_mouse: tuple[float, float] = (-1.0, -1.0)
        self._hover_since = 0.0
        self._tip_for: Any = None
        self._tip_textures: list[int] = []
        self._rename_target: tuple | None = None
        self._menu_items: list = []
        self._help_for: str | None = None
        # teaching mode (canvas side)
        self._notes_key: Any = None
        self._teach_key: Any = None
        self._badge_textures: dict = {}
        self._teach_drawn_on = False
        self._clipboard = ""
        self._text_widgets: set[int] = set()  # typed into: shortcuts wait while one is active
        self._toast_until = 0.0
        # runs: ``_run_serial`` counts the runs seen to end (tests and benchmarks wait on it)
        self._was_running = False
        self._runs_seen = session.runs
        self._run_serial = 0
        # inspector (InspectorMixin)
        self._inspected: str | None = None
        self._inspector_key: Any = None
        self._inspector_widgets: dict[str, int] = {}
        self._inspector_pending = False
        # files and dialogs (FilesMixin)
        self._pending: Callable[[], None] | None = None
        self._after_save: Callable[[], None] | None = None
        self._path_target: tuple[str, str] | None = None
        self._recover_path: str | None = None
        self._last_autosave = time.monotonic()
        self._autosave_rev = -1
        self._title = ""
        self._recent: list[str] | None = None
        self._recent_path: Any = object()
        # palette and go to node (SearchMixin)
        self._palette_items: list[tuple[int, str]] = []
        self._palette_specs: dict[str, Any] = {}
        self._palette_index = 0
        self._palette_pos = (0.0, 0.0)
        self._palette_want: tuple | None = None
        self._goto_items: list[tuple[int, str]] = []
        self._goto_index = 0
        # panels
        self.preview_panel = PreviewPanel(self)
        self.log_panel = LogPanel(session)
        self.groups_tab = GroupsTab(self)

    # == building ===================================================================================
    def build(self) -> None:
        """Create every window and handler (needs a dearpygui context; a viewport is optional)."""
        setup_font_and_theme()
        with dpg.texture_registry(tag="ng_textures"):
            pass
        # a plain window covering the viewport with no background of its own (the viewport's clear
        # colour is the same): under Xvfb's software renderer every full-window fill costs frame time
        with dpg.window(tag="ng_main", pos=(0, 0), width=self.width, height=self.height, no_title_bar=True,
                        no_move=True, no_resize=True, no_collapse=True, no_bring_to_front_on_focus=True,
                        no_scrollbar=True, no_scroll_with_mouse=True, no_saved_settings=True, no_background=True):
            self._build_menu()
            self._build_toolbar()
            with dpg.group(horizontal=True):
                with dpg.child_window(tag="ng_left", width=-RIGHT_W, height=-26, border=False, no_scrollbar=True):
                    self._build_canvas("ng_left", int(self._canvas_size[0]), int(self._canvas_size[1]))
                    with dpg.child_window(tag="ng_log", height=LOG_H, border=True):
                        pass
                with dpg.child_window(tag="ng_right", width=-1, height=-26, border=False, no_scrollbar=True):
                    with dpg.tab_bar(tag="ng_tabs"):
                        with dpg.tab(label="Inspector", tag="ng_tab_inspector"):
                            with dpg.child_window(tag="ng_inspector", height=420, border=True):
                                dpg.add_text("Select a node to see its settings.", color=DIM)
                        with dpg.tab(label="Groups", tag="ng_tab_groups"):
                            with dpg.child_window(tag="ng_groups", height=420, border=True):
                                pass
                    dpg.add_text("Preview", color=(170, 170, 180))
                    with dpg.child_window(tag="ng_preview", height=-1, border=True):
                        dpg.add_text("Nothing to preview yet: run the graph.", color=DIM, tag="ng_preview_empty")
            with dpg.table(header_row=False, tag="ng_statusbar", borders_innerV=False, policy=dpg.mvTable_SizingStretchProp):
                dpg.add_table_column(init_width_or_weight=3.0)
                dpg.add_table_column(init_width_or_weight=1.4)
                with dpg.table_row():
                    dpg.add_text("Ready", tag="ng_status", color=INFO)
                    dpg.add_text("", tag="ng_info", color=(150, 150, 160))
        self._build_search()
        self._build_help()
        self._build_toast()
        self._build_dialogs()
        self._build_teaching()
        self._build_canvas_popups()
        with dpg.handler_registry(tag="ng_handlers"):
            dpg.add_key_press_handler(callback=self._on_key)
            dpg.add_mouse_click_handler(callback=self._on_mouse_down)
            dpg.add_mouse_release_handler(callback=self._on_mouse_up)
            dpg.add_mouse_wheel_handler(callback=self._on_wheel)
            dpg.add_mouse_double_click_handler(callback=self._on_double_click)
        self._build_history()  # the History panel, Ctrl+H (history_ui.py)
        self._build_looks()  # Make Look dialog, inside view, Ctrl+L (looks_ui.py)
        self._build_gallery()  # the Looks gallery (gallery.py)
        self._build_bundle()  # File > Open bundle... (bundle_ui.py)
        with dpg.item_handler_registry(tag="ng_commit_handlers"):
            dpg.add_item_deactivated_after_edit_handler(callback=self._on_commit)
        bind_window_themes()

    def on_resize(self, width: int, height: int) -> None:
        """The viewport changed size: the main window follows."""
        self.width, self.height = int(width), int(height)
        dpg.configure_item("ng_main", width=self.width, height=self.height)
        self._follow_size()

    def _build_menu(self) -> None:
        with dpg.menu_bar():
            with dpg.menu(label="File"):
                dpg.add_menu_item(label="New", shortcut="Ctrl+N", callback=lambda: self.new_file())
                dpg.add_menu_item(label="Open...", shortcut="Ctrl+O", callback=lambda: self.open_dialog())
                with dpg.menu(label="Open recent", tag="ng_recent_menu"):
                    pass
                dpg.add_menu_item(label="Templates...", callback=lambda: self.show_templates())
                dpg.add_menu_item(label="Open bundle...", tag="ng_open_bundle_item", callback=lambda: self.open_bundle_dialog())
                dpg.add_separator()
                dpg.add_menu_item(label="Save", shortcut="Ctrl+S", callback=lambda: self.save())
                dpg.add_menu_item(label="Save as...", shortcut="Ctrl+Shift+S", callback=lambda: self.save_as_dialog())
                dpg.add_menu_item(label="History...", shortcut="Ctrl+H", tag="ng_history_item", callback=lambda: self.show_history())
                dpg.add_separator()
                dpg.add_menu_item(label="Quit", shortcut="Ctrl+Q", callback=lambda: self.request_close())
            with dpg.menu(label="Edit"):
                dpg.add_menu_item(label="Undo", shortcut="Ctrl+Z", callback=lambda: self.undo())
                dpg.add_menu_item(label="Redo", shortcut="Ctrl+Y", callback=lambda: self.redo())
                dpg.add_separator()
                dpg.add_menu_item(label="Add node...", shortcut="Ctrl+Space / Tab", callback=lambda: self.open_palette())
                dpg.add_menu_item(label="Copy", shortcut="Ctrl+C", callback=lambda: self.copy_selected())
                dpg.add_menu_item(label="Paste", shortcut="Ctrl+V", callback=lambda: self.paste())
                dpg.add_menu_item(label="Duplicate", shortcut="Ctrl+D", callback=lambda: self.duplicate_selected())
                dpg.add_menu_item(label="Delete", shortcut="Delete", callback=lambda: self.delete_selected())
                dpg.add_menu_item(label="Group selected", shortcut="Ctrl+G", callback=lambda: self.group_selected())
                dpg.add_menu_item(label="Make Look...", shortcut="Ctrl+L", tag="ng_make_look_item",
                                  callback=lambda: self.open_make_look())
                dpg.add_separator()
                dpg.add_menu_item(label="Go to node...", shortcut="Ctrl+F", callback=lambda: self.open_goto())
            with dpg.menu(label="Run"):
                dpg.add_menu_item(label="Run all outputs", shortcut="F5", callback=lambda: self.run())
                dpg.add_menu_item(label="Run to selected node", shortcut="F6", callback=lambda: self.run_to_here())
                dpg.add_menu_item(label="Step (teaching mode)", shortcut="F10", callback=lambda: self.step())
                dpg.add_menu_item(label="Cancel", shortcut="Esc", callback=lambda: self.cancel())
            with dpg.menu(label="View"):
                dpg.add_menu_item(label="Fit all", shortcut="F", callback=lambda: self.fit_all())
                dpg.add_menu_item(label="Fit selection", shortcut="Shift+F", callback=lambda: self.fit_selection())
                dpg.add_menu_item(label="Reset view (100%)", callback=lambda: self.reset_view())
                dpg.add_menu_item(label="Zoom in", shortcut="wheel", callback=lambda: self.set_zoom(self.zoom * 1.25))
                dpg.add_menu_item(label="Zoom out", shortcut="wheel", callback=lambda: self.set_zoom(self.zoom / 1.25))
                dpg.add_separator()
                dpg.add_menu_item(label="Group frames", check=True, default_value=True,
                                  callback=lambda s, a: (setattr(self, "show_group_frames", bool(a)), self._draw_groups()))
                dpg.add_menu_item(label="Overview", check=True, default_value=True,
                                  callback=lambda s, a: (setattr(self, "show_minimap", bool(a)), self._draw_minimap()))
                dpg.add_menu_item(label="Result pictures on nodes", check=True, default_value=False, tag="ng_previews_item",
                                  callback=lambda s, a: self.set_previews(bool(a)))
                dpg.add_menu_item(label="Notes on nodes", check=True, default_value=True,
                                  callback=lambda s, a: (setattr(self, "show_notes", bool(a)), self._teach_rescale()))
                dpg.add_separator()
                dpg.add_menu_item(label="Looks gallery", check=True, default_value=False, tag="ng_gallery_item",
                                  callback=lambda s, a: self.show_gallery(bool(a)))
            self._build_teaching_menu()
            with dpg.menu(label="Help"):
                dpg.add_menu_item(label="Keyboard shortcuts", callback=lambda: dpg.configure_item("ng_help", show=True))

    def _build_toolbar(self) -> None:
        with dpg.group(horizontal=True, tag="ng_toolbar"):
            b = dpg.add_button(label="Run", tag="ng_run", callback=lambda: self.run(), width=60)
            dpg.bind_item_theme(b, "ng_run_theme")
            dpg.add_button(label="Run to here", tag="ng_run_here", callback=lambda: self.run_to_here())
            dpg.add_button(label="Cancel", tag="ng_cancel", callback=lambda: self.cancel(), enabled=False)
            dpg.add_button(label="Step", tag="ng_step", callback=lambda: self.step())
            dpg.add_checkbox(label="Auto-run", tag="ng_autorun", default_value=bool(self.s.auto_run),
                             callback=lambda s, a: setattr(self.s, "auto_run", bool(a)))
            dpg.add_text("|", color=(80, 80, 90))
            dpg.add_button(label="Undo", tag="ng_undo", callback=lambda: self.undo())
            dpg.add_button(label="Redo", tag="ng_redo", callback=lambda: self.redo())
            dpg.add_text("|", color=(80, 80, 90))
            dpg.add_button(label="Save", tag="ng_save", callback=lambda: self.save())
            dpg.add_button(label="Add node", tag="ng_add", callback=lambda: self.open_palette())
            dpg.add_button(label="Templates", tag="ng_templates_button", callback=lambda: self.show_templates())
            dpg.add_text("", tag="ng_runstate", color=STATE_COLORS["running"])
            dpg.add_text("", tag="ng_doc_title", color=(200, 200, 210))
            with dpg.tooltip("ng_run"):
                dpg.add_text("Run every output node (F5). Only what changed is recomputed.")
            with dpg.tooltip("ng_run_here"):
                dpg.add_text("Run up to the selected node (F6).")
            with dpg.tooltip("ng_step"):
                dpg.add_text("Teaching mode: compute the next node in order and highlight it (F10).")
            with dpg.tooltip("ng_autorun"):
                dpg.add_text("After each edit, re-run the node shown in the preview.")

    def _build_help(self) -> None:
        with dpg.window(label="Keyboard shortcuts", tag="ng_help", show=False, width=420, height=360, no_saved_settings=True):
            for k, what in SHORTCUTS:
                with dpg.group(horizontal=True):
                    dpg.add_text(f"{k:<26}", color=(150, 190, 255))
                    dpg.add_text(what)

    def _build_toast(self) -> None:
        with dpg.window(tag="ng_toast", show=False, no_title_bar=True, no_resize=True, no_move=True, autosize=True,
                        no_focus_on_appearing=True, no_saved_settings=True, no_scrollbar=True, no_collapse=True,
                        min_size=[40, 20]):
            dpg.add_text("", tag="ng_toast_text", wrap=420)
        bind_toast_theme("ng_toast")

    # == per frame ==================================================================================
    def update(self) -> None:
        """The Python work of one frame (after the frame's callbacks ran)."""
        s = self.s
        in_sync = self._rev == s.revision
        polled = s.poll()
        running = bool(s.running)
        if (self._was_running or s.runs != self._runs_seen) and not running:
            self._runs_seen = s.runs  # s.runs counts runs started: one can begin and end between two frames
            self._run_serial += 1
            last = next((l for l in reversed(s.log) if l.startswith(("run finished", "error"))), "")
            if last:
                self.message(last, ERROR if last.startswith("error") or " 0 failed" not in last else OK, log=False)
        if running != self._was_running:
            dpg.configure_item("ng_cancel", enabled=running)
            dpg.configure_item("ng_run", enabled=not running)
            dpg.configure_item("ng_run_here", enabled=not running)
            dpg.configure_item("ng_step", enabled=not running)
        self._was_running = running
        if s.revision != self._rev:
            self.sync(states_only=in_sync and bool(polled))
        if self._fit_pending:
            self._fit_pending -= 1
            if not self._fit_pending:
                self._initial_view()
        self._teach_frame()
        self._canvas_frame()
        if self._inspector_pending and not self._editing_text():
            self._refresh_inspector()
        self.preview_panel.refresh()
        self.preview_panel.tick()
        self.log_panel.tick()
        self._tick_autosave()
        self._teaching_tick()
        self._looks_tick()
        self._history_tick()
        if self._toast_until and time.monotonic() > self._toast_until:
            self._toast_until = 0.0
            dpg.configure_item("ng_toast", show=False)
        if running:
            done = sum(1 for n in self._nodes.values() if n.shown.get("state") in ("cached", "computed", "failed", "pinned", "skipped"))
            dpg.set_value("ng_runstate", f"running {done}/{len(self._nodes)}")
        elif dpg.get_value("ng_runstate"):
            dpg.set_value("ng_runstate", "")


    def _reset_view_state(self) -> None:
        """Another document is open (new, opened, recovered, from a template): forget the old one's
        view state."""
        self._step_hl = None
        self._drag = None
        self.select([])
        self._fit_pending = 1  # once the new document's nodes are drawn
        self._thumbs.clear()
        self.inspect(None)
        self.preview_panel.reset()
        self._recent = None

    def set_previews(self, on: bool) -> None:
        """Show each node's last result as a picture under its pins (the node grows taller)."""
        self.show_previews = bool(on)
        if dpg.does_item_exist("ng_previews_item"):
            dpg.set_value("ng_previews_item", self.show_previews)
        self._rev = -1  # nodes are drawn again

    @property
    def _links(self) -> dict:
        """The wires drawn, by (src, src_port, dst, dst_port)."""
        return self._wires

    # == feedback ===================================================================================
    def message(self, text: str, color: tuple[int, int, int] = INFO, log: bool = True) -> None:
        """Show ``text`` in the status bar (and the log)."""
        dpg.set_value("ng_status", text)
        dpg.configure_item("ng_status", color=color)
        if log:
            self.s.log.append(("error: " if color == ERROR and not text.startswith("error") else "") + text)

    def toast(self, text: str, seconds: float = 3.0) -> None:
        """A short message by the mouse (a refused link, ...); it goes away by itself."""
        mx, my = dpg.get_mouse_pos(local=False)
        dpg.set_value("ng_toast_text", text)
        dpg.set_item_pos("ng_toast", [int(min(mx + 18, self.width - 440)), int(min(my + 18, self.height - 60))])
        dpg.configure_item("ng_toast", show=True)
        self._toast_until = time.monotonic() + seconds

    def _guard(self, fn: Callable[[], Any], what: str) -> Any:
        try:
            return fn()
        except NodegraphError as e:
            self.message(f"{what}: {e}", ERROR)
        except Exception as e:  # never let an action kill the UI
            self.message(f"{what}: {format_error(e)}", ERROR)
        return None


__all__ = ["GraphView", "STATE_COLORS", "audio_output"]
