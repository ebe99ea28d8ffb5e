"""The gallery graph: one frame through every Look, side by side in a labelled contact sheet.

``nodegraph looks gallery`` writes it for the Looks installed here; ``graphs/looks_gallery.json``
is the same for the Looks that ship with nodegraph (``assets/looks/make_looks.py`` writes it).
It uses the built-in ``image.load``, ``preview.contact_sheet`` and ``image.save_png`` node types
by name (a graph file, like any template; nothing of a pack is imported).
"""
from __future__ import annotations

from typing import Iterable

from ..commands import AddNode, Connect, SetParam
from ..graph import Document
from .model import Look


def gallery_graph(looks: Iterable[Look], sample: str, columns: int = 3) -> Document:
    doc = Document()
    doc.meta = {"title": "Looks gallery",
                "description": "Each Look applied to one frame of the talking-character demo, side by side in a "
                               "labelled contact sheet (looks_gallery.png). `nodegraph looks gallery` writes this "
                               "graph for every Look installed on your machine."}
    looks = list(looks)
    rows = max(1, (len(looks) + 1) // 2)  # instances in two columns, a node's height apart
    AddNode("image.load", id="frame", params={"path": sample}, pos=(0, 80 * rows), label="Frame")(doc)
    AddNode("preview.contact_sheet", id="sheet", params={"columns": columns, "cell_width": 320},
            pos=(960, 80 * rows))(doc)
    Connect("frame", "image", "sheet", "images", append=True)(doc)
    labels = ["Original"]
    for i, look in enumerate(looks):
        nid = doc.new_id(look.type_id)
        AddNode(look.type_id, id=nid, version=look.version, pos=(300 + 320 * (i % 2), 170 * (i // 2)),
                label=look.title)(doc)
        Connect("frame", "image", nid, look.image_port("inputs"))(doc)
        Connect(nid, look.image_port("outputs"), "sheet", "images", append=True)(doc)
        labels.append(look.title or look.id)
    SetParam("sheet", "labels", "\n".join(labels))(doc)
    AddNode("image.save_png", id="save", params={"filename": "looks_gallery.png"}, pos=(1260, 80 * rows))(doc)
    Connect("sheet", "image", "save", "image")(doc)
    doc.revision = doc.structure_revision = 0
    doc.change_log.clear()
    return doc


def takes_pictures(look: Look) -> bool:
    """Whether a Look can stand in the gallery: an image in, an image out, nothing else required."""
    return len(look.inputs) == 1 and look.image_port("inputs") is not None and look.image_port("outputs") is not None
