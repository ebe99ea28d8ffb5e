"""Model licences: `nodegraph licences`, `run --commercial`, `models add --licence`, `models verify GRAPH`.

The licence of a model comes from the registry, its model card, its hub repo id, or (only when that
is restrictive) its name, kind or config. An unknown licence is never shown as allowed."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nodegraph.fileformat import load
from nodegraph.models import file_digest, find_by_sha256
from nodegraph.models.licences import identify, licence, model_card_licence, summary
from nodegraph.usage import commercial_check, usage

ROOT = Path(__file__).resolve().parent.parent
GRAPHS = ROOT / "graphs"


def cli(*args, cwd, env_extra=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "nodegraph", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def write_graph(path: Path, nodes: dict) -> Path:
    path.write_text(json.dumps({"format": "nodegraph", "version": 1, "nodes": nodes}), encoding="utf-8")
    return path


def sd_graph(folder: Path, model: str, lora: str | None = None) -> Path:
    nodes = {"model": {"type": "diffusion.load_model", "params": {"model": model}},
             "draw": {"type": "diffusion.txt2img", "inputs": {"model": "lora.model" if lora else "model.model",
                                                               "prompt": "prompt.prompt"}},
             "prompt": {"type": "prompt.prompt", "params": {"template": "a lighthouse"}},
             "save": {"type": "image.save_png", "inputs": {"image": "draw.image"}, "params": {"filename": "x.png"}}}
    if lora:
        nodes["lora"] = {"type": "diffusion.lora", "inputs": {"model": "model.model"}, "params": {"lora": lora}}
    return write_graph(folder / "sd.json", nodes)


def test_commercial_refuses_the_dub_template_naming_both_nodes(tmp_path):
    p = cli("run", str(GRAPHS / "dub.json"), "--commercial", "-o", str(tmp_path / "out"), "-q", cwd=tmp_path)
    assert p.returncode == 1
    err = p.stderr
    assert "--commercial" in err and "nothing was run" in err
    assert "node 'dub' (voice.clone_dub): model 'xtts_v2' is under Coqui Public Model License" in err
    assert "node 'lips' (lipsync.wav2lip): model 'wav2lip_gan' is under Wav2Lip licence" in err
    assert "whisper" not in err and "opus-mt" not in err  # MIT and CC-BY-4.0 allow commercial use
    assert not (tmp_path / "out").exists()


def test_commercial_accepts_the_talking_character_template(tmp_path):
    p = cli("run", str(GRAPHS / "talking_character.json"), "--commercial", "-o", str(tmp_path / "out"),
            "--no-cache", "-q", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "out" / "talking_character.mp4").stat().st_size > 10_000
    lic = cli("licences", str(GRAPHS / "talking_character.json"), cwd=tmp_path)
    assert lic.returncode == 0
    assert "Models: none" in lic.stdout and "commercial use: yes" in lic.stdout
    assert "nodegraph 0.1.0: GPL-3.0-or-later" in lic.stdout


def test_licences_lists_each_model_with_its_licence(tmp_path):
    p = cli("licences", str(GRAPHS / "dub.json"), "--json", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    by_node = {m["node"]: m for m in data["models"]}
    assert by_node["dub"]["licence"]["id"] == "cpml" and by_node["dub"]["licence"]["commercial"] == "no"
    assert by_node["lips"]["licence"]["id"] == "wav2lip-research"
    assert by_node["transcribe"]["licence"] == {**by_node["transcribe"]["licence"], "id": "mit", "commercial": "yes",
                                                "how": "repo id"}
    assert by_node["translate"]["source"] == "Helsinki-NLP/opus-mt-en-fr"
    assert all(m["found"] is False for m in data["models"])
    assert data["summary"] == "commercial use: no (cpml, wav2lip-research)"
    assert [p["distribution"] for p in data["packs"]] == ["nodegraph"]
    text = cli("licences", str(GRAPHS / "dub.json"), cwd=tmp_path).stdout
    assert "NON-COMMERCIAL" in text and "source: coqui/XTTS-v2" in text


def test_unknown_is_never_allowed(tmp_path):
    assert licence("other").commercial == "unknown"
    assert licence("").commercial == "unknown"
    assert licence("my-own-terms").commercial == "unknown" and "my-own-terms" in licence("my-own-terms").name
    assert licence("MIT").commercial == "yes" and licence("CC-BY-NC-4.0").commercial == "no"
    # a LoRA nobody recorded a licence for: unknown, and --commercial refuses it
    lora = tmp_path / "style.safetensors"
    lora.write_bytes(b"\0" * 64)
    g = sd_graph(tmp_path, "stable-diffusion-v1-5/stable-diffusion-v1-5", "./style.safetensors")
    p = cli("run", str(g), "--commercial", "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert p.returncode == 1
    assert "node 'lora' (diffusion.lora): model './style.safetensors': its licence is unknown" in p.stderr
    assert "--licence ID" in p.stderr
    assert "node 'model'" not in p.stderr  # SD 1.5 by its repo id: CreativeML OpenRAIL-M allows it
    # something that merely looks like a permissive family is not taken for it
    info = identify("whisper-small-finetune", "audio")
    assert info.commercial == "unknown"
    assert summary([info, identify("openai/whisper-small", "audio", repo_id="openai/whisper-small")]) == \
        "commercial use: unknown (unknown)"


def test_recorded_licence_and_model_card(tmp_path, tiny_models, monkeypatch):
    # a model card's front matter is authoritative
    card = tmp_path / "card"
    card.mkdir()
    (card / "README.md").write_text("---\nlanguage: en\nlicense: other\nlicense_name: coqui-public-model-license\n"
                                    "---\n# a voice\n", encoding="utf-8")
    assert model_card_licence(card) == "coqui-public-model-license"
    assert identify("card", "audio", path=card).licence.id == "cpml"
    (card / "README.md").write_text("---\nlicense: apache-2.0\n---\n", encoding="utf-8")
    assert identify("card", "audio", path=card).commercial == "yes"
    (card / "README.md").write_text("no front matter\nlicense: mit\n", encoding="utf-8")
    assert identify("card", "audio", path=card).commercial == "unknown"
    # the tiny SD folder has no card: unknown; `models add --licence` records one
    g = sd_graph(tmp_path, str(tiny_models.sd))
    assert usage(load(g), _registry(g), tmp_path).models[0].licence.commercial == "unknown"
    p = cli("models", "add", str(tiny_models.sd), "--kind", "checkpoints", "--name", "house-sd",
            "--licence", "creativeml-openrail-m", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "licence: CreativeML Open RAIL-M" in p.stdout
    g = sd_graph(tmp_path, "house-sd")
    u = usage(load(g), _registry(g), tmp_path)
    assert u.models[0].licence.licence.id == "creativeml-openrail-m" and u.models[0].licence.how == "registry"
    assert commercial_check(u) == ([], [])
    listed = cli("models", "list", cwd=tmp_path).stdout
    assert "house-sd" in listed and "[creativeml-openrail-m]" in listed


def test_musicgen_weights_are_recognised_by_their_config(tmp_path):
    from tinymusicgen import build_musicgen

    folder = build_musicgen(tmp_path / "my-score-model")  # a name that says nothing
    g = write_graph(tmp_path / "m.json", {
        "music": {"type": "musicgen.generate", "params": {"model": str(folder), "duration": 1.0}},
        "save": {"type": "audio.save", "inputs": {"audio": "music.audio"}, "params": {"filename": "m.flac"}}})
    u = usage(load(g), _registry(g), tmp_path, digests=True)
    (m,) = u.models
    assert m.licence.licence.id == "cc-by-nc-4.0" and m.licence.how == "config"
    assert m.sha256 and len(m.sha256) == 64 and m.size > 0 and m.found
    assert "path" not in m.manifest() and str(tmp_path) not in json.dumps(m.manifest())
    p = cli("run", str(g), "--commercial", "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert p.returncode == 1 and "node 'music' (musicgen.generate)" in p.stderr and "NonCommercial" in p.stderr


def test_a_model_inside_a_look_counts(tmp_path):
    from nodegraph.looks.make import make_look, replace_with_instance
    from nodegraph.looks.model import save as save_look
    from nodegraph.registry import default_registry

    g = write_graph(tmp_path / "g.json", {
        "voice": {"type": "voice.clone_speak", "params": {"text": "hello", "model": "xtts_v2"}},
        "save": {"type": "audio.save", "inputs": {"audio": "voice.speech"}, "params": {"filename": "v.wav"}}})
    doc = load(g)
    look = make_look(doc, ["voice"], "studio/voice", "1.0.0", default_registry())
    (tmp_path / "looks").mkdir()
    save_look(look, tmp_path / "looks" / look.file_name())
    replace_with_instance(doc, look, ["voice"], "narrator")(doc)
    from nodegraph.fileformat import save

    save(doc, g)
    p = cli("run", str(g), "--commercial", "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "node 'narrator/voice' (voice.clone_speak): model 'xtts_v2'" in p.stderr


def test_models_verify_graph(tmp_path, monkeypatch):
    roots = tmp_path / "models"
    (roots / "loras").mkdir(parents=True)
    lora = roots / "loras" / "ink.safetensors"
    lora.write_bytes(os.urandom(4096))
    g = sd_graph(tmp_path, "stable-diffusion-v1-5/stable-diffusion-v1-5", "ink")
    env = {"NODEGRAPH_MODELS": str(roots)}
    p = cli("models", "verify", str(g), "--json", cwd=tmp_path, env_extra=env)
    rows = {r["node"]: r for r in json.loads(p.stdout)["models"]}
    assert rows["lora"]["status"] == "unpinned" and rows["lora"]["actual"] == file_digest(lora)
    assert rows["model"]["status"] == "missing" and p.returncode == 1
    # a manifest names what to expect: the same bytes pass, other bytes are reported
    manifest = tmp_path / "manifest.json"
    sha = file_digest(lora)
    manifest.write_text(json.dumps({"models": [{"node": "lora", "param": "lora", "sha256": sha, "size": 4096}]}))
    p = cli("models", "verify", str(g), cwd=tmp_path, env_extra=env)
    assert "ok         lora.lora  ink" in p.stdout and f"sha256 {sha}" in p.stdout
    assert f"expected sha256s from {manifest}" in p.stdout
    manifest.write_text(json.dumps({"models": [{"node": "lora", "param": "lora", "sha256": "ab" * 32}]}))
    p = cli("models", "verify", str(g), cwd=tmp_path, env_extra=env)
    assert p.returncode == 1 and "differs" in p.stdout and f"has sha256 {sha}, expected {'ab' * 32}" in p.stdout
    # the model is gone under its name but its bytes are elsewhere: found by hash
    other = tmp_path / "elsewhere" / "loras"
    other.mkdir(parents=True)
    lora.rename(other / "renamed.safetensors")
    manifest.write_text(json.dumps({"models": [{"node": "lora", "param": "lora", "sha256": sha, "size": 4096}]}))
    p = cli("models", "verify", str(g), cwd=tmp_path,
            env_extra={"NODEGRAPH_MODELS": os.pathsep.join([str(roots), str(tmp_path / "elsewhere")])})
    assert p.returncode == 1 and "elsewhere" in p.stdout and "renamed.safetensors" in p.stdout
    assert "nodegraph models add" in p.stdout


def test_find_by_sha256(tmp_path, monkeypatch):
    root = tmp_path / "root"
    (root / "loras").mkdir(parents=True)
    f = root / "loras" / "a.safetensors"
    f.write_bytes(b"x" * 1000)
    monkeypatch.setenv("NODEGRAPH_MODELS", str(root))
    sha = file_digest(f)
    found = find_by_sha256(sha, "loras", size=1000)
    assert found is not None and found.path == f.resolve() and found.found_by == "root"
    assert find_by_sha256(sha, "loras", size=999) is None
    assert find_by_sha256("0" * 64, "loras") is None
    with pytest.raises(ValueError, match="not a sha256"):
        find_by_sha256("../../etc/passwd", "loras")


def _registry(graph):
    from nodegraph.looks import with_looks
    from nodegraph.registry import default_registry

    return with_looks(default_registry(), graph)


def test_editor_marks_nodes_whose_model_stops_commercial_use(tmp_path):
    from nodegraph.cache import Cache
    from nodegraph.editor.session import EditorSession

    s = EditorSession(cache=Cache.memory_only(), config_dir=tmp_path / "cfg")
    s.open(str(GRAPHS / "dub.json"))
    assert s.node_view("dub").licence[0] == "no" and "Coqui Public Model License" in s.node_view("dub").licence[1]
    assert s.node_view("lips").licence[0] == "no"
    assert s.node_view("transcribe").licence is None and s.node_view("save").licence is None
    assert "Model openai/whisper-small: MIT License (commercial use allowed)" in s.inspector("transcribe").doc
    # an edit is seen at once: a model the user names without a known licence is marked unknown
    s.set_param("transcribe", "model", "./my-whisper")
    assert s.node_view("transcribe").licence[0] == "unknown"
    s.undo()
    assert s.node_view("transcribe").licence is None


def test_a_run_finds_a_pinned_model_by_its_sha256(tmp_path, tiny_models, monkeypatch):
    """An unpacked bundle's manifest pins each model reference to a sha256: a LoRA this machine
    keeps under another name, in another model root, is found by its bytes (run and verify)."""
    from nodegraph.cache import Cache
    from nodegraph.evaluate import Evaluator
    from nodegraph.models.pins import ModelPins

    roots = tmp_path / "elsewhere"
    (roots / "loras").mkdir(parents=True)
    kept = roots / "loras" / "my-copy.safetensors"
    kept.write_bytes(Path(tiny_models.lora).read_bytes())
    monkeypatch.setenv("NODEGRAPH_MODELS", str(roots))
    g = sd_graph(tmp_path, str(tiny_models.sd), "studio-ink")
    sha = file_digest(kept)
    (tmp_path / "manifest.json").write_text(json.dumps({"models": [
        {"node": "lora", "param": "lora", "kind": "loras", "ref": "studio-ink", "sha256": sha,
         "size": kept.stat().st_size}]}))
    doc = load(g)
    ev = Evaluator(_registry(g), output_dir=tmp_path / "out", base_dir=tmp_path, cache=Cache.memory_only(),
                   model_pins=ModelPins.beside(g))
    r = ev.run(doc, ["lora"])
    assert r.nodes["lora"].status == "computed", r.nodes["lora"].error
    assert str(kept.resolve()) in repr(r.value("lora", "model"))
    p = cli("models", "verify", str(g), cwd=tmp_path, env_extra={"NODEGRAPH_MODELS": str(roots)})
    assert "a run uses the same bytes, found by their sha256" in p.stdout and "my-copy.safetensors" in p.stdout
    # without the manifest the reference is simply missing, and says where it looked
    ev2 = Evaluator(_registry(g), output_dir=tmp_path / "out", base_dir=tmp_path, cache=Cache.memory_only())
    r2 = ev2.run(doc, ["lora"])
    assert r2.nodes["lora"].status == "failed" and "studio-ink" in r2.nodes["lora"].error


def test_a_damaged_manifest_beside_a_graph_costs_only_its_pins(tmp_path):
    from nodegraph.models.pins import ModelPins

    g = sd_graph(tmp_path, "stable-diffusion-v1-5/stable-diffusion-v1-5")
    (tmp_path / "manifest.json").write_text("{", encoding="utf-8")
    assert not ModelPins.beside(g)
    p = cli("licences", str(g), cwd=tmp_path)
    assert p.returncode == 0 and "CreativeML Open RAIL-M" in p.stdout
    p = cli("models", "verify", str(g), "--manifest", str(tmp_path / "manifest.json"), cwd=tmp_path)
    assert p.returncode == 1 and f"cannot read the manifest {tmp_path / 'manifest.json'}" in p.stderr
