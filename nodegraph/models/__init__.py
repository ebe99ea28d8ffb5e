"""Model manager used by every AI node (image and audio). Torch-free: torch, diffusers and
transformers are imported only inside the functions that need them.

- where models live: :func:`model_roots` (``$NODEGRAPH_MODELS`` + ``models.json``), ComfyUI/A1111
  kind folders (:data:`KIND_FOLDERS`);
- :func:`resolve` a reference (path, registered name, name under a root, Hugging Face repo id) to a
  :class:`ResolvedModel`, offline-aware and never downloading;
- :func:`single_file_config`: the local config folder a single-file checkpoint needs offline;
- digests (:func:`file_digest`, :func:`folder_digest`, :func:`verify`) and the registry
  (:func:`add`, :func:`list_models`, :func:`verify_all`);
- :func:`choose_device`, :func:`dtype_for`, and :class:`ModelCache` / :func:`shared_cache`, the
  in-RAM cache of loaded pipelines keyed by (digest, device, dtype);
- :class:`Models`, the facade a node reaches all of this through (``ctx.models``): node packs
  use it, never the functions above.
"""
from __future__ import annotations

from .checkpoints import (ARCHITECTURES, read_json_object, read_safetensors_header, single_file_config,
                          sniff_architecture)
from .byhash import find_by_sha256
from .config import KIND_FOLDERS, KINDS, add_root, config_dir, kind_folders, model_roots
from .digests import file_digest, folder_digest, path_digest, verify
from .facade import Models
from .errors import (DigestMismatch, ModelError, ModelNotFound, ModelOffline, SingleFileConfigMissing,
                     UnsafeModelFile, UnsupportedModel)
from .registry import VerifyResult, add, list_models, remove, scan_roots, verify_all
from .lookup import (ResolvedModel, download, hf_cached_snapshot, hf_hub_cache, hub_subpath, is_offline, is_repo_id,
                     resolve)
from .runtime import ModelCache, ModelKey, choose_device, dtype_for, shared_cache, torch_dtype

__all__ = [
    "ARCHITECTURES", "KINDS", "KIND_FOLDERS", "DigestMismatch", "ModelCache", "ModelError", "ModelKey",
    "ModelNotFound", "ModelOffline", "Models", "ResolvedModel", "SingleFileConfigMissing", "UnsafeModelFile",
    "UnsupportedModel", "VerifyResult", "add", "add_root", "choose_device", "config_dir",
    "download", "dtype_for", "file_digest", "find_by_sha256", "folder_digest", "hf_cached_snapshot", "hf_hub_cache", "hub_subpath", "is_offline",
    "is_repo_id", "kind_folders", "list_models", "model_roots", "path_digest", "read_json_object", "read_safetensors_header",
    "remove", "resolve", "scan_roots", "shared_cache", "single_file_config", "sniff_architecture",
    "torch_dtype", "verify", "verify_all",
]
