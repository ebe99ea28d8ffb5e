#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Make the Looks that ship with nodegraph (``nodes/looks/*.look.json``) and the gallery template
(``graphs/looks_gallery.json``).

Each Look is built the way an artist builds one: a chain of grading nodes in a graph, made into a
Look with ``make_look`` (the code behind the editor's "Make Look" and ``nodegraph look make``),
with a few params promoted to its face, and a thumbnail rendered from ``sample.png`` beside this
script. Deterministic: the same nodegraph gives the same files. Rebuild with

    python assets/looks/make_looks.py
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OUT = ROOT / "nodes" / "looks"
NS = "nodegraph"

#: name -> (title, description, [(node id, type, params)], [(node.param, label, group, min, max)])
LOOKS: dict[str, tuple] = {
    "noir": ("Noir", "Black and white with deep blacks, a dark frame and fine grain.", [
        ("mono", "grade.hue_saturation", {"saturation": 0.0}),
        ("contrast", "grade.curves", {"master": "0,0 0.25,0.16 0.75,0.86 1,1"}),
        ("vignette", "grade.vignette", {"amount": 0.5, "radius": 0.55, "softness": 0.6}),
        ("grain", "grade.grain", {"amount": 0.22, "size": 1.4, "seed": 7}),
    ], [("contrast.master", "Contrast curve", "Tone", None, None), ("vignette.amount", "Vignette", "Frame", 0.0, 1.0),
        ("grain.amount", "Grain", "Texture", 0.0, 1.0)]),
    "teal-orange": ("Teal and orange", "Warm skin and highlights against teal shadows, the blockbuster grade.", [
        ("split", "grade.curves", {"red": "0,0 0.25,0.2 0.75,0.82 1,1", "blue": "0,0.06 0.25,0.3 0.75,0.7 1,0.94"}),
        ("lgg", "grade.lift_gamma_gain", {"lift_blue": 0.03, "gain_red": 1.06, "gain_blue": 0.94}),
        ("sat", "grade.hue_saturation", {"saturation": 1.15, "vibrance": 0.1}),
    ], [("sat.saturation", "Saturation", "Colour", 0.0, 2.0), ("lgg.gain_red", "Warmth of highlights", "Colour", 0.8, 1.3)]),
    "vintage-film": ("Vintage film", "Faded blacks, warm cast, soft colour and grain, like an old print.", [
        ("fade", "grade.levels", {"out_black": 0.07, "out_white": 0.95, "gamma": 1.05}),
        ("warm", "grade.white_balance", {"temperature": 7800.0, "tint": 4.0}),
        ("sat", "grade.hue_saturation", {"saturation": 0.78}),
        ("vignette", "grade.vignette", {"amount": 0.3}),
        ("grain", "grade.grain", {"amount": 0.18, "size": 1.8, "chroma": 0.2, "seed": 11}),
    ], [("fade.out_black", "Fade", "Tone", 0.0, 0.3), ("warm.temperature", "Temperature", "Colour", 3000.0, 9000.0),
        ("grain.amount", "Grain", "Texture", 0.0, 1.0)]),
    "pastel-storybook": ("Pastel storybook", "Light, soft and low-contrast with a gentle glow, for picture books.", [
        ("lift", "grade.levels", {"out_black": 0.12, "gamma": 1.18}),
        ("soft", "grade.hue_saturation", {"saturation": 0.72, "vibrance": 0.25}),
        ("glow", "grade.glow", {"threshold": 0.6, "radius": 14.0, "intensity": 0.45}),
    ], [("soft.saturation", "Saturation", "Colour", 0.0, 1.5), ("glow.intensity", "Glow", "Light", 0.0, 2.0)]),
    "bleach-bypass": ("Bleach bypass", "Silvery, low saturation, hard contrast: the skipped-bleach film look.", [
        ("desat", "grade.hue_saturation", {"saturation": 0.42}),
        ("contrast", "grade.curves", {"master": "0,0 0.3,0.2 0.7,0.84 1,1"}),
        ("sharp", "grade.sharpen", {"amount": 0.6, "radius": 1.2}),
    ], [("desat.saturation", "Saturation", "Colour", 0.0, 1.0)]),
    "comic-ink": ("Comic ink", "Punchy colour, crushed shadows and crisp edges, like a printed comic.", [
        ("ink", "grade.levels", {"in_black": 0.12, "in_white": 0.88}),
        ("pop", "grade.hue_saturation", {"saturation": 1.55}),
        ("edges", "grade.sharpen", {"amount": 2.2, "radius": 1.6}),
    ], [("pop.saturation", "Colour punch", "Colour", 0.5, 2.5), ("edges.amount", "Edge strength", "Ink", 0.0, 5.0)]),
    "cyberpunk-night": ("Cyberpunk night", "Cold magenta-blue night with glowing highlights.", [
        ("cool", "grade.white_balance", {"temperature": 4300.0, "tint": 22.0}),
        ("night", "grade.curves", {"master": "0,0 0.5,0.26 1,0.92", "blue": "0,0.12 0.5,0.58 1,1"}),
        ("neon", "grade.hue_saturation", {"saturation": 1.35}),
        ("glow", "grade.glow", {"threshold": 0.62, "radius": 18.0, "intensity": 0.9}),
    ], [("cool.tint", "Magenta", "Colour", -60.0, 60.0), ("glow.intensity", "Neon glow", "Light", 0.0, 2.0)]),
    "vhs": ("VHS", "Soft, smeared colour and noisy tape grain of a home video.", [
        ("soft", "grade.blur", {"radius": 1.3}),
        ("bleed", "grade.hue_saturation", {"saturation": 1.25, "hue": 4.0}),
        ("tape", "grade.grain", {"amount": 0.32, "size": 2.0, "chroma": 0.6, "seed": 3}),
        ("dim", "grade.vignette", {"amount": 0.22}),
    ], [("tape.amount", "Tape noise", "Texture", 0.0, 1.0), ("soft.radius", "Softness", "Texture", 0.0, 8.0)]),
}


def build(name: str, spec: tuple, registry, video: bool = False):
    """The Look ``name``: for pictures, or (``video``) the same grades on every frame of a video,
    through each grading node's ``_video`` twin (graded lazily, each frame cached)."""
    from nodegraph.commands import AddNode, Connect
    from nodegraph.graph import Document
    from nodegraph.looks.make import Promote, make_look

    title, description, chain, promoted = spec
    port = "video" if video else "image"
    doc = Document()
    AddNode("video.load" if video else "image.load", id="source", params={"path": "sample"}, pos=(0, 0))(doc)
    prev = "source"
    for i, (nid, type_id, params) in enumerate(chain):
        AddNode(type_id + ("_video" if video else ""), id=nid, params=params, pos=(260 * (i + 1), 0))(doc)
        Connect(prev, port, nid, port)(doc)
        prev = nid
    AddNode("video.save_mp4" if video else "image.save_png", id="sink", params={"filename": "x"},
            pos=(260 * (len(chain) + 1), 0))(doc)
    Connect(prev, port, "sink", port)(doc)
    if video:
        name, title, description = f"{name}-video", f"{title} (video)", f"{description} Every frame of a video."
    promote = []
    for ref, label, group, lo, hi in promoted:
        node, param = ref.split(".")
        twice = sum(1 for r in promoted if r[0].split(".")[1] == param) > 1
        promote.append(Promote(node, param, name=f"{node}_{param}" if twice else param, label=label, group=group,
                               min=lo, max=hi))
    return make_look(doc, [n for n, _, _ in chain], f"{NS}/{name}", "1.0.0", registry, promote=promote, title=title,
                     description=description, source="ships with nodegraph (pip install nodegraph)")


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from nodegraph import fileformat
    from nodegraph.looks import LookLibrary, save, with_looks
    from nodegraph.looks.gallery import gallery_graph
    from nodegraph.looks.render import load_sample, thumbnail_png
    from nodegraph.registry import default_registry

    registry = default_registry()
    sample = load_sample(HERE / "sample.png")
    OUT.mkdir(exist_ok=True)
    made = []
    for name, spec in LOOKS.items():
        look = build(name, spec, registry)
        lib = LookLibrary([])
        lib.add(look)
        look.thumbnail = thumbnail_png(look, with_looks(registry, library=lib), sample)
        path = OUT / look.file_name()
        save(look, path)
        made.append(look)
        print(f"wrote {path.relative_to(ROOT)}")
        twin = build(name, spec, registry, video=True)
        twin.thumbnail = look.thumbnail  # the same grades, frame by frame: the same picture
        save(twin, OUT / twin.file_name())
        print(f"wrote {(OUT / twin.file_name()).relative_to(ROOT)}")
    doc = gallery_graph(made, "../assets/looks/sample.png")
    fileformat.save(doc, ROOT / "graphs" / "looks_gallery.json")
    print("wrote graphs/looks_gallery.json")


if __name__ == "__main__":
    main()
