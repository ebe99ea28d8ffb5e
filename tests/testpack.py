"""Small nodes used by the evaluator tests (registered into a test registry, not installed)."""
from __future__ import annotations

import os
import random
import threading
import time

import numpy as np

from nodegraph import Context, Image, Int, Number, Path, Seed, Text, Variadic, node

CALLS: dict[str, int] = {}
INTERVALS: list[tuple[str, float, float]] = []
_lock = threading.Lock()


def _count(name: str) -> None:
    with _lock:
        CALLS[name] = CALLS.get(name, 0) + 1


@node("t.const")
def const(value: float = 0.0) -> Number:
    _count("const")
    return value


@node("t.add")
def add(a: float = 0.0, b: float = 0.0) -> Number:
    _count("add")
    return a + b


@node("t.sum")
def total(values: Variadic[Number]) -> Number:
    _count("sum")
    return float(sum(values))


@node("t.clamp")
def clamp(x: float = 0.0, hi: float = 10.0) -> Number:
    """min(x, hi): many inputs give the same output (for early cutoff)."""
    _count("clamp")
    return min(x, hi)


@node("t.image")
def image(value: float = 0.0, size: Int(min=1) = 8) -> Image:
    _count("image")
    return Image(np.full((size, size, 3), int(value) % 256, np.uint8))


@node("t.sleep")
def sleep(x: float = 0.0, seconds: float = 0.2, tag: Text = "", ctx: Context = None) -> Number:
    """Sleeps in small steps, reporting progress (a cancellation point) each step."""
    start = time.perf_counter()
    steps = 20
    for i in range(steps):
        time.sleep(seconds / steps)
        ctx.progress((i + 1) / steps)
    with _lock:
        INTERVALS.append((tag or ctx.node_id, start, time.perf_counter()))
    return x


@node("t.gpu_sleep", cost="gpu")
def gpu_sleep(x: float = 0.0, seconds: float = 0.2, tag: Text = "", ctx: Context = None) -> Number:
    start = time.perf_counter()
    time.sleep(seconds)
    with _lock:
        INTERVALS.append((tag or ctx.node_id, start, time.perf_counter()))
    return x


@node("t.random", determinism="nondeterministic")
def rand() -> Number:
    _count("random")
    return random.random()


@node("t.noise", determinism="seeded")
def noise(seed: Seed = 0) -> Number:
    _count("noise")
    return float(np.random.Generator(np.random.PCG64(seed)).random())


@node("t.fail")
def fail(x: float = 0.0) -> Number:
    _count("fail")
    raise ValueError("this node always fails")


@node("t.read", determinism="reads-files", cost="io")
def read(path: Path) -> Text:
    _count("read")
    with open(path, encoding="utf-8") as f:
        return f.read()


@node("t.die_if", cost="cpu")
def die_if(x: float = 0.0, flag_file: Text = "") -> Number:
    """Kills its own process with SIGKILL when ``flag_file`` exists (crash tests)."""
    if flag_file and os.path.exists(flag_file):
        os.kill(os.getpid(), 9)
    return x


def registry():
    import sys

    from nodegraph.registry import Registry, default_registry

    reg = Registry()
    for spec in default_registry().specs.values():
        reg.add(spec)
    reg.add_module(sys.modules[__name__])
    return reg
