"""A Character reads the character.json beside its art; a param whose value comes from a link or
a file says so, in the inspector and in the run log, never silently."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from nodegraph import Character, Int, Text, node
from nodegraph.cache import Cache
from nodegraph.cli import main
from nodegraph.commands import AddNode, Batch, Connect
from nodegraph.editor.session import EditorSession
from nodegraph.evaluate import Evaluator
from nodegraph.fileformat import save as save_graph
from nodegraph.graph import Document
from nodegraph.node import DeclarationError

ROOT = Path(__file__).resolve().parent.parent
BODY = (200, 300)  # width, height
CELL = (20, 10)
DEFINITION = {"name": "Pat", "description": "a grey block", "mouth_anchor": [70, 210], "mouth_cell": list(CELL),
              "mouth_order": ["rest", "A", "E", "O", "U", "M", "F", "L"],
              "voice": {"variant": "m3", "pitch": 30, "rate": 140}}


@pytest.fixture
def folder(tmp_path):
    art = tmp_path / "pat"
    art.mkdir()
    PILImage.fromarray(np.full((BODY[1], BODY[0], 4), (120, 120, 120, 255), np.uint8)).save(art / "body.png")
    sheet = np.zeros((CELL[1], CELL[0] * 8, 4), np.uint8)
    sheet[:, :] = (255, 0, 255, 255)  # every mouth shape is a magenta block: easy to find
    PILImage.fromarray(sheet).save(art / "mouths.png")
    (art / "character.json").write_text(json.dumps(DEFINITION))
    return tmp_path


def graph(params: dict | None = None, speak: dict | None = None) -> Document:
    doc = Document()
    Batch([AddNode("image.load", "body", {"path": "pat/body.png"}),
           AddNode("image.load", "mouths", {"path": "pat/mouths.png"}),
           AddNode("character.character", "pat", {"definition": "pat/character.json", **(params or {})}),
           AddNode("core.text", "line", {"value": "Hello there."}),
           AddNode("voice.speak", "say", dict(speak or {})),
           AddNode("lipsync.visemes", "talk", {"pad_before": 0.25, "pad_after": 0.0}),
           Connect("body", "image", "pat", "image"), Connect("mouths", "image", "pat", "mouths"),
           Connect("line", "text", "say", "text"), Connect("pat", "character", "say", "character"),
           Connect("pat", "character", "talk", "character"), Connect("say", "speech", "talk", "speech")])(doc)
    return doc


def run(folder: Path, registry, doc: Document, targets=("talk",)):
    ev = Evaluator(registry, output_dir=folder / "out", base_dir=folder, cache=Cache(folder / "cache"))
    events = []
    try:
        return ev.run(doc, list(targets), on_event=events.append), events
    finally:
        ev.close()


def magenta_centre(frame: np.ndarray) -> tuple[float, float]:
    m = (frame[:, :, 0] > 200) & (frame[:, :, 1] < 60) & (frame[:, :, 2] > 200)
    ys, xs = np.nonzero(m)
    return float(xs.mean()), float(ys.mean())


def test_the_character_json_beside_the_art_sets_anchor_voice_and_name(folder, registry):
    result, events = run(folder, registry, graph())
    assert result.ok, [(n, r.error) for n, r in result.nodes.items() if r.error]
    pat = result.value("pat")
    assert (pat.name, pat.description) == ("Pat", "a grey block")
    assert (pat.voice.name, pat.voice.pitch, pat.voice.rate) == ("m3", 30, 140)
    assert pat.anchor == (70 / BODY[0], 210 / BODY[1]) and [n for n, _ in pat.sprites][:2] == ["rest", "A"]
    x, y = magenta_centre(result.value("talk").frame(0))  # the mouth is drawn at the file's anchor
    assert abs(x - 70) <= 1 and abs(y - 210) <= 1
    said = result.value("say")  # the speak node took the character's voice: same audio as set by hand
    from nodes.voice import speak

    assert said == speak("Hello there.", variant="m3", pitch=30, rate=140)
    logs = [e.data["message"] for e in events if e.kind == "log" and e.node == "pat"]
    assert logs and "mouth_x 70.0" in logs[0] and "voice 'm3'" in logs[0]


def test_params_set_on_the_node_win_over_the_file(folder, registry):
    result, events = run(folder, registry, graph({"mouth_x": 120.0, "pitch": 80}, {"rate": 300}))
    pat = result.value("pat")
    assert pat.anchor == (120 / BODY[0], 210 / BODY[1]) and (pat.voice.pitch, pat.voice.rate) == (80, 140)
    x, _ = magenta_centre(result.value("talk").frame(0))
    assert abs(x - 120) <= 1
    from nodes.voice import speak

    assert result.value("say") == speak("Hello there.", variant="m3", pitch=80, rate=300)
    logs = {e.node: e.data["message"] for e in events if e.kind == "log"}
    assert "set on the node instead: mouth_x, pitch" in logs["pat"]
    assert "rate 300 set here instead of character 'Pat''s 140" in logs["say"]
    assert "variant 'm3', pitch 80 from character 'Pat'" in logs["say"]


def test_editing_the_file_recomputes_the_character(folder, registry):
    doc = graph()
    run(folder, registry, doc)
    (folder / "pat" / "character.json").write_text(json.dumps({**DEFINITION, "mouth_anchor": [100, 100]}))
    result, _ = run(folder, registry, doc)
    assert result.nodes["pat"].status == "computed" and result.value("pat").anchor == (0.5, 100 / BODY[1])


@pytest.mark.parametrize("text, words", [
    ("{ nope", ["character.json", "not valid JSON at line 1"]),
    ('{"mouth_anchor": [1]}', ["character.json", "key 'mouth_anchor'", "two numbers"]),
    ('{"voice": {"pitch": 300}}', ["character.json", "key 'voice.pitch'", "0..99", "300"]),
    ('{"mouth_ancor": [1, 2]}', ["character.json", "key 'mouth_ancor'", "did you mean 'mouth_anchor'"]),
    ('{"mouth_cell": [30, 10]}', ["character.json", "key 'mouth_cell'", "30x10", "160x10"]),
    ('[1, 2]', ["character.json", "a JSON object"]),
])
def test_a_broken_character_json_names_the_file_and_the_key(folder, registry, text, words):
    (folder / "pat" / "character.json").write_text(text)
    result, _ = run(folder, registry, graph(), ["pat"])
    err = result.nodes["pat"].error
    assert result.nodes["pat"].status == "failed" and all(w in err for w in words), err


def test_a_missing_file_is_named_and_no_definition_means_the_nodes_defaults(folder, registry):
    (folder / "pat" / "character.json").unlink()
    result, _ = run(folder, registry, graph(), ["pat"])
    assert result.nodes["pat"].status == "failed" and "character.json" in result.nodes["pat"].error
    result, _ = run(folder, registry, graph({"definition": "", "mouth_x": 50.0, "mouth_y": 60.0}), ["pat"])
    pat = result.value("pat")
    assert (pat.name, pat.voice.name, pat.voice.pitch, pat.voice.rate) == ("Character", "f3", 50, 170)
    result, _ = run(folder, registry, graph({"definition": ""}), ["pat"])
    assert "set mouth_x and mouth_y, or a definition file" in result.nodes["pat"].error


def test_overrides_are_said_in_the_inspector_and_the_run_log(folder, registry, capsys):
    doc = graph(speak={"language": "fr"})
    Batch([AddNode("core.text", "lang", {"value": "en"}), Connect("lang", "text", "say", "language")])(doc)
    save_graph(doc, folder / "scene.json")
    s = EditorSession(registry, cache=Cache(folder / "cache"), config_dir=folder / "cfg", output_dir=folder / "out")
    try:
        s.open(folder / "scene.json")
        params = {p.name: p for p in s.inspector("say").params}
        assert params["pitch"].overridden_by == "the linked character ('pat')" and params["pitch"].value is None
        assert params["language"].overridden_by == "the link from 'lang.text'" and params["language"].linked
        assert params["text"].overridden_by == "the link from 'line.text'"
        mouth = {p.name: p for p in s.inspector("pat").params}["mouth_x"]
        assert mouth.overridden_by == "definition 'pat/character.json'"
        pin = {p.name: p for p in s.node_view("pat").inputs}["mouth_x"]  # the pin shows no default 0
        assert pin.value is None and pin.overridden_by == "definition 'pat/character.json'"
        s.set_param("say", "pitch", 40)  # set here: the node's own value is used, nothing to say
        assert {p.name: p for p in s.inspector("say").params}["pitch"].overridden_by == ""
        assert s.run(["talk"]) is None and s.wait()
        log = "\n".join(s.log)
        assert "warning: node 'say': param 'language' = 'fr' set on the node is not used: the link from " \
               "'lang.text' overrides it" in log
        assert "note: node 'say': variant, rate: left unset here, so taken from the linked character ('pat')" in log
        assert "note: node 'pat': name, description, mouth_x, mouth_y, mouth_order, voice, pitch, rate: left unset " \
               "here, so taken from definition 'pat/character.json'" in log
        assert "say: variant 'm3', rate 140 from character 'Pat'; pitch 40 set here instead of character 'Pat''s 30" in log
    finally:
        s.close()
    assert main(["run", str(folder / "scene.json"), "--output", str(folder / "o2"), "--cache-dir",
                 str(folder / "cache"), "--target", "talk"]) == 0
    out = capsys.readouterr().out
    assert "warning: node 'say': param 'language' = 'fr' set on the node is not used" in out


def test_declaring_where_a_default_comes_from_is_checked():
    @node("t.ok", defaults_from={"pitch": "who"})
    def ok(who: Character | None = None, pitch: Int(min=0, max=99) | None = None) -> Text:
        return ""

    spec = ok.__nodegraph__
    assert spec.defaults_from == (("pitch", "who"),) and spec.input("pitch").type.opts == {"min": 0, "max": 99}
    with pytest.raises(ValueError, match="above the maximum|99"):
        spec.input("pitch").type.check(120)
    with pytest.raises(DeclarationError, match="defaults_from: 'tone' is not a param with a default"):
        @node("t.bad", defaults_from={"tone": "who"})
        def bad(who: Character | None = None, pitch: Int | None = None) -> Text:
            return ""
    with pytest.raises(DeclarationError, match="the source of 'pitch', 'nobody', is not another input"):
        @node("t.bad2", defaults_from={"pitch": "nobody"})
        def bad2(who: Character | None = None, pitch: Int | None = None) -> Text:
            return ""


def test_the_report_lists_the_overrides(folder, tmp_path):
    doc = graph(speak={"language": "fr"})
    Batch([AddNode("core.text", "lang", {"value": "en"}), Connect("lang", "text", "say", "language")])(doc)
    save_graph(doc, folder / "scene.json")
    report = tmp_path / "report.json"
    assert main(["run", str(folder / "scene.json"), "--output", str(folder / "o3"), "--cache-dir", str(folder / "cache"),
                 "--target", "say", "--report", str(report), "-q"]) == 0
    warnings = json.loads(report.read_text())["warnings"]
    assert {"node": "say", "level": "warning", "message": "param 'language' = 'fr' set on the node is not used: "
            "the link from 'lang.text' overrides it"} in warnings
