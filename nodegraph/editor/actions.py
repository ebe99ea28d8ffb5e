"""What the editor's keys, menus and toolbar do: keyboard shortcuts and the actions they call
(undo, delete, copy and paste, group, run, step, cancel), each one a session call guarded so an
error is shown, never raised into the UI. ``ActionsMixin`` is part of ``GraphView`` (``view.py``).
"""
from __future__ import annotations

from typing import Any

import dearpygui.dearpygui as dpg

from .theme import ERROR, INFO, OK, WARN


class ActionsMixin:
    """Keyboard shortcuts and the actions behind keys, menus and toolbar (a part of ``GraphView``)."""

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
        if self._rename_target is not None:
            if key == dpg.mvKey_Escape:
                self._finish_rename(commit=False)
            return
        if self._ctx_open():
            if key == dpg.mvKey_Escape:
                self.close_menu()
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
        elif key == dpg.mvKey_F:
            action = self.fit_selection if shift else self.fit_all
        else:
            action = {dpg.mvKey_Delete: self.delete_selected, dpg.mvKey_Tab: self.open_palette,
                      dpg.mvKey_F5: self.run, dpg.mvKey_F6: self.run_to_here, dpg.mvKey_F10: self.step,
                      dpg.mvKey_Escape: self.cancel}.get(key)
        if action is not None:
            action()

    # == actions ====================================================================================
    def undo(self) -> None:
        if not self.s.undo():
            self.message("nothing to undo", INFO, log=False)

    def redo(self) -> None:
        if not self.s.redo():
            self.message("nothing to redo", INFO, log=False)

    def delete_selected(self) -> None:
        ids = self.selected_ids()
        links = [k for k in self._sel_links if k in self._wires]
        self.select([])
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
