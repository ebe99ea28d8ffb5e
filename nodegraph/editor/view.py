"""The editor window: a thin dearpygui mirror of an ``EditorSession``.

The view draws what the session says and sends every user action to it; it never evaluates
anything and never changes the document itself. Whenever ``session.revision`` moves, ``sync``
brings the widgets in line (stale links first, then stale nodes: deleting a linked node
segfaults dearpygui 2.3), then adds what is new and updates labels, colours and positions.

Layout (1400x900 by default)::

    menu bar
    toolbar: Run, Run to here, Cancel, Step, Auto-run | Undo, Redo | Save, Add node, Templates
    +------------------------------------------+------------------------+
    | node editor (minimap bottom-right)       | Inspector | Groups     |
    |                                          |                        |
    |                                          +------------------------+
    +------------------------------------------+ Preview                |
    | Log                                      |                        |
    +------------------------------------------+------------------------+
    status bar: last message                               file, counts

There is no pan or zoom API in dearpygui, so "go to node" shifts every node's *view* position by
the same offset (``GraphView.offset``); positions written back to the document subtract it.
Call ``update()`` once per frame after ``dpg.run_callbacks`` (the app runs callbacks manually, so
every callback and every session call happens on the UI thread).

Beside this module: ``panels.py`` (inspector, Groups tab, preview, log), ``dialogs.py`` (files,
templates, unsaved/recovery/error modals, add-node palette, go to node) and ``theme.py``
(colours, font, themes).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import dearpygui.dearpygui as dpg

from ..errors import NodegraphError
from .dialogs import FilesMixin, SearchMixin
from .panels import GroupsTab, InspectorMixin, LogPanel, PreviewPanel, audio_output, short
from .theme import (
    CANVAS, DIM, ERROR, INFO, OK, STATE_COLORS, WARN, ItemThemes, bind_toast_theme, bind_window_themes, lighter,
    setup_font_and_theme,
)

FOLD = {False: "\u25be", True: "\u25b8"}  # small triangles: folded or not
PAD = 8  # imnodes' default node padding (node rect = content rect grown by PAD)
RIGHT_W = 410  # width of the right column (inspector, groups, preview)
LOG_H = 130
SHORTCUTS = [("Ctrl+Space / Tab", "add a node (palette)"), ("Ctrl+F", "go to node"),
             ("Delete", "delete selected nodes and links"), ("Ctrl+D", "duplicate"),
             ("Ctrl+C / Ctrl+V", "copy / paste (also between graphs)"), ("Ctrl+Z / Ctrl+Y", "undo / redo"),
             ("Ctrl+G", "group selected nodes"), ("Ctrl+N / Ctrl+O / Ctrl+S", "new / open / save"),
             ("F5 / F6 / F10", "run / run to here / step"), ("Esc", "cancel a run, close a window"),
             ("Middle drag", "pan the canvas"), ("Ctrl + drag from an input", "detach a link")]


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


class GraphView(InspectorMixin, FilesMixin, SearchMixin):
    """The dearpygui widgets of one editor window, kept in step with ``session``.

    This class holds the canvas (nodes, links, group frames, the view offset), selection and
    moves, the toolbar, menus and keyboard shortcuts, and the actions they call. The inspector is
    ``InspectorMixin`` (panels.py), files and modal dialogs ``FilesMixin`` and the add-node
    palette and go-to-node ``SearchMixin`` (dialogs.py); the preview, log and Groups tab are the
    ``preview_panel``, ``log_panel`` and ``groups_tab`` objects (panels.py)."""

    def __init__(self, session: Any, *, autosave_every: float = 30.0, width: int = 1400, height: int = 900):
        self.s = session
        self.autosave_every = autosave_every
        self.width, self.height = width, height
        self.offset = (0.0, 0.0)  # view-only shift of every node (go to node)
        self.show_group_frames = True
        # canvas
        self._nodes: dict[str, _NodeItem] = {}
        self._node_of_item: dict[int, str] = {}
        self._links: dict[tuple[str, str, str, str], int] = {}
        self._link_of_item: dict[int, tuple[str, str, str, str]] = {}
        self._link_theme: dict[tuple[str, str, str, str], Any] = {}
        self.themes = ItemThemes()
        self._rev = -1
        self._groups_cache: tuple[int, list] | None = None
        self._backdrop_key: Any = None
        self._pull_positions = 0
        self._declutter_tries = 0
        self._step_hl: tuple[str, tuple | None] | None = None
        self._selected: list[int] = []
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
        # a plain window covering the viewport, not a "primary window": dearpygui paints a primary
        # window's background opaque, which would hide the backdrop drawn behind the canvas
        with dpg.window(tag="ng_main", pos=(0, 0), width=self.width, height=self.height, no_title_bar=True,
                        no_move=True, no_resize=True, no_collapse=True, no_bring_to_front_on_focus=True,
                        no_scrollbar=True, no_scroll_with_mouse=True, no_saved_settings=True):
            self._build_menu()
            self._build_toolbar()
            with dpg.group(horizontal=True):
                with dpg.child_window(tag="ng_left", width=-RIGHT_W, height=-26, border=False, no_scrollbar=True):
                    with dpg.node_editor(tag="ng_editor", callback=self._on_link, delink_callback=self._on_delink,
                                         minimap=True, minimap_location=dpg.mvNodeMiniMap_Location_BottomRight,
                                         height=-LOG_H - 4):
                        pass
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
        with dpg.handler_registry(tag="ng_handlers"):
            dpg.add_key_press_handler(callback=self._on_key)
            dpg.add_mouse_release_handler(button=dpg.mvMouseButton_Left, callback=self._on_mouse_release)
        with dpg.item_handler_registry(tag="ng_commit_handlers"):
            dpg.add_item_deactivated_after_edit_handler(callback=self._on_commit)
        # drawn behind every window: the canvas background and the group frames show through the
        # transparent main window and node-editor background, under the grid, nodes and minimap
        dpg.add_viewport_drawlist(front=False, tag="ng_backdrop")
        bind_window_themes()

    def on_resize(self, width: int, height: int) -> None:
        """The viewport changed size: the main window follows."""
        self.width, self.height = int(width), int(height)
        dpg.configure_item("ng_main", width=self.width, height=self.height)

    def _build_menu(self) -> None:
        with dpg.menu_bar():
            with dpg.menu(label="File"):
                dpg.add_menu_item(label="New", shortcut="Ctrl+N", callback=lambda: self.new_file())
                dpg.add_menu_item(label="Open...", shortcut="Ctrl+O", callback=lambda: self.open_dialog())
                with dpg.menu(label="Open recent", tag="ng_recent_menu"):
                    pass
                dpg.add_menu_item(label="Templates...", callback=lambda: self.show_templates())
                dpg.add_separator()
                dpg.add_menu_item(label="Save", shortcut="Ctrl+S", callback=lambda: self.save())
                dpg.add_menu_item(label="Save as...", shortcut="Ctrl+Shift+S", callback=lambda: self.save_as_dialog())
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
                dpg.add_separator()
                dpg.add_menu_item(label="Go to node...", shortcut="Ctrl+F", callback=lambda: self.open_goto())
            with dpg.menu(label="Run"):
                dpg.add_menu_item(label="Run all outputs", shortcut="F5", callback=lambda: self.run())
                dpg.add_menu_item(label="Run to selected node", shortcut="F6", callback=lambda: self.run_to_here())
                dpg.add_menu_item(label="Step (teaching mode)", shortcut="F10", callback=lambda: self.step())
                dpg.add_menu_item(label="Cancel", shortcut="Esc", callback=lambda: self.cancel())
            with dpg.menu(label="View"):
                dpg.add_menu_item(label="Group frames", check=True, default_value=True,
                                  callback=lambda s, a: setattr(self, "show_group_frames", bool(a)))
                dpg.add_menu_item(label="Reset view", callback=lambda: self.reset_view())
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
        if self._declutter_tries:
            self._declutter_tries -= 1
            if self.declutter():
                self._declutter_tries = 0
        if self._pull_positions:
            self._pull_positions -= 1
            if self._pull_positions == 0:
                self.pull_positions()
        sel = dpg.get_selected_nodes("ng_editor")
        if sel != self._selected:
            self._selected = sel
            ids = self.selected_ids()
            if ids:
                self.inspect(ids[0])
        if s.revision != self._rev:
            self.sync(states_only=in_sync and bool(polled))
        if self._inspector_pending and not self._editing_text():
            self._refresh_inspector()
        self.preview_panel.refresh()
        self.preview_panel.tick()
        self.log_panel.tick()
        self._tick_autosave()
        self._draw_group_frames()
        if self._toast_until and time.monotonic() > self._toast_until:
            self._toast_until = 0.0
            dpg.configure_item("ng_toast", show=False)
        if running:
            done = sum(1 for n in self._nodes.values() if n.shown.get("state") in ("cached", "computed", "failed", "pinned", "skipped"))
            dpg.set_value("ng_runstate", f"running {done}/{len(self._nodes)}")
        elif dpg.get_value("ng_runstate"):
            dpg.set_value("ng_runstate", "")

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

    def _reset_view_state(self) -> None:
        """Another document is open (new, opened, recovered, from a template): forget the old one's
        view state."""
        self._step_hl = None
        self.offset = (0.0, 0.0)
        self._declutter_tries = 5  # once the new document's nodes are drawn and measured
        self.inspect(None)
        self.preview_panel.reset()
        for it in self._nodes.values():
            it.doc_pos = None
        self._recent = None

    # == keyboard ===================================================================================
    def _editing_text(self) -> bool:
        for w in list(self._text_widgets):
            if not dpg.does_item_exist(w):
                self._text_widgets.discard(w)
            elif dpg.is_item_active(w):
                return True
        return False

    def _on_key(self, sender: Any, key: int) -> None:
        ctrl = dpg.is_key_down(dpg.mvKey_ModCtrl) or dpg.is_key_down(dpg.mvKey_LControl) or dpg.is_key_down(dpg.mvKey_RControl)
        shift = dpg.is_key_down(dpg.mvKey_ModShift) or dpg.is_key_down(dpg.mvKey_LShift)
        if dpg.is_item_shown("ng_palette"):
            self._palette_key(key)
            return
        if dpg.is_item_shown("ng_goto"):
            self._goto_key(key)
            return
        if self._modal_open():
            return
        if ctrl and key == dpg.mvKey_S:
            self.save_as_dialog() if shift else self.save()
            return
        if self._editing_text():
            return
        if ctrl:
            action = {dpg.mvKey_Z: self.redo if shift else self.undo, dpg.mvKey_Y: self.redo,
                      dpg.mvKey_C: self.copy_selected, dpg.mvKey_V: self.paste, dpg.mvKey_D: self.duplicate_selected,
                      dpg.mvKey_N: self.new_file, dpg.mvKey_O: self.open_dialog, dpg.mvKey_F: self.open_goto,
                      dpg.mvKey_G: self.group_selected, dpg.mvKey_Spacebar: self.open_palette,
                      dpg.mvKey_Q: self.request_close}.get(key)
        else:
            action = {dpg.mvKey_Delete: self.delete_selected, dpg.mvKey_Tab: self.open_palette,
                      dpg.mvKey_F5: self.run, dpg.mvKey_F6: self.run_to_here, dpg.mvKey_F10: self.step,
                      dpg.mvKey_Escape: self.cancel}.get(key)
        if action is not None:
            action()

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
            self.message(f"{what}: {type(e).__name__}: {e}", ERROR)
        return None

    # == actions ====================================================================================
    def undo(self) -> None:
        if not self.s.undo():
            self.message("nothing to undo", INFO, log=False)

    def redo(self) -> None:
        if not self.s.redo():
            self.message("nothing to redo", INFO, log=False)

    def delete_selected(self) -> None:
        ids = self.selected_ids()
        links = [self._link_of_item[i] for i in dpg.get_selected_links("ng_editor") if i in self._link_of_item]
        dpg.clear_selected_nodes("ng_editor")
        dpg.clear_selected_links("ng_editor")
        for key in links:
            if key[0] not in ids and key[2] not in ids:
                self._guard(lambda k=key: self.s.disconnect(*k), "unlink")
        if ids:
            self._guard(lambda: self.s.remove_nodes(ids), "delete")
            self.message(f"deleted {', '.join(ids)}", INFO, log=False)

    def duplicate_selected(self) -> None:
        ids = self.selected_ids()
        if ids:
            new = self._guard(lambda: self.s.duplicate(ids), "duplicate")
            if new:
                self.message(f"duplicated as {', '.join(new)}", OK, log=False)

    def copy_selected(self) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        self._clipboard = self.s.copy(ids)
        try:
            dpg.set_clipboard_text(self._clipboard)
        except Exception:
            pass
        self.message(f"copied {len(ids)} node(s)", INFO, log=False)

    def paste(self) -> None:
        text = ""
        try:
            text = dpg.get_clipboard_text() or ""
        except Exception:
            pass
        if "nodegraph-clipboard" not in text:
            text = self._clipboard
        if not text:
            self.message("the clipboard holds no nodes", WARN, log=False)
            return
        new = self._guard(lambda: self.s.paste(text, self.mouse_grid_pos()), "paste")
        if new:
            self.message(f"pasted {', '.join(new)}", OK, log=False)

    def group_selected(self, title: str = "") -> str | None:
        ids = self.selected_ids()
        if not ids:
            self.message("select the nodes to group first", WARN, log=False)
            return None
        title = title or f"Group {len(self._groups) + 1}"
        return self._guard(lambda: self.s.group(ids, title), "group")

    def run(self) -> None:
        self._clear_step()
        why = self._guard(lambda: self.s.run(None), "run")
        if why:
            self.message(f"cannot run: {why}", ERROR, log=False)

    def run_to_here(self) -> None:
        self._clear_step()
        nid = self._inspected or (self.selected_ids() or [None])[0]
        if nid is None:
            self.message("select a node to run up to", WARN, log=False)
            return
        why = self._guard(lambda: self.s.run([nid]), "run")
        if why:
            self.message(f"cannot run: {why}", ERROR, log=False)

    def step(self) -> None:
        seen = len(self.s.log)
        nid = self._guard(lambda: self.s.step(), "step")
        refused = next((l for l in self.s.log[seen:] if l.startswith("error")), None)
        if nid and refused and not self.s.running:  # the step's run could not start
            self.message(f"cannot step: {refused[len('error: '):]}", ERROR, log=False)
            return
        # the session forgets the step once its run ends; keep showing it until the next action
        self._step_hl = (nid, tuple(self.s.step_link) if self.s.step_link else None) if nid else None
        self._rev = -1
        if nid:
            self.inspect(nid)
            self.message(f"step: computing {nid}", INFO, log=False)
        elif not self.s.running:
            self.message("step: every node is computed (press Step again to start over)", INFO, log=False)

    def _clear_step(self) -> None:
        if self._step_hl:
            self._step_hl = None
            self._rev = -1

    def cancel(self) -> None:
        if self.s.running:
            self.s.cancel()
            self.message("cancelling the run...", WARN)


__all__ = ["GraphView", "STATE_COLORS", "audio_output"]
