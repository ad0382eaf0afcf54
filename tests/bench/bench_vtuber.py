"""VTuber outputs benchmark: the per-frame cost of what ``serve --vmc`` and ``/overlay`` add.

* ``vmc_send_ms_p50`` / ``_p95``: one face state -> ARKit weights, Unity quaternions, the
  python-osc bundle and one ``sendto`` to a loopback receiver (on the event loop in ``serve``);
* ``vmc_bundle_bytes``: the datagram's size;
* ``render_matte_ms_512``: ``AvatarRenderer.matte()`` of a 512² astronaut frame (the overlay's
  key, in the render thread, only while an overlay watches).
"""

from __future__ import annotations

import socket
import time

import numpy as np


def run(quick: bool = False) -> dict[str, object]:
    from engines.face_model.ict import EXPRESSION_NAMES
    from server.vtuber import TrackingOutput, arkit_names, tracking_config, vmc_bundle

    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.setblocking(False)
    output = TrackingOutput(
        tracking_config([f"127.0.0.1:{receiver.getsockname()[1]}"]), EXPRESSION_NAMES
    )
    rng = np.random.default_rng(0)
    count = 200 if quick else 2000
    times = []
    for _ in range(count):
        expression = rng.random(53).astype(np.float32)
        pose = rng.normal(0, 0.1, 3)
        started = time.perf_counter()
        output.send(expression, pose)
        times.append(time.perf_counter() - started)
        try:
            while receiver.recv(65536):
                pass
        except BlockingIOError:
            pass
    assert output.last_frame is not None
    size = len(vmc_bundle(output.last_frame, arkit_names()).dgram)
    output.close()
    receiver.close()

    from skimage import data

    from calibration import calibrate
    from engines.face_model.ict import load_ict
    from engines.render import AvatarRenderer, RenderConfig

    model = load_ict(progress=False)
    avatar = calibrate(data.astronaut(), model=model).avatar
    renderer = AvatarRenderer(avatar, model, RenderConfig(size=512))
    renderer.render(avatar.expression, np.zeros(3))
    out = np.zeros((512, 512), np.uint8)
    matte_times = []
    for _ in range(20 if quick else 100):
        started = time.perf_counter()
        renderer.matte(out)
        matte_times.append(time.perf_counter() - started)
    return {
        "vmc_send_ms_p50": round(float(np.percentile(times, 50)) * 1e3, 3),
        "vmc_send_ms_p95": round(float(np.percentile(times, 95)) * 1e3, 3),
        "vmc_bundle_bytes": size,
        "render_matte_ms_512": round(float(np.median(matte_times)) * 1e3, 2),
    }
