"""The download code of the data sets, against a fake server (no network): caching, checksum
mismatches, cut-off transfers that resume, offline messages, Keras's cache."""
import hashlib

import pytest

from engine.datasets import download
from engine.datasets.download import DatasetUnavailableError, DownloadError, data_dir, fetch
from tests.engine.fake_server import FakeServer

URL = "https://example.invalid/data/f.bin"
PAYLOAD = bytes(range(256)) * 40                 # 10,240 bytes
SHA = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERLOOM_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    return tmp_path / "cache"


def serve(monkeypatch, **kwargs) -> FakeServer:
    server = FakeServer({URL: PAYLOAD}, **kwargs)
    monkeypatch.setattr(download, "urlopen", server)
    return server


def test_download_is_verified_cached_and_reported(cache, monkeypatch):
    server = serve(monkeypatch)
    seen = []
    path = fetch("f.bin", URL, SHA, "sub", progress=lambda done, total: seen.append((done, total)))
    assert path == cache / "sub" / "f.bin" and path.read_bytes() == PAYLOAD
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD)) and not (cache / "sub" / "f.bin.part").exists()
    assert fetch("f.bin", URL, SHA, "sub", progress=seen.append) == path
    assert len(server.requests) == 1                              # the second call is cached


def test_checksum_mismatch_removes_the_file(cache, monkeypatch):
    serve(monkeypatch)
    wrong = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(DownloadError, match=f"f.bin from {URL} failed its checksum: expected "
                                            f"sha256 {wrong}, got {SHA}") as e:
        fetch("f.bin", URL, wrong, progress=lambda d, t: None)
    assert e.value.url == URL and list(cache.iterdir()) == []


def test_cut_off_download_is_kept_and_resumed(cache, monkeypatch):
    server = serve(monkeypatch, cut=4000)
    with pytest.raises(DownloadError, match="was cut off: 4,000 of 10,240 bytes; the partial "
                                            "file is kept"):
        fetch("f.bin", URL, SHA, progress=lambda d, t: None)
    part = cache / "f.bin.part"
    assert part.stat().st_size == 4000 and not (cache / "f.bin").exists()
    server.cut = None
    assert fetch("f.bin", URL, SHA, progress=lambda d, t: None).read_bytes() == PAYLOAD
    assert server.requests[-1] == (URL, "bytes=4000-") and not part.exists()


def test_resume_when_the_server_ignores_ranges_or_the_part_is_complete(cache, monkeypatch):
    cache.mkdir()
    (cache / "f.bin.part").write_bytes(b"garbage!")
    serve(monkeypatch, ranges=False)
    assert fetch("f.bin", URL, SHA, progress=lambda d, t: None).read_bytes() == PAYLOAD
    (cache / "f.bin").unlink()
    (cache / "f.bin.part").write_bytes(PAYLOAD)                   # complete, only not renamed
    server = serve(monkeypatch)
    assert fetch("f.bin", URL, SHA, progress=lambda d, t: None).read_bytes() == PAYLOAD
    assert server.requests == [(URL, f"bytes={len(PAYLOAD)}-")]


def test_offline_and_http_errors(cache, monkeypatch):
    serve(monkeypatch, offline=True)
    with pytest.raises(DatasetUnavailableError, match="are you offline\\? Use the bundled one"):
        fetch("f.bin", URL, SHA, offline_hint="Use the bundled one.")
    serve(monkeypatch, status=404)
    with pytest.raises(DownloadError, match=f"{URL} answered 404 Not Found"):
        fetch("f.bin", URL, SHA)


def test_md5_hashes_and_the_keras_cache(cache, tmp_path, monkeypatch):
    server = serve(monkeypatch)
    keras_copy = tmp_path / "keras" / "datasets" / "f.bin"
    keras_copy.parent.mkdir(parents=True)
    keras_copy.write_bytes(PAYLOAD)
    md5 = hashlib.md5(PAYLOAD).hexdigest()
    assert fetch("f.bin", URL, md5) == keras_copy and server.requests == []
    keras_copy.write_bytes(b"a different file under the same name")
    assert fetch("f.bin", URL, md5, progress=lambda d, t: None) == cache / "f.bin"
    assert len(server.requests) == 1


def test_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("LAYERLOOM_DATA_DIR", str(tmp_path / "here"))
    assert data_dir() == tmp_path / "here"
    monkeypatch.delenv("LAYERLOOM_DATA_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    if download.sys.platform.startswith("linux"):
        assert data_dir() == tmp_path / "xdg" / "layerloom" / "datasets"
