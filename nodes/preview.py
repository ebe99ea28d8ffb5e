"""Pictures for looking at things: contact sheets of images and video frames, audio waveforms."""
from __future__ import annotations

from fractions import Fraction
from typing import Sequence

import numpy as np

from nodes import fonts
from nodes.colours import parse_hex
from nodegraph import Audio, Image, Images, Int, Text, Variadic, Video, node

Columns = Int(min=1, max=16)
CellWidth = Int(min=16, max=4096)
MAX_ASPECT = 4.0  # a cell is at most this many times taller than wide


@node("preview.contact_sheet", title="Contact sheet", category="Preview")
def contact_sheet(images: Variadic[Image], batches: Variadic[Images], columns: Columns = 4, cell_width: CellWidth = 320,
                  labels: Text(multiline=True) = "", background: Text = "#1e1e1e") -> Image:
    """Images side by side in a grid of equal cells, each with an optional label under it.

    Args:
        images: the images, in order (left to right, then top to bottom).
        batches: more images, from nodes that make several at once (after the single images).
        columns: cells per row (fewer when there are fewer images).
        cell_width: width of each cell in pixels; images are scaled to fit, keeping their shape.
        labels: one label per line, drawn under each cell in order (a batch's own labels fill in
            where there are fewer lines than cells).
        background: colour between and behind the cells, as #rrggbb.
    """
    pictures = [im.pixels for im in images] + [im.pixels for b in batches for im in b.images]
    if not pictures:
        raise ValueError("the contact sheet has no images: connect at least one image")
    label_list = labels.splitlines() if labels.strip() else []
    own = [""] * len(images) + [lab for b in batches for lab in b.labels]
    if any(own[len(label_list):]):
        label_list = label_list + own[len(label_list):]
    return Image(_sheet(pictures, columns, cell_width, label_list, np.array(parse_hex(background, "background"), np.float64)))


@node("preview.waveform", title="Waveform", category="Preview")
def waveform(audio: Audio, width: Int(min=64, max=8192) = 1024, height: Int(min=32, max=4096) = 256,
             colour: Text = "#4f8cff", background: Text = "#14161a") -> Image:
    """A picture of a sound: the peaks of each column of samples, and a time ruler.

    Stereo sound is drawn as two stacked lanes, left above right. The lighter core of the wave
    is its loudness (RMS); the outline is the peaks.

    Args:
        width: image width in pixels (one column of samples per pixel).
        height: image height in pixels.
        colour: colour of the wave, as #rrggbb.
        background: colour behind it, as #rrggbb.
    """
    from PIL import Image as PILImage, ImageDraw

    fg, bg = np.array(parse_hex(colour, "colour"), np.float64), np.array(parse_hex(background, "background"), np.float64)
    grid = tuple(int(v) for v in (bg * 0.4 + np.array([200, 200, 200]) * 0.6))
    centre = tuple(int(v) for v in (bg * 0.6 + fg * 0.4))
    core = tuple(int(v) for v in np.minimum(255, fg * 0.55 + 255 * 0.45))
    size = max(9, min(14, height // 10))
    ruler = size + 6 if height >= 64 else 0  # a strip at the bottom for the time labels
    wave_h = height - ruler
    px = np.empty((height, width, 3), np.uint8)
    px[:] = bg
    samples = audio.samples
    lanes = samples.shape[1]
    rows = np.arange(wave_h)[:, None]
    wave = px[:wave_h]
    edges = np.linspace(0, wave_h, lanes + 1).round().astype(int)
    for ch in range(lanes):
        top, bottom = edges[ch], edges[ch + 1]
        mid, half = (top + bottom - 1) / 2.0, max(1.0, (bottom - top) / 2.0 - 1)
        wave[int(round(mid)), :] = centre
        if audio.frames == 0:
            continue
        lo, hi, rms = _columns(samples[:, ch], width)
        y0 = np.floor(mid - np.clip(hi, -1, 1) * half).astype(int)
        y1 = np.ceil(mid - np.clip(lo, -1, 1) * half).astype(int)
        wave[(rows >= y0) & (rows <= y1)] = fg
        r = np.clip(rms, 0, 1) * half
        core_top = np.maximum(np.floor(mid - r), y0)  # never outside the peaks (slow waves)
        core_bottom = np.minimum(np.ceil(mid + r), y1)
        wave[(rows >= core_top) & (rows <= core_bottom) & (r[None, :] >= 1)] = core
        if ch:
            wave[top, :] = grid
    if ruler:
        px[wave_h, :] = grid
    image = PILImage.fromarray(px)
    duration = audio.duration
    if duration > 0:
        draw = ImageDraw.Draw(image)
        font = fonts.font(size)
        step = _tick_step(duration, width)
        tick = max(3, height // 32)
        t = step
        while t < duration:
            x = round(t / duration * width)
            draw.line([(x, 0), (x, tick)], fill=grid)
            draw.line([(x, wave_h - tick), (x, height - 1 if ruler else wave_h)], fill=grid)
            if ruler and step / duration * width >= 28:
                text = f"{t:g}s" if t < 60 else f"{int(t // 60)}:{int(t % 60):02d}"
                draw.text((x + 3, wave_h + ruler / 2 + 1), text, fill=grid, font=font, anchor="lm")
            t = round(t + step, 6)
    return Image(np.asarray(image))


@node("preview.video_frames", title="Video frames", category="Preview")
def video_frames(video: Video, count: Int(min=1, max=64) = 8, columns: Columns = 4,
                 cell_width: CellWidth = 320, background: Text = "#1e1e1e") -> Image:
    """Evenly spaced frames of a video, first to last, in a grid labelled with their timecodes.

    Args:
        count: how many frames to show (all of them when the video is shorter).
        columns: frames per row.
        cell_width: width of each frame in pixels.
        background: colour between the frames, as #rrggbb.
    """
    if video.n_frames == 0:
        raise ValueError("the video has no frames to show")
    indices = frame_indices(video.n_frames, count)
    frames = [video.frame(i) for i in indices]
    labels = [f"{timecode(i, video.fps)}  #{i}" for i in indices]
    return Image(_sheet(frames, columns, cell_width, labels, np.array(parse_hex(background, "background"), np.float64)))


def frame_indices(n_frames: int, count: int) -> list[int]:
    """``count`` frame numbers spread evenly from the first frame to the last (no repeats)."""
    if count <= 1 or n_frames == 1:
        return [0]
    return sorted(set(np.linspace(0, n_frames - 1, min(count, n_frames)).round().astype(int).tolist()))


def timecode(frame: int, fps: Fraction) -> str:
    """HH:MM:SS:FF (non-drop-frame, counted at the nominal whole frame rate)."""
    base = max(1, round(fps))
    ff, secs = frame % base, frame // base
    return f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}:{ff:02d}"


# -- drawing helpers -------------------------------------------------------------------------
def _sheet(pictures: Sequence[np.ndarray], columns: int, cell_width: int, labels: Sequence[str],
           background: np.ndarray) -> np.ndarray:
    """A grid of equal cells; each picture is scaled to fit its cell and centred in it."""
    from PIL import Image as PILImage, ImageDraw

    n = len(pictures)
    cols = max(1, min(columns, n))
    rows = -(-n // cols)
    # cells take the typical shape; an odd one out is scaled down to fit
    aspect = min(float(np.median([p.shape[0] / p.shape[1] for p in pictures])), MAX_ASPECT)
    cell_h = max(1, round(cell_width * aspect))
    pad = max(2, cell_width // 40)
    labels = [str(s) for s in labels[:n]]
    show_labels = any(s.strip() for s in labels)
    size = max(10, min(28, cell_width // 14))
    band = size + 2 * pad if show_labels else 0
    width = cols * cell_width + (cols + 1) * pad
    height = rows * (cell_h + band) + (rows + 1) * pad
    bg = tuple(int(v) for v in background)
    sheet = PILImage.new("RGB", (width, height), bg)
    ink = (235, 235, 235) if background.mean() < 128 else (20, 20, 20)
    draw = ImageDraw.Draw(sheet)
    font = fonts.font(size) if show_labels else None
    for k, p in enumerate(pictures):
        r, c = divmod(k, cols)
        x0 = pad + c * (cell_width + pad)
        y0 = pad + r * (cell_h + band + pad)
        h, w = p.shape[:2]
        scale = min(cell_width / w, cell_h / h)
        tw, th = max(1, round(w * scale)), max(1, round(h * scale))
        im = _pil(p, bg).resize((tw, th), PILImage.Resampling.LANCZOS if scale < 1 else PILImage.Resampling.BICUBIC)
        sheet.paste(im, (x0 + (cell_width - tw) // 2, y0 + (cell_h - th) // 2))
        if show_labels and k < len(labels) and labels[k].strip():
            text = _fit(draw, labels[k].strip(), font, cell_width)
            draw.text((x0 + cell_width / 2, y0 + cell_h + band / 2), text, fill=ink, font=font, anchor="mm")
    return np.asarray(sheet)


def labelled_grid(pictures: Sequence[np.ndarray], row_labels: Sequence[str], col_labels: Sequence[str],
                  cell_width: int, background: np.ndarray) -> np.ndarray:
    """A table of pictures: ``len(row_labels)`` rows by ``len(col_labels)`` columns (row-major),
    row titles on the left (wrapped over up to three lines) and column titles on top."""
    from PIL import Image as PILImage, ImageDraw

    rows, cols = len(row_labels), len(col_labels)
    if rows * cols != len(pictures):
        raise ValueError(f"{len(pictures)} pictures do not make {rows} rows of {cols}")
    aspect = min(float(np.median([p.shape[0] / p.shape[1] for p in pictures])), MAX_ASPECT)
    cell_h = max(1, round(cell_width * aspect))
    pad = max(2, cell_width // 40)
    size = max(10, min(24, cell_width // 12))
    font, bold = fonts.font(size), fonts.font(size, bold=True)
    head_w = max(3 * size, min(2 * cell_width, 9 * size))
    head_h = size + 2 * pad
    bg = tuple(int(v) for v in background)
    ink = (235, 235, 235) if background.mean() < 128 else (20, 20, 20)
    sheet = PILImage.new("RGB", (head_w + cols * (cell_width + pad) + pad, head_h + rows * (cell_h + pad) + pad), bg)
    draw = ImageDraw.Draw(sheet)
    for c, label in enumerate(col_labels):
        x = head_w + pad + c * (cell_width + pad) + cell_width / 2
        draw.text((x, head_h / 2), _fit(draw, str(label), bold, cell_width), fill=ink, font=bold, anchor="mm")
    for r, label in enumerate(row_labels):
        y0 = head_h + pad + r * (cell_h + pad)
        lines = _wrap(draw, str(label), font, head_w - 2 * pad, 3)
        top = y0 + cell_h / 2 - len(lines) * (size + 2) / 2
        for i, line in enumerate(lines):
            draw.text((pad, top + i * (size + 2)), line, fill=ink, font=font)
        for c in range(cols):
            p = pictures[r * cols + c]
            h, w = p.shape[:2]
            scale = min(cell_width / w, cell_h / h)
            tw, th = max(1, round(w * scale)), max(1, round(h * scale))
            im = _pil(p, bg).resize((tw, th), PILImage.Resampling.LANCZOS if scale < 1 else PILImage.Resampling.BICUBIC)
            x0 = head_w + pad + c * (cell_width + pad)
            sheet.paste(im, (x0 + (cell_width - tw) // 2, y0 + (cell_h - th) // 2))
    return np.asarray(sheet)


def _wrap(draw, text: str, font, width: int, max_lines: int) -> list[str]:
    """Words over lines no wider than ``width`` (the last line shortened with '...')."""
    lines: list[str] = []
    for word in text.split():
        if lines and draw.textlength(lines[-1] + " " + word, font=font) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    if len(lines) > max_lines:
        lines = lines[:max_lines - 1] + [" ".join(lines[max_lines - 1:])]
    return [_fit(draw, line, font, width) for line in lines] or [""]


def _pil(pixels: np.ndarray, background: tuple[int, int, int]):
    from PIL import Image as PILImage

    if pixels.shape[2] == 1:
        return PILImage.fromarray(np.ascontiguousarray(pixels[:, :, 0])).convert("RGB")
    if pixels.shape[2] == 4:
        im = PILImage.fromarray(np.ascontiguousarray(pixels))
        base = PILImage.new("RGB", im.size, background)
        base.paste(im, mask=im.getchannel("A"))
        return base
    return PILImage.fromarray(np.ascontiguousarray(pixels))


def _fit(draw, text: str, font, width: int) -> str:
    """``text``, shortened with '...' to fit ``width`` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text.rstrip() + "..."


def _columns(x: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-column min, max and RMS of a 1-D signal (columns hold at least one sample each)."""
    n = len(x)
    idx = np.minimum((np.arange(buckets + 1) * n) // buckets, n)
    starts = np.minimum(idx[:-1], n - 1)
    lo = np.minimum.reduceat(x, starts)
    hi = np.maximum.reduceat(x, starts)
    sq = np.add.reduceat(x.astype(np.float64) ** 2, starts)
    counts = np.diff(np.append(starts, n))
    # reduceat gives x[start] for an empty bucket (more columns than samples): count it as one
    rms = np.sqrt(sq / np.maximum(counts, 1))
    return lo, hi, rms


def _tick_step(duration: float, width: int) -> float:
    """A tick every second, or every 2, 5, 10 ... seconds when seconds would be too crowded."""
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600):
        if step / duration * width >= 8:
            return float(step)
    return 7200.0
