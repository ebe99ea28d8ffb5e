"""Grading effects that look at more than one pixel, or add something: film grain, vignette,
blur, sharpen, glow, and the chroma key. Plain functions on float32 (h, w, 3) arrays; which
space each works in (linear light or display-encoded sRGB) is said in nodes/_colour.py.
"""
from __future__ import annotations

import functools

import cv2
import numpy as np

from nodes._colour import LUMA, matmul, srgb_decode


def gaussian(x: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur of (h, w, c) float32 with edges mirrored (so the mean stays where it was)."""
    if sigma <= 0:
        return x
    return cv2.GaussianBlur(x, (0, 0), sigmaX=float(sigma), sigmaY=float(sigma), borderType=cv2.BORDER_REFLECT_101)


# -- film grain (display-encoded) -------------------------------------------------------------------
def grain(x: np.ndarray, amount: float, size: float, colour: float, seed: int) -> np.ndarray:
    """Add film grain to display-encoded RGB: Gaussian noise from ``seed`` (PCG64, the same on every
    machine), softened to grains of about ``size`` pixels and scaled back to unit spread, strongest
    in the mid-tones (as on film, where the darkest and brightest parts show the least), zero-mean.
    ``colour`` 0 gives the same grain on the three channels, 1 independent grain per channel."""
    h, w = x.shape[:2]
    rng = np.random.Generator(np.random.PCG64(seed))
    mono = rng.standard_normal((h, w, 1), dtype=np.float32)
    noise = mono
    if colour > 0:
        chroma = rng.standard_normal((h, w, 3), dtype=np.float32)
        noise = mono * np.float32(np.sqrt(1.0 - colour)) + chroma * np.float32(np.sqrt(colour))
    sigma = max(0.0, (size - 1.0) / 2.0)
    if sigma > 0:
        noise = gaussian(noise if noise.shape[2] == 3 else noise[:, :, 0], sigma)
        if noise.ndim == 2:
            noise = noise[:, :, None]
        noise *= np.float32(1.0 / _blur_spread(sigma))  # unit spread again, whatever the grain size
    y = x @ LUMA
    weight = (0.35 + 2.6 * y * (1.0 - y))[:, :, None]  # 0.35 at black and white, 1.0 at mid-grey
    return x + noise * (weight * np.float32(0.1 * amount))


@functools.lru_cache(maxsize=32)
def _blur_spread(sigma: float) -> float:
    """How much a 2-D Gaussian blur of ``sigma`` shrinks the spread of white noise (sqrt of the
    sum of the kernel's squared weights)."""
    size = int(round(sigma * 8 + 1)) | 1  # the kernel cv2.GaussianBlur uses for float32
    k = cv2.getGaussianKernel(size, sigma).astype(np.float64)[:, 0]
    return float((k ** 2).sum())  # the 2-D kernel is the outer product: its squares sum to this squared


# -- vignette (linear light) ------------------------------------------------------------------------
@functools.lru_cache(maxsize=8)
def vignette_mask(width: int, height: int, amount: float, radius: float, softness: float) -> np.ndarray:
    """The (h, w, 1) float32 gain of a vignette: 1 inside ``radius`` (a fraction of the way from
    the centre to a corner, along an ellipse of the frame's shape), falling smoothly over
    ``softness`` to ``1 - amount`` at and beyond the corners' distance."""
    yy = (np.arange(height, dtype=np.float32) + 0.5 - height / 2) / (height / 2)
    xx = (np.arange(width, dtype=np.float32) + 0.5 - width / 2) / (width / 2)
    d = np.sqrt(xx[None, :] ** 2 + yy[:, None] ** 2) / np.sqrt(2.0)  # 0 centre, 1 corners
    t = np.clip((d - radius) / max(softness, 1e-3), 0.0, 1.0)
    t = t * t * (3.0 - 2.0 * t)  # smoothstep
    m = (1.0 - amount * t).astype(np.float32)[:, :, None]
    m.flags.writeable = False
    return m


# -- sharpen (display-encoded) and glow (linear light) ----------------------------------------------
def sharpen(x: np.ndarray, amount: float, radius: float) -> np.ndarray:
    """Unsharp mask: add ``amount`` times the detail finer than ``radius`` pixels (the picture less
    its blur, which averages to zero: the mean stays)."""
    blurred = gaussian(x, radius)
    return x + (x - blurred) * np.float32(amount)


def glow(lin: np.ndarray, threshold: float, radius: float, intensity: float) -> np.ndarray:
    """Light above ``threshold`` (given as a display value, compared in linear light) spread by a
    blur of ``radius`` pixels and added back: highlights bloom into their surroundings. A wide
    glow is blurred at a lower resolution (a glow has no fine detail to lose) and scaled back."""
    t = float(srgb_decode(np.float32(threshold)))
    bright = np.maximum(lin - np.float32(t), 0.0)
    h, w = lin.shape[:2]
    step = int(radius // 4) if lin.ndim == 3 else 1
    step = max(1, min(step, 8, h // 4 or 1, w // 4 or 1))
    if step > 1:
        small = cv2.resize(bright, (max(1, w // step), max(1, h // step)), interpolation=cv2.INTER_AREA)
        spread = cv2.resize(gaussian(small, radius / step), (w, h), interpolation=cv2.INTER_LINEAR)
    else:
        spread = gaussian(bright, radius)
    spread *= np.float32(intensity)
    spread += lin
    return spread


# -- chroma key (display-encoded Y'CbCr) --------------------------------------------------------------
_KB, _KR = 0.0722, 0.2126  # Rec.709


_W = LUMA.astype(np.float64)
_TO_YCC = np.array([_W, (np.eye(3)[2] - _W) / (2 * (1 - _KB)), (np.eye(3)[0] - _W) / (2 * (1 - _KR))])
_RGB_TO_YCC = _TO_YCC.T.astype(np.float32)                   # for row vectors
_YCC_TO_RGB = np.linalg.inv(_TO_YCC).T.astype(np.float32)


def _to_ycc(x: np.ndarray) -> np.ndarray:
    """Display RGB (..., 3) to Y'CbCr (Rec.709, Y' 0..1, Cb and Cr -0.5..0.5)."""
    return matmul(np.asarray(x, np.float32), _RGB_TO_YCC)


def _from_ycc(ycc: np.ndarray) -> np.ndarray:
    return matmul(ycc, _YCC_TO_RGB)


MIN_KEY_STRENGTH = 0.05  # the least chroma (CbCr distance from grey) a key colour needs


def key_strength(key: tuple[float, float, float]) -> float:
    """How far a display RGB colour's chroma lies from grey (CbCr, 0 grey, about 0.5 pure green)."""
    k = _to_ycc(np.asarray(key, np.float32)[None])[0]
    return float(np.hypot(k[1], k[2]))


def chroma_key(x: np.ndarray, key: tuple[float, float, float], tolerance: float, softness: float,
               spill: float) -> tuple[np.ndarray, np.ndarray]:
    """Key out ``key`` (display RGB, 0..1) from display-encoded RGB: (colour, matte).

    The matte is how far each pixel's chroma (CbCr, Rec.709) lies from the key's, as a fraction
    of the key's own chroma: 0 (transparent) within ``tolerance``, 1 (solid) beyond
    ``tolerance + softness``. Spill suppression then removes, from every pixel, ``spill`` times
    the part of its chroma that points the key's way (green light bounced onto hair and edges),
    keeping its luma: a green-tinged edge turns neutral instead of green."""
    ycc = _to_ycc(x)
    k = _to_ycc(np.asarray(key, np.float32)[None])[0]
    kc = k[1:]
    strength = float(np.hypot(*kc))
    if strength < 0.05:
        raise ValueError(f"key colour {tuple(round(255 * v) for v in key)} is almost grey: a chroma key needs "
                         "a saturated colour (a green or blue screen)")
    cb, cr = ycc[..., 1], ycc[..., 2]
    dist = np.hypot(cb - np.float32(kc[0]), cr - np.float32(kc[1]))
    dist *= np.float32(1.0 / strength)
    dist -= np.float32(tolerance)
    dist *= np.float32(1.0 / max(softness, 1e-3))
    matte = np.clip(dist, 0.0, 1.0)
    if spill > 0:
        d0, d1 = np.float32(kc[0] / strength), np.float32(kc[1] / strength)
        along = np.maximum(cb * d0 + cr * d1, 0.0)
        along *= np.float32(spill)
        cb -= along * d0
        cr -= along * d1
    return _from_ycc(ycc), matte
