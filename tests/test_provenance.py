"""Provenance in every output: real graphs are run and the record each file carries is read back
with the readers a user has (Pillow for PNG, PyAV and ffprobe for MP4, soundfile for FLAC, PyAV
for WAV, OpenTimelineIO for OTIO) and with ``nodegraph provenance FILE``: graph hash equal to the
hash of the graph the file embeds, nodegraph version, models with sha256 and licence, seeds,
licence summary; no absolute path of the folder the graph ran in; ``--no-embed`` writes none; a
cached output keeps its file and record; another seed gives another record."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import uuid
from pathlib import Path

import numpy as np
import pytest

import nodegraph
from nodegraph import read_embedded_graph, read_provenance
from nodegraph.cache import Cache
from nodegraph.cli import main
from nodegraph.embedded import GraphKeys
from nodegraph.errors import GraphFileError
from nodegraph.evaluate import Evaluator
from nodegraph.fileformat import from_data, load

ROOT = Path(__file__).resolve().parent.parent


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def unique_dir(tmp_path: Path) -> Path:
    """A folder whose absolute path occurs nowhere else: any trace of it in an output is a leak."""
    d = tmp_path / f"maker-{uuid.uuid4().hex}"
    d.mkdir()
    return d


def assert_no_path(where: Path, *texts: str | bytes) -> None:
    needle = str(where.resolve())
    for t in texts:
        hay = t if isinstance(t, str) else t.decode("latin-1")
        assert needle not in hay and str(where) not in hay, f"the maker's folder {where} leaks"


def graph(nodes: dict, title: str = "") -> object:
    """``{id: (type, params, inputs)}`` -> Document."""
    data = {"format": "nodegraph", "version": 1, "nodes": {}, "meta": {"title": title} if title else {}}
    for nid, spec in nodes.items():
        data["nodes"][nid] = {"type": spec[0], "params": spec[1], **({"inputs": spec[2]} if len(spec) > 2 else {})}
    return from_data(data)


def evaluator(registry, where: Path, cache: Cache | None = None, embed: bool = True) -> Evaluator:
    return Evaluator(registry, output_dir=where / "out", base_dir=where,
                     cache=cache if cache is not None else Cache(where / "cache"), embed=embed)


def ok(result) -> None:
    bad = {n: (r.status, r.error) for n, r in result.nodes.items() if not r.ok}
    assert not bad, bad


# -- PNG: the demo graph -------------------------------------------------------------------------

def test_demo_png_carries_the_record_read_back_with_pillow_and_the_cli(tmp_path, capsys):
    from PIL import Image

    where = unique_dir(tmp_path)
    shutil.copy(ROOT / "graphs" / "demo.json", where / "demo.json")
    assert main(["run", str(where / "demo.json"), "-o", str(where / "out"), "-q", "--no-cache"]) == 0
    png = where / "out" / "title_card.png"
    with Image.open(png) as im:
        text = dict(im.text)
    record = json.loads(text[GraphKeys.png_provenance])
    assert record["format"] == "nodegraph.provenance/1" and record["nodegraph"] == nodegraph.__version__
    assert record["graph"] == {"sha256": sha(text[GraphKeys.png_graph]), "title": "Demo: title card"}
    assert record["output"] == {"node": "save_card", "type": "image.save_png"}
    assert record["models"] == [] and record["seeds"] == [] and record["ai_generated"] is False
    assert record["licences"] == "commercial use: yes (no models)"
    assert {p["distribution"] for p in record["packs"]} == {"nodegraph"}
    assert {ns for p in record["packs"] for ns in p["namespaces"]} == {"core", "image"}
    assert all(p["version"] == nodegraph.__version__ and p["licence"] == "GPL-3.0-or-later" for p in record["packs"])
    assert read_provenance(str(png)) == record
    assert_no_path(where, png.read_bytes(), *text.values())

    capsys.readouterr()
    assert main(["provenance", str(png)]) == 0
    out = capsys.readouterr().out
    assert record["graph"]["sha256"] in out and "Demo: title card" in out
    assert "the graph embedded in the file matches this hash" in out
    assert "commercial use: yes (no models)" in out and f"nodegraph {nodegraph.__version__}" in out
    assert main(["provenance", str(png), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["record"] == record and shown["graph_matches"] is True


def test_the_same_graph_gives_the_same_record_in_another_folder(tmp_path, registry):
    """The hash is of the portable graph text: two machines (folders) agree, and no time is written."""
    records = []
    for _ in range(2):
        where = unique_dir(tmp_path)
        shutil.copy(ROOT / "graphs" / "demo.json", where / "demo.json")
        ok(evaluator(registry, where).run(load(str(where / "demo.json"))))
        records.append((where / "out" / "title_card.png").read_bytes())
    assert records[0] == records[1]


def test_looks_upstream_of_the_output_are_named_with_their_seeds(tmp_path, registry):
    """A Look's inner nodes count (the flat document names them by path); a Look on another branch
    does not; the files a shipped Look reads leave no path of this machine in the output."""
    from PIL import Image

    from nodegraph.looks import with_looks

    where = unique_dir(tmp_path)
    doc = graph({"bg": ("image.gradient", {"width": 32, "height": 32}),
                 "noir": ("look:nodegraph/noir@1.0.0", {}, {"image": "bg.image"}),
                 "vhs": ("look:nodegraph/vhs@1.0.0", {}, {"image": "bg.image"}),
                 "save": ("image.save_png", {"filename": "noir.png"}, {"image": "noir.image"})})
    ok(evaluator(with_looks(registry, where / "g.json"), where).run(doc))
    png = where / "out" / "noir.png"
    record = read_provenance(str(png))
    assert record["looks"] == ["look:nodegraph/noir@1.0.0"]
    assert record["seeds"] == [{"node": "noir/grain", "param": "seed", "value": 7}]
    assert "grade" in {ns for p in record["packs"] for ns in p["namespaces"]}
    with Image.open(png) as im:
        assert_no_path(where, png.read_bytes(), *im.text.values())
        assert str(ROOT) not in "".join(im.text.values())


# -- MP4 with sound, FLAC, WAV, OTIO -------------------------------------------------------------

def media_graph(seed: int = 7) -> object:
    return graph({
        "bg": ("image.gradient", {"width": 64, "height": 36}),
        "music": ("music.compose", {"duration": 1.0, "seed": seed, "instrumentation": "piano"}),
        "still": ("video.still", {"duration": 1.0, "fps": 12}, {"image": "bg.image"}),
        "shot": ("timeline.shot", {}, {"video": "still.video"}),
        "tl": ("timeline.timeline", {"width": 64, "height": 36, "fps": 12}, {"shots": ["shot.clip"]}),
        "mp4": ("video.save_mp4", {"filename": "clip.mp4", "speed": "ultrafast"},
                {"video": "still.video", "audio": "music.audio"}),
        "flac": ("audio.save", {"filename": "music.flac", "depth": "16"}, {"audio": "music.audio"}),
        "wav": ("audio.save", {"filename": "music.wav", "depth": "16"}, {"audio": "music.audio"}),
        "otio": ("timeline.export_otio", {"media": "clip.mp4", "filename": "cut.otio"}, {"timeline": "tl.timeline"}),
    }, title="Provenance media")


def read_all(out: Path) -> dict:
    """Each file's record and embedded graph, through the readers of its format."""
    import av
    import opentimelineio as otio
    import soundfile as sf

    got = {}
    with av.open(str(out / "clip.mp4")) as c:
        meta = dict(c.metadata)
        assert len(c.streams.audio) == 1 and len(c.streams.video) == 1
    got["mp4"] = (json.loads(meta[GraphKeys.mp4_provenance]), meta[GraphKeys.mp4_graph])
    with sf.SoundFile(str(out / "music.flac")) as f:
        made = json.loads(f.comment)["nodegraph"]
    got["flac"] = (made["provenance"], made["graph"])
    with av.open(str(out / "music.wav")) as c:  # WAV: the LIST/INFO comment
        made = json.loads(c.metadata["comment"])["nodegraph"]
        assert c.metadata.get("encoder") == "nodegraph"
    assert "graph" not in made
    got["wav"] = (made["provenance"], None)
    t = otio.adapters.read_from_file(str(out / "cut.otio"))
    meta = t.metadata["nodegraph"]
    got["otio"] = (json.loads(json.dumps(dict(meta["provenance"]), default=_otio_plain)), meta["graph"])
    return got


def _otio_plain(v):
    return dict(v) if hasattr(v, "keys") else list(v)


def test_mp4_flac_wav_and_otio_carry_the_record(tmp_path, registry, capsys):
    import soundfile as sf

    where = unique_dir(tmp_path)
    ok(evaluator(registry, where).run(media_graph()))
    out = where / "out"
    got = read_all(out)
    graph_text = got["mp4"][1]
    for kind, (record, embedded) in got.items():
        assert record["graph"] == {"sha256": sha(graph_text), "title": "Provenance media"}, kind
        if embedded is not None:
            assert embedded == graph_text, kind
        assert record["output"]["node"] == kind
        assert record["nodegraph"] == nodegraph.__version__
        assert record["models"] == [] and record["licences"] == "commercial use: yes (no models)"
        assert record["ai_generated"] is False
        assert read_provenance(str(out / {"mp4": "clip.mp4", "flac": "music.flac", "wav": "music.wav",
                                          "otio": "cut.otio"}[kind])) == record
    seeds = [{"node": "music", "param": "seed", "value": 7}]
    assert got["mp4"][0]["seeds"] == got["flac"][0]["seeds"] == got["wav"][0]["seeds"] == seeds
    assert got["otio"][0]["seeds"] == []  # only what the output needs: the timeline holds no music
    assert got["mp4"][0]["output"]["type"] == "video.save_mp4" and got["otio"][0]["output"]["type"] == "timeline.export_otio"

    # the sound is intact after the metadata chunk went in
    flac, _ = sf.read(str(out / "music.flac"), dtype="int16")
    wav, rate = sf.read(str(out / "music.wav"), dtype="int16")
    assert wav.shape == flac.shape == (rate, 2)
    assert np.abs(flac.astype(np.int32) - wav).max() <= 1 and np.abs(wav).max() > 1000  # (libsndfile rounds FLAC apart)

    for name in ("clip.mp4", "music.flac", "music.wav"):
        assert_no_path(where, (out / name).read_bytes())
    assert_no_path(where, json.dumps(got["otio"][0]), got["otio"][1])

    capsys.readouterr()
    assert main(["provenance", str(out / "music.wav")]) == 0
    text = capsys.readouterr().out
    assert "music.seed=7" in text and "output node: wav (audio.save)" in text


def test_mp4_record_read_by_ffprobe(tmp_path, registry):
    """ffprobe, the reader most tools use, shows the record (skipped where ffmpeg is not installed;
    PyAV reads it in the test above)."""
    if not shutil.which("ffprobe"):
        pytest.skip("ffprobe is not installed (PyAV reads the MP4's metadata in the test above)")
    where = unique_dir(tmp_path)
    ok(evaluator(registry, where).run(media_graph()))
    probed = json.loads(subprocess.run(["ffprobe", "-v", "error", "-show_format", "-of", "json",
                                        str(where / "out" / "clip.mp4")], capture_output=True, text=True,
                                       check=True).stdout)
    record = json.loads(probed["format"]["tags"][GraphKeys.mp4_provenance])
    assert record == read_provenance(str(where / "out" / "clip.mp4"))
    assert record["output"]["node"] == "mp4" and record["seeds"][0]["value"] == 7


def test_no_embed_writes_no_record(tmp_path, registry, capsys):
    from PIL import Image

    where = unique_dir(tmp_path)
    shutil.copy(ROOT / "graphs" / "demo.json", where / "demo.json")
    assert main(["run", str(where / "demo.json"), "-o", str(where / "out"), "-q", "--no-cache", "--no-embed"]) == 0
    png = where / "out" / "title_card.png"
    with Image.open(png) as im:
        assert not any(k.startswith("nodegraph") for k in im.text)
    assert read_provenance(str(png)) is None
    capsys.readouterr()
    assert main(["provenance", str(png)]) == 1
    assert f"{png}: carries no nodegraph provenance record" in capsys.readouterr().err

    ok(evaluator(registry, where, embed=False).run(media_graph()))
    for name in ("clip.mp4", "music.flac", "music.wav", "cut.otio"):
        assert read_provenance(str(where / "out" / name)) is None, name
    assert b"nodegraph_provenance" not in (where / "out" / "clip.mp4").read_bytes()


def test_cached_outputs_keep_their_files_and_records_and_a_new_seed_makes_a_new_record(tmp_path, registry):
    where = unique_dir(tmp_path)
    cache = Cache(where / "cache")
    doc = media_graph(seed=7)
    ok(evaluator(registry, where, cache).run(doc))
    out = where / "out"
    before = {n: (out / n).read_bytes() for n in ("clip.mp4", "music.flac", "music.wav", "cut.otio")}
    first = read_provenance(str(out / "music.flac"))

    r = evaluator(registry, where, cache).run(media_graph(seed=7))  # a new process would see the same
    ok(r)
    assert {n: r.nodes[n].status for n in ("mp4", "flac", "wav", "otio")} == dict.fromkeys(("mp4", "flac", "wav", "otio"), "cached")
    assert {n: (out / n).read_bytes() for n in before} == before
    assert read_provenance(str(out / "music.flac")) == first

    r = evaluator(registry, where, cache).run(media_graph(seed=8))
    ok(r)
    assert r.nodes["flac"].status == "computed" and r.nodes["otio"].status == "cached"  # otio does not use the music
    second = read_provenance(str(out / "music.flac"))
    assert second["seeds"] == [{"node": "music", "param": "seed", "value": 8}]
    assert second["graph"]["sha256"] != first["graph"]["sha256"]
    assert second["graph"]["sha256"] == sha(read_embedded_graph(str(out / "music.flac"))[0])


# -- a graph with a model --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_musicgen(tmp_path_factory):
    from tinymusicgen import build_musicgen

    return build_musicgen(tmp_path_factory.mktemp("tiny-musicgen") / "musicgen-small")


@pytest.fixture
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    monkeypatch.delenv("NODEGRAPH_MODELS", raising=False)


def musicgen_graph(model: str, seed: int = 1) -> object:
    return graph({
        "gen": ("musicgen.generate", {"model": model, "prompt": "calm piano", "duration": 0.3, "seed": seed,
                                      "device": "cpu"}),
        "flac": ("audio.save", {"filename": "gen.flac", "depth": "16"}, {"audio": "gen.audio"}),
        "wav": ("audio.save", {"filename": "gen.wav", "depth": "16"}, {"audio": "gen.audio"}),
    }, title="With a model")


def test_models_with_sha256_and_licence_for_a_graph_with_a_model(tmp_path, registry, tiny_musicgen, offline, capsys):
    from nodegraph.models.digests import path_digest

    where = unique_dir(tmp_path)
    shutil.copytree(tiny_musicgen, where / "models" / "musicgen-small")
    ok(evaluator(registry, where).run(musicgen_graph("./models/musicgen-small")))
    record = read_provenance(str(where / "out" / "gen.flac"))
    assert read_provenance(str(where / "out" / "gen.wav"))["models"] == record["models"]
    [m] = record["models"]
    assert (m["node"], m["param"], m["kind"], m["ref"]) == ("gen", "model", "audio", "./models/musicgen-small")
    assert m["sha256"] == path_digest(where / "models" / "musicgen-small") and len(m["sha256"]) == 64
    assert m["size"] > 0
    # a MusicGen config without a model card: recognised as MusicGen, whose weights are CC-BY-NC-4.0
    assert m["licence"]["id"] == "cc-by-nc-4.0" and m["licence"]["commercial"] == "no"
    assert record["licences"] == "commercial use: no (cc-by-nc-4.0)"
    assert record["ai_generated"] is True
    assert record["digital_source_type"].endswith("/trainedAlgorithmicMedia")
    assert record["seeds"] == [{"node": "gen", "param": "seed", "value": 1}]
    assert_no_path(where, (where / "out" / "gen.flac").read_bytes(), (where / "out" / "gen.wav").read_bytes())

    capsys.readouterr()
    assert main(["provenance", str(where / "out" / "gen.flac")]) == 0
    text = capsys.readouterr().out
    assert m["sha256"] in text and "licence cc-by-nc-4.0" in text and "commercial use: no" in text
    assert "made with a generative model: yes" in text


def test_one_record_per_output_per_run_and_each_model_file_hashed_once(tmp_path, registry, tiny_musicgen, offline,
                                                                      monkeypatch):
    import nodegraph.models.digests as digests
    import nodegraph.provenance as provenance

    made, hashed = [], []
    real_record, real_hash = provenance.make_record, digests.hash_file
    monkeypatch.setattr(provenance, "make_record", lambda *a, **k: made.append(a[3]) or real_record(*a, **k))
    monkeypatch.setattr(digests, "hash_file", lambda p: hashed.append(str(p)) or real_hash(p))
    where = unique_dir(tmp_path)
    shutil.copytree(tiny_musicgen, where / "models" / "musicgen-small")
    ok(evaluator(registry, where).run(musicgen_graph("./models/musicgen-small")))
    assert sorted(made) == ["flac", "wav"]  # one record per output node (not per file write, not per node)
    assert hashed and len(hashed) == len(set(hashed))  # two outputs, one model: each of its files hashed once
    assert all(str(where / "models") in h for h in hashed)


def test_a_model_outside_the_graph_folder_is_named_without_its_path(tmp_path, registry, tiny_musicgen, offline):
    where = unique_dir(tmp_path)
    elsewhere = unique_dir(tmp_path)
    shutil.copytree(tiny_musicgen, elsewhere / "musicgen-small")
    ok(evaluator(registry, where).run(musicgen_graph(str(elsewhere / "musicgen-small"))))
    record = read_provenance(str(where / "out" / "gen.flac"))
    assert record["models"][0]["ref"] == "musicgen-small" and record["models"][0]["sha256"]
    for name in ("gen.flac", "gen.wav"):
        assert_no_path(elsewhere, (where / "out" / name).read_bytes())
        assert_no_path(where, (where / "out" / name).read_bytes())


# -- the content credentials call site -------------------------------------------------------------

def test_a_signer_seals_each_output_once_before_the_cache_records_the_file(tmp_path, registry, monkeypatch):
    """With a signer (``nodegraph run --sign``), each output node's files are sealed with its record
    right after the node wrote them, before the cache notes their size and time: the next run
    finds the sealed files as it left them and reuses them."""
    import nodegraph.provenance as provenance

    sealed = []

    def seal(files, record, signer):  # stands in for C2PA signing: the file changes after writing
        sealed.append(([Path(f).name for f in files], record["output"]["node"], signer))
        for f in files:
            with open(f, "ab") as out:
                out.write(b"sealed")

    monkeypatch.setattr(provenance, "seal", seal)
    where = unique_dir(tmp_path)
    shutil.copy(ROOT / "graphs" / "demo.json", where / "demo.json")
    cache = Cache(where / "cache")
    ev = evaluator(registry, where, cache)
    ev.signer = "the user's key"
    ok(ev.run(load(str(where / "demo.json"))))
    assert sorted(sealed) == [(["credits.txt"], "save_credits", "the user's key"),  # every output node's files
                              (["title_card.png"], "save_card", "the user's key")]
    png = (where / "out" / "title_card.png").read_bytes()
    assert png.endswith(b"sealed")

    ev = evaluator(registry, where, cache)
    ev.signer = "the user's key"
    r = ev.run(load(str(where / "demo.json")))
    assert r.nodes["save_card"].status == "cached" and len(sealed) == 2
    assert (where / "out" / "title_card.png").read_bytes() == png


def test_run_sign_writes_content_credentials_holding_the_record(tmp_path, capsys):
    """``nodegraph run --sign KEY``: every output gets a C2PA manifest that c2pa-python's reader
    validates, holding the same record as the file's own metadata; a text output gets FILE.c2pa,
    through which ``nodegraph provenance`` reads it; a cached re-run keeps the signed files."""
    from nodegraph.credentials import new_identity, read_manifest

    where = unique_dir(tmp_path)
    shutil.copy(ROOT / "graphs" / "demo.json", where / "demo.json")
    key = new_identity(tmp_path / "keys", "studio").key_path
    cache = ["--cache-dir", str(where / "cache")]
    assert main(["run", str(where / "demo.json"), "-o", str(where / "out"), "-q", "--sign", str(key), *cache]) == 0
    png, txt = where / "out" / "title_card.png", where / "out" / "credits.txt"
    manifest = read_manifest(png)
    assert manifest["validation_state"] in ("Valid", "Trusted") and manifest["failures"] == []
    assert manifest["record"] == read_provenance(str(png)) and manifest["ai_generated"] is False
    assert manifest["digital_source_type"].endswith("/digitalCreation")
    assert read_embedded_graph(str(png)) is not None  # signing keeps the graph and the record
    assert read_manifest(txt)["record"]["output"] == {"node": "save_credits", "type": "core.save_text"}
    signed = png.read_bytes()

    capsys.readouterr()
    assert main(["provenance", str(png)]) == 0
    out = capsys.readouterr().out
    assert "content credentials (C2PA): Valid" in out and "nodegraph test signer (studio)" in out
    assert "WARNING" not in out
    assert main(["provenance", str(txt)]) == 0
    assert "output node: save_credits (core.save_text)" in capsys.readouterr().out

    assert main(["run", str(where / "demo.json"), "-o", str(where / "out"), "-q", "--sign", str(key), *cache]) == 0
    assert png.read_bytes() == signed and read_manifest(png)["failures"] == []


def test_a_model_made_output_is_signed_as_made_by_ai(tmp_path, registry, tiny_musicgen, offline):
    from nodegraph.credentials import new_identity, read_manifest, signer_from

    where = unique_dir(tmp_path)
    shutil.copytree(tiny_musicgen, where / "models" / "musicgen-small")
    ev = evaluator(registry, where)
    ev.signer = signer_from(new_identity(tmp_path / "keys", "studio").key_path)
    ok(ev.run(musicgen_graph("./models/musicgen-small")))
    for name in ("gen.flac", "gen.wav"):
        m = read_manifest(where / "out" / name)
        assert m["failures"] == [] and m["ai_generated"] is True
        assert m["digital_source_type"].endswith("/trainedAlgorithmicMedia")
        assert m["record"] == read_provenance(str(where / "out" / name))
        assert m["record"]["licences"] == "commercial use: no (cc-by-nc-4.0)"


# -- reading files that carry none -----------------------------------------------------------------

def test_files_without_a_record_and_unreadable_files_are_named(tmp_path, capsys):
    from PIL import Image

    plain = tmp_path / "plain.png"
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(plain)
    assert read_provenance(str(plain)) is None
    assert main(["provenance", str(plain)]) == 1
    assert f"{plain}: carries no nodegraph provenance record" in capsys.readouterr().err

    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a movie")
    with pytest.raises(GraphFileError, match="broken.mp4: cannot read the file"):
        read_provenance(str(broken))
    assert main(["provenance", str(broken)]) == 1
    assert "broken.mp4: cannot read the file" in capsys.readouterr().err

    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    assert main(["provenance", str(notes)]) == 1
    assert f"{notes}: nodegraph reads provenance from PNG" in capsys.readouterr().err
    assert main(["provenance", str(tmp_path / "absent.flac")]) == 1
    assert "absent.flac: no such file" in capsys.readouterr().err

    bad = tmp_path / "bad.wav"
    import soundfile as sf

    sf.write(str(bad), np.zeros(10, np.float32), 8000)
    from nodegraph import add_wav_info

    add_wav_info(bad, {"ICMT": '{"nodegraph": {"provenance": "{not json"}}'})
    with pytest.raises(GraphFileError, match="bad.wav: its provenance record is not valid JSON"):
        read_provenance(str(bad))
