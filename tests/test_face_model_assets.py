"""Locating and downloading the ICT model files: search order, checksums, atomic writes."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from engines.face_model import assets
from engines.face_model.assets import IctManifest, fetch_ict, find_ict_dir, open_model_file
from engines.face_model.exceptions import (
    ChecksumMismatchError,
    ModelDownloadError,
    ModelFilesNotFoundError,
)

FILES = {
    "FaceXModel/generic_neutral_mesh.obj": b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n",
    "README.md": b"# tiny\n",
}


def _fake_model(directory: Path, *, gzipped: bool) -> Path:
    for relative, data in FILES.items():
        path = directory / (relative + (".gz" if gzipped and relative.endswith(".obj") else ""))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return directory


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No ICT_FACEKIT_DIR, an empty cache, and no local copies found next to the checkout."""
    monkeypatch.delenv("ICT_FACEKIT_DIR", raising=False)
    monkeypatch.setenv("FACECAST_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(assets, "REPO_ROOT", tmp_path / "nowhere" / "repo")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def http_server(tmp_path) -> Iterator[tuple[str, Path]]:
    """A loopback HTTP server over a temp folder: (base URL, folder)."""
    root = tmp_path / "served"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def _manifest(monkeypatch, base_url: str, sha: dict[str, str]) -> None:
    manifest = IctManifest("owner/repo", "c" * 40, sha)
    monkeypatch.setattr(assets, "load_manifest", lambda: manifest)
    monkeypatch.setattr(assets, "_RAW_BASE", base_url + "/{repository}/{commit}/{path}")


def test_search_order_explicit_env_cache(isolated, monkeypatch):
    explicit = _fake_model(isolated / "explicit", gzipped=True)
    env = _fake_model(isolated / "env", gzipped=False)
    assert find_ict_dir() is None
    cached = _fake_model(isolated / "cache" / "ICT-FaceKit", gzipped=True)
    assert find_ict_dir() == cached.resolve()
    monkeypatch.setenv("ICT_FACEKIT_DIR", str(env))
    assert find_ict_dir() == env.resolve()
    assert find_ict_dir(explicit) == explicit.resolve()


def test_explicit_dir_without_model_is_an_error(isolated, monkeypatch):
    with pytest.raises(ModelFilesNotFoundError, match="does not hold the ICT model"):
        find_ict_dir(isolated / "typo")
    monkeypatch.setenv("ICT_FACEKIT_DIR", str(isolated / "typo"))
    with pytest.raises(ModelFilesNotFoundError):
        find_ict_dir()


def test_local_copy_next_to_checkout(isolated, monkeypatch):
    shared = _fake_model(isolated / "nowhere" / "shared" / "assets" / "ICT-FaceKit", gzipped=True)
    assert find_ict_dir() == shared.resolve()


def test_open_model_file_reads_plain_and_gzip(isolated):
    plain = _fake_model(isolated / "plain", gzipped=False)
    packed = _fake_model(isolated / "packed", gzipped=True)
    name = "FaceXModel/generic_neutral_mesh.obj"
    assert open_model_file(plain, name) == open_model_file(packed, name) == FILES[name]
    with pytest.raises(ModelFilesNotFoundError):
        open_model_file(plain, "FaceXModel/missing.obj")


def test_fetch_downloads_and_verifies(isolated, monkeypatch, http_server):
    base_url, served = http_server
    _fake_model(served / "owner" / "repo" / ("c" * 40), gzipped=False)
    sha = {name: hashlib.sha256(data).hexdigest() for name, data in FILES.items()}
    _manifest(monkeypatch, base_url, sha)
    target = fetch_ict(progress=False)
    assert target == isolated / "cache" / "ICT-FaceKit"
    for name, data in FILES.items():
        assert (target / name).read_bytes() == data
    assert not list(target.rglob("*.part"))
    assert find_ict_dir() == target.resolve()


def test_fetch_rejects_a_wrong_checksum(isolated, monkeypatch, http_server):
    base_url, served = http_server
    _fake_model(served / "owner" / "repo" / ("c" * 40), gzipped=False)
    sha = {name: hashlib.sha256(data).hexdigest() for name, data in FILES.items()}
    sha["README.md"] = "0" * 64
    _manifest(monkeypatch, base_url, sha)
    with pytest.raises(ChecksumMismatchError, match=r"README\.md"):
        fetch_ict(progress=False)
    assert not (isolated / "cache" / "ICT-FaceKit" / "README.md").exists()


def test_fetch_reports_unreachable_files(isolated, monkeypatch, http_server):
    base_url, _ = http_server  # nothing served: every file is a 404
    _manifest(monkeypatch, base_url, {"README.md": "0" * 64})
    with pytest.raises(ModelDownloadError, match="could not download"):
        fetch_ict(progress=False, timeout=5)


def test_shipped_manifest_pins_commit_and_all_files():
    manifest = assets.load_manifest()
    assert manifest.repository == "ICT-VGL/ICT-FaceKit"
    assert len(manifest.commit) == 40
    names = manifest.obj_names
    assert "FaceXModel/generic_neutral_mesh.obj" in names
    assert sum(name.startswith("FaceXModel/identity") for name in names) == 100
    # neutral, identities, the 53 expressions, plus PupilDilate_L/R and cheekRaiser_L/R
    assert len(names) == 1 + 100 + 53 + 4
    from engines.face_model.ict import EXPRESSION_NAMES

    assert all(f"FaceXModel/{name}.obj" in names for name in EXPRESSION_NAMES)
