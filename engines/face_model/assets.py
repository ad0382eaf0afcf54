"""Find, fetch and verify the ICT Face Model Light files.

Search order (first hit wins):

1. an explicit directory (CLI ``--ict-dir`` or the ``ICT_FACEKIT_DIR`` environment variable);
2. the project's cache, ``$FACECAST_CACHE`` or ``$XDG_CACHE_HOME/facecast`` (``~/.cache/facecast``);
3. a local copy, ``../shared/assets/ICT-FaceKit`` next to the checkout or the working directory;
4. otherwise a download of the pinned commit of the public ICT-VGL/ICT-FaceKit repository into
   the cache, every file checked against the SHA-256 in ``ict_manifest.json``.

A model directory holds ``FaceXModel/*.obj`` (plain) or ``FaceXModel/*.obj.gz`` (gzip of the
same bytes); :func:`open_model_file` reads either.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from engines.face_model.exceptions import (
    ChecksumMismatchError,
    ModelDownloadError,
    ModelFilesNotFoundError,
)

__all__ = [
    "IctManifest",
    "cache_root",
    "fetch_ict",
    "find_ict_dir",
    "load_manifest",
    "open_model_file",
]

logger = logging.getLogger(__name__)

_MANIFEST_PATH = Path(__file__).with_name("ict_manifest.json")
_RAW_BASE = "https://raw.githubusercontent.com/{repository}/{commit}/{path}"
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class IctManifest:
    """The pinned ICT-FaceKit commit and the SHA-256 of each file (of the plain bytes)."""

    repository: str
    commit: str
    sha256: dict[str, str]

    @property
    def obj_names(self) -> list[str]:
        """Relative paths of the OBJ files, e.g. ``FaceXModel/jawOpen.obj``."""
        return sorted(p for p in self.sha256 if p.endswith(".obj"))


@lru_cache(maxsize=1)
def load_manifest() -> IctManifest:
    """Read ``ict_manifest.json`` shipped with the package."""
    data = json.loads(_MANIFEST_PATH.read_text())
    return IctManifest(data["repository"], data["commit"], dict(data["sha256"]))


def cache_root() -> Path:
    """The project's cache directory (created on demand by the writers)."""
    explicit = os.environ.get("FACECAST_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "facecast"


def _has_model(directory: Path) -> bool:
    model = directory / "FaceXModel"
    return (model / "generic_neutral_mesh.obj").is_file() or (
        model / "generic_neutral_mesh.obj.gz"
    ).is_file()


def _candidate_dirs(explicit: str | os.PathLike[str] | None) -> list[Path]:
    candidates: list[Path] = []
    if explicit is not None:
        candidates.append(Path(explicit))
    env = os.environ.get("ICT_FACEKIT_DIR")
    if env:
        candidates.append(Path(env))
    candidates.append(cache_root() / "ICT-FaceKit")
    for base in (REPO_ROOT, Path.cwd()):
        candidates.append(base.parent / "shared" / "assets" / "ICT-FaceKit")
        candidates.append(base / "shared" / "assets" / "ICT-FaceKit")
    return candidates


def find_ict_dir(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """Return the first directory holding the ICT model files, or None.

    An explicit directory (argument or ``ICT_FACEKIT_DIR``) that lacks the files is an error
    rather than silently skipped, so a typo does not trigger a download.
    """
    env = os.environ.get("ICT_FACEKIT_DIR")
    for must_exist in (explicit, env):
        if must_exist and not _has_model(Path(must_exist)):
            raise ModelFilesNotFoundError(
                f"{must_exist} does not hold the ICT model (expected FaceXModel/"
                "generic_neutral_mesh.obj or .obj.gz)"
            )
    for directory in _candidate_dirs(explicit):
        if _has_model(directory):
            return directory.resolve()
    return None


def open_model_file(model_dir: Path, relative: str) -> bytes:
    """Read ``relative`` (e.g. ``FaceXModel/jawOpen.obj``) as plain bytes, gzipped or not."""
    plain = model_dir / relative
    if plain.is_file():
        return plain.read_bytes()
    packed = model_dir / (relative + ".gz")
    if packed.is_file():
        return gzip.decompress(packed.read_bytes())
    raise ModelFilesNotFoundError(f"{relative} is missing from {model_dir}")


def _download(url: str, timeout: float) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bytes(response.read())
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise ModelDownloadError(f"could not download {url}: {error}") from error


def fetch_ict(
    destination: Path | None = None,
    *,
    timeout: float = 60.0,
    progress: bool = True,
) -> Path:
    """Download the pinned ICT-FaceKit files into ``destination`` (default: the cache).

    Files already present with the right checksum are kept. Each file is verified before it
    is moved into place, so an interrupted run never leaves a corrupt file behind.

    Raises:
        ModelDownloadError: the repository could not be reached.
        ChecksumMismatchError: a downloaded file differs from the pinned one.
    """
    manifest = load_manifest()
    target = destination if destination is not None else cache_root() / "ICT-FaceKit"
    target.mkdir(parents=True, exist_ok=True)
    names = sorted(manifest.sha256)
    from tqdm import tqdm

    for relative in tqdm(names, desc="ICT-FaceKit", unit="file", disable=not progress):
        path = target / relative
        expected = manifest.sha256[relative]
        if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == expected:
            continue
        url = _RAW_BASE.format(
            repository=manifest.repository, commit=manifest.commit, path=relative
        )
        data = _download(url, timeout)
        digest = hashlib.sha256(data).hexdigest()
        if digest != expected:
            raise ChecksumMismatchError(f"{relative}: sha256 {digest} != pinned {expected}")
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(path.suffix + ".part")
        partial.write_bytes(data)
        partial.replace(path)
    logger.info("ICT-FaceKit %s ready in %s", manifest.commit[:10], target)
    return target
