"""Writing 3D LUTs as ``.cube`` files (the Adobe/Resolve format that Resolve, Premiere and
colour-science read): the Look baker and the grading pack's tools write through this one writer."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .fsio import write_bytes

#: the largest lattice a .cube table may have per axis (129^3 rows, as the readers accept)
MAX_3D = 129


def cube_text(table: np.ndarray, title: str = "") -> str:
    """A 3D table (n, n, n, 3) indexed [r, g, b] as .cube text (red changing fastest)."""
    t = np.asarray(table, np.float64)
    if t.ndim != 4 or t.shape[-1] != 3 or not (t.shape[0] == t.shape[1] == t.shape[2]) or not 2 <= t.shape[0] <= MAX_3D:
        raise ValueError(f"a 3D LUT table must have shape (n, n, n, 3) with n in 2..{MAX_3D}, got {t.shape}")
    if not np.isfinite(t).all():
        raise ValueError("a 3D LUT table must hold finite numbers")
    n = t.shape[0]
    clean = " ".join(str(title).replace('"', "'").split())[:200]
    head = [f'TITLE "{clean}"'] if clean else []
    head += [f"LUT_3D_SIZE {n}", "DOMAIN_MIN 0.0 0.0 0.0", "DOMAIN_MAX 1.0 1.0 1.0"]
    rows = t.transpose(2, 1, 0, 3).reshape(-1, 3)  # [b][g][r]: red changes fastest
    body = "\n".join(f"{r:.6f} {g:.6f} {b:.6f}" for r, g, b in rows)
    return "\n".join(head) + "\n" + body + "\n"


def write_cube(path: str | os.PathLike, table: np.ndarray, title: str = "") -> Path:
    """Write a 3D table (n, n, n, 3) indexed [r, g, b] as a .cube file, atomically."""
    return write_bytes(path, cube_text(table, title).encode("ascii", "replace"))
