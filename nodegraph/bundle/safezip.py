"""Reading a zip file as untrusted input: the checks a bundle passes before any byte of it is
written, and a member reader that counts real bytes.

The central directory is checked whole first (``check_directory``): every name relative, inside
the target (no ``..``, no ``/x``, ``C:x`` or ``\\\\server``, no backslash, no NUL or control
character, no empty or ``.`` part), each name at most once even after case folding and Unicode
normalisation (two names one file system would make one file), a regular file or a folder and
nothing else (a symbolic link, device, FIFO or socket is refused by its Unix mode in the external
attributes), not encrypted, stored or deflated, and within the ``Limits`` (member count, member
size, total size, compression ratio of large members). Then ``read_member`` streams a member and
stops as soon as the bytes it really produces pass its declared size, a limit, or the ratio: the
header sizes are never trusted alone.
"""
from __future__ import annotations

import hashlib
import os
import stat
import unicodedata
import zipfile
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator

from .manifest import BundleError

GiB = 1 << 30
MiB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """What one bundle may hold. ``max_ratio`` applies to members larger than ``ratio_from``
    bytes (a small file of zeros compresses well and harms nobody)."""

    max_members: int = 100_000
    max_member_bytes: int = 2 * GiB
    max_total_bytes: int = 2 * GiB
    max_ratio: float = 200.0
    ratio_from: int = 1 * MiB

    def describe(self) -> str:
        return (f"at most {self.max_members} members, {self.max_member_bytes} bytes per member and "
                f"{self.max_total_bytes} in all, compression at most {self.max_ratio:g}:1 for members over "
                f"{self.ratio_from} bytes")


_TYPES = {stat.S_IFLNK: "a symbolic link", stat.S_IFCHR: "a character device file", stat.S_IFBLK: "a block device file",
          stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFSOCK: "a socket"}


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a member written under the target folder, or None."""
    if not name:
        return "is empty"
    if "\0" in name:
        return "contains a NUL character"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "contains a control character"
    slashed = name.replace("\\", "/")
    if slashed.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "is an absolute name; members must be relative to the target folder"
    if ".." in slashed.split("/"):
        return "goes up with '..' (path traversal); members must stay inside the target folder"
    if "\\" in name:
        return "contains a backslash (zip names use '/'; a backslash can be a folder separator elsewhere)"
    body = name[:-1] if name.endswith("/") else name
    parts = body.split("/")
    if any(p in ("", ".") for p in parts):
        return "has an empty or '.' part"
    if any(len(os.fsencode(p)) > 255 for p in parts):
        return "has a part longer than 255 bytes"
    if len(os.fsencode(name)) > 3072:
        return "is longer than 3072 bytes"
    return None


def fold(name: str) -> str:
    """What two names must differ in to be two files everywhere (case and Unicode form do not)."""
    return "/".join(unicodedata.normalize("NFC", p).casefold() for p in name.rstrip("/").split("/"))


def kind_problem(info: zipfile.ZipInfo) -> str | None:
    """Why the member is not a plain file or folder (its Unix mode), or None."""
    mode = (info.external_attr >> 16) & 0xFFFF
    fmt = stat.S_IFMT(mode)
    if fmt in _TYPES:
        return f"is {_TYPES[fmt]} (Unix mode {oct(mode)}); a bundle holds only regular files"
    if fmt == stat.S_IFDIR and not info.filename.endswith("/"):
        return "is marked as a folder but its name does not end with '/'"
    if fmt not in (0, stat.S_IFREG, stat.S_IFDIR):
        return f"has an unknown file type (Unix mode {oct(mode)}); a bundle holds only regular files"
    return None


def check_directory(infos: list[zipfile.ZipInfo], source: str, limits: Limits) -> list[zipfile.ZipInfo]:
    """The file members (folder entries dropped) after every check of the module docstring, or
    ``BundleError`` naming the first member at fault and the rule."""
    if len(infos) > limits.max_members:
        raise BundleError(source, f"it has {len(infos)} members; a bundle may have at most {limits.max_members}")
    seen: dict[str, str] = {}
    files: list[zipfile.ZipInfo] = []
    folders: set[str] = set()
    total = 0
    for info in infos:
        name = info.orig_filename if "\0" in info.orig_filename else info.filename
        why = name_problem(name) or kind_problem(info)
        if why is None and info.flag_bits & 0x1:
            why = "is encrypted; bundles are never encrypted"
        if why is None and info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            why = f"uses compression method {info.compress_type}; bundles use only stored or deflated members"
        if why is not None:
            raise BundleError(source, f"member {name!r} {why}")
        key = fold(name)
        if key in seen:
            same = seen[key] == name
            raise BundleError(source, f"member {name!r} is a duplicate name" + (
                "" if same else f" of {seen[key]!r} (names that differ only in case or Unicode form are one file "
                                "on many systems)"))
        seen[key] = name
        if name.endswith("/"):
            folders.add(key)
            continue
        if info.file_size > limits.max_member_bytes:
            raise BundleError(source, f"member {name!r} is {info.file_size} bytes; the limit is "
                                      f"{limits.max_member_bytes} bytes per member")
        total += info.file_size
        if total > limits.max_total_bytes:
            raise BundleError(source, f"its members hold more than {limits.max_total_bytes} bytes in all "
                                      f"(the limit) at member {name!r}")
        if info.file_size > limits.ratio_from and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise BundleError(source, f"member {name!r} is over-compressed ({info.file_size} bytes from "
                                      f"{info.compress_size}, more than {limits.max_ratio:g}:1): refused as a zip bomb")
        files.append(info)
    parents: set[str] = set()
    for info in files:
        parts = fold(info.filename).split("/")
        parents.update("/".join(parts[:k]) for k in range(1, len(parts)))
    for info in files:
        if fold(info.filename) in parents:
            raise BundleError(source, f"member {info.filename!r} is both a file and a folder of other members")
    return files


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, source: str, limits: Limits,
                sink: Callable[[bytes], object] | None = None, chunk: int = MiB) -> tuple[str, int]:
    """Stream one member into ``sink`` (or nowhere) and return (sha256, bytes). Refused when the
    bytes really produced pass the declared size, the member limit, or the compression ratio, or
    when the CRC does not match (a damaged or altered member)."""
    h = hashlib.sha256()
    n = 0
    try:
        with zf.open(info) as f:
            for block in _blocks(f, chunk):
                n += len(block)
                if n > info.file_size or n > limits.max_member_bytes:
                    raise BundleError(source, f"member {info.filename!r} holds more bytes than its header says "
                                              f"({info.file_size}) or the limit allows")
                if n > limits.ratio_from and n > limits.max_ratio * max(info.compress_size, 1):
                    raise BundleError(source, f"member {info.filename!r} expands past {limits.max_ratio:g}:1 "
                                              f"({n} bytes from {info.compress_size}): refused as a zip bomb")
                h.update(block)
                if sink is not None:
                    sink(block)
    except zipfile.BadZipFile as e:
        raise BundleError(source, f"member {info.filename!r} is damaged: {e}") from None
    except (OSError, EOFError, ValueError) as e:  # zlib.error is neither; caught below
        raise BundleError(source, f"member {info.filename!r} cannot be read: {e}") from None
    except Exception as e:
        if type(e).__module__ == "zlib":
            raise BundleError(source, f"member {info.filename!r} is damaged (bad compressed data: {e})") from None
        raise
    if n != info.file_size:
        raise BundleError(source, f"member {info.filename!r} holds {n} bytes, its header says {info.file_size}")
    return h.hexdigest(), n


def _blocks(f: BinaryIO, chunk: int) -> Iterator[bytes]:
    while True:
        block = f.read(chunk)
        if not block:
            return
        yield block


def open_zip(path: str | os.PathLike, source: str) -> zipfile.ZipFile:
    """The zip file at ``path`` (a regular file), or ``BundleError`` saying why not."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise BundleError(source, "no such file") from None
    except OSError as e:
        raise BundleError(source, f"cannot read it ({e.strerror or e})") from None
    if not stat.S_ISREG(st.st_mode):
        raise BundleError(source, "not a regular file")
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as e:
        raise BundleError(source, f"not a bundle: not a zip file ({e})") from None
    except (OSError, ValueError, EOFError) as e:
        raise BundleError(source, f"not a bundle: the zip directory cannot be read ({e})") from None


__all__ = ["Limits", "check_directory", "read_member", "open_zip", "name_problem", "kind_problem", "fold"]
