"""How the grading nodes (nodes/grade.py) run: a grade is a function of (frame index, uint8 pixels);
``image`` applies it to an Image, ``video`` to every frame of a Video, lazily, with each frame's key
known from the params and the source frame's key, and graded frames kept in ``FRAMES``. The
builders here turn a node's params into its grade (checking them, with errors naming the param).
"""
from __future__ import annotations

import inspect
import struct
from typing import Any, Callable

import blake3
import numpy as np

from nodes import _colour as col, _grade_fx as fx, _lut
from nodes.colours import parse_hex
from nodes.compose import ByteLRU
from nodegraph import Image, Video

#: graded video frames by frame key, for the process (about 40 1080p frames)
FRAMES = ByteLRU(256 * 1024**2)

VIDEO_DOC = "video: the video to grade, frame by frame (an image wired in is a one-frame video)."
VIDEO_NOTE = ("Every frame of the video is graded when an encoder or a preview asks for it, once: a frame "
              "asked for again, or in a second run, is reused.")

Grade = Callable[[int, np.ndarray], np.ndarray]  # (frame index, uint8 RGB or RGBA) -> uint8, same shape


# -- helpers -----------------------------------------------------------------------------------------
def split(px: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(RGB, alpha or None) of uint8 pixels with 1, 3 or 4 channels."""
    if px.shape[2] == 1:
        return np.repeat(px, 3, axis=2), None
    if px.shape[2] == 4:
        return px[:, :, :3], px[:, :, 3:]
    return px, None


def join(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    return rgb if alpha is None else np.concatenate([rgb, alpha], axis=2)


def colour_grade(op: col.Op) -> Grade:
    """A per-pixel colour op as a Grade (alpha passes through)."""
    def run(i: int, px: np.ndarray) -> np.ndarray:
        rgb, alpha = split(px)
        return join(op.apply_u8(rgb), alpha)
    return run


def float_grade(space: str, fn: Callable[[int, np.ndarray], np.ndarray]) -> Grade:
    """A Grade from ``fn(i, float RGB in space) -> float RGB in space``."""
    def run(i: int, px: np.ndarray) -> np.ndarray:
        rgb, alpha = split(px)
        return join(col.to_u8(fn(i, col.to_float(rgb, space)), space), alpha)
    return run


def image(image: Image, grade: Grade) -> Image:
    return Image(grade(0, image.pixels))


def params_key(fn: Callable[..., Any], params: tuple) -> bytes:
    """The recipe of a node's frames: its type, its code (a fix re-grades, and encoders do not
    reuse segments of the old result) and its params."""
    spec = fn.__nodegraph__  # type: ignore[attr-defined]
    return blake3.blake3(repr((spec.id, spec.code(), params)).encode()).digest()


def video(video: Video, fn: Callable[..., Any], params: tuple, grade: Grade, per_frame: bool = False,
           alpha: bool | None = None) -> Video:
    """``video`` graded lazily, frame by frame; ``per_frame``: the grade depends on the frame index
    (grain), so the index is part of each frame's key; ``alpha``: the graded frames are RGBA
    (default: as the source's)."""
    pkey = params_key(fn, params)

    def key(i: int) -> bytes:
        h = blake3.blake3(b"grade\0" + pkey)
        if per_frame:
            h.update(struct.pack("<q", i))
        h.update(video.key(i))
        return h.digest()

    def make(i: int) -> np.ndarray:
        out = np.ascontiguousarray(grade(i, video.frame(i)))
        out.flags.writeable = False
        return out

    def frame(i: int) -> np.ndarray:
        return FRAMES.get((key(i),), lambda: make(i))

    return Video(frame, video.n_frames, video.width, video.height, video.fps, lambda: video.audio, keep=video,
                 frame_key=key, alpha=video.alpha if alpha is None else alpha, cuts=video.cuts)


def video_doc(image_fn: Callable[..., Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The video variant's docstring: the image node's, a line on frames, and a ``video`` port."""
    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        lines = [ln for ln in inspect.cleandoc(image_fn.__doc__ or "").splitlines()
                 if not ln.strip().startswith("image:")]
        at = next((k for k, ln in enumerate(lines) if ln.strip() == "Args:"), len(lines))
        lines[at:at + 1] = ["", VIDEO_NOTE, "", "Args:", "    " + VIDEO_DOC][: 3 if at == len(lines) else 5]
        fn.__doc__ = "\n".join(lines)
        return fn
    return wrap


# -- 3D LUT --------------------------------------------------------------------------------------------
def lut_grade(path: str, strength: float, frames: int = 1) -> Grade:
    """The LUT as a Grade; for a video of ``frames`` >= ``_lut.FULL_FRAMES`` (or when another node
    already made it) through the table of every 8-bit colour, built once."""
    cube = _lut.load_cube(path)
    three = [s for s in cube.stages if s.dims == 3]
    fast = len(cube.stages) == 1 and three and not np.any(three[0].lo != 0) and not np.any(three[0].hi != 1)

    def fn(x: np.ndarray) -> np.ndarray:
        y = cube.apply(x)
        return y if strength >= 1.0 else x + (y - x) * np.float32(strength)

    def direct(rgb: np.ndarray) -> np.ndarray:
        if fast:  # the lattice cell of each uint8 value from a table, in cache-sized bands
            return _lut.apply_3d_u8(rgb, three[0].table, strength)
        return col.to_u8(fn(col.to_float(rgb, "display")), "display")

    key = (cube.digest, strength)
    long_video = frames >= _lut.FULL_FRAMES

    def run(i: int, px: np.ndarray) -> np.ndarray:
        rgb, alpha = split(px)
        if long_video or _lut.has_full_table(key):  # made when the first frame is asked for
            return join(_lut.apply_full(rgb, _lut.full_table(key, direct)), alpha)
        return join(direct(rgb), alpha)

    run.op = col.Op("display", fn)  # type: ignore[attr-defined]
    run.digest = cube.digest  # type: ignore[attr-defined]
    return run


def curves_op(master: str, red: str, green: str, blue: str) -> col.Op:
    return col.curves_op(col.parse_curve(master, "master"), col.parse_curve(red, "red"),
                         col.parse_curve(green, "green"), col.parse_curve(blue, "blue"))


def levels_op(in_black: float, in_white: float, gamma: float, out_black: float, out_white: float) -> col.Op:
    if in_white <= in_black:
        raise ValueError(f"in_white ({in_white}) must be above in_black ({in_black})")
    return col.levels_op(in_black, in_white, gamma, out_black, out_white)


def lgg_op(lift: float, gamma: float, gain: float, lift_red: float, lift_green: float, lift_blue: float,
            gamma_red: float, gamma_green: float, gamma_blue: float, gain_red: float, gain_green: float,
            gain_blue: float) -> col.Op:
    return col.lift_gamma_gain_op(lift + np.array([lift_red, lift_green, lift_blue]),
                                  gamma * np.array([gamma_red, gamma_green, gamma_blue]),
                                  gain * np.array([gain_red, gain_green, gain_blue]))


def grain_grade(amount: float, size: float, chroma: float, seed: int) -> Grade:
    return float_grade("display", lambda i, x: fx.grain(x, amount, size, chroma, (seed + i) % 2**63))


def vignette_grade(amount: float, radius: float, softness: float) -> Grade:
    def fn(i: int, lin: np.ndarray) -> np.ndarray:
        h, w = lin.shape[:2]
        return lin * fx.vignette_mask(w, h, amount, radius, softness)
    return float_grade("linear", fn)


def blur_grade(radius: float) -> Grade:
    return float_grade("linear", lambda i, lin: fx.gaussian(lin, radius))


def sharpen_grade(amount: float, radius: float) -> Grade:
    return float_grade("display", lambda i, x: fx.sharpen(x, amount, radius))


def glow_grade(threshold: float, radius: float, intensity: float) -> Grade:
    return float_grade("linear", lambda i, lin: fx.glow(lin, threshold, radius, intensity))


def key_grade(key_color: str, tolerance: float, softness: float, spill: float) -> Grade:
    key = tuple(v / 255.0 for v in parse_hex(key_color, "key_color"))
    if fx.key_strength(key) < fx.MIN_KEY_STRENGTH:
        raise ValueError(f"key_color {key_color!r} is almost grey: a chroma key needs a saturated colour "
                         "(a green or blue screen)")

    def run(i: int, px: np.ndarray) -> np.ndarray:
        rgb, alpha = split(px)
        colour, matte = fx.chroma_key(col.to_float(rgb, "display"), key, tolerance, softness, spill)
        a = col.to_u8(matte[:, :, None], "display")
        if alpha is not None:  # a pixel already see-through stays so
            a = ((a.astype(np.uint16) * alpha + 127) // 255).astype(np.uint8)
        return np.concatenate([col.to_u8(colour, "display"), a], axis=2)

    return run
