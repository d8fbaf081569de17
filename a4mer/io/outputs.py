"""Output files: checked before any work starts, written whole or not at all (numpy only).

Every command that writes a file names it with :func:`check_output` first, so a typo, a folder in
the way or the input itself given as the output is one clear error before minutes of computing,
and the user's input is never overwritten.
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import stat
import struct
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ..errors import A4merError

#: bytes a file name may hold on the usual file systems (ext4, APFS, NTFS)
MAX_NAME_BYTES = 255


def check_output(out: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (), suffixes: Iterable[str] = (),
                 companions: Iterable[str | os.PathLike] = (), replace: bool | Callable[[Path], bool] = True) -> Path:
    """``out`` checked for a file about to be written: one of ``suffixes`` (when given), none of
    ``inputs``, not a folder, in an existing writable folder; ``companions`` (files written beside it,
    e.g. a quality sidecar) neither folders nor inputs. ``replace``: whether an existing ``out`` may be
    replaced (False, or a test of the file: a name the command chose itself replaces only a file of its
    own kind, never e.g. the user's ``walk.bvh`` beside ``converted/walk.npz``). Returns ``Path(out)``;
    :class:`A4merError` naming the path and the problem."""
    if not str(out).strip():
        raise A4merError("the output path is empty: give an output file")
    out = Path(out)
    suffixes = tuple(s.lower() for s in suffixes)
    if suffixes and not any(out.name.lower().endswith(s) for s in suffixes):
        raise A4merError(f"{out}: the output must be a {' or '.join(suffixes)} file")
    for p in (out, *map(Path, companions)):
        if len(os.fsencode(p.name)) > MAX_NAME_BYTES:
            raise A4merError(f"{p.name[:40]}...: the file name is {len(os.fsencode(p.name))} bytes long, over the "
                             f"{MAX_NAME_BYTES} a file system allows; choose a shorter output name")
    same = inputs if isinstance(inputs, SameFiles) else SameFiles(inputs)
    for p in (out, *map(Path, companions)):
        src = same.find(p) if p.exists() else None
        if src is not None:
            what = "" if p == out else f" (written beside {out.name})"
            raise A4merError(f"{p}{what}: refusing to overwrite the input {src}; choose another output")
    if out.is_file() and not (replace(out) if callable(replace) else replace):
        raise A4merError(f"{out}: exists already, and the command chose this name itself: give -o {out} to "
                         "replace it, or -o another name")
    folder = out.resolve().parent
    if not folder.is_dir():
        raise A4merError(f"{out}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise A4merError(f"{out}: the folder {folder} is not writable")
    for p in (out, *map(Path, companions)):
        if p.is_dir():
            raise A4merError(f"{p}: is a folder; choose another output")
    return out


class SameFiles:
    """The files of ``paths`` by identity (device, inode), to test many outputs against many inputs in
    linear time (links, ``..`` and symbolic links to an input are the input)."""

    def __init__(self, paths: Iterable[str | os.PathLike]):
        self.ids: dict[tuple[int, int], Path] = {}
        for p in map(Path, paths):
            try:
                st = p.stat()
            except OSError:  # not there (yet): nothing to overwrite
                continue
            self.ids.setdefault((st.st_dev, st.st_ino), p)

    def find(self, path: str | os.PathLike) -> Path | None:
        """The input ``path`` is, or None."""
        try:
            st = Path(path).stat()
        except OSError:
            return None
        return self.ids.get((st.st_dev, st.st_ino))


@functools.lru_cache(maxsize=1)
def file_mode() -> int:
    """Permissions of a new file under this process's umask (0644 under the usual 022)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def check_folder(out: str | os.PathLike, option: str = "-o") -> None:
    """:class:`A4merError` naming ``option`` when files could not be written into the folder ``out``
    (made later, only when there is something to write): a file on its path, no write permission."""
    out = Path(out)
    first = next(p for p in (out, *out.parents) if p.exists() or p == p.parent)
    if not first.is_dir():
        raise A4merError(f"{option} {out}: cannot create the folder ({first} is a file)")
    if not os.access(first, os.W_OK):
        what = "is not writable" if first == out else f"cannot be made: {first} is not writable"
        raise A4merError(f"{option} {out}: the folder {what}")


def a4mer_json(*keys: str, without: tuple[str, ...] = ()) -> Callable[[Path], bool]:
    """A test for :func:`check_output`'s ``replace``: whether a file is a JSON object holding ``keys`` and none
    of ``without`` (a segments or labels file a4mer wrote, which a new run of the same command may replace;
    a labels file holds a segments file's keys too)."""
    def test(path: Path) -> bool:
        try:
            if path.stat().st_size > 256 * 2 ** 20:
                return False
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return isinstance(data, dict) and all(k in data for k in keys) and not any(k in data for k in without)
    return test


def npz_within(*keys: str, required: tuple[str, ...] = ()) -> Callable[[Path], bool]:
    """A test for :func:`check_output`'s ``replace``: whether a file is an npz holding only ``keys``, and every
    one of ``required`` (one a4mer wrote, e.g. by an earlier ``convert``; a user's AMASS file, with ``dmpls``
    or with one frame-rate key, is not)."""
    def test(path: Path) -> bool:
        import zipfile
        try:
            with zipfile.ZipFile(path) as z:
                names = {n[:-4] if n.endswith(".npy") else n for n in z.namelist()}
        except (OSError, zipfile.BadZipFile):
            return False
        return bool(names) and set(required) <= names <= set(keys)
    return test


def write_atomic(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """``write(tmp)`` to a temporary file beside ``path``, then renamed into place: the file is whole or
    absent, whatever ``write`` raises. :class:`A4merError` naming the path when it cannot be written."""
    path = Path(path)
    try:  # a name of its own: never a file of the user's, short beside a 255-byte target, in sight if left
        # 60 bytes, whole characters the file system's encoding can write (an ASCII one, under a C locale
        # without UTF-8 mode, cannot write the "ä" of a name given as bytes on the command line)
        head = os.fsencode(path.name)[:60].decode(sys.getfilesystemencoding(), "ignore")
        fd, name = tempfile.mkstemp(prefix=head + ".", suffix=".a4mer.part", dir=path.parent)
        os.close(fd)
    except OSError as e:
        raise A4merError(f"{path}: cannot write ({e.strerror or e})") from None
    tmp = Path(name)
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDWR)
        try:
            os.fsync(fd)  # on disk before its name: a power cut never leaves an empty file under it
        finally:
            os.close(fd)
        # a writer may create 0600 files (safetensors does): the umask's mode, or the mode of the file replaced
        os.chmod(tmp, stat.S_IMODE(path.stat().st_mode) if path.is_file() else file_mode())
        os.replace(tmp, path)
    except OSError as e:
        raise A4merError(f"{path}: cannot write ({e.strerror or e})") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    return path


def write_safetensors_atomic(path: str | os.PathLike, save: Callable[[str], None]) -> Path:
    """``save(tmp)`` (a safetensors ``save_file``) to ``path``, whole or not at all, with the keys of its
    header sorted: safetensors writes its metadata in a random order, so the same tensors and metadata
    gave other bytes on every save (checksums, caches and LFS/DVC saw a new file each time)."""
    def write(tmp: Path) -> None:
        save(str(tmp))
        with open(tmp, "r+b") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            text = json.dumps(json.loads(f.read(n)), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
            if len(text) <= n:  # the same keys in another order: the same length (padded with spaces)
                f.seek(8)
                f.write(text + b" " * (n - len(text)))
    return write_atomic(path, write)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (:func:`write_atomic`)."""
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8", newline="\n"))


def write_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """The file ``np.savez(path, **arrays)`` writes, byte for byte, but closed when writing fails (a full
    disk: np.savez left its archive to the garbage collector, which printed a traceback after the
    error line) and never pickling an array (an object array is a ValueError: a4mer refuses to read
    pickles, so it writes none)."""
    with open(path, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for k, v in arrays.items():
            with zf.open(k + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(v), allow_pickle=False)


def save_npz_atomic(path: str | os.PathLike, **arrays: np.ndarray) -> Path:
    """``arrays`` as an npz file at ``path`` (:func:`write_npz`), whole or not at all (:func:`write_atomic`)."""
    return write_atomic(path, lambda tmp: write_npz(tmp, arrays))
