"""Exporting a Timeline for other editors: OpenTimelineIO (.otio) and Final Cut Pro 7 XML.

The exported timeline is an edit of the *rendered movie*: every clip points into that one file at
the time where the shot sits in it, so an editor opens the cut with the shots, crossfades and
music already placed and can trim, reorder or replace them. Each OTIO item carries
``metadata["nodegraph"]`` with the id of the graph node that made it, and the timeline carries
the graph itself and its provenance record (``nodegraph provenance FILE``), so a conform can go
back to the node that made a shot.

Crossfades are OTIO ``SMPTE_Dissolve`` transitions centred on the cut: each clip item runs from
cut to cut and the transition borrows the overlapping frames as handles (``in_offset`` before
the cut, ``out_offset`` after). ``clip.visible_range()`` is then exactly where the shot sits in
the rendered movie, and the track is exactly as long as the picture.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from nodegraph import Choice, Context, GraphKeys, Path, Text, Timeline, atomic_path, node, safe_join

FORMATS = {"otio": (".otio", "otio_json"), "fcp7_xml": (".xml", "fcp_xml")}


@dataclass
class _Item:
    """A clip on a track in frames: record range [left, right), which is also the source range
    in the rendered movie; ``fade_in`` is the transition (frames) shared with the item before."""

    left: int
    right: int
    name: str
    meta: dict
    fade_in: int = 0


@node("timeline.export_otio", title="Export timeline (OTIO)", category="Output", output=True, cost="io")
def export_otio(timeline: Timeline, media: Text = "video.mp4", filename: Text(output_file=(".otio", ".xml")) = "timeline.otio",
                format: Choice("otio", "fcp7_xml") = "otio", ctx: Context = None) -> Path:
    """Write the timeline as OpenTimelineIO or Final Cut Pro 7 XML for an editing program.

    Track V1 holds the shots (with their crossfades), A1 each shot's dialogue and A2 the music
    and other timeline audio (A3 and on when music clips overlap). Every clip points into the
    rendered movie ``media`` at the time where it sits, and names the node that made it.

    Args:
        media: file name, inside the output folder, of the rendered movie the clips refer to.
        filename: file name inside the output folder (the extension follows the format).
        format: "otio" (lossless, keeps the graph) or "fcp7_xml" (Premiere, Resolve, Final Cut 7).
    """
    import opentimelineio as otio

    if not timeline.clips and not timeline.audio:
        raise ValueError("the timeline is empty: it has no shots and no audio to export")
    fps = timeline.fps
    if fps <= 0:
        raise ValueError(f"the timeline's frame rate must be positive, got {fps}")
    rate = float(fps)
    total = _frames(timeline.duration, fps)
    if total <= 0:
        raise ValueError(f"the timeline is {timeline.duration:g} s long, shorter than one frame at {_fps_text(fps)} fps")

    ext, adapter = FORMATS[format]
    filename = _with_extension(filename, ext)
    target = ctx.output_path(filename, "filename")
    media_path = safe_join(ctx.output_dir, media, "param 'media': output file name")
    url = media_path.as_uri()

    def rt(frames: int) -> Any:
        return otio.opentime.RationalTime(frames, rate)

    def tr(start: int, duration: int) -> Any:
        return otio.opentime.TimeRange(rt(start), rt(duration))

    shots, dialogue = _shot_items(timeline, fps)
    music = _music_lanes(timeline, fps, total)

    otl = otio.schema.Timeline(name=target.stem, global_start_time=rt(0))
    otl.metadata[GraphKeys.otio] = {
        "graph": ctx.graph_text, "node": ctx.node_id, "media": media,
        "width": timeline.width, "height": timeline.height, "fps": _fps_text(fps),
        "duration": timeline.duration,
    }
    made = ctx.provenance(target)  # None with --no-embed
    if made is not None and made.get("record") is not None:
        otl.metadata[GraphKeys.otio][GraphKeys.provenance] = made["record"]
    tracks = [("V1", otio.schema.TrackKind.Video, shots), ("A1", otio.schema.TrackKind.Audio, dialogue)]
    tracks += [(f"A{k + 2}", otio.schema.TrackKind.Audio, lane) for k, lane in enumerate(music or [[]])]
    for name, kind, items in tracks:
        track = otio.schema.Track(name=name, kind=kind)
        position = 0
        for item in items:
            if item.left > position:
                track.append(otio.schema.Gap(source_range=tr(position, item.left - position)))
            if item.fade_in:
                before = item.fade_in // 2
                track.append(otio.schema.Transition(
                    name="Cross dissolve", transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                    in_offset=rt(before), out_offset=rt(item.fade_in - before)))
            clip = otio.schema.Clip(
                name=item.name, source_range=tr(item.left, item.right - item.left),
                media_reference=otio.schema.ExternalReference(target_url=url, available_range=tr(0, total)))
            clip.metadata["nodegraph"] = item.meta
            track.append(clip)
            position = item.right
        otl.tracks.append(track)

    with atomic_path(target) as tmp:
        otio.adapters.write_to_file(otl, str(tmp), adapter_name=adapter)
    if not media_path.exists():
        ctx.log(f"{media} is not in the output folder yet; the timeline refers to it by name")
    return str(target)


def _shot_items(timeline: Timeline, fps: Fraction) -> tuple[list[_Item], list[_Item]]:
    """V1 items (every shot, cut to cut) and A1 items (shots with sound)."""
    clips = timeline.clips
    starts = timeline.starts()
    begin = [_frames(s, fps) for s in starts]
    end = [_frames(s + c.duration, fps) for s, c in zip(starts, clips)]
    for i, c in enumerate(clips):
        if end[i] <= begin[i]:
            raise ValueError(f"shot {_name(c, i)!r} is {c.duration:g} s long, shorter than one frame "
                             f"at {_fps_text(fps)} fps")
    # frames shared with the previous shot (a crossfade) and the cut in its middle
    fade = [0] + [max(0, end[i - 1] - begin[i]) if clips[i].transition > 0 else 0 for i in range(1, len(clips))]
    cut = [begin[i] + fade[i] // 2 for i in range(len(clips))]

    def meta(c: Any, i: int, kind: str) -> dict:
        return {"node": c.node, "label": c.label or _name(c, i), "kind": kind, "index": i,
                "start": starts[i], "duration": c.duration, "transition": c.transition if fade[i] else 0.0}

    shots = []
    for i, c in enumerate(clips):
        left = cut[i] if fade[i] else begin[i]
        right = cut[i + 1] if i + 1 < len(clips) and fade[i + 1] else end[i]
        fade_out = fade[i + 1] if i + 1 < len(clips) else 0
        if right <= left or fade[i] + fade_out > end[i] - begin[i]:
            raise ValueError(
                f"shot {_name(c, i)!r} ({c.duration:g} s) is shorter than the crossfades into and out of it "
                f"together; an editing timeline cannot show three shots at once, so shorten a crossfade")
        shots.append(_Item(left, right, _name(c, i), meta(c, i, "shot"), fade[i]))

    dialogue: list[_Item] = []
    for i, c in enumerate(clips):
        if c.audio is None:
            continue
        joined = bool(dialogue) and dialogue[-1].meta["index"] == i - 1 and fade[i] > 0
        left = cut[i] if joined else begin[i]
        has_next = i + 1 < len(clips) and clips[i + 1].audio is not None and fade[i + 1] > 0
        right = cut[i + 1] if has_next else end[i]
        dialogue.append(_Item(left, right, f"{c.label or _name(c, i)} (dialogue)", meta(c, i, "dialogue"),
                              fade[i] if joined else 0))
    return shots, dialogue


def _music_lanes(timeline: Timeline, fps: Fraction, total: int) -> list[list[_Item]]:
    """The timeline's audio clips on as few tracks as needed so none overlap on a track."""
    lanes: list[list[_Item]] = []
    order = sorted(range(len(timeline.audio)), key=lambda k: (timeline.audio[k].start, k))
    for k in order:
        a = timeline.audio[k]
        left = max(0, _frames(a.start, fps))
        right = min(total, _frames(a.start + a.audio.duration, fps))
        if right <= left:
            continue
        label = a.label or a.node or f"audio {k + 1}"
        item = _Item(left, right, label, {"node": a.node, "label": label, "kind": "music", "index": k,
                                          "start": a.start, "duration": a.audio.duration, "gain_db": a.gain_db})
        for lane in lanes:
            if lane[-1].right <= left:
                lane.append(item)
                break
        else:
            lanes.append([item])
    return lanes


def _frames(seconds: float, fps: Fraction) -> int:
    """The frame at (or nearest to) a time; exact for times that are whole frames."""
    return math.floor(Fraction(seconds).limit_denominator(10**9) * fps + Fraction(1, 2))


def _name(clip: Any, i: int) -> str:
    return clip.label or clip.node or f"shot {i + 1}"


def _fps_text(fps: Fraction) -> str:
    return str(fps.numerator) if fps.denominator == 1 else f"{fps.numerator}/{fps.denominator}"


def _with_extension(filename: str, ext: str) -> str:
    low = filename.lower()
    for other, _ in FORMATS.values():
        if low.endswith(other):
            return filename[: -len(other)] + ext
    return filename + ext
