"""Graphs carried inside the media files nodegraph writes, and opening a graph from any file.

Every PNG, MP4 and FLAC an output node writes embeds the canonical JSON of the graph that made it
and the folder its relative paths were relative to (``image.save_png``: PNG text chunks
``nodegraph:graph`` / ``nodegraph:base``; ``video.save_mp4``: container metadata
``nodegraph_graph`` / ``nodegraph_base``; ``audio.save`` as FLAC: the comment's JSON
``{"nodegraph": {"graph", "base"}}``). Those files, WAV files and OTIO timelines also carry the
provenance record of ``nodegraph.provenance`` (graph hash, nodegraph version, models with sha256
and licence, seeds, licence summary), read back by :func:`read_provenance`; ``GraphKeys`` names
where each kind of file holds it. The graph names no absolute path of the maker's machine
and the folder is recorded relative to the media file (``nodegraph.paths``: ``provenance_text``,
``base_for``; files from older versions recorded it absolute). The CLI (``nodegraph run
picture.png``) and the editor's File > Open read it back through :func:`load_graph_and_base`; reading never runs anything (the
graph text goes through the same untrusted-input parser as a graph file).
"""
from __future__ import annotations

import json
import os
import struct
from pathlib import Path

from .errors import GraphFileError
from .fileformat import load, loads
from .graph import Document

#: file endings that may carry a graph (everything else is read as a graph file)
MEDIA_WITH_GRAPHS = (".png", ".mp4", ".m4v", ".mov", ".flac")  # (nodegraph.policy names them too)
#: file endings that may carry a provenance record (``read_provenance``; a WAV carries no graph)
MEDIA_WITH_PROVENANCE = MEDIA_WITH_GRAPHS + (".wav", ".otio")


class GraphKeys:
    """Where a written file carries the graph that made it and its provenance record
    (``nodegraph.provenance``): the writers (node packs) and the readers below share these names."""

    png_node, png_graph, png_base = "nodegraph:node", "nodegraph:graph", "nodegraph:base"     # PNG text chunks
    png_provenance = "nodegraph:provenance"                                                   # PNG iTXt chunk
    mp4_node, mp4_graph, mp4_base = "nodegraph_node", "nodegraph_graph", "nodegraph_base"     # container metadata
    mp4_provenance = "nodegraph_provenance"  # (the mp4 muxer keeps it with movflags=use_metadata_tags)
    #: the FLAC comment is the JSON {"nodegraph": {"node", "type", "graph", "base", "provenance"}};
    #: a WAV's LIST/INFO ICMT field (``add_wav_info``) the JSON {"nodegraph": {"node", "type", "provenance"}}
    flac = "nodegraph"
    provenance = "provenance"  # the record's key in the FLAC/WAV JSON and in OTIO's metadata["nodegraph"]
    otio = "nodegraph"  # OTIO: timeline.metadata["nodegraph"] = {"graph", "node", ..., "provenance"}


def add_wav_info(path: str | os.PathLike, fields: dict[str, str]) -> None:
    """Append a RIFF ``LIST``/``INFO`` chunk holding ``fields`` (four-letter ids such as ``ICMT``
    comment, ``ISFT`` software: text of any length; libsndfile's own writer drops a comment past
    about 2 KB) to the WAV file ``path`` and fix its RIFF size. Call it on the writer's temporary
    file, after the sound is written. Raises ``ValueError`` naming the file when it is not RIFF
    WAVE or would pass 4 GiB."""
    body = b"INFO"
    for cid, text in fields.items():
        if len(cid) != 4 or not cid.isascii():
            raise ValueError(f"a RIFF INFO id is four ASCII letters, got {cid!r}")
        data = text.encode("utf-8") + b"\0"
        body += cid.encode("ascii") + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")
    chunk = b"LIST" + struct.pack("<I", len(body)) + body
    with open(path, "r+b") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise ValueError(f"{path} is not a RIFF WAVE file")
        end = f.seek(0, os.SEEK_END)
        if end % 2:  # chunks start on even offsets
            f.write(b"\0")
            end += 1
        if end + len(chunk) - 8 > 0xFFFFFFFF:
            raise ValueError(f"{path}: the WAV file would pass 4 GiB with its metadata")
        f.write(chunk)
        f.seek(4)
        f.write(struct.pack("<I", end + len(chunk) - 8))


def _wav_info(path: str, limit: int = 64 << 20) -> dict[str, str]:
    """The ``LIST``/``INFO`` fields of a WAV file (the last one of each id wins); the file is read
    as untrusted input (sizes checked, at most ``limit`` bytes of metadata)."""
    out: dict[str, str] = {}
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise ValueError("not a RIFF WAVE file")
        size = f.seek(0, os.SEEK_END)
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            cid, n = struct.unpack("<4sI", f.read(8))
            if cid == b"LIST" and 4 <= n <= limit and pos + 8 + n <= size:
                body = f.read(n)
                if body[:4] == b"INFO":
                    i = 4
                    while i + 8 <= len(body):
                        sid, m = struct.unpack("<4sI", body[i:i + 8])
                        if i + 8 + m > len(body):
                            break
                        out[sid.decode("latin-1")] = body[i + 8:i + 8 + m].split(b"\0", 1)[0].decode("utf-8", "replace")
                        i += 8 + m + (m % 2)
            pos += 8 + n + (n % 2)
    return out


def _audio_made(path: str) -> dict:
    """The ``{"node", "type", "graph", "base", "provenance"}`` a FLAC comment or WAV INFO comment holds."""
    if path.lower().endswith(".wav"):
        text = _wav_info(path).get("ICMT", "")
    else:
        import soundfile as sf

        with sf.SoundFile(path) as f:
            text = f.comment or ""
    try:
        made = json.loads(text or "{}").get(GraphKeys.flac, {})
    except (ValueError, AttributeError):
        made = {}
    return made if isinstance(made, dict) else {}


def read_embedded_graph(path: str) -> tuple[str, str] | None:
    """The graph a nodegraph PNG, MP4 or FLAC file embeds and the folder its relative paths were
    relative to (absolute), or None when the file carries no graph."""
    low = path.lower()
    if low.endswith(".flac"):
        made = _audio_made(path)
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


def read_provenance(path: str) -> dict | None:
    """The provenance record (``nodegraph.provenance``) a PNG, MP4/M4V/MOV, FLAC, WAV or OTIO file
    nodegraph wrote carries, or None when it carries none. Raises ``GraphFileError`` naming the
    file when it does not exist, is not one of these kinds, or cannot be read. Reading never runs
    anything: the record is JSON, parsed as untrusted text."""
    p = Path(path)
    low = p.name.lower()
    if not low.endswith(MEDIA_WITH_PROVENANCE):
        raise GraphFileError(path, "nodegraph reads provenance from PNG, MP4, M4V, MOV, FLAC, WAV and OTIO files only")
    if not p.is_file():
        raise GraphFileError(path, "no such file")
    try:
        if low.endswith(".png"):
            from PIL import Image as PILImage

            with PILImage.open(path) as im:
                text = getattr(im, "text", {}).get(GraphKeys.png_provenance)
        elif low.endswith((".flac", ".wav")):
            text = _audio_made(path).get(GraphKeys.provenance)
        elif low.endswith(".otio"):
            if p.stat().st_size > 256 << 20:
                raise ValueError("larger than 256 MiB")
            with open(path, "rb") as f:
                data = json.loads(f.read())
            meta = data.get("metadata", {}) if isinstance(data, dict) else {}
            made = meta.get(GraphKeys.otio, {}) if isinstance(meta, dict) else {}
            text = made.get(GraphKeys.provenance) if isinstance(made, dict) else None
        else:
            import av

            with av.open(path) as c:
                text = c.metadata.get(GraphKeys.mp4_provenance)
    except GraphFileError:
        raise
    except Exception as e:  # not a readable image, sound, video or timeline
        raise GraphFileError(path, f"cannot read the file: {e}") from None
    if text is None or text == "":
        return None
    if isinstance(text, dict):  # OTIO and the audio JSON hold the record as an object
        return text
    try:
        record = json.loads(text)
    except ValueError as e:
        raise GraphFileError(path, f"its provenance record is not valid JSON: {e}") from None
    if not isinstance(record, dict):
        raise GraphFileError(path, "its provenance record is not a JSON object")
    return record


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


__all__ = ["MEDIA_WITH_GRAPHS", "MEDIA_WITH_PROVENANCE", "GraphKeys", "add_wav_info", "read_embedded_graph",
           "read_provenance", "load_graph_and_base", "load_graph"]
