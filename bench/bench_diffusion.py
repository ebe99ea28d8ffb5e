"""Diffusion benchmark on the tiny random-weight Stable Diffusion pipeline (tests/tinymodels.py).

Prints figures only (targets beside them; no assertions on speed):

1. overhead of a graph run (load_model -> prompt -> txt2img, the loader and prompt cached, the
   seed changed every rep so txt2img really computes) against the same diffusers call made
   directly on the same loaded pipeline object; also with an event listener attached (progress
   events and latent previews, as the editor listens). Target: graph / direct <= 1.05.
2. model load, first vs second use in one process: the first ``diffusion.load_model`` run loads
   from disk, a second evaluator with a fresh result cache must hit the process-wide model cache
   (``nodegraph.models.shared_cache``), for the diffusers folder and the single-file checkpoint.

Imports, building the tiny files and one warm-up call per setting are not timed. Nothing is
downloaded (HF_HUB_OFFLINE=1); the model digests memo goes to a temporary config folder.

    python bench/bench_diffusion.py [--reps N] [--steps 2,8,20] [--sizes 64,128] [--threads 1]
                                    [--device auto|cpu|cuda] [--quick] [--profile]
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE, VARIABLES = "a photo of a {thing}, {place}", "thing = red cat\nplace = under a blue tree"
GUIDANCE = 7.0


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def ints(text: str) -> list[int]:
    return [int(x) for x in text.replace(" ", "").split(",") if x]


# -- graphs ------------------------------------------------------------------------------------

def load_graph(model: Path, config: Path | None, device: str):
    from nodegraph.commands import AddNode, Batch
    from nodegraph.graph import Document

    params = {"model": str(model), "device": device}
    if config is not None:
        params["config"] = str(config)
    doc = Document()
    Batch([AddNode("diffusion.load_model", "model", params)], "build")(doc)
    return doc


def gen_graph(model: Path, device: str, size: int, steps: int, seed: int):
    from nodegraph.commands import AddNode, Batch, Connect
    from nodegraph.graph import Document

    doc = Document()
    Batch([AddNode("diffusion.load_model", "model", {"model": str(model), "device": device}),
           AddNode("prompt.prompt", "prompt", {"template": TEMPLATE, "variables": VARIABLES}),
           AddNode("diffusion.txt2img", "gen", {"width": size, "height": size, "steps": steps, "guidance": GUIDANCE,
                                                "seed": seed, "batch": 1, "scheduler": "default"}),
           Connect("model", "model", "gen", "model"), Connect("prompt", "prompt", "gen", "prompt")], "build")(doc)
    return doc


def evaluator(registry, tmp: Path, name: str):
    from nodegraph.cache import Cache
    from nodegraph.evaluate import Evaluator

    return Evaluator(registry, output_dir=tmp / "out", base_dir=tmp, cache=Cache(tmp / f"cache-{name}"))


def failed(res) -> str:
    bad = [r for r in res.nodes.values() if not r.ok]
    return "; ".join(f"{r.node} {r.status}: {r.error}" for r in bad) or "cancelled"


# -- 2. model load, first vs second use ----------------------------------------------------------

def bench_loads(registry, tmp: Path, models, device: str, torch_device: str) -> None:
    from nodegraph import Models

    cache = Models().cache
    print("\n2. model load, first vs second use (one process; the second evaluator has a fresh result cache)")
    print(f"  {'model':<34}{'use':<8}{'run ms':>9}{'node ms':>9}{'loads':>7}{'hits':>6}   expected")
    sources = (("diffusers folder", models.sd, None),
               ("single file + config folder", models.single_file, models.config))
    for k, (label, path, config) in enumerate(sources):
        for use in ("first", "second"):
            doc = load_graph(path, config, device)
            ev = evaluator(registry, tmp, f"load{k}-{use}")
            loads, hits = cache.loads, cache.hits
            t = time.perf_counter()
            res = ev.run(doc, ["model"])
            wall = time.perf_counter() - t
            ev.close()
            if not res.ok:
                sys.exit(f"load run failed: {failed(res)}")
            r = res.nodes["model"]
            dl, dh = cache.loads - loads, cache.hits - hits
            want = "loads +1 (real load from disk)" if use == "first" else "loads +0, a hit in shared_cache"
            ok = r.status == "computed" and ((dl == 1) if use == "first" else (dl == 0 and dh >= 1))
            note = "" if ok else "  <-- NOT MET" + ("" if r.status == "computed" else f" (node {r.status})")
            print(f"  {label if use == 'first' else '':<34}{use:<8}{wall * 1e3:>9.1f}{r.seconds * 1e3:>9.1f}"
                  f"{'+' + str(dl):>7}{'+' + str(dh):>6}   {want}{note}")
    print(f"  shared_cache now: {cache.loads} loads, {cache.hits} hits, {len(cache)} pipelines, "
          f"{cache.bytes / 2**20:.1f} MiB accounted")
    # references: what the node's first load is made of, measured directly (after the above, so
    # the files are in the OS cache and the libraries' lazy imports are done)
    import torch
    from diffusers import StableDiffusionPipeline

    from nodegraph.models import path_digest

    dt = torch.float16 if torch_device.startswith("cuda") else torch.float32
    refs = []
    t = time.perf_counter()
    path_digest(models.sd, use_memo=False)
    refs.append(("sha256 of the folder (no memo)", time.perf_counter() - t))
    t = time.perf_counter()
    StableDiffusionPipeline.from_pretrained(models.sd, local_files_only=True, torch_dtype=dt, safety_checker=None,
                                            requires_safety_checker=False).to(torch_device)
    refs.append(("diffusers from_pretrained + .to(device)", time.perf_counter() - t))
    t = time.perf_counter()
    StableDiffusionPipeline.from_single_file(str(models.single_file), config=str(models.config), local_files_only=True,
                                             torch_dtype=dt, safety_checker=None,
                                             requires_safety_checker=False).to(torch_device)
    refs.append(("diffusers from_single_file + .to(device)", time.perf_counter() - t))
    print("  references, direct: " + ", ".join(f"{label} {s * 1e3:.1f} ms" for label, s in refs))


# -- 1. graph run vs direct call ------------------------------------------------------------------

class Listener:
    """What the editor does with events, minus drawing: keeps the last progress and preview."""

    def __init__(self) -> None:
        self.events = self.progress = self.previews = 0
        self.last = None

    def __call__(self, e) -> None:
        self.events += 1
        if e.kind == "progress":
            self.progress += 1
            if e.data.get("preview") is not None:
                self.previews += 1
                self.last = e.data["preview"]


def bench_overhead(registry, tmp: Path, models, device: str, sizes: list[int], steps_list: list[int],
                   reps: int) -> list[tuple]:
    import torch

    from nodegraph import Models
    from nodegraph.commands import SetParam
    from nodes import _sd

    print(f"\n1. graph run vs direct diffusers call (median of {reps} reps after 1 warm-up, a/b/c interleaved; "
          "b and c change the seed every rep)")
    print("  a: pipe(prompt=[text], num_inference_steps, guidance_scale=7, width, height, generator=[...], "
          "output_type='np') on the pipeline object the nodes use")
    print("  a2: a inside torch.inference_mode(), as nodes/_sd.generate calls it (diffusers' own __call__ only "
          "uses no_grad)")
    print("  b: Evaluator.run(load_model -> prompt -> txt2img), loader and prompt cached, txt2img computed")
    print("  c: b with an on_event listener (planned/started/progress events, latent previews)")
    print(f"  {'size':>7}{'steps':>6}{'a ms':>8}{'a2 ms':>8}{'b ms':>8}{'c ms':>8}{'b/a':>7}{'b/a2':>7}{'c/a2':>7}"
          f"{'min b/a':>8}{'b-a2':>7}{'c-b':>7}{'node-a2':>8}{'run-node':>9}{'ev/prev':>8}{'a range':>8}"
          "   target b/a <= 1.05")
    rows = []
    seed_iter = iter(range(1000, 10**9))
    for size in sizes:
        for steps in steps_list:
            doc = gen_graph(models.sd, device, size, steps, 0)
            ev = evaluator(registry, tmp, f"gen{size}-{steps}")
            res = ev.run(doc, ["gen"])  # loads (a hit), fills the prompt; also the warm-up for b
            if not res.ok:
                sys.exit(f"graph run failed: {failed(res)}")
            text = res.value("prompt", "text")
            handle = res.value("model")
            pipe = _sd.base_pipeline(Models(), handle)
            kw = dict(prompt=[text], num_inference_steps=steps, guidance_scale=GUIDANCE, width=size, height=size,
                      output_type="np")

            def direct(seed: int, inference_mode: bool = False) -> float:
                gen = [torch.Generator("cpu").manual_seed(seed)]
                t = time.perf_counter()
                if inference_mode:
                    with torch.inference_mode():
                        pipe(generator=gen, **kw)
                else:
                    pipe(generator=gen, **kw)
                return time.perf_counter() - t

            def graph(seed: int, listener: Listener | None) -> tuple[float, float]:
                SetParam("gen", "seed", seed)(doc)
                t = time.perf_counter()
                r = ev.run(doc, ["gen"], on_event=listener)
                wall = time.perf_counter() - t
                if not r.ok:
                    sys.exit(f"graph run failed: {failed(r)}")
                st = {n: x.status for n, x in r.nodes.items()}
                if st != {"model": "cached", "prompt": "cached", "gen": "computed"}:
                    sys.exit(f"unexpected statuses {st}: txt2img must compute, the loader and prompt be cached")
                return wall, r.nodes["gen"].seconds

            direct(1), direct(2, True), graph(next(seed_iter), Listener())  # warm-ups (b's: the first run above)
            a, a2, b, c, own = [], [], [], [], []
            listener = Listener()
            for _ in range(reps):
                a.append(direct(next(seed_iter)))
                a2.append(direct(next(seed_iter), True))
                wall, node_s = graph(next(seed_iter), None)
                b.append(wall), own.append(node_s)
                c.append(graph(next(seed_iter), listener)[0])
            ev.close()
            ma, ma2, mb, mc, mo = (statistics.median(x) for x in (a, a2, b, c, own))
            per_run = f"{listener.progress / reps:.0f}/{listener.previews / reps:.0f}"
            flag = "" if mb / ma <= 1.05 else "  <-- above target"
            ms = lambda x: f"{x * 1e3:.1f}"  # noqa: E731
            print(f"  {f'{size}x{size}':>7}{steps:>6}{ms(ma):>8}{ms(ma2):>8}{ms(mb):>8}{ms(mc):>8}{mb / ma:>7.3f}"
                  f"{mb / ma2:>7.3f}{mc / ma2:>7.3f}{min(b) / min(a):>8.3f}{ms(mb - ma2):>7}{ms(mc - mb):>7}"
                  f"{ms(mo - ma2):>8}{ms(mb - mo):>9}{per_run:>8}{(max(a) - min(a)) / ma:>8.1%}{flag}")
            rows.append((size, steps, ma, mb, mc, ma2))
    print("  differences in ms; node-a2: txt2img's own seconds (inside the node function) minus a2; run-node: b minus "
          "the node's own seconds (the rest of Evaluator.run: keys, cache lookups and stores, digests); ev/prev: "
          "progress events / previews per run in c; a range: (max - min) / median of a's reps, the noise level; "
          "min b/a: fastest b over fastest a (less sensitive to other processes' load)")
    extras(ev, models, pipe, min(sizes))
    return rows


def extras(ev, models, pipe, size: int, n: int = 50) -> None:
    """The per-run extras of a graph run over a direct call, each timed alone (median of n)."""
    import torch

    from nodes import _sd

    def med(fn) -> float:
        fn()
        ts = []
        for _ in range(n):
            t = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t)
        return statistics.median(ts) * 1e3

    latents = torch.randn(1, 4, size // 2, size // 2)
    out = torch.rand(1, size, size, 3).numpy()
    items = [
        ("load_model's key (resolve + folder digest via memo)",
         med(lambda: ev.files.model(str(models.sd), "checkpoints", str(ev.base_dir)))),
        ("txt2img: fresh scheduler (_sd.set_scheduler)", med(lambda: _sd.set_scheduler(pipe, pipe._ng, "default"))),
        (f"txt2img: one latent preview ({size // 2}x{size // 2} latents)",
         med(lambda: _sd.latent_preview(latents, "sd"))),
        ("txt2img: float -> uint8 Image", med(lambda: [_sd.Image(a) for a in np_u8(out)])),
    ]
    print("  measured alone (ms per call): " + "; ".join(f"{label} {v:.2f}" for label, v in items))


def np_u8(arr):
    import numpy as np

    return np.clip(np.asarray(arr) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def profile(registry, tmp: Path, models, device: str, size: int, steps: int, runs: int, listener: bool) -> None:
    """cProfile of graph runs; the top costs in nodegraph/ and nodes/ code (torch/diffusers below)."""
    import cProfile
    import pstats

    from nodegraph.commands import SetParam

    doc = gen_graph(models.sd, device, size, steps, 0)
    ev = evaluator(registry, tmp, f"profile-{size}-{steps}-{listener}")
    ev.run(doc, ["gen"])
    prof = cProfile.Profile()
    for k in range(runs):
        SetParam("gen", "seed", 50_000 + k)(doc)
        prof.enable()
        ev.run(doc, ["gen"], on_event=Listener() if listener else None)
        prof.disable()
    ev.close()
    st = pstats.Stats(prof)
    total = st.total_tt
    ours = (str(ROOT / "nodegraph"), str(ROOT / "nodes"))
    rows = []
    for (file, line, fn), (cc, nc, tt, ct, _) in st.stats.items():  # type: ignore[attr-defined]
        if file.startswith(ours):
            rows.append((ct, tt, nc, f"{Path(file).relative_to(ROOT)}:{line}({fn})"))
    print(f"\nprofile: {runs} graph runs at {size}x{size}, {steps} steps{', with listener' if listener else ''}: "
          f"{total * 1e3 / runs:.1f} ms per run under cProfile")
    print("  top by own time in nodegraph/ and nodes/ (ms per run)")
    for ct, tt, nc, name in sorted(rows, key=lambda r: -r[1])[:12]:
        print(f"    own {tt * 1e3 / runs:8.2f}  cum {ct * 1e3 / runs:8.2f}  calls {nc / runs:7.0f}  {name}")
    print("  top by cumulative time in nodegraph/ and nodes/ (ms per run; includes what they call)")
    for ct, tt, nc, name in sorted(rows, key=lambda r: -r[0])[:16]:
        print(f"    cum {ct * 1e3 / runs:8.2f}  own {tt * 1e3 / runs:8.2f}  calls {nc / runs:7.0f}  {name}")


# -- main -------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, help="timed reps per setting (median; default 5, --quick 3)")
    ap.add_argument("--steps", type=ints, help="comma-separated step counts (default 2,8,20; --quick 2,8)")
    ap.add_argument("--sizes", type=ints, default=[64], help="comma-separated square sizes, e.g. 64,128")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"],
                    help="load_model's device param (auto: cuda, then mps, then cpu)")
    ap.add_argument("--quick", action="store_true", help="3 reps, steps 2 and 8 (unless given)")
    ap.add_argument("--profile", action="store_true", help="also cProfile graph runs (the smallest setting)")
    ap.add_argument("--no-loads", action="store_true", help="skip the model-load figures")
    args = ap.parse_args(argv)
    args.steps = args.steps or ([2, 8] if args.quick else [2, 8, 20])
    args.reps = args.reps or (3 if args.quick else 5)

    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    tmp_ctx = tempfile.TemporaryDirectory(prefix="nodegraph-bench-sd-")
    tmp = Path(tmp_ctx.name)
    os.environ["NODEGRAPH_CONFIG_DIR"] = str(tmp / "config")  # the digests memo starts empty, here
    os.environ.pop("NODEGRAPH_DEVICE", None)
    t_start = time.perf_counter()

    t = time.perf_counter()
    import warnings

    warnings.filterwarnings("ignore")
    import diffusers
    import torch
    import transformers
    from diffusers import StableDiffusionPipeline  # noqa: F401  (lazy imports done before timing)
    from diffusers.loaders import single_file  # noqa: F401

    sys.path.insert(0, str(ROOT / "tests"))
    import tinymodels

    from nodegraph import Models
    from nodegraph.models import ModelError, choose_device
    from nodegraph.registry import default_registry
    from nodes import _sd

    _sd.quiet_libraries()
    t_import = time.perf_counter() - t
    torch.set_num_threads(args.threads)
    try:
        device = choose_device(args.device)
    except ModelError as e:
        sys.exit(f"--device {args.device}: {e}")

    print(f"nodegraph bench_diffusion: Python {platform.python_version()}, {os.cpu_count()} CPU(s), "
          f"{platform.machine()} {platform.system()}, load average {loadavg()}")
    print(f"torch {torch.__version__}, diffusers {diffusers.__version__}, transformers {transformers.__version__}; "
          f"torch threads {torch.get_num_threads()}; device {device} (--device {args.device}; "
          f"cuda {'available' if torch.cuda.is_available() else 'not available'})")
    if device.startswith("cuda"):
        print(f"  {torch.cuda.get_device_name(device)}")

    t = time.perf_counter()
    models = tinymodels.build_all(tmp / "models")
    print(f"imports {t_import:.1f} s, building the tiny models {time.perf_counter() - t:.1f} s (not timed below); "
          "UNet 32/64 channels, latent = image / 2")
    registry = default_registry()

    if not args.no_loads:
        bench_loads(registry, tmp, models, args.device, device)
    else:  # the pipeline still has to be loaded before section 1
        _sd.base_pipeline(Models(tmp), _sd.describe(Models(tmp), str(models.sd), "checkpoints", "", args.device, "auto"))
    rows = bench_overhead(registry, tmp, models, args.device, args.sizes, args.steps, args.reps)
    if args.profile:
        size, steps = min(args.sizes), min(args.steps)
        profile(registry, tmp, models, args.device, size, steps, max(5, args.reps), listener=False)
        profile(registry, tmp, models, args.device, size, steps, max(5, args.reps), listener=True)
    worst = max(rows, key=lambda r: r[3] / r[2])
    worst2 = max(rows, key=lambda r: r[3] / r[5])
    print(f"\nworst b/a {worst[3] / worst[2]:.3f} ({worst[0]}x{worst[0]}, {worst[1]} steps), worst b/a2 "
          f"{worst2[3] / worst2[5]:.3f} ({worst2[0]}x{worst2[0]}, {worst2[1]} steps); "
          f"total {time.perf_counter() - t_start:.1f} s; load average at the end: {loadavg()}")
    tmp_ctx.cleanup()


if __name__ == "__main__":
    main()
