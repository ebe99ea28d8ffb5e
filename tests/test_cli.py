"""The nodegraph command: what a user types and what it prints."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from nodegraph.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_nodes_lists_builtin_types(capsys):
    code, out, _ = run(capsys, "nodes")
    assert code == 0 and "core.text" in out and "image.save_png" in out


def test_nodes_json_describes_ports_params_defaults_and_docs(capsys):
    code, out, _ = run(capsys, "nodes", "--json")
    data = json.loads(out)
    by_id = {n["id"]: n for n in data["nodes"]}
    grad = by_id["image.gradient"]
    width = next(p for p in grad["inputs"] if p["name"] == "width")
    assert width == {"name": "width", "type": "int", "min": 1, "max": 16384, "default": 1280}
    direction = next(p for p in grad["inputs"] if p["name"] == "direction")
    assert direction["choices"] == ["vertical", "horizontal", "radial"]
    assert "two-colour gradient" in grad["description"]
    join = by_id["core.join_text"]
    assert join["inputs"][0] == {"name": "parts", "type": "text", "variadic": True,
                                 "doc": "the texts, in order (link as many as you like)."}
    assert data["packs"]["core"]["distribution"] == "nodegraph"


def test_validate_templates_and_broken_files(capsys, tmp_path):
    code, out, err = run(capsys, "validate", "graphs/demo.json")
    assert code == 0 and out.startswith("ok: graphs/demo.json (8 nodes")
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    unknown = tmp_path / "unknown.json"
    unknown.write_text('{"format": "nodegraph", "version": 1, "nodes": {"a": {"type": "zz.y"}}}')
    code, out, err = run(capsys, "validate", str(bad), str(unknown), "graphs/demo.json")
    assert code == 1
    lines = err.strip().splitlines()
    assert lines[0].startswith(f"error: {bad}") and "not valid JSON" in lines[0]
    assert lines[1] == f"error: {unknown}: node 'a': unknown node type 'zz.y': no installed pack provides the 'zz' namespace"
    assert "Traceback" not in err


def test_run_writes_outputs_and_report(capsys, tmp_path):
    out_dir, report = tmp_path / "out", tmp_path / "report.json"
    code, out, err = run(capsys, "run", "graphs/demo.json", "--output", str(out_dir), "--report", str(report), "-q")
    assert code == 0, err
    assert (out_dir / "title_card.png").stat().st_size > 10_000
    data = json.loads(report.read_text())
    assert set(data) >= {"nodes", "outputs"}
    assert data["nodes"]["title"] == {"type": "core.text", "status": "computed", "reason": "not yet computed",
                                      "seconds": data["nodes"]["title"]["seconds"]}
    assert all(n["status"] == "computed" for n in data["nodes"].values())
    assert data["outputs"]["save_card"]["files"] == [str(out_dir / "title_card.png")]
    assert data["outputs"]["save_card"]["path"]["type"] == "path"


def test_run_with_set_overrides_a_param(capsys, tmp_path):
    code, _, err = run(capsys, "run", "graphs/demo.json", "-o", str(tmp_path), "-q",
                       "--set", "title.value=Bonjour", "--set", "draw_title.size=80")
    assert code == 0, err
    assert (tmp_path / "credits.txt").read_text().startswith("Bonjour\n")


@pytest.mark.parametrize("setting, message", [
    ("ghost.value=1", "there is no node 'ghost'"),
    ("title.colour=red", "node 'title' (core.text) has no param 'colour' (params: value)"),
    ("draw_title.size=huge", "expected a whole number, got 'huge'"),
    ("draw_title.size=5000", "5000 is above the maximum 1024"),
    ("nodot", "expected NODE.PARAM=VALUE"),
])
def test_run_set_errors_are_one_clear_line(capsys, tmp_path, setting, message):
    code, _, err = run(capsys, "run", "graphs/demo.json", "-o", str(tmp_path), "-q", "--set", setting)
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err
    assert not any(tmp_path.iterdir())


def test_run_reports_node_failures_and_exits_nonzero(capsys, tmp_path):
    graph = tmp_path / "g.json"
    graph.write_text(json.dumps({"format": "nodegraph", "version": 1, "nodes": {
        "l": {"type": "core.load_text", "params": {"path": "absent.txt"}},
        "t": {"type": "core.text", "params": {"value": "fine"}},
        "s": {"type": "core.save_text", "inputs": {"text": "t.text"}}}}))
    code, out, err = run(capsys, "run", str(graph), "-o", str(tmp_path / "o"), "--target", "l", "--target", "s")
    assert code == 1
    assert f"error: node 'l' (core.load_text) failed: text file not found: {tmp_path / 'absent.txt'}" in err
    assert (tmp_path / "o" / "output.txt").read_text() == "fine"
    assert "1 computed" not in out and "2 computed, 0 cached, 1 failed" in out


def test_invalid_graph_error_lists_problems(capsys, tmp_path):
    graph = tmp_path / "g.json"
    graph.write_text('{"format": "nodegraph", "version": 1, "nodes": {"a": {"type": "image.solid", "params": {"width": 0, "height": 0}}}}')
    code, _, err = run(capsys, "run", str(graph), "-o", str(tmp_path))
    assert code == 1 and "2 problem(s)" in err and "'width': 0 is below the minimum 1" in err


def test_missing_graph_file(capsys, tmp_path):
    code, _, err = run(capsys, "run", str(tmp_path / "nope.json"))
    assert code == 1 and err == f"error: {tmp_path / 'nope.json'}: No such file or directory\n"


def test_new_creates_a_valid_empty_graph(capsys, tmp_path):
    path = tmp_path / "mine.json"
    assert run(capsys, "new", str(path))[0] == 0
    assert run(capsys, "validate", str(path))[0] == 0
    code, _, err = run(capsys, "new", str(path))
    assert code == 1 and "already exists" in err
    assert run(capsys, "new", str(tmp_path / "copy.json"), "--template", "graphs/demo.json")[0] == 0
    assert (tmp_path / "copy.json").read_text() == open("graphs/demo.json").read()


def test_console_script_is_installed(tmp_path):
    exe = shutil.which("nodegraph") or str(__import__("pathlib").Path(sys.executable).with_name("nodegraph"))
    proc = subprocess.run([exe, "run", "graphs/demo.json", "-o", str(tmp_path), "-q"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "title_card.png").exists()
    proc = subprocess.run([exe, "--verbose", "run", str(tmp_path / "missing.json")], capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" in proc.stderr
