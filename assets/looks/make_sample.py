#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Make ``sample.png``: the picture Looks are shown on (their thumbnails, the gallery).

A frame like the talking-character demo's: Mira (``../characters/mira/body.png``) in front of the
park (``../backgrounds/park.png``), at 640x360, so a Look is judged on sky, foliage and skin at once.
Deterministic (no randomness); rebuild it with ``python assets/looks/make_sample.py``.
"""
from __future__ import annotations

from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
SIZE = (640, 360)


def make_sample() -> Image.Image:
    bg = Image.open(HERE.parent / "backgrounds" / "park.png").convert("RGB").resize(SIZE, Image.Resampling.LANCZOS)
    body = Image.open(HERE.parent / "characters" / "mira" / "body.png").convert("RGBA")
    h = int(SIZE[1] * 0.92)
    body = body.resize((round(body.width * h / body.height), h), Image.Resampling.LANCZOS)
    bg.paste(body, ((SIZE[0] - body.width) // 2 + 120, SIZE[1] - h), body)
    return bg


def main() -> None:
    make_sample().save(HERE / "sample.png", optimize=True)
    print(f"wrote {HERE / 'sample.png'}")


if __name__ == "__main__":
    main()
