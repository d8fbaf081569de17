"""Hidden working folders inside a batch's output folder, held by a file lock while a process uses them,
so that a later run removes only those whose processes are gone (killed, crashed)."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import tempfile
from pathlib import Path


def _host() -> str:
    """This host's name for working folder names: letters, digits and ``.`` kept; a name over 40
    characters is cut to 31 plus ``_`` and 8 hex digits of its hash (pods ``...-pool-0`` and ``-1`` differ)."""
    raw = socket.gethostname()
    name = re.sub(r"[^A-Za-z0-9.]", "_", raw)
    return name if len(name) <= 40 else f"{name[:31]}_{hashlib.sha256(raw.encode()).hexdigest()[:8]}"


#: hidden working folders: ``.a4mer-<tmp|part>-<pid>@<host>-<label>-<random>`` (pid: for people only)
_PRIVATE = re.compile(r"^\.a4mer-(?:tmp|part)-(\d+)@([A-Za-z0-9._]*)-")
#: the lock file of a working folder: held (shared) by every process that uses the folder
LOCK_NAME = ".a4mer-lock"
#: working folders this process holds: resolved path -> the lock file's descriptor
_HELD: dict[str, int] = {}
try:
    import fcntl
except ImportError:  # Windows: folders are not locked, and none is ever removed as dead
    fcntl = None


def private_dir(parent: Path, kind: str, label: str = "") -> Path:
    """A new hidden working folder in ``parent``, in use (its lock file held) until :func:`release_dir`.
    Its name carries this host (and, for people, the process id), so that :func:`remove_dead_dirs` of a
    later run can remove it if its processes are killed."""
    d = Path(tempfile.mkdtemp(prefix=f".a4mer-{kind}-{os.getpid()}@{_host()}-{label}-", dir=parent))
    try:
        hold_dir(d, create=True)
    except OSError:  # no room for its lock file: no folder left that no run would ever remove
        shutil.rmtree(d, ignore_errors=True)
        raise
    return d


def hold_dir(d: Path, create: bool = False) -> int | None:
    """Take a shared lock on ``d``'s lock file (made, and marked with who made it, when ``create``), so
    that no :func:`remove_dead_dirs` removes ``d`` while this process (or a child given the descriptor)
    lives. The batch's worker holds the folder it writes into this way, so a worker left running by a
    killed batch keeps it. Returns the descriptor, or None (no lock file; no fcntl)."""
    if fcntl is None:
        return None
    key = str(Path(d).resolve())
    if key in _HELD:
        return _HELD[key]
    try:
        fd = os.open(Path(d) / LOCK_NAME, os.O_RDWR | (os.O_CREAT if create else 0), 0o644)
    except OSError:
        if create:
            raise
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)  # waits while a remover is looking at it
    except OSError:  # a file system without locks (some network shares): the folder is not locked
        os.close(fd)
        return None
    if create:  # marked after locking: a remover that got in between sees an empty file and keeps the folder
        os.write(fd, f"{os.getpid()}@{socket.gethostname()}\n".encode())
    _HELD[key] = fd
    return fd


def release_dir(d: Path) -> None:
    """Remove working folder ``d`` and release its lock (the lock file goes last, after the lock)."""
    fd = _HELD.pop(str(Path(d).resolve()), None)
    if fd is not None:
        _empty(Path(d))
        os.close(fd)
    shutil.rmtree(d, ignore_errors=True)


def let_go(d: Path) -> None:
    """Release this process's hold of ``d`` (:func:`hold_dir`), leaving the folder as it is."""
    fd = _HELD.pop(str(Path(d).resolve()), None)
    if fd is not None:
        os.close(fd)


def _empty(d: Path) -> None:
    """Remove everything in ``d`` but its lock file (an open file removed on NFS would stay as .nfsXXXX)."""
    for f in d.iterdir() if d.is_dir() else ():
        if f.name == LOCK_NAME:
            continue
        if f.is_dir() and not f.is_symlink():
            shutil.rmtree(f, ignore_errors=True)
        else:
            f.unlink(missing_ok=True)


def remove_dead_dirs(parent: Path) -> list[str]:
    """Remove the hidden working folders in ``parent`` that no process uses any more (killed by SIGKILL,
    a crash, a power cut): those made on this host whose lock file nobody holds (an exclusive lock can be
    taken). The lock, not the process id, decides, so a run in another pid namespace (a container) is
    seen alive; folders of other hosts (flock may not reach across hosts on a shared file system), folders
    without a lock file (older versions) and every folder where fcntl is missing are left alone. Returns
    the names removed."""
    gone: list[str] = []
    if fcntl is None:
        return gone
    for d in sorted(parent.glob(".a4mer-*")):
        m = _PRIVATE.match(d.name)
        if not (m and m.group(2) == _host() and d.is_dir()) or str(d.resolve()) in _HELD:
            continue
        try:
            fd = os.open(d / LOCK_NAME, os.O_RDWR)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(fd).st_size == 0:  # its maker is between making and locking it
                continue
            _empty(d)
        except OSError:  # held: in use
            continue
        finally:
            os.close(fd)
        shutil.rmtree(d, ignore_errors=True)
        gone.append(d.name)
    return gone
