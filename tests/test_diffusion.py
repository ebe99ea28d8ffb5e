"""Image AI nodes on tiny random-weight Stable Diffusion models built at test time (tests/tinymodels.py),
through the real loading code: diffusers folder, single file + local config, Hugging Face cache layout;
txt2img, img2img, inpaint, LoRA, IP-Adapter (basic and Plus), style grid, progress, cancellation,
no reload on a second run, nothing computed in a new process, and clear errors for bad input."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nodegraph.cache import Cache
from nodegraph.context import CancelToken
from nodegraph.errors import GraphInvalid
from nodegraph.evaluate import Evaluator
from nodegraph.fileformat import from_data
from nodegraph.models import shared_cache
from nodegraph.types import Image

ROOT = Path(__file__).resolve().parent.parent
SMALL = {"width": 64, "height": 64, "steps": 2}


@pytest.fixture(scope="module")
def m(tiny_models):
    return tiny_models


@pytest.fixture(autouse=True)
def fresh_models(monkeypatch, tmp_path):
    """No model roots, a private HF cache, offline; loaded pipelines stay shared across tests (as in
    one editor session), except where a test clears them."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    monkeypatch.delenv("NODEGRAPH_MODELS", raising=False)


def graph(nodes: dict) -> object:
    """``{id: (type, params, inputs)}`` -> Document."""
    data = {"format": "nodegraph", "version": 1, "nodes": {}}
    for nid, spec in nodes.items():
        t, params = spec[0], spec[1]
        entry = {"type": t, "params": params}
        if len(spec) > 2:
            entry["inputs"] = spec[2]
        data["nodes"][nid] = entry
    return from_data(data)


def sd_graph(model: str, gen: dict | None = None, *, gen_type: str = "diffusion.txt2img", extra: dict | None = None,
             gen_inputs: dict | None = None, load_params: dict | None = None, text: str = "a red cat") -> object:
    nodes = {
        "load": ("diffusion.load_model", {"model": model, **(load_params or {})}),
        "p": ("prompt.prompt", {"template": text, "variables": ""}),
        "gen": (gen_type, {**SMALL, "seed": 1, **(gen or {})},
                {"model": "load.model", "prompt": "p.prompt", **(gen_inputs or {})}),
    }
    nodes.update(extra or {})
    return graph(nodes)


def run(doc, tmp_path, *, cache=None, targets=None, **kw):
    ev = Evaluator(_registry(), output_dir=tmp_path / "out", base_dir=tmp_path,
                   cache=cache if cache is not None else Cache(tmp_path / "cache"))
    return ev, ev.run(doc, targets, **kw)


_REG = []


def _registry():
    if not _REG:
        from nodegraph.registry import default_registry

        _REG.append(default_registry())
    return _REG[0]


def ok(result, node: str = "gen", port: str = "image"):
    r = result.nodes[node]
    assert r.ok, f"{node}: {r.status}: {r.error} ({[(n, x.error) for n, x in result.nodes.items() if x.error]})"
    return result.value(node, port)


def px(img: Image) -> np.ndarray:
    return img.pixels.astype(np.float32)


def diff(a: Image, b: Image) -> float:
    return float(np.abs(px(a) - px(b)).mean())


def error_of(result, node: str) -> str:
    r = result.nodes[node]
    assert r.status == "failed", f"{node} did not fail: {r.status}"
    return r.error


MIRA = ROOT / "assets" / "characters" / "mira"


def character_nodes(image_path: Path, seed: int = 5, description: str = "a girl with a red scarf") -> dict:
    """Mira's art and mouths, with ``image_path`` as one more reference picture."""
    return {
        "body": ("image.load", {"path": str(MIRA / "body.png")}),
        "mouths": ("image.load", {"path": str(MIRA / "mouths.png")}),
        "ref": ("image.load", {"path": str(image_path)}),
        "hero": ("character.character", {"name": "Ada", "description": description, "seed": seed,
                                         "mouth_x": 260.0, "mouth_y": 343.0},
                 {"image": "body.image", "mouths": "mouths.image", "references": ["ref.image"]}),
    }


def picture(path: Path, seed: int) -> Path:
    """A 96x96 RGB test picture (a face would be needed only for the photo mouth finder)."""
    from PIL import Image as PILImage

    rng = np.random.default_rng(seed)
    arr = np.zeros((96, 96, 3), np.uint8)
    arr[:] = rng.integers(0, 255, 3)
    arr[20:70, 25:75] = rng.integers(0, 255, 3)
    PILImage.fromarray(arr).save(path)
    return path


# -- loading ------------------------------------------------------------------------------------------

def test_txt2img_from_a_diffusers_folder(m, tmp_path):
    _, r = run(sd_graph(str(m.sd)), tmp_path)
    img = ok(r)
    assert (img.height, img.width, img.channels) == (64, 64, 3)
    assert img.pixels.dtype == np.uint8 and img.pixels.std() > 5      # a picture, not a flat fill
    handle = ok(r, "load", "model")
    assert handle.format == "diffusers" and handle.pipeline == "StableDiffusionPipeline"
    assert handle.device == "cpu" and handle.dtype == "float32" and len(handle.sha256) == 64


def test_same_seed_same_picture_other_seed_other_picture_and_batches_follow_seeds(m, tmp_path):
    _, a = run(sd_graph(str(m.sd), {"seed": 3}), tmp_path / "a")
    _, b = run(sd_graph(str(m.sd), {"seed": 3}), tmp_path / "b")
    _, c = run(sd_graph(str(m.sd), {"seed": 4}), tmp_path / "c")
    assert diff(ok(a), ok(b)) < 0.5
    assert diff(ok(a), ok(c)) > 2
    _, batch = run(sd_graph(str(m.sd), {"seed": 3, "batch": 2}), tmp_path / "d")
    images = ok(batch, "gen", "images")
    assert len(images) == 2 and images.labels == ("seed 3", "seed 4")
    assert diff(images.images[0], ok(a)) < 1.0 and diff(images.images[1], ok(c)) < 1.0


def test_single_file_checkpoint_with_a_local_config_folder_matches_the_folder(m, tmp_path):
    _, folder = run(sd_graph(str(m.sd)), tmp_path / "f")
    _, single = run(sd_graph(str(m.single_file), load_params={"config": str(m.config)}), tmp_path / "s")
    handle = ok(single, "load", "model")
    assert handle.format == "single_file" and handle.config_sha256
    assert diff(ok(folder), ok(single)) < 0.5


def test_single_file_config_next_to_the_checkpoint_is_found(m, tmp_path):
    ck = tmp_path / "models" / "mine.safetensors"
    ck.parent.mkdir()
    os.link(m.single_file, ck)
    shutil.copytree(m.config, tmp_path / "models" / "mine.config")
    _, r = run(sd_graph(str(ck)), tmp_path)
    assert ok(r, "load", "model").config.endswith("mine.config")


def test_single_file_without_a_config_folder_says_what_to_do(m, tmp_path):
    ck = tmp_path / "lonely.safetensors"
    os.link(m.single_file, ck)
    _, r = run(sd_graph(str(ck)), tmp_path)
    err = error_of(r, "load")
    assert str(ck) in err and "Stable Diffusion 1.x" in err and "config" in err and "hf download" in err


def test_model_by_repo_id_from_the_hugging_face_cache_offline(m, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(m.hub_cache))
    _, r = run(sd_graph(m.hub_repo), tmp_path)
    assert ok(r).width == 64
    handle = ok(r, "load", "model")
    assert handle.repo_id == m.hub_repo and Path(handle.path) == m.hub_snapshot
    _, missing = run(sd_graph("tiny-org/not-downloaded"), tmp_path / "b")
    err = error_of(missing, "load")
    assert "'tiny-org/not-downloaded'" in err and "not available offline" in err and "hf download" in err


def test_model_by_name_under_a_comfyui_root(m, tmp_path, monkeypatch):
    comfy = tmp_path / "ComfyUI" / "models" / "checkpoints"
    comfy.mkdir(parents=True)
    os.link(m.single_file, comfy / "dream.safetensors")
    shutil.copytree(m.config, comfy / "dream.config")
    monkeypatch.setenv("NODEGRAPH_MODELS", str(tmp_path / "ComfyUI"))
    _, r = run(sd_graph("dream"), tmp_path)
    assert ok(r, "load", "model").name == "dream"


# -- caching: weights load once per process; a new process computes nothing ------------------------------

def test_second_run_loads_no_weights_and_new_process_computes_nothing(m, tmp_path):
    shared_cache().clear()
    loads = shared_cache().loads
    doc = sd_graph(str(m.sd))
    ev, first = run(doc, tmp_path)
    ok(first)
    assert shared_cache().loads == loads + 1
    second = ev.run(doc)
    assert second.count("computed") == 0 and shared_cache().loads == loads + 1
    # another graph with the same model, another evaluator: computes, but loads nothing
    _, other = run(sd_graph(str(m.sd), {"seed": 99}), tmp_path / "other")
    assert other.nodes["gen"].status == "computed" and shared_cache().loads == loads + 1
    # a new process over the same disk cache computes nothing
    gfile = tmp_path / "g.json"
    from nodegraph.fileformat import save

    save(doc, gfile)
    env = dict(os.environ, NODEGRAPH_CACHE_DIR=str(tmp_path / "cache"))
    cmd = [sys.executable, "-m", "nodegraph", "run", str(gfile), "-o", str(tmp_path / "out"), "-q",
           "--report", str(tmp_path / "r.json")]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    counts = json.loads((tmp_path / "r.json").read_text())["counts"]
    assert counts["computed"] == 0 and counts["cached"] == 3


def test_moving_a_model_changes_no_key_and_changing_its_weights_reruns(m, tmp_path):
    a = tmp_path / "a" / "tiny"
    shutil.copytree(m.sd, a)
    ev, r1 = run(sd_graph(str(a)), tmp_path)
    b = tmp_path / "b" / "tiny"
    shutil.copytree(a, b)
    r2 = ev.run(sd_graph(str(b)))
    assert r2.nodes["load"].status == "computed"      # another path: looked at again...
    assert r2.nodes["gen"].status == "cached"         # ...same weights: the picture is reused
    unet = b / "unet" / "diffusion_pytorch_model.safetensors"
    from safetensors.numpy import load_file, save_file

    weights = load_file(str(unet))
    name = next(k for k in weights if k.endswith("conv_in.weight"))
    weights[name] = weights[name] * 1.5
    save_file(weights, str(unet))
    r3 = ev.run(sd_graph(str(b)))
    assert r3.nodes["load"].status == "computed" and r3.nodes["gen"].status == "computed"
    assert diff(ok(r3), ok(r1)) > 0.5


# -- img2img, inpaint ----------------------------------------------------------------------------------

def test_img2img_follows_the_picture_more_at_low_strength(m, tmp_path):
    one, two = picture(tmp_path / "one.png", 1), picture(tmp_path / "two.png", 2)
    outs = {}
    for name, src in (("one", one), ("two", two)):
        for strength in (0.3, 1.0):
            extra = {"src": ("image.load", {"path": str(src)})}
            _, r = run(sd_graph(str(m.sd), {"strength": strength, "steps": 10}, gen_type="diffusion.img2img",
                                extra=extra, gen_inputs={"image": "src.image"}), tmp_path / f"{name}{strength}")
            outs[name, strength] = ok(r)
    assert outs["one", 0.3].width == 64
    # another starting picture changes the result much more when little of it is redrawn
    assert diff(outs["one", 0.3], outs["two", 0.3]) > 2 * diff(outs["one", 1.0], outs["two", 1.0])


def test_img2img_takes_the_pictures_size_rounded_to_what_the_model_needs(m, tmp_path):
    src = picture(tmp_path / "src.png", 2)
    extra = {"src": ("image.load", {"path": str(src)})}
    _, r = run(sd_graph(str(m.sd), {"width": 0, "height": 0, "strength": 0.5}, gen_type="diffusion.img2img",
                        extra=extra, gen_inputs={"image": "src.image"}), tmp_path)
    assert (ok(r).width, ok(r).height) == (96, 96)


def test_inpaint_repaints_only_where_the_mask_is_white(m, tmp_path):
    src = picture(tmp_path / "src.png", 3)
    from PIL import Image as PILImage

    mask = np.zeros((96, 96), np.uint8)
    mask[:, 48:] = 255
    PILImage.fromarray(mask).save(tmp_path / "mask.png")
    extra = {"src": ("image.load", {"path": str(src)}), "mask": ("image.load", {"path": str(tmp_path / "mask.png")})}
    _, r = run(sd_graph(str(m.sd), {"width": 64, "height": 64, "steps": 4}, gen_type="diffusion.inpaint", extra=extra,
                        gen_inputs={"image": "src.image", "mask": "mask.image"}), tmp_path)
    out = px(ok(r))
    orig = np.asarray(PILImage.open(src).convert("RGB").resize((64, 64), PILImage.Resampling.LANCZOS), np.float32)
    assert np.array_equal(out[:, :30], orig[:, :30])            # black in the mask: kept pixel for pixel
    assert np.abs(out[:, 34:] - orig[:, 34:]).mean() > 5          # white: repainted


# -- LoRA ----------------------------------------------------------------------------------------------

def test_lora_changes_the_picture_and_strength_zero_or_removal_gives_it_back(m, tmp_path):
    base = ok(run(sd_graph(str(m.sd)), tmp_path / "base")[1])

    def with_lora(strength: float, where: str):
        doc = graph({
            "load": ("diffusion.load_model", {"model": str(m.sd)}),
            "lora": ("diffusion.lora", {"lora": str(m.lora), "strength": strength}, {"model": "load.model"}),
            "p": ("prompt.prompt", {"template": "a red cat", "variables": ""}),
            "gen": ("diffusion.txt2img", {**SMALL, "seed": 1}, {"model": "lora.model", "prompt": "p.prompt"}),
        })
        return run(doc, tmp_path / where)[1]

    r = with_lora(1.0, "one")
    assert diff(ok(r), base) > 1.0
    assert ok(r, "lora", "model").loras[0].name == "tiny-lora"
    assert diff(ok(with_lora(0.0, "zero")), base) < 0.5
    # the shared pipeline went back to plain: the model without the LoRA gives the base picture again
    again = ok(run(sd_graph(str(m.sd), {"steps": 2, "guidance": 7.0}), tmp_path / "again", cache=Cache(tmp_path / "c2"))[1])
    assert diff(again, base) < 0.5


def test_a_lora_for_another_model_fails_cleanly_and_leaves_the_model_as_it_was(m, tmp_path):
    from safetensors.numpy import save_file

    bad = tmp_path / "other-model-lora.safetensors"
    save_file({"unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight": np.ones((4, 999), np.float32),
               "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_B.weight": np.ones((999, 4), np.float32)},
              str(bad))
    base = ok(run(sd_graph(str(m.sd)), tmp_path / "base")[1])
    doc = graph({
        "load": ("diffusion.load_model", {"model": str(m.sd)}),
        "lora": ("diffusion.lora", {"lora": str(bad)}, {"model": "load.model"}),
        "p": ("prompt.prompt", {"template": "a red cat", "variables": ""}),
        "gen": ("diffusion.txt2img", {**SMALL, "seed": 1}, {"model": "lora.model", "prompt": "p.prompt"}),
    })
    err = error_of(run(doc, tmp_path / "bad")[1], "gen")
    assert str(bad) in err and "LoRA" in err
    after = ok(run(sd_graph(str(m.sd)), tmp_path / "after", cache=Cache(tmp_path / "c3"))[1])
    assert diff(after, base) < 0.5


# -- characters and IP-Adapter -------------------------------------------------------------------------

def ipa_graph(m, ref: Path, adapter: Path, strength: float = 1.0, seed: int = 5) -> object:
    return graph({
        **character_nodes(ref, seed=seed),
        "load": ("diffusion.load_model", {"model": str(m.sd)}),
        "ipa": ("diffusion.ip_adapter", {"adapter": str(adapter)}, {"model": "load.model"}),
        "p": ("prompt.prompt", {"template": "{character} in a park", "variables": ""}, {"character": "hero.character"}),
        "gen": ("diffusion.txt2img", {**SMALL, "seed": 0, "reference_strength": strength},
                {"model": "ipa.model", "prompt": "p.prompt", "character": "hero.character"}),
    })


@pytest.mark.parametrize("variant", ["basic", "plus"])
def test_the_characters_picture_steers_the_image_through_ip_adapter(m, tmp_path, variant):
    adapter = m.ip_adapter if variant == "basic" else m.ip_adapter_plus
    one, two = picture(tmp_path / "one.png", 10), picture(tmp_path / "two.png", 11)
    a = run(ipa_graph(m, one, adapter), tmp_path / "a")[1]
    assert ok(a, "ipa", "model").ip_adapter.plus is (variant == "plus")
    a2 = ok(run(ipa_graph(m, one, adapter), tmp_path / "a2")[1])
    b = ok(run(ipa_graph(m, two, adapter), tmp_path / "b")[1])
    off = ok(run(ipa_graph(m, one, adapter, strength=0.0), tmp_path / "off")[1])
    assert diff(ok(a), a2) < 0.5          # the same character gives the same picture
    assert diff(ok(a), b) > 1.0           # another reference picture measurably changes it
    assert diff(ok(a), off) > 1.0         # and strength 0 turns the reference off


def test_character_description_and_seed_fold_into_the_generation(m, tmp_path):
    ref = picture(tmp_path / "ref.png", 12)

    def shot(seed: int, description: str, where: str, events=None):
        doc = graph({
            **character_nodes(ref, seed=seed, description=description),
            "load": ("diffusion.load_model", {"model": str(m.sd)}),
            "p": ("prompt.prompt", {"template": "a park", "variables": ""}),
            "gen": ("diffusion.txt2img", {**SMALL, "seed": 0},
                    {"model": "load.model", "prompt": "p.prompt", "character": "hero.character"}),
        })
        return run(doc, tmp_path / where, on_event=events.append if events is not None else None)[1]

    events = []
    a = shot(5, "a girl with a red scarf", "a", events)
    logs = [e.data["message"] for e in events if e.kind == "log" and e.node == "gen"]
    assert any("no IP-Adapter on the model" in msg for msg in logs), logs
    same = ok(shot(5, "a girl with a red scarf", "same"))
    other_seed = ok(shot(6, "a girl with a red scarf", "seed"))
    other_desc = ok(shot(5, "an old man with a blue hat", "desc"))
    assert diff(ok(a), same) < 0.5
    assert diff(ok(a), other_seed) > 1.0 and diff(ok(a), other_desc) > 0.1
    # the node's seed offsets the character's: character 5 + node 1 == character 6 + node 0
    doc = graph({
        **character_nodes(ref, seed=5),
        "load": ("diffusion.load_model", {"model": str(m.sd)}),
        "p": ("prompt.prompt", {"template": "a park", "variables": ""}),
        "gen": ("diffusion.txt2img", {**SMALL, "seed": 1}, {"model": "load.model", "prompt": "p.prompt", "character": "hero.character"}),
    })
    assert diff(ok(run(doc, tmp_path / "offset")[1]), other_seed) < 0.5


def test_a_reference_image_without_an_ip_adapter_is_an_error_naming_the_fix(m, tmp_path):
    ref = picture(tmp_path / "ref.png", 13)
    _, r = run(sd_graph(str(m.sd), extra={"ref": ("image.load", {"path": str(ref)})},
                        gen_inputs={"reference": "ref.image"}), tmp_path)
    assert "needs an IP-Adapter" in error_of(r, "gen")


def test_a_reference_that_is_not_an_image_names_the_node_and_file(m, tmp_path):
    fake = tmp_path / "face.png"
    fake.write_text("this is not a picture")
    r = run(ipa_graph(m, fake, m.ip_adapter), tmp_path / "r")[1]
    err = error_of(r, "ref")
    assert "face.png" in err
    assert r.nodes["gen"].status == "skipped"


# -- progress and cancellation ---------------------------------------------------------------------------

def test_progress_events_per_step_with_latent_previews(m, tmp_path):
    events = []
    _, r = run(sd_graph(str(m.sd), {"steps": 5}), tmp_path, on_event=events.append)
    ok(r)
    steps = [e for e in events if e.kind == "progress" and e.node == "gen"]
    assert [round(e.data["fraction"], 2) for e in steps] == [0.2, 0.4, 0.6, 0.8, 1.0]
    assert [e.data["message"] for e in steps][-1] == "step 5/5"
    previews = [e.data["preview"] for e in steps if e.data.get("preview") is not None]
    assert previews and all(isinstance(p, Image) and p.width == 32 for p in previews)   # latents: half size here


def test_cancel_mid_denoise_stops_between_steps_and_caches_nothing(m, tmp_path):
    cancel = CancelToken()
    events = []

    def on_event(e):
        events.append(e)
        if e.kind == "progress" and e.node == "gen" and e.data["fraction"] >= 0.1:
            cancel.cancel()

    doc = sd_graph(str(m.sd), {"steps": 30})
    ev, r = run(doc, tmp_path, on_event=on_event, cancel=cancel)
    assert r.cancelled and r.nodes["gen"].status == "skipped"
    steps = [e for e in events if e.kind == "progress" and e.node == "gen"]
    assert 3 <= len(steps) <= 4                                  # stopped at the next step, not at the end
    again = ev.run(doc)
    assert again.nodes["gen"].status == "computed" and again.nodes["load"].status == "cached"


# -- style grid -------------------------------------------------------------------------------------------

def grid_graph(m, seeds: str, looks: str) -> object:
    return graph({
        "load": ("diffusion.load_model", {"model": str(m.sd)}),
        "lora": ("diffusion.lora", {"lora": str(m.lora), "strength": 1.0}, {"model": "load.model"}),
        "p": ("prompt.prompt", {"template": "a lighthouse", "variables": ""}),
        "grid": ("diffusion.style_grid", {**SMALL, "seeds": seeds, "looks": looks, "cell_width": 64},
                 {"model": "load.model", "variants": ["lora.model"], "prompt": "p.prompt"}),
    })


def test_style_grid_lays_out_looks_models_and_seeds_and_reuses_cells(m, tmp_path):
    events = []
    ev, r = run(grid_graph(m, "1, 2", "plain:\nink: ink drawing"), tmp_path, on_event=events.append)
    images = ok(r, "grid", "images")
    sheet = ok(r, "grid", "sheet")
    assert len(images) == 8                                   # (2 looks x 2 models) x 2 seeds
    assert images.labels[0] == "plain · tiny-sd · seed 1" and images.labels[-1] == "ink · tiny-sd + tiny-lora · seed 2"
    assert sheet.width > 2 * 64 and sheet.height > 4 * 64
    assert diff(images.images[0], images.images[1]) > 1.0    # seeds differ
    assert diff(images.images[0], images.images[2]) > 0.05   # looks differ
    assert diff(images.images[0], images.images[4]) > 1.0    # the LoRA row differs
    steps = [e for e in events if e.kind == "progress" and e.node == "grid" and "step" in e.data["message"]]
    assert len(steps) == 8 * 2
    # one more seed: only the 4 new cells render
    events.clear()
    r2 = ev.run(grid_graph(m, "1, 2, 3", "plain:\nink: ink drawing"), on_event=events.append)
    assert len(ok(r2, "grid", "images")) == 12
    steps = [e for e in events if e.kind == "progress" and e.node == "grid" and "step" in e.data["message"]]
    assert len(steps) == 4 * 2
    assert diff(ok(r2, "grid", "images").images[0], images.images[0]) == 0


def test_style_grid_bad_seeds_and_looks_are_named(m, tmp_path):
    assert "'x'" in error_of(run(grid_graph(m, "1, x", "a: b"), tmp_path / "a")[1], "grid")
    assert "no label" in error_of(run(grid_graph(m, "1", ": tags"), tmp_path / "b")[1], "grid")


# -- bad input ---------------------------------------------------------------------------------------------

def test_missing_model_names_the_node_and_where_it_looked(tmp_path):
    _, r = run(sd_graph(str(tmp_path / "nowhere" / "model.safetensors")), tmp_path)
    err = error_of(r, "load")
    assert "nowhere/model.safetensors" in err and "does not exist" in err
    assert r.nodes["gen"].status == "skipped"


def test_wrong_file_types_are_refused_by_name(m, tmp_path):
    png = tmp_path / "picture.safetensors"
    shutil.copy(picture(tmp_path / "p.png", 1), png)
    assert "not a safetensors file" in error_of(run(sd_graph(str(png)), tmp_path / "a")[1], "load")
    ckpt = tmp_path / "old.ckpt"
    ckpt.write_bytes(b"\x80\x04pickled")
    err = error_of(run(sd_graph(str(ckpt)), tmp_path / "b")[1], "load")
    assert "old.ckpt" in err and "pickled" in err
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "readme.txt").write_text("hello")
    err = error_of(run(sd_graph(str(notes)), tmp_path / "c")[1], "load")
    assert "notes" in err and "model_index.json" in err


@pytest.mark.parametrize("arch,name", [("flux", "Flux"), ("sd3", "Stable Diffusion 3")])
def test_unsupported_architectures_are_named(m, tmp_path, arch, name):
    path = m.flux if arch == "flux" else m.sd3
    err = error_of(run(sd_graph(str(path)), tmp_path)[1], "load")
    assert path.name in err and name in err and "not supported" in err


def test_a_model_that_fails_to_load_leaves_nothing_behind(m, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(m.sd, broken)
    unet = broken / "unet" / "diffusion_pytorch_model.safetensors"
    unet.write_bytes(unet.read_bytes()[:1000])
    before = set(shared_cache().keys())
    err = error_of(run(sd_graph(str(broken)), tmp_path)[1], "load")
    assert "broken" in err and "could not load" in err
    assert set(shared_cache().keys()) == before


def test_impossible_sizes_are_named_with_a_nearby_one(m, tmp_path):
    err = error_of(run(sd_graph(str(m.sd), {"width": 30}), tmp_path / "a")[1], "gen")
    assert "width 30" in err and "multiple of 4" in err and "try 32" in err
    with pytest.raises(GraphInvalid, match="node 'gen'.*param 'width': 0 is below the minimum 8"):
        run(sd_graph(str(m.sd), {"width": 0}), tmp_path / "b")


def test_an_ip_adapter_file_that_is_not_one_is_refused(m, tmp_path):
    r = run(ipa_graph(m, picture(tmp_path / "r.png", 1), m.lora), tmp_path)[1]
    err = error_of(r, "ipa")
    assert "tiny-lora.safetensors" in err and "not IP-Adapter weights" in err


# -- templates --------------------------------------------------------------------------------------------

def _cli(args, tmp_path):
    env = dict(os.environ, NODEGRAPH_CACHE_DIR=str(tmp_path / "cache"))
    return subprocess.run([sys.executable, "-m", "nodegraph", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT)


def test_storyboard_template_runs_on_a_tiny_model(m, tmp_path):
    out = tmp_path / "out"
    p = _cli(["run", "graphs/storyboard.json", "-o", str(out), "-q", "--set", f"model.model={m.sd}",
              "--set", f"adapter.adapter={m.ip_adapter}", "--set", "size.value=64", "--set", "steps.value=2"], tmp_path)
    assert p.returncode == 0, p.stderr
    from PIL import Image as PILImage

    sheet = np.asarray(PILImage.open(out / "storyboard.png").convert("RGB"))
    assert sheet.shape[0] > 2 * 64 and sheet.shape[1] > 2 * 64


def test_style_grid_template_runs_on_a_tiny_model(m, tmp_path):
    out = tmp_path / "out"
    p = _cli(["run", "graphs/style_grid.json", "-o", str(out), "-q", "--set", f"model.model={m.sd}",
              "--set", f"lora.lora={m.lora}", "--set", "grid.width=64", "--set", "grid.height=64",
              "--set", "grid.steps=1", "--set", "grid.seeds=1, 2"], tmp_path)
    assert p.returncode == 0, p.stderr
    assert (out / "style_grid.png").stat().st_size > 1000


def test_templates_validate_and_name_the_models_they_are_made_for():
    for name in ("storyboard", "style_grid"):
        p = subprocess.run([sys.executable, "-m", "nodegraph", "validate", f"graphs/{name}.json"], capture_output=True,
                           text=True, cwd=ROOT)
        assert p.returncode == 0, p.stdout + p.stderr
        meta = json.loads((ROOT / "graphs" / f"{name}.json").read_text())["meta"]
        assert "Stable Diffusion 1.5" in meta["description"]
