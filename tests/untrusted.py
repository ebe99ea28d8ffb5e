"""A small graph with every output node (text, PNG, WAV, subtitles, OTIO, MP4) on cheap inputs,
and the places a hostile folder could plant things next to its outputs. Used by
test_untrusted_io.py and test_fuzz_graphs.py; ``tree`` by the bundle tests."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from nodegraph.commands import AddNode, Batch, Connect
from nodegraph.graph import Document

#: output node -> the file it writes with the params below
WRITERS = {"st": "notes.txt", "sp": "card.png", "sa": "tone_out.wav", "ss": "lines_out.srt", "so": "cut.otio",
           "sm": "clip.mp4"}


def temp_names(name: str) -> list[str]:
    """Temp names a writer could plausibly pick for ``name`` (what the writers used before)."""
    return [f".{name}.tmp", f"{name}.part", f"{name}.tmp", f".{name}.part", f".{name}"]


def make_inputs(folder: Path) -> None:
    """The input files the writers graph reads: a short WAV and an SRT, in ``folder``."""
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(8000 * 4 // 10) / 8000
    sf.write(folder / "tone.wav", (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 8000)
    (folder / "lines.srt").write_text("1\n00:00:00,000 --> 00:00:00,300\nHello\n", encoding="utf-8")


def writers_graph() -> Document:
    doc = Document()
    Batch([
        AddNode("core.text", "t", {"value": "hello"}),
        AddNode("core.save_text", "st", {"filename": WRITERS["st"]}), Connect("t", "text", "st", "text"),
        AddNode("image.solid", "img", {"width": 64, "height": 36}),
        AddNode("image.save_png", "sp", {"filename": WRITERS["sp"]}), Connect("img", "image", "sp", "image"),
        AddNode("audio.load", "au", {"path": "tone.wav"}),
        AddNode("audio.save", "sa", {"filename": WRITERS["sa"]}), Connect("au", "audio", "sa", "audio"),
        AddNode("speech.load_subtitles", "sub", {"path": "lines.srt"}),
        AddNode("speech.subtitles_file", "ss", {"filename": WRITERS["ss"]}), Connect("sub", "subtitles", "ss", "subtitles"),
        AddNode("video.still", "vid", {"duration": 0.4, "fps": 10}), Connect("img", "image", "vid", "image"),
        AddNode("video.save_mp4", "sm", {"filename": WRITERS["sm"], "speed": "ultrafast"}),
        Connect("vid", "video", "sm", "video"), Connect("au", "audio", "sm", "audio"),
        AddNode("timeline.shot", "shot", {}), Connect("vid", "video", "shot", "video"), Connect("au", "audio", "shot", "audio"),
        AddNode("timeline.timeline", "tl", {"width": 64, "height": 36, "fps": 10}), Connect("shot", "clip", "tl", "shots"),
        AddNode("timeline.export_otio", "so", {"filename": WRITERS["so"], "media": WRITERS["sm"]}),
        Connect("tl", "timeline", "so", "timeline"),
    ])(doc)
    return doc


def tree(folder: Path) -> dict[str, int]:
    """Every path under ``folder`` (links not followed) with its size (-1 for folders): compared
    before and after, it shows that nothing was written outside a target folder."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for n in dirnames + filenames:
            p = Path(dirpath) / n
            out[str(p.relative_to(folder))] = -1 if p.is_dir() and not p.is_symlink() else os.lstat(p).st_size
    return out
