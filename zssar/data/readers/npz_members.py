"""The arrays of an ``.npz`` file, found where they lie inside the zip, without reading them.

``np.load(file, mmap_mode="r")`` maps plain ``.npy`` files but silently reads an ``.npz`` member
whole. A *stored* member (``np.savez``, what CTR-GCN writes) is the ``.npy`` bytes verbatim at a
fixed place in the file: the zip's local file header (30 bytes, then the member name and an extra
field, whose lengths that header gives) followed by the ``.npy`` header and the raw array. So it can
be memory-mapped there (:func:`map_member`). A *deflated* member (``np.savez_compressed``) cannot;
:func:`extract_member` decompresses it once, in chunks, into a plain ``.npy`` file that can be.

Stored members are not checked by zipfile when mapped; :meth:`Member.check_crc` lets a reader that
passes over the data anyway compare the zip's CRC-32, so a damaged file is reported rather than read.
"""
from __future__ import annotations

import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
from numpy.lib import format as npy

from ...errors import InvalidData
from ..ondisk import write_npy

_LOCAL_HEADER = struct.Struct("<4s5H3I2H")  # signature, version, flags, method, time, date, crc, sizes, lengths
_LOCAL_SIGNATURE = b"PK\x03\x04"
_COPY_BYTES = 64 * 2**20


@dataclass(frozen=True)
class Member:
    """One array of an ``.npz``: its shape and dtype, and where its bytes are (stored members)."""

    file: Path
    name: str  # the array's key, e.g. "x_train" (the zip member is name + ".npy")
    shape: tuple[int, ...]
    dtype: np.dtype
    compressed: bool
    crc: int  # CRC-32 of the whole member (the .npy header and the data), from the zip directory
    header: bytes  # the .npy header bytes (stored members; b"" for compressed ones)
    offset: int  # where the array data starts in the file (stored members; -1 for compressed ones)

    @property
    def nbytes(self) -> int:
        return self.dtype.itemsize * int(np.prod(self.shape, dtype=np.int64))

    def check_crc(self, crc: int) -> None:
        """Compare the CRC-32 of the member's bytes (``zlib.crc32`` from ``header`` on) with the zip's."""
        if crc != self.crc:
            raise InvalidData(f"{self.file}: member {self.name}.npy fails its CRC-32 check (the zip says "
                              f"{self.crc:08x}, its bytes give {crc:08x}); the file is damaged: fetch or copy it "
                              "again.")


def _read_npy_header(stream, where: str) -> tuple[tuple[int, ...], np.dtype]:
    try:
        version = npy.read_magic(stream)
        read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
        shape, fortran, dtype = read_header(stream)
    except (ValueError, SyntaxError, EOFError) as exc:
        raise InvalidData(f"{where} has no valid .npy header ({exc}); the file is damaged.") from None
    if dtype.hasobject:
        raise InvalidData(f"{where} holds Python objects, which are never loaded; expected numeric arrays.")
    if fortran:
        raise InvalidData(f"{where} is stored in Fortran order; re-save it in C order "
                          "(np.savez(..., x_train=np.ascontiguousarray(x_train))) or load with memory_map=False.")
    return tuple(int(s) for s in shape), dtype


def npz_members(file: Path, names: Iterable[str]) -> dict[str, Member]:
    """The members ``names`` of ``file``, each located and its ``.npy`` header read and checked."""
    file = Path(file)
    size = file.stat().st_size
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidData(f"{file}: not a complete .npz (zip) file ({exc}); a truncated download or copy "
                          "looks like this: fetch or copy the file again.") from None
    found = {}
    with archive, open(file, "rb") as raw:
        for name in names:
            try:
                info = archive.getinfo(f"{name}.npy")
            except KeyError:
                held = sorted(n.removesuffix(".npy") for n in archive.namelist())
                raise InvalidData(f"{file}: no array {name!r} (it holds {held}).") from None
            where = f"{file}: member {info.filename}"
            if info.compress_type != zipfile.ZIP_STORED:
                try:
                    with archive.open(info) as stream:
                        shape, dtype = _read_npy_header(stream, where)
                except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                    raise InvalidData(f"{where} cannot be decompressed ({exc}); the file is damaged.") from None
                found[name] = Member(file, name, shape, dtype, True, info.CRC, b"", -1)
                continue
            raw.seek(info.header_offset)
            local = raw.read(_LOCAL_HEADER.size)
            if len(local) < _LOCAL_HEADER.size or local[:4] != _LOCAL_SIGNATURE:
                raise InvalidData(f"{where}: no zip local header at byte {info.header_offset}; the file is damaged.")
            name_len, extra_len = _LOCAL_HEADER.unpack(local)[-2:]
            start = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len
            raw.seek(start)
            shape, dtype = _read_npy_header(raw, where)
            offset = raw.tell()
            nbytes = dtype.itemsize * int(np.prod(shape, dtype=np.int64))
            if offset - start + nbytes != info.file_size:
                raise InvalidData(f"{where}: the zip says {info.file_size} bytes but its .npy header describes "
                                  f"{offset - start + nbytes} ({dtype} {shape}); the file is damaged.")
            if offset + nbytes > size:
                raise InvalidData(f"{where}: {dtype} {shape} needs bytes up to {offset + nbytes} but the file "
                                  f"ends at {size}; the file is truncated: fetch or copy it again.")
            raw.seek(start)
            found[name] = Member(file, name, shape, dtype, False, info.CRC, raw.read(offset - start), offset)
    return found


def map_member(member: Member) -> np.ndarray:
    """A read-only memory map of a stored member's array, where it lies in the ``.npz``."""
    if member.compressed:
        raise InvalidData(f"{member.file}: member {member.name}.npy is compressed and cannot be memory-mapped; "
                          "extract it first (extract_member) or re-save the file with np.savez.")
    if member.nbytes == 0:
        return np.zeros(member.shape, dtype=member.dtype)
    return np.memmap(member.file, dtype=member.dtype, mode="r", shape=member.shape, offset=member.offset)


def extract_member(member: Member, dest: Path) -> Path:
    """Decompress a member into the plain ``.npy`` file ``dest``, 64 MiB at a time (never whole in memory)."""
    where = f"{member.file}: member {member.name}.npy"
    if len(member.shape) < 1:
        raise InvalidData(f"{where} holds a scalar; expected an array of samples.")
    row = member.dtype.itemsize * int(np.prod(member.shape[1:], dtype=np.int64))
    rows_per_block = max(1, _COPY_BYTES // max(row, 1))

    def blocks(stream):
        left = member.shape[0]
        while left:
            take = min(rows_per_block, left)
            data = stream.read(take * row)
            if len(data) != take * row:
                raise InvalidData(f"{where} ends early: the file is truncated or damaged.")
            yield np.frombuffer(data, dtype=member.dtype).reshape(take, *member.shape[1:])
            left -= take
        if stream.read(1):  # reading to the end also makes zipfile compare the CRC-32, before the rename
            raise InvalidData(f"{where} is longer than its .npy header says; the file is damaged.")

    try:
        with zipfile.ZipFile(member.file) as archive, archive.open(f"{member.name}.npy") as stream:
            _read_npy_header(stream, where)
            path = write_npy(dest, member.shape, member.dtype, blocks(stream))
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise InvalidData(f"{where} cannot be decompressed ({exc}); the file is damaged.") from None
    return path
