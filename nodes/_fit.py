"""Fitting a picture into a frame of another shape: letterbox (fit), crop (fill) or stretch."""
from __future__ import annotations

import numpy as np

from nodes.compose import resize

FITS = ("fit", "fill", "stretch")


def fit_frame(frame: np.ndarray, width: int, height: int, mode: str = "fit") -> np.ndarray:
    """``frame`` (RGB) as a ``width`` x ``height`` picture.

    fit: scaled to fit whole, centred, with black bars where the shapes differ (letterbox or
    pillarbox); fill: scaled to cover the frame, centred, the overflow cropped; stretch: scaled to
    the frame's size whatever its shape. A frame of the same shape (to a pixel) is only resized."""
    h, w = frame.shape[:2]
    if mode == "stretch" or (w == width and h == height) or abs(w * height - h * width) <= max(w, h):
        return resize(frame, width, height)
    if mode == "fill":
        if w * height > h * width:  # wider than the frame: keep the middle columns
            cw = max(1, round(h * width / height))
            x0 = (w - cw) // 2
            frame = frame[:, x0:x0 + cw]
        else:  # taller: keep the middle rows
            ch = max(1, round(w * height / width))
            y0 = (h - ch) // 2
            frame = frame[y0:y0 + ch]
        return resize(np.ascontiguousarray(frame), width, height)
    if mode != "fit":
        raise ValueError(f"fit {mode!r} is not one of {list(FITS)}")
    scale = min(width / w, height / h)
    sw, sh = max(1, min(width, round(w * scale))), max(1, min(height, round(h * scale)))
    out = np.zeros((height, width, frame.shape[2]), np.uint8)
    x0, y0 = (width - sw) // 2, (height - sh) // 2
    out[y0:y0 + sh, x0:x0 + sw] = resize(frame, sw, sh)
    return out
