"""Single-file checkpoints: read the safetensors header (no torch), tell the base architecture, and
find the local diffusers config folder that ``from_single_file(..., config=FOLDER)`` needs offline.

Without ``config=``, diffusers infers a hub repo for the configs and fails offline (trap T4).
"""
from __future__ import annotations

import json
import os
import struct
from pathlib import Path

from .config import model_roots, root_bases
from .errors import SingleFileConfigMissing, UnsupportedModel

MAX_HEADER = 100 << 20

# architecture -> (label, hub repo whose config folder fits, accepted folder names under configs/)
ARCHITECTURES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "sd1": ("Stable Diffusion 1.x", "stable-diffusion-v1-5/stable-diffusion-v1-5", ("sd1", "sd15", "sd1.5")),
    "sd2": ("Stable Diffusion 2.x", "stabilityai/stable-diffusion-2-1", ("sd2", "sd21", "sd2.1")),
    "sdxl": ("Stable Diffusion XL", "stabilityai/stable-diffusion-xl-base-1.0", ("sdxl", "sdxl_base")),
    "sdxl_refiner": ("Stable Diffusion XL refiner", "stabilityai/stable-diffusion-xl-refiner-1.0",
                     ("sdxl_refiner",)),
}
UNSUPPORTED = {"sd3": "Stable Diffusion 3", "flux": "Flux"}


def read_safetensors_header(path: str | os.PathLike) -> dict:
    """The JSON header of a .safetensors file: 8-byte little-endian length, then that much JSON."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise UnsupportedModel(f"{path}: not a safetensors file (too short)")
            (n,) = struct.unpack("<Q", head)
            if n < 2 or n > MAX_HEADER or n > path.stat().st_size - 8:
                raise UnsupportedModel(f"{path}: not a safetensors file (bad header length {n})")
            header = json.loads(f.read(n))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise UnsupportedModel(f"{path}: not a safetensors file (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise UnsupportedModel(f"{path}: not a safetensors file (its header is not a JSON object)")
    return header


def read_json_object(path: str | os.PathLike) -> dict:
    """A model folder's JSON file (config.json, model_index.json ...) as a dict, or a clear refusal."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UnsupportedModel(f"{path}: unreadable ({e})") from None
    if not isinstance(data, dict):
        raise UnsupportedModel(f"{path}: not a JSON object")
    return data


def tensor_names(header: dict) -> list[str]:
    return [k for k in header if k != "__metadata__"]


def sniff_architecture(path: str | os.PathLike) -> str | None:
    """``sd1``, ``sd2``, ``sdxl``, ``sdxl_refiner``, ``sd3``, ``flux``, or None when unknown."""
    header = read_safetensors_header(path)
    keys = tensor_names(header)

    def has(prefix: str) -> bool:
        return any(k.startswith(prefix) for k in keys)

    if has("model.diffusion_model.joint_blocks.") or has("joint_blocks."):
        return "sd3"
    if has("double_blocks.") or has("model.diffusion_model.double_blocks."):
        return "flux"
    if has("conditioner.embedders."):
        if has("conditioner.embedders.1."):
            return "sdxl"
        return "sdxl_refiner"
    if has("cond_stage_model.transformer."):
        return "sd1"
    if has("cond_stage_model.model."):
        return "sd2"
    if has("model.diffusion_model.label_emb."):        # UNet-only SDXL
        return "sdxl"
    # UNet-only SD1/SD2: the cross-attention width tells them apart (768 vs 1024)
    for k in keys:
        if k.startswith("model.diffusion_model.") and k.endswith("attn2.to_k.weight"):
            shape = header[k].get("shape") if isinstance(header[k], dict) else None
            if shape and len(shape) == 2:
                return {768: "sd1", 1024: "sd2"}.get(shape[1])
    return None


def _is_config_folder(p: Path) -> bool:
    return p.is_dir() and (p / "model_index.json").is_file()


def single_file_config(path: str | os.PathLike, config: str | None = None, *,
                       roots: list[Path] | None = None) -> Path:
    """The local diffusers config folder for a single-file checkpoint's base architecture.

    Looked for in order: ``config`` (a folder, or an architecture folder name under ``ROOT/configs``),
    a sibling ``<name>.config/`` folder, ``ROOT/configs/<arch>`` (or ``ROOT/models/configs/<arch>``)
    for the sniffed architecture, then the HF cache of the architecture's reference repo.
    """
    from .lookup import hf_cached_snapshot

    path = Path(path)
    roots = model_roots() if roots is None else roots
    bases = [b for r in roots for b in root_bases(r)]
    if config:
        c = Path(os.path.expanduser(config))
        if _is_config_folder(c):
            return c
        for b in bases:
            if _is_config_folder(b / "configs" / config):
                return b / "configs" / config
        raise SingleFileConfigMissing(
            f"{path}: config {config!r} is not a diffusers config folder (a folder with model_index.json"
            f"{', or a name under ' + ', '.join(str(b / 'configs') for b in bases) if bases else ''})")
    sibling = path.with_name(path.stem + ".config")
    if _is_config_folder(sibling):
        return sibling
    arch = sniff_architecture(path)
    if arch in UNSUPPORTED:
        raise UnsupportedModel(f"{path}: a {UNSUPPORTED[arch]} checkpoint; single-file {UNSUPPORTED[arch]} "
                               f"models are not supported yet (use a diffusers folder of the model instead)")
    if arch is None:
        raise SingleFileConfigMissing(
            f"{path}: cannot tell the base architecture of this checkpoint (not SD1.x, SD2.x or SDXL by its "
            f"tensor names); put its diffusers config folder next to it as {sibling}")
    label, repo, names = ARCHITECTURES[arch]
    tried = [sibling]
    for b in bases:
        for n in names:
            cand = b / "configs" / n
            if _is_config_folder(cand):
                return cand
        tried.append(b / "configs" / names[0])
    snap = hf_cached_snapshot(repo)
    if snap is not None and _is_config_folder(snap):
        return snap
    target = bases[0] / "configs" / names[0] if bases else sibling
    raise SingleFileConfigMissing(
        f"{path}: this {label} checkpoint needs the diffusers config folder of its base architecture to load "
        f"offline, and none was found (looked for {', '.join(str(t) for t in tried)} and the Hugging Face cache "
        f"of {repo}). Provide one: `hf download {repo} --exclude '*.safetensors' --exclude '*.bin' "
        f"--exclude '*.ckpt' --exclude '*.pt' --local-dir {target}`, or copy a {label} diffusers folder's config files there")
