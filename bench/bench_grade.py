"""Grading nodes: milliseconds per 1080p frame for each grade.* node, on a photo-like frame (smooth
colour fields, edges and sensor noise; every 8-bit value in use). Prints figures only (no
assertions on speed).

For each node: the Image variant called as a function (median and fastest of --reps calls,
after one warm-up call: a LUT file is then parsed, colour-science imported), and for the Video
variant the first request of a frame (graded) against a second request of the same frame (taken
from the graded-frame memory). Last, a LUT on a video long enough to get the table of every 8-bit
colour: its first frame (which builds the table) and the frames after it. The 3D LUT is a 33-point .cube written for the run; --lut-size
changes it. Read the load average printed first: on a busy machine compare the fastest column.

    python bench/bench_grade.py [--reps N] [--lut-size 33] [--width 1920 --height 1080] [--only lut,blur]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from nodegraph import Image, Video  # noqa: E402
from nodes import _lut, grade  # noqa: E402


def photo_like(w: int, h: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    px = np.stack([128 + 100 * np.sin(xx / 170 + yy / 300), 128 + 90 * np.cos(yy / 140),
                   128 + 100 * np.sin((xx - yy) / 230)], axis=-1)
    px[h // 3:h // 2, w // 4:w // 2] = (200, 60, 40)  # a hard-edged object
    px += rng.normal(0, 6, px.shape).astype(np.float32)  # sensor noise
    return np.clip(px, 0, 255).astype(np.uint8)


def timed(fn, reps: int) -> tuple[float, float]:
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--lut-size", type=int, default=33)
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} on {os.cpu_count()} CPUs; "
          f"frame {a.width}x{a.height}; {a.reps} reps")
    frame = photo_like(a.width, a.height)
    image = Image(frame)
    tmp = tempfile.mkdtemp(prefix="bench-grade-")
    path = os.path.join(tmp, "look.cube")
    t = _lut.identity_table(a.lut_size)
    _lut.write_cube(path, np.clip(np.stack([t[..., 0] ** 0.8, t[..., 1] * 0.9 + 0.05 * t[..., 2], t[..., 2] ** 1.2],
                                           -1), 0, 1), "bench look")
    cases = {
        "lut": {"path": path}, "curves": {"master": "0,0 0.25,0.2 0.75,0.85 1,1", "red": "0,0 0.5,0.55 1,1"},
        "levels": {"in_black": 0.05, "gamma": 1.2}, "lift_gamma_gain": {"lift": 0.03, "gain_blue": 1.05},
        "hue_saturation": {"hue": 10.0, "saturation": 1.2, "vibrance": 0.3},
        "white_balance": {"temperature": 5200.0, "tint": 10.0}, "grain": {"amount": 0.3, "size": 1.5},
        "vignette": {"amount": 0.4}, "blur": {"radius": 4.0}, "sharpen": {"amount": 1.0, "radius": 1.0},
        "glow": {"threshold": 0.75, "radius": 20.0}, "chroma_key": {"key_color": "#1ec828"},
    }
    only = {s.strip() for s in a.only.split(",") if s.strip()}
    print(f"{'node':<24}{'image ms (median / fastest)':>30}{'video 1st ms':>14}{'video again ms':>16}")
    for name, params in cases.items():
        if only and name not in only:
            continue
        fn, vfn = getattr(grade, name), getattr(grade, name + "_video")
        med, best = timed(lambda: fn(image, **params), a.reps)
        firsts, agains = [], []
        for r in range(max(1, a.reps // 2)):
            grade.FRAMES.clear()
            src = Video.from_frames([frame], 24)
            out = vfn(src, **params)
            video = out["video"] if isinstance(out, dict) else out
            t0 = time.perf_counter()
            video.frame(0)
            t1 = time.perf_counter()
            video.frame(0)
            t2 = time.perf_counter()
            firsts.append((t1 - t0) * 1000)
            agains.append((t2 - t1) * 1000)
        print(f"grade.{name:<18}{med:>18.1f} / {best:>7.1f}{statistics.median(firsts):>14.1f}"
              f"{statistics.median(agains):>16.3f}")

    if not only or "lut" in only:  # a long video: the table of every 8-bit colour, built on its first frame
        grade.FRAMES.clear()
        _lut._full.clear()
        frames = [np.roll(frame, 7 * k, axis=1) for k in range(_lut.FULL_FRAMES)]
        video = grade.lut_video(Video.from_frames(frames, 24), path)
        t0 = time.perf_counter()
        video.frame(0)
        first = (time.perf_counter() - t0) * 1000
        rest = []
        for k in range(1, len(frames)):
            t0 = time.perf_counter()
            video.frame(k)
            rest.append((time.perf_counter() - t0) * 1000)
        print(f"grade.lut_video of {len(frames)} frames (and longer): the first frame {first:.0f} ms (builds the "
              f"table of every 8-bit colour), then {statistics.median(rest):.1f} ms a frame (fastest {min(rest):.1f})")


if __name__ == "__main__":
    main()
