"""The licence tag drawn over a node whose model stops commercial use (``licence_session.py``)."""
from __future__ import annotations

import dearpygui.dearpygui as dpg

from .canvas_geom import FAR
from .licence_session import BADGE_TEXT

#: fill per verdict: red for a non-commercial model, amber for an unknown licence
BADGE_FILL = {"no": (178, 40, 48), "unknown": (176, 120, 20)}


def draw_licence_badge(verdict: str, node_w: float) -> tuple[int, float, int]:
    """Draw, in the node's draw node, a tag just above its top right corner; returns the text item
    as the canvas's (item, size, level) so it scales with zoom and stays readable far out."""
    text = BADGE_TEXT.get(verdict, verdict.upper())
    tw = len(text) * 7.4 + 14
    x1 = node_w
    x0 = max(0.0, x1 - tw)
    dpg.draw_rectangle((x0, -22), (x1, -3), color=(0, 0, 0, 0), fill=BADGE_FILL.get(verdict, (120, 120, 120)),
                       rounding=4)
    t = dpg.draw_text((x0 + 7, -20), text, size=13, color=(255, 246, 240))
    return t, 13.0, FAR


__all__ = ["draw_licence_badge", "BADGE_FILL"]
