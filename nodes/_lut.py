""".cube LUTs: read (colour-science's ``colour.read_LUT``, after a line-by-line check that names
the file and line of a fault), apply (tetrahedral interpolation, in numpy) and write.

A ``.cube`` file (Adobe / Iridas, and Resolve's variant with a 1D shaper before the 3D table)
maps display-encoded RGB to display-encoded RGB: the 3D table's rows run with red changing
fastest, then green, then blue. Tables here are float32 arrays indexed ``[r, g, b, channel]``.
"""
from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

MAX_3D, MAX_1D = 129, 65536
_KEYWORDS = {"TITLE", "DOMAIN_MIN", "DOMAIN_MAX", "LUT_1D_SIZE", "LUT_3D_SIZE",
             "LUT_1D_INPUT_RANGE", "LUT_3D_INPUT_RANGE"}


class CubeError(ValueError):
    """A .cube file that cannot be used; the message names the file and, where there is one, the line."""


@dataclass(frozen=True)
class Stage:
    """One table: ``dims`` 1 (table (n, 3), per channel) or 3 (table (n, n, n, 3)), applied to
    inputs mapped from [``lo``, ``hi``] (per channel) onto the table."""

    dims: int
    table: np.ndarray
    lo: np.ndarray
    hi: np.ndarray


@dataclass(frozen=True)
class Cube:
    title: str
    stages: tuple[Stage, ...]  # a 1D shaper (optional) then the 3D table
    digest: bytes = b""        # BLAKE3 of the file's bytes

    @property
    def size(self) -> int:
        return self.stages[-1].table.shape[0]

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        """Display-encoded float RGB (..., 3) through every stage."""
        x = np.asarray(rgb, np.float32)
        for s in self.stages:
            x = apply_1d(x, s.table, s.lo, s.hi) if s.dims == 1 else apply_3d(x, s.table, s.lo, s.hi)
        return x


# -- reading ----------------------------------------------------------------------------------
def check_cube(path: str) -> None:
    """Read ``path`` line by line and raise a CubeError naming the file and line of the first
    fault: an unknown keyword, a value that is not a number, a row without three values, a size
    out of range, too few or too many rows."""
    name = os.path.basename(path)

    def fail(line: int | None, msg: str) -> CubeError:
        return CubeError(f"LUT file {name}{f', line {line}' if line else ''}: {msg}")

    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise CubeError(f"LUT file {name}: cannot be read ({e.strerror or e})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise fail(line, "is not text (a .cube file is plain text)") from None
    size1 = size3 = None
    rows = 0
    first_row = last_row = None
    for number, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        tokens = s.split()
        head = tokens[0]
        if head[0].isalpha() or head[0] == "_":
            if head not in _KEYWORDS:
                raise fail(number, f"unknown keyword {head!r}")
            if head == "TITLE":
                continue
            if rows:
                raise fail(number, f"{head} after the table rows began (line {first_row})")
            if head in ("LUT_1D_SIZE", "LUT_3D_SIZE"):
                top, lo = (MAX_1D, 2) if head == "LUT_1D_SIZE" else (MAX_3D, 2)
                try:
                    n = int(tokens[1]) if len(tokens) == 2 else None
                except ValueError:
                    n = None
                if n is None or not lo <= n <= top:
                    got = s[len(head):].strip()
                    raise fail(number, f"{head} must be one whole number from {lo} to {top}, got {got!r}")
                if head == "LUT_1D_SIZE":
                    size1 = n
                else:
                    size3 = n
                continue
            want = 3 if head.startswith("DOMAIN") else 2
            if len(tokens) != want + 1 or not all(_is_number(t) for t in tokens[1:]):
                raise fail(number, f"{head} needs {want} numbers, got {s[len(head):].strip()!r}")
            continue
        if len(tokens) != 3:
            raise fail(number, f"a table row needs 3 numbers (red green blue), got {len(tokens)}: {s[:60]!r}")
        for t in tokens:
            if not _is_number(t):
                raise fail(number, f"{t[:30]!r} is not a number")
        rows += 1
        first_row = first_row or number
        last_row = number
    if size3 is None and size1 is None:
        raise fail(None, "has no LUT_3D_SIZE (or LUT_1D_SIZE) line: is it a .cube LUT?")
    want = (size1 or 0) + (size3 ** 3 if size3 else 0)
    if rows != want:
        sizes = " and ".join(f"{k} {v}" for k, v in (("LUT_1D_SIZE", size1), ("LUT_3D_SIZE", size3)) if v)
        where = f"the rows end at line {last_row}" if last_row else "there are none"
        raise fail(last_row, f"{sizes} needs {want} table rows, found {rows} ({where})")


def _is_number(t: str) -> bool:
    try:
        return math.isfinite(float(t))
    except ValueError:
        return False


def read_cube(path: str) -> Cube:
    """The LUT in a .cube file (3D, 1D, or Resolve's 1D shaper + 3D), checked first (``check_cube``)."""
    check_cube(path)
    import colour

    name = os.path.basename(path)
    try:
        lut = colour.read_LUT(str(path))
    except Exception as e:  # the check passed, so this is a layout colour-science refuses
        raise CubeError(f"LUT file {name}: colour-science cannot read it: {e}") from None
    parts = list(lut) if isinstance(lut, colour.LUTSequence) else [lut]
    stages = []
    for p in parts:
        domain = np.asarray(p.domain, np.float32)
        table = np.asarray(p.table, np.float32)
        if isinstance(p, colour.LUT3D):
            stages.append(Stage(3, np.ascontiguousarray(table), domain[0], domain[-1]))
        elif isinstance(p, (colour.LUT3x1D, colour.LUT1D)):
            if table.ndim == 1:
                table = np.repeat(table[:, None], 3, axis=1)
            lo, hi = (domain[0], domain[-1]) if domain.ndim == 2 else (np.full(3, domain[0]), np.full(3, domain[-1]))
            stages.append(Stage(1, np.ascontiguousarray(table), np.asarray(lo, np.float32), np.asarray(hi, np.float32)))
        else:
            raise CubeError(f"LUT file {name}: holds a {type(p).__name__}, not a 1D or 3D table")
    for s in stages:
        if np.any(s.hi <= s.lo):
            raise CubeError(f"LUT file {name}: DOMAIN_MAX must be above DOMAIN_MIN, "
                            f"got {s.lo.tolist()} and {s.hi.tolist()}")
    import blake3

    with open(path, "rb") as f:
        digest = blake3.blake3(f.read()).digest()
    return Cube(str(lut.name if not isinstance(lut, colour.LUTSequence) else parts[-1].name), tuple(stages), digest)


_cubes: OrderedDict[tuple, Cube] = OrderedDict()
_cubes_lock = threading.Lock()


def load_cube(path: str) -> Cube:
    """``read_cube``, remembered by (path, size, mtime) for the process (a few recent files):
    every frame of a video, and every node using the same file, parses it once."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"LUT file not found: {path}") from None
    key = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    with _cubes_lock:
        got = _cubes.get(key)
        if got is not None:
            _cubes.move_to_end(key)
            return got
    got = read_cube(path)
    with _cubes_lock:
        _cubes[key] = got
        while len(_cubes) > 8:
            _cubes.popitem(last=False)
    return got


# -- applying ---------------------------------------------------------------------------------
def apply_1d(rgb: np.ndarray, table: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Per-channel linear interpolation in an (n, 3) table."""
    n = table.shape[0]
    out = np.empty(np.shape(rgb), np.float32)
    grid = np.linspace(0.0, 1.0, n, dtype=np.float32)
    for c in range(3):
        t = (rgb[..., c] - lo[c]) / (hi[c] - lo[c])
        out[..., c] = np.interp(t, grid, table[:, c])
    return out


def apply_3d(rgb: np.ndarray, table: np.ndarray, lo: np.ndarray | None = None,
             hi: np.ndarray | None = None) -> np.ndarray:
    """Tetrahedral interpolation in an (n, n, n, 3) table indexed [r, g, b]: the unit cube around
    each input is cut into six tetrahedra along its grey diagonal, and the output mixes the four
    corners of the one holding the input (the method of Resolve and OCIO; neutral inputs use the
    grey axis of the table only). Inputs outside the domain are clamped to it."""
    n = table.shape[0]
    shape = np.shape(rgb)
    x = np.asarray(rgb, np.float32).reshape(-1, 3)
    if lo is not None and (np.any(lo != 0) or np.any(hi != 1)):
        x = (x - lo) / (hi - lo)
    x = np.clip(x, 0.0, 1.0) * np.float32(n - 1)
    i = np.minimum(x.astype(np.int32), n - 2)
    f = x - i
    return _tetra(table, [i[:, c] for c in range(3)], [f[:, c] for c in range(3)]).reshape(shape)


def apply_3d_u8(rgb: np.ndarray, table: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """``apply_3d`` for uint8 RGB (h, w, 3) over the domain 0..1, mixed with the input by
    ``strength``, to uint8. The lattice cell and fraction of each of the 256 values come from a
    table, and the picture goes in bands of about 64k pixels, so that the temporaries stay in the
    CPU's cache (about twice as fast as whole-frame arrays)."""
    n = table.shape[0]
    x = np.arange(256, dtype=np.float32) / np.float32(255.0) * np.float32(n - 1)
    cell = np.minimum(x.astype(np.int32), n - 2)
    frac = x - cell
    h, w = rgb.shape[:2]
    out = np.empty((h, w, 3), np.uint8)
    rows = max(1, 65536 // w)
    for y in range(0, h, rows):
        band = rgb[y:y + rows]
        planes = [np.ascontiguousarray(band[:, :, c]).reshape(-1) for c in range(3)]
        v = _tetra(table, [cell[p] for p in planes], [frac[p] for p in planes])
        if strength < 1.0:
            src = band.reshape(-1, 3).astype(np.float32) * np.float32(1 / 255)
            v -= src
            v *= np.float32(strength)
            v += src
        np.clip(v, 0.0, 1.0, out=v)
        v *= 255.0
        v += 0.5
        out[y:y + rows] = v.astype(np.uint8).reshape(band.shape[0], w, 3)
    return out


def _tetra(table: np.ndarray, i: list, f: list) -> np.ndarray:
    """The tetrahedral mix for per-channel lattice cells ``i`` and fractions ``f`` (1-D arrays)."""
    n = table.shape[0]
    flat = table.reshape(-1, 3)
    sr, sg, sb = n * n, n, 1
    fr, fg, fb = f
    base = i[0] * sr
    base += i[1] * sg
    base += i[2]
    f_hi = np.maximum(np.maximum(fr, fg), fb)
    f_lo = np.minimum(np.minimum(fr, fg), fb)
    f_mid = fr + fg
    f_mid += fb
    f_mid -= f_hi
    f_mid -= f_lo
    hi_r = (fr >= fg) & (fr >= fb)
    hi_g = ~hi_r & (fg >= fb)
    s_hi = np.where(hi_r, sr, np.where(hi_g, sg, sb)).astype(np.int32)  # the largest fraction's axis
    s_lo = np.where(hi_r, np.where(fg <= fb, sg, sb),                      # the smallest's, another axis
                    np.where(hi_g, np.where(fr <= fb, sr, sb), np.where(fr <= fg, sr, sg))).astype(np.int32)
    s_all = sr + sg + sb
    w0 = 1.0 - f_hi
    w1 = f_hi - f_mid
    w2 = f_mid - f_lo
    out = flat[base] * w0[:, None]
    out += flat[base + s_hi] * w1[:, None]
    out += flat[base + (s_all - s_lo)] * w2[:, None]
    out += flat[base + s_all] * f_lo[:, None]
    return out


# -- every 8-bit colour at once, for video ----------------------------------------------------------
FULL_FRAMES = 12  # a video at least this long gets the whole 8-bit table (built in about 8 frames' time)
_full: OrderedDict[tuple, np.ndarray] = OrderedDict()
_full_lock = threading.Lock()


def full_table(key: tuple, fn) -> np.ndarray:
    """The (2**24, 3) uint8 result of ``fn`` (uint8 (h, w, 3) -> uint8) for every 8-bit RGB colour,
    remembered by ``key`` (two tables at most: 48 MiB each). A frame then costs one lookup per pixel
    (``apply_full``), exact to the same rounding, instead of the interpolation."""
    with _full_lock:
        got = _full.get(key)
        if got is not None:
            _full.move_to_end(key)
            return got
        table = np.empty((1 << 24, 3), np.uint8)
        v = np.arange(256, dtype=np.uint8)
        block = np.empty((16, 256, 256, 3), np.uint8)
        block[..., 1] = v[None, :, None]
        block[..., 2] = v[None, None, :]
        for r0 in range(0, 256, 16):
            block[..., 0] = np.arange(r0, r0 + 16, dtype=np.uint8)[:, None, None]
            table[r0 << 16:(r0 + 16) << 16] = fn(block.reshape(16 * 256, 256, 3)).reshape(-1, 3)
        table.flags.writeable = False
        _full[key] = table
        while len(_full) > 2:
            _full.popitem(last=False)
        return table


def has_full_table(key: tuple) -> bool:
    with _full_lock:
        return key in _full


def apply_full(rgb: np.ndarray, table: np.ndarray) -> np.ndarray:
    """uint8 RGB (h, w, 3) through a ``full_table``."""
    idx = rgb[:, :, 0].astype(np.uint32) << 16
    idx |= rgb[:, :, 1].astype(np.uint32) << 8
    idx |= rgb[:, :, 2]
    return np.take(table, idx.reshape(-1), axis=0).reshape(rgb.shape[0], rgb.shape[1], 3)


# -- writing ----------------------------------------------------------------------------------
def identity_table(n: int) -> np.ndarray:
    """The (n, n, n, 3) table that changes nothing."""
    g = np.linspace(0.0, 1.0, n, dtype=np.float32)
    r, gg, b = np.meshgrid(g, g, g, indexing="ij")
    return np.stack([r, gg, b], axis=-1)
