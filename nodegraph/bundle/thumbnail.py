"""A bundle's thumbnail: the newest picture the graph wrote, else a drawing of the graph.

With ``--output DIR`` the newest PNG or MP4 in that folder (its own files, not its subfolders)
gives the picture (an MP4: its middle frame, decoded with PyAV). Without one, or when the folder
holds neither, the graph is drawn as the editor's overview shows it: one box per node at its
place, its wires, its groups' titles (Pillow). Either way a thumbnail exists, at most 640 pixels
wide.
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

WIDTH, HEIGHT = 640, 360


def _png(img: Any) -> bytes:
    img.thumbnail((WIDTH, WIDTH))
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "PNG", optimize=True)
    return buf.getvalue()


def newest_output(folder: str | os.PathLike) -> Path | None:
    """The newest ``*.png`` or ``*.mp4`` directly in ``folder`` (not through a link), or None."""
    try:
        entries = [p for p in Path(folder).iterdir() if p.suffix.lower() in (".png", ".mp4")
                   and p.is_file() and not p.is_symlink()]
    except OSError:
        return None
    return max(entries, key=lambda p: p.stat().st_mtime, default=None)


def from_file(path: Path) -> bytes:
    """The picture of a PNG, or the middle frame of an MP4, as a thumbnail PNG."""
    from PIL import Image

    if path.suffix.lower() == ".png":
        with Image.open(path) as img:
            return _png(img.copy())
    import av

    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        frames = stream.frames or 0
        want = frames // 2
        last = None
        for i, frame in enumerate(c.decode(video=0)):
            last = frame
            if i >= want:
                break
        if last is None:
            raise ValueError(f"{path} holds no video frame")
        return _png(last.to_image())


def drawing(doc: Any, title: str = "") -> bytes:
    """The graph as its overview: boxes where the nodes are, wires between them."""
    from PIL import Image, ImageDraw

    ids = doc.node_ids()
    pos = {}
    for k, nid in enumerate(ids):
        p = (doc.layout.get(nid) or {}).get("pos") if isinstance(doc.layout, dict) else None
        pos[nid] = (float(p[0]), float(p[1])) if isinstance(p, (list, tuple)) and len(p) == 2 else (k * 260.0, 0.0)
    bw, bh = 200.0, 90.0
    xs = [x for x, _ in pos.values()] or [0.0]
    ys = [y for _, y in pos.values()] or [0.0]
    x0, y0 = min(xs) - 40, min(ys) - 60
    span_x, span_y = max(xs) + bw + 40 - x0, max(ys) + bh + 40 - y0
    scale = min((WIDTH - 20) / span_x, (HEIGHT - 40) / span_y)
    ox = (WIDTH - span_x * scale) / 2
    oy = 30 + (HEIGHT - 40 - span_y * scale) / 2

    def at(x: float, y: float) -> tuple[float, float]:
        return ox + (x - x0) * scale, oy + (y - y0) * scale

    img = Image.new("RGB", (WIDTH, HEIGHT), (30, 32, 38))
    d = ImageDraw.Draw(img)
    for link in doc.links():
        if link.src in pos and link.dst in pos:
            sx, sy = at(pos[link.src][0] + bw, pos[link.src][1] + bh / 2)
            tx, ty = at(pos[link.dst][0], pos[link.dst][1] + bh / 2)
            d.line([(sx, sy), (tx, ty)], fill=(120, 170, 220), width=1)
    for nid, (x, y) in pos.items():
        ax, ay = at(x, y)
        bx, by = at(x + bw, y + bh)
        d.rectangle([ax, ay, bx, by], fill=(62, 66, 78), outline=(150, 155, 170))
        d.rectangle([ax, ay, bx, ay + max(2.0, 18 * scale)], fill=(90, 110, 150))
    d.text((10, 8), (title or "nodegraph")[:80], fill=(235, 235, 240))
    d.text((10, HEIGHT - 18), f"{len(ids)} nodes, {len(doc.links())} links", fill=(170, 170, 180))
    return _png(img)


def thumbnail(doc: Any, output_dir: str | os.PathLike | None = None) -> tuple[bytes, str]:
    """(PNG bytes, where it came from: a file name, or "drawing")."""
    if output_dir is not None:
        found = newest_output(output_dir)
        if found is not None:
            try:
                return from_file(found), found.name
            except Exception:  # a broken output file: draw the graph instead
                pass
    title = str(doc.meta.get("title", "")) if isinstance(doc.meta, dict) else ""
    return drawing(doc, title), "drawing"


__all__ = ["thumbnail", "drawing", "from_file", "newest_output"]
