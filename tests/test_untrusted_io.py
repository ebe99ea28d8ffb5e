"""Untrusted graphs and the output folder: the atomic writer (nodegraph.fsio), safe and distinct
output names, the memory budget and the folders a graph may read (nodegraph.policy)."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from nodegraph.commands import AddNode, Batch, Connect, SetParam
from nodegraph.context import Context
from nodegraph.errors import GraphInvalid, UnsafePath
from nodegraph.evaluate import Evaluator
from nodegraph.fileformat import dumps, load, write_atomic
from nodegraph.fsio import WriteFailed, atomic_path, check_name, open_atomic, write_bytes
from nodegraph.graph import Document
from nodegraph.policy import Policy, graph_root_for, parse_budget, shipped_assets
from nodegraph.validate import validate

from untrusted import WRITERS, make_inputs, temp_names, writers_graph

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = sorted((ROOT / "graphs").glob("*.json"))


def _tree(folder: Path) -> dict[str, tuple]:
    """Every entry under ``folder``: kind, size and content (links: their target)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[str(p.relative_to(folder))] = ("link", os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                out[str(p.relative_to(folder))] = ("file", p.read_bytes())
            else:
                out[str(p.relative_to(folder))] = ("fifo" if stat.S_ISFIFO(st.st_mode) else "dir",)
    return out


@pytest.fixture(autouse=True)
def default_rules(monkeypatch):
    """The rules a user gets without settings (conftest.py allows pytest's temp folder)."""
    monkeypatch.delenv("NODEGRAPH_ALLOW_READ", raising=False)
    monkeypatch.delenv("NODEGRAPH_MEMORY_BUDGET", raising=False)


@pytest.fixture
def sandbox(tmp_path):
    """graph/ (inputs), out/ (output folder), outside/ (a decoy the graph must never touch)."""
    make_inputs(tmp_path / "graph")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "decoy.txt").write_bytes(b"decoy: must stay as it is\n")
    (tmp_path / "out").mkdir()
    return tmp_path


def _run(registry, sandbox, doc, **kw):
    return Evaluator(registry, output_dir=sandbox / "out", base_dir=sandbox / "graph", use_cache=False,
                     **kw).run(doc)


# -- the writer -------------------------------------------------------------------------------------

def test_every_output_node_ignores_links_planted_at_every_plausible_temp_name(registry, sandbox):
    decoy = sandbox / "outside" / "decoy.txt"
    for name in WRITERS.values():
        for tmp in temp_names(name):
            os.symlink(decoy, sandbox / "out" / tmp)
    outside_before = _tree(sandbox / "outside")
    result = _run(registry, sandbox, writers_graph())
    assert {n: r.status for n, r in result.nodes.items() if n in WRITERS} == {n: "computed" for n in WRITERS}
    assert _tree(sandbox / "outside") == outside_before
    for name in WRITERS.values():
        target = sandbox / "out" / name
        assert target.is_file() and not target.is_symlink() and target.stat().st_size > 0
        for tmp in temp_names(name):  # still the planted links, nothing written through them
            assert os.readlink(sandbox / "out" / tmp) == str(decoy)
    # nothing else is left behind (no temp files, no private folders)
    assert sorted(os.listdir(sandbox / "out")) == sorted(list(WRITERS.values()) + [t for n in WRITERS.values() for t in temp_names(n)])
    assert (sandbox / "out" / "notes.txt").read_text() == "hello"


def _run_cli(args, cwd, timeout=120):
    return subprocess.run([sys.executable, "-c", "import sys; from nodegraph.cli import main; sys.exit(main())", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_fifos_at_temp_names_and_at_a_final_name_never_hang(sandbox):
    (sandbox / "graph" / "g.json").write_text(dumps(writers_graph()), encoding="utf-8")
    for name in WRITERS.values():
        for tmp in temp_names(name):
            os.mkfifo(sandbox / "out" / tmp)
    os.unlink(sandbox / "out" / ".notes.txt.tmp")
    os.mkfifo(sandbox / "out" / "notes.txt.final")
    doc = writers_graph()
    SetParam("st", "filename", "notes.txt.final")(doc)
    (sandbox / "graph" / "g.json").write_text(dumps(doc), encoding="utf-8")
    p = _run_cli(["run", "graph/g.json", "-o", "out", "--no-cache", "-q"], sandbox)  # would hang before
    assert p.returncode == 1
    assert "Traceback" not in p.stderr + p.stdout
    assert "error: node 'st' (core.save_text) failed: param 'filename': cannot write" in p.stderr
    assert "notes.txt.final: it exists and is not a regular file (a FIFO, socket or device)" in p.stderr
    for node, name in WRITERS.items():
        if node != "st":
            assert (sandbox / "out" / name).is_file()


def test_writer_refuses_a_folder_at_the_final_name_and_leaves_no_temp_file(registry, sandbox):
    (sandbox / "out" / "notes.txt").mkdir()
    (sandbox / "out" / "card.png").mkdir()
    (sandbox / "out" / "clip.mp4").mkdir()
    result = _run(registry, sandbox, writers_graph())
    for node, name in (("st", "notes.txt"), ("sp", "card.png"), ("sm", "clip.mp4")):
        r = result.nodes[node]
        assert r.status == "failed"
        assert r.error == f"param 'filename': cannot write {sandbox / 'out' / name}: a folder has that name"
    assert sorted(os.listdir(sandbox / "out")) == sorted(WRITERS.values())  # the three folders, three files, no temp
    assert all(not any((sandbox / "out" / n).iterdir()) for n in ("notes.txt", "card.png", "clip.mp4"))


def test_writer_messages_are_words_not_errno(tmp_path):
    long = tmp_path / ("n" * 300)
    with pytest.raises(WriteFailed) as e:
        write_bytes(long, b"x")
    assert "the name is 300 bytes long; file systems take at most 255" in str(e.value)
    assert "Errno" not in str(e.value) and "(300 characters)" in str(e.value)
    (tmp_path / "d").mkdir()
    with pytest.raises(WriteFailed, match=r"d: a folder has that name"):
        write_bytes(tmp_path / "d", b"x")
    os.symlink(tmp_path / "elsewhere", tmp_path / "l")
    with pytest.raises(WriteFailed, match="symbolic link"):
        write_bytes(tmp_path / "l", b"x")
    assert not (tmp_path / "elsewhere").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(WriteFailed, match="is a file, not a folder"):
        write_bytes(tmp_path / "file" / "inner.txt", b"x")
    assert sorted(os.listdir(tmp_path)) == ["d", "file", "l"]


def test_writer_is_atomic_keeps_permissions_and_cleans_up_on_error(tmp_path):
    p = tmp_path / "a.bin"
    write_bytes(p, b"one")
    os.chmod(p, 0o640)
    with pytest.raises(RuntimeError):
        with open_atomic(p) as f:
            f.write(b"half")
            raise RuntimeError("the encoder failed")
    assert p.read_bytes() == b"one"
    with pytest.raises(ValueError):
        with atomic_path(tmp_path / "b.wav") as tmp:
            tmp.write_bytes(b"half")
            raise ValueError("bad samples")
    assert sorted(os.listdir(tmp_path)) == ["a.bin"]
    write_atomic(p, b"two")  # the old name is the same writer
    assert p.read_bytes() == b"two" and stat.S_IMODE(p.stat().st_mode) == 0o640
    with atomic_path(tmp_path / "c.wav") as tmp:
        assert tmp.name == "c.wav" and tmp.parent.parent == tmp_path and not tmp.exists()
        tmp.write_bytes(b"RIFF")
    assert sorted(os.listdir(tmp_path)) == ["a.bin", "c.wav"]


def test_two_writers_of_one_name_never_leave_a_mixed_file(tmp_path):
    """The race the review found (a shared temp name): now each writer has its own temp file,
    so the final file is always one writer's whole content."""
    target = tmp_path / "same.bin"
    blobs = [bytes([i]) * (4 << 20) for i in (1, 2)]
    for _ in range(4):
        threads = [threading.Thread(target=write_bytes, args=(target, b)) for b in blobs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert target.read_bytes() in blobs
        assert os.listdir(tmp_path) == ["same.bin"]


def test_two_output_nodes_given_one_name_over_links_leave_one_whole_file(registry, sandbox):
    """Names that arrive over links cannot be compared before the run; the writer still keeps the
    file whole (one node's text, never a mix), with two workers, four times."""
    texts = ["a" * (3 << 20), "b" * (3 << 20)]
    for _ in range(4):
        doc = Document()
        Batch([AddNode("core.text", "name", {"value": "same.txt"}),
               AddNode("core.text", "ta", {"value": texts[0]}), AddNode("core.text", "tb", {"value": texts[1]}),
               AddNode("core.save_text", "sa", {}), AddNode("core.save_text", "sb", {}),
               Connect("ta", "text", "sa", "text"), Connect("tb", "text", "sb", "text"),
               Connect("name", "text", "sa", "filename"), Connect("name", "text", "sb", "filename")])(doc)
        result = _run(registry, sandbox, doc, workers=2)
        assert result.ok
        assert (sandbox / "out" / "same.txt").read_text() in texts
        assert os.listdir(sandbox / "out") == ["same.txt"]


# -- output names ----------------------------------------------------------------------------------

def test_two_outputs_writing_the_same_file_are_refused_naming_both(registry, sandbox):
    doc = writers_graph()
    Batch([AddNode("core.save_text", "st2", {"filename": "./NOTES.txt"}), Connect("t", "text", "st2", "text")])(doc)
    SetParam("sp", "filename", "notes")(doc)
    Batch([AddNode("image.save_png", "sp2", {"filename": "notes.png"}), Connect("img", "image", "sp2", "image")])(doc)
    SetParam("sp", "filename", "notes")(doc)
    issues = [i for i in validate(doc, registry) if i.code == "duplicate_output"]
    issues.sort(key=lambda i: i.node, reverse=True)
    assert [(i.node, i.port) for i in issues] == [("st2", "filename"), ("sp2", "filename")]
    assert issues[0].message == ("node 'st2' (core.save_text) param 'filename' and node 'st' param 'filename' both write "
                                 "the output file './NOTES.txt' and 'notes.txt' (the same file where case does not count); "
                                 "give each output its own file name")
    assert "node 'sp2' (image.save_png) param 'filename' and node 'sp' param 'filename' both write the output file " \
           "'notes.png'" in issues[1].message  # 'notes' gets its '.png' from the node
    with pytest.raises(GraphInvalid, match="both write the output file"):
        _run(registry, sandbox, doc)
    assert not any((sandbox / "out").iterdir())


def test_duplicate_check_follows_edits_in_the_evaluator(registry, sandbox):
    doc = writers_graph()
    ev = Evaluator(registry, output_dir=sandbox / "out", base_dir=sandbox / "graph", use_cache=False)
    ev.check(doc)
    SetParam("ss", "filename", "notes.txt.srt")(doc)
    SetParam("st", "filename", "notes.txt.srt")(doc)
    with pytest.raises(GraphInvalid, match="both write"):
        ev.check(doc)
    SetParam("st", "filename", "other.txt")(doc)  # the issue sat on 'ss'; fixing 'st' clears it
    ev.check(doc)


@pytest.mark.parametrize("name, phrase", [
    ("x" * 300, "has a part of 300 bytes; file systems take at most 255 bytes per name"),
    ("../up.txt", "goes up with '..'"), ("/etc/x.txt", "is absolute"), ("C:\\x.txt", "is absolute"),
    ("a\0b", "contains a NUL character"), ("", "is empty"), ("sub/" + "é" * 128, "has a part of 256 bytes"),
])
def test_unsafe_output_names_are_refused_at_validation_naming_node_and_param(registry, name, phrase):
    doc = writers_graph()
    SetParam("st", "filename", name)(doc)
    issues = validate(doc, registry)
    assert [(i.code, i.node, i.port) for i in issues] == [("unsafe_output", "st", "filename")]
    assert issues[0].message.startswith("node 'st' (core.save_text) param 'filename': output file name ")
    assert phrase in issues[0].message


def test_a_name_too_long_once_the_node_adds_its_extension_is_refused_too(registry):
    doc = writers_graph()
    SetParam("sp", "filename", "p" * 253)(doc)  # + ".png" = 257 bytes
    (issue,) = validate(doc, registry)
    assert (issue.code, issue.node, issue.port) == ("unsafe_output", "sp", "filename")
    assert "257 bytes" in issue.message


def test_unsafe_names_over_a_link_fail_the_node_naming_the_param_not_an_errno(registry, sandbox):
    doc = writers_graph()
    Batch([AddNode("core.text", "name", {"value": "y" * 300}), Connect("name", "text", "st", "filename")])(doc)
    result = _run(registry, sandbox, doc)
    err = result.nodes["st"].error
    assert result.nodes["st"].status == "failed"
    assert err.startswith("input 'filename' (from name.text): output file name 'yyy")
    assert "Errno" not in err and "300 bytes" in err
    # the PNG writer adds '.png' itself: 252 + 4 bytes only fails in output_path, which names the param
    import shutil

    shutil.rmtree(sandbox / "out")
    doc2 = writers_graph()
    Batch([AddNode("core.text", "name", {"value": "z" * 252}), Connect("name", "text", "sp", "filename")])(doc2)
    result = _run(registry, sandbox, doc2)
    assert result.nodes["sp"].status == "failed"
    assert result.nodes["sp"].error.startswith("param 'filename': output file name 'zzz")
    assert "256 bytes" in result.nodes["sp"].error
    assert sorted(os.listdir(sandbox / "out")) == sorted(n for k, n in WRITERS.items() if k != "sp")


def test_check_name_keeps_safe_names():
    assert check_name("a/b\\c.txt") == ("a", "b", "c.txt")
    assert check_name("./x.png") == ("x.png",)
    with pytest.raises(UnsafePath):
        check_name("a/../../b")


# -- memory ----------------------------------------------------------------------------------------

def test_a_16384_square_image_is_refused_at_validation_naming_node_and_params(registry):
    doc = load(ROOT / "graphs" / "demo.json")
    SetParam("background", "width", 16384)(doc)
    SetParam("background", "height", 16384)(doc)
    issues = validate(doc, registry, policy=Policy(ROOT / "graphs", memory_budget="4G"))
    assert [(i.code, i.node, i.port) for i in issues] == [("memory", "background", "width")]
    assert issues[0].message == (
        "node 'background' (image.gradient): param 'width' = 16384 x param 'height' = 16384 would need about 7.0 GiB "
        "of memory, over the budget of 4.0 GiB (--memory-budget); lower them, or raise the budget with "
        "--memory-budget SIZE or $NODEGRAPH_MEMORY_BUDGET")
    assert validate(doc, registry, policy=Policy(ROOT / "graphs", memory_budget="8G")) == []
    assert validate(doc, registry, policy=Policy(ROOT / "graphs", memory_budget="off")) == []
    SetParam("background", "width", 4096)(doc)
    assert validate(doc, registry, policy=Policy(ROOT / "graphs", memory_budget="4G")) == []


def test_memory_budget_from_the_environment_and_the_cli(monkeypatch, tmp_path, capsys):
    from nodegraph.cli import main

    doc = load(ROOT / "graphs" / "demo.json")
    SetParam("background", "width", 16384)(doc)
    SetParam("background", "height", 16384)(doc)
    (tmp_path / "big.json").write_text(dumps(doc), encoding="utf-8")
    monkeypatch.setenv("NODEGRAPH_MEMORY_BUDGET", "1G")
    assert main(["validate", str(tmp_path / "big.json")]) == 1
    assert "over the budget of 1.0 GiB ($NODEGRAPH_MEMORY_BUDGET)" in capsys.readouterr().err
    assert main(["validate", "--memory-budget", "16G", str(tmp_path / "big.json")]) == 0
    assert main(["run", "--memory-budget", "lots", str(tmp_path / "big.json"), "-o", str(tmp_path / "o")]) == 1
    assert "--memory-budget: memory budget 'lots': expected a size" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_budget_parsing():
    assert parse_budget("6G") == 6 * 1024**3
    assert parse_budget("off") is None
    assert 0 < parse_budget("50%") < parse_budget("100%")
    with pytest.raises(ValueError, match="share of RAM"):
        parse_budget("150%")
    assert Policy().memory_budget_source in ("a quarter of this machine's RAM", "$NODEGRAPH_MEMORY_BUDGET")


# -- reading -----------------------------------------------------------------------------------------

def _loader(path: str) -> Document:
    doc = Document()
    Batch([AddNode("image.load", "img", {"path": path}), AddNode("image.save_png", "save", {}),
           Connect("img", "image", "save", "image")])(doc)
    return doc


@pytest.mark.parametrize("path", ["/etc/passwd", "../outside/decoy.txt", "../../../../../../etc/passwd", "~/x.png"])
def test_paths_outside_the_graph_folder_are_refused_naming_node_param_and_path(registry, sandbox, path):
    doc = _loader(path)
    policy = Policy(sandbox / "graph", output_dir=sandbox / "out")
    issues = validate(doc, registry, policy=policy)
    assert [(i.code, i.node, i.port) for i in issues] == [("read_outside", "img", "path")]
    msg = issues[0].message
    assert msg.startswith(f"node 'img' (image.load) param 'path': {path!r}")
    assert "is outside the folders this graph may read" in msg and "--allow-read DIR" in msg
    with pytest.raises(GraphInvalid, match="param 'path'"):
        _run(registry, sandbox, doc)
    assert not any((sandbox / "out").iterdir())


def test_the_cli_says_the_rule_and_allow_read_widens_it(sandbox, capsys):
    from nodegraph.cli import main

    (sandbox / "graph" / "g.json").write_text(dumps(_loader("/etc/passwd")), encoding="utf-8")
    assert main(["validate", str(sandbox / "graph" / "g.json")]) == 1
    err = capsys.readouterr().err
    assert f"error: {sandbox / 'graph' / 'g.json'}: node 'img' (image.load) param 'path': '/etc/passwd' is outside the " \
           f"folders this graph may read. A graph reads only inside its own folder {os.path.realpath(sandbox / 'graph')}, " \
           "the model folders, nodegraph's shipped assets and the output folder; to allow another folder pass " \
           "--allow-read DIR or set $NODEGRAPH_ALLOW_READ" in err
    assert main(["validate", "--allow-read", "/etc", str(sandbox / "graph" / "g.json")]) == 0
    # allowed, it is read, and it is still not an image
    assert main(["run", "--allow-read", "/etc", str(sandbox / "graph" / "g.json"), "-o", str(sandbox / "out"),
                 "--no-cache", "-q"]) == 1
    assert "/etc/passwd is not a readable image" in capsys.readouterr().err


def test_allow_read_from_the_environment(monkeypatch, registry, sandbox):
    monkeypatch.setenv("NODEGRAPH_ALLOW_READ", str(sandbox / "outside"))
    assert validate(_loader("../outside/decoy.txt"), registry, policy=Policy(sandbox / "graph")) == []


def test_a_symlink_in_the_graph_folder_that_leads_outside_is_refused(registry, sandbox):
    os.symlink(sandbox / "outside" / "decoy.txt", sandbox / "graph" / "innocent.png")
    (issue,) = validate(_loader("innocent.png"), registry, policy=Policy(sandbox / "graph"))
    assert issue.code == "read_outside" and f"({sandbox / 'outside' / 'decoy.txt'})" in issue.message


def test_a_path_over_a_link_is_checked_when_the_node_runs(registry, sandbox):
    doc = _loader("")
    Batch([AddNode("core.text", "p", {"value": str(sandbox / "outside" / "decoy.txt")}),
           Connect("p", "text", "img", "path")])(doc)
    result = _run(registry, sandbox, doc)
    r = result.nodes["img"]
    assert r.status == "failed"
    assert r.error.startswith(f"param 'path': '{sandbox / 'outside' / 'decoy.txt'}' is outside the folders this graph may read")


def test_a_fifo_in_the_graph_folder_is_not_read(registry, sandbox):
    os.mkfifo(sandbox / "graph" / "pipe.png")
    (issue,) = validate(_loader("pipe.png"), registry, policy=Policy(sandbox / "graph"))
    assert issue.message == ("node 'img' (image.load) param 'path': 'pipe.png' is not a regular file (a FIFO, socket "
                             "or device); nodegraph does not read those")
    ctx = Context("img", "image.load", output_dir=sandbox / "out", base_dir=sandbox / "graph")
    with pytest.raises(UnsafePath, match="param 'path': 'pipe.png' is not a regular file"):
        ctx.input_path("pipe.png", "path")


def test_templates_and_their_shipped_assets_stay_allowed(registry, tmp_path):
    assert shipped_assets() == ROOT / "assets"
    from nodegraph.looks import with_looks
    from nodegraph.looks.expand import validate_all

    for path in TEMPLATES:  # a template with Look instances: their inner nodes too (looks_gallery)
        doc = load(path)
        assert validate_all(doc, with_looks(registry, path), policy=Policy(path.parent, output_dir=tmp_path)) == [], path.name
    doc = load(ROOT / "graphs" / "talking_character.json")
    loaders = [n for n in doc.node_ids() if doc.type_of(n) == "image.load"]
    assert len(loaders) == 4
    result = Evaluator(registry, output_dir=tmp_path, base_dir=ROOT / "graphs", use_cache=False).run(doc, loaders)
    assert [result.nodes[n].status for n in loaders] == ["computed"] * 4


def test_a_graph_from_a_media_file_reads_its_own_tree_only_when_the_file_lies_inside_it(tmp_path):
    project = tmp_path / "project"
    (project / "output").mkdir(parents=True)
    assert graph_root_for(project / "g.json", project) == project
    assert graph_root_for(project / "output" / "x.png", project) == project
    elsewhere = tmp_path / "downloads"
    elsewhere.mkdir()
    # a PNG from someone else claims it was made in /root/.ssh: its own folder is all it may read
    assert graph_root_for(elsewhere / "x.png", "/root/.ssh") == Path(os.path.realpath(elsewhere))


def test_a_graph_embedded_in_a_png_cannot_widen_its_reads_by_naming_another_base(registry, sandbox, capsys):
    """The PNG carries the folder it was made in; a hostile one names a private folder."""
    from PIL import Image as PILImage
    from PIL.PngImagePlugin import PngInfo

    from nodegraph.cli import main

    info = PngInfo()
    info.add_itxt("nodegraph:graph", dumps(_loader("decoy.txt")), zip=True)
    info.add_text("nodegraph:base", str(sandbox / "outside"))
    (sandbox / "downloads").mkdir()
    PILImage.new("RGB", (4, 4)).save(sandbox / "downloads" / "shared.png", pnginfo=info)
    assert main(["validate", str(sandbox / "downloads" / "shared.png")]) == 1
    assert f"'decoy.txt' ({sandbox / 'outside' / 'decoy.txt'}) is outside the folders this graph may read" \
           in capsys.readouterr().err


def test_the_editor_allows_the_folder_of_a_picked_file(registry, sandbox, tmp_path):
    from PIL import Image as PILImage

    from nodegraph.editor.session import EditorSession

    PILImage.new("RGB", (8, 8)).save(sandbox / "outside" / "picked.png")
    (sandbox / "graph" / "g.json").write_text(dumps(_loader(str(sandbox / "outside" / "picked.png"))), encoding="utf-8")
    s = EditorSession(registry, config_dir=tmp_path / "config", output_dir=sandbox / "out")
    s.open(sandbox / "graph" / "g.json")
    assert "is outside the folders this graph may read" in (s.run() or "")
    s.allow_read(sandbox / "outside" / "picked.png")  # what the Browse dialog does with the file picked
    assert s.run() is None
    s._runner.thread.join(30)
    s.close()
