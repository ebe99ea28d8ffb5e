#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Draw the demo art of nodegraph: the character Mira (body + mouth sprites) and two backgrounds.

Everything here is original and generated from code (Pillow + numpy, no external images, fonts or
models), so the PNGs next to this file can always be rebuilt and audited:

    python assets/make_assets.py

The drawing is deterministic: no clock, no global random state (a seeded ``random.Random`` whose
``random()`` stream is stable across Python versions), so a re-run gives the same pixels.

Each picture is drawn at a multiple of its final size (supersampling) and reduced with a Lanczos
filter, which gives clean antialiased, vector-like edges.

Public functions (used by ``tests/test_assets.py``):
``draw_body()``, ``draw_mouth(name)``, ``draw_mouths()``, ``draw_studio()``, ``draw_park()``,
``character_info()`` and ``main()``.
"""
from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import PIL
from PIL import Image, ImageChops, ImageDraw, ImageFilter
from PIL.PngImagePlugin import PngInfo

HERE = Path(__file__).resolve().parent

BODY_SIZE = (520, 700)
MOUTH_CELL = (120, 80)
MOUTH_ORDER = ("rest", "A", "E", "O", "U", "M", "F", "L")
MOUTH_ANCHOR = (260, 343)  # centre of the mouth on body.png, in body pixels
BG_SIZE = (1280, 720)

BODY_SS = 3  # supersampling factors
MOUTH_SS = 4
BG_SS = 2


# ----------------------------------------------------------------------------------------------
# Small vector toolkit on top of Pillow
# ----------------------------------------------------------------------------------------------
def hexc(s: str, a: int = 255) -> tuple[int, int, int, int]:
    s = s.lstrip("#")
    return int(s[0:2], 16), int(s[2:4], 16), int(s[4:6], 16), a


def alpha(c, a: int):
    return tuple(c[:3]) + (a,)


def catmull_rom(pts, closed: bool, n: int = 12):
    """Smooth curve through the points (centripetal-free, uniform Catmull-Rom)."""
    pts = [tuple(map(float, p)) for p in pts]
    if len(pts) < 3:
        return pts
    out = []
    m = len(pts)
    segs = m if closed else m - 1
    for i in range(segs):
        if closed:
            p0, p1, p2, p3 = pts[(i - 1) % m], pts[i], pts[(i + 1) % m], pts[(i + 2) % m]
        else:
            p0 = pts[i - 1] if i > 0 else pts[i]
            p1, p2 = pts[i], pts[i + 1]
            p3 = pts[i + 2] if i + 2 < m else pts[i + 1]
        for k in range(n):
            t = k / n
            t2, t3 = t * t, t * t * t
            x = 0.5 * ((2 * p1[0]) + (-p0[0] + p2[0]) * t + (2 * p0[0] - 5 * p1[0] + 4 * p2[0] - p3[0]) * t2
                       + (-p0[0] + 3 * p1[0] - 3 * p2[0] + p3[0]) * t3)
            y = 0.5 * ((2 * p1[1]) + (-p0[1] + p2[1]) * t + (2 * p0[1] - 5 * p1[1] + 4 * p2[1] - p3[1]) * t2
                       + (-p0[1] + 3 * p1[1] - 3 * p2[1] + p3[1]) * t3)
            out.append((x, y))
    if not closed:
        out.append(pts[-1])
    return out


def path(*segments):
    """Closed outline made of smooth open segments joined at sharp corners.

    Each segment is a list of points; the last point of a segment is the first of the next
    (and the last segment ends where the first starts)."""
    out = []
    for seg in segments:
        curve = catmull_rom(seg, closed=False) if len(seg) > 2 else [tuple(map(float, p)) for p in seg]
        out.extend(curve[:-1])
    return out


def ellipse_pts(cx, cy, rx, ry, n: int = 72, rot: float = 0.0):
    c, s = math.cos(rot), math.sin(rot)
    pts = []
    for i in range(n):
        a = 2 * math.pi * i / n
        x, y = rx * math.cos(a), ry * math.sin(a)
        pts.append((cx + x * c - y * s, cy + x * s + y * c))
    return pts


class Canvas:
    """An RGBA picture drawn at ``ss`` times its final size, in final-size coordinates."""

    def __init__(self, w: int, h: int, ss: int, bg=(0, 0, 0, 0)):
        self.w, self.h, self.ss = w, h, ss
        self.W, self.H = w * ss, h * ss
        self.img = Image.new("RGBA", (self.W, self.H), bg)
        self.oy = 0.0  # vertical offset added to every coordinate (to move a group of shapes)

    # -- masks ------------------------------------------------------------------------------
    def _s(self, pts):
        return [(x * self.ss, (y + self.oy) * self.ss) for x, y in pts]

    def mask(self) -> Image.Image:
        return Image.new("L", (self.W, self.H), 0)

    def poly(self, pts, smooth: bool = True, m: Image.Image | None = None) -> Image.Image:
        m = m if m is not None else self.mask()
        if smooth:
            pts = catmull_rom(pts, closed=True)
        ImageDraw.Draw(m).polygon(self._s(pts), fill=255)
        return m

    def ellipse(self, cx, cy, rx, ry, rot: float = 0.0, m: Image.Image | None = None) -> Image.Image:
        m = m if m is not None else self.mask()
        if rot:
            ImageDraw.Draw(m).polygon(self._s(ellipse_pts(cx, cy, rx, ry, 96, rot)), fill=255)
        else:
            s = self.ss
            cy += self.oy
            ImageDraw.Draw(m).ellipse([(cx - rx) * s, (cy - ry) * s, (cx + rx) * s, (cy + ry) * s], fill=255)
        return m

    def rect(self, x0, y0, x1, y1, r: float = 0, m: Image.Image | None = None) -> Image.Image:
        m = m if m is not None else self.mask()
        s = self.ss
        y0, y1 = y0 + self.oy, y1 + self.oy
        ImageDraw.Draw(m).rounded_rectangle([x0 * s, y0 * s, x1 * s - 1, y1 * s - 1], radius=r * s, fill=255)
        return m

    def line(self, pts, width: float, smooth: bool = True, closed: bool = False, caps: bool = True,
             m: Image.Image | None = None) -> Image.Image:
        m = m if m is not None else self.mask()
        if smooth:
            pts = catmull_rom(pts, closed=closed)
        if closed:
            pts = list(pts) + [pts[0]]
        d = ImageDraw.Draw(m)
        w = max(1, int(round(width * self.ss)))
        d.line(self._s(pts), fill=255, width=w, joint="curve")
        if caps and not closed:
            r = width * self.ss / 2
            for x, y in self._s([pts[0], pts[-1]]):
                d.ellipse([x - r, y - r, x + r, y + r], fill=255)
        return m

    def taper(self, pts, w0: float, w1: float, wmid: float | None = None) -> Image.Image:
        """A brush stroke along a smooth curve whose width goes w0 -> wmid -> w1."""
        c = catmull_rom(pts, closed=False)
        wmid = (w0 + w1) / 2 if wmid is None else wmid
        left, right = [], []
        n = len(c)
        for i, (x, y) in enumerate(c):
            a = c[max(i - 1, 0)]
            b = c[min(i + 1, n - 1)]
            dx, dy = b[0] - a[0], b[1] - a[1]
            ln = math.hypot(dx, dy) or 1.0
            nx, ny = -dy / ln, dx / ln
            t = i / (n - 1)
            w = (w0 + (wmid - w0) * 2 * t) if t < 0.5 else (wmid + (w1 - wmid) * (2 * t - 1))
            left.append((x + nx * w / 2, y + ny * w / 2))
            right.append((x - nx * w / 2, y - ny * w / 2))
        return self.poly(left + right[::-1], smooth=False)

    # -- paint ------------------------------------------------------------------------------
    def paint(self, mask: Image.Image, color, clip: Image.Image | None = None, blur: float = 0.0,
              shift=(0, 0)):
        """Composite ``color`` (RGBA tuple or an RGBA image of canvas size) through ``mask``."""
        if shift != (0, 0):
            mask = ImageChops.offset(mask, int(shift[0] * self.ss), int(shift[1] * self.ss))
            # offset wraps around; cut what wrapped
            cut = Image.new("L", mask.size, 0)
            x0, y0 = max(0, int(shift[0] * self.ss)), max(0, int(shift[1] * self.ss))
            x1 = self.W + min(0, int(shift[0] * self.ss))
            y1 = self.H + min(0, int(shift[1] * self.ss))
            cut.paste(mask.crop((x0, y0, x1, y1)), (x0, y0))
            mask = cut
        bbox = mask.getbbox()
        if bbox is None:
            return
        if blur:
            pad = int(blur * self.ss * 3) + 2
            bbox = (max(0, bbox[0] - pad), max(0, bbox[1] - pad), min(self.W, bbox[2] + pad),
                    min(self.H, bbox[3] + pad))
        m = mask.crop(bbox)
        if blur:
            m = m.filter(ImageFilter.GaussianBlur(blur * self.ss))
        if clip is not None:
            m = ImageChops.multiply(m, clip.crop(bbox))
        if isinstance(color, Image.Image):
            layer = color.crop(bbox)
            a = ImageChops.multiply(layer.getchannel("A"), m)
            layer = layer.copy()
            layer.putalpha(a)
        else:
            if len(color) == 4 and color[3] < 255:
                m = m.point(lambda v, k=color[3]: v * k // 255)
            layer = Image.new("RGBA", m.size, tuple(color[:3]) + (255,))
            layer.putalpha(m)
        self.img.alpha_composite(layer, dest=bbox[:2])

    def vgradient(self, stops, y0: float = 0, y1: float | None = None) -> Image.Image:
        """Full-canvas RGBA image with a vertical gradient through ``stops`` [(t, color), ...]."""
        y1 = self.h if y1 is None else y1
        ys = (np.arange(self.H, dtype=np.float64) / self.ss - y0) / max(1e-9, (y1 - y0))
        ys = np.clip(ys, 0, 1)
        col = _ramp(stops, ys)
        arr = np.broadcast_to(col[:, None, :], (self.H, self.W, 4)).astype(np.uint8)
        return Image.fromarray(np.ascontiguousarray(arr), "RGBA")

    def radial(self, cx, cy, r, inner, outer, power: float = 1.0) -> Image.Image:
        s = self.ss
        yy, xx = np.mgrid[0:self.H, 0:self.W].astype(np.float32)
        d = np.sqrt((xx / s - cx) ** 2 + (yy / s - cy) ** 2) / r
        t = np.clip(d, 0, 1) ** power
        a = np.array(inner, np.float32)
        b = np.array(outer, np.float32)
        arr = a + (b - a) * t[..., None]
        return Image.fromarray(np.round(arr).astype(np.uint8), "RGBA")

    def result(self) -> Image.Image:
        return self.img.resize((self.w, self.h), Image.Resampling.LANCZOS)


def _ramp(stops, t):
    ts = np.array([s[0] for s in stops], np.float64)
    cols = np.array([s[1] if len(s[1]) == 4 else tuple(s[1]) + (255,) for s in stops], np.float64)
    out = np.empty(t.shape + (4,), np.float64)
    for ch in range(4):
        out[..., ch] = np.interp(t, ts, cols[:, ch])
    return np.round(out).astype(np.uint8)


def union(*masks):
    out = masks[0]
    for m in masks[1:]:
        out = ImageChops.lighter(out, m)
    return out


def intersect(a, b):
    return ImageChops.multiply(a, b)


# ----------------------------------------------------------------------------------------------
# Mira
# ----------------------------------------------------------------------------------------------
SKIN = hexc("F5CBA7")
SKIN_SHADE = hexc("E6A987")
SKIN_LINE = hexc("A9634B")
BLUSH = hexc("F28B82", 90)
HAIR = hexc("B4482C")
HAIR_SHADE = hexc("86301F")
HAIR_DEEP = hexc("5E1F16")
HAIR_LIGHT = hexc("DC7650")
HAIR_LINE = hexc("4A1610")
JACKET = hexc("2F8F88")
JACKET_SHADE = hexc("22706B")
JACKET_LIGHT = hexc("4BB0A6")
JACKET_LINE = hexc("174C49")
SHIRT = hexc("FBF1DE")
SHIRT_SHADE = hexc("E7D6BB")
SHIRT_LINE = hexc("9C8A6E")
STAR = hexc("F6C445")
STAR_LINE = hexc("B7851C")
IRIS = hexc("3E8A70")
IRIS_DARK = hexc("1F4D41")
PUPIL = hexc("17201E")
EYE_WHITE = hexc("FFFDF8")
LID = hexc("2E1512")
BROW = hexc("7A2A1C")

LIP = hexc("D9776F")
LIP_UPPER = hexc("C5625E")
LIP_LIGHT = hexc("EDA29A")
LIP_LINE = hexc("8E3A3E")
MOUTH_DARK = hexc("4A1620")
MOUTH_DARK2 = hexc("6A2430")
TEETH = hexc("FFFCF6")
TEETH_SHADE = hexc("E4DCD6")
TONGUE = hexc("E7737E")
TONGUE_DARK = hexc("C5525F")


def _outlined(c: Canvas, mask_fill: Image.Image, pts, fill, line_color, width: float, smooth=True):
    """Outline (outer half of a centred stroke) then fill."""
    c.paint(c.line(pts, 2 * width, smooth=smooth, closed=True), line_color)
    c.paint(mask_fill, fill)


FACE_PTS = [(260, 112), (330, 124), (378, 172), (390, 240), (384, 296), (364, 346), (326, 386), (284, 406),
            (260, 409), (236, 406), (194, 386), (156, 346), (136, 296), (130, 240), (142, 172), (190, 124)]


def _body_canvas() -> Canvas:
    W, H = BODY_SIZE
    c = Canvas(W, H, BODY_SS)

    # ---- back hair (bob behind the head) + bun ------------------------------------------------
    back = [(260, 70), (338, 80), (398, 122), (430, 196), (438, 290), (432, 380), (420, 444), (392, 466),
            (352, 458), (310, 448), (260, 446), (210, 448), (168, 458), (128, 466), (100, 444), (88, 380),
            (82, 290), (90, 196), (122, 122), (182, 80)]
    back_m = c.poly(back)
    bun_m = c.ellipse(260, 60, 46, 42)
    hair_back_all = union(back_m, bun_m)
    c.paint(c.line(back, 6, closed=True), HAIR_LINE)
    c.paint(c.ellipse(260, 60, 49, 45), HAIR_LINE)
    c.paint(hair_back_all, HAIR_SHADE)
    # bun: volume + swirl
    c.paint(c.ellipse(252, 52, 36, 30), HAIR, clip=bun_m)
    c.paint(c.taper([(226, 48), (240, 30), (266, 26), (288, 40)], 2, 2, 7), HAIR_LIGHT, clip=bun_m)
    c.paint(c.taper([(230, 76), (256, 86), (284, 78), (298, 60)], 1.5, 1.5, 4), HAIR_DEEP, clip=bun_m)
    # a teal scrunchie at the base of the bun (the crown of the front hair hides its lower half)
    c.paint(c.ellipse(260, 72, 37, 12.5), JACKET_LINE)
    c.paint(c.ellipse(260, 72, 34, 9.5), JACKET_LIGHT)
    c.paint(c.taper([(236, 67), (260, 64), (284, 67)], 1, 1, 3), hexc("8ED8CC"))
    # inner back of the bob (darker where it is behind the neck), strands and a soft sheen
    c.paint(c.ellipse(260, 440, 110, 26), alpha(HAIR_DEEP, 150), clip=back_m, blur=12)
    for sgn in (-1, 1):
        for pts, w in (([(118, 150), (98, 250), (100, 350), (112, 440)], 3.0),
                       ([(132, 200), (122, 300), (126, 400), (140, 456)], 2.4)):
            c.paint(c.taper([(260 + sgn * (x - 260), y) for x, y in pts], 0.6, 0.6, w), HAIR_DEEP, clip=back_m)
        c.paint(c.taper([(260 + sgn * (x - 260), y) for x, y in [(100, 210), (94, 290), (100, 370)]], 2, 2, 9),
                alpha(HAIR, 200), clip=back_m, blur=2)

    # ---- neck ---------------------------------------------------------------------------------
    neck = [(222, 370), (224, 450), (216, 522), (304, 522), (296, 450), (298, 370)]
    neck_m = c.poly(neck, smooth=False)
    c.paint(c.line(neck, 6, smooth=False, closed=True), SKIN_LINE)
    c.paint(neck_m, SKIN)
    # neck shadow (under the chin): the face shape shifted down, clipped to the neck
    face_m = c.poly(FACE_PTS)
    c.paint(face_m, SKIN_SHADE, clip=neck_m, shift=(0, 24))
    c.paint(c.ellipse(260, 506, 44, 10), SKIN_SHADE, clip=neck_m, blur=3)

    c.oy = -18  # the shoulders sit a little higher than drawn below

    # ---- torso: jacket, shirt ------------------------------------------------------------------
    torso = path([(18, 720), (26, 620), (44, 560), (80, 522), (150, 500), (214, 486)],
                 [(214, 486), (230, 522), (260, 530), (290, 522), (306, 486)],
                 [(306, 486), (370, 500), (440, 522), (476, 560), (494, 620), (502, 720)],
                 [(502, 720), (18, 720)])
    torso_m = c.poly(torso, smooth=False)
    c.paint(c.line(torso, 6, smooth=False, closed=True), JACKET_LINE)
    c.paint(torso_m, JACKET)
    # shading on the jacket: darker flanks, light on the shoulders
    c.paint(c.ellipse(40, 660, 70, 150), JACKET_SHADE, clip=torso_m, blur=6)
    c.paint(c.ellipse(480, 660, 70, 150), JACKET_SHADE, clip=torso_m, blur=6)
    c.paint(c.taper([(62, 560), (100, 526), (160, 508)], 3, 3, 14), JACKET_LIGHT, clip=torso_m,
            blur=4)
    c.paint(c.taper([(360, 508), (420, 526), (458, 560)], 3, 3, 14), JACKET_LIGHT, clip=torso_m, blur=4)
    # soft folds where the arms meet the body
    c.paint(c.taper([(104, 720), (108, 630), (122, 570)], 6, 1, 4), JACKET_SHADE, clip=torso_m, blur=2)
    c.paint(c.taper([(416, 720), (412, 630), (398, 570)], 6, 1, 4), JACKET_SHADE, clip=torso_m, blur=2)

    # shirt seen in the open jacket, with a round neckline
    shirt = path([(196, 488), (228, 524), (260, 532), (292, 524), (324, 488)],
                 [(324, 488), (330, 560), (318, 640), (308, 720)],
                 [(308, 720), (212, 720)],
                 [(212, 720), (202, 640), (190, 560), (196, 488)])
    shirt_m = intersect(c.poly(shirt, smooth=False), torso_m)
    c.paint(c.line(shirt, 5, smooth=False, closed=True), SHIRT_LINE, clip=torso_m)
    c.paint(shirt_m, SHIRT)
    c.paint(c.ellipse(260, 520, 70, 26), SHIRT_SHADE, clip=shirt_m, blur=5)
    # neckline rib
    c.paint(c.line([(204, 492), (230, 522), (260, 530), (290, 522), (316, 492)], 5), SHIRT_LINE)
    c.paint(c.line([(206, 492), (230, 519), (260, 526), (290, 519), (314, 492)], 3), SHIRT)

    # jacket lapels / open front edges over the shirt
    lap_l = path([(160, 500), (200, 492), (214, 560), (222, 640), (226, 720)], [(226, 720), (150, 720)],
                 [(150, 720), (160, 600), (160, 500)])
    lap_r = path([(360, 500), (320, 492), (306, 560), (298, 640), (294, 720)], [(294, 720), (370, 720)],
                 [(370, 720), (360, 600), (360, 500)])
    for pts in (lap_l, lap_r):
        m = intersect(c.poly(pts, smooth=False), torso_m)
        c.paint(c.line(pts, 5, smooth=False, closed=True), JACKET_LINE, clip=torso_m)
        c.paint(m, JACKET)
    c.paint(c.line([(200, 494), (214, 560), (222, 640), (226, 720)], 6), JACKET_SHADE, clip=torso_m)
    c.paint(c.line([(320, 494), (306, 560), (298, 640), (294, 720)], 6), JACKET_SHADE, clip=torso_m)
    # collar
    col_l = [(150, 500), (214, 480), (226, 500), (206, 556), (180, 548)]
    col_r = [(370, 500), (306, 480), (294, 500), (314, 556), (340, 548)]
    for pts in (col_l, col_r):
        m = c.poly(pts, smooth=False)
        c.paint(c.line(pts, 5, smooth=False, closed=True), JACKET_LINE)
        c.paint(m, JACKET_LIGHT)
        c.paint(c.line(pts[2:4], 4, smooth=False), JACKET_SHADE, clip=m, shift=(3, 0) if pts is col_l else (-3, 0))
    # star pin on her left lapel (viewer's right)
    star = []
    for i in range(10):
        a = -math.pi / 2 + i * math.pi / 5
        r = 15 if i % 2 == 0 else 6.5
        star.append((352 + r * math.cos(a), 600 + r * math.sin(a)))
    c.paint(c.line(star, 4, smooth=False, closed=True), STAR_LINE)
    c.paint(c.poly(star, smooth=False), STAR)
    c.paint(c.ellipse(348, 596, 3, 3), hexc("FFF6D8"))

    c.oy = 0

    # ---- face ---------------------------------------------------------------------------------
    _outlined(c, face_m, FACE_PTS, SKIN, SKIN_LINE, 3.0)
    # soft jaw shading on the sides (keeps the mouth area plain)
    c.paint(c.ellipse(140, 330, 24, 80), SKIN_SHADE, clip=face_m, blur=12)
    c.paint(c.ellipse(380, 330, 24, 80), SKIN_SHADE, clip=face_m, blur=12)
    # cheeks
    for cx in (184, 336):
        c.paint(c.ellipse(cx, 318, 26, 14), BLUSH, clip=face_m, blur=5)

    # ---- eyes -----------------------------------------------------------------------------------
    for cx, sgn in ((204, -1), (316, 1)):
        cy = 262
        rel = [(-27, 3), (-20, -15), (0, -22), (20, -16.5), (28.5, 1), (20, 17.5), (0, 22), (-20, 16.5)]
        if sgn < 0:  # mirror so that the outer corner is to the outside
            rel = [(-x, y) for x, y in rel]
        white = [(cx + x, cy + y) for x, y in rel]
        wm = c.poly(white)
        c.paint(wm, EYE_WHITE)
        c.paint(c.ellipse(cx, cy - 22, 34, 14), hexc("DCCFD6"), clip=wm, blur=3)
        ix, iy = cx + 2, cy + 2
        iris_m = intersect(c.ellipse(ix, iy, 18.5, 19.5), wm)
        c.paint(iris_m, IRIS)
        c.paint(c.ellipse(ix, iy - 10, 20, 12), IRIS_DARK, clip=iris_m, blur=2)
        c.paint(c.ellipse(ix, iy + 9, 10, 6), hexc("6FB99A"), clip=iris_m, blur=2)
        c.paint(c.line(ellipse_pts(ix, iy, 18, 19), 2.2, smooth=False, closed=True), IRIS_DARK, clip=wm)
        c.paint(c.ellipse(ix, iy + 1, 8.5, 9), PUPIL, clip=wm)
        c.paint(c.ellipse(ix + 6.5, iy - 7.5, 6.5, 6.5), hexc("FFFFFF"), clip=wm)
        c.paint(c.ellipse(ix - 6, iy + 8, 2.8, 2.8), hexc("FFFFFF", 230), clip=wm)
        # upper lid with a lash flick at the outer corner, soft lower lid
        up = [(cx + x, cy + y) for x, y in ([(-29, 5), (-20, -16), (0, -23), (20, -17.5), (30.5, 0)] if sgn > 0
                                            else [(29, 5), (20, -16), (0, -23), (-20, -17.5), (-30.5, 0)])]
        c.paint(c.taper(up, 2, 4, 5.5), LID)
        ox = cx + 29.5 * sgn
        c.paint(c.taper([(ox - 2 * sgn, cy - 1), (ox + 6 * sgn, cy - 8), (ox + 11 * sgn, cy - 12)], 4, 1), LID)
        low = [(cx + x * sgn, cy + y) for x, y in [(-17, 19), (0, 23.5), (17, 18)]]
        c.paint(c.line(low, 1.6), SKIN_LINE)

    # ---- brows ----------------------------------------------------------------------------------
    c.paint(c.taper([(176, 222), (196, 210), (228, 214)], 4, 3, 7.5), BROW)
    c.paint(c.taper([(344, 222), (324, 210), (292, 214)], 4, 3, 7.5), BROW)

    # ---- nose -------------------------------------------------------------------------------------
    c.paint(c.taper([(264, 286), (270, 304), (262, 312)], 1.2, 1.5, 3.4), SKIN_LINE)
    c.paint(c.ellipse(254, 300, 4, 7), hexc("FFE6D2", 160), blur=2)

    # ---- front hair: bangs and two locks framing the face ---------------------------------------
    front = path(
        # outer edge, from the tip of the left lock up over the crown and down to the right lock tip
        [(132, 410), (112, 330), (106, 250), (110, 180), (138, 120), (196, 84), (262, 74), (330, 84),
         (386, 120), (414, 182), (418, 252), (414, 330), (392, 406)],
        # right lock inner edge up to the temple
        [(392, 406), (374, 330), (370, 262), (372, 224)],
        # swept bangs (tips pointing down-right)
        [(372, 224), (360, 196), (344, 180)],
        [(344, 180), (350, 204), (348, 222)],
        [(348, 222), (330, 196), (300, 176)],
        [(300, 176), (294, 200), (278, 218)],
        [(278, 218), (268, 188), (246, 162)],
        [(246, 162), (236, 190), (212, 206)],
        [(212, 206), (206, 176), (218, 138)],
        [(218, 138), (188, 158), (166, 196), (156, 236)],
        # left lock inner edge down to its tip
        [(156, 236), (150, 300), (146, 360), (132, 410)],
    )
    front_m = c.poly(front, smooth=False)
    # shadow of the hair on the forehead and cheeks
    c.paint(front_m, SKIN_SHADE, clip=face_m, shift=(3, 9), blur=1.5)
    c.paint(c.line(front, 6, smooth=False, closed=True), HAIR_LINE)
    c.paint(front_m, HAIR)
    # volume shading: darker under the part and at the locks
    c.paint(c.ellipse(200, 128, 40, 40), HAIR_SHADE, clip=front_m, blur=10)
    c.paint(c.ellipse(112, 340, 22, 90), HAIR_SHADE, clip=front_m, blur=8)
    c.paint(c.ellipse(410, 340, 22, 90), HAIR_SHADE, clip=front_m, blur=8)
    # strand lines
    for pts in ([(218, 142), (250, 110), (300, 100), (350, 118)],
                [(224, 150), (262, 132), (306, 140), (336, 172)],
                [(206, 150), (176, 176), (160, 230)],
                [(396, 190), (398, 270), (394, 350)],
                [(128, 200), (124, 280), (130, 360)]):
        c.paint(c.taper(pts, 0.8, 0.8, 3.2), HAIR_SHADE, clip=front_m)
    # shine: a light band across the crown
    c.paint(c.taper([(156, 150), (196, 110), (262, 94), (330, 100), (376, 130)], 3, 3, 13), HAIR_LIGHT,
            clip=front_m)
    c.paint(c.taper([(190, 118), (214, 104), (236, 98)], 1, 1, 4), hexc("F2A27C"), clip=front_m)
    return c


def draw_body() -> Image.Image:
    """Mira's head and upper body, RGBA, transparent background, no mouth."""
    return _body_canvas().result()


# ----------------------------------------------------------------------------------------------
# Mouth sprites (one row of cells, each MOUTH_CELL, mouth centred)
# ----------------------------------------------------------------------------------------------
def _open_mouth(c: Canvas, inner, lip_pad=(5, 4, 7), upper_teeth=0.0, lower_teeth=0.0, tongue=None,
                smooth=True, outer=None):
    """Lips around an opening ``inner`` (closed point list), dark inside, optional teeth/tongue.

    lip_pad = (side, top, bottom) thickness of the lips (used unless ``outer`` is given)."""
    xs = [p[0] for p in inner]
    ys = [p[1] for p in inner]
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    side, top, bot = lip_pad
    given, outer = outer, []
    for x, y in inner:
        dx, dy = x - cx, y - cy
        ln = math.hypot(dx, dy) or 1
        ux, uy = dx / ln, dy / ln
        k = side * abs(ux) + (top if uy < 0 else bot) * abs(uy)
        outer.append((x + ux * k, y + uy * k))
    if given is not None:
        outer = given
    outer_m = c.poly(outer, smooth)
    inner_m = c.poly(inner, smooth)
    c.paint(c.line(outer, 2.4, smooth=smooth, closed=True), LIP_LINE)
    c.paint(outer_m, LIP)
    # upper lip a bit darker, lower lip highlight
    c.paint(c.rect(0, 0, c.w, cy, 0), LIP_UPPER, clip=outer_m, blur=1.5)
    c.paint(c.ellipse(cx, max(ys) + bot * 0.55, (max(xs) - min(xs)) * 0.22, bot * 0.28), LIP_LIGHT,
            clip=outer_m, blur=1.2)
    c.paint(inner_m, MOUTH_DARK)
    c.paint(c.ellipse(cx, cy + (max(ys) - min(ys)) * 0.2, (max(xs) - min(xs)) * 0.3,
                      (max(ys) - min(ys)) * 0.3), MOUTH_DARK2, clip=inner_m, blur=2)
    if tongue is not None:
        tx, ty, trx, try_ = tongue
        t_m = intersect(c.ellipse(tx, ty, trx, try_), inner_m)
        c.paint(t_m, TONGUE)
        c.paint(c.line([(tx, ty - try_ * 0.7), (tx, ty + try_ * 0.2)], 1.2), TONGUE_DARK, clip=t_m)
        c.paint(c.ellipse(tx, ty - try_, trx * 1.1, try_ * 0.45), TONGUE_DARK, clip=t_m, blur=1)
    if upper_teeth:
        t_m = intersect(c.rect(0, min(ys) - 5, c.w, min(ys) + upper_teeth), inner_m)
        c.paint(t_m, TEETH)
        c.paint(c.rect(0, min(ys) + upper_teeth - 1.6, c.w, min(ys) + upper_teeth), TEETH_SHADE, clip=t_m)
    if lower_teeth:
        t_m = intersect(c.rect(0, max(ys) - lower_teeth, c.w, max(ys) + 5), inner_m)
        c.paint(t_m, TEETH)
        c.paint(c.rect(0, max(ys) - lower_teeth, c.w, max(ys) - lower_teeth + 1.4), TEETH_SHADE, clip=t_m)
    c.paint(c.line(inner, 1.6, smooth=smooth, closed=True), LIP_LINE)


def _corner_ticks(c: Canvas, x0, x1, y, up=2.5):
    c.paint(c.taper([(x0 - 1, y + up), (x0 - 4, y - up * 0.4)], 1.8, 0.6), LIP_LINE)
    c.paint(c.taper([(x1 + 1, y + up), (x1 + 4, y - up * 0.4)], 1.8, 0.6), LIP_LINE)


def draw_mouth(name: str) -> Image.Image:
    """One mouth sprite (RGBA, MOUTH_CELL), centred on the cell."""
    w, h = MOUTH_CELL
    c = Canvas(w, h, MOUTH_SS)
    if name == "rest":
        # closed, slight smile: a soft lower lip and a smiling line
        c.paint(c.ellipse(60, 45.5, 14, 3.5), alpha(LIP, 110), blur=1.2)
        c.paint(c.taper([(34, 36), (46, 41), (60, 43), (74, 41), (86, 36)], 1.4, 1.4, 3.6), LIP_LINE)
        _corner_ticks(c, 34, 86, 36, 2.0)
    elif name == "A":
        inner = [(36, 30), (48, 24), (60, 25), (72, 24), (84, 30), (80, 45), (70, 56), (60, 59), (50, 56),
                 (40, 45)]
        inner = [(x, y - 3) for x, y in inner]
        _open_mouth(c, inner, (4, 4, 6), upper_teeth=6.5, tongue=(60, 55, 15, 8))
    elif name == "E":
        inner = [(29, 38), (40, 31), (60, 29), (80, 31), (91, 38), (80, 46), (60, 49), (40, 46)]
        _open_mouth(c, inner, (3, 4, 6), upper_teeth=7.5, lower_teeth=5)
    elif name == "O":
        inner = ellipse_pts(60, 40, 13, 17, 32)
        _open_mouth(c, inner, (6, 6, 8), upper_teeth=3.5, tongue=(60, 55, 10, 6),
                    outer=ellipse_pts(60, 41, 20.5, 25, 32))
    elif name == "U":
        outer = ellipse_pts(60, 40, 15, 14, 24)
        o_m = c.poly(outer)
        c.paint(c.line(outer, 2.4, closed=True), LIP_LINE)
        c.paint(o_m, LIP)
        c.paint(c.rect(0, 0, w, 38), LIP_UPPER, clip=o_m)
        # pucker creases
        for a in range(0, 360, 45):
            r = math.radians(a + 22.5)
            p0 = (60 + 8.5 * math.cos(r), 40 + 8 * math.sin(r))
            p1 = (60 + 13 * math.cos(r), 40 + 12.5 * math.sin(r))
            c.paint(c.line([p0, p1], 1.0, smooth=False), alpha(LIP_LINE, 140), clip=o_m)
        c.paint(c.ellipse(60, 49, 6, 2.2), LIP_LIGHT, clip=o_m, blur=0.8)
        i_m = c.ellipse(60, 40, 5.5, 5)
        c.paint(i_m, MOUTH_DARK)
        c.paint(c.line(ellipse_pts(60, 40, 5.5, 5, 24), 1.4, closed=True), LIP_LINE)
    elif name == "M":
        # lips pressed together, a little pushed out
        lips = [(36, 40), (46, 34), (60, 35.5), (74, 34), (84, 40), (74, 47), (60, 49), (46, 47)]
        l_m = c.poly(lips)
        c.paint(c.line(lips, 2.4, closed=True), LIP_LINE)
        c.paint(l_m, LIP)
        c.paint(c.rect(0, 0, w, 40.5), LIP_UPPER, clip=l_m)
        c.paint(c.ellipse(60, 44.5, 9, 1.8), LIP_LIGHT, clip=l_m, blur=0.8)
        c.paint(c.taper([(35, 40), (48, 40.5), (60, 41.5), (72, 40.5), (85, 40)], 1.2, 1.2, 2.6), LIP_LINE)
        _corner_ticks(c, 35, 85, 40, 1.2)
    elif name == "F":
        # upper lip, upper teeth resting on the tucked-in lower lip
        c_lo = [(38, 44), (48, 41), (60, 42), (72, 41), (82, 44), (74, 52), (60, 54), (46, 52)]
        lo_m = c.poly(c_lo)
        c.paint(c.line(c_lo, 2.4, closed=True), LIP_LINE)
        c.paint(lo_m, LIP)
        c.paint(c.ellipse(60, 50, 10, 2), LIP_LIGHT, clip=lo_m, blur=0.8)
        gap = [(36, 36), (48, 33), (60, 33), (72, 33), (84, 36), (78, 43), (60, 45), (42, 43)]
        g_m = c.poly(gap)
        c.paint(g_m, MOUTH_DARK)
        teeth = c.rect(42, 33, 78, 45, 3)
        c.paint(teeth, TEETH, clip=g_m)
        c.paint(c.rect(42, 43.5, 78, 45), TEETH_SHADE, clip=intersect(teeth, g_m))
        up = [(34, 36), (46, 28), (60, 30), (74, 28), (86, 36), (72, 34), (60, 34.5), (48, 34)]
        u_m = c.poly(up)
        c.paint(c.line(up, 2.4, closed=True), LIP_LINE)
        c.paint(u_m, LIP_UPPER)
    elif name == "L":
        inner = [(37, 36), (48, 31), (60, 31), (72, 31), (83, 36), (75, 45), (60, 48), (45, 45)]
        _open_mouth(c, inner, (3, 4, 6), upper_teeth=4.5, tongue=(60, 39.5, 12, 7))
    else:
        raise KeyError(name)
    return c.result()


def draw_mouths() -> Image.Image:
    """The sprite sheet: one row of len(MOUTH_ORDER) cells, in MOUTH_ORDER."""
    w, h = MOUTH_CELL
    sheet = Image.new("RGBA", (w * len(MOUTH_ORDER), h), (0, 0, 0, 0))
    for i, name in enumerate(MOUTH_ORDER):
        sheet.paste(draw_mouth(name), (i * w, 0))
    return sheet


def character_info() -> dict:
    return {
        "name": "Mira",
        "description": ("Mira, a friendly young woman drawn in a clean cartoon style, with copper-red "
                        "bob hair tied in a top bun, swept bangs, green eyes, a teal jacket over a "
                        "cream shirt and a small yellow star pin."),
        "mouth_anchor": list(MOUTH_ANCHOR),
        "mouth_cell": list(MOUTH_CELL),
        "mouth_order": list(MOUTH_ORDER),
        "voice": {"variant": "f3", "pitch": 60, "rate": 165},
    }


# ----------------------------------------------------------------------------------------------
# Backgrounds
# ----------------------------------------------------------------------------------------------
def _cloud(c: Canvas, cx, cy, s, color, shade):
    blobs = [(-1.0, 0.25, 0.55), (-0.45, -0.1, 0.7), (0.2, -0.3, 0.8), (0.85, 0.05, 0.6), (1.3, 0.3, 0.42)]
    m = c.mask()
    for bx, by, r in blobs:
        c.ellipse(cx + bx * s, cy + by * s, r * s, r * s, m=m)
    c.rect(cx - 1.3 * s, cy + 0.2 * s, cx + 1.55 * s, cy + 0.72 * s, 0.25 * s, m=m)
    c.paint(m, color)
    c.paint(c.ellipse(cx + 0.1 * s, cy + 0.75 * s, 1.6 * s, 0.35 * s), shade, clip=m, blur=s * 0.12)


def _vignette(c: Canvas, strength: float = 0.35):
    yy, xx = np.mgrid[0:c.H, 0:c.W].astype(np.float32)
    d = np.sqrt(((xx / c.W - 0.5) / 0.62) ** 2 + ((yy / c.H - 0.45) / 0.75) ** 2)
    a = np.clip((d - 0.55) / 0.6, 0, 1) ** 1.6 * strength * 255
    layer = Image.new("RGBA", (c.W, c.H), (30, 18, 24, 255))
    layer.putalpha(Image.fromarray(a.astype(np.uint8), "L"))
    c.img.alpha_composite(layer)


def _studio_canvas() -> Canvas:
    W, H = BG_SIZE
    c = Canvas(W, H, BG_SS, bg=(0, 0, 0, 255))
    rnd = random.Random(7)
    floor_y = 560

    # wall: warm gradient + faint vertical stripes + lamp glow
    c.paint(c.rect(0, 0, W, floor_y), c.vgradient([(0, hexc("E9D3BC")), (1, hexc("F3E3CF"))], 0, floor_y))
    for x in range(0, W, 64):
        c.paint(c.rect(x, 0, x + 26, floor_y), hexc("D9BFA6", 38))
    c.paint(c.rect(0, 0, W, floor_y), c.radial(1125, 250, 520, hexc("FFE2A8", 150), hexc("FFE2A8", 0), 1.2))
    # ceiling shadow
    c.paint(c.rect(0, 0, W, 60), hexc("B89A82", 90), blur=30)

    # floor: wooden planks converging to a vanishing point
    fl = c.vgradient([(0, hexc("9C6B47")), (1, hexc("7A4F33"))], floor_y, H)
    c.paint(c.rect(0, floor_y, W, H), fl)
    vx = 640
    for i in range(-14, 15):
        xb = 640 + i * 110
        x0 = vx + (xb - vx) * 0.22
        c.paint(c.line([(x0, floor_y), (xb, H)], 1.6, smooth=False), hexc("5E3B25", 120))
    for y in (585, 618, 664):
        c.paint(c.line([(0, y), (W, y)], 1.0, smooth=False), hexc("5E3B25", 60))
    # skirting board
    c.paint(c.rect(0, floor_y - 18, W, floor_y), hexc("F6EDE2"))
    c.paint(c.rect(0, floor_y - 3, W, floor_y + 2), hexc("B99A80"))
    c.paint(c.rect(0, floor_y, W, floor_y + 14), hexc("3E2416", 90), blur=5)

    # rug under the character
    c.paint(c.ellipse(640, 668, 330, 48), hexc("3E2416", 70), blur=6)
    c.paint(c.ellipse(640, 660, 320, 44), hexc("B8584A"))
    c.paint(c.line(ellipse_pts(640, 660, 296, 36), 5, smooth=False, closed=True), hexc("E9B36A"))
    c.paint(c.line(ellipse_pts(640, 660, 270, 30), 2, smooth=False, closed=True), hexc("E9B36A", 160))

    # window on the left, with a view
    wx0, wy0, wx1, wy1 = 96, 96, 416, 404
    c.paint(c.rect(wx0 - 20, wy0 - 20, wx1 + 20, wy1 + 30, 6), hexc("5A3B2C", 70), blur=10, shift=(6, 10))
    c.paint(c.rect(wx0 - 16, wy0 - 16, wx1 + 16, wy1 + 16, 6), hexc("FBF6EE"))
    view = c.rect(wx0, wy0, wx1, wy1)
    c.paint(view, c.vgradient([(0, hexc("7EB6E3")), (0.7, hexc("CBE6F2")), (1, hexc("F7E5C8"))], wy0, wy1))
    _cloud(c, 190, 170, 34, hexc("FFFFFF", 235), hexc("DCE7F0", 200))
    _cloud(c, 340, 140, 22, hexc("FFFFFF", 220), hexc("DCE7F0", 200))
    c.paint(c.poly([(wx0, 330), (160, 300), (250, 318), (330, 290), (wx1, 312), (wx1, wy1), (wx0, wy1)]),
            hexc("8DBF93"), clip=view)
    c.paint(c.poly([(wx0, 360), (200, 338), (300, 352), (wx1, 336), (wx1, wy1), (wx0, wy1)]),
            hexc("5E9C6E"), clip=view)
    for tx, ty, r in ((150, 336, 16), (176, 342, 12), (360, 330, 18)):
        c.paint(c.ellipse(tx, ty, r, r * 1.2), hexc("3F7D55"), clip=view)
    # glass reflections
    c.paint(c.poly([(130, wy0), (180, wy0), (110, wy1), (wx0, wy1), (wx0, 300)], smooth=False),
            hexc("FFFFFF", 40), clip=view)
    # mullions and frame
    c.paint(c.rect((wx0 + wx1) / 2 - 5, wy0, (wx0 + wx1) / 2 + 5, wy1), hexc("FBF6EE"))
    c.paint(c.rect(wx0, (wy0 + wy1) / 2 - 5, wx1, (wy0 + wy1) / 2 + 5), hexc("FBF6EE"))
    c.paint(c.line([(wx0, wy0), (wx1, wy0), (wx1, wy1), (wx0, wy1)], 2, smooth=False, closed=True),
            hexc("C9B8A6"))
    # sill
    c.paint(c.rect(wx0 - 30, wy1 + 10, wx1 + 30, wy1 + 26, 3), hexc("FBF6EE"))
    c.paint(c.rect(wx0 - 30, wy1 + 24, wx1 + 30, wy1 + 34), hexc("5A3B2C", 70), blur=4)
    # plant on the sill
    px = 350
    for ang, ln in ((-0.9, 46), (-0.45, 58), (0.0, 64), (0.45, 56), (0.95, 44), (-0.2, 50), (0.25, 52)):
        tip = (px + math.sin(ang) * ln, wy1 - 14 - math.cos(ang) * ln)
        mid = (px + math.sin(ang) * ln * 0.5 + ang * 6, wy1 - 14 - math.cos(ang) * ln * 0.55)
        c.paint(c.taper([(px, wy1 - 8), mid, tip], 3, 1, 13), hexc("4E9A5E") if ang < 0.1 else hexc("3D8250"))
    c.paint(c.poly([(px - 26, wy1 - 20), (px + 26, wy1 - 20), (px + 20, wy1 + 10), (px - 20, wy1 + 10)],
                   smooth=False), hexc("D0714F"))
    c.paint(c.rect(px - 29, wy1 - 24, px + 29, wy1 - 15, 2), hexc("E08763"))
    # curtains
    for x0, x1, sgn in ((wx0 - 58, wx0 + 10, 1), (wx1 - 10, wx1 + 58, -1)):
        cur = [(x0, wy0 - 34), (x1, wy0 - 34), (x1 - sgn * 6, wy0 + 120), (x1 + sgn * 12, wy1 + 90),
               (x0, wy1 + 96)]
        m = c.poly(cur, smooth=False)
        c.paint(m, hexc("D9A441"))
        for k in range(3):
            fx = x0 + (x1 - x0) * (0.25 + 0.25 * k)
            c.paint(c.taper([(fx, wy0 - 30), (fx + sgn * 3, wy0 + 150), (fx + sgn * 8, wy1 + 94)], 3, 8, 6),
                    hexc("B5832C", 150), clip=m, blur=2)
    c.paint(c.rect(wx0 - 80, wy0 - 44, wx1 + 80, wy0 - 34, 4), hexc("6B4A36"))

    # bookshelf on the right
    sx0, sx1 = 880, 1190
    c.paint(c.rect(sx0 - 6, 120, sx1 + 6, floor_y + 4, 4), hexc("4A2F20", 70), blur=10, shift=(8, 8))
    c.paint(c.rect(sx0 - 10, 112, sx1 + 10, floor_y + 2, 4), hexc("8A5A3A"))
    c.paint(c.rect(sx0 + 8, 130, sx1 - 8, floor_y - 10), hexc("5C3B27"))
    shelf_ys = [130, 235, 340, 445, floor_y - 10]
    palette = ["C8553D", "2F8F88", "F2C14E", "5B6C9E", "8E5A9B", "E6E0D0", "3E6B48", "D98A6C", "4A7FB5"]
    for j in range(4):
        top, bot = shelf_ys[j], shelf_ys[j + 1]
        x = sx0 + 18
        while x < sx1 - 40:
            if rnd.random() < 0.12 and x > sx0 + 40:  # a gap with an object
                if j % 2 == 0:
                    c.paint(c.ellipse(x + 18, bot - 16, 16, 16), hexc("E8DCC6"))
                    c.paint(c.ellipse(x + 18, bot - 40, 12, 14), hexc("6FA86E"))
                else:
                    c.paint(c.rect(x, bot - 44, x + 36, bot - 12, 3), hexc("F5EBDD"))
                    c.paint(c.rect(x + 5, bot - 39, x + 31, bot - 17), hexc("8CB7D6"))
                x += 46
                continue
            bw = 12 + int(rnd.random() * 14)
            bh = (bot - top) * (0.55 + 0.35 * rnd.random())
            col = hexc(palette[int(rnd.random() * len(palette))])
            lean = rnd.random() < 0.12
            if lean:
                pts = [(x, bot - 12), (x + bw, bot - 12), (x + bw + 16, bot - 12 - bh), (x + 16, bot - 12 - bh)]
                c.paint(c.poly(pts, smooth=False), col)
                x += bw + 20
            else:
                c.paint(c.rect(x, bot - 12 - bh, x + bw, bot - 12, 1.5), col)
                c.paint(c.rect(x + 2, bot - 12 - bh + 8, x + bw - 2, bot - 12 - bh + 11), hexc("FFFFFF", 90))
                c.paint(c.rect(x + bw - 3, bot - 12 - bh, x + bw, bot - 12), hexc("000000", 40))
                x += bw + 1
        c.paint(c.rect(sx0 - 4, bot - 12, sx1 + 4, bot, 1), hexc("9E6C48"))
        c.paint(c.rect(sx0 + 8, bot, sx1 - 8, bot + 10), hexc("2E1A10", 90), blur=4)

    # floor lamp at the right edge, in front of the shelf, glowing
    lx = 1226
    c.paint(c.ellipse(lx, 250, 170, 170), hexc("FFD98A", 60), blur=40)
    c.paint(c.rect(lx - 3, 250, lx + 3, floor_y + 120), hexc("3B2A22"))
    c.paint(c.ellipse(lx, floor_y + 122, 34, 8), hexc("3B2A22"))
    shade = [(lx - 46, 250), (lx + 46, 250), (lx + 31, 176), (lx - 31, 176)]
    c.paint(c.poly(shade, smooth=False), hexc("F7D9A0"))
    c.paint(c.poly(shade, smooth=False), c.vgradient([(0, hexc("FFF1CF")), (1, hexc("EFC27A"))], 176, 250))
    c.paint(c.ellipse(lx, 252, 46, 6), hexc("FFF6DC"))

    # string lights along the top
    pts = [(0, 40), (200, 70), (420, 46), (640, 74), (860, 48), (1080, 72), (1280, 44)]
    curve = catmull_rom(pts, closed=False, n=30)
    c.paint(c.line(curve, 1.4, smooth=False), hexc("5A4636"))
    for k in range(0, len(curve), 9):
        x, y = curve[k]
        c.paint(c.ellipse(x, y + 6, 14, 14), hexc("FFD27A", 70), blur=6)
        c.paint(c.ellipse(x, y + 6, 4, 5.5), hexc("FFE7A8"))
    _vignette(c, 0.35)
    return c


def draw_studio() -> Image.Image:
    """Indoor background, RGB 1280x720."""
    return _studio_canvas().result().convert("RGB")


def _tree(c: Canvas, x, base, s, leaf, leaf_dark, leaf_light, trunk):
    c.paint(c.ellipse(x + s * 0.1, base + 2, s * 0.8, s * 0.14), hexc("2E4A22", 80), blur=s * 0.06)
    c.paint(c.poly([(x - s * 0.12, base), (x - s * 0.06, base - s * 1.1), (x + s * 0.06, base - s * 1.1),
                    (x + s * 0.13, base)], smooth=False), trunk)
    c.paint(c.poly([(x + s * 0.02, base), (x + s * 0.03, base - s * 1.1), (x + s * 0.06, base - s * 1.1),
                    (x + s * 0.13, base)], smooth=False), alpha(leaf_dark, 110))
    blobs = [(0, -1.55, 0.62), (-0.45, -1.2, 0.5), (0.48, -1.22, 0.5), (-0.2, -1.0, 0.45), (0.25, -0.95, 0.42)]
    m = c.mask()
    for bx, by, r in blobs:
        c.ellipse(x + bx * s, base + by * s, r * s, r * s, m=m)
    c.paint(m, leaf)
    c.paint(c.ellipse(x + s * 0.25, base - s * 0.82, s * 0.8, s * 0.36), leaf_dark, clip=m, blur=s * 0.025)
    for bx, by, r in ((-0.25, -1.72, 0.3), (-0.62, -1.3, 0.2), (0.3, -1.45, 0.22)):
        c.paint(c.ellipse(x + bx * s, base + by * s, r * s, r * s * 0.7), leaf_light, clip=m, blur=s * 0.02)


def _park_canvas() -> Canvas:
    W, H = BG_SIZE
    c = Canvas(W, H, BG_SS, bg=(0, 0, 0, 255))
    rnd = random.Random(11)
    # sky
    c.paint(c.rect(0, 0, W, H), c.vgradient([(0, hexc("4F9BDB")), (0.55, hexc("A6D4F0")), (1, hexc("FBE8C8"))],
                                            0, 470))
    # sun with a glow
    c.paint(c.rect(0, 0, W, H), c.radial(1040, 120, 330, hexc("FFF3C4", 190), hexc("FFF3C4", 0), 0.8))
    c.paint(c.ellipse(1040, 120, 52, 52), hexc("FFE89A"))
    c.paint(c.ellipse(1040, 120, 44, 44), hexc("FFF6CF"))
    # clouds
    _cloud(c, 220, 120, 52, hexc("FFFFFF", 240), hexc("D6E6F3", 220))
    _cloud(c, 640, 70, 36, hexc("FFFFFF", 225), hexc("D6E6F3", 220))
    _cloud(c, 860, 190, 30, hexc("FFFFFF", 215), hexc("D6E6F3", 220))
    _cloud(c, 440, 230, 22, hexc("FFFFFF", 200), hexc("D6E6F3", 220))
    # far hills (hazy), mid hills, near ground
    far = [(0, 400), (150, 350), (330, 372), (520, 330), (720, 368), (900, 336), (1100, 372), (1280, 346),
           (1300, 720), (-20, 720)]
    c.paint(c.poly(far), hexc("9CC7B0"))
    for k in range(14):  # little far trees
        tx = 60 + k * 90 + rnd.random() * 40
        ty = 372 + rnd.random() * 16
        c.paint(c.ellipse(tx, ty, 9, 13), hexc("7FB398"))
    mid = [(-20, 450), (200, 410), (420, 430), (640, 400), (860, 436), (1080, 404), (1300, 440), (1300, 720),
           (-20, 720)]
    c.paint(c.poly(mid), c.vgradient([(0, hexc("7DBA6A")), (1, hexc("5FA05A"))], 400, 520))
    near = [(-20, 520), (300, 492), (640, 484), (980, 494), (1300, 514), (1300, 740), (-20, 740)]
    near_m = c.poly(near)
    c.paint(near_m, c.vgradient([(0, hexc("78C063")), (1, hexc("4E9A45"))], 480, H))
    # path winding from the front centre to the distance
    pth = path([(470, 720), (548, 640), (612, 560), (634, 505), (622, 470)],
               [(622, 470), (640, 470)],
               [(640, 470), (664, 506), (676, 560), (742, 640), (840, 720)],
               [(840, 720), (470, 720)])
    pm = intersect(c.poly(pth, smooth=False), c.rect(0, 420, W, H))
    c.paint(pm, c.vgradient([(0, hexc("E8D6AE")), (1, hexc("D8BD8A"))], 470, H))
    c.paint(c.line([(470, 720), (548, 640), (612, 560), (634, 505), (622, 470)], 3), hexc("BFA172", 160))
    c.paint(c.line([(640, 470), (664, 506), (676, 560), (742, 640), (840, 720)], 3), hexc("BFA172", 160))
    # grass tufts and flowers at the sides (lower centre kept calm)
    for k in range(70):
        x = rnd.random() * W
        y = 520 + rnd.random() * 195
        if 380 < x < 900:
            continue
        if rnd.random() < 0.5:
            col = hexc(["FFFFFF", "F6D44C", "F28BA8", "C9A2F0"][int(rnd.random() * 4)])
            c.paint(c.ellipse(x, y, 4.5, 4.5), col)
            c.paint(c.ellipse(x, y, 1.8, 1.8), hexc("F4B63C"))
        else:
            for d in (-5, 0, 5):
                c.paint(c.taper([(x + d * 0.6, y), (x + d, y - 11 - abs(d))], 2.4, 0.5), hexc("3F8A3A"))
    # trees: two big ones framing, smaller ones behind
    _tree(c, 980, 470, 56, hexc("4F9A4E"), hexc("3C7F40"), hexc("7CC06A"), hexc("6B4A34"))
    _tree(c, 300, 462, 48, hexc("56A352"), hexc("3F8443"), hexc("86C770"), hexc("6B4A34"))
    _tree(c, 1170, 640, 150, hexc("3F8B47"), hexc("2E6E39"), hexc("6DB35E"), hexc("5E3E2A"))
    _tree(c, 110, 660, 170, hexc("3B8644"), hexc("2B6A36"), hexc("68AF5B"), hexc("5E3E2A"))
    # a bench on the right of the path
    bx, by = 930, 600
    c.paint(c.ellipse(bx + 60, by + 34, 90, 10), hexc("2E4A22", 80), blur=4)
    for lx in (bx, bx + 120):
        c.paint(c.rect(lx, by, lx + 8, by + 34), hexc("4A4A52"))
    c.paint(c.rect(bx - 14, by - 6, bx + 142, by + 4, 2), hexc("B0784A"))
    c.paint(c.rect(bx - 10, by - 42, bx + 138, by - 32, 2), hexc("B0784A"))
    c.paint(c.rect(bx - 10, by - 26, bx + 138, by - 16, 2), hexc("B0784A"))
    for lx in (bx + 4, bx + 124):
        c.paint(c.rect(lx, by - 46, lx + 6, by), hexc("4A4A52"))
    # birds
    for x, y, s in ((520, 150, 10), (548, 170, 8), (760, 130, 7)):
        c.paint(c.line([(x - s, y - s * 0.3), (x - s * 0.4, y - s * 0.5), (x, y)], 1.8), hexc("3A4A5C"))
        c.paint(c.line([(x, y), (x + s * 0.4, y - s * 0.5), (x + s, y - s * 0.3)], 1.8), hexc("3A4A5C"))
    _vignette(c, 0.22)
    return c


def draw_park() -> Image.Image:
    """Outdoor background, RGB 1280x720."""
    return _park_canvas().result().convert("RGB")


# ----------------------------------------------------------------------------------------------
def outputs() -> dict[str, object]:
    """Relative path (under assets/) -> drawing function."""
    return {
        "characters/mira/body.png": draw_body,
        "characters/mira/mouths.png": draw_mouths,
        "backgrounds/studio.png": draw_studio,
        "backgrounds/park.png": draw_park,
    }


SOFTWARE_TAG = "nodegraph assets/make_assets.py, Pillow "


def png_info() -> PngInfo:
    """Text chunks of every PNG: the generator (with the Pillow version that rasterised it) and the
    licence. The tests compare pixels exactly when they run on the same Pillow version."""
    info = PngInfo()
    info.add_text("Software", SOFTWARE_TAG + PIL.__version__)
    info.add_text("Copyright", "nodegraph developers, GPL-3.0-or-later")
    return info


def main(out_dir: Path = HERE) -> None:
    out_dir = Path(out_dir)
    for rel, fn in outputs().items():
        p = out_dir / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        fn().save(p, optimize=True, pnginfo=png_info())
        print(f"{rel}: {p.stat().st_size} bytes")
    info = out_dir / "characters/mira/character.json"
    info.write_text(json.dumps(character_info(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"characters/mira/character.json: {info.stat().st_size} bytes")


if __name__ == "__main__":
    main()
