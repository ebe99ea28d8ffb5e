"""Where models live: the config folder, ``models.json`` (roots and registered models) and model roots.

``models.json`` (in ``$NODEGRAPH_CONFIG_DIR`` or the user config folder)::

    {"version": 1,
     "roots": ["/data/ComfyUI", "~/models"],
     "models": {"sd15": {"kind": "checkpoints", "path": "/data/sd15.safetensors",
                         "sha256": "...", "size": 123, "format": "single_file"}}}

Roots also come from ``$NODEGRAPH_MODELS`` (``os.pathsep``-separated), searched first. A root may be
a plain folder of models or a ComfyUI / A1111 tree: ``ROOT/models/<kind folder>`` or
``ROOT/<kind folder>`` (so both the install folder and its ``models`` folder work).
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from .errors import ModelError

CONFIG_FILE = "models.json"
ENV_CONFIG_DIR = "NODEGRAPH_CONFIG_DIR"
ENV_MODELS = "NODEGRAPH_MODELS"

# kind -> folder names inside a root (ComfyUI first, then A1111 and other common spellings)
KIND_FOLDERS: dict[str, tuple[str, ...]] = {
    "checkpoints": ("checkpoints", "Stable-diffusion", "diffusers"),
    "diffusers": ("diffusers",),
    "loras": ("loras", "Lora", "LyCORIS"),
    "ip_adapter": ("ip_adapter", "ipadapter", "IP-Adapter"),
    "clip_vision": ("clip_vision",),
    "vae": ("vae", "VAE"),
    "controlnet": ("controlnet", "ControlNet"),
    "upscale_models": ("upscale_models", "ESRGAN", "RealESRGAN"),
    "embeddings": ("embeddings",),
    "audio": ("audio", "audio/musicgen", "audio/whisper", "audio/marian", "audio/tts",
              "musicgen", "whisper", "marian", "tts"),
    "wav2lip": ("wav2lip", "Wav2Lip"),
}
KINDS = tuple(KIND_FOLDERS)

_lock = threading.RLock()


def config_dir() -> Path:
    """``$NODEGRAPH_CONFIG_DIR``, else the platform's user config folder for nodegraph."""
    env = os.environ.get(ENV_CONFIG_DIR)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir("nodegraph", appauthor=False))


def check_kind(kind: str) -> str:
    if kind not in KIND_FOLDERS:
        raise ModelError(f"unknown model kind {kind!r} (kinds: {', '.join(KINDS)})")
    return kind


# -- models.json ---------------------------------------------------------------------------------

def config_path() -> Path:
    return config_dir() / CONFIG_FILE


def read_config() -> dict[str, Any]:
    """The parsed ``models.json`` (empty defaults when absent); a damaged file is a one-line error."""
    path = config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {"version": 1, "roots": [], "models": {}}
    except OSError as e:
        raise ModelError(f"{path}: cannot read: {e.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ModelError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}); fix or remove the file") from None
    if not isinstance(data, dict) or not isinstance(data.get("roots", []), list) \
            or not isinstance(data.get("models", {}), dict):
        raise ModelError(f"{path}: expected an object with a \"roots\" list and a \"models\" object")
    data.setdefault("version", 1)
    data.setdefault("roots", [])
    data.setdefault("models", {})
    return data


def write_config(data: dict[str, Any]) -> None:
    write_json_atomic(config_path(), data)


def write_json_atomic(path: Path, data: Any) -> None:
    """``data`` as sorted, indented JSON, written with the project's atomic writer (``nodegraph.fsio``)."""
    from ..fsio import write_json

    write_json(path, data)


# -- roots ---------------------------------------------------------------------------------------

def model_roots() -> list[Path]:
    """Root folders: ``$NODEGRAPH_MODELS`` first, then ``models.json``'s ``roots``; existing ones, no duplicates."""
    raw = [p for p in os.environ.get(ENV_MODELS, "").split(os.pathsep) if p.strip()]
    raw += [str(p) for p in read_config()["roots"] if isinstance(p, str) and p.strip()]
    out: list[Path] = []
    seen: set[Path] = set()
    for r in raw:
        p = Path(os.path.expandvars(r.strip())).expanduser()
        try:
            key = p.resolve()
        except OSError:
            continue
        if p.is_dir() and key not in seen:
            seen.add(key)
            out.append(p)
    return out


def add_root(folder: str | os.PathLike) -> Path:
    """Record a root folder in ``models.json``; returns its absolute path."""
    p = Path(folder).expanduser().resolve()
    if not p.is_dir():
        raise ModelError(f"{folder}: no such folder (a model root must be an existing folder)")
    with _lock:
        data = read_config()
        if str(p) not in data["roots"]:
            data["roots"].append(str(p))
            write_config(data)
    return p


def root_bases(root: Path) -> list[Path]:
    """The folders that may hold kind folders: the root, and ``root/models`` in a ComfyUI/A1111 install."""
    bases = [root]
    if (root / "models").is_dir():
        bases.append(root / "models")
    return bases


def kind_folders(kind: str, roots: list[Path] | None = None) -> list[Path]:
    """Existing kind folders under every root, in search order."""
    check_kind(kind)
    out = []
    for root in model_roots() if roots is None else roots:
        for base in root_bases(root):
            for name in KIND_FOLDERS[kind]:
                d = base / name
                if d.is_dir() and d not in out:
                    out.append(d)
    return out


def search_folders(kind: str, roots: list[Path] | None = None) -> list[Path]:
    """Where a bare name is looked up: the kind folders, then each root itself (a flat folder of models)."""
    roots = model_roots() if roots is None else roots
    return kind_folders(kind, roots) + [r for r in roots]
