"""The VTuber outputs piece by piece (issue 14): ICT -> ARKit mapping, the head pose in Unity's
axes, the VMC bundle as python-osc parses it, iFacialMocap's text, receiver addresses, one
warning per outage, the real-time playback of ``facecast animate --vmc``, bad addresses on
the command line (exit 2)."""

from __future__ import annotations

import errno
import logging
import math
from typing import Any

import numpy as np
import pytest
from pythonosc.osc_bundle import OscBundle

from engines.face_model.camera import euler_to_matrix
from engines.face_model.ict import EXPRESSION_NAMES
from server import vtuber
from server.cli.main import main
from server.vtuber import (
    ARKIT_NAMES,
    IFACIALMOCAP_NAMES,
    ArkitMapping,
    BadTargetError,
    TrackingOutput,
    arkit_names,
    ifacialmocap_text,
    parse_target,
    tracking_config,
    tracking_frame,
    vmc_bundle,
)
from server.vtuber.playback import play
from server.vtuber.pose import (
    UNITY_FROM_MODEL,
    pose_matrix,
    quaternion_from_matrix,
    quaternion_multiply,
    split_neck_head,
    unity_head_rotation,
)

INDEX = {name: i for i, name in enumerate(EXPRESSION_NAMES)}


def rotate(quaternion: np.ndarray, vector: tuple[float, float, float]) -> np.ndarray:
    """``vector`` rotated by a unit ``(x, y, z, w)`` quaternion (as Unity's ``q * v``)."""
    q = np.asarray(quaternion, np.float64)
    v = np.array([*vector, 0.0])
    conjugate = np.array([-q[0], -q[1], -q[2], q[3]])
    return quaternion_multiply(quaternion_multiply(q, v), conjugate)[:3]


def test_public_api() -> None:
    assert set(vtuber.__all__) >= {
        "ArkitMapping",
        "TrackingConfig",
        "TrackingOutput",
        "VmcSender",
        "IFacialMocapSender",
        "parse_target",
        "vmc_bundle",
    }
    for name in vtuber.__all__:
        assert hasattr(vtuber, name), name


def test_ict_to_arkit_mapping() -> None:
    assert len(ARKIT_NAMES) == 52 and len(set(ARKIT_NAMES)) == 52
    mapping = ArkitMapping(EXPRESSION_NAMES)
    assert mapping.unmapped_ict == ()  # every ICT shape reaches an ARKit name
    assert mapping.matrix.shape == (52, 53)
    # each ICT shape feeds exactly one ARKit weight; tongueOut has no source
    assert np.count_nonzero(mapping.matrix, axis=0).tolist() == [1] * 53
    assert mapping.matrix[ARKIT_NAMES.index("tongueOut")].sum() == 0
    expression = np.zeros(53, np.float32)
    expression[INDEX["browInnerUp_L"]] = 1.0
    expression[INDEX["eyeBlink_R"]] = 0.4
    expression[INDEX["jawLeft"]] = 0.3
    expression[INDEX["cheekPuff_L"]] = 0.6
    expression[INDEX["cheekPuff_R"]] = 0.2
    expression[INDEX["mouthSmile_L"]] = 1.7  # an intensity past 1 is clipped
    weights = dict(zip(ARKIT_NAMES, mapping.weights(expression).tolist(), strict=True))
    assert weights["browInnerUp"] == pytest.approx(0.5)
    assert weights["cheekPuff"] == pytest.approx(0.4)
    assert weights["eyeBlinkRight"] == pytest.approx(0.4) and weights["eyeBlinkLeft"] == 0
    assert weights["jawLeft"] == pytest.approx(0.3)
    assert weights["mouthSmileLeft"] == 1.0
    assert weights["tongueOut"] == 0.0
    assert all(0.0 <= value <= 1.0 for value in weights.values())
    with pytest.raises(vtuber.VtuberConfigError, match="jawOpen"):
        ArkitMapping([name for name in EXPRESSION_NAMES if name != "jawOpen"])


def test_name_styles() -> None:
    pascal = arkit_names("pascal")
    assert pascal[ARKIT_NAMES.index("eyeBlinkLeft")] == "EyeBlinkLeft"
    assert pascal[ARKIT_NAMES.index("jawOpen")] == "JawOpen"
    assert IFACIALMOCAP_NAMES[ARKIT_NAMES.index("eyeBlinkLeft")] == "eyeBlink_L"
    assert IFACIALMOCAP_NAMES[ARKIT_NAMES.index("mouthLeft")] == "mouthLeft"
    assert "browInnerUp" in IFACIALMOCAP_NAMES and "tongueOut" in IFACIALMOCAP_NAMES
    with pytest.raises(vtuber.VtuberConfigError, match="arkit, pascal"):
        arkit_names("camel")


def test_pose_matrix_is_the_face_models_convention() -> None:
    for pose in ([0.1, -0.3, 0.2], [-0.4, 0.25, -0.1], [0.0, 0.0, 0.0]):
        np.testing.assert_allclose(pose_matrix(np.array(pose)), euler_to_matrix(*pose), atol=1e-12)


@pytest.mark.parametrize(
    ("pose", "forward", "meaning"),
    [
        # the face turns towards the subject's own left (model +x) = the character's left (-X)
        ((0.0, 0.3, 0.0), "x<0", "yaw to the left"),
        ((0.3, 0.0, 0.0), "y<0", "pitch: looks down"),
    ],
)
def test_unity_rotation_turns_the_same_way(
    pose: tuple[float, ...], forward: str, meaning: str
) -> None:
    quaternion = unity_head_rotation(np.array(pose))
    assert np.linalg.norm(quaternion) == pytest.approx(1.0)
    facing = rotate(quaternion, (0.0, 0.0, 1.0))  # Unity forward
    axis, sign = forward[0], forward[1]
    value = facing["xyz".index(axis)]
    assert (value < -0.2) if sign == "<" else (value > 0.2), meaning
    # the model's own forward turned by the model rotation, mirrored into Unity, agrees
    model_facing = pose_matrix(np.array(pose)) @ np.array([0.0, 0.0, 1.0])
    np.testing.assert_allclose(facing, UNITY_FROM_MODEL @ model_facing, atol=1e-9)


def test_unity_roll_and_the_mirror_identity() -> None:
    # roll > 0 lifts the subject's left ear: in Unity the character's left (-X) goes up
    quaternion = unity_head_rotation(np.array([0.0, 0.0, 0.3]))
    assert rotate(quaternion, (-1.0, 0.0, 0.0))[1] > 0.2
    # the mirror maps a model quaternion (x, y, z, w) to (x, -y, -z, w)
    pose = np.array([0.2, -0.35, 0.15])
    model_q = quaternion_from_matrix(pose_matrix(pose))
    expected = np.array([model_q[0], -model_q[1], -model_q[2], model_q[3]])
    np.testing.assert_allclose(unity_head_rotation(pose), expected, atol=1e-12)
    np.testing.assert_allclose(unity_head_rotation(np.zeros(3)), [0, 0, 0, 1], atol=1e-12)


def test_neck_and_head_make_the_whole_rotation() -> None:
    rotation = unity_head_rotation(np.array([0.3, -0.5, 0.2]))
    neck, head = split_neck_head(rotation, 0.35)
    np.testing.assert_allclose(quaternion_multiply(neck, head), rotation, atol=1e-12)
    whole = 2 * math.acos(rotation[3])
    assert 2 * math.acos(neck[3]) == pytest.approx(0.35 * whole)
    assert np.linalg.norm(neck) == pytest.approx(1) and np.linalg.norm(head) == pytest.approx(1)
    still_neck, still_head = split_neck_head(np.array([0.0, 0.0, 0.0, 1.0]), 0.35)
    np.testing.assert_allclose(still_neck, [0, 0, 0, 1])
    np.testing.assert_allclose(still_head, [0, 0, 0, 1])


def frame_of(expression: np.ndarray, pose: np.ndarray) -> Any:
    return tracking_frame(ArkitMapping(EXPRESSION_NAMES), expression, pose, 1.25, 0.35)


def test_vmc_bundle_as_a_receiver_reads_it() -> None:
    expression = np.zeros(53, np.float32)
    expression[INDEX["jawOpen"]] = 0.7
    frame = frame_of(expression, np.array([0.05, 0.2, 0.0]))
    bundle = vmc_bundle(frame, arkit_names("pascal"))
    parsed = OscBundle(bundle.dgram)  # what python-osc on the receiving side reads
    messages = [parsed.content(i) for i in range(parsed.num_contents)]
    addresses = [m.address for m in messages]
    assert addresses[:52] == ["/VMC/Ext/Blend/Val"] * 52
    assert addresses[52:] == [
        "/VMC/Ext/Blend/Apply",
        "/VMC/Ext/Bone/Pos",
        "/VMC/Ext/Bone/Pos",
        "/VMC/Ext/OK",
        "/VMC/Ext/T",
    ]
    values = {m.params[0]: m.params[1] for m in messages[:52]}
    assert list(values) == list(arkit_names("pascal"))
    assert values["JawOpen"] == pytest.approx(0.7) and values["TongueOut"] == 0.0
    neck, head = messages[53], messages[54]
    assert neck.params[0] == "Neck" and head.params[0] == "Head"
    assert len(head.params) == 8 and all(isinstance(v, float) for v in head.params[1:])
    assert np.linalg.norm(head.params[4:]) == pytest.approx(1.0, abs=1e-6)
    combined = quaternion_multiply(np.array(neck.params[4:]), np.array(head.params[4:]))
    np.testing.assert_allclose(combined, frame.head, atol=1e-6)
    assert messages[55].params == [1, 3, 0, 1]
    assert messages[56].params[0] == pytest.approx(1.25)


def test_ifacialmocap_text() -> None:
    expression = np.zeros(53, np.float32)
    expression[INDEX["eyeBlink_L"]] = 0.123
    expression[INDEX["eyeLookIn_L"]] = 0.5  # the left eye looks towards the nose
    text = ifacialmocap_text(frame_of(expression, np.array([math.radians(10), 0.0, 0.0])))
    shapes, head = text.split("|=head#")
    parts = dict(item.split("-") for item in shapes.split("|"))
    assert len(parts) == 52 and parts["eyeBlink_L"] == "12" and parts["tongueOut"] == "0"
    assert all(0 <= int(value) <= 100 for value in parts.values())
    head_values, right, left, end = head.split("|")
    assert [float(v) for v in head_values.split(",")] == pytest.approx([10, 0, 0, 0, 0, 0])
    assert right.startswith("rightEye#") and left.startswith("leftEye#") and end == ""
    assert float(left.removeprefix("leftEye#").split(",")[1]) < 0  # towards the subject's right


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("127.0.0.1", "127.0.0.1", 39539),
        ("127.0.0.1:40000", "127.0.0.1", 40000),
        ("localhost:39540", "localhost", 39540),
        ("[::1]:39541", "::1", 39541),
    ],
)
def test_parse_target(text: str, host: str, port: int) -> None:
    target = parse_target(text, 39539)
    assert (target.host, target.port) == (host, port)
    assert target.address in ("127.0.0.1", "::1")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not HOST"),
        ("127.0.0.1:", "not HOST"),
        ("127.0.0.1:0", "port must be in"),
        ("127.0.0.1:70000", "port must be in"),
        ("udp://127.0.0.1:39539", "not HOST"),
        ("::1", "not HOST"),  # IPv6 needs brackets
        ("no-such-host.invalid", "cannot resolve"),
    ],
)
def test_bad_target(text: str, message: str) -> None:
    with pytest.raises(BadTargetError, match=message):
        parse_target(text, 39539)


@pytest.mark.parametrize("command", ["serve", "animate"])
def test_bad_vmc_address_exits_2(
    command: str, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """serve prints its message, animate logs it (its other errors do the same)."""
    args = ["serve"] if command == "serve" else ["animate", "none", "smile", "--coeffs", "x.json"]
    assert main([*args, "--vmc", "127.0.0.1:99999"]) == 2
    said = capsys.readouterr().err + caplog.text
    assert "--vmc '127.0.0.1:99999': the port must be in [1, 65535]" in said
    caplog.clear()
    assert main([*args, "--ifacialmocap", "bad host"]) == 2
    said = capsys.readouterr().err + caplog.text
    assert "--ifacialmocap 'bad host' is not HOST[:PORT]" in said


class FailingSocket:
    """A socket whose datagrams cannot leave (ENETUNREACH) until ``reachable`` is set."""

    def __init__(self) -> None:
        self.reachable = False
        self.sent = 0

    def sendto(self, data: bytes, address: Any) -> int:
        if not self.reachable:
            raise OSError(errno.ENETUNREACH, "Network is unreachable")
        self.sent += 1
        return len(data)

    def close(self) -> None:
        return None


def test_unreachable_receiver_logs_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    config = tracking_config(["127.0.0.1:39539", "127.0.0.1:39538"], ["127.0.0.1"])
    output = TrackingOutput(config, EXPRESSION_NAMES)
    vmc, facial = output._senders
    failing = FailingSocket()
    vmc._links[0][0]._sock = failing  # type: ignore[attr-defined]
    facial._sockets[config.ifacialmocap[0].family] = failing  # type: ignore[attr-defined]
    expression = np.zeros(53, np.float32)
    with caplog.at_level(logging.INFO, logger="server.vtuber"):
        for _ in range(100):
            output.send(expression, np.zeros(3))
        failing.reachable = True
        for _ in range(5):
            output.send(expression, np.zeros(3))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2  # one per unreachable receiver, not one per frame
    assert "VMC to 127.0.0.1:39539" in warnings[0].getMessage()
    assert "iFacialMocap to 127.0.0.1:49983" in warnings[1].getMessage()
    assert sum("get through again" in r.getMessage() for r in caplog.records) == 2
    logs = output.logs
    assert [log.failed for log in logs] == [100, 0, 100]
    assert [log.sent for log in logs] == [5, 105, 5]  # the reachable receiver never missed one
    output.close()


def test_playback_keeps_real_time() -> None:
    class Clock:
        def __init__(self) -> None:
            self.now = 100.0

        def __call__(self) -> float:
            return self.now

        def sleep(self, seconds: float) -> None:
            self.now += seconds

    sent: list[float] = []

    class Recorder(TrackingOutput):
        def send(self, expression: Any, pose: Any, now: float | None = None) -> Any:
            sent.append(float(now or 0.0))
            return None

    clock = Clock()
    output = Recorder(tracking_config(["127.0.0.1"]), EXPRESSION_NAMES)
    frames = 31
    seconds = play(
        output, np.zeros((frames, 53)), np.zeros((frames, 3)), 30.0, clock=clock, sleep=clock.sleep
    )
    assert seconds == pytest.approx(1.0)
    np.testing.assert_allclose(np.diff(sent), 1 / 30, atol=1e-9)
    with pytest.raises(ValueError, match="differ in length"):
        play(output, np.zeros((3, 53)), np.zeros((2, 3)), 30.0)
    output.close()


def test_animate_sends_the_timeline_in_real_time(tmp_path: Any) -> None:
    import json
    import socket
    import time

    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(0.5)
    port = receiver.getsockname()[1]
    coeffs = tmp_path / "c.json"
    started = time.monotonic()
    code = main(
        ["animate", "none", "look surprised", "--planner", "lexicon", "--no-idle",
         "--onset", "0.3", "--hold", "0.2", "--final-hold", "0.2", "--coeffs", str(coeffs),
         "--vmc", f"127.0.0.1:{port}", "--vmc-names", "pascal"]
    )  # fmt: skip
    took = time.monotonic() - started
    assert code == 0
    bundles = []
    while True:
        try:
            bundles.append(OscBundle(receiver.recv(65536)))
        except TimeoutError:
            break
    receiver.close()
    written = json.loads(coeffs.read_text())
    frames = len(written["times"])
    assert len(bundles) == frames  # every frame of the timeline, in order
    assert took >= written["times"][-1]  # in real time, not as fast as possible
    jaw = [
        next(
            m.params[1] for m in b if m.address == "/VMC/Ext/Blend/Val" and m.params[0] == "JawOpen"
        )
        for b in bundles
    ]
    index = INDEX["jawOpen"]
    np.testing.assert_allclose(jaw, [row[index] for row in written["expressions"]], atol=1e-4)
