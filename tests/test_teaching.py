"""Teaching mode: step through a graph node by node (forward computes, back only moves), what the
wires carry, the walkthrough page (checked in headless Chromium) and ``nodegraph walkthrough``,
and the Teaching menu and keys of the real window (under Xvfb)."""
from __future__ import annotations

import base64
import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from nodegraph.cache import Cache
from nodegraph.editor.session import EditorSession
from nodegraph.editor.teaching import Teaching, WireValue, wire_value
from nodegraph.evaluate import Evaluator
from nodegraph.fileformat import load
from nodegraph.results import parse_targets

from gui_harness import run_gui, xvfb  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "graphs" / "talking_character.json"
HOSTILE = 'Watch the <b>mouth</b>! <script>alert("x")</script> & "quotes" </section><img src=x onerror=alert(1)>'


def _session(tmp: Path) -> EditorSession:
    return EditorSession(cache=Cache(tmp / "cache"), config_dir=tmp / "config", output_dir=tmp / "out")


def _step(t: Teaching) -> str | None:
    nid = t.forward()
    t.session.wait(180)
    return nid


# == the real template, stepped through once =============================================================
@pytest.fixture(scope="module")
def walked(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("teach")
    s = _session(tmp)
    s.open_template(TEMPLATE)
    t = Teaching(s)
    t.set_note("mira", HOSTILE)
    t.set_note("music", "Music is made here,\nwith no model: chords, bass and drums.")
    steps, computed, current = [], [], []
    assert t.index == -1 and t.current is None
    while (nid := _step(t)) is not None:
        assert t.message == "", t.message
        steps.append(nid)
        current.append(t.current)
        computed.append(s._result.count("computed"))
    yield {"tmp": tmp, "s": s, "t": t, "steps": steps, "computed": computed, "current": current}
    s.close()


def test_order_is_what_a_run_computes_dependencies_first(walked, registry):
    t, doc = walked["t"], walked["s"].doc
    assert len(t.order) == len(doc.node_ids()) == 32  # every node of the template feeds an output
    ev = Evaluator(registry, output_dir=walked["tmp"] / "o2", base_dir=TEMPLATE.parent)
    assert t.order == ev.plan(doc, parse_targets(doc, registry, None))[0]
    seen: set[str] = set()
    for nid in t.order:
        assert {l.src for l in doc.links_into(nid)} <= seen, f"{nid} comes before what it needs"
        seen.add(nid)


def test_forward_computes_one_node_per_step(walked):
    t = walked["t"]
    assert walked["steps"] == walked["current"] == t.order
    # each step computed exactly its node: everything above it came from the earlier steps' cache
    assert walked["computed"] == [1] * 32
    assert t.forward() is None and t.message == "that was the last node" and t.index == 31


def test_back_moves_without_computing(walked):
    s, t = walked["s"], walked["t"]
    runs = s.runs
    assert t.back() == t.order[30] and t.current == t.order[30] and t.index == 30
    assert t.back() == t.order[29]
    assert s.runs == runs and not s.running  # nothing ran
    t.index = 0
    assert t.back() is None and t.index == 0 and t.message == "this is the first node"
    t.index = 31


def test_inputs_and_outputs_of_a_node(walked):
    t = walked["t"]
    bg = t.output_of("bg_park")["image"]
    assert (bg.kind, bg.text) == ("image", "1280x720")
    assert bg.rgba.dtype == np.float32 and bg.rgba.shape == (36, 64, 4)
    assert 0.0 <= bg.rgba.min() and bg.rgba.max() <= 1.0 and bg.rgba[..., :3].std() > 0.05  # a picture, not a fill
    music = t.output_of("music")["audio"]
    assert (music.kind, music.text) == ("audio", "16.0 s 48 kHz") and music.rgba.shape == (24, 64, 4)
    assert len(np.unique(music.rgba.reshape(-1, 4), axis=0)) >= 2  # a drawn wave on a background
    ins = t.inputs_of("speak_1")
    assert set(ins) == {"character", "text"}
    assert ins["text"] == t.output_of("line_1")["text"] == WireValue("text", "Hi, I'm Mira! Welcome...")
    assert len(ins["text"].text) <= 24 and ins["character"].kind == "other"
    assert ins["character"].rgba.shape == (64, 48, 4)  # the character's art (520x700)
    assert t.output_of("speak_1")["speech"].kind == "audio"
    render = t.output_of("render")["video"]
    assert render.kind == "video" and render.text == "1280x720 16.0 s" and render.rgba.shape == (36, 64, 4)
    shots = t.inputs_of("scene")
    assert [k for k in shots if k.startswith("shots")] == ["shots", "shots[1]", "shots[2]"]
    assert t.output_of("save_movie")["path"] == WireValue("text", "talking_character.mp4")  # no folder of this machine
    # the values themselves, from whichever step computed them (the session knows only its last run)
    assert t.value_of("line_1") == walked["s"].doc.params("line_1")["value"]
    assert t.value_of("render").n_frames == 384 and walked["s"].value_of("render") is None  # not above the last step
    assert t.value_of("music", "audio").rate == 48000 and t.value_of("music", "nope") is None


def test_wire_values_are_remembered_per_result(walked):
    s = walked["s"]
    first = wire_value(s, "bg_park", "image")
    assert wire_value(s, "bg_park", "image") is first  # cached: no new thumbnail per frame
    assert wire_value(s, "nope", "image") == WireValue("none", "")
    assert wire_value(s, "bg_park", "no_such_port").kind == "none"  # never raises


def test_an_edit_makes_what_it_feeds_out_of_date(tmp_path, registry):
    s = _session(tmp_path)
    a = s.add_node("core.number", (0, 0))
    m = s.add_node("core.math", (200, 0))
    f = s.add_node("core.format_number", (400, 0))
    other = s.add_node("core.number", (0, 200))
    g = s.add_node("image.gradient", (0, 300))
    for cmd in (lambda: s.set_param(a, "value", 0.75), lambda: s.set_param(m, "op", "multiply"),
                lambda: s.set_param(m, "b", 2.0), lambda: s.set_param(other, "value", 3),
                lambda: s.set_param(g, "width", 64), lambda: s.set_param(g, "height", 48),
                lambda: s.connect(a, "number", m, "a"), lambda: s.connect(m, "number", f, "value")):
        assert cmd() is None
    t = Teaching(s)
    # no output node: a run computes the sinks (format_number, the other number, the gradient)
    assert set(t.order) == {a, m, f, other, g}
    assert t.output_of(a) == {"number": WireValue("none", "")}  # not computed yet
    while _step(t):
        pass
    assert t.output_of(a)["number"] == WireValue("number", "0.75")
    assert t.output_of(m)["number"] == WireValue("number", "1.5")
    assert t.output_of(f)["text"] == WireValue("text", "1.50")
    assert t.output_of(g)["image"].text == "64x48" and t.output_of(g)["image"].rgba.shape == (48, 64, 4)
    assert t.inputs_of(f) == {"value": WireValue("number", "1.5")}
    s.set_param(m, "b", 4.0)  # the math node and what it feeds are out of date; the rest holds
    assert t.output_of(m)["number"].kind == t.output_of(f)["text"].kind == "none"
    assert t.output_of(a)["number"].text == "0.75" and t.output_of(other)["number"].text == "3"
    assert t.missing() == [n for n in t.order if n in (m, f)]
    s.run(None)
    s.wait(60)
    assert t.output_of(f)["text"].text == "3.00" and t.missing() == []  # a plain run fills them in
    s.undo()  # back to b = 2: out of date again until a run says otherwise
    assert t.output_of(f)["text"].kind == "none"
    s.close()


def test_order_follows_edits_and_keeps_the_current_node(tmp_path):
    s = _session(tmp_path)
    a = s.add_node("core.text", (0, 0))
    b = s.add_node("core.case", (200, 0))
    s.connect(a, "text", b, "text")
    t = Teaching(s)
    assert t.order == [a, b]
    _step(t)
    _step(t)
    assert t.current == b
    c = s.add_node("core.text", (0, 200))  # "text_1" sorts after "text": order a, c?, b
    assert c in t.order and t.current == b and t.order[t.index] == b
    s.remove_nodes([b])
    assert t.current in t.order and b not in t.order
    s.new()  # another document: start again
    assert t.order == [] and t.index == -1 and t.current is None and t.forward() is None
    s.close()


# == the walkthrough page =====================================================================================
@pytest.fixture(scope="module")
def page(walked):
    path = walked["t"].export_html(walked["tmp"] / "walk.html")
    return path, path.read_text(encoding="utf-8")


def test_page_is_one_self_contained_file(page, walked):
    path, text = page
    t = walked["t"]
    assert text.count('<section class="node"') == 32
    assert [m for m in re.findall(r'data-node="([^"]+)"', text)] == t.order
    assert "<script" not in text.lower() and "http://" not in text and "https://" not in text
    assert not re.search(r'(src|href)="(?!data:image/png;base64,|#step-)', text)  # nothing loaded from elsewhere
    assert "<title>Walkthrough: Talking character</title>" in text and "Contents" in text
    assert text.count('<li><a href="#step-') == 32


def test_notes_are_text_never_markup(page):
    _, text = page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    assert "&lt;/section&gt;&lt;img src=x onerror=alert(1)&gt;" in text
    assert "onerror=alert(1)>" not in text and "<b>mouth</b>" not in text
    assert "Music is made here,\nwith no model" in text


def test_page_sections_hold_params_inputs_and_outputs(page):
    _, text = page
    sec = {m.group(1): m.group(0) for m in re.finditer(r'<section class="node" id="step-\d+" data-node="([^"]+)">.*?</section>', text, re.S)}
    assert len(sec) == 32
    assert "definition" in sec["mira"] and "character.json" in sec["mira"] and 'href="#step-' in sec["mira"]  # params, inputs
    assert "from <a href" in sec["speak_1"] and "line_1</a>.text" in sec["speak_1"]
    assert "Hi, I&#x27;m Mira! Welcome" in sec["line_1"]  # the text itself
    assert "talking_character.mp4" in sec["save_movie"] and str(ROOT) not in text
    for nid in ("bg_park", "music", "speak_1", "stage_1", "render"):  # image, audio, speech, video
        uris = re.findall(r'src="data:image/png;base64,([^"]+)"', sec[nid])
        assert len(uris) == 1, nid
        from PIL import Image

        im = Image.open(io.BytesIO(base64.b64decode(uris[0])))
        assert im.format == "PNG" and max(im.size) <= 320 and np.asarray(im).std() > 5, nid


# == the page in a real browser ===============================================================================
CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser")) if p), None)


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    if CHROMIUM is None:
        pytest.skip("needs Debian's chromium (apt-get install --no-install-recommends chromium; .ci/system-packages)")
    env = {**os.environ, "HOME": str(tmp)}
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           f"--user-data-dir={tmp / 'chromium-profile'}", *args],
                          capture_output=True, text=True, timeout=180, env=env)


def test_page_in_headless_chromium(page, walked, tmp_path):
    path, _ = page
    # the page as the browser parsed it: a section per node, in order, the hostile note as text
    dom = _chromium(tmp_path, "--dump-dom", path.as_uri()).stdout
    assert dom.count('<section class="node"') == 32
    assert re.findall(r'data-node="([^"]+)"', dom) == walked["t"].order
    assert "<script>" not in dom and "&lt;script&gt;" in dom
    # every picture decoded: a probe page (the test's own; the walkthrough has no script) reads
    # the walkthrough in a frame and writes each section's images' natural widths into its DOM
    probe = tmp_path / "probe.html"
    probe.write_text(
        '<!DOCTYPE html><html><body><iframe id="f" src="' + path.as_uri() + '" width="1000" height="800"></iframe>'
        "<script>document.getElementById('f').onload = function () {"
        " var out = []; this.contentDocument.querySelectorAll('section.node').forEach(function (s) {"
        "  var w = []; s.querySelectorAll('img').forEach(function (i) { w.push(i.complete ? i.naturalWidth : -1); });"
        "  out.push(s.getAttribute('data-node') + '=' + w.join(',')); });"
        " var p = document.createElement('pre'); p.id = 'probe'; p.textContent = out.join(';');"
        " document.body.appendChild(p); };</script></body></html>", encoding="utf-8")
    dom = _chromium(tmp_path, "--allow-file-access-from-files", "--virtual-time-budget=20000", "--dump-dom",
                    probe.as_uri()).stdout
    m = re.search(r'<pre id="probe">([^<]*)</pre>', dom)
    assert m, dom[-2000:]
    widths = dict(item.split("=") for item in m.group(1).split(";"))
    assert list(widths) == walked["t"].order
    with_pictures = {n: [int(w) for w in ws.split(",")] for n, ws in widths.items() if ws}
    # every image, video, sound and speech output has its picture, decoded by the browser
    # (and records that hold one: the character's art, a shot's first frame)
    assert {"bg_park", "mira_body", "music", "speak_1", "talk_1", "stage_1", "render", "backdrop_1", "mira",
            "shot_1"} <= set(with_pictures)
    assert all(w > 0 for ws in with_pictures.values() for w in ws), with_pictures
    assert not [n for n in ("line_1", "scene", "save_movie") if n in with_pictures]  # text, a timeline: words
    # and it looks like something: a screenshot of the top of the page is not blank
    shot = tmp_path / "page.png"
    _chromium(tmp_path, "--window-size=1100,1500", "--hide-scrollbars", f"--screenshot={shot}", path.as_uri())
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("RGB")).astype(np.int32)
    assert img.shape == (1500, 1100, 3)
    assert img.std() > 20 and len(np.unique(img.reshape(-1, 3)[::97], axis=0)) > 200  # text and pictures
    keep = os.environ.get("NODEGRAPH_TEACHING_SHOTS")
    if keep:
        shutil.copy(shot, Path(keep) / "walkthrough.png")


# NODEGRAPH_TEACHING_SHOTS=assets/screenshots keeps the screenshots for the README

# == nodegraph walkthrough ===================================================================================
def test_walkthrough_command(tmp_path, capsys):
    from nodegraph.cli import main

    s = _session(tmp_path)
    t = s.add_node("core.text", (0, 0))
    c = s.add_node("core.case", (200, 0))
    save = s.add_node("core.save_text", (400, 0))
    s.set_param(t, "value", "hello class")
    s.connect(t, "text", c, "text")
    s.connect(c, "text", save, "text")
    Teaching(s).set_note(c, "Upper case: <script>")
    graph = s.save_as(tmp_path / "lesson.json")
    s.close()
    html = tmp_path / "walk" / "lesson.html"
    html.parent.mkdir()
    rc = main(["walkthrough", str(graph), "-o", str(html), "--output-dir", str(tmp_path / "files"),
               "--cache-dir", str(tmp_path / "cache"), "-q"])
    out = capsys.readouterr().out
    assert rc == 0 and f"wrote {html}: 3 steps, 3 computed, 0 cached, 0 failed" in out
    text = html.read_text(encoding="utf-8")
    assert text.count('<section class="node"') == 3 and "HELLO CLASS" in text and "Upper case: &lt;script&gt;" in text
    assert (tmp_path / "files" / "output.txt").read_text() == "HELLO CLASS"
    rc = main(["walkthrough", str(graph), "-o", str(html), "--output-dir", str(tmp_path / "files"),
               "--cache-dir", str(tmp_path / "cache"), "-q"])
    assert rc == 0 and "0 computed, 3 cached" in capsys.readouterr().out  # the cache serves a second page


def test_walkthrough_command_names_a_failing_node(tmp_path, capsys):
    from nodegraph.cli import main

    s = _session(tmp_path)
    m = s.add_node("core.math", (0, 0))
    s.set_param(m, "op", "divide")
    graph = s.save_as(tmp_path / "bad.json")
    s.close()
    rc = main(["walkthrough", str(graph), "-o", str(tmp_path / "bad.html"), "--cache-dir", str(tmp_path / "cache"),
               "--output-dir", str(tmp_path / "files"), "-q"])
    err = capsys.readouterr().err
    assert rc == 1 and f"node {m!r} (core.math) failed: division by zero" in err
    assert "division by zero" in (tmp_path / "bad.html").read_text(encoding="utf-8")  # its section says so


# == the window: Teaching menu and keys ========================================================================
def teaching_window(tmp: str) -> dict:
    """(In its own process.) Open the template, turn teaching mode on from the menu, step with
    the keys, take a screenshot, export the walkthrough from the window."""
    import time

    import dearpygui.dearpygui as dpg

    import gui_harness as H
    from nodegraph.editor.app import EditorApp

    t = Path(tmp)
    app = EditorApp(None, session=_session(t))
    app.start()
    H.use(app)
    H.frames(6)
    v, s = app.view, app.session
    try:
        v.open_template(TEMPLATE)
        H.frames(10)
        out: dict = {}
        # menus report no rectangle: open the menu and click down its first row until it answers
        mx, my = dpg.get_item_state("ng_teach_menu")["pos"]
        for y in range(my + 22, my + 60, 4):
            H.click(mx + 25, my + 10)
            H.click(mx + 50, y)
            if v.teaching_on:
                break
        out["index"] = v.teacher().index
        out["on"] = (v.teaching_on, dpg.get_value("ng_teach_toggle"), v.presenter_scale)
        steps = []
        for k in ("Right", "Next", "Right", "Right"):  # Next: Page Down
            before = v.teacher().index
            H.key(k)
            H.wait_until(lambda: v.teacher().index == before + 1 and not s.running, 60)
            H.frames(3)
            steps.append(v.teacher().current)
        out["steps"], out["order"] = steps, v.teacher().order[:4]
        runs = s.runs
        H.key("Left")
        H.key("Prior")  # Page Up
        H.frames(3)
        out["back"] = (v.teacher().current, s.runs - runs, v._step_hl[0] if v._step_hl else None, v.inspected)
        out["output"] = {k: (w.kind, w.text) for k, w in v.teacher().output_of(v.teacher().current).items()}
        H.frames(4)  # the preview panel shows what the earlier step computed (not in the last run)
        out["preview"] = [dpg.get_value(c) for c in dpg.get_item_children("ng_preview", 1)
                          if dpg.get_item_type(c) == "mvAppItemType::mvText"]
        # the README's picture: the current node with a note as a callout, the view on it (2x)
        cur = v.teacher().current
        v.teacher().set_note(cur, "A slow camera move over the park: try zoom_to 1.3 and step again.")
        v.go_to(cur)
        v.set_zoom(0.42)  # x2 presenter scale: the node, its neighbours and the values on their wires
        H.frames(8)
        out["noted"] = (v.teacher().note(cur), s.dirty)
        shot = t / "teaching.png"
        out["shot"] = str(shot) if app.screenshot(shot) else None
        page = t / "walk.html"
        out["exported_now"] = v.export_walkthrough(page)  # the rest of the graph runs first
        deadline = time.monotonic() + 120
        while not page.exists() and time.monotonic() < deadline:
            H.frames(5)
        out["page"] = page.read_text(encoding="utf-8") if page.exists() else ""
        out["log"] = "\n".join(str(line) for line in app.session.log)  # the status bar may say something newer
        return out
    finally:
        app.close()


def test_teaching_mode_in_the_window(run_gui, tmp_path):
    r = run_gui(teaching_window, str(tmp_path), timeout=300)
    assert r["on"] == (True, True, 2.0) and r["index"] == -1  # the first item: on, no step yet
    assert r["steps"] == r["order"]
    assert r["back"] == (r["order"][1], 0, r["order"][1], r["order"][1])  # highlighted, inspected, nothing ran
    assert r["output"] == {"video": ("video", "1280x720 6.0 s")}  # backdrop_2: the park's slow zoom
    assert any("1280x720" in t for t in r["preview"]), r["preview"]
    assert r["noted"][0].startswith("A slow camera move")
    assert r["shot"]
    from PIL import Image

    img = np.asarray(Image.open(r["shot"]).convert("RGB"))
    assert img.std() > 20
    keep = os.environ.get("NODEGRAPH_TEACHING_SHOTS")
    if keep:
        shutil.copy(r["shot"], Path(keep) / "teaching-mode.png")
    assert r["exported_now"] is False and "wrote the walkthrough" in r["log"]
    assert r["page"].count('<section class="node"') == 32 and "not computed" not in r["page"]


def test_a_node_that_cannot_run_is_current_with_why(tmp_path):
    s = _session(tmp_path)
    save = s.add_node("image.save_png", (0, 0))  # its image input is not connected
    t = Teaching(s)
    assert t.order == [save]
    assert t.forward() == save and t.current == save and not s.running
    assert save in t.message and "image" in t.message and "cannot run" in t.message
    assert t.output_of(save) == {"path": WireValue("none", "")}
    page = t.export_html(tmp_path / "w.html").read_text(encoding="utf-8")
    assert "not computed yet" in page and page.count('<section class="node"') == 1
    s.close()
