"""``facecast animate``: coefficients, sidecar timeline, video writing, clear errors."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engines.avatar import Avatar, save_avatar
from engines.face_model.camera import OrthoCamera
from engines.face_model.ict import EXPRESSION_NAMES
from server.cli.main import main

SMILE_L = EXPRESSION_NAMES.index("mouthSmile_L")


@pytest.fixture
def avatar_file(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    expression = np.zeros(53, np.float32)
    expression[EXPRESSION_NAMES.index("browDown_L")] = 0.3
    avatar = Avatar(
        identity=rng.normal(size=20).astype(np.float32),
        expression=expression,
        rotation=np.zeros(3, np.float32),
        camera=OrthoCamera(10.0, 128.0, 128.0),
        source_image=rng.integers(0, 255, (256, 256, 3), dtype=np.uint8),
        texture=np.zeros((64, 64, 3), np.uint8),
        texture_mask=np.zeros((64, 64), np.uint8),
        landmarks=np.zeros((478, 2), np.float32),
    )
    return save_avatar(avatar, tmp_path / "test.avatar.npz")


class _FakeRenderer:
    """Stands in for engines.render: draws the smile coefficient as the frame brightness.

    Like a fast renderer, it reuses one output buffer for every frame.
    """

    def __init__(self, avatar: Avatar, model: object, config: types.SimpleNamespace) -> None:
        self.buffer = np.zeros((config.size, config.size, 3), np.uint8)

    def render(self, expression: np.ndarray, pose: np.ndarray) -> np.ndarray:
        assert expression.shape == (53,) and pose.shape == (3,)
        self.buffer[...] = int(40 + 200 * float(expression[SMILE_L]))
        return self.buffer


@pytest.fixture
def fake_renderer(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("engines.render")
    module.AvatarRenderer = _FakeRenderer  # type: ignore[attr-defined]
    module.RenderConfig = lambda size=512, **_: types.SimpleNamespace(size=size)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "engines.render", module)


def test_coeffs_and_sidecar_without_renderer(tmp_path: Path) -> None:
    coeffs = tmp_path / "out" / "c.json"
    text = "look surprised, then very angry, then burst out laughing"
    code = main(
        ["animate", "none", text, "--coeffs", str(coeffs), "--planner", "lexicon", "--fps", "25"]
    )
    assert code == 0
    data = json.loads(coeffs.read_text())
    expressions = np.array(data["expressions"])
    assert expressions.shape == (len(data["times"]), 53)
    assert data["expression_names"] == list(EXPRESSION_NAMES)
    assert np.allclose(np.diff(data["times"]), 1 / 25)
    assert np.abs(np.diff(expressions, axis=0)).max() < 0.6  # smooth (blinks are the fastest)
    sidecar = json.loads((tmp_path / "out" / "c.timeline.json").read_text())
    assert sidecar["understood"] == ["surprise", "anger", "happiness"]
    assert len(sidecar["frames"]) == len(data["times"])
    labels = [f["label"] for f in sidecar["frames"]]
    assert labels.index("surprise") < labels.index("anger") < labels.index("happiness")
    last = sidecar["frames"][-1]
    assert (last["phase"], last["label"]) == ("hold", "happiness")  # ends holding the last
    assert {f["phase"] for f in sidecar["frames"]} == {"onset", "apex", "offset", "neutral", "hold"}


def test_plot_and_strip(tmp_path: Path) -> None:
    code = main(["animate", "none", "slowly smile", "--coeffs", str(tmp_path / "c.json"),
                 "--planner", "lexicon", "--plot", str(tmp_path / "p.png"),
                 "--strip", str(tmp_path / "s.png")])  # fmt: skip
    assert code == 0
    assert (tmp_path / "p.png").stat().st_size > 10_000
    assert (tmp_path / "s.png").stat().st_size > 10_000


def test_one_emotion_ends_holding_it_from_the_avatar_face(
    avatar_file: Path, tmp_path: Path
) -> None:
    coeffs = tmp_path / "c.json"
    code = main(["animate", str(avatar_file), "make her smile", "--coeffs", str(coeffs),
                 "--planner", "lexicon", "--no-idle"])  # fmt: skip
    assert code == 0
    expressions = np.array(json.loads(coeffs.read_text())["expressions"])
    assert expressions[0, EXPRESSION_NAMES.index("browDown_L")] == pytest.approx(0.3)
    assert expressions[-1, SMILE_L] > 0.4
    frames = json.loads((tmp_path / "c.timeline.json").read_text())["frames"]
    assert frames[-1]["label"] == "happiness" and frames[-1]["intensity"] > 0.4


def test_video_frames_and_sidecar_with_a_renderer(
    avatar_file: Path, tmp_path: Path, fake_renderer: None
) -> None:
    import av

    out = tmp_path / "anim.mp4"
    frames_dir = tmp_path / "frames"
    text = "Turn this face from neutral to happy"
    code = main(["animate", str(avatar_file), text, "-o", str(out), "--frames-dir", str(frames_dir),
                 "--size", "128", "--planner", "lexicon", "--final-hold", "0.5",
                 "--sheet", str(tmp_path / "sheet.png")])  # fmt: skip
    assert code == 0
    sheet = np.asarray(Image.open(tmp_path / "sheet.png").convert("RGB")).astype(float)
    assert sheet.shape == (2 * 192, 5 * 192, 3)
    first, last = sheet[20:192, :192].mean(), sheet[212:, 4 * 192 :].mean()
    assert last > first + 50  # each cell shows its own frame
    sidecar = json.loads((tmp_path / "anim.timeline.json").read_text())
    pngs = sorted(frames_dir.glob("frame_*.png"))
    assert len(pngs) == sidecar["num_frames"]
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    assert len(decoded) == sidecar["num_frames"]
    assert decoded[0].shape == (128, 128, 3)
    # the smile grows over the animation: the fake renderer makes it brighter
    assert decoded[-1].mean() > decoded[0].mean() + 50


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["none", "blorf the zork", "--coeffs", "X"], "no emotion understood"),
        (["missing.png", "smile", "--coeffs", "X"], "no such file"),
        (["none", "smile"], "nothing to write"),
        (["none", "smile", "--coeffs", "X", "--fps", "0"], "--fps"),
        (["none", "smile", "--coeffs", "X", "--speed", "0"], "speed must be"),
        (["none", "smile", "-o", "X.mp4"], "no face to render"),
        (["none", "smile", "--coeffs", "X", "--sheet", "X"], "--sheet shows rendered frames"),
        (["none", "   ", "--coeffs", "X"], "empty"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    args: list[str], message: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    args = [str(tmp_path / a) if a in ("X", "X.mp4") else a for a in args]
    code = main(["animate", *args, "--planner", "lexicon"])
    assert code == 2
    assert message in caplog.text


def test_not_understood_lists_examples(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    code = main(["animate", "none", "please do the blorf", "--coeffs", str(tmp_path / "c.json"),
                 "--planner", "lexicon"])  # fmt: skip
    assert code == 2
    assert "'blorf'" in caplog.text and "make her smile" in caplog.text
    assert not (tmp_path / "c.json").exists()


def test_bad_avatar_file_exits_2(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    code = main(
        ["animate", str(bad), "smile", "--coeffs", str(tmp_path / "c.json"), "--planner", "lexicon"]
    )
    assert code == 2
    assert "cannot read avatar" in caplog.text


def test_default_planner_works_with_or_without_an_i2fet_checkpoint(tmp_path: Path) -> None:
    coeffs = tmp_path / "c.json"
    assert (
        main(["animate", "none", "Turn this face from sadness to joy", "--coeffs", str(coeffs)])
        == 0
    )
    sidecar = json.loads((tmp_path / "c.timeline.json").read_text())
    assert sidecar["planner"] in ("Plan", "RulePlan")
    assert sidecar["frames"][-1]["phase"] == "hold"


def test_renderer_failure_is_a_clear_error_and_the_sidecar_exists(
    avatar_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(_FakeRenderer):
        def render(self, expression: np.ndarray, pose: np.ndarray) -> np.ndarray:
            raise RuntimeError("rasterizer exploded")

    module = types.ModuleType("engines.render")
    module.AvatarRenderer = Broken  # type: ignore[attr-defined]
    module.RenderConfig = lambda size=512, **_: types.SimpleNamespace(size=size)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "engines.render", module)
    out = tmp_path / "a.mp4"
    code = main(
        [
            "animate",
            str(avatar_file),
            "smile",
            "-o",
            str(out),
            "--planner",
            "lexicon",
            "--size",
            "64",
        ]
    )
    assert code == 1
    assert "rendering frame 0 failed: rasterizer exploded" in caplog.text
    assert (tmp_path / "a.timeline.json").exists()
