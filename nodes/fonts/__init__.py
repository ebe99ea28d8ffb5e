"""Fonts shipped with the node packs: DejaVu Sans (regular and bold), which covers Latin,
Greek and Cyrillic scripts, so subtitles and labels in French, Spanish, German, Russian ...
render every letter (Pillow's built-in font lacks accented letters). Licence: LICENSE-DejaVu.txt
(Bitstream Vera / public domain terms, free to redistribute, GPL-compatible)."""
from __future__ import annotations

import functools
from pathlib import Path

HERE = Path(__file__).parent


@functools.lru_cache(maxsize=64)
def font(size: int, bold: bool = False):
    """A Pillow font of ``size`` pixels (falls back to Pillow's own font if the file is missing)."""
    from PIL import ImageFont

    path = HERE / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
    try:
        return ImageFont.truetype(str(path), size)
    except OSError:
        return ImageFont.load_default(size=size)
