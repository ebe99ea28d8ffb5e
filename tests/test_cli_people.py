"""The CLI for people at an 80x24 terminal: `nodes` grouped by category, `describe TYPE` with an
example graph that validates, "did you mean" for commands, node types and params, and run progress
that fits the terminal with an ETA."""
from __future__ import annotations

import io
import json
import re
import shutil

import pytest
from rich.cells import cell_len

from nodegraph.cli import main
from nodegraph.cli_describe import example_graph
from nodegraph.progress import Estimate, RunProgress, clock, status_line, wrapped
from nodegraph.results import Event

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@pytest.fixture(autouse=True)
def columns_80(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("LINES", "24")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_fits(text: str, width: int = 80):
    for line in text.splitlines():
        assert cell_len(line) <= width, f"{cell_len(line)} cells: {line!r}"


# -- nodegraph nodes -------------------------------------------------------------------------------

def test_nodes_are_grouped_by_category_one_line_each_within_80_columns(capsys, registry):
    code, out, _ = run(capsys, "nodes")
    assert code == 0
    assert_fits(out)
    lines = out.splitlines()
    assert lines[0].startswith(f"{len(registry)} node types in ")
    headings = [line for line in lines if line and not line.startswith(" ")][1:]
    cats = sorted({s.category for s in registry})
    assert headings == cats
    # every type is on one line, under its own category's heading
    where: dict[str, str] = {}
    current = None
    for line in lines[1:]:
        if line and not line.startswith(" "):
            current = line
        elif line.strip():
            where[line.split()[0]] = current
    assert where == {s.id: s.category for s in registry}
    speak = next(line for line in lines if line.split()[:1] == ["voice.speak"])
    assert "Speak - Say a text with espeak-ng" in speak
    long = [line for line in lines if line.endswith("...")]
    assert long, "a long summary is cut to fit, not wrapped"


def test_nodes_word_filters_and_json_keeps_the_machine_form(capsys):
    code, out, _ = run(capsys, "nodes", "subtitles")
    assert code == 0
    ids = [line.split()[0] for line in out.splitlines() if line.startswith("  ")]
    assert "speech.load_subtitles" in ids and "compose.subtitles" in ids and "core.text" not in ids
    code, out, _ = run(capsys, "nodes", "--json")
    assert code == 0 and "voice.speak" in {n["id"] for n in json.loads(out)["nodes"]}


# -- nodegraph describe ----------------------------------------------------------------------------

def test_describe_shows_ports_params_defaults_ranges_choices_docs_and_example(capsys):
    code, out, _ = run(capsys, "describe", "voice.speak")
    assert code == 0
    assert_fits(out)
    assert out.startswith("voice.speak  Speak\n")
    assert "Say a text with espeak-ng" in out
    inputs = out.split("Inputs (")[1].split("Params (")[0]
    assert re.search(r"^  character +character, optional$", inputs, re.M)
    assert "who says it." in inputs
    params = out.split("Params (")[1].split("Outputs:")[0]
    assert re.search(r"^  text +text, required$", params, re.M)
    assert re.search(r"^  pitch +int, optional; 0 to 99$", params, re.M)  # unset: the character's, else 50
    assert re.search(r"^  language +text = \"en\"$", params, re.M)
    assert "speed in words per minute; empty: the character's, else 170." in params
    assert re.search(r"^  speech +speech$", out.split("Outputs:")[1], re.M)
    example = json.loads(out[out.index("\n{") + 1:out.rindex("}") + 1])
    assert example["nodes"]["speak"] == {"type": "voice.speak", "version": "1.0.0",
                                         "params": {"text": "Hello from nodegraph"}}
    code, out, _ = run(capsys, "describe", "core.math")
    assert re.search(r"^  op +choice = \"add\"; one of add, subtract, multiply, divide, power, min, max$", out, re.M)


def _put_files(graph: dict, registry, folder):
    """The files an example names in its path params (the user's own files, in real use)."""
    for rec in graph["nodes"].values():
        spec = registry.specs[rec["type"]]
        for name, value in rec.get("params", {}).items():
            if spec.input(name).type.id == "path":
                (folder / value).write_bytes(b"placeholder")


def test_every_example_validates_alone_and_pasted_into_a_graph(capsys, registry, tmp_path):
    base = json.loads(open("graphs/demo.json", encoding="utf-8").read())
    pasted = json.loads(json.dumps(base))
    for spec in registry:
        code, out, err = run(capsys, "describe", spec.id, "--example")
        assert code == 0, err
        graph = json.loads(out)
        assert graph["nodes"][spec.id.split(".", 1)[1]]["type"] == spec.id
        folder = tmp_path / spec.id
        folder.mkdir()
        _put_files(graph, registry, folder)
        (folder / "example.json").write_text(out)
        code, out, err = run(capsys, "validate", str(folder / "example.json"))
        assert code == 0, f"{spec.id}: {err}"
        for nid, rec in graph["nodes"].items():  # pasted beside the demo's nodes, under fresh ids
            new = f"{spec.id.replace('.', '_')}__{nid}"
            links = {p: f"{spec.id.replace('.', '_')}__{src}" for p, src in rec.get("inputs", {}).items()}
            pasted["nodes"][new] = {**rec, **({"inputs": links} if links else {})}
    combined = tmp_path / "pasted"
    combined.mkdir()
    _put_files(pasted, registry, combined)
    (combined / "graph.json").write_text(json.dumps(pasted))
    code, out, err = run(capsys, "validate", str(combined / "graph.json"))
    assert code == 0, err
    assert f"({len(base['nodes']) + sum(len(example_graph(s, registry)['nodes']) for s in registry)} nodes" in out


def test_describe_example_brings_the_nodes_its_required_inputs_need(registry):
    graph = example_graph(registry.specs["timeline.render"], registry)
    assert graph["nodes"]["render"]["inputs"] == {"timeline": "timeline.timeline"}
    assert graph["nodes"]["timeline"]["type"] == "timeline.timeline"


# -- did you mean ----------------------------------------------------------------------------------

def test_did_you_mean_for_a_command_and_a_choice(capsys):
    with pytest.raises(SystemExit) as e:
        main(["nodez"])
    assert e.value.code == 2
    assert "invalid choice: 'nodez'; did you mean 'nodes'?" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["cache", "claer"])
    assert "did you mean 'clear'?" in capsys.readouterr().err


def test_did_you_mean_for_a_node_type_in_describe_and_validate(capsys, tmp_path):
    code, _, err = run(capsys, "describe", "voice.speek")
    assert code == 1 and "unknown node type 'voice.speek'" in err and "did you mean 'voice.speak'" in err
    code, _, err = run(capsys, "describe", "speak")
    assert code == 1 and "did you mean 'voice.speak'?" in err
    graph = tmp_path / "g.json"
    graph.write_text(json.dumps({"format": "nodegraph", "version": 1, "nodes": {
        "a": {"type": "core.txt", "params": {"text": "hi"}}}}))
    code, _, err = run(capsys, "validate", str(graph))
    assert code == 1 and "node 'a': unknown node type 'core.txt'" in err and "did you mean 'core.text'" in err
    code, _, err = run(capsys, "run", str(graph), "-o", str(tmp_path / "out"), "--no-cache")
    assert code == 1 and "did you mean 'core.text'" in err and not (tmp_path / "out").exists()


def test_did_you_mean_for_a_param_in_set_and_in_the_graph(capsys, tmp_path):
    graph = tmp_path / "g.json"
    graph.write_text(json.dumps({"format": "nodegraph", "version": 1, "nodes": {
        "speak": {"type": "voice.speak", "params": {"text": "hi", "pich": 40}}}}))
    code, _, err = run(capsys, "validate", str(graph))
    assert code == 1 and "unknown param 'pich'; did you mean 'pitch'?" in err
    graph.write_text(json.dumps({"format": "nodegraph", "version": 1, "nodes": {
        "speak": {"type": "voice.speak", "params": {"text": "hi"}}}}))
    code, _, err = run(capsys, "explain", str(graph), "--set", "speak.pich=40")
    assert code == 1 and "has no param 'pich'; did you mean 'pitch'?" in err
    code, _, err = run(capsys, "explain", str(graph), "--set", "speek.pitch=40")
    assert code == 1 and "there is no node 'speek'; did you mean 'speak'?" in err


# -- progress --------------------------------------------------------------------------------------

def test_status_line_fits_any_width_with_long_names_and_unicode():
    long = "a_node_with_a_very_long_name_that_goes_on_" * 3
    cases = [(12, 32, long, 0.45, "step 9 of 20"), (3, 7, "話す_キャラクター_" * 6, 0.5, "étape 3 — 音声"),
             (0, 1, None, None, ""), (1, 2, "x", None, "🎬" * 50)]
    for done, total, node, fraction, message in cases:
        for width in range(1, 121):
            line = status_line(done, total, node, fraction, 75.0, 30.0, width, message, others=2)
            assert cell_len(line) <= width, (width, line)
            assert "\n" not in line and "\r" not in line
    line = status_line(12, 32, "speak_2", 0.45, 12.0, 30.0, 80, "step 9 of 20")
    assert line == "[12/32] speak_2 45% step 9 of 20  0:12 elapsed  ETA 0:30"
    line = status_line(12, 32, long, 0.45, 12.0, 30.0, 80, "step 9 of 20", others=1)
    assert cell_len(line) == 80 and line.startswith("[12/32] a_node_with") and "... +1 45%" in line
    assert line.endswith("0:12 elapsed  ETA 0:30")  # the count and the ETA stay; the name is cut
    assert status_line(1, 2, "n", None, 5, None, 80) == "[1/2] n  0:05 elapsed  ETA --:--"
    assert status_line(1, 2, "n", None, 5, 7, 17) == "[1/2] n  ETA 0:07"
    assert [clock(s) for s in (0, 59.6, 61, 3599, 3723, None)] == ["0:00", "1:00", "1:01", "59:59", "1:02:03", "--:--"]


def test_wrapped_messages_fit_and_lose_no_words():
    text = "save_timeline: talking_character.mp4 is not in the output folder yet; the timeline refers to it by name"
    lines = wrapped(text, 40)
    assert all(cell_len(line) <= 40 for line in lines)
    assert " ".join(line.strip() for line in lines) == text


def test_eta_from_measured_costs_node_progress_and_this_run():
    costs = {"slow.type": 20.0, "fast.type": 1.0}
    est = Estimate({"a": "fast.type", "b": "slow.type", "c": "new.type", "d": "fast.type"}, costs.get)
    for nid, will in (("a", "yes"), ("b", "yes"), ("c", "maybe"), ("d", "no")):
        est.planned(nid, will)
    assert est.left(0.0) is None  # c's type was never measured and nothing ran yet
    est.started("a", 0.0)
    est.ended("a", 2.0)  # took twice its measured cost: this machine is slower today
    est.started("b", 2.0)
    # b: 20 s measured, x2 (a's ratio, which counts as a's measured cost is at least 0.5 s);
    # c: unknown, so the mean time of this run's nodes (2 s); d cached: nothing
    assert est.left(2.0) == pytest.approx(2.0 + 2 * 20.0)
    assert est.left(12.0) == pytest.approx(2.0 + 2 * 20.0 - 10.0)
    est.progress("b", 0.1)  # a tenth done after 10 s: its own progress says 90 s more, trusted at 30%
    assert est.left(12.0) == pytest.approx(2.0 + 0.3 * 90.0 + 0.7 * 30.0)
    est.progress("b", 0.5)  # past a third of its own progress: that alone counts
    assert est.left(12.0) == pytest.approx(2.0 + 10.0)


def test_run_progress_plain_lines_off_a_terminal_and_one_rewritten_line_on_one():
    events = [Event("planned", n, {"will_run": "yes"}) for n in ("title", "speak_один_語", "save")]
    events += [Event("started", "title"), Event("finished", "title", {"status": "computed", "seconds": 0.5}),
               Event("started", "speak_один_語"), Event("progress", "speak_один_語", {"fraction": 0.3, "message": "ステップ 3"}),
               Event("progress", "speak_один_語", {"fraction": 0.6, "message": ""}),
               Event("log", "speak_один_語", {"message": "a long message that must wrap rather than be cut " * 3}),
               Event("finished", "speak_один_語", {"status": "computed", "seconds": 1.0}),
               Event("finished", "save", {"status": "cached", "seconds": 0.0})]
    costs = {"core.text": 0.5, "voice.speak": 1.0, "image.save_png": 0.2}.get
    types = {"title": "core.text", "speak_один_語": "voice.speak", "save": "image.save_png"}
    plain = io.StringIO()
    with RunProgress(types=types, cost_of=costs, stream=plain, tty=False) as p:
        for e in events:
            p.on_event(e)
    lines = plain.getvalue().splitlines()
    assert lines[0].startswith("[1/3] title computed in 0.50 s  0:00 elapsed  ETA 0:0")
    assert lines[1].startswith("[1/3] speak_один_語 25% ステップ 3")
    assert lines[2].startswith("[1/3] speak_один_語 50%")
    assert "must wrap rather than be cut" in lines[3] and lines[4].startswith("  ")
    assert lines[-1].startswith("[2/3] speak_один_語 computed in 1.00 s")
    assert not any("save" in line.split()[1] for line in lines if line.startswith("[")), "a cached node is quiet"
    assert all(cell_len(line) <= 80 for line in lines)

    term = io.StringIO()
    with RunProgress(types=types, cost_of=costs, stream=term, tty=True, width=lambda: 40) as p:
        for e in events[:8]:
            p.on_event(e)
        shown = p.line()
    assert shown.startswith("[1/3] speak_один_語 60%") and "ETA" in shown and cell_len(shown) <= 39
    out = term.getvalue()
    assert out.endswith("\r\x1b[K")  # the status line is cleared when the run ends
    for draw in out.split("\r"):
        assert cell_len(ANSI.sub("", draw)) <= 39


def test_run_prints_plain_progress_lines_when_not_a_terminal(capsys, tmp_path):
    code, out, err = run(capsys, "run", "graphs/demo.json", "--output", str(tmp_path / "out"), "--no-cache")
    assert code == 0, err
    progress = [line for line in err.splitlines() if line.startswith("[")]
    assert len(progress) == 8 and progress[-1].startswith("[8/8] ")
    assert all(cell_len(line) <= 80 for line in err.splitlines())


def test_explain_lines_fit_80_columns(capsys, tmp_path):
    code, out, err = run(capsys, "explain", "graphs/talking_character.json", "--cache-dir", str(tmp_path / "cache"),
                         "-o", str(tmp_path / "out"))
    assert code == 0, err
    assert_fits(out)
    lines = out.splitlines()
    maybe = next(i for i, line in enumerate(lines) if line.split()[1:2] == ["maybe"])
    assert lines[maybe + 1].startswith(" " * 10) and "reproduce a result already cached" in lines[maybe + 1]
    assert lines[-1].endswith("cached")
    assert shutil.get_terminal_size().columns == 80
