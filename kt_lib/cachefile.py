"""Atomic writes and validated reads for every file `kt_lib` writes itself (caches, checkpoints): a cache
file is ``MAGIC`` + a JSON header (kind, version, length, sha256) + the payload; a damaged one is reported in
one line and rebuilt; a write goes to a temp file renamed over the target, a failed one raises `WriteError`."""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import json
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from filelock import FileLock

MAGIC = b"KTCACHE\n"
CACHE_HINT = (
    "set KT_CACHE to a writable folder with free space (e.g. export KT_CACHE=/tmp/kt_cache)"
)
_CAUSES = {
    (errno.ENOSPC, errno.EDQUOT, errno.EFBIG): "the disk is full",
    (errno.EACCES, errno.EPERM, errno.EROFS): "the folder is read-only or not yours",
    (errno.ENOENT, errno.ENOTDIR, errno.EEXIST): "its folder is missing or not a folder",
}


class CacheInvalid(ValueError):
    """A cache file that must not be trusted; the message says why (one line)."""


class WriteError(OSError):
    """A file could not be written; the message names the file, the cause and what to do."""


def cache_dir() -> Path:
    """Where kt_lib caches what it computes (`KT_CACHE`, default ~/.cache/kt_lib), created if missing."""
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
    causes = [c for codes, c in _CAUSES.items() if err.errno in codes]
    cause = causes[0] if causes else err.strerror or str(err)
    return WriteError(f"cannot write {path}: {cause} [{err.__class__.__name__}]; {hint}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, hint: str = CACHE_HINT) -> Iterator[Path]:
    """Yield a temp path next to `path`; on success rename it over `path`, on any failure remove it.
    OSErrors become `WriteError` with `hint`; other exceptions (Ctrl-C) pass through."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        os.replace(tmp, path)
        for orphan in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
            try:
                os.kill(int(orphan.name[len(path.name) + 2 :].split("-", 1)[0]), 0)
            except ProcessLookupError:  # its writer was killed (SIGKILL, power loss)
                with contextlib.suppress(OSError):
                    orphan.unlink(missing_ok=True)
            except (ValueError, OSError, OverflowError):
                pass  # not a temp file of ours, or a live writer's
    except OSError as err:
        raise write_error(path, err, hint) from err
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def write_bytes(path: str | os.PathLike, data: bytes, hint: str = CACHE_HINT) -> Path:
    """Write `data` to `path` atomically and durably (fsync before the rename)."""
    with atomic_path(path, hint) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return Path(path)


def pack(payload: bytes, kind: str, version: int) -> bytes:
    sha256 = hashlib.sha256(payload).hexdigest()
    header = json.dumps(dict(kind=kind, version=version, length=len(payload), sha256=sha256))
    return MAGIC + len(header).to_bytes(4, "little") + header.encode() + payload


def read_cache(path: str | os.PathLike, kind: str, version: int) -> bytes:
    """The payload of a container written by `pack`, or `CacheInvalid` saying what is wrong."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise CacheInvalid(f"unreadable ({err.strerror or err})") from None
    if not data.startswith(MAGIC):
        raise CacheInvalid(
            "not a kt cache file (an older format or foreign bytes)" if data else "empty (0 bytes)"
        )
    start = len(MAGIC) + 4 + int.from_bytes(data[len(MAGIC) : len(MAGIC) + 4], "little")
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
    with contextlib.suppress(OSError):  # a read-only cache: the rebuild's write will say so
        path.unlink(missing_ok=True)


def claim(lock: Path):
    """Hold the lock file `lock` for a `with` block (`filelock`: a second process waits, then reads what the
    first computed; a dead holder's lock is released; an unwritable folder holds nothing)."""
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(lock, is_singleton=True).acquire()
    except OSError:
        return contextlib.nullcontext()


def load_or_build(path, kind: str, version: int, build: Callable, encode, decode):
    """`decode(payload)` of a valid cache at `path`; otherwise `build()`, stored with `encode` (a file that
    fails validation or decoding is reported in one line and rebuilt)."""
    path = Path(path)
    with claim(path.parent / ".locks" / path.name):
        if path.exists():
            try:
                return decode(read_cache(path, kind, version))
            except CacheInvalid as err:
                discard(path, str(err))
            except Exception as err:  # noqa: BLE001 - a payload that passed the checksum, undecodable
                discard(path, f"undecodable ({err.__class__.__name__}: {err})")
        value = build()
        write_bytes(path, pack(encode(value), kind, version))
    return value
