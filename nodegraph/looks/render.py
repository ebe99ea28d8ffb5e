"""Running a Look on one picture: its thumbnail, the gallery's contact sheet, and baking its
colour part into a 3D LUT (``.cube``) that Resolve and Premiere read.

Baking feeds the Look a lattice of 33 x 33 x 33 colours (an image of 1089 x 33 pixels) with every
node that is not a per-pixel colour transform (``@node(pointwise=True)``) bypassed: grain, blur,
vignette and the like cannot live in a LUT, so they are named and left out.
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import NodegraphError
from ..fsio import write_bytes
from ..graph import Document, Link
from ..node import build_spec
from ..types.media import Image
from .expand import expand
from .model import Look

THUMB_SIZE = (192, 108)
LUT_SIZE = 33


def _sample_spec(img: Image) -> Any:
    def sample() -> Image:
        return img

    sample.__annotations__ = {"return": Image}
    return build_spec(sample, id="looks.sample", title="Sample", category="Looks", version="1.0.0",
                      determinism="pure", cost="cpu", resource=None, output=False, migrate=None, description="",
                      code_version="sample " + img.digest().hex())


def image_input(look: Look) -> str:
    names = [n for n, p in look.inputs.items() if p.type == "image"]
    if not names:
        raise NodegraphError(f"Look {look.label} has no image input: it cannot be shown on a picture")
    return names[0]


def image_output(look: Look) -> str:
    names = [n for n, p in look.outputs.items() if p.type == "image"]
    if not names:
        raise NodegraphError(f"Look {look.label} has no image output: it cannot be shown on a picture")
    return names[0]


def apply_to_image(look: Look, registry: Any, image: Image, *, params: dict | None = None,
                   colour_only: bool = False, evaluator: Any = None) -> tuple[Image, list[str]]:
    """``look`` applied to ``image`` (with promoted ``params``); with ``colour_only`` its nodes
    that are not per-pixel colour are bypassed. Returns the picture and the bypassed node paths."""
    from ..evaluate import Evaluator
    from .library import LookRegistry

    inp, out = image_input(look), image_output(look)
    spec_of = registry.specs.get(look.type_id)
    others = [p.name for p in (spec_of.inputs if spec_of else ()) if p.name != inp and p.required]
    if others:
        raise NodegraphError(f"Look {look.label} needs {', '.join(others)} besides the picture")
    spec = _sample_spec(image)
    reg = LookRegistry(registry.base if isinstance(registry, LookRegistry) else registry, registry.library
                       if isinstance(registry, LookRegistry) else _lib_of(look))
    reg.specs[spec.id] = spec
    doc = Document()
    doc.g.add_node("sample", type=spec.id, version="1.0.0", params={}, label="", notes="", cache="default",
                   pinned=None, bypass=False)
    doc.g.add_node("look", type=look.type_id, version=look.version, params=dict(params or {}), label="",
                   notes="", cache="default", pinned=None, bypass=False)
    doc._add_link(Link("look", inp, 0, "sample", "image"))
    if look.type_id not in reg.specs:
        reg.library.add(look)
        reg._spec(look.type_id)
    flat = expand(doc, reg.look, reg.specs.get)
    skipped = []
    if colour_only:
        for nid in flat.members["look"]:
            s = reg.specs.get(flat.doc.type_of(nid))
            if s is not None and not getattr(s, "pointwise", False):
                flat.doc.node(nid)["bypass"] = True
                skipped.append(f"{nid.split('/', 1)[1]} ({s.title})")
    ev = evaluator or Evaluator(reg, workers=1)
    node, port = flat.outputs[("look", out)]
    while (node, port) in flat.outputs:
        node, port = flat.outputs[(node, port)]
    for folder in flat.read_roots:
        ev.policy = ev.policy.widened([folder])
    result = ev.run(flat.doc, [(node, port)])
    r = result.nodes.get(node)
    if r is None or not r.ok:
        bad = next((x for x in result.nodes.values() if x.status == "failed"), None)
        raise NodegraphError(f"Look {look.label} failed on the picture: "
                             + (f"{bad.node.replace('look/', '', 1)}: {bad.error}" if bad else "no result"))
    return result.value(node, port), skipped


def _lib_of(look: Look) -> Any:
    from .library import LookLibrary

    lib = LookLibrary([])
    lib.add(look)
    return lib


def thumbnail_png(look: Look, registry: Any, sample: Image, size: tuple[int, int] = THUMB_SIZE) -> bytes:
    """The Look on ``sample``, cut to ``size`` (cover), as PNG bytes."""
    from PIL import Image as PILImage

    img, _ = apply_to_image(look, registry, sample)
    pil = PILImage.fromarray(np.ascontiguousarray(img.rgb() if hasattr(img, "rgb") else img.pixels[:, :, :3]))
    w, h = pil.size
    tw, th = size
    scale = max(tw / w, th / h)
    pil = pil.resize((max(tw, round(w * scale)), max(th, round(h * scale))), PILImage.Resampling.LANCZOS)
    left, top = (pil.size[0] - tw) // 2, (pil.size[1] - th) // 2
    pil = pil.crop((left, top, left + tw, top + th))
    buf = io.BytesIO()
    pil.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def load_sample(path: str | os.PathLike) -> Image:
    from PIL import Image as PILImage

    try:
        with PILImage.open(path) as im:
            im.load()
            if im.width * im.height > 64_000_000:
                raise NodegraphError(f"{path}: {im.width}x{im.height} is too large for a sample picture")
            return Image(np.asarray(im.convert("RGB")))
    except OSError as e:
        raise NodegraphError(f"{path}: cannot read the sample picture ({e})") from None


def default_sample() -> Path | None:
    from ..paths import shipped_dir

    assets = shipped_dir("assets")
    p = assets / "looks" / "sample.png" if assets else None  # a frame of the talking-character demo
    return p if p is not None and p.is_file() else None


# -- baking ----------------------------------------------------------------------------------------
def lattice(size: int = LUT_SIZE) -> np.ndarray:
    """Every colour of a size^3 lattice as an image (size*size wide, size high), red fastest
    (the ``.cube`` order), values as float in [0, 1]."""
    axis = np.linspace(0.0, 1.0, size)
    b, g, r = np.meshgrid(axis, axis, axis, indexing="ij")
    rgb = np.stack([r, g, b], axis=-1).reshape(size, size * size, 3)
    return rgb


def bake(look: Look, registry: Any, size: int = LUT_SIZE, params: dict | None = None) -> tuple[np.ndarray, list[str]]:
    """The colour part of ``look`` as a (size**3, 3) table in ``.cube`` order, and the nodes left out."""
    grid = lattice(size)
    img = Image(np.clip(np.round(grid * 255.0), 0, 255).astype(np.uint8))
    out, skipped = apply_to_image(look, registry, img, params=params, colour_only=True)
    px = np.asarray(out.pixels)
    if px.shape[:2] != grid.shape[:2]:
        raise NodegraphError(f"Look {look.label} changes the picture's size ({px.shape[1]}x{px.shape[0]}), "
                             "so it cannot be baked into a LUT")
    if px.shape[2] == 1:
        px = np.repeat(px, 3, axis=2)
    table = px[:, :, :3].reshape(-1, 3).astype(np.float64) / 255.0
    return table, skipped


def write_cube(path: str | os.PathLike, table: np.ndarray, title: str = "") -> Path:
    """A ``.cube`` file (Adobe/Resolve format): TITLE, LUT_3D_SIZE, then one ``r g b`` line per
    lattice point, red changing fastest."""
    n = round(len(table) ** (1 / 3))
    if n ** 3 != len(table):
        raise ValueError(f"a 3D LUT table needs size^3 rows, got {len(table)}")
    safe = title.replace('"', "'").replace("\n", " ")[:200]
    lines = [f'TITLE "{safe}"', f"LUT_3D_SIZE {n}", "DOMAIN_MIN 0.0 0.0 0.0", "DOMAIN_MAX 1.0 1.0 1.0"]
    lines += [f"{r:.6f} {g:.6f} {b:.6f}" for r, g, b in np.clip(table, 0.0, 1.0)]
    return write_bytes(path, ("\n".join(lines) + "\n").encode("ascii"))
