"""Bundles (issue 16, item 1): ``nodegraph pack`` / ``nodegraph unpack`` round trip and report.

The must-show test: the talking-character template packed, unpacked under a new HOME (fresh
config, cache and Looks folders) into another folder, and run from there with nothing but its own
folder readable: the MP4's decoded frames and audio samples equal the original run's (both runs
compute every node: ``--no-cache``).
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from nodegraph.cli import main
from untrusted import tree

ROOT = Path(__file__).resolve().parent.parent
TALKING = ROOT / "graphs" / "talking_character.json"
MOVIE = "talking_character.mp4"


def decoded(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(every video frame as RGB, every audio sample) of an MP4, decoded with PyAV."""
    import av

    frames, audio = [], []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            frames.append(f.to_ndarray(format="rgb24"))
    with av.open(str(path)) as c:
        for f in c.decode(audio=0):
            audio.append(f.to_ndarray())
    return np.stack(frames), np.concatenate(audio, axis=-1)


def new_home(monkeypatch, tmp_path: Path) -> Path:
    """A machine that has never seen the graph: fresh HOME, config, cache, Looks and data folders;
    nothing readable but what the graph's own folder holds (the test-session allowance is gone)."""
    home = tmp_path / "other-home"
    for sub in ("config", "cache", "looks", "data", "xdg-cache", "xdg-config"):
        (home / sub).mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("NODEGRAPH_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("NODEGRAPH_CACHE_DIR", str(home / "cache"))
    monkeypatch.setenv("NODEGRAPH_LOOKS_DIR", str(home / "looks"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "xdg-cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "xdg-config"))
    monkeypatch.delenv("NODEGRAPH_ALLOW_READ", raising=False)
    monkeypatch.delenv("NODEGRAPH_MODELS", raising=False)
    return home


def test_round_trip_talking_character_same_frames_and_audio(tmp_path, monkeypatch, capsys):
    first = tmp_path / "first-run"
    assert main(["run", str(TALKING), "-o", str(first), "-q", "--no-cache"]) == 0
    bundle = tmp_path / "share" / "scene.ngpack"
    bundle.parent.mkdir()
    assert main(["pack", str(TALKING), "-o", str(bundle), "--notes", "for the studio", "--output", str(first)]) == 0
    out = capsys.readouterr().out
    assert f"wrote {bundle}" in out and "5 asset file(s)" in out and f"thumbnail from {MOVIE}" in out

    # the bundle: the graph names only its own files, every member is listed with its hash
    with zipfile.ZipFile(bundle) as zf:
        names = zf.namelist()
        manifest = json.loads(zf.read("manifest.json"))
        graph_text = zf.read("talking_character.json").decode()
        import hashlib

        for name, rec in manifest["members"].items():
            data = zf.read(name)
            assert hashlib.sha256(data).hexdigest() == rec["sha256"] and len(data) == rec["size"], name
        notes = zf.read("notes.txt").decode()
    assert names[0] == "manifest.json" and set(names) == set(manifest["members"]) | {"manifest.json"}
    assert manifest["graph_sha256"] == hashlib.sha256(graph_text.encode()).hexdigest()
    assert str(ROOT) not in graph_text and "../assets" not in graph_text and str(Path.home()) not in graph_text
    doc = json.loads(graph_text)
    assert doc["nodes"]["mira"]["params"]["definition"].startswith("assets/")
    assert doc["nodes"]["mira"]["params"]["definition"].endswith("/character.json")
    assert sorted(a["name"] for a in manifest["assets"]) == ["body.png", "character.json", "mouths.png", "park.png",
                                                             "studio.png"]
    assert {a["path"].split("/")[1] for a in manifest["assets"]} == {a["sha256"] for a in manifest["assets"]}
    assert manifest["models"] == [] and manifest["licences"]["summary"] == "commercial use: yes (no models)"
    assert {p["distribution"] for p in manifest["packs"]} == {"nodegraph"}
    assert {s["node"]: s["value"] for s in manifest["seeds"]}["music"] == 7
    assert "for the studio" in notes and "Mira" in notes
    assert "for the studio" not in graph_text
    thumb = manifest["thumbnail"]
    with zipfile.ZipFile(bundle) as zf:
        from io import BytesIO

        from PIL import Image

        img = Image.open(BytesIO(zf.read(thumb)))
        assert img.format == "PNG" and img.size == (640, 360)  # the MP4's middle frame, 1280x720 halved

    # another machine: a new HOME, the bundle unpacked into another folder, run from there
    new_home(monkeypatch, tmp_path)
    work = tmp_path / "elsewhere" / "projects"
    work.mkdir(parents=True)
    before = tree(tmp_path / "elsewhere")
    target = work / "scene"
    assert main(["unpack", str(bundle), str(target)]) == 0
    out = capsys.readouterr().out
    assert f"graph: {target / 'talking_character.json'}" in out
    assert "ok       nodegraph" in out and "ready to run" in out and "licences: commercial use: yes" in out
    added = set(tree(tmp_path / "elsewhere")) - set(before)
    assert all(p.startswith("projects/scene") for p in added)  # nothing outside the target folder
    assert main(["validate", str(target / "talking_character.json")]) == 0
    second = tmp_path / "second-run"
    monkeypatch.chdir(tmp_path)  # relative paths of the graph must not depend on the current folder
    assert main(["run", str(target / "talking_character.json"), "-o", str(second), "-q", "--no-cache"]) == 0
    capsys.readouterr()

    v1, a1 = decoded(first / MOVIE)
    v2, a2 = decoded(second / MOVIE)
    assert v1.shape == v2.shape == (384, 720, 1280, 3)
    assert np.array_equal(v1, v2)
    assert a1.shape == a2.shape and a1.size > 0
    assert np.array_equal(a1, a2)


def test_unpack_list_and_json_write_nothing(tmp_path, capsys):
    bundle = tmp_path / "t.ngpack"
    assert main(["pack", str(TALKING), "-o", str(bundle)]) == 0
    assert "thumbnail from a drawing of the graph" in capsys.readouterr().out
    before = tree(tmp_path)
    assert main(["unpack", "--list", str(bundle)]) == 0
    out = capsys.readouterr().out
    assert "checked, nothing written" in out and "talking_character.json" in out and "thumbnail.png" in out
    assert main(["unpack", "--list", "--json", str(bundle)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ready"] is True and data["title"] == "Talking character" and data["assets"] == 5
    assert tree(tmp_path) == before
    # pack refuses to replace a bundle unless told to
    assert main(["pack", str(TALKING), "-o", str(bundle)]) == 1
    assert "already exists (use --force" in capsys.readouterr().err
    # unpack into a folder that is not empty: refused unless --force
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("keep")
    assert main(["unpack", str(bundle), str(tmp_path / "full")]) == 1
    assert "is not empty (use --force" in capsys.readouterr().err
    assert main(["unpack", str(bundle), str(tmp_path / "full"), "--force"]) == 0
    assert (tmp_path / "full" / "mine.txt").read_text() == "keep"
    assert (tmp_path / "full" / "talking_character.json").is_file()
    assert not [p for p in (tmp_path / "full").iterdir() if p.name.startswith(".ngpack")]


def _model_graph(folder: Path) -> Path:
    """A graph that reads an audio file and names a model file by path (a Whisper model: the
    transcription never runs here, the bundle only records the model)."""
    from nodegraph.commands import AddNode, Batch, Connect
    from nodegraph.fileformat import save
    from nodegraph.graph import Document

    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    sf.write(folder / "line.wav", np.zeros(800, np.float32), 8000)
    (folder / "models").mkdir()
    (folder / "models" / "whisper-tiny.safetensors").write_bytes(np.random.default_rng(1).bytes(4096))
    doc = Document()
    Batch([AddNode("audio.load", "voice", {"path": "line.wav"}),
           AddNode("speech.transcribe", "words", {"model": "./models/whisper-tiny.safetensors"}),
           Connect("voice", "audio", "words", "audio"),
           AddNode("speech.subtitles_file", "srt", {"filename": "words.srt"}),
           Connect("words", "subtitles", "srt", "subtitles")])(doc)
    save(doc, folder / "words.json")
    return folder / "words.json"


def test_models_missing_differing_and_found_by_hash(tmp_path, monkeypatch, capsys):
    graph = _model_graph(tmp_path / "maker")
    model = tmp_path / "maker" / "models" / "whisper-tiny.safetensors"
    import hashlib

    sha = hashlib.sha256(model.read_bytes()).hexdigest()
    bundle = tmp_path / "words.ngpack"
    assert main(["pack", str(graph), "-o", str(bundle)]) == 0
    out = capsys.readouterr().out
    assert f"model words.model: models/whisper-tiny.safetensors (audio) sha256 {sha[:16]}" in out
    with zipfile.ZipFile(bundle) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        assert not [n for n in zf.namelist() if n.endswith(".safetensors")]  # weights are never packed
        graph_text = zf.read("words.json").decode()
    (m,) = manifest["models"]
    assert m["sha256"] == sha and m["size"] == 4096 and m["ref"] == "models/whisper-tiny.safetensors"
    assert m["kind"] == "audio" and m["licence"]["id"] and str(tmp_path) not in json.dumps(manifest)
    assert '"model": "models/whisper-tiny.safetensors"' in graph_text

    # missing: reported with its source and sha256; exit status 3
    new_home(monkeypatch, tmp_path)
    target = tmp_path / "elsewhere" / "words"
    assert main(["unpack", str(bundle), str(target)]) == 3
    out = capsys.readouterr().out
    line = next(l for l in out.splitlines() if "missing  words.model" in l)
    assert f"sha256 {sha}" in line and "source " in line and "size 4096" in line and "licence " in line
    assert "not ready to run: 1 model(s) missing" in out
    assert "found by hash" not in out

    # found by hash elsewhere on this machine (a model root): a run of the unpacked graph uses it
    roots = tmp_path / "my-models"
    (roots / "whisper").mkdir(parents=True)
    copy = roots / "whisper" / "renamed.safetensors"
    copy.write_bytes(model.read_bytes())
    monkeypatch.setenv("NODEGRAPH_MODELS", str(roots))
    assert main(["unpack", "--list", str(bundle)]) == 0
    out = capsys.readouterr().out
    assert f"by its sha256 at {copy} (a run of the unpacked graph uses it)" in out
    from nodegraph.models.pins import ModelPins

    pins = ModelPins.beside(target / "words.json")
    assert pins.sha256("models/whisper-tiny.safetensors", "audio") == sha
    assert pins.find("models/whisper-tiny.safetensors", "audio").path == copy.resolve()

    # differs: a file of that name with other content
    (target / "models").mkdir()
    (target / "models" / "whisper-tiny.safetensors").write_bytes(b"x" * 4096)
    assert main(["unpack", str(bundle), str(target), "--force", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (mc,) = data["models"]
    assert mc["status"] == "differs" and mc["sha256"] == sha and mc["found_elsewhere"] == str(copy)
    # the same file: ok
    (target / "models" / "whisper-tiny.safetensors").write_bytes(model.read_bytes())
    # --list: no folder, so not that file; the copy in the model root is found by its sha256
    assert main(["unpack", "--list", "--json", str(bundle)]) == 0
    capsys.readouterr()
    from nodegraph.bundle import check

    report = check(manifest, target)
    assert [c.status for c in report.models] == ["ok"] and report.ready


def test_pack_refuses_files_the_graph_may_not_read(tmp_path, monkeypatch, capsys):
    from nodegraph.commands import AddNode
    from nodegraph.fileformat import save
    from nodegraph.graph import Document

    monkeypatch.delenv("NODEGRAPH_ALLOW_READ", raising=False)
    secret = tmp_path / "private" / "key.png"
    secret.parent.mkdir()
    secret.write_bytes(b"\x89PNG not really")
    doc = Document()
    AddNode("image.load", "steal", {"path": str(secret)})(doc)
    (tmp_path / "shared").mkdir()
    save(doc, tmp_path / "shared" / "g.json")
    assert main(["pack", str(tmp_path / "shared" / "g.json"), "-o", str(tmp_path / "g.ngpack")]) == 1
    err = capsys.readouterr().err
    assert "node 'steal' param 'path'" in err and "outside the folders this graph may read" in err
    assert "not packed" in err and not (tmp_path / "g.ngpack").exists()
    # a missing file: named
    doc = Document()
    AddNode("image.load", "gone", {"path": "nowhere.png"})(doc)
    save(doc, tmp_path / "shared" / "g2.json")
    assert main(["pack", str(tmp_path / "shared" / "g2.json"), "-o", str(tmp_path / "g2.ngpack"),
                 "--allow-read", str(secret.parent)]) == 1
    err = capsys.readouterr().err
    assert "node 'gone' param 'path'" in err and "does not exist" in err


def test_looks_travel_with_the_bundle(tmp_path, monkeypatch, capsys):
    """A graph using a Look from its own looks/ folder: the Look file goes into the bundle and the
    unpacked graph finds it (its looks/ folder is searched first) under a new HOME."""
    from nodegraph.bundle import pack

    src = ROOT / "graphs" / "looks_gallery.json"
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "looks").mkdir()
    # the gallery's Looks come from the shipped package; copy one graph's Looks beside it as a user would
    text = src.read_text().replace("../assets/", str(ROOT / "assets") + "/")
    (proj / "gallery.json").write_text(text)
    r = pack(proj / "gallery.json", tmp_path / "gallery.ngpack")
    looks = r.manifest["looks"]
    assert len(looks) == 8 and all(lk["path"].startswith("looks/") for lk in looks)
    assert {lk["type"] for lk in looks} >= {"look:nodegraph/noir@1.0.0", "look:nodegraph/vhs@1.0.0"}
    new_home(monkeypatch, tmp_path)
    monkeypatch.setattr("nodegraph.looks.library.package_roots", lambda: [])  # the shipped Looks are not installed
    target = tmp_path / "there"
    assert main(["unpack", str(tmp_path / "gallery.ngpack"), str(target)]) == 0
    capsys.readouterr()
    assert len(list((target / "looks").glob("*.look.json"))) == 8
    assert main(["validate", str(target / "gallery.json")]) == 0


FILMIC = {
    "format": "nodegraph-look", "version": 1, "look": "studio/filmic", "look_version": "1.0.0", "title": "Filmic",
    "graph": {"nodes": {"lut": {"type": "grade.lut", "version": "1.0.0", "params": {"path": "filmic.cube"}}}},
    "inputs": {"image": {"to": ["lut.image"], "type": "image"}},
    "outputs": {"image": {"from": "lut.image", "type": "image"}},
    "params": {"strength": {"default": 0.8, "label": "Strength", "min": 0.0, "max": 1.0, "to": ["lut.strength"]}},
}


def test_a_look_that_reads_a_file_travels_with_it(tmp_path, monkeypatch, capsys):
    """A Look in your own looks folder whose inner node reads a LUT beside the Look file: the
    Look file and the LUT go into the bundle (the Look's path rewritten to ../assets/...), and the
    unpacked graph, on a machine without the Look, renders the same picture."""
    from PIL import Image

    from nodegraph.commands import AddNode, Batch, Connect
    from nodegraph.fileformat import save
    from nodegraph.graph import Document

    mine = tmp_path / "my-looks"
    mine.mkdir()
    monkeypatch.setenv("NODEGRAPH_LOOKS_DIR", str(mine))
    (mine / "studio.filmic-1.0.0.look.json").write_text(json.dumps(FILMIC))
    rows = [f"{0.2 + 0.6 * r} {0.1 + 0.8 * g} {0.5 * b}" for b in (0, 1) for g in (0, 1) for r in (0, 1)]
    (mine / "filmic.cube").write_text("LUT_3D_SIZE 2\n" + "\n".join(rows) + "\n")
    proj = tmp_path / "proj"
    proj.mkdir()
    doc = Document()
    Batch([AddNode("image.solid", "src", {"width": 32, "height": 18}),
           AddNode("look:studio/filmic@1.0.0", "grade", {"strength": 0.9}), Connect("src", "image", "grade", "image"),
           AddNode("image.save_png", "out", {"filename": "graded.png"}), Connect("grade", "image", "out", "image")])(doc)
    save(doc, proj / "film.json")
    assert main(["run", str(proj / "film.json"), "-o", str(tmp_path / "o1"), "-q", "--no-cache"]) == 0
    bundle = tmp_path / "film.ngpack"
    assert main(["pack", str(proj / "film.json"), "-o", str(bundle)]) == 0
    assert "1 asset file(s), 1 Look(s)" in capsys.readouterr().out
    with zipfile.ZipFile(bundle) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        look = json.loads(zf.read("looks/studio.filmic-1.0.0.look.json"))
    (asset,) = manifest["assets"]
    assert asset["name"] == "filmic.cube" and asset["used_by"] == ["look:studio/filmic@1.0.0:lut.path"]
    assert look["graph"]["nodes"]["lut"]["params"]["path"] == "../" + asset["path"]
    assert manifest["looks"] == [{"type": "look:studio/filmic@1.0.0", "path": "looks/studio.filmic-1.0.0.look.json",
                                  "origin": "user"}]

    new_home(monkeypatch, tmp_path)  # a Looks folder without studio/filmic
    target = tmp_path / "away" / "film"
    assert main(["unpack", str(bundle), str(target)]) == 0
    capsys.readouterr()
    assert main(["run", str(target / "film.json"), "-o", str(tmp_path / "o2"), "-q", "--no-cache"]) == 0
    a = np.asarray(Image.open(tmp_path / "o1" / "graded.png"))
    b = np.asarray(Image.open(tmp_path / "o2" / "graded.png"))
    assert a.shape[:2] == (18, 32) and np.array_equal(a, b)
    r, g, bl = (int(v) for v in a[0, 0, :3])
    # the LUT at strength 0.9 on the solid (40, 40, 48): red 0.2 + 0.6 r, green 0.1 + 0.8 g, blue b / 2
    want = [0.9 * 255 * f(v / 255) + 0.1 * v for f, v in ((lambda x: 0.2 + 0.6 * x, 40), (lambda x: 0.1 + 0.8 * x, 40),
                                                          (lambda x: 0.5 * x, 48))]
    assert all(abs(got - w) <= 2 for got, w in zip((r, g, bl), want)), ((r, g, bl), want)


def test_a_path_fed_by_a_text_node_is_packed(tmp_path, capsys):
    from PIL import Image

    from nodegraph.commands import AddNode, Batch, Connect
    from nodegraph.fileformat import save
    from nodegraph.graph import Document

    proj = tmp_path / "proj"
    (proj / "pics").mkdir(parents=True)
    Image.fromarray(np.full((6, 10, 3), 90, np.uint8)).save(proj / "pics" / "p.png")
    doc = Document()
    Batch([AddNode("core.text", "where", {"value": "pics/p.png"}), AddNode("image.load", "pic", {}),
           Connect("where", "text", "pic", "path"),
           AddNode("image.save_png", "out", {"filename": "o.png"}), Connect("pic", "image", "out", "image")])(doc)
    save(doc, proj / "g.json")
    assert main(["pack", str(proj / "g.json"), "-o", str(tmp_path / "g.ngpack")]) == 0
    assert "1 asset file(s)" in capsys.readouterr().out
    assert main(["unpack", str(tmp_path / "g.ngpack"), str(tmp_path / "there")]) == 0
    capsys.readouterr()
    value = json.loads((tmp_path / "there" / "g.json").read_text())["nodes"]["where"]["params"]["value"]
    assert value.startswith("assets/") and value.endswith("/p.png") and (tmp_path / "there" / value).is_file()
    assert main(["run", str(tmp_path / "there" / "g.json"), "-o", str(tmp_path / "o"), "-q", "--no-cache"]) == 0
    assert np.asarray(Image.open(tmp_path / "o" / "o.png")).shape[:2] == (6, 10)
