"""Model manager: roots, resolution (paths, names, repo ids, offline), single-file configs, digests,
registry, device choice and the in-RAM model cache. Only files made in tmp_path; no torch, no network."""
from __future__ import annotations

import argparse
import hashlib
import json
import struct
import threading
import time
from pathlib import Path

import pytest

import nodegraph.models as models
from nodegraph.errors import NodegraphError
from nodegraph.models import digests, runtime


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    """A private config folder and HF cache; no roots; offline."""
    monkeypatch.setenv("NODEGRAPH_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for var in ("NODEGRAPH_MODELS", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "NODEGRAPH_DEVICE", "NODEGRAPH_DTYPE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(digests, "_memos", {})
    return tmp_path


def write_safetensors(path: Path, tensors: dict[str, list[int]], metadata: dict | None = None) -> Path:
    """A real safetensors file: 8-byte little-endian header length, JSON header, zero-filled F16 data."""
    header: dict = {"__metadata__": metadata} if metadata else {}
    offset = 0
    for name, shape in tensors.items():
        n = 2
        for s in shape:
            n *= s
        header[name] = {"dtype": "F16", "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    blob = json.dumps(header).encode()
    blob += b" " * (-len(blob) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + b"\0" * offset)
    return path


SD1 = {"cond_stage_model.transformer.text_model.embeddings.token_embedding.weight": [4, 2],
       "model.diffusion_model.input_blocks.0.0.weight": [2, 2]}
SD2 = {"cond_stage_model.model.token_embedding.weight": [4, 2],
       "model.diffusion_model.input_blocks.0.0.weight": [2, 2]}
SDXL = {"conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight": [4, 2],
        "conditioner.embedders.1.model.token_embedding.weight": [4, 2],
        "model.diffusion_model.label_emb.0.0.weight": [2, 2]}


def diffusers_folder(path: Path) -> Path:
    (path / "unet").mkdir(parents=True)
    (path / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')
    (path / "unet" / "config.json").write_text('{"sample_size": 8}')
    (path / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"x" * 64)
    return path


def write_config(tmp_path: Path, data: dict) -> None:
    (tmp_path / "config").mkdir(exist_ok=True)
    (tmp_path / "config" / "models.json").write_text(json.dumps(data))


# -- roots -------------------------------------------------------------------------------------------

def test_roots_from_env_then_config(env, monkeypatch):
    a, b, c = env / "a", env / "b", env / "c"
    a.mkdir(), b.mkdir(), c.mkdir()
    monkeypatch.setenv("NODEGRAPH_MODELS", f"{a}{__import__('os').pathsep}{env / 'missing'}")
    write_config(env, {"roots": [str(b), str(a)]})
    assert models.model_roots() == [a, b]          # env first, missing skipped, no duplicates
    assert models.add_root(c) == c.resolve()
    assert models.model_roots() == [a, b, c]
    with pytest.raises(models.ModelError, match="no such folder"):
        models.add_root(env / "nope")


def test_damaged_config_is_one_clear_error(env):
    (env / "config").mkdir()
    (env / "config" / "models.json").write_text("{not json")
    with pytest.raises(models.ModelError, match="models.json: not valid JSON"):
        models.model_roots()


def test_comfyui_and_a1111_folder_names(env, monkeypatch):
    comfy, a1111 = env / "ComfyUI", env / "webui"
    write_safetensors(comfy / "models" / "checkpoints" / "dream.safetensors", SD1)
    write_safetensors(comfy / "models" / "loras" / "sdxl" / "style.safetensors", {"w": [1]})
    write_safetensors(comfy / "models" / "ip_adapter" / "ip-adapter_sd15.safetensors", {"w": [1]})
    (comfy / "models" / "wav2lip").mkdir(parents=True)
    (comfy / "models" / "wav2lip" / "wav2lip_gan.pth").write_bytes(b"PK")
    (comfy / "models" / "checkpoints" / "old.ckpt").write_bytes(b"pickle")
    write_safetensors(a1111 / "models" / "Stable-diffusion" / "real.safetensors", SD1)
    write_safetensors(a1111 / "models" / "Lora" / "detail.safetensors", {"w": [1]})
    diffusers_folder(a1111 / "models" / "diffusers" / "tiny-sd")
    monkeypatch.setenv("NODEGRAPH_MODELS", f"{comfy}:{a1111}")

    assert models.kind_folders("loras") == [comfy / "models" / "loras", a1111 / "models" / "Lora"]
    r = models.resolve("dream", "checkpoints")
    assert (r.format, r.found_by, r.path) == ("single_file", "root", comfy / "models/checkpoints/dream.safetensors")
    assert models.resolve("real.safetensors", "checkpoints").path.name == "real.safetensors"
    assert models.resolve("detail", "loras").path.parent.name == "Lora"
    assert models.resolve("sdxl/style", "loras").path.name == "style.safetensors"   # subfolder name, not a repo id
    r = models.resolve("tiny-sd", "diffusers")
    assert r.format == "diffusers" and r.size == 64 + len('{"_class_name": "StableDiffusionPipeline"}') + len('{"sample_size": 8}')
    w = models.resolve("wav2lip_gan", "wav2lip")
    assert w.weights_only and w.format == "single_file"

    listed = {(e["kind"], e["name"]): e for e in models.scan_roots()}
    assert ("loras", "sdxl/style") in listed and ("ip_adapter", "ip-adapter_sd15") in listed
    assert listed[("diffusers", "tiny-sd")]["format"] == "diffusers"
    assert listed[("checkpoints", "old.ckpt")]["format"] == "refused"
    assert listed[("wav2lip", "wav2lip_gan.pth")]["format"] == "single_file"


# -- resolve ---------------------------------------------------------------------------------------

def test_resolve_paths_relative_to_graph_folder(env):
    graph_dir = env / "project"
    ck = write_safetensors(graph_dir / "weights" / "mine.safetensors", SD1)
    assert models.resolve(str(ck), "checkpoints").path == ck                     # absolute
    r = models.resolve("weights/mine.safetensors", "checkpoints", base_dir=graph_dir)
    assert r.path == ck.resolve() and r.found_by == "path" and r.name == "mine"
    tf = graph_dir / "whisper-tiny"
    tf.mkdir()
    (tf / "config.json").write_text("{}")
    assert models.resolve("whisper-tiny", "audio", base_dir=graph_dir).format == "transformers"
    (graph_dir / "empty").mkdir()
    with pytest.raises(models.UnsupportedModel, match="no model_index.json"):
        models.resolve("empty", "checkpoints", base_dir=graph_dir)
    with pytest.raises(models.ModelNotFound, match="does not exist"):
        models.resolve(str(env / "gone.safetensors"), "checkpoints")


def test_repo_id_found_in_hf_cache_snapshot(env):
    repo = env / "hf" / "hub" / "models--acme--tiny-sd"
    old = diffusers_folder(repo / "snapshots" / "1111")
    snap = diffusers_folder(repo / "snapshots" / "abc123")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    r = models.resolve("acme/tiny-sd", "diffusers")
    assert (r.path, r.repo_id, r.format, r.found_by) == (snap, "acme/tiny-sd", "diffusers", "hub-cache")
    assert r.load_source == str(snap) and old != snap
    online = models.resolve("acme/tiny-sd", "diffusers", offline=False)
    assert online.format == "hub" and online.load_source == "acme/tiny-sd"


def test_repo_id_missing_offline_is_a_clear_error(env):
    with pytest.raises(models.ModelOffline) as e:
        models.resolve("acme/not-here", "checkpoints", base_dir=env)
    msg = str(e.value)
    assert "'acme/not-here'" in msg and "HF_HUB_OFFLINE" in msg and str(env / "hf" / "hub") in msg
    assert "hf download acme/not-here" in msg and "nodegraph models add PATH --kind checkpoints" in msg
    # online and uncached: a hub reference the node may download later (nothing downloaded here)
    r = models.resolve("acme/not-here", "checkpoints", base_dir=env, offline=False)
    assert (r.format, r.path, r.load_source) == ("hub", None, "acme/not-here")
    assert r.digest() == "hub:acme/not-here"


def test_T5_missing_paths_are_never_repo_ids(env, monkeypatch):
    root = env / "root"
    (root / "checkpoints").mkdir(parents=True)
    monkeypatch.setenv("NODEGRAPH_MODELS", str(root))
    project = env / "project"
    (project / "models").mkdir(parents=True)
    for ref in ("./models/sd15", "models/sd15", "weights/sd15.safetensors", "models/sd15/unet", "sd15"):
        with pytest.raises(models.ModelNotFound) as e:
            models.resolve(ref, "checkpoints", base_dir=project)
        assert not isinstance(e.value, models.ModelOffline), ref
        assert repr(ref) in str(e.value) or ref.lstrip("./") in str(e.value)
    msg = str(e.value)
    assert str(root / "checkpoints") in msg and "nodegraph models add" in msg
    # org/name/path is a file inside a hub repo (not a local folder): the error says both where it looked
    with pytest.raises(models.ModelOffline) as e:
        models.resolve("h94/IP-Adapter/models/ip-adapter_sd15.safetensors", "ip_adapter", base_dir=project)
    assert "models/ip-adapter_sd15.safetensors of h94/IP-Adapter" in str(e.value) and str(project) in str(e.value)
    assert models.is_repo_id("runwayml/stable-diffusion-v1-5")
    for bad in ("a/b/c", "a--b/c", "/abs", "x", "a/.b", "a/b..c", "a b/c"):
        assert not models.is_repo_id(bad), bad


def test_pickled_checkpoints_are_refused(env, monkeypatch):
    root = env / "root"
    (root / "checkpoints").mkdir(parents=True)
    (root / "checkpoints" / "legacy.ckpt").write_bytes(b"\x80\x04pickle")
    monkeypatch.setenv("NODEGRAPH_MODELS", str(root))
    with pytest.raises(models.UnsafeModelFile, match=r"\.ckpt files are pickled .* only \.safetensors"):
        models.resolve("legacy", "checkpoints")
    with pytest.raises(models.UnsafeModelFile, match="not load them for safety"):
        models.resolve(str(root / "checkpoints" / "legacy.ckpt"), "checkpoints")
    pth = env / "lip.pth"
    pth.write_bytes(b"PK")
    with pytest.raises(models.UnsafeModelFile):
        models.resolve(str(pth), "checkpoints")
    assert models.resolve(str(pth), "wav2lip").weights_only
    assert isinstance(models.UnsafeModelFile("x"), NodegraphError)


# -- single-file checkpoints -----------------------------------------------------------------------

def test_architecture_sniffing(env):
    cases = {"sd1": SD1, "sd2": SD2, "sdxl": SDXL,
             "sdxl_refiner": {"conditioner.embedders.0.model.token_embedding.weight": [4, 2]},
             "sd3": {"model.diffusion_model.joint_blocks.0.x": [1]},
             "flux": {"double_blocks.0.img_attn.qkv.weight": [1]},
             None: {"down_blocks.0.resnets.0.conv1.weight": [1]}}
    for arch, tensors in cases.items():
        assert models.sniff_architecture(write_safetensors(env / f"{arch}.safetensors", tensors)) == arch
    unet = "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"
    assert models.sniff_architecture(write_safetensors(env / "u1.safetensors", {unet: [320, 768]})) == "sd1"
    assert models.sniff_architecture(write_safetensors(env / "u2.safetensors", {unet: [320, 1024]})) == "sd2"
    h = models.read_safetensors_header(write_safetensors(env / "m.safetensors", SD1, {"format": "pt"}))
    assert h["__metadata__"] == {"format": "pt"}
    (env / "bad.safetensors").write_bytes(b"\xff" * 64)
    with pytest.raises(models.UnsupportedModel, match="not a safetensors file"):
        models.sniff_architecture(env / "bad.safetensors")


def test_single_file_config_lookup_and_missing_message(env, monkeypatch):
    root = env / "root"
    root.mkdir()
    monkeypatch.setenv("NODEGRAPH_MODELS", str(root))
    ck = write_safetensors(env / "ckpts" / "juggernaut.safetensors", SDXL)
    with pytest.raises(models.SingleFileConfigMissing) as e:
        models.single_file_config(ck)
    msg = str(e.value)
    assert "juggernaut.safetensors" in msg and "Stable Diffusion XL" in msg
    assert str(root / "configs" / "sdxl") in msg and "stabilityai/stable-diffusion-xl-base-1.0" in msg

    diffusers_folder(root / "configs" / "sdxl")
    assert models.single_file_config(ck) == root / "configs" / "sdxl"
    sibling = diffusers_folder(env / "ckpts" / "juggernaut.config")
    assert models.single_file_config(ck) == sibling                       # a sibling folder wins
    explicit = diffusers_folder(env / "explicit")
    assert models.single_file_config(ck, str(explicit)) == explicit
    assert models.single_file_config(ck, "sdxl") == root / "configs" / "sdxl"
    with pytest.raises(models.SingleFileConfigMissing, match="not a diffusers config folder"):
        models.single_file_config(ck, str(env / "nothing"))
    sd3 = write_safetensors(env / "sd3.safetensors", {"model.diffusion_model.joint_blocks.0.x": [1]})
    with pytest.raises(models.UnsupportedModel, match="Stable Diffusion 3"):
        models.single_file_config(sd3)


# -- digests and the registry ----------------------------------------------------------------------

@pytest.fixture
def hash_calls(monkeypatch):
    calls = []
    real = digests.hash_file

    def counting(path):
        calls.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(digests, "hash_file", counting)
    return calls


def test_digest_memo_rehashes_only_changed_files(env, hash_calls, monkeypatch):
    f = env / "w.safetensors"
    f.write_bytes(b"a" * 1000)
    assert models.file_digest(f) == hashlib.sha256(b"a" * 1000).hexdigest()
    assert models.file_digest(f) == hashlib.sha256(b"a" * 1000).hexdigest()
    assert hash_calls == ["w.safetensors"]
    monkeypatch.setattr(digests, "_memos", {})                         # a new process: memo read from disk
    models.file_digest(f)
    assert len(hash_calls) == 1 and str(f.resolve()) in json.loads((env / "config" / "digests.json").read_text())
    f.write_bytes(b"b" * 1001)
    assert models.file_digest(f) == hashlib.sha256(b"b" * 1001).hexdigest()
    assert len(hash_calls) == 2

    folder = diffusers_folder(env / "pipe")
    (folder / ".cache").mkdir()
    (folder / ".cache" / "junk").write_text("ignored")
    d1 = models.folder_digest(folder)
    expect = hashlib.sha256()
    for rel in ("model_index.json", "unet/config.json", "unet/diffusion_pytorch_model.safetensors"):
        expect.update(rel.encode() + b"\0" + hashlib.sha256((folder / rel).read_bytes()).hexdigest().encode() + b"\n")
    assert d1 == expect.hexdigest()
    n = len(hash_calls)
    assert models.folder_digest(folder) == d1 and len(hash_calls) == n
    (folder / "unet" / "config.json").write_text('{"sample_size": 16}')
    assert models.folder_digest(folder) != d1 and len(hash_calls) == n + 1


def test_registry_add_list_verify_and_mismatch(env, hash_calls):
    ck = write_safetensors(env / "m" / "dream.safetensors", SD1)
    e = models.add(str(ck), "checkpoints")
    assert e["name"] == "dream" and e["sha256"] == hashlib.sha256(ck.read_bytes()).hexdigest()
    assert e["size"] == ck.stat().st_size and e["format"] == "single_file"
    r = models.resolve("dream", "checkpoints", base_dir=env / "elsewhere")
    assert r.found_by == "registered" and r.path == ck and r.registered_sha256 == e["sha256"]
    snap = diffusers_folder(env / "hf" / "hub" / "models--acme--tiny" / "snapshots" / "r1")
    e2 = models.add("acme/tiny", "diffusers", name="tiny")
    assert e2["repo_id"] == "acme/tiny" and "path" not in e2 and e2["sha256"] == models.folder_digest(snap)
    names = [(x["name"], x["source"]) for x in models.list_models()]
    assert names == [("dream", "registered"), ("tiny", "registered")]

    assert [(v.name, v.ok) for v in models.verify_all()] == [("dream", True), ("tiny", True)]
    n = len(hash_calls)
    models.verify_all(["dream"])
    assert len(hash_calls) == n + 1                                   # verify re-reads the bytes
    ck.write_bytes(ck.read_bytes()[:-2] + b"\1\1")                    # same size: corrupted in place
    bad = models.verify_all(["dream"])[0]
    assert not bad.ok and bad.error == "sha256 mismatch" and bad.expected == e["sha256"] != bad.actual
    with pytest.raises(models.DigestMismatch, match="sha256 mismatch"):
        models.verify(ck, e["sha256"])
    with pytest.raises(models.ModelError, match="no registered model named 'nope'"):
        models.verify_all(["nope"])


def test_cli_models_list_add_verify(env, capsys):
    from nodegraph.cli_models import add_cli

    parser = argparse.ArgumentParser(prog="nodegraph")
    add_cli(parser.add_subparsers(dest="command", required=True))

    def run(*argv):
        args = parser.parse_args(list(argv))
        return args.fn(args)

    ck = write_safetensors(env / "lora.safetensors", {"w": [2]})
    assert run("models", "add", str(ck), "--kind", "loras", "--name", "mylora") == 0
    assert "added 'mylora' (loras" in capsys.readouterr().out
    assert run("models", "list", "--json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["name"] == "mylora" and rows[0]["sha256"]
    assert run("models", "verify") == 0 and "ok        mylora" in capsys.readouterr().out
    ck.write_bytes(b"\0" * ck.stat().st_size)
    with pytest.raises(models.ModelError, match="1 of 1 model"):
        run("models", "verify", "mylora")
    with pytest.raises(models.ModelError, match="--kind is required"):
        run("models", "add", str(ck))
    assert run("models", "add", str(env), "--root") == 0


# -- device, dtype, cache --------------------------------------------------------------------------

class FakeTorch:
    def __init__(self, cuda=False, mps=False):
        self.cuda = type("C", (), {"is_available": staticmethod(lambda: cuda), "device_count": staticmethod(lambda: 1)})
        mps_mod = type("M", (), {"is_available": staticmethod(lambda: mps)})
        self.backends = type("B", (), {"mps": mps_mod})


def test_device_choice(monkeypatch):
    monkeypatch.setattr(runtime, "_torch", lambda: None)                      # torch not installed
    assert models.choose_device() == "cpu" and models.dtype_for("cpu") == "float32"
    monkeypatch.setenv("NODEGRAPH_DEVICE", "cuda")
    with pytest.raises(models.ModelError, match="needs torch"):
        models.choose_device()
    assert models.choose_device("cpu") == "cpu"                               # the parameter wins over the env
    monkeypatch.delenv("NODEGRAPH_DEVICE")
    monkeypatch.setattr(runtime, "_torch", lambda: FakeTorch(cuda=True, mps=True))
    assert models.choose_device() == "cuda" and models.choose_device("mps") == "mps"
    assert models.choose_device("cuda:0") == "cuda:0"
    with pytest.raises(models.ModelError, match="not available"):
        models.choose_device("cuda:3")
    monkeypatch.setattr(runtime, "_torch", lambda: FakeTorch(mps=True))
    assert models.choose_device() == "mps"
    with pytest.raises(models.ModelError, match="expected auto"):
        models.choose_device("tpu")
    assert models.dtype_for("cuda") == models.dtype_for("mps") == "float16"
    monkeypatch.setenv("NODEGRAPH_DTYPE", "bfloat16")
    assert models.dtype_for("cuda") == "bfloat16"


def test_cache_loads_once_under_concurrent_callers():
    cache = models.ModelCache(budget_bytes=1 << 30)
    calls = []
    barrier = threading.Barrier(8)
    key = models.ModelKey("abc", "cpu", "float32")

    def loader():
        calls.append(1)
        time.sleep(0.05)
        return object()

    got = []

    def worker():
        barrier.wait()
        got.append(cache.get_or_load(key, loader, size=10))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(got) == 8 and all(g is got[0] for g in got)
    assert cache.loads == 1 and cache.hits == 7


def test_cache_evicts_least_recently_used_within_budget(env):
    evicted = []
    cache = models.ModelCache(budget_bytes=100, on_evict=lambda k, v: evicted.append(k))
    cache.get_or_load("a", lambda: "A", size=40)
    cache.get_or_load("b", lambda: "B", size=40)
    cache.get_or_load("a", lambda: pytest.fail("cached"))            # a is now the most recent
    cache.get_or_load("c", lambda: "C", size=40)
    assert evicted == ["b"] and cache.keys() == ["a", "c"] and cache.bytes == 80
    cache.get_or_load("huge", lambda: "H", size=500)                 # larger than the budget: kept alone
    assert cache.keys() == ["huge"] and evicted == ["b", "a", "c"]
    sized = models.ModelCache(budget_bytes=10, size_fn=len)
    sized.get_or_load("x", lambda: "12345678")
    sized.get_or_load("y", lambda: "1234")
    assert sized.keys() == ["y"]
    cache.clear()
    assert len(cache) == 0 and evicted[-1] == "huge"
    # keyed by digest, device, dtype; sized by the model's file size
    ck = write_safetensors(env / "m.safetensors", SD1)
    r = models.resolve(str(ck), "checkpoints")
    cache = models.ModelCache(budget_bytes=1 << 20)
    obj = cache.load(r, "cpu", "float32", lambda: "pipe")
    assert cache.load(r, "cpu", "float32", lambda: pytest.fail("cached")) is obj
    assert cache.keys() == [models.ModelKey(hashlib.sha256(ck.read_bytes()).hexdigest(), "cpu", "float32")]
    assert cache.bytes == ck.stat().st_size
    assert models.shared_cache() is models.shared_cache()
