"""Fitting a recording frame by frame: one identity for the whole sequence, expression and
head pose per frame, temporally smoothed (``facecast fit-sequence``).

1. every frame's largest face is detected (frames without one are filled in afterwards by
   linear interpolation between their neighbours);
2. the identity is fitted jointly on up to ``identity_frames`` evenly spaced frames
   (``Calibrator.fit_frames``: each keeps its own pose and expression);
3. every frame is fitted with that identity fixed: 53 expression coefficients and the head
   pose (rotation, scale, offset);
4. ``pose_rounds`` times: the head pose is smoothed in time (Gaussian, σ ``pose_smoothing_s``
   seconds), every frame's expression is refitted at its smoothed pose (``LandmarkFitter.
   fit_at_pose``), and every frame's pose is refitted for that expression. A single frame
   cannot tell a brow raise from a small head pitch (both lift the brows against the
   outline; on the renderer's astronaut a full brow raise read as 2.3° of pitch and half of
   the raise), a sequence can: the head does not nod with every brow raise;
5. in every expression fit the selected shapes are refitted with a quarter of the L1
   penalty and a fifth of the ridge (``FitConfig.refit_selected``, the relaxed lasso's
   debiasing step): the penalty that picks the few active shapes also shrinks each of them
   by the same amount, so a weak raise vanished and a strong one came back short;
6. the identity is re-solved from every frame at its fitted expression and pose, and step 4
   runs again (``identity_rounds``);
7. expression and pose are smoothed in time with a Gaussian of ``smoothing_frames`` (σ,
   frames): a fit is noisy from frame to frame where a face is not.

On the renderer's astronaut performing a surprise (brows, then the jaw; tests/
test_fit_sequence.py) every driven shape comes back at 0.89-1.16 of its amplitude with a
correlation > 0.98; before steps 4-6 the inner brows came back at 0.64-0.67 (per-frame fits,
L1 shrinkage, pose taking part of the raise). A brow raise alone (inner brows only, no outer)
still comes back short on the left (0.6): the detector moves that brow less than the mesh.

The result is what the dynamics model trains on and is evaluated with: per-frame expression
coefficients of one person (:class:`SequenceFit`, saved as ``.npz``).

Shapes: N frames, E = 53 expressions, K identity modes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from calibration.calibrator import Calibrator, landmark_quality
from calibration.exceptions import CalibrationError, ImageError, NoFaceError
from calibration.fit import FitResult, LandmarkFitter
from engines.face_model.camera import OrthoCamera

__all__ = [
    "IMAGE_SUFFIXES",
    "SequenceFit",
    "SequenceFitConfig",
    "fit_sequence",
    "load_sequence_fit",
    "read_frames",
]

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
SEQUENCE_FIT_VERSION = 1


@dataclass(frozen=True)
class SequenceFitConfig:
    """Attributes:
    identity_frames: frames the shared identity is fitted on (evenly spaced).
    smoothing_frames: σ of the temporal Gaussian, frames (0 = none).
    max_frames: longest sequence accepted.
    refit_selected: refit the selected shapes of every frame with less of the L1 penalty.
    selection_threshold: a shape above this is selected for the refit.
    refit_l1_fraction: share of the L1 weight kept in the refit (the relaxed lasso's φ; 0
        gave brows back at their full amplitude but let near-opposite shapes, a brow raise
        and a brow lowering, grow together on single frames; 0.25 keeps them in check).
    pose_smoothing_s: σ of the temporal Gaussian on the head pose, seconds.
    pose_rounds: smoothed-pose / expression / pose alternations (0 = per-frame fits only,
        every frame's pose its own).
    identity_rounds: times the identity is re-solved from every frame at its fitted
        expression and pose, followed by the pose rounds again (the first identity comes
        from per-frame fits, which read part of a brow raise as pitch and part as identity).
    """

    identity_frames: int = 8
    smoothing_frames: float = 1.0
    max_frames: int = 3000
    refit_selected: bool = True
    selection_threshold: float = 0.02
    refit_l1_fraction: float = 0.25
    pose_smoothing_s: float = 0.5
    pose_rounds: int = 3
    identity_rounds: int = 1

    def __post_init__(self) -> None:
        if self.identity_frames < 1:
            raise ValueError("identity_frames must be >= 1")
        if not (math.isfinite(self.smoothing_frames) and 0 <= self.smoothing_frames <= 30):
            raise ValueError("smoothing_frames must be in [0, 30]")
        if self.max_frames < 1:
            raise ValueError("max_frames must be >= 1")
        if not 0.0 <= self.selection_threshold < 1.0:
            raise ValueError("selection_threshold must be in [0, 1)")
        if not 0.0 <= self.refit_l1_fraction <= 1.0:
            raise ValueError("refit_l1_fraction must be in [0, 1]")
        if not (math.isfinite(self.pose_smoothing_s) and 0 <= self.pose_smoothing_s <= 10):
            raise ValueError("pose_smoothing_s must be in [0, 10] seconds")
        if not 0 <= self.pose_rounds <= 10 or not 0 <= self.identity_rounds <= 10:
            raise ValueError("pose_rounds and identity_rounds must be in [0, 10]")


@dataclass(frozen=True)
class SequenceFit:
    """A fitted recording.

    Attributes:
        fps: frames per second.
        identity: (K,) identity of the whole sequence.
        expressions: (N, E) smoothed expression coefficients in [0, 1].
        rotations: (N, 3) smoothed head rotation (pitch, yaw, roll), radians.
        raw_expressions, raw_rotations: the same before smoothing.
        found: (N,) whether a face was detected in the frame (else interpolated).
        landmark_nme: (N,) fit error of every frame with a face (NaN without one).
        expression_names: the E names.
        meta: JSON-able extras (source, timings, config).
    """

    fps: float
    identity: NDArray[np.float32]
    expressions: NDArray[np.float32]
    rotations: NDArray[np.float32]
    raw_expressions: NDArray[np.float32]
    raw_rotations: NDArray[np.float32]
    found: NDArray[np.bool_]
    landmark_nme: NDArray[np.float32]
    expression_names: tuple[str, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return int(self.expressions.shape[0])

    @property
    def times(self) -> NDArray[np.float64]:
        return np.arange(self.num_frames, dtype=np.float64) / self.fps

    def save(self, path: str | Path) -> Path:
        """Write an ``.npz`` (arrays + a JSON ``meta`` entry)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"version": SEQUENCE_FIT_VERSION, "fps": self.fps,
                "expression_names": list(self.expression_names), **self.meta}  # fmt: skip
        with path.open("wb") as handle:
            np.savez(handle, identity=self.identity, expressions=self.expressions,
                     rotations=self.rotations, raw_expressions=self.raw_expressions,
                     raw_rotations=self.raw_rotations, found=self.found,
                     landmark_nme=self.landmark_nme, meta=np.array(json.dumps(meta)))  # fmt: skip
        return path


def load_sequence_fit(path: str | Path) -> SequenceFit:
    """Read a :meth:`SequenceFit.save` file."""
    with np.load(Path(path), allow_pickle=False) as archive:
        meta = json.loads(str(archive["meta"]))
        if meta.get("version") != SEQUENCE_FIT_VERSION:
            raise ValueError(f"{path}: unsupported sequence-fit version {meta.get('version')}")
        names = tuple(meta.pop("expression_names"))
        fps = float(meta.pop("fps"))
        meta.pop("version")
        return SequenceFit(fps, archive["identity"], archive["expressions"], archive["rotations"],
                           archive["raw_expressions"], archive["raw_rotations"], archive["found"],
                           archive["landmark_nme"], names, meta)  # fmt: skip


def read_frames(
    source: str | Path, *, fps: float | None = None, max_frames: int = 3000
) -> tuple[Iterator[NDArray[np.uint8]], float, int]:
    """RGB frames of a video file or of a folder of images (sorted by name).

    Returns:
        (frames, fps, count): the video's own rate unless ``fps`` is given (a folder: ``fps``
        or 25).

    Raises:
        ImageError: no such file or folder, no images in it, or an unreadable video.
    """
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ImageError(f"{path} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        if len(files) > max_frames:
            raise ImageError(f"{path} holds {len(files)} images; at most {max_frames}")
        from calibration.image_io import load_image

        return (load_image(f) for f in files), float(fps or 25.0), len(files)
    if not path.is_file():
        raise ImageError(f"no such video or folder: {path}")
    import av

    try:
        container = av.open(str(path))
        stream = container.streams.video[0]
        rate = float(fps or (stream.average_rate or 25))
        count = int(stream.frames or 0)
    except (av.error.FFmpegError, IndexError, OSError) as error:
        raise ImageError(f"cannot read the video {path}: {error}") from error

    def frames() -> Iterator[NDArray[np.uint8]]:
        try:
            for index, frame in enumerate(container.decode(stream)):
                if index >= max_frames:
                    raise ImageError(f"{path} has more than {max_frames} frames")
                yield np.asarray(frame.to_ndarray(format="rgb24"), np.uint8)
        except av.error.FFmpegError as error:
            raise ImageError(f"cannot decode {path}: {error}") from error
        finally:
            container.close()

    return frames(), rate, count


def _fill_missing(values: NDArray[np.float64], found: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Linear interpolation over frames without a face (held at the ends)."""
    index = np.arange(len(values))
    out = values.copy()
    for column in range(values.shape[1]):
        out[:, column] = np.interp(index, index[found], values[found, column])
    return out


def _smooth(values: NDArray[np.float64], sigma: float) -> NDArray[np.float64]:
    if sigma <= 0 or len(values) < 2:
        return values
    from scipy.ndimage import gaussian_filter1d

    return np.asarray(gaussian_filter1d(values, sigma, axis=0, mode="nearest"))


def _refit_at_smoothed_pose(
    fitter: LandmarkFitter,
    faces: Sequence[Any],
    fits: dict[int, FitResult],
    present: NDArray[np.bool_],
    sigma_frames: float,
) -> dict[int, FitResult]:
    """One round: smooth the poses of ``fits`` in time, refit every frame's expression at
    its smoothed pose, then its pose for that expression (see the module docstring)."""
    poses = np.zeros((len(present), 6))  # pitch, yaw, roll, scale, tu, tw
    for index, fit in fits.items():
        poses[index] = [*fit.rotation, fit.camera.scale, fit.camera.tu, fit.camera.tw]
    smooth = _smooth(_fill_missing(poses, present), sigma_frames)
    refitted: dict[int, FitResult] = {}
    for index in fits:
        pose = smooth[index]
        camera = OrthoCamera(scale=float(pose[3]), tu=float(pose[4]), tw=float(pose[5]))
        at_pose = fitter.fit_at_pose(faces[index].points, pose[:3], camera)
        refitted[index] = fitter.fit_pose(faces[index].points, at_pose.identity,
                                          at_pose.expression, pose[:3], camera)  # fmt: skip
    return refitted


def fit_sequence(
    frames: Sequence[NDArray[np.uint8]] | Iterator[NDArray[np.uint8]],
    calibrator: Calibrator,
    fps: float,
    config: SequenceFitConfig | None = None,
) -> SequenceFit:
    """Fit every frame of a recording of one person (see the module docstring).

    Raises:
        NoFaceError: no frame holds a face.
        CalibrationError: more frames than ``config.max_frames``.
    """
    config = config or SequenceFitConfig()
    if not (math.isfinite(fps) and 1 <= fps <= 240):
        raise ValueError(f"fps must be in [1, 240], got {fps}")
    started = time.perf_counter()
    faces: list[Any] = []
    for index, frame in enumerate(frames):
        if index >= config.max_frames:
            raise CalibrationError(f"the sequence has more than {config.max_frames} frames")
        found = calibrator.detect(calibrator.prepare(frame))
        faces.append(found[0] if found else None)
    detect_s = time.perf_counter() - started
    present = np.array([f is not None for f in faces], bool)
    if not present.any():
        raise NoFaceError(f"no face found in any of the {len(faces)} frames")
    with_face = np.flatnonzero(present)
    count = min(config.identity_frames, len(with_face))
    picks = with_face[np.linspace(0, len(with_face) - 1, count).round().astype(int)]
    shared = calibrator.fit_frames([faces[i] for i in picks])
    identity = shared[0].identity.astype(np.float64)
    per_frame = dataclasses.replace(calibrator.fitter.config, refit_selected=config.refit_selected,
                                    selection_threshold=config.selection_threshold,
                                    refit_l1_fraction=config.refit_l1_fraction)  # fmt: skip
    fixed = calibrator.fitter.with_config(per_frame).with_fixed_identity(identity)
    names = calibrator.model.expression_names
    expressions = np.zeros((len(faces), len(names)))
    rotations = np.zeros((len(faces), 3))
    nme = np.full(len(faces), np.nan)
    try:
        from threadpoolctl import threadpool_limits

        limits: Any = threadpool_limits(limits=1, user_api="blas")
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        import contextlib

        limits = contextlib.nullcontext()
    sigma_pose = config.pose_smoothing_s * fps
    with limits:
        fits: dict[int, FitResult] = {i: fixed.fit(faces[i].points) for i in with_face.tolist()}
        for _ in range(config.pose_rounds):
            fits = _refit_at_smoothed_pose(fixed, faces, fits, present, sigma_pose)
        for _ in range(config.identity_rounds):
            # the identity that explains every frame at its fitted expression and pose
            points = [np.asarray(faces[i].points, np.float64) for i in fits]
            identity = calibrator.fitter.shared_identity(points, list(fits.values()))
            fixed = calibrator.fitter.with_config(per_frame).with_fixed_identity(identity)
            for _ in range(max(config.pose_rounds, 1)):
                fits = _refit_at_smoothed_pose(fixed, faces, fits, present, sigma_pose)
        for index, fit in fits.items():
            expressions[index] = fit.expression
            rotations[index] = fit.rotation
            nme[index] = landmark_quality(faces[index].points, fit.projected,
                                          calibrator.outline)["landmark_nme"]  # fmt: skip
    raw_expressions = _fill_missing(expressions, present)
    raw_rotations = _fill_missing(rotations, present)
    smooth_expressions = np.clip(_smooth(raw_expressions, config.smoothing_frames), 0.0, 1.0)
    smooth_rotations = _smooth(raw_rotations, config.smoothing_frames)
    seconds = time.perf_counter() - started
    logger.info("fitted %d frames (%d with a face) in %.1f s", len(faces), int(present.sum()),
                seconds)  # fmt: skip
    return SequenceFit(
        fps=float(fps),
        identity=identity.astype(np.float32),
        expressions=smooth_expressions.astype(np.float32),
        rotations=smooth_rotations.astype(np.float32),
        raw_expressions=raw_expressions.astype(np.float32),
        raw_rotations=raw_rotations.astype(np.float32),
        found=present,
        landmark_nme=nme.astype(np.float32),
        expression_names=tuple(names),
        meta={
            "frames": len(faces),
            "frames_with_face": int(present.sum()),
            "identity_frames": [int(i) for i in picks],
            "smoothing_frames": config.smoothing_frames,
            "refit_selected": config.refit_selected,
            "refit_l1_fraction": config.refit_l1_fraction,
            "identity_rounds": config.identity_rounds,
            "pose_smoothing_s": config.pose_smoothing_s,
            "pose_rounds": config.pose_rounds,
            "seconds": round(seconds, 2),
            "detect_seconds": round(detect_s, 2),
            "landmark_nme_mean": round(float(np.nanmean(nme)), 5),
        },
    )
