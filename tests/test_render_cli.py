"""``facecast render``: output files, the contact sheet and clear errors for bad input."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from server.cli.main import main


@pytest.fixture(scope="module")
def avatar_file(ict, astronaut, tmp_path_factory) -> Path:
    from calibration import calibrate
    from engines.avatar import save_avatar

    path = tmp_path_factory.mktemp("render_cli") / "astronaut.avatar.npz"
    save_avatar(calibrate(astronaut, model=ict).avatar, path)
    return path


def _read(path: Path) -> np.ndarray:
    image = cv2.imread(str(path))
    assert image is not None, f"{path} was not written"
    return image


def test_render_writes_a_png_of_the_requested_size(avatar_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "frame.png"
    code = main(
        [
            "render",
            str(avatar_file),
            "-o",
            str(out),
            "--set",
            "jawOpen=0.4,mouthSmile_L=0.8",
            "--pose",
            "yaw=10,pitch=-5,roll=0",
            "--size",
            "128",
        ]
    )
    assert code == 0
    assert _read(out).shape == (128, 128, 3)


def test_pose_and_expression_change_the_picture(avatar_file: Path, tmp_path: Path) -> None:
    paths = [tmp_path / f"{i}.png" for i in range(3)]
    assert main(["render", str(avatar_file), "-o", str(paths[0]), "--size", "128"]) == 0
    args = ["--set", "jawOpen=0.7", "--size", "128"]
    assert main(["render", str(avatar_file), "-o", str(paths[1]), *args]) == 0
    args = ["--pose", "yaw=20", "--size", "128"]
    assert main(["render", str(avatar_file), "-o", str(paths[2]), *args]) == 0
    neutral, jaw, yaw = (_read(p).astype(int) for p in paths)
    assert np.abs(neutral - jaw).mean() > 0.5
    assert np.abs(neutral - yaw).mean() > 0.5


def test_contact_sheet_has_every_shape(avatar_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "sheet.png"
    assert main(["render", str(avatar_file), "--sheet", str(out)]) == 0
    sheet = _read(out)
    # neutral + 53 shapes in 8 columns of 192 px tiles -> 7 rows.
    assert sheet.shape == (7 * 192, 8 * 192, 3)


def test_unknown_shape_name_lists_the_valid_ones(
    avatar_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["render", str(avatar_file), "-o", str(tmp_path / "x.png"), "--set", "smile=1"])
    assert code == 2
    err = capsys.readouterr().err
    assert "'smile'" in err and "mouthSmile_L" in err and "jawOpen" in err
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--pose", "tilt=3"], "valid: pitch, yaw, roll"),
        (["--pose", "yaw=abc"], "needs a number"),
        (["--pose", "yaw=90"], "outside"),
        (["--set", "jawOpen"], "NAME=VALUE"),
        (["--set", "jawOpen=nan"], "finite"),
        (["--set", "jawOpen=3"], "outside"),
        (["--size", "8"], "--size"),
    ],
)
def test_bad_values_exit_2_with_a_message(
    avatar_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    code = main(["render", str(avatar_file), "-o", str(tmp_path / "x.png"), *extra])
    assert code == 2
    assert message in capsys.readouterr().err


def test_missing_source_and_nothing_to_write(
    avatar_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", str(tmp_path / "nope.png"), "-o", str(tmp_path / "x.png")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["render", str(avatar_file)]) == 2
    assert "nothing to write" in capsys.readouterr().err


def test_not_an_avatar_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bogus = tmp_path / "bogus.npz"
    bogus.write_bytes(b"not a zip")
    assert main(["render", str(bogus), "-o", str(tmp_path / "x.png")]) == 2
    assert "cannot read avatar" in capsys.readouterr().err


def test_unreadable_photo_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_text("this is not a JPEG")
    assert main(["render", str(photo), "-o", str(tmp_path / "x.png")]) == 2
    assert "facecast render:" in capsys.readouterr().err
