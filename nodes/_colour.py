"""Colour maths for the grading nodes (nodes/grade.py): sRGB encoding, luminance, and the per-pixel
colour operations as plain functions on float32 arrays.

Where each operation works, and why:

* **Display-encoded (sRGB) values**: LUTs, curves, levels, lift/gamma/gain, sharpen, film grain
  and the chroma key. These are defined on the encoded values a colourist sees: a ``.cube``
  file from Resolve or Premiere maps encoded RGB to encoded RGB, a curve's control points and
  the levels' black and white points are read off the display, and lift/gamma/gain are the
  primaries of a Rec.709 (display-referred) timeline as Resolve applies them. Grain added to
  encoded values is even to the eye across the tones (in linear light the same noise would
  swamp the shadows); sharpening encoded values gives the balanced halos editors expect; a
  keyer's Y'CbCr distance is defined on encoded values, as broadcast keyers use it.
* **Linear light**: saturation, hue and vibrance, white balance, vignette, blur and glow. These
  model what light does: mixing towards grey at the same *luminance* (Rec.709 weights apply to
  linear values only; in encoded values saturation 0 would darken reds and blues), a white
  balance is a change of illuminant (a chromatic adaptation: a 3x3 matrix on linear RGB), a
  lens vignette and a blur or glow spread or scale light, so a bright highlight blurs into its
  surroundings as a camera sees it instead of turning into a dull smear.

Every node converts its uint8 pixels to float32 once, in the space its operation needs (by a
256-entry table), and back once (by a 65536-entry table for linear light). ``Op.display`` gives
any operation as a function of display-encoded float RGB, for baking a chain into a 3D LUT.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

#: Rec.709 / sRGB luminance weights, for linear RGB
LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)


def srgb_decode(v: np.ndarray) -> np.ndarray:
    """Display-encoded sRGB (0..1) to linear light (the IEC 61966-2-1 curve)."""
    v = np.asarray(v, np.float32)
    return np.where(v <= 0.04045, v / 12.92, ((np.maximum(v, 0.04045) + 0.055) / 1.055) ** 2.4).astype(np.float32)


def srgb_encode(v: np.ndarray) -> np.ndarray:
    """Linear light (0..1) to display-encoded sRGB."""
    v = np.asarray(v, np.float32)
    return np.where(v <= 0.0031308, v * 12.92,
                    1.055 * np.maximum(v, 0.0031308) ** (1 / 2.4) - 0.055).astype(np.float32)


_U8 = np.arange(256, dtype=np.float32) / 255.0
DISPLAY = _U8.copy()                     # uint8 -> display float
LINEAR = srgb_decode(_U8)                # uint8 -> linear float
_ENC_N = 65535
_ENCODE_U8 = np.clip(np.round(srgb_encode(np.arange(_ENC_N + 1, dtype=np.float32) / _ENC_N) * 255.0), 0, 255
                     ).astype(np.uint8)  # linear (quantised to 1/65535) -> uint8


def to_float(rgb: np.ndarray, space: str) -> np.ndarray:
    """uint8 RGB to float32 in ``space`` ("display" or "linear"), by table."""
    return (LINEAR if space == "linear" else DISPLAY)[rgb]


def to_u8(x: np.ndarray, space: str) -> np.ndarray:
    """float32 in ``space`` back to uint8 (clipped, rounded)."""
    if space == "linear":
        idx = np.clip(x, 0.0, 1.0)
        idx *= _ENC_N
        idx += 0.5
        return _ENCODE_U8[idx.astype(np.uint16)]
    y = np.clip(x, 0.0, 1.0)
    y *= 255.0
    y += 0.5
    return y.astype(np.uint8)


@dataclass(frozen=True)
class Op:
    """A colour operation on float32 RGB arrays (..., 3) in its ``space``. ``per_channel``: each
    output channel depends only on the same input channel (applied to uint8 as three tables)."""

    space: str
    fn: Callable[[np.ndarray], np.ndarray]
    per_channel: bool = False

    def apply_u8(self, rgb: np.ndarray) -> np.ndarray:
        """uint8 (h, w, 3) in, uint8 (h, w, 3) out."""
        if self.per_channel:
            import cv2

            ramp = to_float(np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1), self.space)
            table = to_u8(self.fn(ramp[None])[0], self.space)  # (256, 3)
            return cv2.LUT(np.ascontiguousarray(rgb), np.ascontiguousarray(table[:, None, :]))
        h, w = rgb.shape[:2]
        out = np.empty((h, w, 3), np.uint8)
        rows = max(1, 65536 // w)  # bands of about 64k pixels: the temporaries stay in the CPU's cache
        for y in range(0, h, rows):
            out[y:y + rows] = to_u8(self.fn(to_float(rgb[y:y + rows], self.space)), self.space)
        return out

    def display(self, rgb: np.ndarray) -> np.ndarray:
        """The operation as a function of display-encoded float RGB (for baking into a LUT)."""
        x = np.asarray(rgb, np.float32)
        if self.space == "linear":
            return srgb_encode(np.clip(self.fn(srgb_decode(np.clip(x, 0, 1))), 0, 1))
        return np.clip(self.fn(x), 0, 1)


def luminance(lin: np.ndarray) -> np.ndarray:
    """Relative luminance of linear RGB (..., 3) -> (...)."""
    return lin @ LUMA


def matmul(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``x @ m`` for RGB row vectors (..., 3) and a 3x3 ``m``: OpenCV's per-pixel transform for
    an image (several times faster than numpy's matmul on (h, w, 3)), numpy otherwise."""
    if x.ndim == 3 and x.dtype == np.float32 and x.shape[2] == 3:
        import cv2

        return cv2.transform(np.ascontiguousarray(x), np.ascontiguousarray(m.T, dtype=np.float32))
    return (x @ m).astype(np.float32)


# -- curves and levels (display-encoded) ----------------------------------------------------------
def parse_curve(text: str, param: str) -> np.ndarray:
    """Control points "x,y x,y ..." (0..1, x increasing, at least two) as an (n, 2) array; a
    ValueError names the param and the faulty point otherwise. Empty text: the identity."""
    parts = text.replace(";", " ").split()
    if not parts:
        return np.array([[0.0, 0.0], [1.0, 1.0]])
    pts = []
    for k, part in enumerate(parts, 1):
        xy = part.split(",")
        try:
            if len(xy) != 2:
                raise ValueError
            x, y = float(xy[0]), float(xy[1])
        except ValueError:
            raise ValueError(f"curve {param!r}: point {k} {part!r} is not 'x,y' (for example \"0,0 0.5,0.6 1,1\")"
                             ) from None
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ValueError(f"curve {param!r}: point {k} {part!r} is outside 0..1")
        if pts and x <= pts[-1][0]:
            raise ValueError(f"curve {param!r}: point {k} {part!r}: x must increase from point to point")
        pts.append((x, y))
    if len(pts) < 2:
        raise ValueError(f"curve {param!r}: needs at least two points, got {text!r}")
    return np.array(pts)


def curve_function(points: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """The monotone cubic (PCHIP, Fritsch-Carlson: no overshoot between points) through the
    points, constant beyond the first and last."""
    from scipy.interpolate import PchipInterpolator

    x, y = points[:, 0], points[:, 1]
    if len(x) == 2 and x[0] == 0 and x[1] == 1 and y[0] == 0 and y[1] == 1:
        return lambda v: v
    f = PchipInterpolator(x, y, extrapolate=False)

    def curve(v: np.ndarray) -> np.ndarray:
        out = f(np.clip(v, x[0], x[-1]))
        return np.clip(out, 0.0, 1.0).astype(np.float32)

    return curve


def curves_op(master: np.ndarray, red: np.ndarray, green: np.ndarray, blue: np.ndarray) -> Op:
    """Each channel's curve, then the master curve on all three."""
    fm = curve_function(master)
    fc = [curve_function(p) for p in (red, green, blue)]

    def fn(x: np.ndarray) -> np.ndarray:
        return np.stack([fm(fc[c](x[..., c])) for c in range(3)], axis=-1)

    return Op("display", fn, per_channel=True)


def levels_op(in_black: float, in_white: float, gamma: float, out_black: float, out_white: float) -> Op:
    """Input range to 0..1, a gamma (above 1 brightens the mid-tones), then the output range."""
    span = in_white - in_black

    def fn(x: np.ndarray) -> np.ndarray:
        t = np.clip((x - in_black) / span, 0.0, 1.0)
        if gamma != 1.0:
            t = t ** (1.0 / gamma)
        return (out_black + (out_white - out_black) * t).astype(np.float32)

    return Op("display", fn, per_channel=True)


def lift_gamma_gain_op(lift: np.ndarray, gamma: np.ndarray, gain: np.ndarray) -> Op:
    """Per channel: ``(gain * (x + lift * (1 - x))) ** (1 / gamma)``: lift moves the blacks (white
    stays), gain scales (black stays), gamma bends the mid-tones."""
    lift, gamma, gain = (np.asarray(v, np.float32) for v in (lift, gamma, gain))

    def fn(x: np.ndarray) -> np.ndarray:
        v = np.clip(gain * (x + lift * (1.0 - x)), 0.0, None)
        return (v ** (1.0 / gamma)).astype(np.float32)

    return Op("display", fn, per_channel=True)


# -- hue, saturation, vibrance, white balance (linear light) --------------------------------------
def hue_matrix(degrees: float) -> np.ndarray:
    """A rotation of hue about the grey axis that keeps luminance: linear RGB to luminance and two
    colour differences (as Y'CbCr: (B - Y) / 1.8556, (R - Y) / 1.5748, with the Rec.709
    weights), a rotation of the difference plane, and back. Positive degrees turn red towards
    yellow and green, as the hue angle of HSV grows. For linear RGB row vectors."""
    w = LUMA.astype(np.float64)
    t = np.array([w, (np.eye(3)[2] - w) / 1.8556, (np.eye(3)[0] - w) / 1.5748])
    a = np.deg2rad(degrees)
    c, s = np.cos(a), np.sin(a)
    rot = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    m = np.linalg.inv(t) @ rot @ t
    return m.T.astype(np.float32)  # m acts on column vectors; pixels are row vectors


def saturation_matrix(saturation: float) -> np.ndarray:
    """``y + saturation * (x - y)`` with ``y`` the luminance, as a matrix for row vectors."""
    return (saturation * np.eye(3) + (1.0 - saturation) * np.outer(LUMA, np.ones(3))).astype(np.float32)


def hue_sat_op(hue: float, saturation: float, vibrance: float) -> Op:
    """Hue rotation, then saturation (towards or away from grey of the same luminance), then
    vibrance (saturation that lifts dull colours more than vivid ones, negative lowers it)."""
    m = (hue_matrix(hue) if hue else np.eye(3, dtype=np.float32))
    if not vibrance:
        m = (m @ saturation_matrix(saturation)).astype(np.float32)
        return Op("linear", lambda lin: matmul(lin, m))

    def fn(lin: np.ndarray) -> np.ndarray:
        x = matmul(lin, m)
        r, g, b = x[..., 0], x[..., 1], x[..., 2]
        y = r * LUMA[0]
        y += g * LUMA[1]
        y += b * LUMA[2]
        hi = np.maximum(np.maximum(r, g), b)
        lo = np.minimum(np.minimum(r, g), b)
        hi = np.maximum(hi, np.float32(1e-6), out=hi)
        # the factor: saturation * (1 + vibrance * (1 - (hi - lo) / hi)), from 0 grey to 1 fully saturated
        k = lo / hi
        k *= np.float32(saturation * vibrance)
        k += np.float32(saturation)
        x -= y[..., None]
        x *= k[..., None]
        x += y[..., None]
        return x

    return Op("linear", fn)


_D_UV = 0.0002  # tint 100 moves the white 0.02 off the Planckian locus (Lightroom's range)


def white_balance_matrix(temperature: float, tint: float, reference: float = 6500.0) -> np.ndarray:
    """The 3x3 matrix (for linear sRGB row vectors) that makes light of ``temperature`` kelvin
    and ``tint`` (Duv, greenish positive) look like the reference white: a von Kries adaptation
    with the Bradford cone space (colour-science), between the whites of the Planckian locus
    (Ohno 2013). The identity at (reference, 0)."""
    if temperature == reference and tint == 0:
        return np.eye(3, dtype=np.float32)
    import colour

    def white(cct: float, duv: float) -> np.ndarray:
        uv = colour.temperature.CCT_to_uv_Ohno2013(np.array([cct, duv]))
        return colour.xy_to_XYZ(colour.UCS_uv_to_xy(uv))

    src, ref = white(temperature, tint * _D_UV), white(reference, 0.0)
    cat = colour.adaptation.matrix_chromatic_adaptation_VonKries(src, ref, transform="Bradford")
    cs = colour.RGB_COLOURSPACES["sRGB"]
    m = cs.matrix_XYZ_to_RGB @ cat @ cs.matrix_RGB_to_XYZ
    return m.T.astype(np.float32)


def white_balance_op(temperature: float, tint: float) -> Op:
    m = white_balance_matrix(temperature, tint)
    return Op("linear", lambda lin: matmul(lin, m))
