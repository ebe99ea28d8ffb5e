"""Tiny random-weight Stable Diffusion artefacts, built at test time.

Nothing is downloaded and nothing is committed: every builder makes its files
from a fixed torch seed (the caller's RNG state is left alone), so two builds give
identical bytes. ``build_all`` writes about 14 MB (the SD folder and the single-file
checkpoint are 6.6 MB each; the hub snapshot hard-links the SD folder's files, or
copies them where links fail) and takes about one second after the imports on one
CPU thread.

What is built (see :func:`build_all`):

* a diffusers SD-1.x folder (UNet 32/64 channels, 2-block VAE so the latent is
  half the image size, 2-layer CLIP text encoder with a hand-written byte-level
  BPE vocabulary, DDIM scheduler),
* the same weights as one original-layout (LDM / A1111) ``.safetensors``
  checkpoint, plus the weight-less "config folder" that single-file loading needs,
* a Hugging Face hub cache holding the folder under a repo id,
* IP-Adapter weights (basic and Plus, original h94 key layout) and a tiny CLIP
  vision encoder,
* a UNet LoRA in the diffusers format,
* fake FLUX / SD3 checkpoints (right key names, tiny tensors) for error tests.

Load calls that work with these files (diffusers 0.42.1)::

    pipe = StableDiffusionPipeline.from_pretrained(m.sd)
    StableDiffusionPipeline.from_single_file(m.single_file, config=str(m.config), local_files_only=True)
    pipe.register_modules(image_encoder=CLIPVisionModelWithProjection.from_pretrained(m.image_encoder))
    pipe.load_ip_adapter(str(m.ip_adapter.parent), subfolder="", weight_name=m.ip_adapter.name,
                         image_encoder_folder=None)
    pipe.load_lora_weights(str(m.lora), adapter_name="tiny")
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SEED = 1234

# a fixed, made-up commit hash for the hub cache snapshot
HUB_COMMIT = "0123456789abcdef0123456789abcdef01234567"

# extra BPE merges on top of the 256 single bytes: enough that common prompt words
# become one token (the tokenizer works for any text anyway: unknown words are bytes)
_WORDS = ("a", "cat", "dog", "photo", "of", "the", "portrait", "red", "blue", "tree")


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch with ``seed`` without disturbing the caller's RNG state."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _seeded(offset: int) -> contextlib.AbstractContextManager:
    return seeded(SEED + offset)


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2 / CLIP byte -> printable unicode character table."""
    bs = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def _tiny_clip_tokenizer():
    """A CLIPTokenizer built offline from an in-memory byte-level vocabulary."""
    from transformers import CLIPTokenizer

    chars = list(bytes_to_unicode().values())
    vocab: dict[str, int] = {}
    for tok in chars + [c + "</w>" for c in chars]:
        vocab[tok] = len(vocab)
    merges: list[tuple[str, str]] = []
    for word in _WORDS:
        # merge left to right: ((c a) t</w>) ...
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        while len(pieces) > 1:
            pair = (pieces[0], pieces[1])
            merged = pair[0] + pair[1]
            if pair not in merges:
                merges.append(pair)
            vocab.setdefault(merged, len(vocab))
            pieces = [merged] + pieces[2:]
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=77)


def build_sd(folder: Path) -> Path:
    """Build a tiny SD-1.x diffusers pipeline folder (random weights) at ``folder``."""
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPImageProcessor, CLIPTextConfig, CLIPTextModel

    folder = Path(folder)
    tok = _tiny_clip_tokenizer()
    with _seeded(0):
        unet = UNet2DConditionModel(
            block_out_channels=(32, 64), layers_per_block=1, sample_size=8, in_channels=4, out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=32, norm_num_groups=32, attention_head_dim=8,
        )
    with _seeded(1):
        vae = AutoencoderKL(
            block_out_channels=[32, 64], in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=32,
            down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2, sample_size=16,
        )
    with _seeded(2):
        text_encoder = CLIPTextModel(CLIPTextConfig(
            vocab_size=1000, hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
            max_position_embeddings=77, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
        ))
    scheduler = DDIMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
        set_alpha_to_one=False, steps_offset=1,
    )
    feature_extractor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    pipe = StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tok, unet=unet, scheduler=scheduler, safety_checker=None,
        feature_extractor=feature_extractor, image_encoder=None, requires_safety_checker=False,
    )
    pipe.save_pretrained(folder)
    # without torchvision transformers saves the class as "CLIPImageProcessorPil";
    # real SD repos name "CLIPImageProcessor" (which loads either way)
    index = folder / "model_index.json"
    index.write_text(index.read_text().replace('"CLIPImageProcessorPil"', '"CLIPImageProcessor"'))
    return folder


# --- diffusers -> original (LDM) single-file layout ---------------------------------

_UNET_TOP = {
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "conv_in": "input_blocks.0.0",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
}
_UNET_RESNET = {
    "norm1": "in_layers.0", "conv1": "in_layers.2", "norm2": "out_layers.0", "conv2": "out_layers.3",
    "time_emb_proj": "emb_layers.1", "conv_shortcut": "skip_connection",
}
_VAE_TOP = {"encoder.conv_norm_out": "encoder.norm_out", "decoder.conv_norm_out": "decoder.norm_out"}
_VAE_ATTN = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}


def _rename_first(rest: str, table: dict[str, str]) -> str:
    for new, old in table.items():
        if rest.startswith(new + "."):
            return old + rest[len(new):]
    return rest


def _unet_to_ldm(sd: dict, config: dict) -> dict:
    """Inverse of diffusers' ``convert_ldm_unet_checkpoint`` for any block layout."""
    per = config["layers_per_block"] + 1  # LDM slots per down block (resnets + downsampler)
    up_has_attn = [t.startswith("CrossAttn") for t in config["up_block_types"]]
    out = {}
    for key, value in sd.items():
        head, _, rest = key.partition(".")
        if head in ("time_embedding", "conv_in", "conv_norm_out", "conv_out"):
            new = _rename_first(key, _UNET_TOP)
        elif head == "down_blocks":
            b, kind, j, rest = re.match(r"(\d+)\.(\w+)\.(\d+)\.(.*)", rest).groups()
            b, j = int(b), int(j)
            if kind == "resnets":
                new = f"input_blocks.{1 + b * per + j}.0.{_rename_first(rest, _UNET_RESNET)}"
            elif kind == "attentions":
                new = f"input_blocks.{1 + b * per + j}.1.{rest}"
            else:  # downsamplers.0.conv.*
                new = f"input_blocks.{1 + b * per + per - 1}.0.op.{rest.removeprefix('conv.')}"
        elif head == "mid_block":
            kind, j, rest = re.match(r"(\w+)\.(\d+)\.(.*)", rest).groups()
            if kind == "resnets":
                new = f"middle_block.{2 * int(j)}.{_rename_first(rest, _UNET_RESNET)}"
            else:
                new = f"middle_block.1.{rest}"
        elif head == "up_blocks":
            b, kind, j, rest = re.match(r"(\d+)\.(\w+)\.(\d+)\.(.*)", rest).groups()
            b, j = int(b), int(j)
            if kind == "resnets":
                new = f"output_blocks.{b * per + j}.0.{_rename_first(rest, _UNET_RESNET)}"
            elif kind == "attentions":
                new = f"output_blocks.{b * per + j}.1.{rest}"
            else:  # upsamplers.0.conv.*: after the attention when the block has one
                new = f"output_blocks.{b * per + per - 1}.{2 if up_has_attn[b] else 1}.{rest}"
        else:
            raise KeyError(f"unexpected UNet key {key!r}")
        out["model.diffusion_model." + new] = value
    return out


def _vae_to_ldm(sd: dict, config: dict) -> dict:
    """Inverse of diffusers' ``convert_ldm_vae_checkpoint`` (new attention names)."""
    n_up = len(config["up_block_types"])
    out = {}
    for key, value in sd.items():
        new = _rename_first(key, _VAE_TOP)
        m = re.match(r"(encoder|decoder)\.(down_blocks|up_blocks|mid_block)\.(.*)", key)
        if m:
            part, kind, rest = m.groups()
            if kind == "mid_block":
                sub, j, rest = re.match(r"(\w+)\.(\d+)\.(.*)", rest).groups()
                if sub == "resnets":
                    new = f"{part}.mid.block_{int(j) + 1}.{rest.replace('conv_shortcut', 'nin_shortcut')}"
                else:
                    new = f"{part}.mid.attn_1.{_rename_first(rest, _VAE_ATTN)}"
                    if value.ndim == 2:  # linear -> 1x1 conv
                        value = value[:, :, None, None]
            else:
                i, sub, j, rest = re.match(r"(\d+)\.(\w+)\.(\d+)\.(.*)", rest).groups()
                i = int(i)
                if kind == "down_blocks":
                    new = (f"encoder.down.{i}.block.{j}.{rest.replace('conv_shortcut', 'nin_shortcut')}"
                           if sub == "resnets" else f"encoder.down.{i}.downsample.{rest}")
                else:
                    ldm_i = n_up - 1 - i
                    new = (f"decoder.up.{ldm_i}.block.{j}.{rest.replace('conv_shortcut', 'nin_shortcut')}"
                           if sub == "resnets" else f"decoder.up.{ldm_i}.upsample.{rest}")
        out["first_stage_model." + new] = value
    return out


def _text_encoder_to_ldm(sd: dict) -> dict:
    """CLIP text encoder keys under ``cond_stage_model.transformer.text_model.``."""
    out = {}
    for key, value in sd.items():
        key = key.removeprefix("text_model.")  # transformers >= 5.6 saves flat keys; older ones nest them
        out["cond_stage_model.transformer.text_model." + key] = value
    return out


def build_single_file(sd_folder: Path, out_file: Path) -> Path:
    """Convert a diffusers SD folder into one original-layout (LDM / A1111) ``.safetensors`` checkpoint."""
    from safetensors.torch import load_file, save_file

    sd_folder, out_file = Path(sd_folder), Path(out_file)

    def part(name: str) -> tuple[dict, dict]:
        (weights,) = sorted((sd_folder / name).glob("*.safetensors"))
        return load_file(weights), json.loads((sd_folder / name / "config.json").read_text())

    unet, unet_cfg = part("unet")
    vae, vae_cfg = part("vae")
    te, _ = part("text_encoder")
    ckpt = {**_unet_to_ldm(unet, unet_cfg), **_vae_to_ldm(vae, vae_cfg), **_text_encoder_to_ldm(te)}
    ckpt = {k: v.contiguous() for k, v in ckpt.items()}
    out_file.parent.mkdir(parents=True, exist_ok=True)
    save_file(ckpt, out_file)
    return out_file


def config_folder(sd_folder: Path, out: Path) -> Path:
    """Copy the diffusers folder without its weight files (the "config folder" for single-file loading)."""
    out = Path(out)
    shutil.copytree(sd_folder, out, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"), dirs_exist_ok=True)
    return out


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def build_hf_cache(sd_folder: Path, hub_cache: Path, repo_id: str) -> Path:
    """Lay ``sd_folder`` out as a hub cache entry for ``repo_id``; return the snapshot folder.

    Layout: ``hub_cache/models--org--name/{refs/main, snapshots/<commit>/...}``. The
    snapshot holds real files (hard links to ``sd_folder`` where possible, else copies)
    instead of the hub's symlinks into ``blobs/``.
    """
    sd_folder, hub_cache = Path(sd_folder), Path(hub_cache)
    repo = hub_cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / HUB_COMMIT
    shutil.copytree(sd_folder, snapshot, copy_function=_link_or_copy, dirs_exist_ok=True)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(HUB_COMMIT)  # the hub writes it without a newline
    (repo / "blobs").mkdir(exist_ok=True)
    return snapshot


def build_image_encoder(folder: Path) -> Path:
    """A tiny CLIPVisionModelWithProjection (hidden 32, 32x32 images, patch 8, projection 16)."""
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    with _seeded(3):
        enc = CLIPVisionModelWithProjection(CLIPVisionConfig(
            hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
            image_size=32, patch_size=8, projection_dim=16,
        ))
    enc.save_pretrained(folder)
    return Path(folder)


def _cross_attention_sizes(unet_config: dict) -> list[int]:
    """Hidden size of every cross-attention (attn2) processor, in ``unet.attn_processors`` order."""
    import torch
    from diffusers import UNet2DConditionModel

    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config(unet_config)
    block_out = list(unet_config["block_out_channels"])
    sizes = []
    for name in unet.attn_processors:
        if name.endswith("attn1.processor"):
            continue
        if name.startswith("mid_block"):
            sizes.append(block_out[-1])
        elif name.startswith("up_blocks"):
            sizes.append(block_out[::-1][int(name.split(".")[1])])
        else:
            sizes.append(block_out[int(name.split(".")[1])])
    return sizes


def _ip_adapter_state_dict(unet_cfg: dict, enc_cfg: dict, plus: bool) -> dict:
    """Random IP-Adapter tensors under the original (h94) key names."""
    import torch

    cad = unet_cfg["cross_attention_dim"]
    sd: dict[str, torch.Tensor] = {}
    if not plus:
        emb = enc_cfg["projection_dim"]  # image_embeds of CLIPVisionModelWithProjection
        n_tokens = 4
        sd["image_proj.proj.weight"] = torch.randn(cad * n_tokens, emb) * 0.5
        sd["image_proj.proj.bias"] = torch.zeros(cad * n_tokens)
        sd["image_proj.norm.weight"] = torch.ones(cad)
        sd["image_proj.norm.bias"] = torch.zeros(cad)
    else:
        # Resampler. diffusers' converter assumes depth 4, dim_head 64 (heads = to_q rows // 64)
        # and ffn_ratio 4; dim (= latents' last size) and the number of queries are free.
        emb = enc_cfg["hidden_size"]  # Plus reads the penultimate hidden states
        dim, heads, n_queries, mult = 32, 1, 4, 4
        inner = heads * 64

        def lin(o: int, i: int) -> torch.Tensor:
            return torch.randn(o, i) / i ** 0.5

        sd["image_proj.latents"] = torch.randn(1, n_queries, dim) / dim ** 0.5
        sd["image_proj.proj_in.weight"] = lin(dim, emb)
        sd["image_proj.proj_in.bias"] = torch.zeros(dim)
        sd["image_proj.proj_out.weight"] = lin(cad, dim)
        sd["image_proj.proj_out.bias"] = torch.zeros(cad)
        sd["image_proj.norm_out.weight"] = torch.ones(cad)
        sd["image_proj.norm_out.bias"] = torch.zeros(cad)
        for i in range(4):
            p = f"image_proj.layers.{i}"
            for norm in ("norm1", "norm2"):
                sd[f"{p}.0.{norm}.weight"] = torch.ones(dim)
                sd[f"{p}.0.{norm}.bias"] = torch.zeros(dim)
            sd[f"{p}.0.to_q.weight"] = lin(inner, dim)
            sd[f"{p}.0.to_kv.weight"] = lin(2 * inner, dim)
            sd[f"{p}.0.to_out.weight"] = lin(dim, inner)
            sd[f"{p}.1.0.weight"] = torch.ones(dim)
            sd[f"{p}.1.0.bias"] = torch.zeros(dim)
            sd[f"{p}.1.1.weight"] = lin(dim * mult, dim)
            sd[f"{p}.1.3.weight"] = lin(dim, dim * mult)
    # one to_k_ip/to_v_ip pair per cross-attention, numbered 1, 3, 5, ... in the order
    # diffusers walks unet.attn_processors (the odd numbers were the self-attentions)
    key_id = 1
    for hs in _cross_attention_sizes(unet_cfg):
        # strong enough that the reference image clearly changes a 2-step image
        sd[f"ip_adapter.{key_id}.to_k_ip.weight"] = torch.randn(hs, cad) * 0.5
        sd[f"ip_adapter.{key_id}.to_v_ip.weight"] = torch.randn(hs, cad) * 2.0
        key_id += 2
    return {k: v.contiguous() for k, v in sd.items()}


def build_ip_adapter(sd_folder: Path, out_dir: Path, plus: bool = False) -> tuple[Path, Path]:
    """Random IP-Adapter (basic or Plus) weights in the original h94 layout, and an image encoder.

    Writes ``out_dir/ip-adapter_tiny[_plus].safetensors`` and ``out_dir/image_encoder/``
    (reused when already there). Returns (weights file, image encoder folder).
    """
    from safetensors.torch import save_file

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    encoder = out_dir / "image_encoder"
    if not (encoder / "config.json").exists():
        build_image_encoder(encoder)
    enc_cfg = json.loads((encoder / "config.json").read_text())
    unet_cfg = json.loads((Path(sd_folder) / "unet" / "config.json").read_text())
    with _seeded(5 if plus else 4):
        sd = _ip_adapter_state_dict(unet_cfg, enc_cfg, plus)
    weights = out_dir / ("ip-adapter_tiny_plus.safetensors" if plus else "ip-adapter_tiny.safetensors")
    save_file(sd, weights)
    return weights, encoder


def build_lora(sd_folder: Path, out_file: Path) -> Path:
    """A random UNet LoRA (r=4 on to_q/to_k/to_v/to_out.0) saved as one diffusers-format ``.safetensors``."""
    import torch
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    out_file = Path(out_file)
    unet = UNet2DConditionModel.from_pretrained(Path(sd_folder) / "unet")
    with _seeded(6):
        # init_lora_weights=False keeps nn.Linear's random init for B too (not zeros)
        unet.add_adapter(LoraConfig(
            r=4, lora_alpha=4, init_lora_weights=False, target_modules=["to_q", "to_k", "to_v", "to_out.0"],
        ))
    with torch.no_grad():  # B ~ U(-0.5, 0.5): scaled so the change is clearly visible
        layers = {
            k: (v * 3.0 if "lora_B" in k else v).contiguous() for k, v in get_peft_model_state_dict(unet).items()
        }
    StableDiffusionPipeline.save_lora_weights(
        out_file.parent, unet_lora_layers=layers, weight_name=out_file.name, safe_serialization=True,
    )
    return out_file


def fake_checkpoint(path: Path, arch: str) -> Path:
    """A tiny valid safetensors file whose key names are those of an unsupported architecture.

    ``arch``: "flux" (FLUX.1-dev transformer keys) or "sd3" (SD3 medium, LDM-prefixed keys).
    The keys diffusers' ``infer_diffusers_model_type`` looks at are present, with the
    shapes it checks, so it too classifies them as flux-dev / sd3.
    """
    import numpy as np
    from safetensors.numpy import save_file

    def t(*shape: int) -> np.ndarray:
        return np.zeros(shape, dtype=np.float16)

    if arch == "flux":
        arrays = {
            "img_in.weight": t(8, 64), "img_in.bias": t(8),
            "txt_in.weight": t(8, 16), "time_in.in_layer.weight": t(8, 256),
            "guidance_in.in_layer.bias": t(8), "vector_in.in_layer.weight": t(8, 16),
            "double_blocks.0.img_attn.qkv.weight": t(24, 8),
            "double_blocks.0.img_attn.norm.key_norm.scale": t(4),
            "double_blocks.0.txt_attn.qkv.weight": t(24, 8),
            "single_blocks.0.linear1.weight": t(56, 8),
            "final_layer.linear.weight": t(64, 8),
        }
    elif arch == "sd3":
        p = "model.diffusion_model."
        arrays = {
            p + "pos_embed": t(1, 36864, 1),
            p + "x_embedder.proj.weight": t(8, 16, 2, 2),
            p + "joint_blocks.0.x_block.attn.qkv.weight": t(24, 8),
            p + "joint_blocks.0.context_block.attn.qkv.weight": t(24, 8),
            p + "joint_blocks.0.context_block.adaLN_modulation.1.bias": t(9216),
            p + "final_layer.linear.weight": t(64, 8),
        }
    else:
        raise ValueError(f"unknown fake architecture {arch!r} (flux, sd3)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(arrays, str(path))
    return path


@dataclass
class TinyModels:
    """Paths of everything :func:`build_all` made."""

    sd: Path
    single_file: Path
    config: Path
    hub_cache: Path
    hub_repo: str
    hub_snapshot: Path
    ip_adapter: Path
    ip_adapter_plus: Path
    image_encoder: Path
    lora: Path
    flux: Path
    sd3: Path


def build_all(root: Path) -> TinyModels:
    """Build every tiny artefact under ``root`` (about 14 MB, about 1 s after the imports)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    sd = build_sd(root / "tiny-sd")
    single = build_single_file(sd, root / "checkpoints" / "tiny-sd.safetensors")
    config = config_folder(sd, root / "tiny-sd-config")
    hub_cache, repo = root / "hub", "tiny-org/tiny-sd"
    snapshot = build_hf_cache(sd, hub_cache, repo)
    ipa, encoder = build_ip_adapter(sd, root / "ip-adapter")
    ipa_plus, _ = build_ip_adapter(sd, root / "ip-adapter", plus=True)
    lora = build_lora(sd, root / "loras" / "tiny-lora.safetensors")
    flux = fake_checkpoint(root / "unsupported" / "flux-fake.safetensors", "flux")
    sd3 = fake_checkpoint(root / "unsupported" / "sd3-fake.safetensors", "sd3")
    return TinyModels(
        sd=sd, single_file=single, config=config, hub_cache=hub_cache, hub_repo=repo, hub_snapshot=snapshot,
        ip_adapter=ipa, ip_adapter_plus=ipa_plus, image_encoder=encoder, lora=lora, flux=flux, sd3=sd3,
    )
