"""Calibration on real photos, the avatar file, the CLI and bad input through the CLI."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from skimage import data

from calibration import Calibrator, NoFaceError, choose_source_frame
from engines.avatar import load_avatar, save_avatar
from server.cli.main import main


@pytest.fixture(scope="module")
def calibrator(ict):
    with Calibrator(model=ict) as shared:
        yield shared


@pytest.fixture(scope="module")
def astronaut_result(calibrator, astronaut):
    return calibrator.calibrate(astronaut)


def test_astronaut_fit_quality(astronaut_result, ict):
    report = astronaut_result.report
    assert report["faces_found"] == 1
    assert report["landmark_nme"] < 0.05
    assert report["landmark_max_px"] < 15
    # she smiles: both smile shapes are among the largest coefficients
    top = list(report["top_expressions"])
    assert {"mouthSmile_L", "mouthSmile_R"} <= set(top[:4])
    avatar = astronaut_result.avatar
    assert avatar.expression.shape == (53,)
    assert (avatar.expression >= 0).all() and (avatar.expression <= 1).all()
    assert abs(np.degrees(avatar.rotation[1])) < 10  # nearly frontal
    # the fitted face sits on her face (box from the landmarks)
    u0, w0, u1, w1 = report["face_box"]
    assert 150 < (u0 + u1) / 2 < 300 and 80 < (w0 + w1) / 2 < 180
    assert avatar.texture.shape == (512, 512, 3) and avatar.texture_mask.shape == (512, 512)
    assert report["texture_seen_fraction"] > 0.4
    assert avatar.extra["vertex_visibility"].shape == (ict.num_vertices,)
    assert avatar.extra["face_mask"].shape == avatar.source_image.shape[:2]
    from calibration.lighting import shade

    frontal = shade(np.array([[0.0, 0.0, 1.0]]), avatar.extra["sh_lighting"])[0]
    assert (frontal > 100).all() and (frontal < 255).all()  # lit skin, not black or clipped


def test_neutral_is_same_face(astronaut_result, calibrator, ict):
    """Zero expression keeps her identity: at the fitted pose, the expression-free face still
    matches her brows and nose (parts a smile barely moves) better than the generic head
    does (mean error 0.71 of the generic's), while the mouth corners move by a smile's worth.
    Not her eyes: her smile's cheek raise narrows them from below, and it is the
    expression's (calibration.coupling), so her neutral eyes open wider than the photo's."""
    import mediapipe as mp

    from calibration.calibrator import fitted_vertices

    avatar = astronaut_result.avatar
    fitter = calibrator.fitter
    rotation, camera = avatar.rotation_matrix, avatar.camera
    zero = np.zeros(53, np.float32)
    mesh = mp.solutions.face_mesh
    parts = set()
    for edges in (mesh.FACEMESH_NOSE, mesh.FACEMESH_LEFT_EYEBROW, mesh.FACEMESH_RIGHT_EYEBROW):
        parts |= {i for edge in edges for i in edge}
    stable = np.array(sorted(parts))
    detected = avatar.landmarks[stable]
    own = fitter.project(avatar.identity, zero, rotation, camera)[stable]
    generic = fitter.project(np.zeros_like(avatar.identity), zero, rotation, camera)[stable]
    own_error = np.linalg.norm(own - detected, axis=1).mean()
    generic_error = np.linalg.norm(generic - detected, axis=1).mean()
    assert own_error < 0.8 * generic_error
    smiling = fitted_vertices(ict, avatar.identity, avatar.expression)
    neutral = fitted_vertices(ict, avatar.identity, zero)
    mouth_corner = ict.landmarks_68[48]
    assert np.linalg.norm(smiling[mouth_corner] - neutral[mouth_corner]) > 0.3


def test_avatar_save_load_exact(astronaut_result, tmp_path):
    avatar = astronaut_result.avatar
    path = save_avatar(avatar, tmp_path / "astronaut.avatar.npz")
    loaded = load_avatar(path)
    for name in ("identity", "expression", "rotation", "source_image", "texture",
                 "texture_mask", "landmarks"):  # fmt: skip
        original, restored = getattr(avatar, name), getattr(loaded, name)
        assert original.dtype == restored.dtype
        np.testing.assert_array_equal(original, restored)
    assert loaded.camera == avatar.camera
    assert loaded.meta == json.loads(json.dumps(avatar.meta))
    assert set(loaded.extra) == set(avatar.extra)
    for key, value in avatar.extra.items():
        np.testing.assert_array_equal(loaded.extra[key], value)


def test_no_face_raises(calibrator):
    with pytest.raises(NoFaceError, match="no face"):
        calibrator.calibrate(data.coffee())


def test_several_faces_picks_largest(calibrator, astronaut):
    canvas = np.full((512, 900, 3), 200, np.uint8)
    canvas[:, :512] = astronaut
    small = cv2.resize(astronaut[40:300, 120:380], (180, 180), interpolation=cv2.INTER_AREA)
    canvas[200:380, 640:820] = small
    result = calibrator.calibrate(canvas)
    assert result.report["faces_found"] == 2
    _u0, _, u1, _ = result.report["face_box"]
    assert u1 < 512  # the big face on the left
    assert result.report["landmark_nme"] < 0.05


def test_bad_array_input(calibrator):
    with pytest.raises(ValueError, match="uint8"):
        calibrator.calibrate(np.zeros((64, 64, 3), np.float32))
    with pytest.raises(ValueError, match="shape"):
        calibrator.calibrate(np.zeros((64, 64, 5), np.uint8))
    with pytest.raises(NoFaceError):
        calibrator.calibrate(np.zeros((4, 4, 3), np.uint8))


def test_choose_source_frame(calibrator, astronaut):
    blurred = cv2.GaussianBlur(astronaut, (0, 0), 3)
    dark = (astronaut * 0.25).astype(np.uint8)
    frames = [data.coffee(), blurred, astronaut, dark]
    choice = choose_source_frame(frames, calibrator=calibrator)
    assert choice.index == 2
    assert choice.scores[0]["face"] is False and choice.scores[0]["total"] == 0
    assert choice.scores[1]["sharpness"] < choice.scores[2]["sharpness"]
    assert choice.scores[3]["brightness"] < choice.scores[2]["brightness"]
    assert choice.reason.startswith("frame 3 of 4")
    with pytest.raises(NoFaceError):
        calibrator.choose_source_frame([data.coffee()])


# -- the command line ----------------------------------------------------------------------


def _run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["calibrate", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_astronaut_json_and_preview(tmp_path, capsys, astronaut):
    image = tmp_path / "astronaut.png"
    cv2.imwrite(str(image), astronaut[..., ::-1])
    out, preview = tmp_path / "a.avatar.npz", tmp_path / "preview.png"
    code, stdout, _ = _run_cli(
        capsys, str(image), "-o", str(out), "--preview", str(preview), "--json"
    )
    assert code == 0
    report = json.loads(stdout)
    for key in ("landmark_nme", "landmark_max_px", "seconds", "faces_found", "top_expressions"):
        assert key in report
    assert report["landmark_nme"] < 0.05 and report["faces_found"] == 1
    assert load_avatar(out).expression.shape == (53,)
    picture = cv2.imread(str(preview))
    assert picture is not None and picture.shape[0] == 768


def test_cli_no_face_exit_2(tmp_path, capsys):
    image = tmp_path / "coffee.jpg"
    cv2.imwrite(str(image), data.coffee()[..., ::-1])
    code, stdout, stderr = _run_cli(capsys, str(image), "-o", str(tmp_path / "x.npz"), "--json")
    assert code == 2
    assert "no face" in stderr
    assert json.loads(stdout)["error"] == "no_face"
    assert not (tmp_path / "x.npz").exists()


@pytest.mark.parametrize("kind", ["empty", "random", "text", "truncated", "missing"])
def test_cli_bad_files_exit_2(tmp_path, capsys, astronaut, kind):
    path = tmp_path / f"input.{kind}"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "random":
        path.write_bytes(np.random.default_rng(1).bytes(20000))
    elif kind == "text":
        path.write_text("this is not a picture\n" * 50)
    elif kind == "truncated":
        _ok, encoded = cv2.imencode(".jpg", astronaut)
        path.write_bytes(encoded.tobytes()[:5000])
    code, _, stderr = _run_cli(capsys, str(path), "-o", str(tmp_path / "x.npz"))
    assert code == 2
    assert stderr.startswith("facecast calibrate: ")
    assert "Traceback" not in stderr


def test_cli_huge_png_refused(tmp_path, capsys):
    import struct
    import zlib

    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 10000, 10000, 8, 2, 0, 0, 0)
    path = tmp_path / "huge.png"  # the header claims 10000x10000; the pixels are never decoded
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0"))
        + chunk(b"IEND", b"")
    )  # fmt: skip
    code, _, stderr = _run_cli(capsys, str(path), "-o", str(tmp_path / "x.npz"))
    assert code == 2
    assert "exceeds the limit" in stderr


def test_small_face_in_a_large_frame(calibrator, astronaut):
    """A ~90 px face in a 1920x1080 frame is found by the tiled detector fallback."""
    frame = np.full((1080, 1920, 3), 90, np.uint8)
    frame[300:556, 800:1056] = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    result = calibrator.calibrate(frame)
    assert result.report["faces_found"] == 1
    assert result.report["landmark_nme"] < 0.05
    u0, w0, u1, w1 = result.report["face_box"]
    assert 800 < u0 < u1 < 1056 and 300 < w0 < w1 < 556


def test_mirrored_photo_mirrors_the_fit(calibrator, astronaut, astronaut_result, ict):
    """Flipping the photo flips yaw/roll and swaps _L/_R shapes (up to the fit's noise)."""
    flipped = calibrator.calibrate(np.ascontiguousarray(astronaut[:, ::-1]))
    names = ict.expression_names
    swap = [names.index(n[:-2] + {"_L": "_R", "_R": "_L"}[n[-2:]]) if n[-2:] in ("_L", "_R")
            else i for i, n in enumerate(names)]  # fmt: skip
    original = astronaut_result.avatar
    assert np.abs(original.expression - flipped.avatar.expression[swap]).max() < 0.35
    assert abs(np.degrees(original.rotation[2] + flipped.avatar.rotation[2])) < 2.0  # roll
    assert abs(np.degrees(original.rotation[0] - flipped.avatar.rotation[0])) < 2.0  # pitch


def test_support_frames_share_the_identity(calibrator, astronaut):
    blurred = cv2.GaussianBlur(astronaut, (0, 0), 1.5)
    result = calibrator.calibrate(astronaut, support_frames=[blurred, data.coffee(), astronaut])
    assert result.report["identity_frames"] == 3  # the coffee frame has no face
    assert result.report["landmark_nme"] < 0.05
    assert result.avatar.meta["identity_frames"] == 3


def test_cli_support_photos(tmp_path, capsys, astronaut):
    image, support = tmp_path / "a.png", tmp_path / "b.jpg"
    cv2.imwrite(str(image), astronaut[..., ::-1])
    cv2.imwrite(str(support), cv2.GaussianBlur(astronaut, (0, 0), 1.5)[..., ::-1])
    out = tmp_path / "a.npz"
    code, stdout, _ = _run_cli(
        capsys, str(image), "-o", str(out), "--support", str(support), "--json"
    )
    assert code == 0
    assert json.loads(stdout)["identity_frames"] == 2
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"")
    code, _, stderr = _run_cli(capsys, str(image), "-o", str(out), "--support", str(bad))
    assert code == 2 and "empty" in stderr
