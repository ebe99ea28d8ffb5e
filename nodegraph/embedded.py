"""Graphs carried inside the media files nodegraph writes, and opening a graph from any file.

Every PNG, MP4 and FLAC an output node writes embeds the canonical JSON of the graph that made it
and the folder its relative paths were relative to (``image.save_png``: PNG text chunks
``nodegraph:graph`` / ``nodegraph:base``; ``video.save_mp4``: container metadata
``nodegraph_graph`` / ``nodegraph_base``; ``audio.save`` as FLAC: the comment's JSON
``{"nodegraph": {"graph", "base"}}``). The graph names no absolute path of the maker's machine
and the folder is recorded relative to the media file (``nodegraph.paths``: ``provenance_text``,
``base_for``; files from older versions recorded it absolute). The CLI (``nodegraph run
picture.png``) and the editor's File > Open read it back through :func:`load_graph_and_base`; reading never runs anything (the
graph text goes through the same untrusted-input parser as a graph file).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from .errors import GraphFileError
from .fileformat import load, loads
from .graph import Document

#: file endings that may carry a graph (everything else is read as a graph file)
MEDIA_WITH_GRAPHS = (".png", ".mp4", ".m4v", ".mov", ".flac")


class GraphKeys:
    """Where a written file carries the graph that made it: the writers (node packs) and the
    reader below share these names."""

    png_node, png_graph, png_base = "nodegraph:node", "nodegraph:graph", "nodegraph:base"     # PNG text chunks
    mp4_node, mp4_graph, mp4_base = "nodegraph_node", "nodegraph_graph", "nodegraph_base"     # container metadata
    flac = "nodegraph"      # the FLAC comment is the JSON {"nodegraph": {"node", "type", "graph", "base"}}


def read_embedded_graph(path: str) -> tuple[str, str] | None:
    """The graph a nodegraph PNG, MP4 or FLAC file embeds and the folder its relative paths were
    relative to (absolute), or None when the file carries no graph."""
    low = path.lower()
    if low.endswith(".flac"):
        import soundfile as sf

        with sf.SoundFile(path) as f:
            try:
                made = json.loads(f.comment or "{}").get(GraphKeys.flac, {})
            except ValueError:
                made = {}
        graph, base = made.get("graph"), made.get("base", "")
    elif low.endswith(".png"):
        from PIL import Image as PILImage

        with PILImage.open(path) as im:
            text = getattr(im, "text", {})
            graph, base = text.get(GraphKeys.png_graph), text.get(GraphKeys.png_base, "")
    else:
        import av

        with av.open(path) as c:
            graph, base = c.metadata.get(GraphKeys.mp4_graph), c.metadata.get(GraphKeys.mp4_base, "")
    if graph and base and not Path(base).is_absolute():  # recorded relative to the file's own folder
        base = os.path.normpath(Path(path).resolve().parent / base)
    return (graph, base) if graph else None


def load_graph_and_base(path: str) -> tuple[Document, Path]:
    """A graph file, or the graph embedded in a PNG/MP4/FLAC that nodegraph wrote, and the folder
    its relative paths are relative to. Raises ``GraphFileError`` naming the file."""
    if path.lower().endswith(MEDIA_WITH_GRAPHS):
        if not Path(path).is_file():
            raise GraphFileError(path, "no such file")
        try:
            found = read_embedded_graph(path)
        except Exception as e:  # not a readable image or video
            raise GraphFileError(path, f"cannot read the file: {e}") from None
        if found is None:
            raise GraphFileError(path, "this file carries no nodegraph graph (it was not made by nodegraph)")
        text, base = found
        doc = loads(text, source=f"{path} (embedded graph)")
        base_dir = Path(base) if base and Path(base).is_dir() else Path(path).resolve().parent
        return doc, base_dir
    return load(path), Path(path).resolve().parent


def load_graph(path: str) -> Document:
    """A graph file, or the graph embedded in a PNG/MP4/FLAC that nodegraph wrote."""
    return load_graph_and_base(path)[0]


__all__ = ["MEDIA_WITH_GRAPHS", "GraphKeys", "read_embedded_graph", "load_graph_and_base", "load_graph"]
