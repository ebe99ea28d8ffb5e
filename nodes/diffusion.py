"""Image generation with Stable Diffusion (1.x, 2.x, SDXL and their Turbo/LCM kin) on the user's own
models: load a model, put LoRAs and an IP-Adapter on it, text-to-image, image-to-image,
inpainting, and a style grid that compares looks, seeds and LoRAs on one contact sheet.

A Character keeps its identity from shot to shot: its description is folded into the prompt,
its seed offsets the node's seed, and its reference pictures condition the image through the
model's IP-Adapter. Weights load once per process (through ``ctx.models``) and are
never written to the result cache; handles are keyed by the weights' digests.
"""
from __future__ import annotations

import io
import pathlib
from typing import Any

import blake3
import numpy as np

from nodes import _sd
from nodes.preview import CellWidth, labelled_grid
from nodegraph import (AdapterRef, Bool, Character, Choice, Context, Image, Images, Int, LoraRef, Model, Number,
                       Outputs, Path, Prompt, Seed, Text, ValueError_, Variadic, canonical_bytes, node,
                       read_safetensors_header)

# a grid cell made by other code (or other library versions) is not reused
_CODE = blake3.blake3(b"".join(p.read_bytes() for p in (pathlib.Path(__file__), pathlib.Path(_sd.__file__)))
                      + _sd.library_versions().encode()).digest()

Size = Int(min=8, max=8192)
Steps = Int(min=1, max=500)
Guidance = Number(min=0.0, max=50.0)
Scheduler = Choice(*_sd.SCHEDULERS)
Batch = Int(min=1, max=64)
Device = Choice("auto", "cpu", "cuda", "mps")
# model references: a path, a name under the model folders of that kind, or a Hugging Face repo id
CheckpointRef = Path(kind="model:checkpoints")
LoraFile = Path(kind="model:loras")
AdapterFile = Path(kind="model:ip_adapter")
EncoderRef = Path(kind="model:clip_vision")
Dtype = Choice("auto", "float32", "float16", "bfloat16")


# -- models ------------------------------------------------------------------------------------------

@node("diffusion.load_model", title="Load diffusion model", category="Image AI", determinism="reads-files",
      cost="gpu")
def load_model(model: CheckpointRef, config: Text = "", device: Device = "auto",
               dtype: Dtype = "auto", ctx: Context = None) -> Model:
    """A Stable Diffusion model from your own files: a diffusers folder, a single .safetensors
    checkpoint, a name under your model folders, or a Hugging Face repo id (from the local cache
    when offline). The weights are loaded once per session and shared by every node using them.

    Args:
        model: a path, a name (looked up in the model folders, e.g. ComfyUI's models/checkpoints),
            or a Hugging Face repo id such as stable-diffusion-v1-5/stable-diffusion-v1-5.
        config: for a single-file checkpoint: the diffusers config folder of its base model
            (empty: found next to the file or under ROOT/configs/<sd1|sd2|sdxl>).
        device: auto picks cuda, then mps, then cpu.
        dtype: auto is float16 on a GPU and float32 on the cpu.
    """
    _sd.require_ai()
    handle = _sd.describe(ctx.models, model, "checkpoints", config, device, dtype)
    loads = ctx.models.cache.loads
    _sd.base_pipeline(ctx.models, handle)
    if ctx.models.cache.loads > loads:
        ctx.log(f"loaded {handle.name} ({handle.pipeline}) on {handle.device} as {handle.dtype}")
    return handle


def _lora_check(path: str) -> None:
    keys = [k for k in read_safetensors_header(path) if k != "__metadata__"]
    if not any(("lora" in k.lower()) or k.endswith(".alpha") for k in keys):
        raise ValueError_(f"{path}: not a LoRA (no lora_A/lora_B or lora_down/lora_up tensors)")


@node("diffusion.lora", title="Apply LoRA", category="Image AI", determinism="reads-files")
def lora(model: Model, lora: LoraFile, strength: Number(min=-4.0, max=4.0) = 0.8,
         ctx: Context = None) -> Model:
    """Put a LoRA (a reusable look, style or subject) on a model. Chain several for a mix.

    Args:
        lora: a .safetensors LoRA (path, or a name under the model folders' loras folder).
        strength: how strongly it applies (0 = not at all, 1 = as trained; negative pushes away).
    """
    m = _sd.resolved_file(ctx.models, lora, "loras", "LoRA")
    if m.path is None or not m.path.is_file():
        raise ValueError_(f"{m.path}: a LoRA is one .safetensors file, not a folder")
    _lora_check(str(m.path))
    ref = LoraRef(name=m.name, path=str(m.path), sha256=m.digest(), scale=float(strength))
    return Model(**{**_fields(model), "loras": model.loras + (ref,)})


@node("diffusion.ip_adapter", title="IP-Adapter", category="Image AI", determinism="reads-files")
def ip_adapter(model: Model, adapter: AdapterFile,
               image_encoder: EncoderRef = "", ctx: Context = None) -> Model:
    """Let reference pictures (a Character's, or any image) steer generation: the same face,
    outfit or style in every shot. The Plus variant (finer detail) is recognised by its weights.

    Args:
        adapter: IP-Adapter weights (.safetensors), e.g. h94/IP-Adapter/models/ip-adapter_sd15.safetensors.
        image_encoder: the CLIP vision encoder it was trained with: a folder, or a single
            .safetensors as in ComfyUI's models/clip_vision (empty: the image_encoder folder next
            to the weights, as in the h94/IP-Adapter layout).
    """
    a = _sd.resolved_file(ctx.models, adapter, "ip_adapter", "IP-Adapter")
    if a.path is None or not a.path.is_file():
        raise ValueError_(f"{a.path}: give the IP-Adapter weights file (.safetensors), not a folder")
    plus = _sd.is_plus_adapter(a.path)
    if image_encoder:
        enc = _sd.resolved_file(ctx.models, image_encoder, "clip_vision", "image encoder")
    else:
        near = [a.path.parent / "image_encoder", a.path.parent.parent / "image_encoder"]
        found = next((p for p in near if (p / "config.json").is_file()), None)
        if found is None:
            raise ValueError_(f"{a.path}: no image encoder given and none found at {near[0]} or {near[1]}; "
                              f"set image_encoder to the CLIP vision folder this adapter was trained with")
        enc = ctx.models.resolve(str(found), "clip_vision")
    if enc.format == "single_file" and enc.path is not None and enc.path.suffix.lower() == ".safetensors":
        folder = _sd.clip_vision_folder(ctx.models, enc.path, enc.digest())       # ComfyUI's clip_vision files
    elif enc.format == "transformers":
        folder = enc.path
    else:
        raise ValueError_(f"{enc.path}: the image encoder must be a transformers folder (config.json + weights) "
                          f"or a CLIP vision .safetensors file")
    ref = AdapterRef(name=a.name, path=str(a.path), sha256=a.digest(), encoder=str(folder),
                     encoder_sha256=enc.digest(), plus=plus, size=enc.size)
    return Model(**{**_fields(model), "ip_adapter": ref})


def _fields(m: Model) -> dict:
    import dataclasses

    return {f.name: getattr(m, f.name) for f in dataclasses.fields(m)}


# -- shared by the generators -------------------------------------------------------------------------

def condition(prompt: Prompt, character: Character | None, reference: Image | None, model: Model,
              seed: int, ctx: Context | None) -> tuple[str, str, int, list]:
    """(prompt text, negative, seed, reference pictures) once a Character is folded in."""
    text, negative = prompt.text, prompt.negative
    refs: list = []
    if character is not None:
        lower = text.lower()
        lead = [s for s in (character.name, character.description) if s and s.lower() not in lower]
        text = ", ".join(lead + [text]) if lead else text
        seed = (int(character.seed) + int(seed)) % (1 << 63)
        refs = [_sd.to_pil(im) for im in character.references]
    if reference is not None:
        if model.ip_adapter is None:
            raise ValueError_("the reference image needs an IP-Adapter on the model: put an IP-Adapter node "
                              "between the model loader and this node")
        refs.append(_sd.to_pil(reference))
    if refs and model.ip_adapter is None:
        refs = []
        if ctx is not None:
            ctx.log("no IP-Adapter on the model: the character's pictures are not used, only its description and seed")
    return text, negative, seed, refs


def _negative(prompt_negative: str, extra: str) -> str:
    return ", ".join(s for s in (prompt_negative.strip(), extra.strip()) if s)


def _batch(images: list[Image], seed: int) -> dict:
    return {"image": images[0], "images": Images(tuple(images), tuple(f"seed {seed + i}" for i in range(len(images))))}


def _resized(img: Image, width: int, height: int, mode: str = "RGB"):
    from PIL import Image as PILImage

    pil = _sd.to_pil(img) if mode == "RGB" else PILImage.fromarray(np.ascontiguousarray(img.rgb())).convert("L")
    if pil.size != (width, height):  # a mask is scaled without ringing (it stays 0 where it was 0)
        pil = pil.resize((width, height), PILImage.Resampling.LANCZOS if mode == "RGB" else PILImage.Resampling.BILINEAR)
    return pil


def _redraw_setup(ctx: Context, model: Model, task: str, image: Image, width: int, height: int, steps: int,
                  strength: float) -> tuple[Any, int, int]:
    """The pipeline and output size of an image-to-image or inpaint run (0: the picture's size,
    rounded down to what the model needs), refusing a strength that leaves no step to run."""
    if int(steps * strength) < 1:
        raise ValueError_(f"strength {strength:g} x steps {steps} leaves no step to run: raise one of them")
    pipe = _sd.task_pipeline(ctx.models, model, task)
    m = _sd.size_multiple(pipe)
    w = width or _sd.round_size(image.width, m)
    h = height or _sd.round_size(image.height, m)
    _sd.check_size(pipe, w, h, model.name)
    return pipe, w, h


# -- generators ---------------------------------------------------------------------------------------

@node("diffusion.txt2img", title="Text to image", category="Image AI", determinism="seeded", cost="gpu")
def txt2img(model: Model, prompt: Prompt, character: Character | None = None, reference: Image | None = None,
            negative: Text(multiline=True) = "", width: Size = 512, height: Size = 512, steps: Steps = 25,
            guidance: Guidance = 7.0, scheduler: Scheduler = "default", seed: Seed = 0, batch: Batch = 1,
            reference_strength: Number(min=0.0, max=2.0) = 0.6,
            ctx: Context = None) -> Outputs(image=Image, images=Images):
    """Generate pictures from a prompt. Per-step progress with a live preview; cancel between steps.

    Args:
        prompt: what to draw (a Prompt node, or plain text).
        character: keeps a character's identity: its description joins the prompt, its seed is
            added to this node's seed, and its pictures steer the image through the IP-Adapter.
        reference: one more reference picture (needs an IP-Adapter on the model).
        negative: what to avoid, added to the prompt's own negative.
        width: in pixels (a multiple of 8 for Stable Diffusion).
        height: in pixels.
        steps: denoising steps (Turbo/LCM models: 1-4).
        guidance: how closely to follow the prompt (Turbo models: 0).
        scheduler: the sampler; default keeps the model's own.
        seed: the random seed (with a character: an offset to the character's seed).
        batch: how many pictures; picture k uses seed + k, so each can be re-made alone.
        reference_strength: how strongly reference pictures steer the result (IP-Adapter scale).
    """
    text, neg, seed, refs = condition(prompt, character, reference, model, seed, ctx)
    pipe = _sd.task_pipeline(ctx.models, model, "txt2img")
    _sd.check_size(pipe, width, height, model.name)
    imgs = _sd.generate(ctx.models, pipe, model, ctx, prompt=text, negative=_negative(neg, negative), steps=steps,
                        guidance=guidance, seed=seed, batch=batch, scheduler=scheduler, width=width, height=height,
                        references=refs, reference_scale=reference_strength)
    return _batch(imgs, seed)


@node("diffusion.img2img", title="Image to image", category="Image AI", determinism="seeded", cost="gpu")
def img2img(model: Model, image: Image, prompt: Prompt, character: Character | None = None,
            reference: Image | None = None, negative: Text(multiline=True) = "",
            strength: Number(min=0.0, max=1.0) = 0.6, width: Int(min=0, max=8192) = 0,
            height: Int(min=0, max=8192) = 0, steps: Steps = 25, guidance: Guidance = 7.0,
            scheduler: Scheduler = "default", seed: Seed = 0, batch: Batch = 1,
            reference_strength: Number(min=0.0, max=2.0) = 0.6,
            ctx: Context = None) -> Outputs(image=Image, images=Images):
    """Redraw a picture after a prompt: a sketch into a painting, a photo into a style.

    Args:
        image: the starting picture.
        strength: how much to change it (0 keeps it, 1 ignores it); steps x strength steps run.
        width: output width (0: the picture's, rounded down to what the model needs).
        height: output height (0: the picture's).
        character: as in Text to image.
        reference: as in Text to image.
        negative: as in Text to image.
        steps: as in Text to image.
        guidance: as in Text to image.
        scheduler: as in Text to image.
        seed: as in Text to image.
        batch: as in Text to image.
        reference_strength: as in Text to image.
    """
    pipe, w, h = _redraw_setup(ctx, model, "img2img", image, width, height, steps, strength)
    text, neg, seed, refs = condition(prompt, character, reference, model, seed, ctx)
    imgs = _sd.generate(ctx.models, pipe, model, ctx, prompt=text, negative=_negative(neg, negative), steps=steps,
                        guidance=guidance, seed=seed, batch=batch, scheduler=scheduler,
                        image=_resized(image, w, h), strength=strength, references=refs,
                        reference_scale=reference_strength)
    return _batch(imgs, seed)


@node("diffusion.inpaint", title="Inpaint", category="Image AI", determinism="seeded", cost="gpu")
def inpaint(model: Model, image: Image, mask: Image, prompt: Prompt, character: Character | None = None,
            reference: Image | None = None, negative: Text(multiline=True) = "",
            strength: Number(min=0.0, max=1.0) = 1.0, width: Int(min=0, max=8192) = 0,
            height: Int(min=0, max=8192) = 0, steps: Steps = 25, guidance: Guidance = 7.0,
            scheduler: Scheduler = "default", seed: Seed = 0, batch: Batch = 1,
            reference_strength: Number(min=0.0, max=2.0) = 0.6,
            ctx: Context = None) -> Outputs(image=Image, images=Images):
    """Repaint the white part of a mask after a prompt; the rest of the picture stays.

    Works with inpainting models and with ordinary ones (which blend the masked area).

    Args:
        image: the picture to change.
        mask: white where to repaint, black where to keep (grey: partly).
        strength: how much of the masked area to change (1: entirely).
        width: output width (0: the picture's, rounded down to what the model needs).
        height: output height (0: the picture's).
        character: as in Text to image.
        reference: as in Text to image.
        negative: as in Text to image.
        steps: as in Text to image.
        guidance: as in Text to image.
        scheduler: as in Text to image.
        seed: as in Text to image.
        batch: as in Text to image.
        reference_strength: as in Text to image.
    """
    pipe, w, h = _redraw_setup(ctx, model, "inpaint", image, width, height, steps, strength)
    text, neg, seed, refs = condition(prompt, character, reference, model, seed, ctx)
    source, soft = _resized(image, w, h), _resized(mask, w, h, "L")
    imgs = _sd.generate(ctx.models, pipe, model, ctx, prompt=text, negative=_negative(neg, negative), steps=steps,
                        guidance=guidance, seed=seed, batch=batch, scheduler=scheduler, width=w, height=h,
                        image=source, mask=soft, strength=strength, references=refs,
                        reference_scale=reference_strength)
    # outside the mask the picture is the original's, pixel for pixel (the VAE round trip would blur it)
    keep = 1.0 - np.asarray(soft, np.float32)[:, :, None] / 255.0
    orig = np.asarray(source, np.float32)
    imgs = [Image((im.pixels.astype(np.float32) * (1.0 - keep) + orig * keep + 0.5).astype(np.uint8)) for im in imgs]
    return _batch(imgs, seed)


# -- style grid ---------------------------------------------------------------------------------------

def parse_looks(text: str) -> list[tuple[str, str]]:
    """``label: style tags`` per line (``label:`` alone = the prompt as written); # comments."""
    looks = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        label, colon, tags = line.partition(":")
        if not colon:
            label, tags = line, line
        if not label.strip():
            raise ValueError_(f"looks line {n} ({line!r}) has no label before ':'")
        looks.append((label.strip(), tags.strip()))
    return looks or [("as written", "")]


def parse_seeds(text: str) -> list[int]:
    seeds = []
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            a, dash, b = part.partition("-") if not part.startswith("-") else (part, "", "")
            if dash:
                lo, hi = int(a), int(b)
                if hi < lo or hi - lo > 63:
                    raise ValueError
                seeds.extend(range(lo, hi + 1))
            else:
                seeds.append(int(part))
        except ValueError:
            raise ValueError_(f"seeds: {part!r} is not a seed or a range like 1-4") from None
    if not seeds:
        raise ValueError_("seeds: give at least one seed (e.g. 1, 2, 3)")
    if any(s < 0 for s in seeds):
        raise ValueError_("seeds must be 0 or more")
    return seeds


def _cell_bytes(img: Image) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(img.pixels), allow_pickle=False)
    return buf.getvalue()


def _cell_image(data: bytes) -> Image:
    return Image(np.load(io.BytesIO(data), allow_pickle=False))


@node("diffusion.style_grid", title="Style grid", category="Image AI", determinism="seeded", cost="gpu")
def style_grid(model: Model, prompt: Prompt, variants: Variadic[Model], character: Character | None = None,
               looks: Text(multiline=True) = "as written:\nwatercolour: watercolour painting, soft washes\n"
                                             "ink: ink drawing, bold lines, crosshatching\n"
                                             "cinematic: cinematic still, dramatic lighting, film grain",
               seeds: Text = "1, 2, 3", negative: Text(multiline=True) = "", width: Size = 512,
               height: Size = 512, steps: Steps = 25, guidance: Guidance = 7.0, scheduler: Scheduler = "default",
               reference_strength: Number(min=0.0, max=2.0) = 0.6, cell_width: CellWidth = 256,
               labels: Bool = True, seed: Seed = 0,
               ctx: Context = None) -> Outputs(sheet=Image, images=Images):
    """One prompt in several looks, seeds and models (e.g. the same model with different LoRAs),
    laid out as a labelled contact sheet: a row per look and model, a column per seed.

    Cells already made (same model, look, seed and settings) are reused when you add a look or a
    seed, so growing the grid only renders the new cells.

    Args:
        model: the first model (row group).
        variants: more models to compare (each an Apply LoRA or another loader).
        looks: one look per line, 'label: style tags' (the tags join the prompt).
        seeds: the seeds of the columns, e.g. '1, 2, 3' or '1-4'.
        character: as in Text to image (description, seed offset, reference pictures).
        negative: what to avoid, added to the prompt's negative.
        width: of each picture.
        height: of each picture.
        steps: denoising steps per picture.
        guidance: as in Text to image.
        scheduler: as in Text to image.
        reference_strength: as in Text to image.
        cell_width: width of each cell on the sheet.
        labels: write the looks and models left of the rows and the seeds above the columns.
        seed: added to every column's seed.
    """
    all_models = [model, *variants]
    rows = [(m, label, tags) for m in all_models for label, tags in parse_looks(looks)]
    cols = parse_seeds(seeds)
    n = len(rows) * len(cols)
    if n > 256:
        raise ValueError_(f"the grid has {n} cells; at most 256 (fewer looks, seeds or variants)")
    names = [m.name + (f" + {', '.join(lo.name for lo in m.loras)}" if m.loras else "") for m in all_models]
    pictures, cell_labels = [], []
    k = 0
    for m, label, tags in rows:
        look_prompt = Prompt(positive=prompt.positive, negative=prompt.negative,
                             style=prompt.style + tuple(t.strip() for t in tags.split(",") if t.strip()))
        text, neg, base_seed, refs = condition(look_prompt, character, None, m, seed, ctx)
        neg = _negative(neg, negative)
        pipe = None
        for s in cols:
            key = _cell_key(m, text, neg, base_seed + s, width, height, steps, guidance, scheduler, refs,
                            reference_strength)

            def make(s=s, k=k) -> bytes:
                nonlocal pipe
                if pipe is None:
                    pipe = _sd.task_pipeline(ctx.models, m, "txt2img")
                    _sd.check_size(pipe, width, height, m.name)

                def report(f: float, msg: str, pv: Image | None) -> None:
                    ctx.progress((k + f) / n, f"cell {k + 1}/{n} ({label}, seed {s}): {msg}", pv)
                img, = _sd.generate(ctx.models, pipe, m, None, prompt=text, negative=neg, steps=steps, guidance=guidance,
                                    seed=base_seed + s, scheduler=scheduler, width=width, height=height,
                                    references=refs, reference_scale=reference_strength, progress=report)
                return _cell_bytes(img)

            pictures.append(_cell_image(ctx.artifact(key, make) if ctx is not None else make()))
            model_note = f" · {names[all_models.index(m)]}" if len(all_models) > 1 else ""
            cell_labels.append(f"{label}{model_note} · seed {s}")
            k += 1
            if ctx is not None:
                ctx.progress(k / n, f"cell {k}/{n}")
    bg = np.array((30, 30, 30), np.float64)
    row_titles = [f"{label} · {names[all_models.index(m)]}" if len(all_models) > 1 else label for m, label, _ in rows]
    sheet = labelled_grid([p.pixels for p in pictures], row_titles if labels else [""] * len(rows),
                          [f"seed {s}" for s in cols] if labels else [""] * len(cols), cell_width, bg)
    return {"sheet": Image(sheet), "images": Images(tuple(pictures), tuple(cell_labels))}


def _cell_key(m: Model, text: str, negative: str, seed: int, width: int, height: int, steps: int,
              guidance: float, scheduler: str, refs: list, scale: float) -> bytes:
    h = blake3.blake3(b"nodegraph.style_grid.cell\0" + _CODE)
    h.update(m.digest())
    h.update(canonical_bytes([text, negative, int(seed), width, height, steps, float(guidance), scheduler,
                                      float(scale) if refs else 0.0]))
    for r in refs:
        h.update(blake3.blake3(np.asarray(r).tobytes()).digest())
    return h.digest()
