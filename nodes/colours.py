"""Colours typed as text in params ('#rrggbb' or '#rgb')."""
from __future__ import annotations


def parse_hex(value: str, what: str) -> tuple[int, int, int]:
    """(r, g, b) from '#rrggbb' or '#rgb'; a ValueError names ``what`` and the value otherwise."""
    v = value.strip().lstrip("#")
    if len(v) == 3:
        v = "".join(c * 2 for c in v)
    try:
        if len(v) != 6:
            raise ValueError
        return int(v[0:2], 16), int(v[2:4], 16), int(v[4:6], 16)
    except ValueError:
        raise ValueError(f"{what} colour {value!r} is not #rrggbb") from None
