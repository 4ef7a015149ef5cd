"""Download a dataset archive once, check its sha256, unpack it into a data folder.

``fetch(url, sha256=...)`` (or a registered name) puts the files in ``<cache>/<folder>/`` and returns
where they went and the ``ZSSAR_DATA`` to set (``<cache>``; default ``$ZSSAR_CACHE/datasets``).

* The download goes to a temporary file next to its final place and is renamed only once its sha256
  matches, so an interrupted or damaged download never looks complete; on a mismatch the partial
  file is removed and nothing else is touched.
* ``zip``, ``tar``, ``tar.gz`` / ``tgz`` archives are unpacked into a temporary folder that replaces
  ``<folder>`` only when unpacking succeeds; a single top-level folder named like ``<folder>`` is
  taken as the folder itself. Archives with absolute paths, ``..``, links or device files are
  refused before anything is written. ``file`` keeps a single file as it is.
* A marker file (``.zssar-fetch.json``) records the sha256: a second call returns at once without
  downloading. A folder that exists without the marker (your own copy) is never overwritten.

Only datasets whose public archive links and checksums are known are registered (:data:`SOURCES`);
the project's data notes list none, so today the helper is used with an explicit URL and sha256.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

from ..config import cache_root
from ..errors import DatasetNotFound, InvalidConfig, InvalidData
from ..utils import atomic_dir, file_sha256, progress

ARCHIVES = ("zip", "tar", "tar.gz", "file")
MARKER = ".zssar-fetch.json"
CHUNK = 1 << 20


@dataclass(frozen=True)
class Source:
    """Where a dataset archive lives, what it must hash to, and the folder it becomes."""

    url: str
    sha256: str
    archive: str
    folder: str
    name: str = ""


# name -> Source. Register only links that are public and whose checksum was verified.
SOURCES: dict[str, Source] = {}


@dataclass(frozen=True)
class Fetched:
    """The outcome of :func:`fetch`."""

    path: Path  # the unpacked folder, <data_root>/<folder>
    data_root: Path  # the value for ZSSAR_DATA
    downloaded: bool  # False when the folder was already there with the same sha256
    url: str
    sha256: str

    def report(self) -> dict:
        return {**{k: str(v) for k, v in asdict(self).items()}, "downloaded": self.downloaded,
                "ZSSAR_DATA": str(self.data_root)}


def source_for(name_or_url: str, sha256: str | None = None, archive: str | None = None,
               folder: str | None = None) -> Source:
    """The registered source of a name, or a source built from a URL and its sha256."""
    if name_or_url in SOURCES:
        return SOURCES[name_or_url]
    if "://" not in name_or_url:
        known = ", ".join(sorted(SOURCES)) or "none yet"
        raise DatasetNotFound(f"{name_or_url!r} is not a registered download (registered: {known}); pass the "
                              "archive URL with its sha256 instead.")
    if not sha256 or not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        raise InvalidConfig(f"fetching {name_or_url} needs sha256= (64 hex digits) so the download can be "
                            "verified; compute it with `sha256sum` on a copy you trust.")
    base = PurePosixPath(urllib.parse.urlparse(name_or_url).path).name or "download"
    archive = archive or guess_archive(base)
    if archive not in ARCHIVES:
        raise InvalidConfig(f"archive kind {archive!r} is not one of {', '.join(ARCHIVES)}.")
    stem = re.sub(r"\.(zip|tar|tar\.gz|tgz)$", "", base) if archive != "file" else Path(base).stem
    return Source(name_or_url, sha256.lower(), archive, folder or stem, name=base)


def guess_archive(filename: str) -> str:
    for suffix, kind in ((".zip", "zip"), (".tar.gz", "tar.gz"), (".tgz", "tar.gz"), (".tar", "tar")):
        if filename.endswith(suffix):
            return kind
    return "file"


def fetch(name_or_url: str, *, sha256: str | None = None, cache=None, archive: str | None = None,
          folder: str | None = None, show_progress: bool = True) -> Fetched:
    """Download, verify and unpack once; later calls return the unpacked folder without downloading."""
    source = source_for(name_or_url, sha256, archive, folder)
    root = Path(cache).expanduser() if cache is not None else cache_root() / "datasets"
    target = root / source.folder
    if _marker_sha(target) == source.sha256:
        return Fetched(target, root, False, source.url, source.sha256)
    if target.exists() and _marker_sha(target) is None:
        raise InvalidConfig(f"{target} exists and was not made by zssar's fetch; move it away or pass another "
                            "cache= / --root, so that nothing of yours is overwritten.")
    downloads = root / ".downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    file = download(source.url, downloads / f"{source.sha256[:16]}-{source.name or 'download'}", source.sha256,
                    show_progress)
    try:
        unpack(file, source.archive, target, source)
    finally:
        file.unlink(missing_ok=True)
    return Fetched(target, root, True, source.url, source.sha256)


def _marker_sha(target: Path) -> str | None:
    try:
        return json.loads((target / MARKER).read_text())["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def download(url: str, final: Path, sha256: str, show_progress: bool = True) -> Path:
    """``url`` -> ``final``, through a temporary file renamed only when its sha256 matches."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent)
    tmp = Path(tmp_name)
    try:
        digest = _stream(url, fd, show_progress)
        if digest != sha256.lower():
            raise InvalidData(f"{url}: sha256 is {digest}, expected {sha256}; the download is damaged or the "
                              "file behind the link changed. Nothing was kept; check the link and the checksum.")
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return final


def _stream(url: str, fd: int, show_progress: bool) -> str:
    h = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with progress(total=total, desc="download", enabled=show_progress, unit="B", unit_scale=True,
                          unit_divisor=1024) as bar:
                for chunk in iter(lambda: response.read(CHUNK), b""):
                    out.write(chunk)
                    h.update(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, OSError) as exc:
        raise DatasetNotFound(f"could not download {url} ({exc}); check the link and the connection.") from None
    return h.hexdigest()


def unpack(file: Path, archive: str, target: Path, source: Source) -> None:
    """Unpack ``file`` into ``target`` (replaced only on success) and write the marker."""
    with atomic_dir(target) as tmp:
        if archive == "file":
            shutil.copyfile(file, tmp / (source.name or file.name))
        elif archive == "zip":
            _unzip(file, tmp)
        else:
            _untar(file, tmp)
        _lift_single_folder(tmp, target.name)
        (tmp / MARKER).write_text(json.dumps({"url": source.url, "sha256": source.sha256}) + "\n")


def check_member(name: str, archive: Path) -> None:
    """Refuse absolute paths, drive letters and ``..`` in an archive member name."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts:
        raise InvalidData(f"{archive}: member {name!r} would be written outside the target folder; refusing to "
                          "unpack this archive (nothing was written).")


def _unzip(file: Path, dest: Path) -> None:
    try:
        with zipfile.ZipFile(file) as zf:
            for info in zf.infolist():
                check_member(info.filename, file)
                if (info.external_attr >> 16) & 0o170000 == 0o120000:
                    raise InvalidData(f"{file}: member {info.filename!r} is a symbolic link; refusing to unpack.")
            zf.extractall(dest)
    except zipfile.BadZipFile as exc:
        raise InvalidData(f"{file}: not a readable zip archive ({exc}); pass the right archive kind.") from None


def _untar(file: Path, dest: Path) -> None:
    try:
        with tarfile.open(file) as tf:
            members = tf.getmembers()
            for m in members:
                check_member(m.name, file)
                if not (m.isfile() or m.isdir()):
                    raise InvalidData(f"{file}: member {m.name!r} is a link or device; refusing to unpack.")
            kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tf.extractall(dest, members=members, **kwargs)
    except tarfile.TarError as exc:
        raise InvalidData(f"{file}: not a readable tar archive ({exc}); pass the right archive kind.") from None


def _lift_single_folder(tmp: Path, folder: str) -> None:
    """``<tmp>/<folder>/...`` -> ``<tmp>/...`` when that folder is the archive's only entry."""
    entries = list(tmp.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and entries[0].name == folder:
        inner = entries[0].rename(tmp / f".{folder}.lift")
        for child in inner.iterdir():
            child.rename(tmp / child.name)
        inner.rmdir()
