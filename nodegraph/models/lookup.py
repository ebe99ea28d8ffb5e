"""From a model reference (path, name or Hugging Face repo id) to a :class:`ResolvedModel`.

Order: an existing path (absolute, or relative to the graph folder), a name registered with
``nodegraph models add``, a name under the model roots (``name`` or ``name.safetensors`` in the
kind's folders), then a Hugging Face repo id ``org/name``. Nothing is downloaded here.

A reference that looks like a path (``./x``, ``a/b/c``, ``x.safetensors``, or whose first part is an
existing local folder) is never taken for a repo id (trap T5: diffusers would report a misleading
hub error for a mistyped path).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from .config import KIND_FOLDERS, check_kind, model_roots, read_config, search_folders
from .errors import ModelError, ModelNotFound, ModelOffline, UnsafeModelFile, UnsupportedModel

SAFE_EXTS = (".safetensors",)
PICKLE_EXTS = (".ckpt", ".pt", ".pth", ".bin")
# kinds whose nodes load these pickled files with torch.load(weights_only=True) (never arbitrary code)
WEIGHTS_ONLY_EXTS: dict[str, tuple[str, ...]] = {"wav2lip": (".pth", ".pt"), "upscale_models": (".pth", ".pt")}
# other non-pickled single files some kinds use
EXTRA_EXTS: dict[str, tuple[str, ...]] = {"audio": (".onnx",)}
MODEL_FILE_EXTS = SAFE_EXTS + PICKLE_EXTS + (".onnx", ".gguf")

FORMATS = ("diffusers", "transformers", "single_file", "folder", "hub")

_REPO_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
_REPO_RE = re.compile(rf"^{_REPO_PART}/{_REPO_PART}$")


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model is and how to load it.

    ``format``: ``diffusers`` (folder with model_index.json), ``transformers`` (folder with
    config.json), ``single_file`` (one weights file), ``folder`` (another layout the node knows), or
    ``hub`` (a repo id the node may download: online only). ``path`` is set for everything local,
    including a hub repo found in the HF cache (then ``repo_id`` is set too).
    """

    kind: str
    name: str
    path: Path | None
    repo_id: str | None
    format: str
    size: int = 0
    weights_only: bool = False   # a .pt/.pth: load with torch.load(weights_only=True) only
    found_by: str = "path"       # path | registered | root | hub-cache | hub
    registered_sha256: str | None = field(default=None, compare=False)

    @property
    def load_source(self) -> str:
        """What to hand to ``from_pretrained``/``from_single_file``: the local path, else the repo id."""
        if self.format != "hub" and self.path is not None:
            return str(self.path)
        return str(self.repo_id)

    def digest(self) -> str:
        """sha256 of the file or folder (memoised), or ``hub:<repo id>`` for a not-yet-downloaded repo."""
        if self.path is None:
            return f"hub:{self.repo_id}"
        from .digests import path_digest

        return path_digest(self.path)


# -- classification ------------------------------------------------------------------------------

def is_repo_id(ref: str) -> bool:
    """Valid Hugging Face ``org/name`` syntax (no ``--``/``..``, no path-like pieces)."""
    return bool(_REPO_RE.match(ref)) and "--" not in ref and ".." not in ref


def looks_like_path(ref: str, base_dir: Path | None = None) -> bool:
    """True for references that can only be meant as paths (never as repo ids)."""
    if ref.startswith((".", "/", "~")) or "\\" in ref or os.path.isabs(ref):
        return True
    if ref.count("/") != 1 or ref.lower().endswith(MODEL_FILE_EXTS):
        return True
    first = ref.split("/", 1)[0]
    return base_dir is not None and (base_dir / first).is_dir()


def tree_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    total = 0
    for dirpath, dirnames, filenames in os.walk(path, followlinks=True):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for f in filenames:
            try:
                total += os.stat(os.path.join(dirpath, f)).st_size
            except OSError:
                pass
    return total


def classify(path: Path, kind: str) -> tuple[str, bool]:
    """``(format, weights_only)`` of an existing local file or folder, or a clear refusal."""
    if path.is_dir():
        if (path / "model_index.json").is_file():
            return "diffusers", False
        if (path / "config.json").is_file():
            return "transformers", False
        if kind in ("checkpoints", "diffusers"):
            raise UnsupportedModel(f"{path}: not a diffusers model folder (no model_index.json); for kind {kind!r} "
                                   f"give a diffusers folder or a .safetensors checkpoint")
        if not any(p.is_file() for p in path.iterdir()) and not any(p.is_dir() for p in path.iterdir()):
            raise UnsupportedModel(f"{path}: the folder is empty")
        return "folder", False
    ext = path.suffix.lower()
    if ext in SAFE_EXTS or ext in EXTRA_EXTS.get(kind, ()):
        return "single_file", False
    if ext in WEIGHTS_ONLY_EXTS.get(kind, ()):
        return "single_file", True
    if ext in PICKLE_EXTS:
        raise UnsafeModelFile(unsafe_message(path, kind))
    allowed = SAFE_EXTS + WEIGHTS_ONLY_EXTS.get(kind, ()) + EXTRA_EXTS.get(kind, ())
    raise UnsupportedModel(f"{path}: not a model file nodegraph loads for kind {kind!r} "
                           f"(expected a folder or {', '.join(allowed)})")


def unsafe_message(path: Path, kind: str) -> str:
    ext = path.suffix.lower()
    return (f"{path}: {ext} files are pickled checkpoints, which can run arbitrary code when loaded, so nodegraph "
            f"does not load them for safety; only .safetensors is accepted for kind {kind!r}. "
            f"Download the .safetensors version of this model, or convert it on a machine you trust.")


# -- Hugging Face cache --------------------------------------------------------------------------

def hf_hub_cache() -> Path:
    """The standard hub cache: ``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HUGGINGFACE_HUB_CACHE"):
        return Path(os.environ["HUGGINGFACE_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return Path(home).expanduser() / "hub"


def hf_cached_snapshot(repo_id: str, revision: str | None = None) -> Path | None:
    """The local snapshot folder of a repo in the HF cache (``refs/main`` first, else the newest)."""
    repo_dir = hf_hub_cache() / f"models--{repo_id.replace('/', '--')}"
    snaps = repo_dir / "snapshots"
    if not snaps.is_dir():
        return None
    ref = revision or "main"
    ref_file = repo_dir / "refs" / ref
    if ref_file.is_file():
        commit = ref_file.read_text(encoding="utf-8").strip()
        if (snaps / commit).is_dir():
            return snaps / commit
    if revision and (snaps / revision).is_dir():
        return snaps / revision
    if revision:
        return None
    found = [d for d in snaps.iterdir() if d.is_dir() and any(d.iterdir())]
    return max(found, key=lambda d: d.stat().st_mtime_ns) if found else None


def offline_by_env() -> bool:
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
               for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "NODEGRAPH_OFFLINE"))


def hub_client_available() -> bool:
    """Whether the Hugging Face client (installed with the ``ai`` extra) is there to download."""
    import importlib.util

    return importlib.util.find_spec("huggingface_hub") is not None


def is_offline() -> bool:
    """Offline when told so (HF_HUB_OFFLINE, TRANSFORMERS_OFFLINE, NODEGRAPH_OFFLINE) or when there is
    no client to download with. Otherwise a repo id stays a hub reference: the node that loads it
    downloads it, and says clearly if the hub cannot be reached."""
    return offline_by_env() or not hub_client_available()


# -- resolve -------------------------------------------------------------------------------------

def _local(path: Path, kind: str, name: str, found_by: str, sha: str | None = None) -> ResolvedModel:
    fmt, weights_only = classify(path, kind)
    return ResolvedModel(kind=kind, name=name, path=path.resolve(), repo_id=None, format=fmt,
                         size=tree_size(path), weights_only=weights_only, found_by=found_by, registered_sha256=sha)


def _candidates(folder: Path, ref: str, kind: str) -> list[Path]:
    exts = SAFE_EXTS + WEIGHTS_ONLY_EXTS.get(kind, ()) + EXTRA_EXTS.get(kind, ())
    out = [folder / ref]
    if not ref.lower().endswith(exts):
        out += [folder / (ref + e) for e in exts]
    return out


def resolve(ref: str, kind: str, base_dir: str | os.PathLike | None = None, *,
            roots: list[Path] | None = None, offline: bool | None = None) -> ResolvedModel:
    """Resolve ``ref`` for a model of ``kind``; see the module docstring for the order.

    ``base_dir``: the graph's folder (relative paths are taken from there; default: the current
    folder). ``offline``: default from ``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE``/``NODEGRAPH_OFFLINE``,
    else whether a download client is installed (nothing is sent from here).
    """
    check_kind(kind)
    ref = (ref or "").strip()
    if not ref:
        raise ModelNotFound(f"no model given for kind {kind!r}")
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    expanded = Path(os.path.expanduser(ref))
    pathish = looks_like_path(ref, base)

    # 1. an existing path
    direct = expanded if expanded.is_absolute() else base / expanded
    if direct.exists():
        return _local(direct, kind, _name_of(direct), "path")
    if expanded.is_absolute() or ref.startswith(("./", "../", "~", ".\\", "..\\")):
        _refuse_ckpt_twin(direct, kind)
        raise ModelNotFound(f"model {ref!r} ({kind}): {direct} does not exist")

    # 2. a registered name
    entry = read_config()["models"].get(ref)
    if isinstance(entry, dict) and entry.get("kind", kind) == kind:
        return _from_registry(ref, entry, kind, offline)

    # 3. a name under the roots
    roots = model_roots() if roots is None else roots
    folders = search_folders(kind, roots)
    for folder in folders:
        for cand in _candidates(folder, ref, kind):
            if cand.exists():
                return _local(cand, kind, ref, "root")
    for folder in folders:                          # a .ckpt twin: say why it is not used
        _refuse_ckpt_twin(folder / ref, kind)
    _refuse_ckpt_twin(direct, kind)

    looked = _where(direct, folders, kind, roots)
    # 4. a Hugging Face repo id, or a file or folder inside one (org/name/path/in/repo)
    if not pathish and is_repo_id(ref):
        return _from_hub(ref, kind, offline, looked)
    repo, sub = hub_subpath(ref)
    if repo and not (base / repo.split("/")[0]).exists():
        return _from_hub_subpath(ref, repo, sub, kind, offline, looked)
    why = "it is not a Hugging Face repo id either" if "/" in ref else \
        "a Hugging Face repo id has the form org/name"
    raise ModelNotFound(f"model {ref!r} ({kind}) not found: looked in {looked}; {why}. "
                        f"Give an existing path, or register it with `nodegraph models add PATH --kind {kind}`")


def _name_of(path: Path) -> str:
    return path.stem if path.is_file() else path.name


def _refuse_ckpt_twin(path: Path, kind: str) -> None:
    for ext in (".ckpt", ".pt", ".pth", ".bin"):
        twin = path if path.suffix.lower() == ext else path.with_name(path.name + ext)
        if twin.is_file() and ext not in WEIGHTS_ONLY_EXTS.get(kind, ()):
            raise UnsafeModelFile(unsafe_message(twin, kind))


def _where(direct: Path, folders: list[Path], kind: str, roots: list[Path]) -> str:
    shown = [str(direct)] + [str(f) for f in folders[:8]] + (["..."] if len(folders) > 8 else [])
    text = ", ".join(shown)
    if not roots:
        text += f" (no model roots: set NODEGRAPH_MODELS or add roots to {_cfg_file()})"
    else:
        text += f" (kind folders: {', '.join(KIND_FOLDERS[kind][:3])})"
    return text


def _cfg_file() -> str:
    from .config import config_path

    return str(config_path())


def _from_registry(name: str, entry: dict, kind: str, offline: bool | None) -> ResolvedModel:
    if entry.get("path"):
        p = Path(entry["path"])
        if not p.exists():
            raise ModelNotFound(f"model {name!r} ({kind}) is registered at {p}, which no longer exists; "
                                f"fix it with `nodegraph models add NEWPATH --kind {kind} --name {name}`")
        return _local(p, kind, name, "registered", entry.get("sha256"))
    if entry.get("repo_id"):
        r = _from_hub(entry["repo_id"], kind, offline, "the model registry")
        return replace(r, name=name, registered_sha256=entry.get("sha256"))
    raise ModelError(f"model {name!r} in {_cfg_file()} has neither \"path\" nor \"repo_id\"")


def hub_subpath(ref: str) -> tuple[str, str]:
    """``("org/name", "path/in/repo")`` for a reference to a file or folder inside a hub repo, else ``("", "")``."""
    parts = ref.split("/")
    if len(parts) < 3 or ref.startswith(("/", ".", "~")) or "\\" in ref or any(p in ("", ".", "..") for p in parts):
        return "", ""
    repo = "/".join(parts[:2])
    return (repo, "/".join(parts[2:])) if is_repo_id(repo) else ("", "")


def _from_hub_subpath(ref: str, repo: str, sub: str, kind: str, offline: bool | None, looked: str) -> ResolvedModel:
    snap = hf_cached_snapshot(repo)
    if snap is not None and (snap / sub).exists():
        local = _local(snap / sub, kind, ref, "hub-cache")
        return replace(local, repo_id=repo)
    if offline is None:
        offline = is_offline()
    if offline:
        what = f"{sub} of {repo}"
        raise ModelOffline(
            f"model {ref!r} ({kind}) is not available offline: {what} is not in the Hugging Face cache "
            f"{hf_hub_cache()} nor in {looked}. Get it on a connected machine with "
            f"`hf download {repo} --include '{sub}' --include '{sub}/*'` (then copy the cache folder), or put it in a "
            f"folder and run `nodegraph models add PATH --kind {kind}`")
    return ResolvedModel(kind=kind, name=ref, path=None, repo_id=ref, format="hub", found_by="hub")


def download(model: ResolvedModel) -> ResolvedModel:
    """Fetch a ``hub`` reference into the standard Hugging Face cache and resolve it again, locally.

    Only called by nodes when a reference is not cached and the hub may be used; errors name the repo.
    """
    if model.format != "hub" or not model.repo_id:
        return model
    repo, sub = hub_subpath(model.repo_id)
    try:
        from huggingface_hub import snapshot_download

        if repo:
            snapshot_download(repo, allow_patterns=[sub, sub + "/*"])
        else:
            snapshot_download(model.repo_id)
    except Exception as e:  # network, authentication, missing repo: one line naming it
        raise ModelNotFound(f"model {model.repo_id!r} ({model.kind}): download from the Hugging Face hub failed: "
                            f"{type(e).__name__}: {e}") from None
    return resolve(model.repo_id, model.kind, offline=True)


def _from_hub(repo_id: str, kind: str, offline: bool | None, looked: str) -> ResolvedModel:
    snap = hf_cached_snapshot(repo_id)
    env_offline = offline_by_env() if offline is None else offline
    if snap is not None:
        fmt, weights_only = classify(snap, kind)
        if env_offline:
            return ResolvedModel(kind=kind, name=repo_id, path=snap, repo_id=repo_id, format=fmt,
                                 size=tree_size(snap), weights_only=weights_only, found_by="hub-cache")
        # online: the node may fetch updates by repo id; the cached copy is still named
        return ResolvedModel(kind=kind, name=repo_id, path=snap, repo_id=repo_id, format="hub",
                             size=tree_size(snap), found_by="hub-cache")
    if offline is None:
        offline = is_offline()
    if offline:
        why = ("HF_HUB_OFFLINE is set" if offline_by_env()
               else "no download client: pip install -c requirements.lock -e '.[ai]'")
        raise ModelOffline(
            f"model {repo_id!r} ({kind}) is not available offline ({why}): it is not in the Hugging Face cache "
            f"{hf_hub_cache()} nor in {looked}. Get it on a connected machine with "
            f"`hf download {repo_id}` (then copy the cache folder), or put it in a folder and run "
            f"`nodegraph models add PATH --kind {kind}`")
    return ResolvedModel(kind=kind, name=repo_id, path=None, repo_id=repo_id, format="hub", found_by="hub")
