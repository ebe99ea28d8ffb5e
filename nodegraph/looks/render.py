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


def image_port(look: Look, kind: str) -> str:
    """The first image input or output of ``look``, or an error saying it has none."""
    name = look.image_port(kind)
    if name is None:
        raise NodegraphError(f"Look {look.label} has no image {kind[:-1]}: it cannot be shown on a picture")
    return name


def apply_to_image(look: Look, registry: Any, image: Image, *, params: dict | None = None,
                   colour_only: bool = False, evaluator: Any = None) -> tuple[Image, list[str]]:
    """``look`` applied to ``image`` (with promoted ``params``); with ``colour_only`` its nodes
    that are not per-pixel colour are bypassed. Returns the picture and the bypassed node paths."""
    from ..evaluate import Evaluator
    from .library import LookRegistry

    inp, out = image_port(look, "inputs"), image_port(look, "outputs")
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
    node, port = flat.source("look", out)
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
    """The colour part of ``look`` as a (size, size, size, 3) table indexed [r, g, b] (for
    ``nodegraph.write_cube``), and the nodes left out."""
    grid = lattice(size)
    img = Image(np.clip(np.round(grid * 255.0), 0, 255).astype(np.uint8))
    out, skipped = apply_to_image(look, registry, img, params=params, colour_only=True)
    px = np.asarray(out.pixels)
    if px.shape[:2] != grid.shape[:2]:
        raise NodegraphError(f"Look {look.label} changes the picture's size ({px.shape[1]}x{px.shape[0]}), "
                             "so it cannot be baked into a LUT")
    if px.shape[2] == 1:
        px = np.repeat(px, 3, axis=2)
    table = px[:, :, :3].reshape(size, size, size, 3).astype(np.float64) / 255.0  # [b][g][r]
    return table.transpose(2, 1, 0, 3), skipped  # indexed [r, g, b], as write_cube takes it
