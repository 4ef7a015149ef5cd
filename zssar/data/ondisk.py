"""Arrays bigger than memory: read in row chunks, written once to an ``.npy`` file, mapped read-only.

A full NTU-60 skeleton array is about 10 GB (NTU-120: 20 GB). Readers write it once, chunk by
chunk, into an ``.npy`` file (:func:`write_npy`, plain writes: the page cache holds it, not the
process) and hand out a read-only memory map of it (:func:`open_npy`). Whoever reads every sample
of such an array goes through :func:`row_chunks`: after each chunk the pages it touched are given
back to the kernel (``madvise(MADV_DONTNEED)``; the data stays in the file and the page cache), so
a pass over 10 GB keeps one chunk resident rather than the whole file. For arrays in memory
:func:`row_chunks` only slices.
"""
from __future__ import annotations

import ctypes
import mmap
import os
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from numpy.lib import format as npy

from ..errors import InvalidData

CHUNK_BYTES = 256 * 2**20  # rows per chunk: as many as fit in this many bytes (at least one)


def chunk_rows(arr: np.ndarray, budget: int | None = None) -> int:
    """How many leading-axis rows of ``arr`` make one chunk of about ``budget`` bytes (default CHUNK_BYTES)."""
    row = arr.dtype.itemsize * int(np.prod(arr.shape[1:], dtype=np.int64))
    return max(1, (budget or CHUNK_BYTES) // max(row, 1))


def row_chunks(arr: np.ndarray, rows: int | None = None) -> Iterator[tuple[int, int, np.ndarray]]:
    """``(start, stop, arr[start:stop])`` over the leading axis, releasing mapped pages after each chunk.

    The chunk is a view: use it before asking for the next one (it stays valid afterwards, its pages
    are read again from the file when touched).
    """
    step = rows or chunk_rows(arr)
    for start in range(0, arr.shape[0], step):
        stop = min(start + step, arr.shape[0])
        chunk = arr[start:stop]
        yield start, stop, chunk
        release_pages(chunk)


def _read_only_mapping(arr: np.ndarray) -> bool:
    """True when ``arr`` lies in a read-only ``mmap`` (an ``np.memmap`` with mode ``'r'`` or a view of one)."""
    base = arr
    while base is not None:
        if isinstance(base, mmap.mmap):
            with memoryview(base) as view:
                return view.readonly
        base = getattr(base, "base", None)
    return False


def _libc_madvise():
    try:
        fn = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):  # no C library symbols (Windows): pages are left to the system
        return None
    fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    return fn


_MADVISE = _libc_madvise() if hasattr(mmap, "MADV_DONTNEED") else None


def release_pages(arr: np.ndarray) -> None:
    """Drop the resident pages under ``arr`` when it is a read-only file mapping (else do nothing).

    Only clean, file-backed pages are dropped (a read-only mapping has no others), so nothing is
    lost: touching them again reads them back from the page cache or the file.
    """
    if _MADVISE is None or arr.size == 0 or not _read_only_mapping(arr):
        return
    low = high = arr.__array_interface__["data"][0]
    for size, stride in zip(arr.shape, arr.strides):
        low, high = low + min(0, (size - 1) * stride), high + max(0, (size - 1) * stride)
    start = low - low % mmap.PAGESIZE  # the mapping itself starts on a page, so this stays inside it
    _MADVISE(start, high + arr.itemsize - start, mmap.MADV_DONTNEED)


def write_npy(path: Path, shape: tuple[int, ...], dtype, blocks: Iterable[np.ndarray]) -> Path:
    """Write an ``.npy`` file of ``shape`` from consecutive C-order ``blocks`` along axis 0.

    Writes to a temporary name and renames at the end, so ``path`` is never a partial file.
    """
    path, dtype = Path(path), np.dtype(dtype)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    expected = dtype.itemsize * int(np.prod(shape, dtype=np.int64))
    written = 0
    try:
        with open(tmp, "wb") as f:
            npy.write_array_header_2_0(f, {"descr": npy.dtype_to_descr(dtype), "fortran_order": False,
                                           "shape": tuple(int(s) for s in shape)})
            for block in blocks:
                block = np.ascontiguousarray(block, dtype=dtype)
                if block.size == 0:  # a chunk whose samples were all left out
                    continue
                f.write(block)
                written += block.nbytes
        if written != expected:
            raise RuntimeError(f"{path}: wrote {written} bytes of an array of {expected}; the blocks do not "
                               f"cover shape {shape}.")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def open_npy(path: Path, shape: tuple[int, ...] | None = None, dtype=None) -> np.memmap:
    """A read-only memory map of an ``.npy`` file, after checking its header and its length.

    Raises :class:`InvalidData` when the file is not an ``.npy`` array, holds another shape or
    dtype than asked, or is shorter or longer than its header says (a partial or damaged file).
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            version = npy.read_magic(f)
            read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            found_shape, fortran, found_dtype = read_header(f)
            offset = f.tell()
    except (ValueError, OSError, SyntaxError) as exc:
        raise InvalidData(f"{path}: not a readable .npy file ({exc}).") from None
    if fortran or found_dtype.hasobject:
        raise InvalidData(f"{path}: a Fortran-order or object array; expected a C-order numeric array.")
    if (shape is not None and tuple(found_shape) != tuple(shape)) or (dtype is not None and
                                                                       found_dtype != np.dtype(dtype)):
        raise InvalidData(f"{path}: holds {found_dtype} {tuple(found_shape)}, expected {np.dtype(dtype)} {shape}.")
    nbytes = found_dtype.itemsize * int(np.prod(found_shape, dtype=np.int64))
    size = path.stat().st_size
    if size != offset + nbytes:
        raise InvalidData(f"{path}: {size} bytes, but its header promises {offset + nbytes} "
                          f"({found_dtype} {tuple(found_shape)}); the file is partial or damaged.")
    if nbytes == 0:  # mmap cannot map zero bytes
        return np.zeros(found_shape, dtype=found_dtype)
    return np.memmap(path, dtype=found_dtype, mode="r", shape=tuple(found_shape), offset=offset)
