"""The canvas's geometry, without a screen: node boxes and pin positions in graph coordinates,
the view (zoom and pan) that maps graph coordinates to the canvas, fitting, level of detail and
hit-testing. ``canvas.py`` draws what this computes; tests check it without a window.

Graph coordinates are the document's node positions (``layout[node]["pos"]``, the node's top-left
corner). The view maps a graph point ``g`` to a canvas-local point ``g * scale + pan`` (pixels from
the canvas's top-left corner), where ``scale = zoom * presenter``; the presenter scale makes
"100%" larger on a projector without changing what zoom means.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable

ZOOM_MIN, ZOOM_MAX = 0.10, 4.0
TITLE_H = 24.0      # title bar
STATUS_H = 20.0     # status line (state, seconds, failure) with the progress bar at its foot
ROW_H = 20.0        # one pin row
PAD_B = 8.0         # below the last row
MIN_W = 180.0
CHAR_W = 7.4        # average advance of the 14 px font (DejaVu Sans), for widths before any frame
WRAP_CHARS = 30     # multi-line text shown on a node wraps at this many characters
WRAP_LINES = 3      # ... and shows at most this many lines
FAR, MID, NEAR = 0, 1, 2  # level of detail: title and state colour / + pins / + values


def lod_of(scale: float) -> int:
    """Level of detail at a given drawing scale (zoom x presenter scale)."""
    return FAR if scale < 0.45 else MID if scale < 0.8 else NEAR


def wrap(text: str, width: int = WRAP_CHARS, lines: int = WRAP_LINES) -> list[str]:
    """``text`` wrapped at word boundaries into at most ``lines`` lines ("..." when cut)."""
    import textwrap

    out: list[str] = []
    for para in str(text).replace("\\n", "\n").split("\n"):
        out.extend(textwrap.wrap(para, width) or [""])
    if len(out) > lines:
        out = out[:lines]
        out[-1] = (out[-1][: width - 3] + "...") if len(out[-1]) > width - 3 else out[-1] + "..."
    return out


@dataclass
class NodeGeom:
    """A node's box and pins, relative to its top-left corner (graph units)."""

    w: float
    h: float
    inputs: dict[str, tuple[float, float]] = field(default_factory=dict)
    outputs: dict[str, tuple[float, float]] = field(default_factory=dict)
    wrapped: dict[str, list[str]] = field(default_factory=dict)  # multi-line params: their lines


def shown_inputs(v: Any) -> list[Any]:
    return [p for p in v.inputs if not v.collapsed or p.linked]


def shown_outputs(v: Any) -> list[Any]:
    return [p for p in v.outputs if not v.collapsed or p.linked or len(v.outputs) == 1]


def node_geom(v: Any, title: str, multiline: set[str] | frozenset = frozenset(), value_text: Any = None) -> NodeGeom:
    """The box of node view ``v`` titled ``title``; ``multiline``: params whose text wraps under
    their pin; ``value_text(p)``: the short text of a param's value."""
    ins, outs = shown_inputs(v), shown_outputs(v)
    g = NodeGeom(0.0, 0.0)
    y = TITLE_H + STATUS_H
    widest_in = 0
    for p in ins:
        g.inputs[p.name] = (0.0, y + ROW_H / 2)
        label = p.name
        if value_text is not None and p.is_param and not p.linked:
            label = f"{p.name}  {value_text(p)}"
        widest_in = max(widest_in, len(label))
        y += ROW_H
        if p.name in multiline and not p.linked and p.value not in (None, ""):
            g.wrapped[p.name] = wrap(str(p.value))
            y += ROW_H * 0.8 * len(g.wrapped[p.name])
    widest_out = max((len(p.name) for p in outs), default=0)
    w = max(MIN_W, CHAR_W * (len(title) + 4), CHAR_W * (widest_in + widest_out + 4),
            CHAR_W * (WRAP_CHARS + 2) if g.wrapped else 0)
    g.w = float(math.ceil(min(w, 420.0)))
    oy = TITLE_H + STATUS_H
    for p in outs:
        g.outputs[p.name] = (g.w, oy + ROW_H / 2)
        oy += ROW_H
    g.h = max(y, oy) + PAD_B
    return g


@dataclass
class ViewXform:
    """Zoom and pan of the canvas (view state only: never part of the document)."""

    zoom: float = 1.0
    pan: tuple[float, float] = (0.0, 0.0)
    presenter: float = 1.0

    @property
    def scale(self) -> float:
        return self.zoom * self.presenter

    def to_local(self, g: tuple[float, float]) -> tuple[float, float]:
        s = self.scale
        return g[0] * s + self.pan[0], g[1] * s + self.pan[1]

    def to_graph(self, p: tuple[float, float]) -> tuple[float, float]:
        s = self.scale
        return (p[0] - self.pan[0]) / s, (p[1] - self.pan[1]) / s

    def zoom_at(self, local: tuple[float, float], zoom: float) -> None:
        """Zoom to ``zoom`` (clamped to 10%..400%) keeping the graph point under ``local`` fixed."""
        g = self.to_graph(local)
        self.zoom = min(ZOOM_MAX, max(ZOOM_MIN, zoom))
        s = self.scale
        self.pan = (local[0] - g[0] * s, local[1] - g[1] * s)

    def fit(self, box: tuple[float, float, float, float] | None, size: tuple[float, float], margin: float = 30.0,
            max_zoom: float = 1.0) -> None:
        """Show graph rectangle ``box`` (x0, y0, x1, y1) whole and centred in a canvas of ``size``."""
        if box is None:
            self.zoom, self.pan = 1.0, (0.0, 0.0)
            return
        x0, y0, x1, y1 = box
        w, h = max(1.0, x1 - x0), max(1.0, y1 - y0)
        avail_w, avail_h = max(1.0, size[0] - 2 * margin), max(1.0, size[1] - 2 * margin)
        zoom = min(avail_w / w, avail_h / h) / self.presenter
        self.zoom = min(max_zoom, ZOOM_MAX, max(ZOOM_MIN, zoom))
        s = self.scale
        self.pan = (size[0] / 2 - (x0 + w / 2) * s, size[1] / 2 - (y0 + h / 2) * s)

    def visible(self, size: tuple[float, float]) -> tuple[float, float, float, float]:
        """The graph rectangle the canvas shows."""
        x0, y0 = self.to_graph((0.0, 0.0))
        x1, y1 = self.to_graph(size)
        return x0, y0, x1, y1


def bbox(rects: Iterable[tuple[float, float, float, float]]) -> tuple[float, float, float, float] | None:
    rects = list(rects)
    if not rects:
        return None
    return (min(r[0] for r in rects), min(r[1] for r in rects), max(r[2] for r in rects), max(r[3] for r in rects))


def inside(p: tuple[float, float], r: tuple[float, float, float, float]) -> bool:
    return r[0] <= p[0] <= r[2] and r[1] <= p[1] <= r[3]


def overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def wire_controls(p0: tuple[float, float], p3: tuple[float, float]) -> tuple[tuple[float, float], tuple[float, float]]:
    """The two control points of a wire's cubic curve from output ``p0`` to input ``p3``."""
    dx = max(40.0, abs(p3[0] - p0[0]) * 0.5)
    return (p0[0] + dx, p0[1]), (p3[0] - dx, p3[1])


def bezier_points(p0: tuple[float, float], p3: tuple[float, float], n: int = 16) -> list[tuple[float, float]]:
    c1, c2 = wire_controls(p0, p3)
    pts = []
    for i in range(n + 1):
        t = i / n
        u = 1 - t
        pts.append((u * u * u * p0[0] + 3 * u * u * t * c1[0] + 3 * u * t * t * c2[0] + t * t * t * p3[0],
                    u * u * u * p0[1] + 3 * u * u * t * c1[1] + 3 * u * t * t * c2[1] + t * t * t * p3[1]))
    return pts


def wire_path(p0: tuple[float, float], p3: tuple[float, float], via: list | tuple = (), n: int = 16) -> list[tuple[float, float]]:
    """The points of a wire from ``p0`` through reroute points ``via`` to ``p3`` (a curve per leg)."""
    stops = [tuple(p0)] + [tuple(v) for v in via] + [tuple(p3)]
    pts: list[tuple[float, float]] = []
    for a, b in zip(stops, stops[1:]):
        leg = bezier_points(a, b, n)  # type: ignore[arg-type]
        pts.extend(leg if not pts else leg[1:])
    return pts


def dist_to_polyline(p: tuple[float, float], pts: list[tuple[float, float]]) -> float:
    best = math.inf
    for a, b in zip(pts, pts[1:]):
        ax, ay, bx, by = a[0], a[1], b[0], b[1]
        dx, dy = bx - ax, by - ay
        L = dx * dx + dy * dy
        t = 0.0 if L == 0 else max(0.0, min(1.0, ((p[0] - ax) * dx + (p[1] - ay) * dy) / L))
        qx, qy = ax + t * dx - p[0], ay + t * dy - p[1]
        best = min(best, qx * qx + qy * qy)
    return math.sqrt(best)


__all__ = ["ZOOM_MIN", "ZOOM_MAX", "FAR", "MID", "NEAR", "NodeGeom", "ViewXform", "node_geom", "lod_of", "wrap",
           "bbox", "inside", "overlaps", "wire_controls", "bezier_points", "wire_path", "dist_to_polyline",
           "shown_inputs", "shown_outputs", "TITLE_H", "STATUS_H", "ROW_H"]
