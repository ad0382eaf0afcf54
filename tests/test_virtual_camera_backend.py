"""The virtual camera for real (issue 14): pyvirtualcam's own ``Camera`` over a recording backend
registered with ``pyvirtualcam.register_backend``, opened the way ``facecast serve
--virtual-camera`` opens it. Checked: frames of the configured size at the configured rate for
5 s, the picture unmirrored, and a missing device still giving the v4l2loopback instruction."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import pyvirtualcam
from aiohttp.test_utils import TestServer
from test_server_fakes import FakeEngine

from server.app import BROADCAST, FACECAST_KEY, create_app
from server.cli.cmd_serve import build_config
from server.cli.main import build_parser, main
from server.virtual_camera import NO_DEVICE_HELP, open_virtual_camera

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

BACKEND = "facecast-test-recorder"
SECONDS = 5.0


class Recording:
    """What the backend received: send times and frame sizes, and the last frame."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: list[float] = []
        self.sizes: list[int] = []
        self.last: np.ndarray | None = None
        self.opened: dict[str, Any] = {}
        self.closed = False


@pytest.fixture
def recording() -> Iterator[Recording]:
    """A recording backend registered under :data:`BACKEND` for this test only."""
    record = Recording()

    class RecordingBackend:
        """Follows pyvirtualcam's ``Backend`` interface (keyword-only constructor)."""

        def __init__(
            self, *, width: int, height: int, fps: float, fourcc: int, device: Any, **kw: Any
        ) -> None:
            record.opened = {"width": width, "height": height, "fps": fps, "device": device}

        def send(self, frame: np.ndarray) -> None:
            with record.lock:
                record.times.append(time.perf_counter())
                record.sizes.append(int(frame.size))
                record.last = frame.copy()

        def close(self) -> None:
            record.closed = True

        def device(self) -> str:
            return "recorder"

        def native_fourcc(self) -> None:
            return None

    pyvirtualcam.register_backend(BACKEND, RecordingBackend)
    try:
        yield record
    finally:
        pyvirtualcam.camera.BACKENDS.pop(BACKEND, None)


async def run_server(camera: Any, config: Any, photo: np.ndarray) -> dict[str, Any]:
    app = create_app(config, FakeEngine(), virtual_camera=camera, startup_image=photo, warmup=False)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        broadcast = app[FACECAST_KEY].sessions[BROADCAST]
        deadline = time.monotonic() + 10
        while broadcast.avatar is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        started = time.perf_counter()
        await asyncio.sleep(SECONDS)
        latest = broadcast.frames.latest()
        assert latest is not None
        return {"started": started, "ended": time.perf_counter(), "latest": latest.image.copy()}
    finally:
        await server.close()


def test_virtual_camera_delivers_frames_at_the_configured_rate(
    recording: Recording, astronaut: np.ndarray
) -> None:
    args = build_parser().parse_args(
        ["serve", "--virtual-camera", "--virtual-camera-backend", BACKEND, "--size", "256"]
    )
    config = build_config(args)
    camera = open_virtual_camera(
        config.size, config.fps, config.virtual_camera_device, backend=config.virtual_camera_backend
    )
    assert isinstance(camera, pyvirtualcam.Camera) and camera.backend == BACKEND
    assert recording.opened == {"width": 256, "height": 256, "fps": 30.0, "device": None}
    # FakeIdle sways the head by less than a pixel: the last frame sent is the last one made
    photo = np.ascontiguousarray(astronaut)
    result = asyncio.run(run_server(camera, config, photo))
    assert recording.closed  # the server's shutdown closed the camera
    with recording.lock:
        times = np.array(recording.times)
        sizes = set(recording.sizes)
        last = recording.last
    window = times[(times >= result["started"]) & (times < result["ended"])]
    seconds = result["ended"] - result["started"]
    rate = len(window) / seconds
    print(f"\nvirtual camera: {len(window)} frames in {seconds:.2f} s = {rate:.1f} fps (30 asked)")
    assert 0.95 * 30 <= rate <= 1.05 * 30
    assert np.median(np.diff(window)) == pytest.approx(1 / 30, abs=0.004)
    assert sizes == {256 * 256 * 3}
    assert last is not None
    frame = last.reshape(256, 256, 3)
    latest = result["latest"].astype(np.float32)
    # what the camera shows is the broadcast as rendered, never mirrored
    same = np.abs(frame - latest).mean()
    mirrored = np.abs(frame - latest[:, ::-1]).mean()
    assert same < 2.0 < mirrored


def test_missing_device_gives_the_instruction(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "serve",
            "--virtual-camera",
            "--virtual-camera-backend",
            "v4l2loopback",
            "--virtual-camera-device",
            "/dev/video-facecast-missing",
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert NO_DEVICE_HELP in err and "modprobe v4l2loopback" in err
    assert main(["serve", "--virtual-camera", "--virtual-camera-backend", "nonesuch"]) == 2
    assert "unknown virtual camera backend 'nonesuch'" in capsys.readouterr().err
