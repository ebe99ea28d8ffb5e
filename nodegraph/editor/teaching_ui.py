"""Teaching mode in the editor window: the Teaching menu, its keys, stepping, notes and the
walkthrough export. ``TeachingMixin`` is a part of ``GraphView`` (``view.py``); the stepping
itself, what wires carry and the page are ``teaching.py`` (testable without a display).

What the canvas reads to draw teaching mode: ``teaching_on``, ``teacher()`` (a ``Teaching``:
``current``, ``order``, ``index``, ``inputs_of``, ``output_of``, ``note``), ``presenter_scale``
(1.0 outside teaching mode) and ``wire_value`` (teaching.py) for the value on each wire.

The view calls ``_build_teaching_menu()`` inside its menu bar, ``_build_teaching()`` once after
its other windows, and ``_teaching_tick()`` once per frame.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg

from .teaching import SCALES, Teaching
from .theme import ERROR, INFO, OK, WARN

# dearpygui 2.x reports Page Up / Page Down as ImGui's key numbers (ImGuiKey_PageUp 517,
# ImGuiKey_PageDown 518) while its constants mvKey_Prior / mvKey_Next still hold the old GLFW
# numbers (266, 267): accept both
PAGE_UP, PAGE_DOWN = 517, 518
FORWARD_KEYS = ("mvKey_Right", "mvKey_Next")
BACK_KEYS = ("mvKey_Left", "mvKey_Prior")


def _keys(names: tuple[str, ...], extra: int) -> set[int]:
    return {getattr(dpg, n) for n in names if hasattr(dpg, n)} | {extra}


class TeachingMixin:
    """Teaching mode for ``GraphView``.

    Uses from the view: ``s`` (the session), ``message``, ``_guard``, ``inspect``, ``width``,
    ``height``, ``_step_hl`` and ``_rev`` (the canvas's step highlight and redraw mark), and, when
    present, ``_modal_open``, ``_editing_text`` and ``_text_widgets``."""

    teaching_on: bool = False
    _teaching: Teaching | None = None
    _walk_pending: tuple[Path, int] | None = None  # (page, run it waits for)
    _note_node: str | None = None

    # == state ======================================================================================
    def teacher(self) -> Teaching:
        """The ``Teaching`` of the open session (made on first use)."""
        if self._teaching is None or self._teaching.session is not self.s:
            self._teaching = Teaching(self.s)
        return self._teaching

    @property
    def presenter_scale(self) -> float:
        """How much larger the canvas draws fonts and pins: the teacher's choice (1.5 to 2.5) in
        teaching mode, 1.0 otherwise."""
        return self.teacher().scale if self.teaching_on else 1.0

    # == building ===================================================================================
    def _build_teaching_menu(self) -> None:
        """The Teaching menu (call inside the menu bar)."""
        with dpg.menu(label="Teaching", tag="ng_teach_menu"):
            dpg.add_menu_item(label="Teaching mode", tag="ng_teach_toggle", check=True, default_value=False,
                              callback=lambda s, a: self.set_teaching(bool(a)))
            dpg.add_menu_item(label="Step forward", shortcut="Right / PageDown", callback=lambda: self.teach_forward())
            dpg.add_menu_item(label="Step back", shortcut="Left / PageUp", callback=lambda: self.teach_back())
            dpg.add_menu_item(label="Start over", callback=lambda: self.teach_reset())
            with dpg.menu(label="Presenter scale"):
                for sc in SCALES:
                    dpg.add_menu_item(label=f"{sc:g}x", tag=f"ng_teach_scale_{int(sc * 10)}", check=True,
                                      default_value=sc == self.teacher().scale,
                                      callback=lambda s, a, u: self.set_presenter_scale(u), user_data=sc)
            dpg.add_menu_item(label="Edit note...", callback=lambda: self.edit_note())
            dpg.add_separator()
            dpg.add_menu_item(label="Export walkthrough...", callback=lambda: self.export_walkthrough_dialog())

    def _build_teaching(self) -> None:
        """The export dialog, the note editor and the teaching keys (call once, outside windows)."""
        with dpg.file_dialog(tag="ng_walk_dialog", show=False, modal=True, width=760, height=460,
                             directory_selector=False, default_filename="walkthrough",
                             callback=lambda s, a: self._walk_dialog_done(a)):
            dpg.add_file_extension(".html", custom_text="web page")
        with dpg.window(label="Note", tag="ng_note", show=False, width=460, height=260, no_collapse=True,
                        no_saved_settings=True):
            dpg.add_text("", tag="ng_note_for", color=(170, 170, 180))
            w = dpg.add_input_text(tag="ng_note_text", multiline=True, width=-1, height=150, tab_input=False)
            texts = getattr(self, "_text_widgets", None)
            if isinstance(texts, set):
                texts.add(w)
            with dpg.group(horizontal=True):
                dpg.add_button(label="Save note", tag="ng_note_save", width=120, callback=lambda: self._save_note())
                dpg.add_button(label="Cancel", width=100, callback=lambda: dpg.configure_item("ng_note", show=False))
        with dpg.handler_registry(tag="ng_teach_handlers"):
            dpg.add_key_press_handler(callback=lambda s, a: self._teaching_key(a))

    # == actions ====================================================================================
    def set_teaching(self, on: bool) -> None:
        """Turn teaching mode on (step with the arrows, larger drawing) or off."""
        self.teaching_on = bool(on)
        if dpg.does_item_exist("ng_teach_toggle"):
            dpg.set_value("ng_teach_toggle", self.teaching_on)
        t = self.teacher()
        if self.teaching_on:
            n = len(t.order)
            where = f"at step {t.index + 1} of {n}" if t.current else f"{n} steps"
            self.message(f"teaching mode: {where}; Right or PageDown steps forward, Left or PageUp back", INFO, log=False)
            if t.current:
                self._show_step(t.current)
        else:
            self._step_hl = None
            self._rev = -1
            self.message("teaching mode off", INFO, log=False)

    def teach_forward(self) -> str | None:
        """Compute the next node and make it current (turns teaching mode on)."""
        if not self.teaching_on:
            self.set_teaching(True)
        t = self.teacher()
        nid = self._guard(t.forward, "step")
        if nid is None:
            if t.message:
                self.message(f"step: {t.message}", WARN, log=False)
            return None
        self._show_step(nid)
        if t.message:  # the node is current, but its run could not start: say why
            self.message(f"step: {t.message}", ERROR)
        return nid

    def teach_back(self) -> str | None:
        """Make the previous node current (nothing is recomputed)."""
        t = self.teacher()
        nid = self._guard(t.back, "step back")
        if nid is None:
            if t.message:
                self.message(f"step back: {t.message}", WARN, log=False)
            return None
        self._show_step(nid)
        return nid

    def teach_reset(self) -> None:
        self.teacher().reset()
        self._step_hl = None
        self._rev = -1
        self.message("teaching: back to the start", INFO, log=False)

    def set_presenter_scale(self, scale: float) -> None:
        sc = self.teacher().set_scale(scale)
        for s in SCALES:
            tag = f"ng_teach_scale_{int(s * 10)}"
            if dpg.does_item_exist(tag):
                dpg.set_value(tag, s == sc)
        self._rev = -1
        self.message(f"presenter scale {sc:g}x", INFO, log=False)

    def _highlight(self, nid: str) -> None:
        """The canvas's step highlight on ``nid`` and the first wire into it."""
        into = self.s.doc.links_into(nid) if nid in self.s.doc else []
        link = (into[0].src, into[0].src_port, into[0].dst, into[0].dst_port) if into else None
        self._step_hl = (nid, link)
        self._rev = -1

    def _show_step(self, nid: str) -> None:
        t = self.teacher()
        self._highlight(nid)
        self.inspect(nid)
        try:
            title = self.s.node_view(nid).title
        except Exception:
            title = nid
        self.message(f"step {t.index + 1} of {len(t.order)}: {title} ({nid})", INFO, log=False)

    def _teaching_key(self, key: int) -> None:
        if not self.teaching_on or self._teaching_busy():
            return
        if key in _keys(FORWARD_KEYS, PAGE_DOWN):
            self.teach_forward()
        elif key in _keys(BACK_KEYS, PAGE_UP):
            self.teach_back()

    def _teaching_busy(self) -> bool:
        """A dialog, the palette or a text field has the keys."""
        for tag in ("ng_walk_dialog", "ng_note", "ng_palette", "ng_goto"):
            if dpg.does_item_exist(tag) and dpg.is_item_shown(tag):
                return True
        modal = getattr(self, "_modal_open", None)
        editing = getattr(self, "_editing_text", None)
        return bool((modal and modal()) or (editing and editing()))

    # == notes ======================================================================================
    def edit_note(self, node_id: str | None = None) -> None:
        """Open the note of ``node_id`` (default: the current step, else the inspected node)."""
        nid = node_id or self.teacher().current or getattr(self, "_inspected", None)
        if nid is None or nid not in self.s.doc:
            self.message("select a node (or step to one) to write its note", WARN, log=False)
            return
        self._note_node = nid
        dpg.set_value("ng_note_for", f"Note on {nid} (shown as a callout in teaching mode and in the walkthrough)")
        dpg.set_value("ng_note_text", self.teacher().note(nid))
        dpg.set_item_pos("ng_note", [max(0, (self.width - 460) // 2), max(0, (self.height - 260) // 3)])
        dpg.configure_item("ng_note", show=True)

    def _save_note(self) -> None:
        nid = self._note_node
        dpg.configure_item("ng_note", show=False)
        if nid is None or nid not in self.s.doc:
            return
        self._guard(lambda: self.teacher().set_note(nid, dpg.get_value("ng_note_text") or ""), "note")
        self._rev = -1

    # == the walkthrough page ===========================================================================
    def export_walkthrough_dialog(self) -> None:
        stem = self.s.path.stem if getattr(self.s, "path", None) else "graph"
        dpg.configure_item("ng_walk_dialog", default_filename=f"{stem}-walkthrough", show=True)

    def _walk_dialog_done(self, data: dict) -> None:
        path = str((data or {}).get("file_path_name") or "")
        if not path:
            return
        p = Path(path)
        if p.name.endswith(".*"):  # the dialog adds its filter's suffix to a typed name
            p = p.with_name(p.name[:-2])
        if p.suffix.lower() not in (".html", ".htm"):
            p = p.with_name(p.name + ".html")
        self.export_walkthrough(p)

    def export_walkthrough(self, path: str | Path) -> bool:
        """Write the walkthrough page. Nodes whose output is not known yet are computed first (a run
        of the outputs in the background; cached nodes come straight from the cache) and the page
        is written when that run ends. True when it was written now."""
        path = Path(path)
        t = self.teacher()
        if self.s.running:
            self.message("export: a run is going: wait for it to end", WARN, log=False)
            return False
        if t.missing():
            why = self._guard(lambda: self.s.run(None), "export")
            if why is None:
                self._walk_pending = (path, self.s.runs)
                self.message(f"running the graph to fill in the walkthrough ({len(t.missing())} nodes to compute)...",
                             INFO, log=False)
                return False
            self.message(f"export: cannot run the graph ({why}); the page shows what is known", WARN)
        return self._write_walkthrough(path)

    def _write_walkthrough(self, path: Path) -> bool:
        t = self.teacher()
        p = self._guard(lambda: t.export_html(path), "export walkthrough")
        if p:
            missing = t.missing()
            extra = f", {len(missing)} without output" if missing else ""
            self.message(f"wrote the walkthrough {p} ({len(t.order)} steps{extra})", OK if not missing else WARN)
        return bool(p)

    # == per frame ======================================================================================
    def _teaching_tick(self) -> None:
        """Once per frame: write a page whose run has ended; keep the current step highlighted."""
        if self._walk_pending is not None and not self.s.running:
            path, runs = self._walk_pending
            self._walk_pending = None
            if self.s.runs == runs:
                self._write_walkthrough(path)
            else:
                self.message("export: another run started; export again", WARN, log=False)
        if self.teaching_on and self._teaching is not None:
            cur = self._teaching.current
            if cur is not None and (self._step_hl or (None,))[0] != cur:
                self._highlight(cur)  # a run (F5) cleared it, or edits moved the step
            elif cur is None and self._step_hl:
                self._step_hl = None
                self._rev = -1


__all__ = ["TeachingMixin"]
