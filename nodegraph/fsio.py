"""The one way nodegraph writes a file: atomically, durably, never through a link.

Every writer in the project (graph files, the editor's autosave, the CLI's report, model
config, cache blobs, and every output node) goes through this module::

    write_bytes(path, data)                  # the whole content at once
    with open_atomic(path) as f:             # a binary file object to stream into
        f.write(...)
    with atomic_path(path) as tmp:           # a fresh path with the same name, for libraries
        av.open(str(tmp), "w") ...           # that open the file themselves (PyAV, soundfile, OTIO)

How: the new content goes to a temp file created exclusively (``O_CREAT|O_EXCL|O_NOFOLLOW``, a
random name) in the target's own folder, or to a private folder made by ``mkdtemp`` there; the
file is fsync'ed, renamed over the final name, and the folder is fsync'ed. A crash at any moment
leaves the old file or the new one, never a mix; on any error the temp file is removed. Nothing
is ever written through a symbolic link or into a FIFO planted at a predictable name, and two
writers of the same name never share a temp file (the last rename wins, whole).

Refused with a :class:`WriteFailed` naming the file (never a raw errno): a final name that is a
folder, a link, a FIFO or other non-regular file; a name over 255 bytes. :func:`check_name` holds
the rules for file names inside the output folder (relative, no ``..``, no NUL, each part at most
255 bytes), shared by validation, the ``Text(output_file=...)`` param type and
``Context.output_path``.
"""
from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import stat
import tempfile
import unicodedata
from pathlib import Path
from typing import Any, BinaryIO, Iterator

from .errors import NodegraphError, UnsafePath

#: the longest file or folder name (one path component) common file systems take, in bytes
NAME_MAX = 255
#: the longest relative output path accepted, in bytes (Linux's PATH_MAX less room for the folder)
PATH_MAX = 3072

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_BINARY = getattr(os, "O_BINARY", 0)
_DIR_FD = os.open in os.supports_dir_fd and os.rename in os.supports_dir_fd


class WriteFailed(NodegraphError, OSError):
    """A file that could not be written; the message names the file and says why in words.

    It is an ``OSError`` too, so code that handles file-system errors still catches it."""

    def __init__(self, path: str | os.PathLike, reason: str, param: str | None = None):
        self.path, self.reason, self.param = str(path), reason, param
        Exception.__init__(self, str(self))

    def __str__(self) -> str:
        folder, name = os.path.split(self.path)
        if len(name) > 80:  # a 300-character name would drown the reason
            name = f"{name[:60]}...({len(name)} characters)"
        head = f"param {self.param!r}: " if self.param else ""
        return f"{head}cannot write {os.path.join(folder, name)}: {self.reason}"


_REASONS = {
    errno.ENAMETOOLONG: "the name is too long for the file system",
    errno.EISDIR: "a folder has that name",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "the operation is not permitted",
    errno.EROFS: "the file system is read-only",
    errno.ELOOP: "the path goes through a symbolic link",
    errno.EEXIST: "a file appeared under the temporary name",
    errno.ENOENT: "its folder disappeared while writing",
    errno.EXDEV: "the temporary file ended up on another file system",
}


def reason_of(e: OSError) -> str:
    """An OSError in words (no errno numbers)."""
    return _REASONS.get(e.errno or 0, e.strerror or type(e).__name__)


# -- names inside the output folder ------------------------------------------------------------

def check_name(name: object, what: str = "output file name") -> tuple[str, ...]:
    """The parts of a relative file name that stays inside its folder, or ``UnsafePath`` saying
    why not: empty, a NUL byte, absolute (``/x``, ``C:x``, ``\\\\server``), a ``..`` part, a part
    over 255 bytes, the whole over 3072 bytes. Backslashes count as separators."""
    if not isinstance(name, str) or not name.strip():
        raise UnsafePath(f"{what} {name!r} is empty")
    if "\0" in name:
        raise UnsafePath(f"{what} {_short(name)} contains a NUL character")
    norm = name.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        raise UnsafePath(f"{what} {_short(name)} is absolute; give a name relative to the output folder")
    parts = tuple(p for p in norm.split("/") if p not in ("", "."))
    if not parts:
        raise UnsafePath(f"{what} {_short(name)} names no file")
    if ".." in parts:
        raise UnsafePath(f"{what} {_short(name)} goes up with '..'; it must stay inside the output folder")
    for p in parts:
        size = len(os.fsencode(p))
        if size > NAME_MAX:
            raise UnsafePath(f"{what} {_short(name)} has a part of {size} bytes; "
                             f"file systems take at most {NAME_MAX} bytes per name")
    size = len(os.fsencode(norm))
    if size > PATH_MAX:
        raise UnsafePath(f"{what} {_short(name)} is {size} bytes long; at most {PATH_MAX} are accepted")
    return parts


def name_key(parts: tuple[str, ...]) -> str:
    """What two output names must differ in to be two files on every system: case and Unicode
    normalisation do not count (macOS and Windows fold them)."""
    return "/".join(unicodedata.normalize("NFC", p).casefold() for p in parts)


def _short(name: str) -> str:
    text = repr(name)
    return text if len(text) <= 80 else text[:60] + f"...' ({len(name)} characters)"


# -- the writer ------------------------------------------------------------------------------------

def write_bytes(path: str | os.PathLike, data: bytes | bytearray | memoryview, *, sync: bool = True) -> Path:
    """Replace ``path`` with ``data`` atomically (see the module docstring). Returns the path."""
    with open_atomic(path, sync=sync) as f:
        f.write(data)
    return Path(path)


def write_json(path: str | os.PathLike, data: Any, *, indent: int = 2, sync: bool = True) -> Path:
    """``data`` as sorted, indented JSON (a final newline), written by ``write_bytes``."""
    import json

    return write_bytes(path, (json.dumps(data, indent=indent, sort_keys=True) + "\n").encode("utf-8"), sync=sync)


@contextlib.contextmanager
def open_atomic(path: str | os.PathLike, *, sync: bool = True) -> Iterator[BinaryIO]:
    """A binary file object whose content replaces ``path`` when the block ends without error.
    On an error (or an exception raised in the block) ``path`` is untouched and the temp file gone.
    ``sync=False`` skips the fsyncs (for data that is verified when read back, like cache blobs)."""
    target = Path(path)
    with _Folder(target) as folder:
        mode = folder.check_target()
        tmp, fd = folder.create_temp()
        try:
            with os.fdopen(fd, "wb") as f:
                if mode is not None and hasattr(os, "fchmod"):
                    os.fchmod(f.fileno(), mode)
                yield f
                f.flush()
                if sync:
                    os.fsync(f.fileno())
            folder.commit(tmp, sync)
        except BaseException as e:
            folder.unlink(tmp)
            _raise_as_write_failed(e, target)
            raise


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, sync: bool = True) -> Iterator[Path]:
    """A fresh path with ``path``'s own name, inside a private folder made with ``mkdtemp`` next to
    it, for libraries that open the file themselves and pick the format by its extension. When the
    block ends without error the file there replaces ``path``; on an error both are removed."""
    target = Path(path)
    with _Folder(target) as folder:
        mode = folder.check_target()
        try:
            private = Path(tempfile.mkdtemp(prefix=f".{_stem_for_temp(target.name, 40)}.", suffix=".tmp",
                                            dir=folder.path))
        except OSError as e:
            raise WriteFailed(target, reason_of(e)) from None
        made = private / target.name
        try:
            yield made
            try:
                st = os.lstat(made)
            except FileNotFoundError:
                raise WriteFailed(target, "the writer produced no file") from None
            if not stat.S_ISREG(st.st_mode):
                raise WriteFailed(target, "the writer produced something other than a regular file")
            if mode is not None or sync:
                fd = os.open(made, os.O_RDONLY | _O_NOFOLLOW | _O_CLOEXEC)
                try:
                    if mode is not None and hasattr(os, "fchmod"):
                        os.fchmod(fd, mode)
                    if sync:
                        os.fsync(fd)
                finally:
                    os.close(fd)
            folder.commit(os.path.relpath(made, folder.path), sync)
        except BaseException as e:
            _raise_as_write_failed(e, target)
            raise
        finally:
            shutil.rmtree(private, ignore_errors=True)


def refusal(st: os.stat_result) -> str | None:
    """Why the writer will not replace what ``lstat`` found at a final name (None: a regular file)."""
    if stat.S_ISDIR(st.st_mode):
        return "a folder has that name"
    if stat.S_ISLNK(st.st_mode):
        return "it is a symbolic link; nodegraph neither writes through nor replaces links"
    if not stat.S_ISREG(st.st_mode):
        return "it exists and is not a regular file (a FIFO, socket or device)"
    return None


def _raise_as_write_failed(e: BaseException, target: Path) -> None:
    if isinstance(e, OSError) and not isinstance(e, (WriteFailed, NodegraphError)):
        raise WriteFailed(target, reason_of(e)) from None


def _stem_for_temp(name: str, limit: int) -> str:
    """At most ``limit`` bytes of ``name`` (whole characters), for readable temp names."""
    out = name
    while len(os.fsencode(out)) > limit:
        out = out[:-1]
    return out


class _Folder:
    """The target's folder, opened once: every step is relative to that descriptor, so a folder
    swapped for a link half-way cannot redirect the write."""

    def __init__(self, target: Path):
        self.target = target
        self.name = target.name
        self.path = target.parent if str(target.parent) else Path(".")
        self.fd: int | None = None

    def __enter__(self) -> "_Folder":
        if not self.name or self.name in (".", ".."):
            raise WriteFailed(self.target, "that is not a file name")
        size = len(os.fsencode(self.name))
        if size > NAME_MAX:
            raise WriteFailed(self.target, f"the name is {size} bytes long; file systems take at most {NAME_MAX}")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            if _DIR_FD:
                self.fd = os.open(self.path, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
        except FileExistsError:
            raise WriteFailed(self.target, f"{self.path} is a file, not a folder") from None
        except OSError as e:
            raise WriteFailed(self.target, reason_of(e)) from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def _at(self, name: str) -> str:
        return name if self.fd is not None else str(self.path / name)

    def check_target(self) -> int | None:
        """Refuse a final name that is not a regular file; the permissions to keep, if it exists."""
        try:
            st = os.stat(self._at(self.name), dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        except OSError as e:
            raise WriteFailed(self.target, reason_of(e)) from None
        why = refusal(st)
        if why:
            raise WriteFailed(self.target, why)
        return stat.S_IMODE(st.st_mode)

    def create_temp(self) -> tuple[str, int]:
        stem = _stem_for_temp(self.name, NAME_MAX - 40)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC | _O_BINARY
        for _ in range(16):
            tmp = f".{stem}.{secrets.token_hex(8)}.tmp"
            try:
                return tmp, os.open(self._at(tmp), flags, 0o666, dir_fd=self.fd)
            except FileExistsError:
                continue
            except OSError as e:
                raise WriteFailed(self.target, reason_of(e)) from None
        raise WriteFailed(self.target, "could not create a temporary file with a fresh name")

    def commit(self, tmp: str, sync: bool) -> None:
        """Rename ``tmp`` (relative to this folder) over the final name, then fsync the folder."""
        self.check_target()  # a folder, link or FIFO that appeared meanwhile is refused here
        os.replace(self._at(tmp), self._at(self.name), src_dir_fd=self.fd, dst_dir_fd=self.fd)
        if sync:
            try:
                if self.fd is not None:
                    os.fsync(self.fd)
                else:
                    dfd = os.open(self.path, os.O_RDONLY)
                    try:
                        os.fsync(dfd)
                    finally:
                        os.close(dfd)
            except OSError:
                pass  # some file systems cannot fsync a folder; the file itself is synced

    def unlink(self, tmp: str) -> None:
        try:
            os.unlink(self._at(tmp), dir_fd=self.fd)
        except OSError:
            pass


# -- reading untrusted files -----------------------------------------------------------------------

class ReadRefused(ValueError):
    """A file not read: missing, a link, not a regular file (FIFO, device, folder) or too large.
    ``reason`` says why in words; ``missing`` is True when there is no such file."""

    def __init__(self, path: str | os.PathLike, reason: str, missing: bool = False):
        self.path, self.reason, self.missing = str(path), reason, missing
        super().__init__(f"{path}: {reason}")


def read_regular(path: str | os.PathLike, limit: int) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them: never through a symbolic
    link (the last part), never a FIFO, device or folder (opened without blocking and checked on
    the open file), and counted while read, so a file that grows is still cut off. Raises
    ``ReadRefused`` naming the file and the rule."""
    try:
        fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | _O_CLOEXEC | _O_BINARY)
    except FileNotFoundError:
        raise ReadRefused(path, "no such file", missing=True) from None
    except OSError as e:
        raise ReadRefused(path, "it is a symbolic link" if e.errno == errno.ELOOP else reason_of(e)) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ReadRefused(path, "not a regular file (a folder, FIFO or device)")
        if st.st_size > limit:
            raise ReadRefused(path, f"{st.st_size} bytes, more than the {limit} it may have")
        chunks, size = [], 0
        while chunk := os.read(fd, 1 << 20):
            size += len(chunk)
            if size > limit:
                raise ReadRefused(path, f"more than the {limit} bytes it may have")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


__all__ = ["NAME_MAX", "PATH_MAX", "ReadRefused", "WriteFailed", "atomic_path", "check_name", "name_key",
           "open_atomic", "read_regular", "reason_of", "write_bytes"]
