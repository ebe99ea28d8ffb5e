"""Stable Diffusion through diffusers, for the diffusion nodes: what a model is, loading it once per
process, putting LoRAs and IP-Adapters on it, and running it step by step with progress,
latent previews and cancellation.

torch and diffusers are imported inside the functions, so the node pack registers (and graphs
validate) on a machine without the ``ai`` extra; running a node there says what to install.
"""
from __future__ import annotations

import gc
import importlib.util
import inspect
import json
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

from nodegraph import (Context, Image, Model, ModelError, Models, ResolvedModel, UnsupportedModel, ValueError_,
                       read_json_object, read_safetensors_header, sniff_architecture)

INSTALL = "pip install -c requirements.lock -e '.[ai]'"

# diffusers pipeline classes we run, by family
FAMILIES: dict[str, str] = {
    "StableDiffusionPipeline": "sd", "StableDiffusionImg2ImgPipeline": "sd", "StableDiffusionInpaintPipeline": "sd",
    "StableDiffusionXLPipeline": "sdxl", "StableDiffusionXLImg2ImgPipeline": "sdxl_refiner",
    "StableDiffusionXLInpaintPipeline": "sdxl",
}
SINGLE_FILE_PIPELINE = {"sd1": "StableDiffusionPipeline", "sd2": "StableDiffusionPipeline",
                        "sdxl": "StableDiffusionXLPipeline", "sdxl_refiner": "StableDiffusionXLImg2ImgPipeline"}
TASKS = ("txt2img", "img2img", "inpaint")

SCHEDULERS: dict[str, tuple[str, dict]] = {
    "default": ("", {}),
    "ddim": ("DDIMScheduler", {}),
    "euler": ("EulerDiscreteScheduler", {}),
    "euler_a": ("EulerAncestralDiscreteScheduler", {}),
    "dpm++_2m": ("DPMSolverMultistepScheduler", {}),
    "dpm++_2m_karras": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": True}),
    "dpm++_sde": ("DPMSolverSDEScheduler", {}),
    "unipc": ("UniPCMultistepScheduler", {}),
    "lms": ("LMSDiscreteScheduler", {}),
    "pndm": ("PNDMScheduler", {}),
    "heun": ("HeunDiscreteScheduler", {}),
    "lcm": ("LCMScheduler", {}),
}

# latent -> RGB approximations (the linear fits every node editor's live preview uses)
LATENT_RGB = {
    "sd": (np.array([[0.3512, 0.2297, 0.3227], [0.3250, 0.4974, 0.2350],
                     [-0.2829, 0.1762, 0.2721], [-0.2120, -0.2616, -0.7177]], np.float32), np.zeros(3, np.float32)),
    "sdxl": (np.array([[0.3651, 0.4232, 0.4341], [-0.2533, -0.0042, 0.1068],
                       [0.1076, 0.1111, -0.0362], [-0.3165, -0.2492, -0.2188]], np.float32),
             np.array([0.1084, -0.0175, -0.0011], np.float32)),
}
PREVIEW_EVERY_S = 0.25


def library_versions() -> str:
    """Versions of the libraries that shape the pixels (installed or not)."""
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for dist in ("torch", "diffusers", "transformers", "peft"):
        try:
            out.append(f"{dist}={version(dist)}")
        except PackageNotFoundError:
            out.append(f"{dist}=-")
    return ",".join(out)


def require_ai() -> None:
    missing = [m for m in ("torch", "diffusers", "transformers") if importlib.util.find_spec(m) is None]
    if missing:
        raise ModelError(f"the diffusion nodes need {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} "
                         f"not installed: {INSTALL}")


# -- describing a model (no weights loaded) --------------------------------------------------------

def _model_index(folder: Path) -> dict:
    return read_json_object(folder / "model_index.json")


def pipeline_class(folder: Path) -> str:
    cls = str(_model_index(folder).get("_class_name", ""))
    if cls not in FAMILIES:
        raise UnsupportedModel(
            f"{folder}: a {cls or 'unknown'} model; the diffusion nodes run Stable Diffusion 1.x/2.x and SDXL "
            f"models ({', '.join(sorted(FAMILIES))})")
    return cls


def describe(models: Models, ref: str, kind: str, config: str = "", device: str = "auto",
             dtype: str = "auto") -> Model:
    """A :class:`Model` handle for ``ref``: resolved, checked and digested, no weights loaded."""
    m = models.resolve(ref, kind)
    if m.format == "hub":
        require_ai()
        m = models.download(m)
    dev = models.device(device)
    dt = models.dtype(dev, dtype)
    if m.format == "diffusers":
        cls, cfg, cfg_sha = pipeline_class(m.path), "", ""
    elif m.format == "single_file":
        if m.weights_only:
            raise UnsupportedModel(f"{m.path}: a pickled checkpoint; diffusion models load from .safetensors only")
        arch = sniff_architecture(m.path)
        cfg_path = models.single_file_config(m.path, config)
        cls = SINGLE_FILE_PIPELINE.get(arch or "", "") or pipeline_class(cfg_path)
        cfg, cfg_sha = str(cfg_path), models.digest(cfg_path)
    elif m.format == "transformers":
        raise UnsupportedModel(f"{m.path}: a transformers model (config.json), not a diffusion pipeline "
                               f"(a diffusers folder has model_index.json)")
    else:
        raise UnsupportedModel(f"{m.path}: not a diffusion model (give a diffusers folder or a .safetensors checkpoint)")
    return Model(kind=kind, name=m.name, path=str(m.path), format=m.format, sha256=m.digest(), pipeline=cls,
                 repo_id=m.repo_id or "", config=cfg, config_sha256=cfg_sha, device=dev, dtype=dt, size=m.size)


def resolved_file(models: Models, ref: str, kind: str, what: str) -> ResolvedModel:
    """A LoRA / IP-Adapter / image-encoder reference, downloaded first when it names the hub."""
    m = models.local(ref, kind)
    if m.weights_only:
        raise UnsupportedModel(f"{m.path}: a pickled file; {what} weights load from .safetensors only")
    return m


def is_plus_adapter(path: Path) -> bool:
    """The IP-Adapter Plus (Resampler) has ``image_proj.latents``; the basic one a linear projection."""
    keys = [k for k in read_safetensors_header(path) if k != "__metadata__"]
    if not any(k.startswith("ip_adapter.") for k in keys):
        raise UnsupportedModel(f"{path}: not IP-Adapter weights (no ip_adapter.* tensors)")
    return any(k.startswith("image_proj.latents") or k.startswith("image_proj.layers.") for k in keys)


# CLIP vision towers by width: (attention heads, activation); OpenAI's ViT-L/14 uses quick_gelu,
# the LAION-trained ViT-H/14 and ViT-bigG/14 (IP-Adapter's encoders) use gelu
CLIP_VISION_WIDTHS = {768: (12, "quick_gelu"), 1024: (16, "quick_gelu"), 1280: (16, "gelu"), 1664: (16, "gelu")}


def clip_vision_config(path: Path) -> dict:
    """A transformers ``CLIPVisionConfig`` for a single-file CLIP vision encoder (ComfyUI's
    ``models/clip_vision/*.safetensors``: h94's image_encoder weights without their config.json),
    read from its tensor shapes."""
    header = read_safetensors_header(path)

    def shape(name: str) -> list[int]:
        entry = header.get(name)
        if not isinstance(entry, dict) or not isinstance(entry.get("shape"), list):
            raise UnsupportedModel(f"{path}: not a CLIP vision encoder in the transformers layout (no {name}); "
                                   f"use the image_encoder folder the IP-Adapter was trained with")
        return entry["shape"]

    hidden = shape("vision_model.embeddings.class_embedding")[0]
    _, _, patch, _ = shape("vision_model.embeddings.patch_embedding.weight")
    positions = shape("vision_model.embeddings.position_embedding.weight")[0]
    side = round((positions - 1) ** 0.5)
    layers = len({k.split(".")[3] for k in header if k.startswith("vision_model.encoder.layers.")})
    heads, act = CLIP_VISION_WIDTHS.get(hidden, (max(1, hidden // 64), "gelu"))
    return {"architectures": ["CLIPVisionModelWithProjection"], "model_type": "clip_vision_model",
            "hidden_size": hidden, "intermediate_size": shape("vision_model.encoder.layers.0.mlp.fc1.weight")[0],
            "num_hidden_layers": layers, "num_attention_heads": heads, "hidden_act": act,
            "image_size": side * patch, "patch_size": patch, "num_channels": 3,
            "projection_dim": shape("visual_projection.weight")[0], "layer_norm_eps": 1e-5}


def clip_vision_folder(models: Models, path: Path, sha256: str) -> Path:
    """A folder transformers can load for a single-file encoder: its config (from the shapes) and
    a link to the file, kept under the nodegraph config folder (made once per file content)."""
    folder = models.derived_dir(f"clip_vision-{sha256[:16]}")
    weights = folder / "model.safetensors"
    if not (folder / "config.json").is_file() or not weights.exists():
        cfg = clip_vision_config(path)
        folder.mkdir(parents=True, exist_ok=True)
        if weights.is_symlink() or weights.exists():
            weights.unlink()
        try:
            weights.symlink_to(path.resolve())
        except OSError:
            import shutil

            shutil.copyfile(path, weights)
        from nodegraph import write_bytes

        write_bytes(folder / "config.json", json.dumps(cfg, indent=1).encode("utf-8"))
    return folder


# -- loading (once per process) ----------------------------------------------------------------------

def _free() -> None:
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:
        pass


def quiet_libraries() -> None:
    """No download bars or advice about optional packages from the libraries (our progress is ours)."""
    import diffusers

    from nodes import _hf

    diffusers.utils.logging.disable_progress_bar()
    diffusers.utils.logging.set_verbosity_error()
    _hf.quiet()


def _load_base(models: Models, h: Model) -> Any:
    require_ai()
    quiet_libraries()
    import diffusers

    cls = getattr(diffusers, h.pipeline)
    params = inspect.signature(cls.__init__).parameters
    kw: dict[str, Any] = {"torch_dtype": models.torch_dtype(h.dtype)}
    if "safety_checker" in params:
        kw.update(safety_checker=None, requires_safety_checker=False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch_dtype -> dtype (kept for older diffusers)
            if h.format == "single_file":
                listed = _model_index(Path(h.config))
                if "image_encoder" in listed and "image_encoder" in params:
                    kw["image_encoder"] = None  # not inside a checkpoint (an IP-Adapter node brings its own)
                pipe = cls.from_single_file(h.path, config=h.config, local_files_only=True, **kw)
            else:
                pipe = cls.from_pretrained(h.path, local_files_only=True, **kw)
        pipe = pipe.to(h.device)
    except Exception as e:
        _free()
        raise UnsupportedModel(f"{h.path}: could not load this {h.pipeline} ({type(e).__name__}: "
                               f"{str(e).splitlines()[0] if str(e) else ''})") from None
    pipe.set_progress_bar_config(disable=True)
    pipe._ng = {"scheduler": dict(pipe.scheduler.config), "scheduler_cls": type(pipe.scheduler).__name__,
                "loras": {}, "adapter": None}
    return pipe


def base_pipeline(models: Models, h: Model) -> Any:
    """The loaded base pipeline of a handle, shared by every node of the process."""
    return models.load(h.base_key, lambda: _load_base(models, h), size=h.size)


def _encoder(models: Models, a: Any, device: str, dtype: str) -> Any:
    def load():
        from transformers import CLIPVisionModelWithProjection

        try:
            return CLIPVisionModelWithProjection.from_pretrained(a.encoder, dtype=models.torch_dtype(dtype),
                                                                 local_files_only=True).to(device)
        except Exception as e:
            _free()
            raise UnsupportedModel(f"{a.encoder}: could not load the IP-Adapter image encoder "
                                   f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    return models.load(("clip_vision", a.encoder_sha256, device, dtype), load)


def configured(models: Models, h: Model) -> Any:
    """The base pipeline with exactly the handle's LoRAs and IP-Adapter on it (callers hold the
    gpu lock, so nodes sharing a pipeline take turns)."""
    pipe = base_pipeline(models, h)
    state = pipe._ng
    loaded: dict = state["loras"]
    for lo in h.loras:
        name = "lora_" + lo.sha256[:16]
        if name in loaded:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # peft: "multiple adapters" is what we want
                pipe.load_lora_weights(lo.path, adapter_name=name)
        except Exception as e:
            try:
                pipe.delete_adapters(name)
            except Exception:
                pass
            _free()
            raise UnsupportedModel(f"{lo.path}: could not apply this LoRA to {h.name} ({type(e).__name__}: "
                                   f"{str(e).splitlines()[0] if str(e) else ''}); is it made for this base model?") from None
        loaded[name] = lo.path
    if h.loras:
        weights: dict[str, float] = {}
        for lo in h.loras:
            weights["lora_" + lo.sha256[:16]] = weights.get("lora_" + lo.sha256[:16], 0.0) + float(lo.scale)
        pipe.enable_lora()
        pipe.set_adapters(list(weights), adapter_weights=list(weights.values()))
    elif loaded:
        pipe.disable_lora()

    a = h.ip_adapter
    current = state["adapter"]
    if a is None and current is not None:
        pipe.unload_ip_adapter()
        state["adapter"] = None
    elif a is not None and current != a.sha256:
        if current is not None:
            pipe.unload_ip_adapter()
            state["adapter"] = None
        enc = _encoder(models, a, h.device, h.dtype)
        pipe.register_modules(image_encoder=enc)
        path = Path(a.path)
        try:
            pipe.load_ip_adapter(str(path.parent), subfolder="", weight_name=path.name, image_encoder_folder=None,
                                 local_files_only=True)
        except Exception as e:
            try:
                pipe.unload_ip_adapter()
            except Exception:
                pass
            _free()
            raise UnsupportedModel(f"{a.path}: could not put this IP-Adapter on {h.name} ({type(e).__name__}: "
                                   f"{str(e).splitlines()[0] if str(e) else ''}); is it made for this base model?") from None
        state["adapter"] = a.sha256
    return pipe


def task_pipeline(models: Models, h: Model, task: str) -> Any:
    """The configured pipeline for ``txt2img``, ``img2img`` or ``inpaint`` (the same weights)."""
    family = FAMILIES.get(h.pipeline, "")
    base = configured(models, h)
    if task == "txt2img":
        if family == "sdxl_refiner":
            raise UnsupportedModel(f"{h.name}: an SDXL refiner only does image-to-image")
        if "Img2Img" in h.pipeline or "Inpaint" in h.pipeline:
            from diffusers import AutoPipelineForText2Image

            return AutoPipelineForText2Image.from_pipe(base)
        return base
    from diffusers import AutoPipelineForImage2Image, AutoPipelineForInpainting

    auto = AutoPipelineForImage2Image if task == "img2img" else AutoPipelineForInpainting
    try:
        pipe = auto.from_pipe(base)
    except Exception as e:
        raise UnsupportedModel(f"{h.name}: this model does not support {task} ({e})") from None
    pipe.set_progress_bar_config(disable=True)
    return pipe


# -- sizes, images --------------------------------------------------------------------------------

def size_multiple(pipe: Any) -> int:
    """Width and height must be multiples of this (VAE factor x UNet downsamplings)."""
    vae = int(getattr(pipe, "vae_scale_factor", 8))
    blocks = len(getattr(pipe.unet.config, "block_out_channels", (0,)))
    return vae * 2 ** max(0, blocks - 1)


def check_size(pipe: Any, width: int, height: int, model: str) -> None:
    m = size_multiple(pipe)
    for name, v in (("width", width), ("height", height)):
        if v % m or v < m:
            near = max(m, round(v / m) * m)
            raise ValueError_(f"{name} {v} is not possible with {model}: it must be a multiple of {m} (try {near})")


def round_size(v: int, m: int) -> int:
    return max(m, (v // m) * m)


def to_pil(img: Image, background: int = 128):
    """RGB PIL image (transparent parts over mid-grey)."""
    from PIL import Image as PILImage

    px = img.pixels
    if px.shape[2] == 4:
        a = px[:, :, 3:4].astype(np.float32) / 255.0
        rgb = px[:, :, :3].astype(np.float32) * a + background * (1.0 - a)
        return PILImage.fromarray(rgb.round().astype(np.uint8))
    return PILImage.fromarray(np.ascontiguousarray(img.rgb()))


def latent_preview(latents: Any, family: str) -> Image:
    """A cheap picture of the current latents (a linear map of the 4 channels to RGB)."""
    lat = latents[0].detach().float().cpu().numpy()
    if lat.shape[0] != 4:
        lat = lat[:4] if lat.shape[0] > 4 else np.concatenate([lat, np.zeros((4 - lat.shape[0],) + lat.shape[1:], lat.dtype)])
    m, b = LATENT_RGB["sdxl" if family.startswith("sdxl") else "sd"]
    rgb = np.tensordot(lat, m, axes=([0], [0])) + b
    return Image(np.clip((rgb + 1.0) * 127.5, 0, 255).astype(np.uint8))


# -- running ----------------------------------------------------------------------------------------

def set_scheduler(pipe: Any, state: dict, name: str) -> None:
    """A fresh scheduler of the chosen kind from the model's own scheduler config (per call, so
    calls never share scheduler state)."""
    import diffusers

    cls_name, extra = SCHEDULERS[name]
    cls = getattr(diffusers, cls_name or state["scheduler_cls"])
    pipe.scheduler = cls.from_config(state["scheduler"], **extra)


def generate(models: Models, pipe: Any, h: Model, ctx: Context | None, *, prompt: str, negative: str, steps: int, guidance: float,
             seed: int, batch: int = 1, scheduler: str = "default", width: int | None = None,
             height: int | None = None, image: Any = None, mask: Any = None, strength: float | None = None,
             references: list | None = None, reference_scale: float = 0.0,
             progress: Callable[[float, str, Image | None], None] | None = None) -> list[Image]:
    """One diffusers call; images in the order of their seeds (``seed``, ``seed+1`` ...)."""
    import torch

    set_scheduler(pipe, base_pipeline(models, h)._ng, scheduler)
    family = FAMILIES.get(h.pipeline, "sd")
    kw: dict[str, Any] = dict(prompt=[prompt] * batch, num_inference_steps=steps, guidance_scale=guidance,
                              generator=[torch.Generator("cpu").manual_seed(int(seed) + i) for i in range(batch)],
                              output_type="np")
    if negative:
        kw["negative_prompt"] = [negative] * batch
    if width is not None:
        kw.update(width=width, height=height)
    if image is not None:
        kw["image"] = image
    if mask is not None:
        kw["mask_image"] = mask
    if strength is not None:
        kw["strength"] = strength
    if h.ip_adapter is not None:
        pipe.set_ip_adapter_scale(float(reference_scale) if references else 0.0)
        refs = references or [_blank(pipe)]
        kw["ip_adapter_image"] = [refs]
    report = progress or (ctx.progress if ctx is not None else None)
    last = [0.0]

    def on_step(p: Any, i: int, t: Any, cb: dict) -> dict:
        if report is not None:
            n = max(1, int(getattr(p, "num_timesteps", steps) or steps))
            now = time.perf_counter()
            pv = None
            if now - last[0] >= PREVIEW_EVERY_S or i + 1 >= n:
                last[0] = now
                pv = latent_preview(cb["latents"], family)
            report((i + 1) / n, f"step {i + 1}/{n}", pv)   # raises Cancelled when the run is cancelled
        return cb

    if report is not None:
        kw["callback_on_step_end"] = on_step
        kw["callback_on_step_end_tensor_inputs"] = ["latents"]
    with torch.inference_mode():
        out = pipe(**kw).images
    arr = np.clip(np.asarray(out) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return [Image(np.ascontiguousarray(a)) for a in arr]


def _blank(pipe: Any):
    from PIL import Image as PILImage

    return PILImage.new("RGB", (64, 64), (128, 128, 128))
