"""The editor window's look: colours, the font and the global dearpygui theme (the canvas draws
its nodes, pins and wires itself, with the colours here and in ``canvas.py``)."""
from __future__ import annotations

from pathlib import Path

import dearpygui.dearpygui as dpg

from .session import STATE_COLORS

ERROR, WARN, INFO, OK = (235, 110, 100), (230, 190, 90), (200, 200, 205), (120, 200, 140)
CANVAS = (24, 25, 29)
DIM = (150, 150, 155)  # hints ("Select a node ...")


def lighter(c: tuple[int, int, int], f: float) -> tuple[int, int, int]:
    return tuple(min(255, int(v + (255 - v) * f)) for v in c[:3])  # type: ignore[return-value]


def font_file() -> str | None:
    candidates = [Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
                  Path("/usr/share/fonts/TTF/DejaVuSans.ttf"),
                  Path("/Library/Fonts/DejaVuSans.ttf"), Path("C:/Windows/Fonts/segoeui.ttf")]
    try:  # the fonts the built-in node pack ships (located, not imported: the editor knows no pack)
        import importlib.util

        spec = importlib.util.find_spec("nodes")
        if spec is not None and spec.submodule_search_locations:
            for loc in spec.submodule_search_locations:
                candidates.insert(0, Path(loc) / "fonts" / "DejaVuSans.ttf")
    except (ImportError, ValueError):
        pass
    for c in candidates:
        if c.is_file():
            return str(c)
    return None


def setup_font_and_theme() -> None:
    """Bind the font and the global theme; make the named theme "ng_run_theme" (the Run button)."""
    font = font_file()
    if font:
        with dpg.font_registry():
            f = dpg.add_font(font, 15)
        dpg.bind_font(f)
    with dpg.theme() as theme:
        with dpg.theme_component(dpg.mvAll):
            dpg.add_theme_style(dpg.mvStyleVar_FrameRounding, 3)
            dpg.add_theme_style(dpg.mvStyleVar_ChildRounding, 4)
            dpg.add_theme_style(dpg.mvStyleVar_WindowRounding, 5)
            dpg.add_theme_style(dpg.mvStyleVar_FramePadding, 6, 3)
            dpg.add_theme_style(dpg.mvStyleVar_ItemSpacing, 7, 5)
            dpg.add_theme_style(dpg.mvStyleVar_WindowPadding, 8, 6)
            dpg.add_theme_style(dpg.mvStyleVar_WindowBorderSize, 0)
            dpg.add_theme_color(dpg.mvThemeCol_WindowBg, (30, 31, 36))
            dpg.add_theme_color(dpg.mvThemeCol_ChildBg, (26, 27, 31))
            dpg.add_theme_color(dpg.mvThemeCol_Border, (58, 60, 68))
            dpg.add_theme_color(dpg.mvThemeCol_FrameBg, (46, 48, 56))
            dpg.add_theme_color(dpg.mvThemeCol_Button, (52, 72, 108))
            dpg.add_theme_color(dpg.mvThemeCol_ButtonHovered, (70, 100, 150))
            dpg.add_theme_color(dpg.mvThemeCol_ButtonActive, (86, 122, 180))
            dpg.add_theme_color(dpg.mvThemeCol_MenuBarBg, (36, 38, 44))
            dpg.add_theme_color(dpg.mvThemeCol_TableRowBg, (0, 0, 0, 0))
        with dpg.theme_component(dpg.mvButton, enabled_state=False):
            dpg.add_theme_color(dpg.mvThemeCol_Button, (50, 50, 56))
            dpg.add_theme_color(dpg.mvThemeCol_ButtonHovered, (50, 50, 56))
            dpg.add_theme_color(dpg.mvThemeCol_Text, (130, 130, 136))
    dpg.bind_theme(theme)
    with dpg.theme(tag="ng_run_theme"):
        with dpg.theme_component(dpg.mvButton):
            dpg.add_theme_color(dpg.mvThemeCol_Button, (40, 120, 80))
            dpg.add_theme_color(dpg.mvThemeCol_ButtonHovered, (52, 150, 100))
            dpg.add_theme_color(dpg.mvThemeCol_ButtonActive, (60, 170, 115))


def bind_window_themes() -> None:
    """The canvas column in the canvas colour, the log and the right column opaque."""
    with dpg.theme() as canvas:
        with dpg.theme_component(dpg.mvAll):
            dpg.add_theme_color(dpg.mvThemeCol_ChildBg, CANVAS)
    dpg.bind_item_theme("ng_left", canvas)
    with dpg.theme() as opaque:
        with dpg.theme_component(dpg.mvAll):
            dpg.add_theme_color(dpg.mvThemeCol_ChildBg, (26, 27, 31))
    dpg.bind_item_theme("ng_log", opaque)
    dpg.bind_item_theme("ng_right", opaque)


def bind_toast_theme(window: str) -> None:
    """A reddish, bordered look for the toast window."""
    with dpg.theme() as t:
        with dpg.theme_component(dpg.mvAll):
            dpg.add_theme_color(dpg.mvThemeCol_WindowBg, (70, 30, 32, 235))
            dpg.add_theme_color(dpg.mvThemeCol_Border, (200, 90, 90))
            dpg.add_theme_style(dpg.mvStyleVar_WindowBorderSize, 1)
    dpg.bind_item_theme(window, t)


__all__ = ["STATE_COLORS", "ERROR", "WARN", "INFO", "OK", "CANVAS", "DIM", "lighter", "font_file",
           "setup_font_and_theme", "bind_window_themes", "bind_toast_theme"]
