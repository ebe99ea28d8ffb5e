"""The Looks gallery: a window with a grid of every installed Look, newest version of each (its
thumbnail and title; the tooltip gives its description, id, versions and where it was found). Dragging a Look out of the
gallery and dropping it on a wire inserts it there (the wire's value into its first input that
takes it, its first output of the wire's type on to where the wire went: one undo step);
dropping it on the empty canvas adds it there.

``GalleryMixin`` is part of ``GraphView``. The drag is the editor's own (a press on a tile, then
the release seen by the window's mouse handler): the canvas hit-test decides what is under the
drop, as it does for wires dragged from pins.
"""
from __future__ import annotations

import io
from typing import Any

import dearpygui.dearpygui as dpg
import numpy as np

from ..errors import NodegraphError, format_error
from .theme import DIM, ERROR, OK, WARN

GALLERY = "ng_gallery"
TILE_W, TILE_H = 144, 81
COLUMNS = 3
MAX_THUMB_PX = 1024  # a Look file's thumbnail is untrusted: larger ones are refused, not decoded


def thumbnail_pixels(png: bytes) -> np.ndarray | None:
    """A Look's thumbnail as RGB pixels cut to the tile's shape (None when there is none or it
    cannot be read)."""
    if not png:
        return None
    from PIL import Image as PILImage

    try:
        with PILImage.open(io.BytesIO(png)) as im:
            if im.format != "PNG" or im.width > MAX_THUMB_PX or im.height > MAX_THUMB_PX:
                return None
            im = im.convert("RGB")
            scale = max(TILE_W / im.width, TILE_H / im.height)
            im = im.resize((max(TILE_W, round(im.width * scale)), max(TILE_H, round(im.height * scale))))
            left, top = (im.width - TILE_W) // 2, (im.height - TILE_H) // 2
            return np.asarray(im.crop((left, top, left + TILE_W, top + TILE_H)))
    except (OSError, ValueError, PILImage.DecompressionBombError):
        return None


class GalleryMixin:
    """The Looks gallery window and dragging Looks from it (a part of ``GraphView``)."""

    _gallery_tiles: dict
    _gallery_textures: list
    _gallery_reg: Any
    _look_drag: dict | None

    def _build_gallery(self) -> None:
        self._gallery_tiles, self._gallery_textures, self._gallery_reg, self._look_drag = {}, [], None, None
        h = 270
        with dpg.window(label="Looks", tag=GALLERY, show=False, width=540, height=h, no_collapse=True,
                        no_saved_settings=True, pos=(12, max(60, self.height - h - 30)),
                        on_close=lambda: self.show_gallery(False)):
            with dpg.group(horizontal=True):
                dpg.add_button(label="Refresh", tag="ng_gallery_refresh", callback=lambda: self.reload_looks())
                dpg.add_text("Drag a Look onto a wire to insert it there, or onto empty canvas to add it.",
                             color=DIM, wrap=440)
            with dpg.child_window(tag="ng_gallery_grid", border=False):
                pass
        dpg.add_mouse_click_handler(parent="ng_handlers", callback=self._gallery_press)
        dpg.add_mouse_release_handler(parent="ng_handlers", callback=self._gallery_release)

    def show_gallery(self, show: bool = True) -> None:
        if show:
            self.refresh_gallery()
        dpg.configure_item(GALLERY, show=bool(show))
        if dpg.does_item_exist("ng_gallery_item"):
            dpg.set_value("ng_gallery_item", bool(show))

    def reload_looks(self) -> None:
        """Look for Looks again (a file installed from the command line while the editor is open)."""
        before = {l.type_id for l in self.s.looks}
        self._guard(lambda: self.s.refresh_looks(), "find Looks")
        new = [l.label for l in self.s.looks if l.type_id not in before]
        self.refresh_gallery()
        ids = {l.id for l in self.s.looks}
        self.message(f"{len(ids)} Looks installed ({len(self.s.looks)} versions)" + (f"; new: {', '.join(new)}" if new else ""),
                     OK, log=False)

    def gallery_tile(self, type_id: str) -> Any:
        """The tile (image button) of Look ``type_id`` (tests drag it)."""
        return next((t for t, tid in self._gallery_tiles.items() if tid == type_id), None)

    def refresh_gallery(self) -> None:
        """Draw the grid again from the registry's Looks (newest version of each; the graph's and yours
        first, then those of packages)."""
        self._gallery_reg = self.s.registry
        dpg.delete_item("ng_gallery_grid", children_only=True)
        for t in self._gallery_textures:
            if dpg.does_item_exist(t):
                dpg.delete_item(t)
        self._gallery_textures, self._gallery_tiles = [], {}
        newest: dict[str, Any] = {}
        for look in self.s.looks:  # by id, then version: the last of an id is its newest
            newest[look.id] = look
        looks = list(newest.values())  # one tile per Look: its newest version (the tooltip lists the others)
        looks.sort(key=lambda l: (l.origin.startswith("package"), l.id))  # your own first, then shipped ones
        usable = [l for l in looks if l.type_id in self.s.registry.specs]
        broken = [l for l in looks if l.type_id not in self.s.registry.specs]
        if not looks:
            dpg.add_text("No Looks installed yet. Select nodes and choose Edit > Make Look (Ctrl+L), or "
                         "install a Look file with `nodegraph looks install FILE.look.json`.",
                         parent="ng_gallery_grid", wrap=480, color=WARN)
            return
        from .outputs import rgba

        with dpg.table(parent="ng_gallery_grid", header_row=False, policy=dpg.mvTable_SizingFixedFit):
            for _ in range(COLUMNS):
                dpg.add_table_column(width_fixed=True, init_width_or_weight=TILE_W + 12)
            for row in range(0, len(usable), COLUMNS):
                with dpg.table_row():
                    for look in usable[row:row + COLUMNS]:
                        px = thumbnail_pixels(look.thumbnail)
                        if px is None:
                            px = np.full((TILE_H, TILE_W, 3), 52, np.uint8)
                            px[::6, :, :] = 64  # a plain striped tile: no picture
                        tex = dpg.add_static_texture(TILE_W, TILE_H, rgba(px), parent="ng_textures")
                        self._gallery_textures.append(tex)
                        with dpg.group():
                            b = dpg.add_image_button(tex, width=TILE_W, height=TILE_H)
                            self._gallery_tiles[b] = look.type_id
                            dpg.add_text(_cut(look.title or look.name, 20), color=(225, 225, 235))
                            dpg.add_text(f"{_cut(look.id, 18)} {look.version}", color=DIM)
                        with dpg.tooltip(b):
                            dpg.add_text(f"{look.title or look.name}   {look.id} {look.version}", color=(220, 200, 250))
                            dpg.add_text(look.description or "(no description)", wrap=340)
                            spec = self.s.registry.specs[look.type_id]
                            ins = ", ".join(f"{p.name} ({p.type.id})" for p in spec.inputs if not p.is_param) or "none"
                            outs = ", ".join(f"{o.name} ({o.type.id})" for o in spec.outputs)
                            dpg.add_text(f"inputs: {ins}\noutputs: {outs}", wrap=340, color=(170, 170, 180))
                            if look.params:
                                dpg.add_text("params: " + ", ".join(p.label or n for n, p in look.params.items()),
                                             wrap=340, color=(170, 170, 180))
                            versions = self.s.registry.library.versions(look.id)
                            if len(versions) > 1:
                                dpg.add_text("versions installed: " + ", ".join(versions), color=DIM)
                            dpg.add_text(f"from {look.path or look.origin}", wrap=340, color=DIM)
        for look in broken:
            why = self.s.registry.broken.get(look.type_id, "cannot be used here")
            dpg.add_text(f"{look.id} {look.version}: {why}", parent="ng_gallery_grid", wrap=480, color=ERROR)

    def _gallery_tick(self) -> None:
        """Per frame: follow a Look being dragged; redraw the grid when the registry changed."""
        if self._gallery_reg is not self.s.registry and dpg.is_item_shown(GALLERY):
            self.refresh_gallery()
        d = self._look_drag
        if d is None:
            return
        mouse = tuple(dpg.get_mouse_pos(local=False))
        if not dpg.is_mouse_button_down(dpg.mvMouseButton_Left):  # the release went where no handler saw it
            self._gallery_release(None, 0)
            return
        if abs(mouse[0] - d["start"][0]) + abs(mouse[1] - d["start"][1]) >= 4:
            d["moved"] = True
        if d["moved"]:
            dpg.delete_item("ng_drag_layer", children_only=True)
            ox, oy = self._canvas_origin()
            x, y = mouse[0] - ox, mouse[1] - oy
            what = self.hit(mouse)  # type: ignore[arg-type]
            ok = what[0] in ("wire", "empty", "group")
            color = (120, 220, 150) if ok else (235, 150, 120)
            dpg.draw_rectangle((x + 10, y + 8), (x + 230, y + 34), color=color, fill=(40, 42, 50, 230),
                               parent="ng_drag_layer")
            text = ("insert into this wire: " if what[0] == "wire" else "add: " if ok else "drop on a wire or canvas: ")
            dpg.draw_text((x + 16, y + 13), text + d["title"], size=13, color=color, parent="ng_drag_layer")
            if what[0] == "wire":
                pts = [self.to_screen(p) for p in self.wire_points(what[1])]
                dpg.draw_polyline([[p[0] - ox, p[1] - oy] for p in pts], color=(255, 255, 255), thickness=4,
                                  parent="ng_drag_layer")

    def _gallery_press(self, sender: Any, button: Any) -> None:
        if isinstance(button, (list, tuple)):
            button = button[0]
        if button != 0 or not self._gallery_tiles or not dpg.is_item_shown(GALLERY):
            return
        for tile, type_id in self._gallery_tiles.items():
            if dpg.does_item_exist(tile) and dpg.is_item_hovered(tile):
                look = self.s.registry.look(type_id)
                self._look_drag = {"type": type_id, "start": tuple(dpg.get_mouse_pos(local=False)), "moved": False,
                                   "title": (look.title or look.id) if look is not None else type_id}
                return

    def _gallery_release(self, sender: Any, button: Any) -> None:
        d, self._look_drag = self._look_drag, None
        if d is None:
            return
        dpg.delete_item("ng_drag_layer", children_only=True)
        if not d["moved"]:
            self.message(f"drag {d['title']} onto a wire (or the canvas) to use it", OK, log=False)
            return
        self.drop_look(d["type"], tuple(dpg.get_mouse_pos(local=False)))  # type: ignore[arg-type]

    def drop_look(self, type_id: str, mouse: tuple[float, float]) -> str | None:
        """A Look dropped at screen point ``mouse``: into the wire there, or onto the canvas.
        Returns the new node's id, or None (the reason is in the status bar)."""
        if self._mouse_over(GALLERY):
            return None  # let go over the gallery itself: nothing happens
        what = self.hit(mouse)
        g = self.to_graph(mouse)
        pos = (g[0] - 90, g[1] - 30)
        if what[0] == "wire":
            wire = what[1]
        elif what[0] in ("empty", "group"):
            wire = None
        else:
            why = "drop it on a wire to insert it there, or on empty canvas to add it" if what[0] != "outside" \
                else "drop it on the canvas"
            self.message(f"Look not added: {why}", WARN, log=False)
            self.toast(f"Not added: {why}")
            return None
        try:
            nid = self.s.add_look(type_id, pos, wire=wire)
        except NodegraphError as e:
            self.message(f"Look not added: {e}", ERROR)
            self.toast(f"Not added: {e}", 6.0)
            return None
        except Exception as e:  # never into the UI
            self.message(f"Look not added: {format_error(e)}", ERROR)
            return None
        self.select([nid])
        self.message((f"inserted {nid} into {wire[0]}.{wire[1]} -> {wire[2]}.{wire[3]}" if wire else f"added {nid}"),
                     OK, log=False)
        return nid


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


__all__ = ["GalleryMixin", "thumbnail_pixels"]
