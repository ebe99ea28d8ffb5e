"""File > Open bundle...: choose a ``.ngpack``, choose the folder to unpack it into, read what it
needs (the unpack report: node packs missing with their pip names, models missing or differing
with source and sha256, licences) in a dialog, then open the unpacked graph.

The bundle is checked whole before anything is written (``nodegraph.bundle``); a refused bundle
shows the refusal in the error box and leaves the folder untouched. It unpacks into a new folder
named after the bundle inside the chosen one (``scene``, ``scene-2`` when that exists), so
choosing a full folder never mixes files. ``BundleUIMixin`` is part of ``GraphView``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg

from ..errors import NodegraphError
from .theme import DIM, ERROR, OK, WARN

REPORT = "ng_bundle_report"
FILE_DIALOG = "ng_bundle_dialog"
DIR_DIALOG = "ng_bundle_dir_dialog"
THUMB_W, THUMB_H = 224, 126


def target_folder(chosen: str | Path, bundle: str | Path) -> Path:
    """Where a bundle goes inside the chosen folder: a new folder named after it."""
    stem = Path(bundle).stem or "bundle"
    base = Path(chosen) / stem
    at, n = base, 2
    while at.exists() and (not at.is_dir() or any(at.iterdir())):
        at = base.with_name(f"{stem}-{n}")
        n += 1
    return at


def line_colour(line: str) -> tuple:
    s = line.strip()
    if s.startswith("missing") or s.startswith("not ready"):
        return ERROR
    if s.startswith(("differs", "version")) or "found by hash" in s or "may differ" in s:
        return WARN
    if s.startswith(("ok", "ready", "found")):
        return OK
    return (215, 215, 225)


class BundleUIMixin:
    """Open bundle (a part of ``GraphView``)."""

    _bundle_path: str | None
    _bundle_report: Any

    def _build_bundle(self) -> None:
        self._bundle_path, self._bundle_report = None, None
        with dpg.file_dialog(tag=FILE_DIALOG, show=False, modal=True, width=760, height=460, directory_selector=False,
                             callback=lambda s, a: self._bundle_chosen(a)):
            dpg.add_file_extension(".ngpack", custom_text="bundle")
            dpg.add_file_extension(".*")
        with dpg.file_dialog(tag=DIR_DIALOG, show=False, modal=True, width=760, height=460, directory_selector=True,
                             label="Unpack into which folder?", callback=lambda s, a: self._bundle_folder_chosen(a)):
            pass
        with dpg.window(label="Open bundle", tag=REPORT, modal=True, show=False, no_collapse=True, width=820,
                        height=600, no_saved_settings=True):
            with dpg.group(horizontal=True):
                with dpg.group(tag="ng_bundle_thumb"):
                    pass
                with dpg.group():
                    dpg.add_text("", tag="ng_bundle_title", wrap=560, color=(230, 220, 250))
                    dpg.add_text("", tag="ng_bundle_where", wrap=560, color=DIM)
            with dpg.child_window(tag="ng_bundle_lines", height=340, border=True, horizontal_scrollbar=True):
                pass
            dpg.add_text("", tag="ng_bundle_note", color=DIM, wrap=790)
            with dpg.group(horizontal=True):
                dpg.add_button(label="Open graph", tag="ng_bundle_open", width=140, callback=lambda: self.bundle_open_graph())
                dpg.add_button(label="Close", tag="ng_bundle_close", width=110,
                               callback=lambda: dpg.configure_item(REPORT, show=False))

    def _modal_open(self) -> bool:
        return super()._modal_open() or any(  # type: ignore[misc]
            dpg.is_item_shown(w) for w in (REPORT, FILE_DIALOG, DIR_DIALOG))

    # -- the steps ---------------------------------------------------------------------------------
    def open_bundle_dialog(self) -> None:
        """File > Open bundle...: first the bundle file (after the unsaved-changes question)."""
        self._unless_unsaved(lambda: dpg.configure_item(FILE_DIALOG, show=True))

    def _bundle_chosen(self, data: dict) -> None:
        from .dialogs import chosen_file

        path = chosen_file(data)
        if not path:
            return
        self._bundle_path = path
        dpg.configure_item(DIR_DIALOG, show=True, default_path=str(Path(path).parent))

    def _bundle_folder_chosen(self, data: dict) -> None:
        data = data or {}
        folder = str(data.get("file_path_name") or data.get("current_path") or "")
        if not folder or self._bundle_path is None:
            return
        self.open_bundle(self._bundle_path, target_folder(folder, self._bundle_path))

    def open_bundle(self, bundle: str | Path, dest: str | Path) -> bool:
        """Unpack ``bundle`` into ``dest`` (checked whole first) and show the report; False when it
        was refused (the error box says why)."""
        from ..bundle import check, unpack

        try:
            done = unpack(bundle, dest)
            report = check(done.manifest, done.dest, self.s.registry)
        except (NodegraphError, OSError) as e:
            self.show_error("Cannot open the bundle", str(e))
            return False
        self._bundle_report = report
        self.show_bundle_report(report, str(bundle))
        self.message(f"unpacked {Path(bundle).name} into {done.dest}", OK if report.ready else WARN)
        return True

    def show_bundle_report(self, report: Any, bundle: str) -> None:
        m = report.manifest
        dpg.set_value("ng_bundle_title", f"{m.get('title', '')}  (made with nodegraph {m.get('nodegraph_version')})")
        dpg.set_value("ng_bundle_where", f"{Path(bundle).name} unpacked into {report.dest}")
        dpg.delete_item("ng_bundle_lines", children_only=True)
        for line in self.bundle_lines():
            dpg.add_text(line, parent="ng_bundle_lines", color=line_colour(line))
        dpg.set_value("ng_bundle_note", "Nothing has run. Open graph opens the unpacked graph." if report.ready else
                      "Something is missing: the graph opens, but the nodes that need it fail until it is installed.")
        self._show_thumbnail(report)
        self._center(REPORT, 820, 600)
        dpg.configure_item(REPORT, show=True)

    def _show_thumbnail(self, report: Any) -> None:
        """The bundle's thumbnail (read from the unpacked folder as an untrusted PNG: a bounded size,
        decoded by Pillow only), or nothing."""
        from .gallery import MAX_THUMB_PX
        from .outputs import rgba

        dpg.delete_item("ng_bundle_thumb", children_only=True)
        old, self._bundle_tex = getattr(self, "_bundle_tex", None), None
        if old is not None and dpg.does_item_exist(old):
            dpg.delete_item(old)
        name = report.manifest.get("thumbnail")
        if not name or report.dest is None:
            return
        try:
            import numpy as np
            from PIL import Image as PILImage

            with PILImage.open(report.dest / name) as im:
                if im.format != "PNG" or im.width > MAX_THUMB_PX or im.height > MAX_THUMB_PX:
                    return
                im = im.convert("RGB")
                im.thumbnail((THUMB_W, THUMB_H))
                px = np.asarray(im)
        except Exception:  # an unreadable picture: the report stands without it
            return
        self._bundle_tex = dpg.add_static_texture(px.shape[1], px.shape[0], rgba(px), parent="ng_textures")
        dpg.add_image(self._bundle_tex, parent="ng_bundle_thumb")

    def bundle_lines(self) -> list[str]:
        """The report's lines as the dialog shows them (the graph's path is above them)."""
        r = self._bundle_report
        return [line for line in r.lines() if not line.startswith("graph: ")] if r is not None else []

    def bundle_open_graph(self) -> bool:
        """The dialog's Open graph: the unpacked graph becomes the open document."""
        r = self._bundle_report
        if r is None or r.graph is None:
            return False
        dpg.configure_item(REPORT, show=False)
        return self.open_file(str(r.graph))


__all__ = ["BundleUIMixin", "target_folder", "line_colour"]
