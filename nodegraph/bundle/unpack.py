"""Unpacking a bundle: every check first, then one move into the target folder.

Order: the zip's central directory (``safezip.check_directory``: names, types, duplicates,
sizes, ratios), the manifest (valid JSON of the right shape and a format version this nodegraph
reads), the member list against the manifest (nothing unlisted, nothing missing, sizes equal);
then every member is streamed into a fresh temp folder (beside the target, or inside it when it
already exists) and hashed as it is written, a hash that differs from the manifest's refuses the
bundle; the graph is read by the untrusted graph reader (``nodegraph.fileformat``) and may name
only files of the bundle, Look files go through the Look reader, the thumbnail must be a PNG.
Only then do the files move into the target folder; on any refusal the temp folder is removed
and nothing was written outside it. Nothing in a bundle is ever run or unpickled.
"""
from __future__ import annotations

import io
import os
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import paths
from ..errors import GraphFileError
from .manifest import MANIFEST, MAX_MANIFEST, BundleError, check
from .safezip import Limits, check_directory, open_zip, read_member

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class Unpacked:
    dest: Path
    graph: Path
    manifest: dict
    files: list[Path] = field(default_factory=list)


def _manifest(zf: zipfile.ZipFile, files: list[zipfile.ZipInfo], source: str, limits: Limits) -> dict:
    from ..fileformat import parse_json

    info = next((i for i in files if i.filename == MANIFEST), None)
    if info is None:
        raise BundleError(source, f"not a nodegraph bundle: it holds no {MANIFEST}")
    if info.file_size > MAX_MANIFEST:
        raise BundleError(source, f"{MANIFEST} is {info.file_size} bytes; a manifest may have at most {MAX_MANIFEST}")
    buf = io.BytesIO()
    read_member(zf, info, source, limits, buf.write)
    try:
        data = parse_json(buf.getvalue(), f"{source}: {MANIFEST}", MAX_MANIFEST, "a bundle manifest")
    except GraphFileError as e:
        raise BundleError(source, f"{MANIFEST} is not valid: {e.message if hasattr(e, 'message') else e}") from None
    return check(data, source)


def _cross_check(files: list[zipfile.ZipInfo], manifest: dict, source: str) -> None:
    listed = manifest["members"]
    held = {i.filename: i for i in files if i.filename != MANIFEST}
    for name, info in held.items():
        if name not in listed:
            raise BundleError(source, f"member {name!r} is not listed in the manifest; refused")
        if info.file_size != listed[name]["size"]:
            raise BundleError(source, f"member {name!r} is {info.file_size} bytes, the manifest says "
                                      f"{listed[name]['size']}")
    for name in listed:
        if name not in held:
            raise BundleError(source, f"the manifest lists {name!r} but the bundle does not hold it")


def _open(zf_path: str | os.PathLike, source: str, limits: Limits) -> tuple[zipfile.ZipFile, list, dict]:
    zf = open_zip(zf_path, source)
    try:
        files = check_directory(zf.infolist(), source, limits)
        manifest = _manifest(zf, files, source, limits)
        _cross_check(files, manifest, source)
    except BaseException:
        zf.close()
        raise
    return zf, files, manifest


def inspect(bundle: str | os.PathLike, limits: Limits = Limits(), verify: bool = True) -> dict:
    """The manifest of ``bundle`` after every check that needs no writing (with ``verify``, every
    member is read and hashed too). Writes nothing."""
    source = str(bundle)
    zf, files, manifest = _open(bundle, source, limits)
    with zf:
        if verify:
            for info in files:
                if info.filename != MANIFEST:
                    _verify_hash(info, read_member(zf, info, source, limits)[0], manifest, source)
    return manifest


def _verify_hash(info: zipfile.ZipInfo, sha: str, manifest: dict, source: str) -> None:
    want = manifest["members"][info.filename]["sha256"]
    if sha != want:
        raise BundleError(source, f"member {info.filename!r} does not match the manifest (its sha256 is {sha}, the "
                                  f"manifest says {want}): the bundle was altered or damaged")


def _extract(zf: zipfile.ZipFile, files: list, manifest: dict, tmp: Path, source: str, limits: Limits) -> None:
    for info in files:
        parts = info.filename.split("/")
        target = tmp.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | getattr(os, "O_BINARY", 0), 0o644)
        with os.fdopen(fd, "wb") as f:
            sha, _ = read_member(zf, info, source, limits, f.write)
        if info.filename != MANIFEST:
            _verify_hash(info, sha, manifest, source)


def _member_of(value: str, folder: Path, root: Path, members: set[str]) -> str | None:
    """The member a relative path from ``folder`` names, or None (absolute, outside, not a member)."""
    if paths.is_absolute(value) or "\\" in value:
        return None
    real = os.path.normpath(os.path.join(folder, value))
    rel = os.path.relpath(real, root)
    if rel.startswith(".."):
        return None
    rel = Path(rel).as_posix()
    return rel if rel in members else None


def _check_content(tmp: Path, manifest: dict, source: str, registry: Any) -> None:
    """The graph, the Looks and the thumbnail, read as data by their own readers."""
    from ..fileformat import load
    from ..looks.model import SUFFIX, load as load_look

    members = set(manifest["members"])
    graph = manifest["graph"]
    try:
        doc = load(tmp / graph)
    except GraphFileError as e:
        raise BundleError(source, f"member {graph!r} is not a valid graph: {e.message if hasattr(e, 'message') else e}") from None
    looks = []
    for name in sorted(members):
        if name.startswith("looks/") and name.endswith(SUFFIX):
            try:
                looks.append((name, load_look(tmp / name, "graph")))
            except GraphFileError as e:
                raise BundleError(source, f"member {name!r} is not a valid Look file: "
                                          f"{e.message if hasattr(e, 'message') else e}") from None
    if registry is None:
        from ..looks import with_looks
        from ..registry import default_registry

        registry = with_looks(default_registry(), tmp / graph)
    checks = [(graph, doc, tmp)] + [(name, look.graph, tmp / "looks") for name, look in looks]
    for where, g, folder in checks:
        for ref in paths.path_params(g, registry):
            if ref.is_model and not (paths.is_pathlike(ref.value) or paths.is_absolute(ref.value)):
                continue  # a model name or hub repo id
            ok = _member_of(ref.value, folder, tmp, members) is not None
            if ref.is_model:  # a model file: stays inside the folder (models/<name>), never packed
                rel = os.path.relpath(os.path.normpath(os.path.join(folder, ref.value)), tmp)
                ok = not (paths.is_absolute(ref.value) or rel.startswith(".."))
            if not ok:
                raise BundleError(source, f"member {where!r}: node {ref.node!r} param {ref.param!r} names "
                                          f"{ref.value!r}, which is not a file of the bundle; a bundle's graph "
                                          "reads only the bundle's own files")
    thumb = manifest.get("thumbnail")
    if thumb:
        with open(tmp / thumb, "rb") as f:
            if f.read(8) != PNG_SIGNATURE:
                raise BundleError(source, f"member {thumb!r} is not a PNG picture")


def _plan_into(dest: Path, tmp: Path, names: list[str], source: str) -> list[tuple[Path, Path]]:
    """(temp file, final path) for each member, refusing a link, file or special file on the way."""
    plan = []
    for name in names:
        parts = name.split("/")
        at = dest
        for part in parts[:-1]:
            at = at / part
            try:
                st = os.lstat(at)
            except FileNotFoundError:
                continue
            if not stat.S_ISDIR(st.st_mode):
                what = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a folder"
                raise BundleError(source, f"{at} is {what}; nothing is written through it (member {name!r})")
        target = at / parts[-1]
        try:
            st = os.lstat(target)
        except FileNotFoundError:
            st = None
        if st is not None:
            from ..fsio import refusal

            why = refusal(st)
            if why:
                raise BundleError(source, f"{target}: {why} (member {name!r})")
        plan.append((tmp.joinpath(*parts), target))
    return plan


def unpack(bundle: str | os.PathLike, dest: str | os.PathLike, *, force: bool = False, limits: Limits = Limits(),
           registry: Any = None) -> Unpacked:
    """Check ``bundle`` whole, then write its files into ``dest`` (see the module docstring).
    ``dest`` must not exist, or be an empty folder, unless ``force`` (its files of the same names
    are replaced; nothing is written through a link in it)."""
    source = str(bundle)
    dest = Path(os.path.abspath(dest))
    zf, files, manifest = _open(bundle, source, limits)
    with zf:
        existing = os.path.lexists(dest)
        if existing:
            st = os.lstat(dest)
            if stat.S_ISLNK(st.st_mode):
                raise BundleError(source, f"{dest} is a symbolic link; give the folder itself")
            if not stat.S_ISDIR(st.st_mode):
                raise BundleError(source, f"{dest} exists and is not a folder")
            if any(os.scandir(dest)) and not force:
                raise BundleError(source, f"{dest} is not empty (use --force to unpack over the files there)")
        made: list[Path] = []
        if not existing:
            for p in reversed(dest.parents):
                if not p.exists():
                    p.mkdir()
                    made.append(p)
        try:
            tmp = Path(tempfile.mkdtemp(prefix=".ngpack-unpack-" if existing else f".{dest.name}.unpack-",
                                        dir=dest if existing else dest.parent))
        except OSError as e:
            raise BundleError(source, f"cannot write in {dest if existing else dest.parent}: {e.strerror or e}") from None
        try:
            _extract(zf, files, manifest, tmp, source, limits)
            _check_content(tmp, manifest, source, registry)
            names = sorted(i.filename for i in files)
            if existing:
                plan = _plan_into(dest, tmp, names, source)
                for src, target in plan:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(src, target)
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                mask = os.umask(0)
                os.umask(mask)
                os.chmod(tmp, 0o777 & ~mask)
                os.rename(tmp, dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            for p in reversed(made):
                try:
                    p.rmdir()
                except OSError:
                    pass
            raise
    written = [dest.joinpath(*i.filename.split("/")) for i in files]
    return Unpacked(dest, dest / manifest["graph"], manifest, written)


__all__ = ["Unpacked", "inspect", "unpack"]
