"""Timeline export: OpenTimelineIO and FCP7 XML that read back with the same cut."""
from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import opentimelineio as otio
import pytest

from nodegraph import AudioClip, Audio, Clip, Int, Timeline, Video, node
from nodegraph.commands import AddNode, Batch, Connect
from nodegraph.context import Context
from nodegraph.errors import UnsafePath
from nodegraph.evaluate import Evaluator
from nodegraph.graph import Document
from nodes.export import export_otio

FPS = 25


def _video(seconds: float, shade: int) -> Video:
    return Video.from_frames([np.full((4, 4, 3), shade, np.uint8)] * round(seconds * FPS), FPS)


def _audio(seconds: float, rate: int = 8000, channels: int = 1) -> Audio:
    return Audio(np.zeros((round(seconds * rate), channels), np.float32), rate)


def make_timeline(music: bool = True) -> Timeline:
    """2 s | 0.4 s crossfade | 3 s | cut | 1 s (no sound) | 0.6 s crossfade | 2 s; music from 1 s."""
    clips = (
        Clip(2.0, _video(2.0, 10), _audio(2.0), "intro", 0.0, "shot_a"),
        Clip(3.0, _video(3.0, 60), _audio(3.0), "talk", 0.4, "shot_b"),
        Clip(1.0, _video(1.0, 110), None, "", 0.0, "shot_c"),
        Clip(2.0, _video(2.0, 160), _audio(2.0), "outro", 0.6, "shot_d"),
    )
    audio = (AudioClip(_audio(4.0, channels=2), 1.0, -6.0, "theme", "music_1"),) if music else ()
    return Timeline(64, 36, Fraction(FPS), clips, audio)


def _ctx(tmp_path, graph: str = "") -> Context:
    return Context("export", "timeline.export_otio", output_dir=tmp_path, base_dir=tmp_path,
                   graph_text=lambda: graph)


def _frames(rt) -> float:
    return rt.rescaled_to(FPS).value


def test_otio_has_the_shots_dialogue_and_music_where_they_sit(tmp_path):
    tl = make_timeline()
    assert tl.starts() == pytest.approx([0.0, 1.6, 4.6, 5.0])
    path = export_otio(tl, ctx=_ctx(tmp_path, '{"nodes": "the graph"}'))
    assert path == str(tmp_path / "timeline.otio")
    t = otio.adapters.read_from_file(path)

    assert [(tr.name, tr.kind) for tr in t.tracks] == [("V1", "Video"), ("A1", "Audio"), ("A2", "Audio")]
    v1, a1, a2 = t.tracks
    total = round(tl.duration * FPS)
    assert total == 175
    assert _frames(t.duration()) == total and _frames(v1.duration()) == total

    # shots: names, node ids, where each sits in the rendered movie (handles included)
    shots = list(v1.find_clips())
    assert [c.name for c in shots] == ["intro", "talk", "shot_c", "outro"]
    meta = [c.metadata["nodegraph"] for c in shots]
    assert [m["node"] for m in meta] == ["shot_a", "shot_b", "shot_c", "shot_d"]
    assert {m["kind"] for m in meta} == {"shot"}
    assert meta[2]["label"] == "shot_c"
    for clip, start, c in zip(shots, tl.starts(), tl.clips):
        seen = clip.visible_range()
        assert (_frames(seen.start_time), _frames(seen.duration)) == (round(start * FPS), round(c.duration * FPS))
        # an edit of the rendered movie: each item plays the movie at its own place on the track
        assert v1.range_of_child(clip).start_time == clip.source_range.start_time
    # cut to cut: 0-45 | 45-115 | 115-132 | 132-175 (crossfades of 10 and 15 frames)
    assert [(_frames(c.source_range.start_time), _frames(c.source_range.duration)) for c in shots] == [
        (0, 45), (45, 70), (115, 17), (132, 43)]
    transitions = [i for i in v1 if isinstance(i, otio.schema.Transition)]
    assert [i.transition_type for i in transitions] == [otio.schema.TransitionTypes.SMPTE_Dissolve] * 2
    assert [(_frames(i.in_offset), _frames(i.out_offset)) for i in transitions] == [(5, 5), (7, 8)]
    assert [round(_frames(i.duration()) / FPS, 6) for i in transitions] == [0.4, 0.6]
    assert v1.index(transitions[0]) == 1 and v1.index(transitions[1]) == 4

    media = tmp_path.resolve() / "video.mp4"
    for clip in shots:
        ref = clip.media_reference
        assert ref.target_url == media.as_uri() and ref.target_url.startswith("file:///")
        assert _frames(ref.available_range.duration) == total

    # dialogue: the three shots with sound, the silent one leaves a gap
    talk = list(a1.find_clips())
    assert [c.name for c in talk] == ["intro (dialogue)", "talk (dialogue)", "outro (dialogue)"]
    assert [c.metadata["nodegraph"]["node"] for c in talk] == ["shot_a", "shot_b", "shot_d"]
    assert {c.metadata["nodegraph"]["kind"] for c in talk} == {"dialogue"}
    assert [(_frames(c.visible_range().start_time), _frames(c.visible_range().duration)) for c in talk] == [
        (0, 50), (40, 75), (125, 50)]
    assert sum(isinstance(i, otio.schema.Transition) for i in a1) == 1
    assert any(isinstance(i, otio.schema.Gap) for i in a1)
    assert _frames(a1.duration()) == total

    # music at its start, after a gap
    items = list(a2)
    assert isinstance(items[0], otio.schema.Gap) and _frames(items[0].duration()) == 25
    (theme,) = a2.find_clips()
    assert theme.name == "theme" and _frames(theme.source_range.duration) == 100
    assert theme.metadata["nodegraph"] == {
        "node": "music_1", "label": "theme", "kind": "music", "index": 0, "start": 1.0, "duration": 4.0,
        "gain_db": -6.0}

    assert t.metadata["nodegraph"]["graph"] == '{"nodes": "the graph"}'
    assert t.metadata["nodegraph"]["fps"] == "25"


def test_ntsc_rate_and_overlapping_music(tmp_path):
    clips = (Clip(1.0, None, _audio(1.0), "a", 0.0, "n1"), Clip(1.0, None, None, "b", 0.5, "n2"))
    music = (AudioClip(_audio(1.0), 0.0, 0.0, "", "m1"), AudioClip(_audio(1.0), 0.5, 0.0, "sting", "m2"))
    tl = Timeline(64, 36, Fraction(30000, 1001), clips, music)
    t = otio.adapters.read_from_file(export_otio(tl, ctx=_ctx(tmp_path)))
    assert [tr.name for tr in t.tracks] == ["V1", "A1", "A2", "A3"]  # overlapping music: a lane each
    assert [c.name for tr in t.tracks[2:] for c in tr.find_clips()] == ["m1", "sting"]
    rate = t.tracks[0].find_clips()[0].source_range.duration.rate
    assert rate == pytest.approx(30000 / 1001)
    assert t.duration().rescaled_to(rate).value == round(1.5 * 30000 / 1001)


def test_fcp7_xml_keeps_both_tracks_and_the_crossfades(tmp_path):
    path = export_otio(make_timeline(), format="fcp7_xml", ctx=_ctx(tmp_path))
    assert path == str(tmp_path / "timeline.xml")  # the extension follows the format
    assert not (tmp_path / "timeline.otio").exists()
    t = otio.adapters.read_from_file(path, adapter_name="fcp_xml")
    kinds = [tr.kind for tr in t.tracks]
    assert kinds == ["Video", "Audio", "Audio"]
    video, dialogue, music = t.tracks
    assert [c.name for c in video.find_clips()] == ["intro", "talk", "shot_c", "outro"]
    assert [c.name for c in music.find_clips()] == ["theme"]
    assert len(list(dialogue.find_clips())) == 3
    fades = [i for i in video if isinstance(i, otio.schema.Transition)]
    assert [(_frames(i.in_offset), _frames(i.out_offset)) for i in fades] == [(5, 5), (7, 8)]
    assert _frames(t.duration()) == 175
    # cut to cut ranges survive the round trip (no re-splitting of overlapping clips)
    assert [_frames(c.source_range.duration) for c in video.find_clips()] == [45, 70, 17, 43]
    assert "file://" in (tmp_path / "timeline.xml").read_text()


def test_errors_are_clear(tmp_path):
    with pytest.raises(ValueError, match="timeline is empty"):
        export_otio(Timeline(64, 36, Fraction(FPS)), ctx=_ctx(tmp_path))
    squeezed = Timeline(64, 36, Fraction(FPS), (
        Clip(2.0, None, None, "a"), Clip(1.0, None, None, "b", 0.9), Clip(2.0, None, None, "c", 1.0)))
    with pytest.raises(ValueError, match="'b'.*shorter than the crossfades"):
        export_otio(squeezed, ctx=_ctx(tmp_path))
    with pytest.raises(UnsafePath):
        export_otio(make_timeline(), media="../elsewhere.mp4", ctx=_ctx(tmp_path))
    with pytest.raises(UnsafePath):
        export_otio(make_timeline(), filename="/tmp/x.otio", ctx=_ctx(tmp_path))


@node("t_export.timeline", title="Test timeline")
def _timeline_node(shots: Int(min=1, max=4) = 4) -> Timeline:
    tl = make_timeline()
    return Timeline(tl.width, tl.height, tl.fps, tl.clips[:shots], tl.audio)


def test_through_the_evaluator_with_the_graph_inside(tmp_path, registry):
    from nodegraph.registry import Registry

    reg = Registry()
    for spec in registry.specs.values():
        reg.add(spec)
    reg.add(_timeline_node.__nodegraph__)
    doc = Document()
    Batch([AddNode("t_export.timeline", "cut", {"shots": 2}),
           AddNode("timeline.export_otio", "export", {"media": "movie.mp4", "filename": "cut.otio"}),
           Connect("cut", "timeline", "export", "timeline")])(doc)
    result = Evaluator(reg, output_dir=tmp_path).run(doc)
    assert result.ok, result.report()
    t = otio.adapters.read_from_file(str(tmp_path / "cut.otio"))
    graph = json.loads(t.metadata["nodegraph"]["graph"])
    assert "export" in json.dumps(graph) and "t_export.timeline" in json.dumps(graph)
    clips = list(t.tracks[0].find_clips())
    assert [c.metadata["nodegraph"]["node"] for c in clips] == ["shot_a", "shot_b"]
    assert clips[0].media_reference.target_url == (tmp_path.resolve() / "movie.mp4").as_uri()
    assert _frames(t.duration()) == 115  # as long as the pictures (4.6 s): music running past them is cut, as in the render
