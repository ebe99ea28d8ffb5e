"""The compositor: layers over a base video (position, scale, opacity, blend mode, simple motion),
pan/zoom, text and subtitle overlays.

Everything stays lazy: a composite video computes a frame when an encoder or preview asks for
it, and knows each frame's key from its inputs' keys without rendering, so an encoder can skip
segments whose frames did not change. An image wired into a video input is a one-frame layer
held for the whole shot.
"""
from __future__ import annotations

import struct
import textwrap
from typing import Any, Callable

import blake3
import cv2
import numpy as np

from nodes import fonts
from nodes.colours import parse_hex as _hex
from nodegraph import Audio, Choice, Int, Number, Speech, Text, ValueError_, Video, node
from nodes._subtitles import Subtitles

BLENDS = ("normal", "add", "multiply", "screen")


# -- pixel helpers --------------------------------------------------------------------------------
def resize(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    if frame.shape[1] == width and frame.shape[0] == height:
        return frame
    shrink = width < frame.shape[1]
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def paste(dst: np.ndarray, src: np.ndarray, x0: int, y0: int, opacity: float = 1.0, mode: str = "normal") -> None:
    """Put ``src`` (RGB or RGBA) onto ``dst`` (RGB, modified) with its top-left at (x0, y0)."""
    h, w = src.shape[:2]
    H, W = dst.shape[:2]
    ax0, ay0, ax1, ay1 = max(x0, 0), max(y0, 0), min(x0 + w, W), min(y0 + h, H)
    if ax0 >= ax1 or ay0 >= ay1 or opacity <= 0:
        return
    s = src[ay0 - y0:ay1 - y0, ax0 - x0:ax1 - x0]
    d = dst[ay0:ay1, ax0:ax1]
    if s.shape[2] == 4:
        a = s[:, :, 3:4].astype(np.float32) * (opacity / 255.0)
        s = s[:, :, :3]
    else:
        a = np.float32(opacity)
    sf, df = s.astype(np.float32), d.astype(np.float32)
    if mode == "add":
        top = np.minimum(sf + df, 255.0)
    elif mode == "multiply":
        top = sf * df / 255.0
    elif mode == "screen":
        top = 255.0 - (255.0 - sf) * (255.0 - df) / 255.0
    else:
        top = sf
    d[:] = np.clip(df + (top - df) * a + 0.5, 0, 255).astype(np.uint8)


def div255(x: np.ndarray) -> np.ndarray:
    """``(x + 127) // 255`` for uint16 ``x`` up to 255 * 255, in place and exactly, with shifts
    and adds (several times faster than numpy's integer division)."""
    x += 127
    x += x >> 8
    x += 1
    x >>= 8
    return x


class Prepared:
    """A layer image ready to blend fast: cropped to its visible part, premultiplied colour and
    inverse alpha per channel (uint8, so a prepared layer costs no more memory than the layer, and
    the blend runs on whole rows). ``shape`` is the uncropped (height, width); the visible part
    starts at (``y0``, ``x0``). A layer that is mostly solid or clear (a character, a logo) also
    keeps a mask of its solid pixels and a list of its edge pixels: pasting it copies the solid
    ones and blends only the edge."""

    __slots__ = ("rgb", "premult", "inv_alpha", "shape", "x0", "y0", "nbytes", "solid", "edge", "edge_premult",
                 "edge_inv")

    def __init__(self, src: np.ndarray):
        self.shape = src.shape[:2]
        self.x0 = self.y0 = 0
        self.solid = None
        if src.shape[2] == 4:
            alpha = src[:, :, 3]
            rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
            if len(rows):  # fully transparent rows and columns leave the base as it is: skip them
                self.y0, self.x0 = int(rows[0]), int(cols[0])
                src = src[self.y0:rows[-1] + 1, self.x0:cols[-1] + 1]
            else:
                src = src[:0, :0]
            alpha = src[:, :, 3]
            a = np.repeat(src[:, :, 3:4], 3, axis=2)
            self.premult = div255(np.multiply(src[:, :, :3], a, dtype=np.uint16)).astype(np.uint8)
            self.inv_alpha = 255 - a
            self.rgb = None
            edge = (alpha > 0) & (alpha < 255)
            if 4 * int(edge.sum()) < edge.size:
                self.solid = (alpha == 255).view(np.uint8)
                self.edge = np.nonzero(edge)
                self.edge_premult, self.edge_inv = self.premult[self.edge], self.inv_alpha[self.edge]
        else:
            self.rgb = src
            self.premult = self.inv_alpha = None
        arrays = (self.rgb, self.premult, self.inv_alpha, self.solid)
        self.nbytes = sum(a.nbytes for a in arrays if a is not None)
        if self.solid is not None:  # two index arrays (int64) and two colour arrays per edge pixel
            self.nbytes += 2 * self.edge[0].nbytes + 2 * self.edge_inv.nbytes

    def rgba(self) -> np.ndarray:
        """The (cropped) layer as RGB or RGBA again, for blends other than a plain paste."""
        if self.rgb is not None:
            return self.rgb
        a = 255 - self.inv_alpha[:, :, :1].astype(np.uint16)
        rgb = np.where(a > 0, (self.premult.astype(np.uint16) * 255 + a // 2) // np.maximum(a, 1), 0)
        return np.dstack([np.minimum(rgb, 255), a]).astype(np.uint8)


def paste_prepared(dst: np.ndarray, prep: Prepared, x0: int, y0: int) -> None:
    """``paste`` at full opacity in normal mode, with the layer's top-left at (x0, y0): the same
    pixels, several times faster (an integer blend, and only where the layer is see-through)."""
    x0, y0 = x0 + prep.x0, y0 + prep.y0
    src = prep.rgb if prep.rgb is not None else prep.premult
    h, w = src.shape[:2]
    H, W = dst.shape[:2]
    ax0, ay0, ax1, ay1 = max(x0, 0), max(y0, 0), min(x0 + w, W), min(y0 + h, H)
    if ax0 >= ax1 or ay0 >= ay1:
        return
    sy, sx = slice(ay0 - y0, ay1 - y0), slice(ax0 - x0, ax1 - x0)
    d = dst[ay0:ay1, ax0:ax1]
    if prep.premult is None:
        d[:] = prep.rgb[sy, sx]
        return
    if prep.solid is None:
        blend = div255(np.multiply(d, prep.inv_alpha[sy, sx], dtype=np.uint16))
        blend += prep.premult[sy, sx]
        d[:] = blend  # at most 255: the base's share and the layer's add up to one
        return
    _copy_where(d, prep.premult[sy, sx], prep.solid[sy, sx])  # solid: the layer's colour as it is
    ys, xs = prep.edge
    ep, ei = prep.edge_premult, prep.edge_inv
    if (ay1 - ay0, ax1 - ax0) != (h, w):  # cut by the frame's border: the edge pixels inside it
        inside = (ys >= sy.start) & (ys < sy.stop) & (xs >= sx.start) & (xs < sx.stop)
        ys, xs, ep, ei = ys[inside] - sy.start, xs[inside] - sx.start, ep[inside], ei[inside]
    if len(ys):
        blend = div255(np.multiply(d[ys, xs], ei, dtype=np.uint16))
        blend += ep
        d[ys, xs] = blend


def _copy_where(dst: np.ndarray, src: np.ndarray, mask: np.ndarray) -> None:
    """dst[mask] = src[mask] for a (h, w) uint8 mask, in place (OpenCV's masked copy, ~10x numpy's)."""
    out = cv2.copyTo(src, mask, dst)
    if not np.may_share_memory(out, dst):  # OpenCV could not write into this view: numpy's copy
        np.copyto(dst, src, where=mask.view(bool)[:, :, None])


class ByteLRU:
    """Values (with an ``nbytes``) made from content keys, kept in this process, least recently
    used dropped past ``max_bytes``. For work inside a node that its next run repeats on the same
    content: a talking character's few dozen mouth pictures, prepared once for every shot it
    appears in; the sound of a shot that did not change."""

    def __init__(self, max_bytes: int):
        from collections import OrderedDict
        import threading

        self.max_bytes, self.size = max_bytes, 0
        self.items: OrderedDict[tuple, Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple, make: Callable[[], Any]) -> Any:
        with self.lock:
            p = self.items.get(key)
            if p is not None:
                self.items.move_to_end(key)
                return p
        p = make()  # outside the lock: two threads may make the same picture, both correct
        with self.lock:
            if key not in self.items:
                self.items[key] = p
                self.size += p.nbytes
                while self.size > self.max_bytes and len(self.items) > 1:
                    self.size -= self.items.popitem(last=False)[1].nbytes
        return p


    def clear(self) -> None:
        with self.lock:
            self.items.clear()
            self.size = 0


PREPARED = ByteLRU(96 * 1024**2)  # prepared layer pictures by (frame key, width, height)


class _Composed(Video):
    """A video made here. Its frames can also be asked for as new arrays the caller may draw into
    (``made(i, True)``), so a stack of layers is drawn into one frame instead of copying the whole
    frame at every layer (frames from ``frame()`` are never written into by their users)."""

    __slots__ = ("made",)

    def __init__(self, made: Callable[[int, bool], np.ndarray], *args, **kwargs):
        super().__init__(lambda i: made(i, False), *args, **kwargs)
        self.made = made


def _frame(video: Video, i: int, writable: bool) -> np.ndarray:
    """Frame ``i`` of ``video`` as RGB; ``writable``: an array the caller owns and may draw into
    (made for it by a video from this module, else a copy)."""
    if isinstance(video, _Composed):
        return video.made(i, writable)
    f = video.rgb_frame(i)
    return np.array(f) if writable else f


def _params_key(*values: object) -> bytes:
    return blake3.blake3(repr(values).encode()).digest()


def _frame_key(tag: bytes, *parts: bytes) -> bytes:
    h = blake3.blake3(tag)
    for p in parts:
        h.update(p)
    return h.digest()


def _mix_audio(base: Audio | None, other: Audio | None, offset_s: float) -> Audio | None:
    """The base sound with ``other`` added from ``offset_s`` seconds on."""
    if other is None:
        return base
    from nodes.audiodsp import mix, resample

    rate = base.rate if base is not None else other.rate
    o = other.samples if other.rate == rate else resample(other.samples, other.rate, rate)
    start = max(0, int(round(offset_s * rate)))
    if base is None:
        return Audio(mix([(o, start, 1.0)], start + len(o)), rate)
    length = max(base.frames, start + len(o))
    return Audio(mix([(base.samples, 0, 1.0), (o, start, 1.0)], length), rate)


# -- layers ---------------------------------------------------------------------------------------
@node("compose.layer", title="Layer", category="Compose")
def layer(base: Video, layer: Video, x: Number(min=-2.0, max=3.0) = 0.5, y: Number(min=-2.0, max=3.0) = 0.5,
          anchor: Choice("center", "bottom", "top") = "center", scale: Number(min=0.01, max=20.0) = 1.0,
          opacity: Number(min=0.0, max=1.0) = 1.0, blend: Choice(*BLENDS) = "normal",
          start: Number(min=0.0) = 0.0, end: Number(min=0.0) = 0.0,
          x_to: float | None = None, y_to: float | None = None, scale_to: float | None = None) -> Video:
    """Put a layer (a video, or an image wired in) over a base video.

    Args:
        base: the video underneath; the result has its size, length and frame rate.
        layer: what goes on top; RGBA layers (a character, a logo) keep their transparency.
            A layer shorter than its time on screen holds its last frame.
        x: horizontal position of the layer's anchor, as a fraction of the base width.
        y: vertical position of the anchor, as a fraction of the base height.
        anchor: which point of the layer x and y place: its centre, bottom or top middle.
        scale: size relative to the layer's own pixels.
        opacity: 0 (invisible) to 1.
        blend: how colours combine: normal, add, multiply or screen.
        start: when the layer appears, in seconds; its sound starts then too.
        end: when it disappears (0: at the end of the base).
        x_to: where x moves to by the end of the layer's time on screen (simple motion).
        y_to: where y moves to by then.
        scale_to: the scale reached by then (a slow zoom in or out).
    """
    if blend not in BLENDS:
        raise ValueError_(f"blend {blend!r} is not one of {list(BLENDS)}")
    fps = base.fps
    n = base.n_frames
    first = int(round(start * fps))
    last = n if end <= 0 else min(n, int(round(end * fps)))
    if end > 0 and end <= start:
        raise ValueError(f"end ({end}) must be after start ({start})")
    span = max(1, last - first - 1)
    motion = (x_to, y_to, scale_to)
    pkey = _params_key("layer", x, y, anchor, scale, opacity, blend, first, last, motion, base.width, base.height)

    def geometry(i: int) -> tuple[float, float, float]:
        t = (i - first) / span
        return (x + ((x_to if x_to is not None else x) - x) * t,
                y + ((y_to if y_to is not None else y) - y) * t,
                scale + ((scale_to if scale_to is not None else scale) - scale) * t)

    def scaled(j: int, s: float) -> Prepared:
        w, h = max(1, round(layer.width * s)), max(1, round(layer.height * s))
        # the same picture at another frame index, in another shot, is prepared once
        return PREPARED.get((layer.key(j), w, h), lambda: Prepared(resize(layer.frame(j), w, h)))

    def visible(i: int) -> bool:
        return first <= i < last

    def layer_index(i: int) -> int:
        return min(i - first, layer.n_frames - 1)

    def frame(i: int, writable: bool) -> np.ndarray:
        if not visible(i):
            return _frame(base, i, writable)
        out = _frame(base, i, True)
        cx, cy, s = geometry(i)
        src = scaled(layer_index(i), round(s, 4))
        h, w = src.shape
        px = int(round(cx * base.width - w / 2))
        py = int(round(cy * base.height - {"center": h / 2, "bottom": h, "top": 0}[anchor]))
        if opacity >= 1.0 and blend == "normal":
            paste_prepared(out, src, px, py)
        else:
            paste(out, src.rgba(), px + src.x0, py + src.y0, opacity, blend)
        return out

    def key(i: int) -> bytes:
        if not visible(i):
            return _frame_key(b"layer-off", pkey, base.key(i))
        return _frame_key(b"layer", pkey, struct.pack("<q", i - first if motion != (None, None, None) else 0),
                          base.key(i), layer.key(layer_index(i)))

    audio = _mix_audio(base.audio, layer.audio, first / float(fps))
    return _Composed(frame, n, base.width, base.height, fps, audio, keep=(base, layer), frame_key=key, cuts=base.cuts)


@node("compose.motion", title="Pan and zoom", category="Compose")
def motion(video: Video, duration: Number(min=0.0, max=36000.0) = 0.0, fps: Int(min=1, max=120) = 24,
           zoom_from: Number(min=1.0, max=10.0) = 1.0, zoom_to: Number(min=1.0, max=10.0) = 1.15,
           pan_x: Number(min=-1.0, max=1.0) = 0.0, pan_y: Number(min=-1.0, max=1.0) = 0.0,
           width: Int(min=0, max=8192) = 0, height: Int(min=0, max=8192) = 0) -> Video:
    """A slow camera move over a picture or video (the "Ken Burns" effect).

    Args:
        video: the source (an image wired in works too).
        duration: length in seconds (0: the source's length; needed for a still image).
        fps: frames per second when the source is a still image.
        zoom_from: magnification at the start (1 = the whole picture).
        zoom_to: magnification at the end.
        pan_x: horizontal drift over the move, as a fraction of the room the zoom leaves (-1..1).
        pan_y: vertical drift, likewise.
        width: output width (0: the source's).
        height: output height (0: the source's).
    """
    still = video.n_frames == 1
    rate = fps if still else video.fps
    if duration > 0:
        n = max(1, int(round(duration * rate)))
    elif still:
        raise ValueError("duration is 0 but the source is a still picture: say how long the move lasts")
    else:
        n = video.n_frames
    W, H = width or video.width, height or video.height
    if W % 2 or H % 2:
        raise ValueError(f"width and height must be even for video, got {W}x{H}")
    pkey = _params_key("motion", zoom_from, zoom_to, pan_x, pan_y, W, H, n)

    def frame(i: int, writable: bool) -> np.ndarray:  # a new picture each time: always writable
        t = i / max(1, n - 1)
        z = zoom_from + (zoom_to - zoom_from) * t
        src = video.rgb_frame(0 if still else min(i, video.n_frames - 1))
        sh, sw = src.shape[:2]
        cw, ch = sw / z, sh / z
        cx = sw / 2 + pan_x * (sw - cw) / 2 * (2 * t - 1)
        cy = sh / 2 + pan_y * (sh - ch) / 2 * (2 * t - 1)
        m = np.float32([[W / cw, 0, -(cx - cw / 2) * W / cw], [0, H / ch, -(cy - ch / 2) * H / ch]])
        return cv2.warpAffine(src, m, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)

    def key(i: int) -> bytes:
        return _frame_key(b"motion", pkey, struct.pack("<q", i), video.key(0 if still else min(i, video.n_frames - 1)))

    return _Composed(frame, n, W, H, rate, video.audio, keep=video, frame_key=key, cuts=() if still else video.cuts)


# -- text -----------------------------------------------------------------------------------------
def render_text(text: str, size: int, color: tuple[int, int, int], box_opacity: float = 0.0,
                max_width: int | None = None, align: str = "center") -> np.ndarray:
    """Text as an RGBA image: Pillow's built-in font, a soft shadow, an optional dark box."""
    from PIL import Image as PILImage, ImageDraw, ImageFilter

    font = fonts.font(size)
    probe = ImageDraw.Draw(PILImage.new("L", (1, 1)))
    box = [int(round(v)) for v in probe.multiline_textbbox((0, 0), text, font=font, align=align, spacing=size // 4)]
    pad = max(4, size // 3)
    w, h = box[2] - box[0] + 2 * pad, box[3] - box[1] + 2 * pad
    img = PILImage.new("RGBA", (w, h), (0, 0, 0, 0))
    if box_opacity > 0:
        ImageDraw.Draw(img).rounded_rectangle((0, 0, w - 1, h - 1), radius=pad, fill=(0, 0, 0, int(255 * box_opacity)))
    shadow = PILImage.new("L", (w, h), 0)
    ImageDraw.Draw(shadow).multiline_text((pad - box[0] + size * 0.04, pad - box[1] + size * 0.04), text, font=font,
                                          fill=200, align=align, spacing=size // 4)
    shadow = shadow.filter(ImageFilter.GaussianBlur(max(1, size // 18)))
    img = PILImage.composite(PILImage.new("RGBA", (w, h), (0, 0, 0, 255)), img, shadow)
    ImageDraw.Draw(img).multiline_text((pad - box[0], pad - box[1]), text, font=font, fill=(*color, 255),
                                       align=align, spacing=size // 4)
    return np.asarray(img)


def _overlay(base: Video, captions: list[tuple[int, int, np.ndarray, bytes]], x: float, y: float, anchor: str) -> Video:
    """``base`` with each caption image shown on frames [start, stop)."""
    captions = [(s, e, Prepared(img), k) for s, e, img, k in captions]

    def active(i: int) -> tuple[np.ndarray, bytes] | None:
        for s, e, img, k in captions:
            if s <= i < e:
                return img, k
        return None

    def frame(i: int, writable: bool) -> np.ndarray:
        cap = active(i)
        if cap is None:
            return _frame(base, i, writable)
        out = _frame(base, i, True)
        prep = cap[0]
        h, w = prep.shape
        px = int(round(x * base.width - w / 2))
        py = int(round(y * base.height - {"center": h / 2, "bottom": h, "top": 0}[anchor]))
        paste_prepared(out, prep, px, py)
        return out

    def key(i: int) -> bytes:
        cap = active(i)
        return _frame_key(b"caption", cap[1] if cap else b"-", base.key(i))

    return _Composed(frame, base.n_frames, base.width, base.height, base.fps, base.audio, keep=(base, captions),
                 frame_key=key, cuts=base.cuts)


@node("compose.text", title="Text overlay", category="Compose")
def text_overlay(base: Video, text: Text(multiline=True), x: Number(min=0.0, max=1.0) = 0.5, y: Number(min=0.0, max=1.0) = 0.1,
                 anchor: Choice("center", "bottom", "top") = "top", size: Int(min=6, max=400) = 48,
                 color: Text = "#ffffff", box_opacity: Number(min=0.0, max=1.0) = 0.0,
                 start: Number(min=0.0) = 0.0, end: Number(min=0.0) = 0.0) -> Video:
    """Write a title or any text over a video for a while.

    Args:
        text: what to write (several lines allowed).
        x: horizontal position (fraction of the width) of the text's middle.
        y: vertical position (fraction of the height) of the anchor.
        anchor: which edge of the text block y places.
        size: font size in pixels.
        color: text colour as #rrggbb.
        box_opacity: darkness of a rounded box behind the text (0: none).
        start: when it appears, in seconds.
        end: when it disappears (0: at the end).
    """
    if not text.strip():
        return base
    img = render_text(text, size, _hex(color, "text"), box_opacity)
    fps = base.fps
    s = int(round(start * fps))
    e = base.n_frames if end <= 0 else int(round(end * fps))
    k = _params_key("text", text, size, color, box_opacity, x, y, anchor)
    return _overlay(base, [(s, e, img, k)], x, y, anchor)


def caption_lines(text: str, max_chars: int) -> list[str]:
    """Subtitle captions of at most two lines of ``max_chars`` each."""
    lines = textwrap.wrap(" ".join(text.split()), width=max_chars) or [""]
    return ["\n".join(lines[i:i + 2]) for i in range(0, len(lines), 2)]


@node("compose.subtitles", title="Subtitles", category="Compose")
def subtitles(base: Video, speech: Speech | None = None, text: Text(multiline=True) = "",
              cues: Subtitles | None = None,
              offset: Number(min=0.0) = 0.0, max_chars: Int(min=10, max=200) = 42,
              size: Int(min=8, max=200) = 40, color: Text = "#ffffff",
              position: Choice("bottom", "top") = "bottom", box_opacity: Number(min=0.0, max=1.0) = 0.55,
              hold: Number(min=0.0, max=10.0) = 0.4) -> Video:
    """Subtitles timed on speech: each caption (two lines at most) shows while its words are spoken.

    Args:
        base: the video to caption.
        speech: the spoken line, with word timings (from a Speak node).
        text: the caption text; empty: the speech's own text. Without speech, shown throughout.
        cues: timed subtitles (Transcribe, Translate, Load subtitles): each shown from its start
            to its end, instead of speech and text.
        offset: when the speech starts in the base video, in seconds.
        max_chars: characters per line before wrapping.
        size: font size in pixels.
        color: text colour as #rrggbb.
        position: bottom or top of the picture.
        box_opacity: darkness of the box behind the text.
        hold: seconds a caption stays after its last word.
    """
    if cues is not None:
        return _overlay(base, _cue_captions(cues, base, offset, max_chars, size, color, box_opacity, position),
                        0.5, 0.94 if position == "bottom" else 0.06, "bottom" if position == "bottom" else "top")
    words = list(speech.words) if speech is not None else []
    shown = text if text.strip() else (speech.text if speech is not None else "")
    if not shown.strip():
        raise ValueError("no subtitle text: connect a speech or type a text")
    rgb = _hex(color, "subtitle")
    chunks = caption_lines(shown, max_chars)
    fps = float(base.fps)
    n = base.n_frames
    captions = []
    if speech is None or not words:
        spans = [(0.0, n / fps)] if speech is None else [(offset, offset + speech.audio.duration + hold)]
        per = (spans[0][1] - spans[0][0]) / len(chunks)
        times = [(spans[0][0] + k * per, spans[0][0] + (k + 1) * per) for k in range(len(chunks))]
    else:
        # share the words out over the captions in order, by count of words
        counts = [len(c.split()) for c in chunks]
        total = sum(counts)
        times, w0 = [], 0
        for k, c in enumerate(counts):
            a = round(w0 * len(words) / total)
            b = max(a + 1, round((w0 + c) * len(words) / total))
            a, b = min(a, len(words) - 1), min(b, len(words))
            end = words[b - 1].end + hold if k == len(chunks) - 1 else words[min(b, len(words) - 1)].start
            times.append((offset + words[a].start, offset + end))
            w0 += c
    for chunk, (t0, t1) in zip(chunks, times):
        img = render_text(chunk, size, rgb, box_opacity)
        captions.append((int(round(t0 * fps)), min(n, int(round(t1 * fps))), img,
                         _params_key("subtitle", chunk, size, color, box_opacity, position)))
    y = 0.94 if position == "bottom" else 0.06
    return _overlay(base, captions, 0.5, y, "bottom" if position == "bottom" else "top")


def _cue_captions(cues: Subtitles, base: Video, offset: float, max_chars: int, size: int, color: str,
                  box_opacity: float, position: str) -> list[tuple[int, int, np.ndarray, bytes]]:
    """Captions for timed cues: a cue longer than two lines is shown in parts, sharing its time."""
    rgb = _hex(color, "subtitle")
    fps, n = float(base.fps), base.n_frames
    out = []
    for a, b, cue_text in cues.cues:
        chunks = [c for c in caption_lines(cue_text, max_chars) if c.strip()]
        for k, chunk in enumerate(chunks):
            t0 = offset + a + (b - a) * k / len(chunks)
            t1 = offset + a + (b - a) * (k + 1) / len(chunks)
            f0, f1 = int(round(t0 * fps)), min(n, int(round(t1 * fps)))
            if f1 > f0:
                out.append((f0, f1, render_text(chunk, size, rgb, box_opacity),
                            _params_key("subtitle", chunk, size, color, box_opacity, position)))
    return out
