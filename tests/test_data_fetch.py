"""The fetch helper against a loopback HTTP server: verify, unpack, once only, refuse bad archives."""
import hashlib
import http.server
import io
import os
import tarfile
import threading
import zipfile
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from zssar.cli import main as cli_main
from zssar.data.fetch import SOURCES, fetch
from zssar.data.registry import load_dataset
from zssar.errors import DatasetNotFound, InvalidConfig, InvalidData


class _Server:
    """Serves one folder on 127.0.0.1 (port chosen by the system) and counts the GET requests."""

    def __init__(self, folder: Path):
        self.requests = []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):  # keep the test output quiet
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(folder)))
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _zip_folder(folder: Path, archive: Path, top: str) -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        for file in sorted(folder.rglob("*")):
            zf.write(file, f"{top}/{file.relative_to(folder)}")
    return archive


def _generated_files(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    (folder / "sub").mkdir(parents=True)
    for i in range(3):
        (folder / f"a{i:02d}.txt").write_text("\n".join(f"{v:.4f}" for v in rng.normal(size=50)))
    (folder / "sub" / "notes.txt").write_text("inner file\n")
    return folder


@pytest.fixture
def served(tmp_path):
    files = _generated_files(tmp_path / "made" / "toy")
    public = tmp_path / "public"
    public.mkdir()
    _zip_folder(files, public / "toy.zip", "toy")
    with tarfile.open(public / "toy.tar.gz", "w:gz") as tf:
        tf.add(files, arcname="toy")
    with _Server(public) as server:
        yield server, public, files


def _same_tree(a: Path, b: Path) -> None:
    names = sorted(str(p.relative_to(a)) for p in a.rglob("*") if p.name != ".zssar-fetch.json")
    assert names == sorted(str(p.relative_to(b)) for p in b.rglob("*"))
    for name in names:
        if (a / name).is_file():
            assert (a / name).read_bytes() == (b / name).read_bytes()


@pytest.mark.parametrize("archive", ["toy.zip", "toy.tar.gz"])
def test_fetch_unpacks_verifies_and_downloads_once(served, tmp_path, archive):
    server, public, files = served
    cache = tmp_path / "data"
    got = fetch(server.url(archive), sha256=_sha(public / archive), cache=cache, show_progress=False)
    assert got.downloaded and got.path == cache / "toy" and got.data_root == cache
    _same_tree(got.path, files)  # the single top-level "toy/" folder became the folder itself
    assert not any((cache / ".downloads").iterdir())  # no archive or partial file left behind
    again = fetch(server.url(archive), sha256=_sha(public / archive), cache=cache, show_progress=False)
    assert not again.downloaded and again.path == got.path and len(server.requests) == 1


def test_checksum_mismatch_keeps_nothing_and_loses_nothing(served, tmp_path):
    server, public, _ = served
    cache = tmp_path / "data"
    (cache / "other").mkdir(parents=True)
    (cache / "other" / "keep.txt").write_text("mine")
    with pytest.raises(InvalidData, match="sha256 is .* expected 0{64}; the download is damaged"):
        fetch(server.url("toy.zip"), sha256="0" * 64, cache=cache, show_progress=False)
    assert sorted(p.name for p in cache.iterdir()) == [".downloads", "other"]
    assert not any((cache / ".downloads").iterdir()) and (cache / "other" / "keep.txt").read_text() == "mine"


def test_unsafe_member_paths_are_refused(tmp_path):
    public = tmp_path / "public"
    public.mkdir()
    with zipfile.ZipFile(public / "evil.zip", "w") as zf:
        zf.writestr("evil/ok.txt", "fine")
        zf.writestr("../escaped.txt", "outside")
    buf = io.BytesIO(b"outside")
    with tarfile.open(public / "evil.tar", "w") as tf:
        info = tarfile.TarInfo("/tmp/absolute.txt")
        info.size = len(buf.getvalue())
        tf.addfile(info, buf)
    link = tarfile.TarInfo("evil/link")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    with tarfile.open(public / "link.tar", "w") as tf:
        tf.addfile(link)
    cache = tmp_path / "data"
    with _Server(public) as server:
        for name, message in [("evil.zip", "'../escaped.txt' would be written outside"),
                              ("evil.tar", "'/tmp/absolute.txt' would be written outside"),
                              ("link.tar", "'evil/link' is a link or device")]:
            with pytest.raises(InvalidData, match=message):
                fetch(server.url(name), sha256=_sha(public / name), cache=cache, show_progress=False)
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "data" / "escaped.txt").exists()
    assert sorted(p.name for p in cache.iterdir()) == [".downloads"] and not any((cache / ".downloads").iterdir())


def test_requests_without_checksum_or_over_a_folder_of_yours(served, tmp_path):
    server, public, _ = served
    with pytest.raises(InvalidConfig, match="needs sha256="):
        fetch(server.url("toy.zip"), cache=tmp_path)
    with pytest.raises(DatasetNotFound, match="not a registered download"):
        fetch("ntu60", cache=tmp_path)
    (tmp_path / "toy").mkdir()
    with pytest.raises(InvalidConfig, match="exists and was not made by zssar's fetch"):
        fetch(server.url("toy.zip"), sha256=_sha(public / "toy.zip"), cache=tmp_path, show_progress=False)
    with pytest.raises(DatasetNotFound, match="could not download"):
        fetch(server.url("absent.zip"), sha256="1" * 64, cache=tmp_path / "x", show_progress=False)
    assert SOURCES == {}  # no public archive with a verified checksum is known for any dataset yet


def test_the_data_command_fetches_and_prints_zssar_data(served, tmp_path, capsys):
    server, public, _ = served
    args = ["data", "--fetch", server.url("toy.zip"), "--sha256", _sha(public / "toy.zip"), "--root", str(tmp_path)]
    assert cli_main(args) == 0
    out = capsys.readouterr().out
    assert f"downloaded and unpacked: {tmp_path / 'toy'}" in out and f"export ZSSAR_DATA={tmp_path}" in out
    assert cli_main(args) == 0 and "already present" in capsys.readouterr().out


@pytest.mark.realdata
def test_real_kard_folder_round_trip(tmp_path):
    root = os.environ.get("ZSSAR_DATA")
    if not root or not (Path(root) / "kard").is_dir():
        pytest.skip("needs ZSSAR_DATA with a kard/ folder (set ZSSAR_DATA to the datasets folder)")
    public = tmp_path / "public"
    public.mkdir()
    archive = _zip_folder(Path(root) / "kard", public / "kard.zip", "kard")
    with _Server(public) as server:
        got = fetch(server.url("kard.zip"), sha256=_sha(archive), cache=tmp_path / "data", show_progress=False)
    data = load_dataset("kard", root=got.data_root)
    assert len(data) == 540 and data.num_classes == 18
    assert data.fingerprint() == load_dataset("kard", root=root).fingerprint()
