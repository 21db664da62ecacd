"""Atomic writes and validated reads for every file `kt_lib` writes itself (caches, checkpoints).

A cache file is never trusted: it is a small container, ``MAGIC`` + a JSON header (kind, format version,
payload length, sha256) + the payload, and `read_cache` checks all four. A file that is cut short, empty,
random or from another format version raises `CacheInvalid` with the reason; `load_or_build` reports that
in one line on stderr, rebuilds the file and carries on.

Writes go to a uniquely named temp file in the same folder and are renamed over the target (`os.replace`),
so a reader sees the old file or the new one, never half of one. Two processes that build the same file at
once build it once: the second waits on the first's lock (`claim`) and reads what it wrote. A failed write
(full disk, read-only folder, missing parent, Ctrl-C) removes its temp file and raises `WriteError`, whose
message says where and what to do.
"""

from __future__ import annotations

import errno
import glob
import hashlib
import json
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from filelock import FileLock

MAGIC = b"KTCACHE\n"
CACHE_HINT = (
    "set KT_CACHE to a writable folder with free space (e.g. export KT_CACHE=/tmp/kt_cache)"
)
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_NO_WRITE = {errno.EACCES, errno.EPERM, errno.EROFS}
_NO_DIR = {errno.ENOENT, errno.ENOTDIR, errno.EEXIST}


class CacheInvalid(ValueError):
    """A cache file that must not be trusted; the message says why (one line)."""


class WriteError(OSError):
    """A file could not be written; the message names the file, the cause and what to do."""

    def __init__(self, message: str, errno_: int | None = None):
        super().__init__(message)
        self.errno = errno_  # the message stays its str (no strerror is set)


def cache_dir() -> Path:
    """Where kt_lib caches what it computes: world pixels, world models, run rows (`KT_CACHE` overrides
    ~/.cache/kt_lib). Created with its parents; a folder that cannot be created raises `WriteError`."""
    path = Path(os.environ.get("KT_CACHE", Path.home() / ".cache" / "kt_lib"))
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise write_error(path, err, f"the cache folder comes from KT_CACHE; {CACHE_HINT}") from err
    return path


def write_error(path: str | os.PathLike, err: OSError, hint: str) -> WriteError:
    """Translate an OSError from writing `path` into a one-line `WriteError` with `hint`."""
    if isinstance(err, WriteError):
        return err
    if err.errno in _NO_SPACE:
        cause = "the disk is full"
    elif err.errno in _NO_WRITE:
        cause = "the folder is read-only or not yours"
    elif err.errno in _NO_DIR:
        cause = "its folder is missing or not a folder"
    else:
        cause = err.strerror or str(err)
    return WriteError(f"cannot write {path}: {cause} [{err.__class__.__name__}]; {hint}", err.errno)


@contextmanager
def atomic_path(path: str | os.PathLike, hint: str = CACHE_HINT) -> Iterator[Path]:
    """Yield a temp path next to `path`; on success rename it over `path`, on any failure remove it.

    OSErrors (also from creating the folder) become `WriteError` with `hint`; other exceptions (e.g.
    KeyboardInterrupt) pass through unchanged, after the temp file is removed."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        os.replace(tmp, path)
        _sweep_orphans(path)
    except OSError as err:
        raise write_error(path, err, hint) from err
    finally:
        with suppress(OSError):
            tmp.unlink(missing_ok=True)


def _sweep_orphans(path: Path) -> None:
    """Remove temp files of `path` left by writers that were killed (SIGKILL, power loss)."""
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        try:
            pid = int(tmp.name[len(path.name) + 2 :].split("-", 1)[0])
            if pid != os.getpid():
                os.kill(pid, 0)  # raises when no such process exists
        except ProcessLookupError:
            with suppress(OSError):
                tmp.unlink(missing_ok=True)
        except (ValueError, OSError, OverflowError):
            pass  # not ours, or a live writer: leave it


def write_bytes(path: str | os.PathLike, data: bytes, hint: str = CACHE_HINT) -> Path:
    """Write `data` to `path` atomically and durably (fsync before the rename)."""
    with atomic_path(path, hint) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    return Path(path)


def pack(payload: bytes, kind: str, version: int) -> bytes:
    sha256 = hashlib.sha256(payload).hexdigest()
    header = json.dumps(
        dict(kind=kind, version=version, length=len(payload), sha256=sha256)
    ).encode()
    return MAGIC + len(header).to_bytes(4, "little") + header + payload


def read_cache(path: str | os.PathLike, kind: str, version: int) -> bytes:
    """The payload of a container written by `pack`, or `CacheInvalid` saying what is wrong."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise CacheInvalid(f"unreadable ({err.strerror or err})") from None
    if not data:
        raise CacheInvalid("empty (0 bytes)")
    if not data.startswith(MAGIC):
        raise CacheInvalid("not a kt cache file (an older format or foreign bytes)")
    size = int.from_bytes(data[len(MAGIC) : len(MAGIC) + 4], "little")
    start = len(MAGIC) + 4 + size
    try:
        header = json.loads(data[len(MAGIC) + 4 : start])
        length, digest = int(header["length"]), str(header["sha256"])
    except (ValueError, KeyError, TypeError) as err:
        raise CacheInvalid(f"its header is damaged ({err.__class__.__name__})") from None
    if header.get("kind") != kind:
        raise CacheInvalid(f"holds {header.get('kind')!r}, expected {kind!r}")
    if header.get("version") != version:
        raise CacheInvalid(f"format version {header.get('version')}, this kt_lib reads {version}")
    payload = data[start:]
    if len(payload) != length:
        raise CacheInvalid(f"cut short or padded ({len(payload)} of {length} payload bytes)")
    if hashlib.sha256(payload).hexdigest() != digest:
        raise CacheInvalid("its checksum does not match (damaged bytes)")
    return payload


def report(message: str) -> None:
    """One line on stderr, the way every cache problem is reported."""
    print(f"kt: {message}", file=sys.stderr, flush=True)


def discard(path: Path, reason: str, what: str = "rebuilding it") -> None:
    report(f"cache {path} is {reason}; {what}")
    with suppress(OSError):  # a read-only cache: the rebuild's write will say so
        path.unlink(missing_ok=True)


@contextmanager
def claim(lock: Path) -> Iterator[bool]:
    """Hold the lock file `lock` until the block ends, waiting while another process holds it: what a
    process computing a shared cache entry holds, so that a second one asking at the same time waits and
    then reads the entry instead of computing it again. `filelock` (flock on Unix, msvcrt on Windows; the
    kernel releases it when a holder dies; the file goes on release); a nested claim of a lock this process
    holds does not wait. Yields whether it holds the lock: False where the folder cannot be written."""
    held = FileLock(lock, is_singleton=True)
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        held.acquire()
    except OSError:
        yield False
        return
    try:
        yield True
    finally:
        held.release()


def load_or_build(
    path: str | os.PathLike,
    kind: str,
    version: int,
    build: Callable[[], object],
    encode: Callable[[object], bytes],
    decode: Callable[[bytes], object],
    hint: str = CACHE_HINT,
):
    """`decode(payload)` of a valid cache at `path`; otherwise `build()`, stored with `encode`.

    A file that fails validation, or whose payload fails to decode, is reported in one line and rebuilt."""
    path = Path(path)
    with claim(
        path.parent / ".locks" / path.name
    ):  # another process building it: wait, then read it
        if path.exists():
            try:
                return decode(read_cache(path, kind, version))
            except CacheInvalid as err:
                discard(path, str(err))
            except Exception as err:  # noqa: BLE001 - a payload that passed the checksum, undecodable
                discard(path, f"undecodable ({err.__class__.__name__}: {err})")
        value = build()
        write_bytes(path, pack(encode(value), kind, version), hint)
    return value
